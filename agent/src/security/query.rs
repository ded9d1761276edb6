//! The edge that asks dnf: a small python3-dnf program shipped in the binary
//! (`query.py`), run with the root as dnf's installroot. Its input goes on
//! stdin as JSON (repository passwords never appear on a command line).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use alma_ext_proto::target::Target;
use serde::Serialize;

use super::DnfView;

/// The program, run with `python3 -I -c`.
pub const QUERY_PY: &str = include_str!("query.py");

/// The interpreters that have python3-dnf, in order: AlmaLinux 8's
/// platform-python, then python3 of the system (never a user's venv).
const PYTHONS: &[&str] = &["/usr/libexec/platform-python", "/usr/bin/python3"];

/// Where the rpm database of a root is looked for, in order: a directory
/// holding a database wins; none: `/var/lib/rpm`, AlmaLinux's `%_dbpath`.
const DBPATHS: &[&str] = &["/var/lib/rpm", "/usr/lib/sysimage/rpm", "/usr/share/rpm"];

/// Database files of rpm's backends (sqlite, bdb, ndb).
const DB_FILES: &[&str] = &["rpmdb.sqlite", "Packages", "Packages.db"];

/// Why dnf could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no python3 with dnf found (tried {tried}): install python3-dnf")]
    NoPython { tried: String },
    #[error("cannot run {python}: {source}")]
    Spawn {
        python: String,
        source: std::io::Error,
    },
    #[error("the dnf query ({python}) failed ({status}): {stderr}")]
    Failed {
        python: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("the dnf query gave output alma-ext cannot read: {0}")]
    BadOutput(serde_json::Error),
}

/// A repository added for the query: one of the target's extended-update
/// repositories, with the machine's repository credentials.
#[derive(Serialize)]
pub struct ExtraRepo {
    pub id: String,
    pub name: String,
    pub baseurl: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Certificate paths as this machine sees them (resolved in the root).
    pub sslclientcert: Option<PathBuf>,
    pub sslclientkey: Option<PathBuf>,
    pub sslcacert: Option<PathBuf>,
}

/// The query's input.
#[derive(Serialize)]
pub struct QueryInput {
    /// dnf's installroot (absolute).
    pub root: PathBuf,
    /// The root's rpm database directory, a path inside the root.
    pub dbpath: String,
    pub releasever: u32,
    /// dnf's cache only (`cacheonly`).
    pub offline: bool,
    /// The root's dnf.conf as this machine sees it, when there is one.
    pub config_file: Option<PathBuf>,
    pub extra_repos: Vec<ExtraRepo>,
}

/// The target's repositories with its credentials; certificate paths are
/// paths in the root, resolved to where this machine finds them.
pub fn extra_repos(target: &Target, resolve: impl Fn(&str) -> PathBuf) -> Vec<ExtraRepo> {
    let auth = target.auth.clone().unwrap_or_default();
    target
        .repos
        .values()
        .map(|r| ExtraRepo {
            id: r.id.clone(),
            name: r.name.clone(),
            baseurl: r.baseurl.clone(),
            username: auth.username.clone(),
            password: auth.password.clone(),
            sslclientcert: auth.sslclientcert.as_deref().map(&resolve),
            sslclientkey: auth.sslclientkey.as_deref().map(&resolve),
            sslcacert: auth.sslcacert.as_deref().map(&resolve),
        })
        .collect()
}

/// The rpm database directory of a root that is not `/`: the first of
/// [`DBPATHS`] for which `has_db` is true; `None` when none holds one.
pub fn root_dbpath(has_db: impl Fn(&str) -> bool) -> Option<&'static str> {
    DBPATHS.iter().copied().find(|d| has_db(d))
}

/// [`root_dbpath`] for `root` (not `/`): the first directory that holds a
/// database file of one of rpm's backends.
pub fn found_dbpath(root: &hostroot::Root) -> Option<&'static str> {
    root_dbpath(|d| DB_FILES.iter().any(|f| root.exists(format!("{d}/{f}"))))
}

/// The rpm database directory of the root: for `/` what rpm says
/// (`%_dbpath`), else found in the root (see [`found_dbpath`]). `None`
/// when another root has no rpm database: dnf would create an empty one
/// there and report nothing installed.
pub fn dbpath(root: &hostroot::Root) -> Option<String> {
    if root.is_system() {
        return Some(alma_ext_switcher::system::rpm_dbpath(Path::new("rpm")));
    }
    found_dbpath(root).map(str::to_string)
}

/// Where [`dbpath`] looks, for messages.
pub fn dbpaths_looked() -> String {
    DBPATHS.join(", ")
}

fn python() -> Result<&'static str, QueryError> {
    PYTHONS
        .iter()
        .copied()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| QueryError::NoPython {
            tried: PYTHONS.join(", "),
        })
}

/// Ask dnf.
pub fn run(input: &QueryInput) -> Result<DnfView, QueryError> {
    let python = python()?;
    let spawn = |source| QueryError::Spawn {
        python: python.to_string(),
        source,
    };
    let mut child = Command::new(python)
        .args(["-I", "-c", QUERY_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn)?;
    let body = serde_json::to_vec(input).expect("plain data serializes");
    // A failed write shows up as the program's own failure below.
    let _ = child.stdin.take().expect("piped").write_all(&body);
    let out = child.wait_with_output().map_err(spawn)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(QueryError::Failed {
            python: python.to_string(),
            status: out.status,
            stderr: stderr
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    serde_json::from_slice(&out.stdout).map_err(QueryError::BadOutput)
}
