//! The licence engine: inventory in, report out (`docs/inventory.md`).
//!
//! `engine::report` is a pure function so the server can run it on an
//! inventory it builds from its fleet store, and `cli::run_file` runs it on
//! a file for a customer planning a purchase.

pub mod cli;
pub mod engine;
pub mod inventory;
pub mod report;

pub use engine::report;
pub use inventory::Inventory;
pub use inventory::{parse_inventory, InventoryError};
pub use report::Report;
