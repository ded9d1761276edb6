//! One module per subcommand: argument struct and `run`.

pub mod agent;
pub mod checkin;
pub mod facts;
pub mod register;
pub mod security_status;
pub mod status;
pub mod support_bundle;
pub mod switch;
pub mod unregister;
