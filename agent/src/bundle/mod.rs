//! The support bundle: one `.tar.gz` for the vendor's support desk, with
//! every secret removed (see docs/support-bundle.md).
//!
//! Everything is read from the root through [`hostroot`], in memory and
//! bounded, then redacted by [`redact::Redactor`] (which first learns every
//! secret from every file, so a repository password is masked in a dnf log
//! too), cut to the size limit, and written to a file created 0600.

pub mod redact;

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hostroot::Root;
use serde::Serialize;
use serde_json::Value;

use redact::{IdKind, Redactor};

/// The cap of one dnf log's tail.
pub const LOG_TAIL: u64 = 5 << 20;
/// The default size limit of the bundle's contents.
pub const DEFAULT_MAX_BYTES: u64 = 50 << 20;
/// What the manifest may take of the size limit.
const MANIFEST_RESERVE: u64 = 256 << 10;
/// How many dnf transactions the bundle shows.
pub const DNF_TRANSACTIONS: u32 = 20;
/// How long one external program (rpm, df, journalctl, ...) may run.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(120);

const CREDENTIAL_FILE: &str = "/var/lib/alma-ext/credential";
const TARGET_FILE: &str = "/var/lib/alma-ext/target.json";
const REGISTRATION_FILE: &str = "/var/lib/alma-ext/registration.json";
const CONFIG_DIR: &str = "/etc/alma-ext";
const DNF_LOGS: [&str; 4] = [
    "/var/log/dnf.log",
    "/var/log/dnf.librepo.log",
    "/var/log/dnf.rpm.log",
    "/var/log/hawkey.log",
];

/// What `alma-ext support-bundle` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the bundle goes; `None`: `/var/tmp/alma-ext-support-<host>-<time>.tar.gz` in the root.
    pub output: Option<PathBuf>,
    pub obfuscate: bool,
    /// Days of the alma-ext units' journal.
    pub since_days: u32,
    /// The size limit of the contents, in bytes.
    pub max_bytes: u64,
    /// The command line, for the manifest.
    pub command_line: Vec<String>,
    pub now: DateTime<Utc>,
}

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    /// In the bundle, whole.
    Collected,
    /// In the bundle, cut (a log's tail, or the size limit).
    Truncated,
    /// Not on this machine.
    Missing,
    /// Left out on purpose (a secret, not available here, the size limit).
    Skipped,
    /// Could not be read or run.
    Error,
}

/// One line of the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// The path in the bundle, or the item's name when it has none.
    pub item: String,
    /// Where it came from: a host path or a command.
    pub source: String,
    pub status: ItemStatus,
    /// Why, for every status but `collected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its size in the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// `manifest.json`.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub alma_ext_version: String,
    pub created: DateTime<Utc>,
    pub command_line: Vec<String>,
    pub root: String,
    pub obfuscated: bool,
    pub since_days: u32,
    pub max_size_bytes: u64,
    /// How many values were replaced by `********`.
    pub redactions: u64,
    /// Spooled check-ins (never included).
    pub spooled_checkins: Option<usize>,
    pub items: Vec<Item>,
}

/// What was written.
#[derive(Debug, Serialize)]
pub struct Outcome {
    /// The bundle, on this machine.
    pub path: PathBuf,
    /// The files in the bundle.
    pub files: Vec<String>,
    /// How many values were replaced by `********`.
    pub redacted: u64,
    /// The items that could not be read or run, each with why.
    pub errors: Vec<String>,
    /// With `--obfuscate`: the placeholder mapping, kept on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<PathBuf>,
}

/// A failure that stops the bundle (a missing item never does).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot find where to write the bundle in the root: {0}")]
    Resolve(#[source] hostroot::Error),
}

enum Body {
    Text(String),
    Json(Value),
}

/// An item read, not yet redacted.
struct Pending {
    path: String,
    source: String,
    body: Body,
    /// Cut from the front when over the size limit (logs), else left out.
    tail: bool,
    /// Why it is already cut (a log's tail).
    cut: Option<String>,
}

/// Reads everything in priority order, keeping the manifest.
struct Collector<'a> {
    root: &'a Root,
    pending: Vec<Pending>,
    items: Vec<Item>,
    excluded: BTreeSet<PathBuf>,
    redactor: Redactor,
}

fn lossy(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Collector<'_> {
    fn note(&mut self, item: &str, source: &str, status: ItemStatus, reason: impl Into<String>) {
        self.items.push(Item {
            item: item.to_string(),
            source: source.to_string(),
            status,
            reason: Some(reason.into()),
            bytes: None,
        });
    }

    fn push(&mut self, path: &str, source: &str, body: Body, tail: bool, cut: Option<String>) {
        self.pending.push(Pending {
            path: path.to_string(),
            source: source.to_string(),
            body,
            tail,
            cut,
        });
    }

    /// Why the host file `abs` must never be in the bundle, if it must not.
    fn forbidden(&self, abs: &Path) -> Option<&'static str> {
        let name = abs.file_name()?.to_string_lossy();
        if abs == Path::new(CREDENTIAL_FILE) {
            return Some("the machine credential is never included");
        }
        if abs == Path::new(TARGET_FILE) {
            return Some("holds this machine's repository credentials; never included");
        }
        if name.ends_with(".key") || self.excluded.contains(abs) {
            return Some("a private key is never included");
        }
        None
    }

    /// What one of the agent's own commands answered, as JSON.
    fn agent_json<T: Serialize>(&mut self, path: &str, source: &str, answer: Result<T, String>) {
        match answer.and_then(|a| serde_json::to_value(a).map_err(|e| e.to_string())) {
            Ok(v) => self.push(path, source, Body::Json(v), false, None),
            Err(e) => self.note(path, source, ItemStatus::Error, e),
        }
    }

    /// Note why the host file `abs` could not be read: a FIFO or a device is
    /// skipped, anything else is an error.
    fn unreadable(&mut self, path: &str, abs: &str, e: hostroot::Error) {
        match e {
            hostroot::Error::NotRegular { kind, .. } => self.note(
                path,
                abs,
                ItemStatus::Skipped,
                format!("not a regular file but a {kind}"),
            ),
            e => self.note(path, abs, ItemStatus::Error, e.to_string()),
        }
    }

    /// Read the host file `abs` into the bundle at the same path.
    fn file(&mut self, abs: &str) {
        let path = abs.trim_start_matches('/').to_string();
        if let Some(why) = self.forbidden(Path::new(abs)) {
            self.note(&path, abs, ItemStatus::Skipped, why);
            return;
        }
        match self.root.read(abs, hostroot::DEFAULT_LIMIT) {
            Ok(None) => self.note(&path, abs, ItemStatus::Missing, "not on this machine"),
            Ok(Some(bytes)) => {
                let text = lossy(bytes);
                if redact::contains_private_key(&text) {
                    self.note(
                        &path,
                        abs,
                        ItemStatus::Skipped,
                        "holds a private key; never included",
                    );
                    return;
                }
                let body = if path.ends_with(".json") {
                    match serde_json::from_str(&text) {
                        Ok(v) => Body::Json(v),
                        Err(_) => Body::Text(text),
                    }
                } else {
                    Body::Text(text)
                };
                self.push(&path, abs, body, false, None);
            }
            Err(e) => self.unreadable(&path, abs, e),
        }
    }

    /// The files of the host directory `dir` (and its subdirectories down
    /// to `depth`) that `keep` accepts.
    fn dir(&mut self, dir: &str, depth: u32, keep: &dyn Fn(&str) -> bool) {
        let path = dir.trim_start_matches('/').to_string();
        let entries = match self.root.read_dir(dir) {
            Ok(Some(e)) => e,
            Ok(None) => {
                self.note(&path, dir, ItemStatus::Missing, "not on this machine");
                return;
            }
            Err(e) => {
                self.note(&path, dir, ItemStatus::Error, e.to_string());
                return;
            }
        };
        for e in entries {
            let abs = format!("{}/{}", dir.trim_end_matches('/'), e.name);
            let is_dir = match e.kind {
                hostroot::Kind::Dir => true,
                hostroot::Kind::Symlink => {
                    matches!(self.root.metadata(&abs), Ok(Some(m)) if m.is_dir())
                }
                _ => false,
            };
            if is_dir {
                if depth > 0 {
                    self.dir(&abs, depth - 1, keep);
                }
            } else if keep(&e.name) {
                self.file(&abs);
            }
        }
    }

    /// The last [`LOG_TAIL`] bytes of a log, from a line start.
    fn log(&mut self, abs: &str) {
        let path = abs.trim_start_matches('/').to_string();
        match self.root.read_tail(abs, LOG_TAIL) {
            Ok(None) => self.note(&path, abs, ItemStatus::Missing, "not on this machine"),
            Ok(Some(t)) => {
                let mut bytes = t.bytes;
                let mut cut = None;
                if t.len > bytes.len() as u64 {
                    if let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
                        bytes.drain(..=nl);
                    }
                    cut = Some(format!(
                        "the last {} bytes of {} (logs are cut to their last {} MiB)",
                        bytes.len(),
                        t.len,
                        LOG_TAIL >> 20
                    ));
                }
                self.push(&path, abs, Body::Text(lossy(bytes)), true, cut);
            }
            Err(e) => self.unreadable(&path, abs, e),
        }
    }

    /// The output of a program as an item; `Err` notes why it is missing.
    fn program(&mut self, path: &str, program: &str, args: &[String], tail: bool) {
        let shown = std::iter::once(program.to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let Some(exe) = find_program(program) else {
            self.note(
                path,
                &shown,
                ItemStatus::Missing,
                format!("{program} is not installed"),
            );
            return;
        };
        match run_program(&exe, args) {
            Ok(out) if out.status_ok => {
                self.push(path, &shown, Body::Text(lossy(out.stdout)), tail, None)
            }
            Ok(out) => {
                let err = lossy(out.stderr);
                let err = err
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                // journalctl's way of saying there is nothing to show.
                let (status, reason) =
                    if err.contains("No journal files") || err.contains("No data available") {
                        (ItemStatus::Missing, format!("no journal entries: {err}"))
                    } else {
                        (
                            ItemStatus::Error,
                            format!("{shown} failed ({}): {err}", out.status),
                        )
                    };
                self.note(path, &shown, status, reason)
            }
            Err(e) => self.note(path, &shown, ItemStatus::Error, e),
        }
    }
}

/// The first `name` on `$PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

struct ProgramOutput {
    status_ok: bool,
    status: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Run a program with no input, reading its output as it comes (a full
/// pipe must not stall it), killed after [`PROGRAM_TIMEOUT`] (a hung NFS
/// mount must not stall the bundle).
fn run_program(exe: &Path, args: &[String]) -> Result<ProgramOutput, String> {
    let mut child = Command::new(exe)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = (&mut err).take(64 << 10).read_to_end(&mut b);
        b
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > PROGRAM_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} did not finish within {} s and was stopped",
                    exe.display(),
                    PROGRAM_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {}: {e}", exe.display())),
        }
    };
    Ok(ProgramOutput {
        status_ok: status.success(),
        status: status.to_string(),
        stdout: reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    })
}

/// The `sslclientkey=` paths of repo files and dnf.conf.
fn client_keys(text: &str) -> impl Iterator<Item = PathBuf> + '_ {
    text.lines().filter_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("sslclientkey") && v.trim().starts_with('/'))
            .then(|| PathBuf::from(v.trim()))
    })
}

/// The root's host name: /etc/hostname, else the kernel's.
fn hostname(root: &Root) -> Option<String> {
    let from_file = root
        .read_string("/etc/hostname", 64 << 10)
        .ok()
        .flatten()
        .and_then(|t| {
            t.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
                .find(|l| !l.is_empty())
        });
    from_file.or_else(|| root.read_trimmed("/proc/sys/kernel/hostname"))
}

/// The running kernel's node name.
fn node_name() -> Option<String> {
    nix::sys::utsname::uname()
        .ok()
        .map(|u| u.nodename().to_string_lossy().into_owned())
}

/// The host's name for the bundle's file name: letters, digits, `.`, `-`.
fn file_name_host(host: &str) -> String {
    let h: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    if h.is_empty() {
        "unknown".into()
    } else {
        h
    }
}

/// Reads dnf's history database read-only (`immutable`: no journal or lock
/// files are created in the root) and prints the newest transactions.
const DNF_HISTORY_PY: &str = r#"
import sqlite3, sys, urllib.parse, datetime
path, limit = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect("file:" + urllib.parse.quote(path) + "?mode=ro&immutable=1", uri=True)
cur = con.cursor()
ACTIONS = {1: "Install", 2: "Downgrade", 3: "Downgraded", 4: "Obsolete", 5: "Obsoleted",
           6: "Upgrade", 7: "Upgraded", 8: "Removed", 9: "Reinstall", 10: "Reinstalled",
           11: "Reason Change"}
STATES = {0: "unknown", 1: "done", 2: "error"}
def when(t):
    if not t:
        return "-"
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
rows = cur.execute("SELECT id, dt_begin, dt_end, user_id, cmdline, state, releasever FROM trans "
                   "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
print("The last %d dnf transactions, newest first (%s)" % (len(rows), sys.argv[3]))
for (tid, begin, end, user, cmdline, state, releasever) in rows:
    print()
    print("Transaction %s" % tid)
    print("  Begin:        %s" % when(begin))
    print("  End:          %s" % when(end))
    print("  User:         %s" % user)
    print("  State:        %s" % STATES.get(state, state))
    print("  Releasever:   %s" % releasever)
    print("  Command line: %s" % (cmdline or ""))
    try:
        items = cur.execute(
            "SELECT ti.action, ti.state, r.name, r.epoch, r.version, r.release, r.arch, repo.repoid "
            "FROM trans_item ti JOIN rpm r ON r.item_id = ti.item_id "
            "LEFT JOIN repo ON repo.id = ti.repo_id WHERE ti.trans_id = ? ORDER BY r.name",
            (tid,)).fetchall()
    except sqlite3.Error as e:
        print("  (packages not readable: %s)" % e)
        continue
    for (action, istate, name, epoch, version, release, arch, repoid) in items:
        evr = ("%s:" % epoch if epoch else "") + "%s-%s" % (version, release)
        print("  %-13s %s-%s.%s @%s%s" % (ACTIONS.get(action, action), name, evr, arch,
              repoid or "?", "" if istate == 1 else " (%s)" % STATES.get(istate, istate)))
"#;

impl Collector<'_> {
    /// Learn the secrets known up front: the machine credential, the
    /// target's repository credentials, an activation key in the
    /// environment. Their files are never collected.
    fn known_secrets(&mut self) {
        // repository credentials, an activation key in the environment.
        match self.root.read_string(CREDENTIAL_FILE, 64 << 10) {
            Ok(Some(cred)) => {
                self.redactor.add_secret(cred.trim());
                self.note(
                    "var/lib/alma-ext/credential",
                    CREDENTIAL_FILE,
                    ItemStatus::Skipped,
                    "the machine credential is never included",
                );
            }
            Ok(None) => {}
            Err(e) => self.note(
                "var/lib/alma-ext/credential",
                CREDENTIAL_FILE,
                ItemStatus::Skipped,
                format!("the machine credential is never included ({e})"),
            ),
        }
        if let Ok(Some(t)) = self.root.read_string(TARGET_FILE, hostroot::DEFAULT_LIMIT) {
            match serde_json::from_str::<Value>(&t) {
                Ok(v) => {
                    self.redactor.learn_json(&v);
                    if let Some(k) = v.pointer("/auth/sslclientkey").and_then(Value::as_str) {
                        self.excluded.insert(PathBuf::from(k));
                    }
                }
                Err(_) => self.redactor.learn(&t),
            }
            self.note(
                "var/lib/alma-ext/target.json",
                TARGET_FILE,
                ItemStatus::Skipped,
                "holds this machine's repository credentials; never included",
            );
        }
        if let Ok(k) = std::env::var("ALMA_EXT_ACTIVATION_KEY") {
            self.redactor.add_secret(&k);
        }
    }

    /// Hand every identifier of the root to the redactor (`--obfuscate`):
    /// host names, machine id, DMI UUIDs and serials.
    fn identifiers(&mut self) {
        // uname.txt shows the running kernel's node name, under any root.
        let mut hostnames: Vec<String> =
            hostname(self.root).into_iter().chain(node_name()).collect();
        if let Ok(Some(hosts)) = self.root.read_string("/etc/hosts", hostroot::DEFAULT_LIMIT) {
            for line in hosts.lines() {
                let line = line.split('#').next().unwrap_or("");
                hostnames.extend(line.split_whitespace().skip(1).map(str::to_string));
            }
        }
        for h in &hostnames {
            self.redactor.add_identifier(IdKind::Host, h);
            if let Some((short, _)) = h.split_once('.') {
                self.redactor.add_identifier(IdKind::Host, short);
            }
        }
        if let Some(id) = self.root.read_trimmed("/etc/machine-id") {
            self.redactor.add_identifier(IdKind::MachineId, &id);
        }
        for (f, kind) in [
            ("product_uuid", IdKind::Uuid),
            ("product_serial", IdKind::Serial),
            ("board_serial", IdKind::Serial),
            ("chassis_serial", IdKind::Serial),
            ("chassis_asset_tag", IdKind::Serial),
        ] {
            if let Some(v) = self.root.read_trimmed(format!("/sys/class/dmi/id/{f}")) {
                self.redactor.add_identifier(kind, &v);
            }
        }
        if let Some(v) = self.root.read_trimmed("/sys/hypervisor/uuid") {
            self.redactor.add_identifier(IdKind::Uuid, &v);
        }
    }

    /// The agent's own answers and the files, in the order the size limit
    /// takes them; the number of spooled check-ins.
    fn collect(&mut self, host_root: &crate::root::HostRoot, opts: &Options) -> Option<usize> {
        // What the agent itself says, in-process.
        self.agent_json(
            "facts.json",
            "alma-ext facts",
            crate::facts::collect_with_warnings(host_root)
                .map(|f| f.facts)
                .map_err(|e| format!("{e:#}")),
        );
        self.agent_json(
            "status.json",
            "alma-ext status",
            alma_ext_i18n::english(|| {
                crate::cmd::status::compute(host_root, opts.now.date_naive())
            })
            .map_err(|e| e.to_string()),
        );
        // From dnf's cache only: a support bundle reaches no repository.
        // dnf would create an empty rpm database in a root without one: the
        // bundle changes nothing on the machine, so it says so instead.
        if !self.root.is_system() && crate::security::query::found_dbpath(self.root).is_none() {
            self.note(
                "security-status.json",
                "alma-ext security-status --offline",
                ItemStatus::Missing,
                format!(
                    "no rpm database in the root (looked in {})",
                    crate::security::query::dbpaths_looked()
                ),
            );
        } else {
            // dnf needs an absolute installroot.
            let root_dir = std::fs::canonicalize(host_root.path())
                .unwrap_or_else(|_| host_root.path().to_path_buf());
            let target = crate::cmd::security_status::registered_target(&root_dir);
            self.agent_json(
                "security-status.json",
                "alma-ext security-status --offline",
                crate::cmd::security_status::compute(&root_dir, target.as_ref(), true)
                    .map(|c| c.report)
                    .map_err(|e| e.to_string()),
            );
        }

        // Files, each under its own path.
        if self.root.exists("/etc/os-release") {
            self.file("/etc/os-release");
        } else {
            self.note(
                "etc/os-release",
                "/etc/os-release",
                ItemStatus::Missing,
                "not on this machine",
            );
            self.file("/usr/lib/os-release");
        }
        self.dir(CONFIG_DIR, 2, &|_| true);
        self.file(REGISTRATION_FILE);
        for f in [
            "state.json",
            "journal.json",
            "journal.steps",
            "applied.json",
        ] {
            self.file(&format!(
                "/{}/{f}",
                alma_ext_switcher::journal::SWITCH_DIR.trim_matches('/')
            ));
        }
        // Repo files first read for their client keys, so none is collected.
        let repo_dir = "/etc/yum.repos.d";
        if let Ok(Some(entries)) = self.root.read_dir(repo_dir) {
            for e in entries.iter().filter(|e| e.name.ends_with(".repo")) {
                if let Ok(Some(t)) = self
                    .root
                    .read_string(format!("{repo_dir}/{}", e.name), hostroot::DEFAULT_LIMIT)
                {
                    self.excluded.extend(client_keys(&t));
                }
            }
        }
        if let Ok(Some(t)) = self
            .root
            .read_string("/etc/dnf/dnf.conf", hostroot::DEFAULT_LIMIT)
        {
            self.excluded.extend(client_keys(&t));
        }
        self.dir(repo_dir, 0, &|n| n.ends_with(".repo"));
        self.file("/etc/dnf/dnf.conf");
        self.dir("/etc/dnf/vars", 0, &|_| true);

        // The spool: its count only.
        let spooled = match self.root.read_dir(crate::spool::SPOOL_DIR) {
            Ok(Some(es)) => {
                let n = es
                    .iter()
                    .filter(|e| e.kind == hostroot::Kind::File && e.name.ends_with(".json"))
                    .count();
                self.note(
                    "var/lib/alma-ext/spool",
                    crate::spool::SPOOL_DIR,
                    ItemStatus::Skipped,
                    format!("{n} spooled check-ins; never included (their count only)"),
                );
                Some(n)
            }
            Ok(None) => Some(0),
            Err(e) => {
                self.note(
                    "var/lib/alma-ext/spool",
                    crate::spool::SPOOL_DIR,
                    ItemStatus::Error,
                    e.to_string(),
                );
                None
            }
        };

        spooled
    }

    /// What programs and the kernel say about the machine: uname, df,
    /// SELinux.
    fn machine(&mut self) {
        match nix::sys::utsname::uname() {
            Ok(u) => {
                let text = format!(
                    "{} {} {} {} {}\n",
                    u.sysname().to_string_lossy(),
                    u.nodename().to_string_lossy(),
                    u.release().to_string_lossy(),
                    u.version().to_string_lossy(),
                    u.machine().to_string_lossy()
                );
                let source = if self.root.is_system() {
                    "uname"
                } else {
                    "uname (the running kernel, not the root's)"
                };
                self.push("uname.txt", source, Body::Text(text), false, None);
            }
            Err(e) => self.note("uname.txt", "uname", ItemStatus::Error, e.to_string()),
        }
        let mut df_args: Vec<String> = vec!["-hTP".into()];
        if !self.root.is_system() {
            df_args.push("--".into());
            df_args.push(self.root.path().display().to_string());
        }
        self.program("df.txt", "df", &df_args, false);
        self.push(
            "selinux.txt",
            "/etc/selinux/config, /sys/fs/selinux",
            Body::Text(selinux(self.root)),
            false,
            None,
        );
    }

    /// The installed packages, the dnf history, the dnf logs and the
    /// journal of the alma-ext units.
    fn packages_and_logs(&mut self, since_days: u32) {
        match crate::security::query::found_dbpath(self.root) {
            Some(db) => {
                let mut args = Vec::new();
                if !self.root.is_system() {
                    match self.root.resolve(db) {
                        Ok(real) => {
                            args.push("--dbpath".to_string());
                            args.push(real.display().to_string());
                        }
                        Err(e) => {
                            self.note("rpm-qa.txt", "rpm -qa", ItemStatus::Error, e.to_string())
                        }
                    }
                }
                if self.root.is_system() || !args.is_empty() {
                    args.push("-qa".into());
                    self.program("rpm-qa.txt", "rpm", &args, false);
                    sort_lines(&mut self.pending, "rpm-qa.txt");
                }
            }
            None => self.note(
                "rpm-qa.txt",
                "rpm -qa",
                ItemStatus::Missing,
                format!(
                    "no rpm database in the root (looked in {})",
                    crate::security::query::dbpaths_looked()
                ),
            ),
        }
        let history = "/var/lib/dnf/history.sqlite";
        match self.root.metadata(history) {
            Ok(Some(m)) if m.is_file() => match self.root.resolve(history) {
                Ok(real) => {
                    let python = ["python3", "/usr/libexec/platform-python"]
                        .into_iter()
                        .find(|p| find_program(p).is_some())
                        .unwrap_or("python3");
                    self.program(
                        "dnf-history.txt",
                        python,
                        &[
                            "-c".into(),
                            DNF_HISTORY_PY.into(),
                            real.display().to_string(),
                            DNF_TRANSACTIONS.to_string(),
                            history.into(),
                        ],
                        false,
                    );
                    if let Some(p) = self
                        .pending
                        .last_mut()
                        .filter(|p| p.path == "dnf-history.txt")
                    {
                        p.source = format!("{history} (the last {DNF_TRANSACTIONS} transactions)");
                    }
                }
                Err(e) => self.note("dnf-history.txt", history, ItemStatus::Error, e.to_string()),
            },
            Ok(Some(_)) => self.note(
                "dnf-history.txt",
                history,
                ItemStatus::Skipped,
                "not a regular file",
            ),
            Ok(None) => self.note(
                "dnf-history.txt",
                history,
                ItemStatus::Missing,
                "no dnf history database on this machine",
            ),
            Err(e) => self.note("dnf-history.txt", history, ItemStatus::Error, e.to_string()),
        }
        for log in DNF_LOGS {
            self.log(log);
        }
        if self.root.is_system() {
            self.program(
                "journal.txt",
                "journalctl",
                &[
                    "--no-pager".into(),
                    "-o".into(),
                    "short-iso".into(),
                    "-u".into(),
                    "alma-ext*".into(),
                    "--since".into(),
                    format!("{} days ago", since_days),
                ],
                true,
            );
        } else {
            self.note(
                "journal.txt",
                "journalctl -u alma-ext*",
                ItemStatus::Skipped,
                "the journal is read only on the live root (without --root)",
            );
        }
    }

    /// Learn every secret and name first, so each is masked in every file.
    fn learn_all(&mut self, obfuscate: bool) {
        for p in &self.pending {
            match &p.body {
                Body::Text(t) => self.redactor.learn(t),
                Body::Json(v) => self.redactor.learn_json(v),
            }
        }
        if obfuscate {
            let mut ids: Vec<(IdKind, String)> = Vec::new();
            for p in &self.pending {
                if let Body::Json(v) = &p.body {
                    collect_identifiers(v, &mut ids);
                }
            }
            for (k, v) in ids {
                self.redactor.add_identifier(k, &v);
            }
        }
    }

    /// Redact every item and keep the whole within `max_bytes`.
    fn fit(&mut self, max_bytes: u64) -> Vec<(String, Vec<u8>)> {
        let mut budget = max_bytes.saturating_sub(MANIFEST_RESERVE);
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let mut text = match &p.body {
                Body::Text(t) => self.redactor.redact(t),
                Body::Json(v) => {
                    let v = self.redactor.redact_json(v);
                    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
                }
            };
            let mut status = ItemStatus::Collected;
            let mut reason = p.cut.clone();
            if reason.is_some() {
                status = ItemStatus::Truncated;
            }
            if text.len() as u64 > budget {
                if p.tail && budget >= 4096 {
                    let whole = text.len();
                    let mut start = whole - budget as usize;
                    while !text.is_char_boundary(start) {
                        start += 1;
                    }
                    let rest = &text[start..];
                    let rest = rest.split_once('\n').map(|(_, r)| r).unwrap_or(rest);
                    text = rest.to_string();
                    status = ItemStatus::Truncated;
                    reason = Some(format!(
                        "cut to its last {} bytes of {whole} by the bundle size limit (--max-size)",
                        text.len()
                    ));
                } else {
                    self.items.push(Item {
                        item: p.path.clone(),
                        source: p.source.clone(),
                        status: ItemStatus::Skipped,
                        reason: Some(format!(
                            "left out: {} bytes, over what the bundle size limit (--max-size) left",
                            text.len()
                        )),
                        bytes: None,
                    });
                    continue;
                }
            }
            budget -= text.len() as u64;
            self.items.push(Item {
                item: p.path.clone(),
                source: p.source,
                status,
                reason,
                bytes: Some(text.len() as u64),
            });
            files.push((p.path, text.into_bytes()));
        }
        files
    }
}

/// Collect, redact and write the bundle of `root`.
pub fn create(root: &Root, opts: &Options) -> Result<Outcome, Error> {
    let host_root = crate::root::HostRoot::new(root.path());
    let mut c = Collector {
        root,
        pending: Vec::new(),
        items: Vec::new(),
        excluded: BTreeSet::new(),
        redactor: Redactor::new(opts.obfuscate),
    };
    c.known_secrets();
    if opts.obfuscate {
        c.identifiers();
    }
    let spooled = c.collect(&host_root, opts);
    c.machine();
    c.packages_and_logs(opts.since_days);
    c.learn_all(opts.obfuscate);
    let mut files = c.fit(opts.max_bytes);

    // The root's name; the running machine's only when it is the root.
    let host = hostname(root)
        .or_else(|| root.is_system().then(node_name).flatten())
        .map(|h| c.redactor.redact(&h))
        .unwrap_or_else(|| "unknown".into());
    let errors: Vec<String> = c
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Error)
        .map(|i| format!("{}: {}", i.item, i.reason.as_deref().unwrap_or("")))
        .map(|e| c.redactor.redact(&e))
        .collect();
    c.items.sort_by(|a, b| a.item.cmp(&b.item));
    let redactions = c.redactor.redactions();
    let manifest = Manifest {
        alma_ext_version: env!("CARGO_PKG_VERSION").to_string(),
        created: opts.now,
        command_line: opts.command_line.clone(),
        root: root.path().display().to_string(),
        obfuscated: opts.obfuscate,
        since_days: opts.since_days,
        max_size_bytes: opts.max_bytes,
        redactions,
        spooled_checkins: spooled,
        items: std::mem::take(&mut c.items),
    };
    let manifest = c
        .redactor
        .redact_json(&serde_json::to_value(&manifest).expect("the manifest serializes"));
    let manifest = serde_json::to_string_pretty(&manifest).expect("a JSON value serializes") + "\n";
    files.insert(0, ("manifest.json".into(), manifest.into_bytes()));

    let stamp = opts.now.format("%Y%m%dT%H%M%SZ");
    let path = match &opts.output {
        Some(p) => p.clone(),
        None => root
            .resolve_parent(format!(
                "/var/tmp/alma-ext-support-{}-{stamp}.tar.gz",
                file_name_host(&host)
            ))
            .map_err(Error::Resolve)?,
    };
    write_bundle(&path, &files, opts.now)?;
    let mapping = if opts.obfuscate {
        let map_path = mapping_path(&path);
        write_mapping(&map_path, &path, &c.redactor, opts.now)?;
        Some(map_path)
    } else {
        None
    };
    Ok(Outcome {
        path,
        files: files.into_iter().map(|(p, _)| p).collect(),
        redacted: redactions,
        errors,
        mapping,
    })
}

/// The identifiers in the agent's own JSON (facts, registration): UUIDs of
/// the machine and its guests, machine ids, host names, serials.
fn collect_identifiers(v: &Value, out: &mut Vec<(IdKind, String)>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if let Value::String(s) = v {
                    let kind = match k.as_str() {
                        "uuid" | "product_uuid" | "sys_hypervisor_uuid" => Some(IdKind::Uuid),
                        "machine_id" => Some(IdKind::MachineId),
                        "hostname" => Some(IdKind::Host),
                        "product_serial" | "serial" | "chassis_asset_tag" => Some(IdKind::Serial),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        out.push((kind, s.clone()));
                    }
                } else {
                    collect_identifiers(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_identifiers(v, out)),
        _ => {}
    }
}

fn sort_lines(pending: &mut [Pending], path: &str) {
    if let Some(p) = pending.iter_mut().rev().find(|p| p.path == path) {
        if let Body::Text(t) = &mut p.body {
            let mut lines: Vec<&str> = t.lines().collect();
            lines.sort_unstable();
            *t = lines.join("\n") + "\n";
        }
    }
}

/// `selinux.txt`: the configured mode and, where selinuxfs is mounted in
/// the root, the running one.
fn selinux(root: &Root) -> String {
    let mut out = String::new();
    match root.read_string("/etc/selinux/config", 64 << 10) {
        Ok(Some(t)) => {
            out.push_str("/etc/selinux/config:\n");
            for l in t.lines() {
                let l = l.trim();
                if !l.is_empty() && !l.starts_with('#') {
                    out.push_str(&format!("  {l}\n"));
                }
            }
        }
        Ok(None) => out.push_str("/etc/selinux/config: not present\n"),
        Err(e) => out.push_str(&format!("/etc/selinux/config: {e}\n")),
    }
    match root.read_trimmed("/sys/fs/selinux/enforce").as_deref() {
        Some("1") => out.push_str("running: enforcing\n"),
        Some("0") => out.push_str("running: permissive\n"),
        Some(other) => out.push_str(&format!("running: /sys/fs/selinux/enforce says {other}\n")),
        None => out.push_str("running: disabled or not visible (no /sys/fs/selinux/enforce)\n"),
    }
    if let Some(p) = root.read_trimmed("/sys/fs/selinux/policyvers") {
        out.push_str(&format!("policy version: {p}\n"));
    }
    out
}

/// The mapping file next to the bundle: `<bundle>.tar.gz` ->
/// `<bundle>.obfuscation-map.json`.
fn mapping_path(bundle: &Path) -> PathBuf {
    let s = bundle.display().to_string();
    let stem = s.strip_suffix(".tar.gz").unwrap_or(&s);
    PathBuf::from(format!("{stem}.obfuscation-map.json"))
}

/// Create `path` new, 0600 from the start (never widened then narrowed),
/// without following a symlink planted at its name.
fn create_private(path: &Path) -> Result<File, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .map_err(|source| Error::Create {
                    path: dir.to_path_buf(),
                    source,
                })?;
        }
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| Error::Create {
            path: path.to_path_buf(),
            source,
        })
}

use std::os::unix::fs::DirBuilderExt;

fn write_bundle(path: &Path, files: &[(String, Vec<u8>)], now: DateTime<Utc>) -> Result<(), Error> {
    let file = create_private(path)?;
    let werr = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(now.timestamp().max(0) as u64);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data.as_slice())
            .map_err(werr)?;
    }
    let gz = tar.into_inner().map_err(werr)?;
    let buf = gz.finish().map_err(werr)?;
    let file = buf.into_inner().map_err(|e| werr(e.into_error()))?;
    file.sync_all().map_err(werr)?;
    Ok(())
}

#[derive(Serialize)]
struct MappingFile<'a> {
    note: &'static str,
    bundle: &'a Path,
    created: DateTime<Utc>,
    placeholders: Vec<redact::Mapping>,
}

fn write_mapping(
    path: &Path,
    bundle: &Path,
    r: &Redactor,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let mut f = create_private(path)?;
    let m = MappingFile {
        note: "Keep this file on this machine and do not send it: it maps the placeholders \
               of the bundle back to the real names and addresses.",
        bundle,
        created: now,
        placeholders: r.mapping(),
    };
    let text = serde_json::to_string_pretty(&m).expect("the mapping serializes") + "\n";
    let werr = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    f.write_all(text.as_bytes()).map_err(werr)?;
    f.sync_all().map_err(werr)
}
