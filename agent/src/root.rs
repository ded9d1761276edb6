//! The host root every read goes through.

use std::io;
use std::path::{Path, PathBuf};

/// The size cap of [`HostRoot::read_to_string`]: os-release, cpuinfo of a
/// large machine and DMI attributes fit many times over.
pub const DEFAULT_LIMIT: u64 = 1 << 20;

/// Trim whitespace and the NULs that end device-tree strings; None when
/// nothing is left.
pub fn trimmed(s: String) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_string())
}

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

    /// Read at most `limit` bytes of a regular file; `Ok(None)` when it
    /// does not exist. A FIFO, device, socket or directory is an error
    /// naming the path (it is opened non-blocking and checked with fstat,
    /// so a FIFO never blocks and a link to /dev/zero is never read), and
    /// so is a file longer than `limit`. The kernel's pseudo-files in
    /// /proc and /sys are regular files.
    pub fn read_bounded(&self, abs: impl AsRef<Path>, limit: u64) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
        let path = self.join(abs);
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(named(e)),
        };
        let ft = file.metadata().map_err(named)?.file_type();
        if !ft.is_file() {
            let kind = if ft.is_dir() {
                "a directory"
            } else if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_char_device() {
                "a character device"
            } else if ft.is_block_device() {
                "a block device"
            } else if ft.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {kind}, not a regular file: skipped", path.display()),
            ));
        }
        let mut buf = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(named)?;
        if buf.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: larger than {limit} bytes: skipped", path.display()),
            ));
        }
        Ok(Some(buf))
    }

    /// Read a regular file of at most [`DEFAULT_LIMIT`] bytes as text
    /// (lossy UTF-8); `Ok(None)` when it does not exist. Errors name the path.
    pub fn read_to_string(&self, abs: impl AsRef<Path>) -> io::Result<Option<String>> {
        Ok(self
            .read_bounded(abs, DEFAULT_LIMIT)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Read a file as trimmed text; None when absent, unreadable or empty.
    /// For sysfs/procfs attributes where "missing" and "unreadable" mean the
    /// same to the caller.
    pub fn read_trimmed(&self, abs: impl AsRef<Path>) -> Option<String> {
        trimmed(self.read_to_string(abs).ok()??)
    }

    /// The names in a directory, sorted; `Ok(None)` when it does not exist.
    pub fn read_dir_names(&self, abs: impl AsRef<Path>) -> io::Result<Option<Vec<String>>> {
        let path = self.join(abs);
        let rd = match std::fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(Some(names))
    }

    /// `abs` is a directory (symlinks followed); a dangling or looping
    /// link is not.
    pub fn is_dir(&self, abs: impl AsRef<Path>) -> bool {
        self.join(abs).metadata().is_ok_and(|m| m.is_dir())
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
