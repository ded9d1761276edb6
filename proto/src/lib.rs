//! Types that cross the boundary between the `alma-ext` agent and
//! `alma-ext-server`, and the public JSON/TOML formats users' scripts read.
//!
//! Everything here is data plus pure functions over it: no I/O. Adding a
//! field is compatible (`#[serde(default)]` on the reader side); renaming or
//! removing one is a new `schema_version`.

pub mod api;
pub mod exit;
pub mod facts;
pub mod lifecycle;
pub mod target;

pub use facts::Facts;
pub use lifecycle::{LifecycleTable, Phase};
pub use target::Target;
