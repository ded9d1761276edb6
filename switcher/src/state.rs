//! The recorded switch state under `/var/lib/alma-ext/switch/` in the root,
//! read by `alma-ext status` and reported at check-in.

use std::path::Path;

use alma_ext_proto::api::{SwitchState, SwitchStatus};

use crate::journal::Store;

/// The switch state of the host under `root`: `community` when nothing was
/// ever recorded, `interrupted` while a journal is pending (a switch or
/// revert was killed; the next `alma-ext switch` finishes or rolls it back).
pub fn load(root: &Path) -> std::io::Result<SwitchState> {
    let store = Store::new(root);
    let mut s = store.state()?.unwrap_or_default();
    if store.journal_path().exists() {
        s.status = SwitchStatus::Interrupted;
    }
    Ok(s)
}
