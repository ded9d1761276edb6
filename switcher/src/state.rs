//! The recorded switch state under `/var/lib/alma-ext/switch/` in the root,
//! read by `alma-ext status` and reported at check-in.

use std::path::Path;

use alma_ext_proto::api::SwitchState;

/// The switch state of the host under `root` (community when nothing was
/// ever recorded). Stub: the switcher fills this in.
pub fn load(_root: &Path) -> std::io::Result<SwitchState> {
    Ok(SwitchState::default())
}
