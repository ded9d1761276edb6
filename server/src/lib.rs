//! alma-ext-server: the entitlement server (API, fleet store) and the
//! licence engine.
pub mod license;
