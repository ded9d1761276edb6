//! The switch journal under `/var/lib/alma-ext/switch/` in the root.
//!
//! - `journal.json`: a pending switch or revert: for every file it touches,
//!   the exact bytes and metadata before and after. Written (fsync'd)
//!   before the first change, removed after the last.
//! - `journal.steps`: the step log, one line per step, fsync'd; the line
//!   `commit` is the commit point.
//! - `applied.json`: the record of the switch in force: the community
//!   bytes of every file it changed, for `--revert`.
//! - `state.json`: what `alma-ext status` shows.
//! - `lock`: held (flock) while a switch or revert runs.
//!
//! Recovery after a kill: without `commit` the files go back to their
//! `before` bytes (or forward to `after`, for an interrupted revert that is
//! asked to complete); with `commit` the bookkeeping is finished. Both are
//! idempotent, so a kill during recovery is recovered the same way.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use alma_ext_proto::api::{SwitchState, SwitchStatus};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsops::{self, FileMeta};

/// Where the switcher keeps its records, relative to the root.
pub const SWITCH_DIR: &str = "var/lib/alma-ext/switch";

/// Which operation a journal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Switch,
    Revert,
}

/// Exact bytes and metadata of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    pub meta: FileMeta,
    pub sha256: String,
    /// Base64 of the bytes.
    pub data: String,
}

impl Blob {
    pub fn new(bytes: &[u8], meta: FileMeta) -> Blob {
        Blob {
            meta,
            sha256: sha256_hex(bytes),
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    pub fn bytes(&self) -> io::Result<Vec<u8>> {
        let b = base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if sha256_hex(&b) != self.sha256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "backup does not match its checksum",
            ));
        }
        Ok(b)
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// One file of a journal or record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Host path, e.g. `/etc/yum.repos.d/almalinux-baseos.repo`.
    pub path: PathBuf,
    /// None: the file did not exist.
    pub before: Option<Blob>,
    /// None: the file is removed.
    pub after: Option<Blob>,
}

/// A journal (pending) or the applied record (in force).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub op: Op,
    pub created: DateTime<Utc>,
    pub files: Vec<FileRecord>,
    /// Repo ids the switch adds.
    #[serde(default)]
    pub repos: Vec<String>,
    /// Community repo ids it disables or repoints (their caches are dropped).
    #[serde(default)]
    pub replaced: Vec<String>,
}

/// The switch directory of a root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The root layer: every host path resolves inside the root, symlinks
    /// included. None when the root cannot be opened (it does not exist:
    /// nothing is read or written there anyway).
    fs: Option<hostroot::Root>,
    dir: PathBuf,
}

/// A root-layer failure as an I/O error (its message names the path).
pub fn io_error(e: hostroot::Error) -> io::Error {
    match e {
        hostroot::Error::Io { source, path } => {
            io::Error::new(source.kind(), format!("{}: {source}", path.display()))
        }
        other => io::Error::other(other.to_string()),
    }
}

impl Store {
    pub fn new(root: &Path) -> Store {
        let fs = hostroot::Root::open(root).ok();
        let abs = Path::new("/").join(SWITCH_DIR);
        let dir = fs
            .as_ref()
            .and_then(|r| r.resolve(&abs).ok())
            .unwrap_or_else(|| root.join(SWITCH_DIR));
        Store {
            root: root.to_path_buf(),
            fs,
            dir,
        }
    }

    /// The root layer of this root.
    pub fn fs(&self) -> Option<&hostroot::Root> {
        self.fs.as_ref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("journal.json")
    }

    pub fn steps_path(&self) -> PathBuf {
        self.dir.join("journal.steps")
    }

    pub fn applied_path(&self) -> PathBuf {
        self.dir.join("applied.json")
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// The real path of a host path, every symlink resolved inside the
    /// root (a symlinked repo file is its target; the link stays).
    pub fn host(&self, abs: &Path) -> io::Result<PathBuf> {
        match &self.fs {
            Some(r) => r.resolve(abs).map_err(io_error),
            None => Ok(self.root.join(abs.strip_prefix("/").unwrap_or(abs))),
        }
    }

    pub fn ensure_dir(&self) -> io::Result<()> {
        fsops::create_dir_mode(&self.dir, 0o700)
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, p: &Path) -> io::Result<Option<T>> {
        match fs::read(p) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", p.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fsops::annotate(e, p)),
        }
    }

    fn write_json<T: Serialize>(&self, p: &Path, v: &T, mode: u32) -> io::Result<()> {
        self.ensure_dir()?;
        let b = serde_json::to_vec_pretty(v).map_err(io::Error::other)?;
        let meta = FileMeta {
            mode,
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            selinux: None,
        };
        fsops::write_atomic(p, &b, &meta)
    }

    /// The pending journal, if a switch or revert was interrupted.
    pub fn pending(&self) -> io::Result<Option<Journal>> {
        self.read_json(&self.journal_path())
    }

    /// The record of the switch in force.
    pub fn applied(&self) -> io::Result<Option<Journal>> {
        self.read_json(&self.applied_path())
    }

    pub fn state(&self) -> io::Result<Option<SwitchState>> {
        self.read_json(&self.state_path())
    }

    pub fn write_state(&self, s: &SwitchState) -> io::Result<()> {
        self.write_json(&self.state_path(), s, 0o644)
    }

    /// Record a new journal durably (the point before any change).
    pub fn begin(&self, j: &Journal) -> io::Result<()> {
        // A stale step log of a finished journal must not carry `commit`
        // into this one.
        fsops::remove_durable(&self.steps_path())?;
        // The journal holds the new repo file, credentials included: 0600.
        self.write_json(&self.journal_path(), j, 0o600)?;
        self.step(&format!("begin {}", op_name(j.op)))
    }

    /// Append a line to the step log, durably.
    pub fn step(&self, line: &str) -> io::Result<()> {
        let p = self.steps_path();
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&p)
            .map_err(|e| fsops::annotate(e, &p))?;
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_all()?;
        fsops::sync_dir(&self.dir)
    }

    /// The step log lines.
    pub fn steps(&self) -> io::Result<Vec<String>> {
        match fs::read_to_string(self.steps_path()) {
            Ok(s) => Ok(s.lines().map(str::to_string).collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(e),
        }
    }

    /// True when the pending journal passed its commit point.
    pub fn committed(&self) -> io::Result<bool> {
        Ok(self.steps()?.iter().any(|l| l == "commit"))
    }

    /// Put one file into the state of `blob` (None: absent).
    pub fn put(&self, path: &Path, blob: Option<&Blob>) -> io::Result<()> {
        let p = self.host(path)?;
        match blob {
            Some(b) => {
                let bytes = b.bytes()?;
                // Already there, same bytes and metadata: nothing to do.
                if fs::read(&p).ok().as_deref() == Some(&bytes[..])
                    && FileMeta::read(&p)?.as_ref() == Some(&b.meta)
                {
                    return Ok(());
                }
                fsops::write_atomic(&p, &bytes, &b.meta)
            }
            // Already absent (never written): nothing to remove, even on a
            // read-only filesystem.
            None if fs::symlink_metadata(&p).is_err() => Ok(()),
            None => fsops::remove_durable(&p),
        }
    }

    /// Forget the pending journal (journal first: a step log without a
    /// journal is ignored).
    pub fn clear(&self) -> io::Result<()> {
        fsops::remove_durable(&self.journal_path())?;
        fsops::remove_durable(&self.steps_path())
    }

    /// Restore every file of `j` to its `before` state and forget `j`.
    pub fn roll_back(&self, j: &Journal) -> io::Result<()> {
        for f in j.files.iter().rev() {
            self.put(&f.path, f.before.as_ref())?;
        }
        self.clean_tmp(j);
        self.clear()
    }

    /// Put every file of `j` into its `after` state.
    pub fn roll_forward(&self, j: &Journal) -> io::Result<()> {
        for f in &j.files {
            self.put(&f.path, f.after.as_ref())?;
        }
        self.clean_tmp(j);
        Ok(())
    }

    /// Remove temporary files a killed write left next to the files.
    fn clean_tmp(&self, j: &Journal) {
        for f in &j.files {
            if let Ok(p) = self.host(&f.path) {
                let _ = fs::remove_file(fsops::tmp_path(&p));
            }
        }
    }

    /// Finish a committed journal: update the applied record and the
    /// state, then forget the journal. Idempotent.
    pub fn finalize(&self, j: &Journal, now: DateTime<Utc>) -> io::Result<()> {
        match j.op {
            Op::Switch => {
                let merged = merge(self.applied()?, j);
                self.write_json(&self.applied_path(), &merged, 0o600)?;
                self.write_state(&SwitchState {
                    status: SwitchStatus::Extended,
                    since: Some(now),
                    repos: merged.repos.clone(),
                    error: None,
                })?;
            }
            Op::Revert => {
                fsops::remove_durable(&self.applied_path())?;
                self.write_state(&SwitchState {
                    status: SwitchStatus::Community,
                    since: Some(now),
                    repos: vec![],
                    error: None,
                })?;
            }
        }
        self.clear()
    }
}

/// The record after switch `j` on top of the record `old`: the original
/// `before` of every file stays, the `after` is the newest.
pub fn merge(old: Option<Journal>, j: &Journal) -> Journal {
    let Some(mut old) = old else {
        return j.clone();
    };
    for f in &j.files {
        match old.files.iter_mut().find(|o| o.path == f.path) {
            Some(o) => o.after = f.after.clone(),
            None => old.files.push(f.clone()),
        }
    }
    old.repos = j.repos.clone();
    for r in &j.replaced {
        if !old.replaced.contains(r) {
            old.replaced.push(r.clone());
        }
    }
    old
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Switch => "switch",
        Op::Revert => "revert",
    }
}

/// The switch lock: held for the whole run of a switch or revert.
#[derive(Debug)]
pub struct Lock {
    _file: fs::File,
}

impl Lock {
    /// Take the lock without waiting; `Ok(None)` when another process holds it.
    pub fn try_acquire(store: &Store) -> io::Result<Option<Lock>> {
        store.ensure_dir()?;
        let p = store.dir().join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&p)
            .map_err(|e| fsops::annotate(e, &p))?;
        #[allow(deprecated)]
        match nix::fcntl::flock(
            std::os::fd::AsRawFd::as_raw_fd(&f),
            nix::fcntl::FlockArg::LockExclusiveNonblock,
        ) {
            Ok(()) => Ok(Some(Lock { _file: f })),
            Err(nix::errno::Errno::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(io::Error::from(e)),
        }
    }
}
