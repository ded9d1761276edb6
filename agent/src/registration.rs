//! This machine's registration with the entitlement server, kept under
//! `/var/lib/alma-ext/` in the root (the credential in a 0600 file).

use alma_ext_proto::api::Entitlement;
use alma_ext_proto::Target;

use crate::root::HostRoot;

/// What `alma-ext register` recorded and the last check-in updated.
#[derive(Debug, Clone)]
pub struct Registration {
    pub server: String,
    /// The server's id for this machine.
    pub machine: String,
    pub system: Option<String>,
    pub entitlement: Option<Entitlement>,
    /// The switch target from the last check-in, with this machine's
    /// repository credentials.
    pub target: Option<Target>,
    pub last_checkin: Option<chrono::DateTime<chrono::Utc>>,
}

/// The registration of the host under `root`, if any. Stub: the check-in
/// work fills this in.
pub fn load(_root: &HostRoot) -> anyhow::Result<Option<Registration>> {
    Ok(None)
}
