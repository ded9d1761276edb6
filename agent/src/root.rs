//! The host root every read and write of the agent goes through: a thin
//! layer over [`hostroot::Root`], which resolves every path inside the
//! root as a chroot would (symlinks included, absolute ones too) and reads
//! only bounded regular files. This module keeps the agent's spelling
//! (`HostRoot::new`, `read_to_string` returning `io::Result`) so callers
//! and their tests stay as they were.

use std::io;
use std::path::{Path, PathBuf};

pub use hostroot::DEFAULT_LIMIT;

/// A root directory standing for `/`: the live one, or an image, a chroot,
/// a fixture tree. Nothing outside it is read; a file missing under it is
/// absent, never read from the real host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoot {
    /// The directory as given (canonical once opened).
    path: PathBuf,
    /// None when the directory cannot be opened: every file under it is
    /// then absent, and every write fails.
    root: Option<hostroot::Root>,
}

pub use hostroot::trimmed;

/// The root layer's error as an `io::Error` that names the path.
fn io_error(e: hostroot::Error) -> io::Error {
    let kind = match &e {
        hostroot::Error::NotRegular { .. } => io::ErrorKind::InvalidInput,
        hostroot::Error::TooLarge { .. } => io::ErrorKind::InvalidData,
        // Not "missing": nothing can be read until /proc is mounted.
        hostroot::Error::NoProc { .. } => io::ErrorKind::Other,
        hostroot::Error::OpenRoot { source, .. } | hostroot::Error::Io { source, .. } => {
            source.kind()
        }
    };
    io::Error::new(kind, e.to_string())
}

/// [`HostRoot::read_bounded`] on the live root, where there is nothing to
/// confine: the same checks as the root layer (opened non-blocking so a
/// FIFO never blocks, `fstat`, regular files only, the cap enforced on what
/// is read) in one open instead of a lookup and a re-open. `facts` reads a
/// few hundred /proc and /sys files; this halves its system calls.
fn read_live(abs: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    use std::os::unix::fs::OpenOptionsExt;
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", abs.display()));
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(abs)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(named(e)),
    };
    let meta = file.metadata().map_err(named)?;
    if !meta.is_file() {
        return Err(io_error(hostroot::Error::NotRegular {
            path: abs.to_path_buf(),
            kind: kind_of(meta.file_type()),
        }));
    }
    let buf = hostroot::read_capped(&file, meta.len(), limit).map_err(named)?;
    if buf.len() as u64 > limit {
        return Err(io_error(hostroot::Error::TooLarge {
            path: abs.to_path_buf(),
            limit,
        }));
    }
    Ok(Some(buf))
}

fn kind_of(ft: std::fs::FileType) -> hostroot::Kind {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        hostroot::Kind::Dir
    } else if ft.is_fifo() {
        hostroot::Kind::Fifo
    } else if ft.is_char_device() {
        hostroot::Kind::CharDevice
    } else if ft.is_block_device() {
        hostroot::Kind::BlockDevice
    } else if ft.is_socket() {
        hostroot::Kind::Socket
    } else {
        hostroot::Kind::Unknown
    }
}

impl HostRoot {
    /// The root at `path`. A directory that cannot be opened is a root
    /// with nothing in it (use [`HostRoot::open`] to be told why).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        match hostroot::Root::open(&path) {
            Ok(root) => HostRoot {
                path: root.path().to_path_buf(),
                root: Some(root),
            },
            Err(_) => HostRoot { path, root: None },
        }
    }

    /// The root at `path`, or why it cannot be opened (missing, not a
    /// directory), naming it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, hostroot::Error> {
        let root = hostroot::Root::open(path)?;
        Ok(HostRoot {
            path: root.path().to_path_buf(),
            root: Some(root),
        })
    }

    /// The live host.
    pub fn system() -> Self {
        HostRoot {
            path: PathBuf::from("/"),
            root: Some(hostroot::Root::system()),
        }
    }

    /// True when this is the live `/`: instructions such as CPUID and
    /// syscalls such as uname only describe the host then.
    pub fn is_system(&self) -> bool {
        self.root.as_ref().is_some_and(hostroot::Root::is_system)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `abs` joined lexically under the root, for messages only: reads and
    /// writes go through the other methods (symlinks resolved inside).
    pub fn join(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.path.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    /// Read at most `limit` bytes of the regular file at `abs`; `Ok(None)`
    /// when it does not exist. A FIFO, device, socket or directory, a file
    /// over `limit` or a symlink loop is an error naming the path.
    pub fn read_bounded(&self, abs: impl AsRef<Path>, limit: u64) -> io::Result<Option<Vec<u8>>> {
        match &self.root {
            Some(_) if self.is_system() => read_live(abs.as_ref(), limit),
            Some(r) => r.read(abs, limit).map_err(io_error),
            None => Ok(None),
        }
    }

    /// Read a regular file of at most [`DEFAULT_LIMIT`] bytes as text
    /// (lossy UTF-8); `Ok(None)` when it does not exist. Errors name the path.
    pub fn read_to_string(&self, abs: impl AsRef<Path>) -> io::Result<Option<String>> {
        Ok(self.read_bounded(abs, DEFAULT_LIMIT)?.map(hostroot::text))
    }

    /// Read a file as trimmed text; None when absent, unreadable or empty.
    /// For sysfs/procfs attributes where "missing" and "unreadable" mean the
    /// same to the caller.
    pub fn read_trimmed(&self, abs: impl AsRef<Path>) -> Option<String> {
        let bytes = self.read_bounded(abs, hostroot::ATTRIBUTE_LIMIT).ok()??;
        trimmed(hostroot::text(bytes))
    }

    /// Anything (a dangling symlink included) is at `abs`.
    pub fn exists(&self, abs: impl AsRef<Path>) -> bool {
        self.root.as_ref().is_some_and(|r| r.exists(abs))
    }

    /// `abs` is a directory (symlinks followed inside the root); a dangling
    /// or looping link is not.
    pub fn is_dir(&self, abs: impl AsRef<Path>) -> bool {
        self.root
            .as_ref()
            .is_some_and(|r| matches!(r.metadata(abs), Ok(Some(m)) if m.is_dir()))
    }

    /// The entries of a directory, sorted by name; `Ok(None)` when it does
    /// not exist.
    pub fn read_dir(&self, abs: impl AsRef<Path>) -> io::Result<Option<Vec<hostroot::Entry>>> {
        match &self.root {
            Some(r) => r.read_dir(abs).map_err(io_error),
            None => Ok(None),
        }
    }

    /// The names in a directory, sorted; `Ok(None)` when it does not exist.
    pub fn read_dir_names(&self, abs: impl AsRef<Path>) -> io::Result<Option<Vec<String>>> {
        Ok(self
            .read_dir(abs)?
            .map(|v| v.into_iter().map(|e| e.name).collect()))
    }

    /// Call `f` with each name in the directory at `abs`, in no order;
    /// `Ok(false)` when it does not exist. On the live root the entries are
    /// read with no allocation per entry (the qemu scan of `/proc` visits
    /// every process at each `facts`); under another root, as
    /// [`HostRoot::read_dir`] (resolved inside the root).
    pub fn for_each_name(
        &self,
        abs: impl AsRef<Path>,
        mut f: impl FnMut(&str),
    ) -> io::Result<bool> {
        let abs = abs.as_ref();
        if self.is_system() {
            use nix::fcntl::OFlag;
            let named = |e: nix::Error| {
                let e = io::Error::from(e);
                io::Error::new(e.kind(), format!("{}: {e}", abs.display()))
            };
            let mut dir = match nix::dir::Dir::open(
                abs,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            ) {
                Ok(d) => d,
                Err(nix::Error::ENOENT) => return Ok(false),
                Err(e) => return Err(named(e)),
            };
            for entry in dir.iter() {
                let entry = entry.map_err(named)?;
                if let Ok(name) = entry.file_name().to_str() {
                    if name != "." && name != ".." {
                        f(name);
                    }
                }
            }
            return Ok(true);
        }
        match self.read_dir(abs)? {
            Some(entries) => {
                entries.iter().for_each(|e| f(&e.name));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The target of the symlink at `abs` as written in the link; `Ok(None)`
    /// when nothing is there.
    pub fn read_link(&self, abs: impl AsRef<Path>) -> io::Result<Option<PathBuf>> {
        if self.is_system() {
            // The live root: one readlink, nothing to confine.
            let abs = abs.as_ref();
            return match std::fs::read_link(abs) {
                Ok(p) => Ok(Some(p)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", abs.display()))),
            };
        }
        match &self.root {
            Some(r) => r.read_link(abs).map_err(io_error),
            None => Ok(None),
        }
    }

    /// The real on-disk path of `abs`, every symlink resolved inside the
    /// root (the missing tail appended): for writes and external tools.
    pub fn resolve(&self, abs: impl AsRef<Path>) -> io::Result<PathBuf> {
        match &self.root {
            Some(r) => r.resolve(abs).map_err(io_error),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{}: the root directory cannot be opened",
                    self.path.display()
                ),
            )),
        }
    }
}

/// A root-layer error as a message: the path as it is, the reason in the
/// user's language (`Display` stays the English of `hostroot`).
pub fn error_message(e: &hostroot::Error) -> alma_ext_i18n::Message {
    use alma_ext_i18n::io_message;
    use alma_ext_i18n::msg;
    match e {
        hostroot::Error::OpenRoot { path, source } => msg!(
            "cannot open the root directory {path}: {error}",
            path = path.display(),
            error = io_message(source)
        ),
        hostroot::Error::Io { path, source } => msg!(
            "{path}: {error}",
            path = path.display(),
            error = io_message(source)
        ),
        other => msg!("{error}", error = other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_strips_leading_slash() {
        let d = tempfile::tempdir().unwrap();
        let r = HostRoot::new(d.path());
        assert_eq!(r.join("/etc/os-release"), r.path().join("etc/os-release"));
        assert_eq!(r.join("etc/os-release"), r.path().join("etc/os-release"));
    }

    #[test]
    fn absolute_links_resolve_inside() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("etc/os-release")).unwrap();
        let r = HostRoot::new(d.path());
        assert_eq!(r.read_to_string("/etc/os-release").unwrap(), None);
        assert_eq!(
            r.resolve("/etc/os-release").unwrap(),
            r.path().join("etc/hostname")
        );
    }

    #[test]
    fn live_reads_skip_fifos_devices_and_oversized_files() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let e = read_live(&fifo, 10).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = read_live(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let big = d.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert!(read_live(&big, 10)
            .unwrap_err()
            .to_string()
            .contains("larger than 10"));
        assert_eq!(read_live(&big, 11).unwrap().unwrap().len(), 11);
        assert_eq!(read_live(&d.path().join("none"), 10).unwrap(), None);
    }

    #[test]
    fn a_missing_root_has_nothing_in_it() {
        let r = HostRoot::new("/nonexistent/alma-ext-root");
        assert_eq!(r.read_to_string("/etc/os-release").unwrap(), None);
        assert!(!r.exists("/"));
        assert!(r.resolve("/etc").is_err());
    }
}
