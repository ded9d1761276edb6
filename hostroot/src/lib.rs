//! The one root layer of alma-ext.
//!
//! Every host read and write of `alma-ext` goes through a [`Root`]: the live
//! `/`, or a directory standing for it (`--root DIR`: a chroot, an image, a
//! test fixture). Under a directory root every path component, symlinks
//! included, resolves *inside* the root as it would in a chroot: an absolute
//! link `etc/os-release -> /usr/lib/os-release` reads the root's
//! `usr/lib/os-release`, and `..` stops at the root. The resolution is
//! libpathrs's (`openat2(RESOLVE_IN_ROOT)` where the kernel has it, its
//! checked emulation on older kernels such as AlmaLinux 8's 4.18).
//!
//! Reads are bounded: only regular files are read (a FIFO, a device or a
//! socket is [`Error::NotRegular`], never opened for reading), and never
//! more than the caller's limit ([`Error::TooLarge`]). On the live root the
//! kernel's pseudo-files under `/proc` and `/sys` are regular files and read
//! as such.
//!
//! A file that is missing is `Ok(None)`, never a read of the real host.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The size cap of [`Root::read`] that most callers use: 1 MiB.
pub const DEFAULT_LIMIT: u64 = 1 << 20;

/// The cap of [`Root::read_trimmed`]: sysfs/procfs attributes are short.
pub const ATTRIBUTE_LIMIT: u64 = 64 << 10;

/// How many symlinks [`Root::resolve`] follows through dangling links before
/// it gives up, as the kernel's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// What kind of inode a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

impl Kind {
    fn of(ft: std::fs::FileType) -> Kind {
        if ft.is_file() {
            Kind::File
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::CharDevice
        } else if ft.is_block_device() {
            Kind::BlockDevice
        } else {
            Kind::Unknown
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "regular file",
            Kind::Dir => "directory",
            Kind::Symlink => "symbolic link",
            Kind::Fifo => "FIFO",
            Kind::Socket => "socket",
            Kind::CharDevice => "character device",
            Kind::BlockDevice => "block device",
            Kind::Unknown => "unknown file type",
        })
    }
}

/// A failure of the root layer. Every variant names the path it failed on,
/// as the user would find it (the root directory joined with the host path).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The root directory itself cannot be opened.
    #[error("cannot open the root directory {path}: {source}")]
    OpenRoot { path: PathBuf, source: io::Error },
    /// The path is not a regular file (a directory, FIFO, device, socket).
    #[error("{path}: not a regular file but a {kind}")]
    NotRegular { path: PathBuf, kind: Kind },
    /// The file is larger than the caller's cap.
    #[error("{path}: larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    /// `/proc` is not mounted: files are re-opened through
    /// `/proc/self/fd`, and the confined lookup needs procfs too.
    #[error("{path}: /proc is not mounted (files are read through /proc/self/fd): mount it, e.g. `mount -t proc proc /proc`")]
    NoProc { path: PathBuf },
    /// Any other failure (permission, symlink loop, I/O).
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl Error {
    /// The path the error names.
    pub fn path(&self) -> &Path {
        match self {
            Error::OpenRoot { path, .. }
            | Error::NotRegular { path, .. }
            | Error::TooLarge { path, .. }
            | Error::NoProc { path }
            | Error::Io { path, .. } => path,
        }
    }
}

/// One entry of [`Root::read_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name (lossy UTF-8).
    pub name: String,
    /// The kind of the entry itself (a symlink is [`Kind::Symlink`]).
    pub kind: Kind,
}

/// What [`Root::read_tail`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The last bytes of the file, at most the caller's limit.
    pub bytes: Vec<u8>,
    /// The whole length of the file when it was opened.
    pub len: u64,
}

/// A root directory standing for `/`.
#[derive(Clone)]
pub struct Root {
    path: PathBuf,
    /// `None` for the live `/`, where paths are the host's own.
    confined: Option<Arc<pathrs::Root>>,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root").field("path", &self.path).finish()
    }
}

impl PartialEq for Root {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for Root {}

/// What a lookup found: a file to read or stat, or nothing there.
enum Found {
    Missing,
    Present(File),
}

impl Root {
    /// The live host.
    pub fn system() -> Root {
        Root {
            path: PathBuf::from("/"),
            confined: None,
        }
    }

    /// Open `dir` as the root. `/` (or a path that names it) is the live
    /// host; anything else is confined.
    pub fn open(dir: impl AsRef<Path>) -> Result<Root, Error> {
        let dir = dir.as_ref();
        let canonical = std::fs::canonicalize(dir).map_err(|source| Error::OpenRoot {
            path: dir.to_path_buf(),
            source,
        })?;
        if canonical == Path::new("/") {
            return Ok(Root::system());
        }
        if !canonical.is_dir() {
            return Err(Error::OpenRoot {
                path: dir.to_path_buf(),
                source: io::Error::from_raw_os_error(libc::ENOTDIR),
            });
        }
        // Without procfs pathrs cannot work (it panics): say so instead.
        if !proc_mounted() {
            return Err(Error::NoProc {
                path: dir.to_path_buf(),
            });
        }
        let inner = pathrs::Root::open(&canonical).map_err(|e| Error::OpenRoot {
            path: dir.to_path_buf(),
            source: io_error(e),
        })?;
        Ok(Root {
            path: canonical,
            confined: Some(Arc::new(inner)),
        })
    }

    /// True when this is the live `/`: only then do instructions such as
    /// CPUID and syscalls such as uname describe the root.
    pub fn is_system(&self) -> bool {
        self.confined.is_none()
    }

    /// The root directory (canonical).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `abs` joined lexically under the root, for messages only: it is what
    /// the user would type, not where a read goes (symlinks are not resolved).
    pub fn join(&self, abs: impl AsRef<Path>) -> PathBuf {
        let abs = abs.as_ref();
        self.path.join(abs.strip_prefix("/").unwrap_or(abs))
    }

    /// The host path inside this root that the real path `real` stands for
    /// (`/fx/etc/x` under root `/fx` is `/etc/x`); `None` outside the root.
    pub fn in_root(&self, real: &Path) -> Option<PathBuf> {
        let rel = real.strip_prefix(&self.path).ok()?;
        Some(Path::new("/").join(rel))
    }

    fn err(&self, abs: &Path, source: io::Error) -> Error {
        if is_missing(&source) && !proc_mounted() {
            return Error::NoProc {
                path: self.join(abs),
            };
        }
        Error::Io {
            path: self.join(abs),
            source,
        }
    }

    /// Look `abs` up, following a trailing symlink when `follow`, and open it
    /// without reading (`O_PATH`): a FIFO is never opened for reading here.
    fn lookup(&self, abs: &Path, follow: bool) -> Result<Found, Error> {
        let rel = relative(abs);
        let opened = match &self.confined {
            None => {
                let mut flags = libc::O_PATH | libc::O_CLOEXEC;
                if !follow {
                    flags |= libc::O_NOFOLLOW;
                }
                OpenOptions::new()
                    .read(true)
                    .custom_flags(flags)
                    .open(Path::new("/").join(&rel))
            }
            Some(root) => {
                let handle = if follow {
                    root.resolve(&rel)
                } else {
                    root.resolve_nofollow(&rel)
                };
                handle
                    .map_err(io_error)
                    .and_then(|h| h.as_fd().try_clone_to_owned())
                    .map(File::from)
            }
        };
        match opened {
            Ok(f) => Ok(Found::Present(f)),
            Err(e) if is_missing(&e) => Ok(Found::Missing),
            Err(e) => Err(self.err(abs, e)),
        }
    }

    /// The metadata of `abs`, following symlinks inside the root; `None`
    /// when nothing is there (a dangling link included).
    pub fn metadata(&self, abs: impl AsRef<Path>) -> Result<Option<Metadata>, Error> {
        self.stat(abs.as_ref(), true)
    }

    /// The metadata of `abs` itself (a symlink is not followed).
    pub fn symlink_metadata(&self, abs: impl AsRef<Path>) -> Result<Option<Metadata>, Error> {
        self.stat(abs.as_ref(), false)
    }

    fn stat(&self, abs: &Path, follow: bool) -> Result<Option<Metadata>, Error> {
        match self.lookup(abs, follow)? {
            Found::Missing => Ok(None),
            Found::Present(f) => f.metadata().map(Some).map_err(|e| self.err(abs, e)),
        }
    }

    /// True when anything (a dangling symlink included) is at `abs`.
    pub fn exists(&self, abs: impl AsRef<Path>) -> bool {
        matches!(self.symlink_metadata(abs), Ok(Some(_)))
    }

    /// Open the regular file at `abs` for reading; `Ok(None)` when it does
    /// not exist. The looked-up inode is re-opened through its descriptor,
    /// so what is read is what was checked.
    fn open_regular(&self, abs: &Path) -> Result<Option<(File, Metadata)>, Error> {
        let f = match self.lookup(abs, true)? {
            Found::Missing => return Ok(None),
            Found::Present(f) => f,
        };
        let meta = f.metadata().map_err(|e| self.err(abs, e))?;
        let kind = Kind::of(meta.file_type());
        if kind != Kind::File {
            return Err(Error::NotRegular {
                path: self.join(abs),
                kind,
            });
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(fd_path(&f))
            .map_err(|e| self.err(abs, e))?;
        Ok(Some((file, meta)))
    }

    /// Read the regular file at `abs`, at most `limit` bytes; `Ok(None)` when
    /// it does not exist.
    pub fn read(&self, abs: impl AsRef<Path>, limit: u64) -> Result<Option<Vec<u8>>, Error> {
        let abs = abs.as_ref();
        let Some((file, meta)) = self.open_regular(abs)? else {
            return Ok(None);
        };
        if meta.len() > limit {
            return Err(Error::TooLarge {
                path: self.join(abs),
                limit,
            });
        }
        let buf = read_capped(&file, meta.len(), limit).map_err(|e| self.err(abs, e))?;
        if buf.len() as u64 > limit {
            return Err(Error::TooLarge {
                path: self.join(abs),
                limit,
            });
        }
        Ok(Some(buf))
    }

    /// The last `limit` bytes of the regular file at `abs` (a log's tail),
    /// with the file's whole length; `Ok(None)` when it does not exist.
    pub fn read_tail(&self, abs: impl AsRef<Path>, limit: u64) -> Result<Option<Tail>, Error> {
        let abs = abs.as_ref();
        let Some((mut file, meta)) = self.open_regular(abs)? else {
            return Ok(None);
        };
        let len = meta.len();
        let start = len.saturating_sub(limit);
        io::Seek::seek(&mut file, io::SeekFrom::Start(start)).map_err(|e| self.err(abs, e))?;
        let mut bytes = Vec::with_capacity((len - start) as usize);
        // A file that grew since the stat is still cut at `limit`.
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| self.err(abs, e))?;
        Ok(Some(Tail { bytes, len }))
    }

    /// [`Root::read`] as text (invalid UTF-8 replaced).
    pub fn read_string(&self, abs: impl AsRef<Path>, limit: u64) -> Result<Option<String>, Error> {
        Ok(self.read(abs, limit)?.map(text))
    }

    /// A short attribute (sysfs, procfs, DMI) as trimmed text; `None` when
    /// absent, unreadable, not a regular file, too large or empty, where all
    /// of these mean the same to the caller.
    pub fn read_trimmed(&self, abs: impl AsRef<Path>) -> Option<String> {
        trimmed(self.read_string(abs, ATTRIBUTE_LIMIT).ok()??)
    }

    /// The target of the symlink at `abs` as written in the link (not made
    /// safe: resolve it with [`Root::resolve`]); `None` when nothing is there.
    pub fn read_link(&self, abs: impl AsRef<Path>) -> Result<Option<PathBuf>, Error> {
        let abs = abs.as_ref();
        if self.confined.is_none() {
            // The live root confines nothing: one readlink(2), not an
            // O_PATH open, readlinkat and close (facts reads the `exe` link
            // of every process).
            return match std::fs::read_link(Path::new("/").join(relative(abs))) {
                Ok(target) => Ok(Some(target)),
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(self.err(abs, e)),
            };
        }
        match self.lookup(abs, false)? {
            Found::Missing => Ok(None),
            Found::Present(f) => {
                let mut buf = vec![0u8; libc::PATH_MAX as usize];
                // SAFETY: readlinkat with an empty path reads the link the
                // O_PATH|O_NOFOLLOW descriptor names; buf outlives the call.
                let n = unsafe {
                    libc::readlinkat(
                        f.as_raw_fd(),
                        c"".as_ptr(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                    )
                };
                if n < 0 {
                    return Err(self.err(abs, io::Error::last_os_error()));
                }
                buf.truncate(n as usize);
                Ok(Some(PathBuf::from(std::ffi::OsString::from_vec(buf))))
            }
        }
    }

    /// The entries of the directory at `abs`, sorted by name; `None` when it
    /// does not exist.
    pub fn read_dir(&self, abs: impl AsRef<Path>) -> Result<Option<Vec<Entry>>, Error> {
        let abs = abs.as_ref();
        let f = match self.lookup(abs, true)? {
            Found::Missing => return Ok(None),
            Found::Present(f) => f,
        };
        let meta = f.metadata().map_err(|e| self.err(abs, e))?;
        if !meta.is_dir() {
            return Err(self.err(abs, io::Error::from_raw_os_error(libc::ENOTDIR)));
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(fd_path(&f)).map_err(|e| self.err(abs, e))? {
            let e = e.map_err(|e| self.err(abs, e))?;
            let kind = e.file_type().map(Kind::of).unwrap_or(Kind::Unknown);
            let name = e
                .file_name()
                .into_string()
                .unwrap_or_else(|n| n.to_string_lossy().into_owned());
            out.push(Entry { name, kind });
        }
        // Names in a directory are unique: an unstable sort is the same order.
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(Some(out))
    }

    /// The real on-disk path of `abs` with every symlink resolved inside the
    /// root, for writes and for external tools. The file need not exist: a
    /// missing tail is appended to the resolved existing part, and a
    /// dangling symlink is followed to where its target would be.
    pub fn resolve(&self, abs: impl AsRef<Path>) -> Result<PathBuf, Error> {
        self.resolve_depth(abs.as_ref(), 0)
    }

    /// [`Root::resolve`] for the parent directory of `abs`, joined with the
    /// last component, which is not followed (a symlink stays a symlink).
    pub fn resolve_parent(&self, abs: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let abs = abs.as_ref();
        match split(abs) {
            None => self.resolve(abs),
            Some((parent, name)) => Ok(self.resolve(&parent)?.join(name)),
        }
    }

    fn resolve_depth(&self, abs: &Path, depth: usize) -> Result<PathBuf, Error> {
        if depth > MAX_LINKS {
            return Err(self.err(abs, io::Error::from_raw_os_error(libc::ELOOP)));
        }
        if let Found::Present(f) = self.lookup(abs, true)? {
            return std::fs::read_link(fd_path(&f)).map_err(|e| self.err(abs, e));
        }
        let Some((parent, name)) = split(abs) else {
            return Ok(self.path.clone());
        };
        if let Some(target) = self.read_link(abs)? {
            // A dangling link: where its target would be, inside the root.
            let next = if target.is_absolute() {
                target
            } else {
                parent.join(target)
            };
            return self.resolve_depth(&next, depth + 1);
        }
        Ok(self.resolve_depth(&parent, depth)?.join(name))
    }
}

/// `abs` without its leading `/`, `.` dropped; `..` kept (the resolver keeps
/// it inside the root).
fn relative(abs: &Path) -> PathBuf {
    abs.components()
        .filter(|c| {
            !matches!(
                c,
                Component::RootDir | Component::CurDir | Component::Prefix(_)
            )
        })
        .collect()
}

/// The parent and last normal component of `abs`; `None` for `/`.
fn split(abs: &Path) -> Option<(PathBuf, std::ffi::OsString)> {
    let rel = relative(abs);
    let name = rel.file_name()?.to_os_string();
    let parent = Path::new("/").join(rel.parent().unwrap_or(Path::new("")));
    Some((parent, name))
}

/// The `/proc/self/fd` path of an open descriptor: re-opening it reaches the
/// same inode without another lookup.
fn fd_path(f: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd()))
}

/// `/proc/self/fd` is there: procfs is mounted.
fn proc_mounted() -> bool {
    Path::new("/proc/self/fd").is_dir()
}

fn is_missing(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

fn io_error(e: pathrs::error::Error) -> io::Error {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => io::Error::from_raw_os_error(errno),
        _ => io::Error::other(e.to_string()),
    }
}

use std::os::unix::ffi::OsStringExt;

#[cfg(test)]
mod tests;

/// Read `file` to its end, but at most `limit + 1` bytes: more than
/// `limit` means "too large" to the caller. Pseudo-files report a size of 0
/// or 4096 whatever they hold, so the cap is enforced on what is read, not
/// on `len` (the size stat gave), which only sizes the first buffer: a
/// regular file or a small /proc file takes one read(2) and the one that
/// says end of file, not `read_to_end`'s doubling from 32 bytes.
pub fn read_capped(file: &File, len: u64, limit: u64) -> io::Result<Vec<u8>> {
    let cap = limit.saturating_add(1);
    let first = if len > 0 { len.saturating_add(1) } else { 4096 };
    let mut buf = Vec::with_capacity(first.min(cap) as usize);
    file.take(cap).read_to_end(&mut buf)?;
    Ok(buf)
}

/// An attribute's text without the whitespace and the NULs that end
/// device-tree strings around it; `None` when nothing is left.
pub fn trimmed(s: String) -> Option<String> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!t.is_empty()).then(|| t.to_string())
}

/// Bytes read from a file as text: no copy when they are UTF-8, invalid
/// sequences replaced otherwise.
pub fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
