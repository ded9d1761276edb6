//! alma-ext-server: the entitlement server (API, fleet store) and the
//! licence engine.
pub mod license;

pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod console;
pub mod coverage;
pub mod decide;
pub mod engine_link;
pub mod exit;
pub mod fleet;
pub mod messages;
pub mod metrics;
pub mod ratelimit;
pub mod render;
pub mod serve;
pub mod store;
pub mod validate;
pub mod writer;
