//! The licence engine: inventory in, report out (`docs/inventory.md`).
//!
//! `engine::report` is a pure function so the server can run it on an
//! inventory it builds from its fleet store, and `cli::run_file` runs it on
//! a file for a customer planning a purchase.

pub mod inventory;
pub mod report;

pub use inventory::Inventory;
pub use report::Report;
