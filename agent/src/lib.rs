//! The `alma-ext` agent: host facts, lifecycle, check-in, the daemon, and
//! the CLI that drives the switcher.
//!
//! Every function that reads or writes the host takes a
//! [`root::HostRoot`] (the `hostroot` layer: paths resolve inside the root,
//! symlinks included; only bounded regular files are read), so the same
//! code runs on `/` and on a fixture tree, and never leaves the tree.

pub mod access;
pub mod bundle;
pub mod cli;
pub mod client;
pub mod cloud;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod daemon;
pub mod edge;
pub mod exit;
pub mod facts;
pub mod full;
pub mod guests;
pub mod lifecycle;
pub mod osrelease;
pub mod output;
pub mod registration;
pub mod root;
pub mod security;
pub mod spool;
pub mod tls_hint;
