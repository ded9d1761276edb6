//! Apply a plan and revert it: journal first, atomic writes, dnf
//! verification, rollback on any failure.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use alma_ext_i18n::{msg, t, Localize, Message};
use alma_ext_proto::api::{SwitchState, SwitchStatus};
use chrono::Utc;
use serde::Serialize;

use crate::dnfquery::{DnfReader, DnfView};
use crate::fsops::{self, FileMeta};
use crate::journal::{Blob, FileRecord, Journal, Op, Store};
use crate::plan::{Action, InputFile, Plan, Release};
use crate::preflight::under_root;
use crate::system::{drop_caches, PackageTools};

/// What a failpoint does when reached (tests and the fault-injection
/// suite; set with `ALMA_EXT_FAILPOINT=<name>[=error|kill|pause]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailAction {
    /// Fail the step with an injected error (the applier rolls back).
    Error,
    /// SIGKILL this process, as a crash or power loss would.
    Kill,
    /// Print `failpoint <name> reached` on stderr and wait to be killed.
    Pause,
    /// Stop right there as a crash would, without rolling back, but return
    /// to the caller (in-process tests of recovery).
    Crash,
}

/// The armed failpoint, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoint(pub Option<(String, FailAction)>);

/// The message of an injected crash.
const CRASH: &str = "injected crash at ";

impl Failpoint {
    /// From `ALMA_EXT_FAILPOINT`, only in builds with the cargo feature
    /// `failpoints` (the tests' builds).
    #[cfg(feature = "failpoints")]
    pub fn from_env() -> Failpoint {
        let Ok(v) = std::env::var("ALMA_EXT_FAILPOINT") else {
            return Failpoint(None);
        };
        let (name, act) = match v.rsplit_once('=') {
            Some((n, "kill")) => (n, FailAction::Kill),
            Some((n, "pause")) => (n, FailAction::Pause),
            Some((n, "error")) => (n, FailAction::Error),
            Some((n, "crash")) => (n, FailAction::Crash),
            _ => (v.as_str(), FailAction::Error),
        };
        Failpoint(Some((name.to_string(), act)))
    }

    /// Release builds read no variable: nothing is armed.
    #[cfg(not(feature = "failpoints"))]
    pub fn from_env() -> Failpoint {
        Failpoint(None)
    }

    /// Reach the point `name`.
    pub fn hit(&self, name: &str) -> io::Result<()> {
        let Some((n, act)) = &self.0 else {
            return Ok(());
        };
        if n != name {
            return Ok(());
        }
        match act {
            FailAction::Error => Err(io::Error::other(format!("injected failure at {name}"))),
            FailAction::Crash => Err(io::Error::other(format!("{CRASH}{name}"))),
            FailAction::Kill => {
                // SAFETY: kill(2) on ourselves; nothing after it runs.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                loop {
                    std::thread::park();
                }
            }
            FailAction::Pause => {
                eprintln!("failpoint {name} reached");
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(3600));
                }
            }
        }
    }
}

/// The failpoint names of a switch with `n` file changes, in order.
pub fn switch_failpoints(n: usize) -> Vec<String> {
    let mut v = vec!["journal-written".to_string(), "keys-imported".to_string()];
    for i in 0..n {
        v.push(format!("before-write-{i}"));
        v.push(format!("after-write-{i}"));
    }
    v.extend(["verified", "committed", "finalized"].map(String::from));
    v
}

/// The failpoint names of a revert with `n` files, in order.
pub fn revert_failpoints(n: usize) -> Vec<String> {
    let mut v = vec!["revert-journal-written".to_string()];
    for i in 0..n {
        v.push(format!("revert-before-write-{i}"));
        v.push(format!("revert-after-write-{i}"));
    }
    v.extend(["revert-committed", "revert-finalized"].map(String::from));
    v
}

/// Why an apply or revert stopped: `Display` in English (logs, JSON, the
/// state file), the message in the user's language through [`Localize`].
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Nothing was changed (a file moved under us, a key did not import).
    NothingChanged(Message),
    /// The switch was written, did not verify, and was rolled back.
    RolledBack(Message),
    /// Revert refused: a file differs from what the switch wrote.
    Refused(Message),
    /// A failure that left the journal in place: the next run completes or
    /// rolls back.
    Interrupted(Message, PathBuf),
}

impl Localize for ApplyError {
    fn localized(&self) -> String {
        match self {
            ApplyError::NothingChanged(m) => {
                t!("{message}; nothing was changed", message = m.localized())
            }
            ApplyError::RolledBack(m) => t!(
                "{message}; the switch was rolled back, the configuration is exactly as before",
                message = m.localized()
            ),
            ApplyError::Refused(m) => m.localized(),
            ApplyError::Interrupted(m, dir) => t!(
                "{message}; the journal in {dir} is kept: run `alma-ext switch` or `alma-ext switch --revert` again to finish",
                message = m.localized(),
                dir = dir.display()
            ),
        }
    }
}

alma_ext_i18n::display_in_english!(ApplyError);

/// An I/O error as a message (the system's reason in the user's
/// language, paths as they are).
fn said(e: io::Error) -> Message {
    alma_ext_i18n::io_message(&e)
}

/// "switch" or "revert", for messages.
fn op_word(op: Op) -> Message {
    match op {
        Op::Switch => msg!("switch"),
        Op::Revert => msg!("revert"),
    }
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Switched,
    AlreadySwitched,
    Reverted,
    NotSwitched,
}

/// What recovery found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// The interrupted operation.
    pub op: Op,
    /// True: rolled back to before it; false: completed it.
    pub rolled_back: bool,
    pub started: chrono::DateTime<Utc>,
}

/// Read the host's release (inside the root, symlinks included).
pub fn read_release(root: &Path) -> io::Result<Option<Release>> {
    let fs = open_root(root)?;
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(t) = fs
            .read_string(p, hostroot::DEFAULT_LIMIT)
            .map_err(crate::journal::io_error)?
        {
            return Ok(Release::from_os_release(&t));
        }
    }
    Ok(None)
}

fn open_root(root: &Path) -> io::Result<hostroot::Root> {
    hostroot::Root::open(root).map_err(crate::journal::io_error)
}

/// Read every `*.repo` of the root's `/etc/yum.repos.d`, resolved inside
/// the root (a symlinked directory or file is read where it points inside
/// the root). Dangling links and entries that are not regular files are
/// skipped, as dnf skips them.
pub fn read_repo_files(root: &Path) -> io::Result<Vec<InputFile>> {
    let fs = open_root(root)?;
    let dir = Path::new("/etc/yum.repos.d");
    let mut v = Vec::new();
    let Some(entries) = fs.read_dir(dir).map_err(crate::journal::io_error)? else {
        return Ok(v);
    };
    for e in entries {
        if !e.name.ends_with(".repo") || e.name.starts_with('.') {
            continue;
        }
        let path = dir.join(&e.name);
        match fs.read(&path, hostroot::DEFAULT_LIMIT) {
            Ok(Some(bytes)) => v.push(InputFile { path, bytes }),
            Ok(None) | Err(hostroot::Error::NotRegular { .. }) => {}
            Err(e) => return Err(crate::journal::io_error(e)),
        }
    }
    v.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(v)
}

/// dnf as the judge of a switch: how to ask it, and what it read before.
pub struct Judge<'a> {
    pub reader: &'a dyn DnfReader,
    /// dnf's reading of the root before the switch.
    pub before: DnfView,
}

/// Applies and reverts switches under one root.
pub struct Applier<'a> {
    pub store: Store,
    pub tools: &'a dyn PackageTools,
    pub failpoint: Failpoint,
    /// When set, dnf's reading after the write must be the plan's, or the
    /// switch is rolled back.
    pub judge: Option<Judge<'a>>,
    /// Recovery overwrites files edited since the journal was written
    /// (their edited bytes are kept next to them, see [`EDITED_SUFFIX`]).
    pub force_recovery: bool,
}

/// The suffix of the copy of an edited file a forced recovery keeps
/// (dnf reads only `*.repo`).
pub const EDITED_SUFFIX: &str = ".alma-ext-edited";

impl<'a> Applier<'a> {
    pub fn new(root: &Path, tools: &'a dyn PackageTools, failpoint: Failpoint) -> Self {
        Applier {
            store: Store::new(root),
            tools,
            failpoint,
            judge: None,
            force_recovery: false,
        }
    }

    /// Let dnf judge the switch: `before` is its reading before any change.
    pub fn with_judge(mut self, reader: &'a dyn DnfReader, before: DnfView) -> Self {
        self.judge = Some(Judge { reader, before });
        self
    }

    fn root(&self) -> &Path {
        self.store.root()
    }

    fn interrupted(&self, e: io::Error) -> ApplyError {
        self.interrupted_with(said(e))
    }

    fn interrupted_with(&self, m: Message) -> ApplyError {
        ApplyError::Interrupted(m, self.store.dir().to_path_buf())
    }

    /// Finish or roll back an interrupted operation. `toward` is the
    /// operation the caller is about to run: an interrupted revert is
    /// completed when reverting again, rolled back otherwise; an
    /// interrupted switch that passed its commit point is completed, else
    /// rolled back.
    pub fn recover(&self, toward: Op) -> Result<Option<Recovery>, ApplyError> {
        let Some(j) = self.store.pending().map_err(|e| self.interrupted(e))? else {
            // A step log without a journal is the tail of a finished one.
            let _ = fsops::remove_durable(&self.store.steps_path());
            return Ok(None);
        };
        let committed = self.store.committed().map_err(|e| self.interrupted(e))?;
        let now = Utc::now();
        let forward = committed || (j.op == Op::Revert && toward == Op::Revert);
        self.check_untouched_since(&j)?;
        if forward {
            self.store
                .roll_forward(&j)
                .and_then(|_| self.store.finalize(&j, now))
                .map_err(|e| self.interrupted(e))?;
        } else {
            self.store.roll_back(&j).map_err(|e| self.interrupted(e))?;
            // The state that was in force before the interrupted run.
            let state = if self.store.applied().ok().flatten().is_some() {
                SwitchStatus::Extended
            } else {
                SwitchStatus::Community
            };
            let mut s = self.store.state().ok().flatten().unwrap_or_default();
            s.status = state;
            s.error = Some(
                said_in_state::recovered(
                    op_word(j.op),
                    j.created.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                )
                .to_string(),
            );
            if state == SwitchStatus::Community {
                s.repos.clear();
            }
            let _ = self.store.write_state(&s);
        }
        Ok(Some(Recovery {
            op: j.op,
            rolled_back: !forward,
            started: j.created,
        }))
    }

    /// A recovery puts files back to the journal's bytes: a file that is
    /// neither as before nor as after the interrupted run was edited since,
    /// and the edit would be lost. Refused, as a normal revert refuses,
    /// unless forced (the edited bytes are then kept next to the file).
    fn check_untouched_since(&self, j: &Journal) -> Result<(), ApplyError> {
        let mut edited = Vec::new();
        for f in &j.files {
            let cur = self
                .blob_of(&f.path)
                .map_err(|e| ApplyError::Refused(said(e)))?;
            let sha = cur.as_ref().map(|(_, b)| b.sha256.as_str());
            let before = f.before.as_ref().map(|b| b.sha256.as_str());
            let after = f.after.as_ref().map(|b| b.sha256.as_str());
            if sha != before && sha != after {
                edited.push((f.path.clone(), cur));
            }
        }
        if edited.is_empty() {
            return Ok(());
        }
        if !self.force_recovery {
            let names: Vec<String> = edited
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect();
            return Err(ApplyError::Refused(msg!(
                "an interrupted {operation} from {started} must be finished first, but {files} \
                 changed since it began; nothing was changed. Undo the edit, or run again with \
                 --force-recovery to finish the recovery (the edited bytes are kept as \
                 <file>{suffix})",
                operation = op_word(j.op),
                started = j.created.format("%Y-%m-%d %H:%M:%S UTC"),
                files = names.join(", "),
                suffix = EDITED_SUFFIX
            )));
        }
        for (path, cur) in edited {
            if let Some((bytes, blob)) = cur {
                let real = self.store.host(&path).map_err(|e| self.interrupted(e))?;
                let mut keep = real.into_os_string();
                keep.push(EDITED_SUFFIX);
                fsops::write_atomic(Path::new(&keep), &bytes, &blob.meta)
                    .map_err(|e| self.interrupted(e))?;
            }
        }
        Ok(())
    }

    fn blob_of(&self, path: &Path) -> io::Result<Option<(Vec<u8>, Blob)>> {
        let p = self.store.host(path)?;
        let Some(meta) = FileMeta::read(&p)? else {
            return Ok(None);
        };
        let bytes = fs::read(&p).map_err(|e| fsops::annotate(e, &p))?;
        Ok(Some((bytes.clone(), Blob::new(&bytes, meta))))
    }

    /// Metadata of a file the switch creates: root-owned like its
    /// directory, labelled like its siblings.
    fn new_meta(&self, path: &Path, mode: u32) -> FileMeta {
        let dir = self.store.host(path.parent().unwrap_or(Path::new("/")));
        let label = dir.ok().and_then(|d| fs::read_dir(d).ok()).and_then(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".repo"))
                .find_map(|e| fsops::read_label(&e.path()))
        });
        FileMeta {
            mode,
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            selinux: label,
        }
    }

    fn record_failure(&self, msg: &Message) {
        let mut s = self.store.state().ok().flatten().unwrap_or_default();
        s.status = if self.store.applied().ok().flatten().is_some() {
            SwitchStatus::Extended
        } else {
            SwitchStatus::Failed
        };
        s.error = Some(msg.to_string());
        s.since = Some(Utc::now());
        let _ = self.store.write_state(&s);
    }

    /// Apply `plan` (the caller ran preflight and holds the lock).
    pub fn apply(&self, plan: &Plan) -> Result<Outcome, ApplyError> {
        if plan.already_switched {
            // Make sure the state says so (a lost state file, an old agent).
            if let Ok(Some(a)) = self.store.applied() {
                let s = self.store.state().ok().flatten().unwrap_or_default();
                if s.status != SwitchStatus::Extended {
                    let _ = self.store.write_state(&SwitchState {
                        status: SwitchStatus::Extended,
                        since: Some(Utc::now()),
                        repos: a.repos,
                        error: None,
                    });
                }
            }
            return Ok(Outcome::AlreadySwitched);
        }
        let mut files = Vec::new();
        for c in &plan.changes {
            let cur = self
                .blob_of(&c.path)
                .map_err(|e| ApplyError::NothingChanged(said(e)))?;
            let cur_bytes = cur.as_ref().map(|(b, _)| b.clone());
            if cur_bytes != c.before {
                return Err(ApplyError::NothingChanged(msg!(
                    "{path} changed while the switch was being planned",
                    path = c.path.display()
                )));
            }
            let meta = match &cur {
                Some((_, b)) => {
                    let mut m = b.meta.clone();
                    // A credential file is never left readable by others.
                    if c.secret {
                        m.mode &= !0o077;
                    }
                    m
                }
                None => self.new_meta(&c.path, c.new_mode),
            };
            files.push(FileRecord {
                path: c.path.clone(),
                before: cur.map(|(_, b)| b),
                after: Some(Blob::new(&c.after, meta)),
            });
        }
        let replaced: Vec<String> = plan
            .repos
            .iter()
            .filter(|d| {
                matches!(
                    d.action,
                    Action::Replace { .. } | Action::Vault { .. } | Action::Disable
                )
            })
            .map(|d| d.id.clone())
            .collect();
        let j = Journal {
            op: Op::Switch,
            created: Utc::now(),
            files,
            repos: plan.new_repos.iter().map(|r| r.id.clone()).collect(),
            replaced,
        };
        let space_needed: u64 = j
            .files
            .iter()
            .map(|f| (f.before.as_ref().map_or(0, |b| b.data.len()) * 4) as u64)
            .sum::<u64>()
            + (1 << 20);
        if let Some(free) = crate::preflight::free_bytes(self.store.dir()) {
            if free < space_needed {
                return Err(ApplyError::NothingChanged(msg!(
                    "{dir} has {free} bytes free, the backups need {needed}",
                    dir = self.store.dir().display(),
                    free = free,
                    needed = space_needed
                )));
            }
        }
        self.probe_writes(&j)?;
        self.begin(&j)?;

        let res = self.apply_steps(plan, &j);
        if let Err(StepError::Before(m) | StepError::After(m) | StepError::Committed(m)) = &res {
            if m.to_string().contains(CRASH) {
                return Err(self.interrupted_with(m.clone()));
            }
        }
        match res {
            Ok(()) => {}
            Err(StepError::Before(msg)) | Err(StepError::After(msg)) => {
                // Roll back to the exact old bytes.
                if let Err(e) = self.store.roll_back(&j) {
                    return Err(self.interrupted_with(rolling_back_failed(msg, e)));
                }
                self.record_failure(&msg);
                return Err(ApplyError::RolledBack(msg));
            }
            Err(StepError::Untouched(msg)) => {
                if let Err(e) = self.store.roll_back(&j) {
                    return Err(self.interrupted_with(msg!(
                        "{message}; clearing the journal failed: {error}",
                        message = msg,
                        error = e
                    )));
                }
                return Err(ApplyError::NothingChanged(msg));
            }
            Err(StepError::Committed(msg)) => return Err(self.interrupted_with(msg)),
        }
        // The old repositories' caches: they would only confuse dnf.
        drop_caches(self.root(), &j.replaced);
        Ok(Outcome::Switched)
    }

    fn apply_steps(&self, plan: &Plan, j: &Journal) -> Result<(), StepError> {
        let before = |e: io::Error| StepError::Before(said(e));
        self.failpoint.hit("journal-written").map_err(before)?;
        for k in &plan.gpgkeys {
            let key: PathBuf = if k.starts_with("file://") || k.starts_with('/') {
                under_root(self.root(), k)
            } else {
                PathBuf::from(k)
            };
            self.tools.import_key(self.root(), &key).map_err(|e| {
                StepError::Untouched(msg!(
                    "importing the key {key} failed: {error}",
                    key = k,
                    error = e.message()
                ))
            })?;
        }
        self.store.step("keys-imported").map_err(before)?;
        self.failpoint.hit("keys-imported").map_err(before)?;
        for (i, f) in j.files.iter().enumerate() {
            self.failpoint
                .hit(&format!("before-write-{i}"))
                .map_err(before)?;
            self.store.put(&f.path, f.after.as_ref()).map_err(before)?;
            self.store
                .step(&format!("wrote {}", f.path.display()))
                .map_err(before)?;
            self.failpoint
                .hit(&format!("after-write-{i}"))
                .map_err(before)?;
        }
        if let Some(judge) = &self.judge {
            self.judge_written(plan, judge)?;
        }
        let verify = crate::plan::repos_to_verify(plan);
        let major = plan.release.major.to_string();
        let releasever = match &self.judge {
            // dnf's own $releasever: nothing forced.
            Some(j) if j.before.releasever_is_dnfs() => None,
            Some(j) => j.before.releasever.as_deref(),
            None => Some(major.as_str()),
        };
        if !verify.is_empty() {
            self.tools
                .makecache(self.root(), releasever, &verify, &plan.tls_files)
                .map_err(|e| StepError::After(said_in_state::makecache_failed(e.message())))?;
        }
        self.store.step("verified").map_err(before)?;
        self.failpoint.hit("verified").map_err(before)?;
        self.store.step("commit").map_err(before)?;
        let committed = |e: io::Error| StepError::Committed(said(e));
        self.failpoint.hit("committed").map_err(committed)?;
        self.store.finalize(j, Utc::now()).map_err(committed)?;
        self.failpoint.hit("finalized").map_err(committed)?;
        Ok(())
    }

    /// Every file of `j` can be written (not a read-only or full
    /// filesystem): found before the journal, nothing is left pending.
    fn probe_writes(&self, j: &Journal) -> Result<(), ApplyError> {
        for f in &j.files {
            let Some(after) = &f.after else { continue };
            let p = self
                .store
                .host(&f.path)
                .map_err(|e| ApplyError::NothingChanged(said(e)))?;
            let bytes = after
                .bytes()
                .map_err(|e| ApplyError::NothingChanged(said(e)))?;
            fsops::probe_write(&p, &bytes).map_err(|e| {
                ApplyError::NothingChanged(msg!(
                    "cannot write {path}: {error}",
                    path = f.path.display(),
                    error = e
                ))
            })?;
        }
        Ok(())
    }

    /// Record the journal; when that fails, nothing is left pending.
    fn begin(&self, j: &Journal) -> Result<(), ApplyError> {
        self.store.begin(j).map_err(|e| {
            let _ = self.store.clear();
            ApplyError::NothingChanged(msg!("cannot write the journal: {error}", error = e))
        })
    }

    /// Ask dnf again: the enabled repos must be the plan's, and every
    /// vault repoint must read the planned URL.
    fn judge_written(&self, plan: &Plan, judge: &Judge<'_>) -> Result<(), StepError> {
        let after = judge
            .reader
            .read(self.root(), &[])
            .map_err(|e| StepError::After(said_in_state::unread_after_write(e.message())))?;
        let want = crate::plan::intended_enabled(plan, &judge.before);
        let got = after.enabled_ids();
        let mut diffs = Vec::new();
        let missing: Vec<&str> = want.difference(&got).map(String::as_str).collect();
        let extra: Vec<&str> = got.difference(&want).map(String::as_str).collect();
        if !missing.is_empty() {
            diffs.push(said_in_state::not_enabled(missing.join(", ")));
        }
        if !extra.is_empty() {
            diffs.push(said_in_state::still_enabled(extra.join(", ")));
        }
        for d in &plan.repos {
            if let Action::Vault { url } = &d.action {
                let want = crate::preflight::substitute(url, &after.vars);
                match after.repo(&d.id) {
                    Some(r)
                        if r.baseurl == [want.clone()]
                            && r.mirrorlist.is_empty()
                            && r.metalink.is_empty() => {}
                    Some(r) => diffs.push(said_in_state::reads_other(
                        &d.id,
                        [
                            format!("{:?}", r.baseurl),
                            format!("{:?}", r.mirrorlist),
                            format!("{:?}", r.metalink),
                        ],
                        want,
                    )),
                    None => diffs.push(said_in_state::not_loaded(&d.id)),
                }
            }
        }
        if diffs.is_empty() {
            return Ok(());
        }
        Err(StepError::After(said_in_state::not_as_planned(diffs)))
    }

    /// The files `--revert` would restore: (host path, current bytes,
    /// bytes after revert), from the applied record.
    pub fn revert_plan(&self) -> Result<Option<Journal>, ApplyError> {
        let Some(rec) = self
            .store
            .applied()
            .map_err(|e| ApplyError::NothingChanged(said(e)))?
        else {
            return Ok(None);
        };
        let mut files = Vec::new();
        let mut changed = Vec::new();
        for f in &rec.files {
            let cur = self
                .blob_of(&f.path)
                .map_err(|e| ApplyError::NothingChanged(said(e)))?;
            let cur_sha = cur.as_ref().map(|(_, b)| b.sha256.clone());
            let after_sha = f.after.as_ref().map(|b| b.sha256.clone());
            // A file the switch created is ours to remove even if edited;
            // a community file edited since must not lose the edit.
            if cur_sha != after_sha && f.before.is_some() {
                changed.push(f.path.display().to_string());
                continue;
            }
            files.push(FileRecord {
                path: f.path.clone(),
                before: cur.map(|(_, b)| b),
                after: f.before.clone(),
            });
        }
        if !changed.is_empty() {
            return Err(ApplyError::Refused(msg!(
                "changed since the switch: {files}; nothing was reverted. The original bytes are in {path}; restore by hand or undo the edits",
                files = changed.join(", "),
                path = self.store.applied_path().display()
            )));
        }
        Ok(Some(Journal {
            op: Op::Revert,
            created: Utc::now(),
            files,
            repos: rec.repos.clone(),
            replaced: vec![],
        }))
    }

    /// Revert the switch in force (the caller holds the lock).
    pub fn revert(&self) -> Result<Outcome, ApplyError> {
        let Some(j) = self.revert_plan()? else {
            return Ok(Outcome::NotSwitched);
        };
        self.probe_writes(&j)?;
        self.begin(&j)?;
        let res = (|| -> Result<(), StepError> {
            let before = |e: io::Error| StepError::Before(said(e));
            self.failpoint
                .hit("revert-journal-written")
                .map_err(before)?;
            for (i, f) in j.files.iter().enumerate() {
                self.failpoint
                    .hit(&format!("revert-before-write-{i}"))
                    .map_err(before)?;
                self.store.put(&f.path, f.after.as_ref()).map_err(before)?;
                self.store
                    .step(&format!("restored {}", f.path.display()))
                    .map_err(before)?;
                self.failpoint
                    .hit(&format!("revert-after-write-{i}"))
                    .map_err(before)?;
            }
            self.store.step("commit").map_err(before)?;
            let committed = |e: io::Error| StepError::Committed(said(e));
            self.failpoint.hit("revert-committed").map_err(committed)?;
            self.store.finalize(&j, Utc::now()).map_err(committed)?;
            self.failpoint.hit("revert-finalized").map_err(committed)?;
            Ok(())
        })();
        if let Err(StepError::Before(m) | StepError::Committed(m)) = &res {
            if m.to_string().contains(CRASH) {
                return Err(self.interrupted_with(m.clone()));
            }
        }
        match res {
            Ok(()) => {
                drop_caches(self.root(), &j.repos);
                Ok(Outcome::Reverted)
            }
            Err(StepError::Before(msg))
            | Err(StepError::After(msg))
            | Err(StepError::Untouched(msg)) => {
                if let Err(e) = self.store.roll_back(&j) {
                    return Err(self.interrupted_with(rolling_back_failed(msg, e)));
                }
                Err(ApplyError::RolledBack(msg!(
                    "revert failed: {message}",
                    message = msg
                )))
            }
            Err(StepError::Committed(msg)) => Err(self.interrupted_with(msg)),
        }
    }
}

enum StepError {
    /// Failed before any file was written: nothing changed.
    Untouched(Message),
    /// Failed before verification: roll back.
    Before(Message),
    /// dnf did not verify: roll back.
    After(Message),
    /// Failed after the commit point: the journal completes next run.
    Committed(Message),
}

fn rolling_back_failed(msg: Message, e: impl std::fmt::Display) -> Message {
    msg!(
        "{message}; rolling back failed: {error}",
        message = msg,
        error = e
    )
}

/// The messages a failed switch leaves in the state file (`state.json`'s
/// `error`, English): made here, and listed for [`recorded_error_templates`]
/// so that `alma-ext status` can show a recorded error in the user's
/// language.
mod said_in_state {
    use alma_ext_i18n::{msg, Message};

    pub fn recovered(operation: Message, started: String) -> Message {
        msg!(
            "an interrupted {operation} from {started} was rolled back",
            operation = operation,
            started = started
        )
    }

    pub fn makecache_failed(error: Message) -> Message {
        msg!(
            "dnf could not use the new repositories: {error}",
            error = error
        )
    }

    pub fn unread_after_write(error: Message) -> Message {
        msg!(
            "cannot ask dnf what it reads after the write: {error}",
            error = error
        )
    }

    pub fn not_as_planned(differences: Vec<Message>) -> Message {
        msg!(
            "dnf does not read the switch as planned ({differences})",
            differences = differences
        )
    }

    pub fn not_enabled(repos: String) -> Message {
        msg!("not enabled: {repos}", repos = repos)
    }

    pub fn still_enabled(repos: String) -> Message {
        msg!("still or newly enabled: {repos}", repos = repos)
    }

    /// `reads`: dnf's baseurl, mirrorlist and metalink, as it reads them.
    pub fn reads_other(repo: &str, reads: [String; 3], planned: String) -> Message {
        let [baseurl, mirrorlist, metalink] = reads;
        msg!(
            "{repo} reads baseurl {baseurl} mirrorlist {mirrorlist} metalink {metalink}, planned {planned}",
            repo = repo,
            baseurl = baseurl,
            mirrorlist = mirrorlist,
            metalink = metalink,
            planned = planned
        )
    }

    pub fn not_loaded(repo: &str) -> Message {
        msg!("{repo} is not loaded", repo = repo)
    }
}

/// The templates of the errors a switch records in its state file, the
/// more specific first (with the dnf and rpm errors they quote): for
/// [`alma_ext_i18n::render_back`].
pub fn recorded_error_templates() -> Vec<Message> {
    use crate::dnfquery::DnfQueryError;
    use crate::system::ToolError;
    let any = || Message::new("", Vec::new());
    let text = String::new;
    let interpreter = PathBuf::new;
    vec![
        said_in_state::recovered(any(), text()),
        said_in_state::makecache_failed(any()),
        said_in_state::unread_after_write(any()),
        said_in_state::not_as_planned(Vec::new()),
        said_in_state::not_enabled(text()),
        said_in_state::still_enabled(text()),
        said_in_state::reads_other("", [text(), text(), text()], text()),
        said_in_state::not_loaded(""),
        op_word(Op::Switch),
        op_word(Op::Revert),
        ToolError::Spawn {
            command: text(),
            source: io::Error::other(""),
        }
        .message(),
        ToolError::Failed {
            command: text(),
            status: text(),
            stderr: text(),
        }
        .message(),
        DnfQueryError::NoPython {
            interpreter: interpreter(),
            source: io::Error::other(""),
        }
        .message(),
        DnfQueryError::NoDnf {
            interpreter: interpreter(),
            message: text(),
        }
        .message(),
        DnfQueryError::Failed {
            interpreter: interpreter(),
            status: text(),
            stderr: text(),
        }
        .message(),
        DnfQueryError::BadOutput {
            interpreter: interpreter(),
            message: text(),
        }
        .message(),
    ]
}
