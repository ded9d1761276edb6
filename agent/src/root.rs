//! The host root every read goes through.

use std::io;
use std::path::{Path, PathBuf};

/// A root directory standing for `/`: the real one, or a fixture tree.
/// Reads never fall back to the real host when a file is missing under a
/// fixture root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    path: PathBuf,
}

impl HostRoot {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        HostRoot { path: path.into() }
    }

    /// The real host.
    pub fn system() -> Self {
        HostRoot::new("/")
    }

    /// True when this is the real `/`: instructions such as CPUID and
    /// syscalls such as uname only describe the host then.
    pub fn is_system(&self) -> bool {
        self.path == Path::new("/")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of the absolute host path `abs` under this root.
    pub fn join(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.path.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    /// Read a file as text; `Ok(None)` when it does not exist.
    pub fn read_to_string(&self, abs: impl AsRef<Path>) -> io::Result<Option<String>> {
        match std::fs::read(self.join(abs)) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Read a file as trimmed text; None when absent, unreadable or empty.
    /// For sysfs/procfs attributes where "missing" and "unreadable" mean the
    /// same to the caller.
    pub fn read_trimmed(&self, abs: impl AsRef<Path>) -> Option<String> {
        let s = self.read_to_string(abs).ok()??;
        let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        (!t.is_empty()).then(|| t.to_string())
    }

    pub fn exists(&self, abs: impl AsRef<Path>) -> bool {
        self.join(abs).symlink_metadata().is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_strips_leading_slash() {
        let r = HostRoot::new("/tmp/fx");
        assert_eq!(
            r.join("/etc/os-release"),
            PathBuf::from("/tmp/fx/etc/os-release")
        );
        assert_eq!(
            r.join("etc/os-release"),
            PathBuf::from("/tmp/fx/etc/os-release")
        );
    }
}
