//! Atomic file writes that keep owner, mode and SELinux label.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The SELinux label attribute.
pub const SELINUX_XATTR: &str = "security.selinux";

/// Owner, mode and label of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The raw `security.selinux` value, hex encoded.
    #[serde(default)]
    pub selinux: Option<String>,
}

impl FileMeta {
    /// The metadata of `path`, or None when it does not exist.
    pub fn read(path: &Path) -> io::Result<Option<FileMeta>> {
        let m = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(FileMeta {
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            selinux: read_label(path),
        }))
    }
}

/// The SELinux label of a path, hex encoded; None when there is none or
/// the filesystem has no labels.
pub fn read_label(path: &Path) -> Option<String> {
    xattr::get(path, SELINUX_XATTR)
        .ok()
        .flatten()
        .map(hex::encode)
}

/// The temporary name used next to `path` (dnf only reads `*.repo`).
pub fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.alma-ext-tmp"))
}

/// Write `bytes` to `path` atomically: temporary file in the same
/// directory, owner, mode and label set on it, fsync, rename, fsync of the
/// directory. A reader sees the old bytes or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8], meta: &FileMeta) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| annotate(e, &tmp))?;
    let res = (|| {
        f.write_all(bytes)?;
        set_meta_fd(&f, &tmp, meta)?;
        f.sync_all()?;
        Ok::<_, io::Error>(())
    })();
    drop(f);
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(annotate(e, &tmp));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        annotate(e, path)
    })?;
    sync_dir(dir)
}

fn set_meta_fd(f: &File, path: &Path, meta: &FileMeta) -> io::Result<()> {
    let (uid, gid) = {
        let m = f.metadata()?;
        (m.uid(), m.gid())
    };
    if uid != meta.uid || gid != meta.gid {
        std::os::unix::fs::fchown(f, Some(meta.uid), Some(meta.gid))?;
    }
    f.set_permissions(fs::Permissions::from_mode(meta.mode))?;
    if let Some(label) = &meta.selinux {
        if let Ok(raw) = hex::decode(label) {
            match xattr::set(path, SELINUX_XATTR, &raw) {
                Ok(()) => {}
                // A filesystem without labels (a test tmpfs): nothing to keep.
                Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Remove `path` if it exists and fsync its directory.
pub fn remove_durable(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(annotate(e, path)),
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// fsync a directory so a rename or unlink in it survives power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| annotate(e, dir))
}

/// Add the path to an I/O error's message.
pub fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Create a directory (and parents) with the given mode.
pub fn create_dir_mode(dir: &Path, mode: u32) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    // Parents get the usual 0755; only the directory itself gets `mode`.
    if let Some(parent) = dir.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(|e| annotate(e, parent))?;
    }
    fs::DirBuilder::new()
        .mode(mode)
        .create(dir)
        .or_else(|e| if dir.is_dir() { Ok(()) } else { Err(e) })
        .map_err(|e| annotate(e, dir))
}

/// Check, before anything changes, that `bytes` can be written next to
/// `path` (a read-only or full filesystem fails here, not halfway through
/// a switch): the temporary file is written, synced and removed.
pub fn probe_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    let _ = fs::remove_file(&tmp);
    res.map_err(|e| annotate(e, path.parent().unwrap_or(path)))
}
