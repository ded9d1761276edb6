//! The last result of `alma-ext security-status`, kept in the root for the
//! check-in: `/var/lib/alma-ext/security-status.json` (counts, and the
//! names of the packages the extended repositories do not carry), and
//! whether the server asked for those names
//! (`/var/lib/alma-ext/security-packages`, present when it did).

use std::io;
use std::path::PathBuf;

use alma_ext_proto::api::SecuritySummary;

use crate::root::HostRoot;

/// The saved summary.
pub const STATE_FILE: &str = "/var/lib/alma-ext/security-status.json";
/// Present while the server asks for package names.
pub const ASK_FILE: &str = "/var/lib/alma-ext/security-packages";

fn write_atomic(path: PathBuf, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().expect("absolute path");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().expect("file").to_string_lossy()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)
}

/// Save the summary (with the package names; the check-in drops them
/// unless the server asked).
pub fn save(root: &hostroot::Root, summary: &SecuritySummary) -> io::Result<()> {
    let path = root
        .resolve(STATE_FILE)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut body = serde_json::to_vec_pretty(summary).map_err(io::Error::other)?;
    body.push(b'\n');
    write_atomic(path, &body)
}

/// The summary for a check-in: None when `security-status` never ran or
/// its file is unreadable (a check-in never fails for it).
pub fn for_checkin(root: &HostRoot) -> Option<SecuritySummary> {
    let text = root.read_to_string(STATE_FILE).ok()??;
    let mut s: SecuritySummary = serde_json::from_str(&text).ok()?;
    if !root.exists(ASK_FILE) {
        s.not_extended = None;
    }
    Some(s)
}

/// Remember whether the server asked for the package names (from a
/// check-in response). Best effort: the next check-in tries again.
pub fn remember_ask(root: &HostRoot, asked: bool) {
    let path = root.join(ASK_FILE);
    if asked {
        if !path.exists() {
            let _ = write_atomic(path, b"");
        }
    } else {
        let _ = std::fs::remove_file(path);
    }
}
