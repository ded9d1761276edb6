//! dnf is the judge: ask dnf itself (its Python API, through a small
//! program shipped in the binary) which repositories it loads for a root,
//! from which file, enabled or not, with which URLs after substitution,
//! and compare this project's reading of the files with it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use alma_ext_i18n::{msg, Message};
use serde::{Deserialize, Serialize};

use crate::preflight::substitute;
use crate::repofile::{parse_bool, RepoFile};

/// The program run with dnf's Python interpreter.
pub const SCRIPT: &str = include_str!("dnf_query.py");

/// One repository as dnf builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnfRepo {
    /// The repo id after substitution.
    pub id: String,
    /// The section header as written (`[$id]` before substitution).
    pub section: String,
    /// The file it came from, as dnf opened it (under the root).
    pub file: PathBuf,
    pub enabled: bool,
    pub baseurl: Vec<String>,
    pub mirrorlist: Vec<String>,
    pub metalink: Vec<String>,
}

/// One file dnf read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnfFile {
    pub path: PathBuf,
    /// Why dnf skipped the whole file (its parse error), if it did.
    pub error: Option<String>,
    /// Every repository dnf built from the file, in order (a repo id
    /// already loaded from an earlier file is listed here too).
    pub repos: Vec<DnfRepo>,
}

/// What dnf reads for a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnfView {
    /// The root, as given.
    pub root: PathBuf,
    /// The root's `dnf.conf` when there is one (its sections are repos too).
    pub config_file: Option<PathBuf>,
    /// Every directory dnf reads `*.repo` files from (under the root).
    pub reposdirs: Vec<PathBuf>,
    /// `$releasever` as dnf derives it, or as pinned in the vars dirs.
    pub releasever: Option<String>,
    /// Where `releasever` came from: `vars` (pinned), `rpmdb` (dnf
    /// derived it), `os-release` (dnf could not: the major version of
    /// `VERSION_ID`), `none`.
    pub releasever_source: String,
    /// `$basearch` as dnf computes it.
    pub basearch: Option<String>,
    /// Every substitution variable.
    pub vars: BTreeMap<String, String>,
    /// Every file dnf read, in dnf's order (`dnf.conf` first).
    pub files: Vec<DnfFile>,
    /// The repositories dnf loads (the first of an id wins).
    pub repos: Vec<DnfRepo>,
    /// Files read one by one on request ([`DnfReader::parse_files`]).
    #[serde(default)]
    pub parsed: Vec<DnfFile>,
    /// dnf's own warnings (a skipped file, a bad value, a duplicate id).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl DnfView {
    /// The host path (`/etc/yum.repos.d/x.repo`) of a path dnf opened
    /// under the root.
    pub fn host_path(&self, p: &Path) -> PathBuf {
        if self.root == Path::new("/") {
            return p.to_path_buf();
        }
        match p.strip_prefix(&self.root) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => p.to_path_buf(),
        }
    }

    /// The repo `id` as dnf loads it.
    pub fn repo(&self, id: &str) -> Option<&DnfRepo> {
        self.repos.iter().find(|r| r.id == id)
    }

    /// The file dnf read at host path `p`.
    pub fn file(&self, p: &Path) -> Option<&DnfFile> {
        self.files.iter().find(|f| self.host_path(&f.path) == p)
    }

    /// True when `$releasever` is dnf's own (pinned or derived): dnf needs
    /// no `--releasever` to read the root.
    pub fn releasever_is_dnfs(&self) -> bool {
        matches!(self.releasever_source.as_str(), "vars" | "rpmdb")
    }

    /// The ids dnf loads enabled.
    pub fn enabled_ids(&self) -> std::collections::BTreeSet<String> {
        self.repos
            .iter()
            .filter(|r| r.enabled)
            .map(|r| r.id.clone())
            .collect()
    }
}

/// Why dnf could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum DnfQueryError {
    NoPython {
        interpreter: PathBuf,
        source: std::io::Error,
    },
    NoDnf {
        interpreter: PathBuf,
        message: String,
    },
    Failed {
        interpreter: PathBuf,
        status: String,
        stderr: String,
    },
    BadOutput {
        interpreter: PathBuf,
        message: String,
    },
}

impl DnfQueryError {
    /// What failed, as a message (dnf's own output as it is).
    pub fn message(&self) -> Message {
        match self {
            DnfQueryError::NoPython {
                interpreter,
                source,
            } => msg!(
                "cannot run {interpreter} (the Python interpreter of dnf) to ask dnf which repositories it reads: {error}",
                interpreter = interpreter.display(),
                error = source
            ),
            DnfQueryError::NoDnf {
                interpreter,
                message,
            } => msg!(
                "{interpreter} has no dnf module (python3-dnf is not installed): {message}",
                interpreter = interpreter.display(),
                message = message
            ),
            DnfQueryError::Failed {
                interpreter,
                status,
                stderr,
            } => msg!(
                "asking dnf which repositories it reads failed ({interpreter}, {status}): {stderr}",
                interpreter = interpreter.display(),
                status = status,
                stderr = stderr
            ),
            DnfQueryError::BadOutput {
                interpreter,
                message,
            } => msg!(
                "dnf's answer could not be read ({interpreter}): {message}",
                interpreter = interpreter.display(),
                message = message
            ),
        }
    }
}

alma_ext_i18n::localize_via_message!(DnfQueryError);

/// Asks dnf what it reads.
pub trait DnfReader {
    /// The repositories dnf loads for `root` (`/` is the running system),
    /// and each of `parse` (absolute paths) read alone as a repo file.
    fn read(&self, root: &Path, parse: &[PathBuf]) -> Result<DnfView, DnfQueryError>;
}

/// The real dnf, through its Python API.
#[derive(Debug, Clone)]
pub struct RealDnf {
    /// The interpreter; None: the one `dnf` itself runs with.
    pub python: Option<PathBuf>,
    /// The `dnf` executable whose `#!` line names the interpreter.
    pub dnf: PathBuf,
}

impl Default for RealDnf {
    fn default() -> Self {
        RealDnf {
            python: std::env::var_os("ALMA_EXT_DNF_PYTHON").map(PathBuf::from),
            dnf: PathBuf::from("dnf"),
        }
    }
}

/// A program found on `PATH`.
fn which(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return Some(name.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl RealDnf {
    /// The interpreter dnf runs with: the `#!` line of the dnf executable
    /// (`/usr/libexec/platform-python` on AlmaLinux 8, `/usr/bin/python3`
    /// on 9), else the first of those that exists.
    pub fn interpreter(&self) -> PathBuf {
        if let Some(p) = &self.python {
            return p.clone();
        }
        let from_dnf = which(&self.dnf)
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| {
                let first = b.split(|&c| c == b'\n').next()?.to_vec();
                let line = String::from_utf8(first).ok()?;
                let interp = line.strip_prefix("#!")?.split_whitespace().next()?;
                Some(PathBuf::from(interp))
            })
            .filter(|p| p.is_absolute() && !p.ends_with("env"));
        from_dnf
            .or_else(|| {
                ["/usr/libexec/platform-python", "/usr/bin/python3"]
                    .into_iter()
                    .map(PathBuf::from)
                    .find(|p| p.exists())
            })
            .unwrap_or_else(|| PathBuf::from("python3"))
    }
}

impl DnfReader for RealDnf {
    fn read(&self, root: &Path, parse: &[PathBuf]) -> Result<DnfView, DnfQueryError> {
        let interpreter = self.interpreter();
        let req = serde_json::json!({ "root": root, "parse": parse });
        let mut child = Command::new(&interpreter)
            .args(["-I", "-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DnfQueryError::NoPython {
                interpreter: interpreter.clone(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(req.to_string().as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(|source| DnfQueryError::NoPython {
                interpreter: interpreter.clone(),
                source,
            })?;
        if out.status.code() == Some(3) {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            return Err(DnfQueryError::NoDnf {
                interpreter,
                message: v["message"].as_str().unwrap_or("").to_string(),
            });
        }
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            return Err(DnfQueryError::Failed {
                interpreter,
                status: out.status.to_string(),
                stderr: tail[tail.len().saturating_sub(5)..].join("; "),
            });
        }
        serde_json::from_slice(&out.stdout).map_err(|e| DnfQueryError::BadOutput {
            interpreter,
            message: e.to_string(),
        })
    }
}

/// One repository as this project reads a file, in dnf's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurRepo {
    pub id: String,
    /// 1-based line of its (last) section header.
    pub line: usize,
    pub enabled: bool,
    pub baseurl: Vec<String>,
    pub mirrorlist: Vec<String>,
    pub metalink: Vec<String>,
}

/// dnf's repo id characters.
fn valid_repo_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

/// This project's reading of a repo file, as dnf would build its repos:
/// `None` when the parser says dnf skips the file (a line it cannot
/// parse), else the repos in section order, duplicate sections merged,
/// ids and URLs substituted with `vars`.
pub fn our_reading(bytes: &[u8], vars: &BTreeMap<String, String>) -> Option<Vec<OurRepo>> {
    let f = RepoFile::parse(bytes);
    if !f.invalid_lines().is_empty() {
        return None;
    }
    let value = |ids: &[&crate::repofile::Section], key: &str| -> Option<String> {
        // Duplicate sections are one: the last `key=` of any of them wins.
        ids.iter()
            .flat_map(|s| f.key_lines(s, key))
            .max()
            .map(|i| f.full_value(i))
            .map(|v| substitute(&v, vars))
            .filter(|v| !v.is_empty() && v != "None")
    };
    let sections = f.sections();
    let mut order: Vec<&str> = Vec::new();
    for s in &sections {
        if s.id != "main" && !order.contains(&s.id.as_str()) {
            order.push(&s.id);
        }
    }
    let split = |v: Option<String>| -> Vec<String> {
        v.map(|v| {
            v.split([' ', '\t', '\n', ','])
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
    };
    let mut out = Vec::new();
    for raw in order {
        let same: Vec<&crate::repofile::Section> =
            sections.iter().filter(|s| s.id == raw).collect();
        let id = substitute(raw, vars);
        if !valid_repo_id(&id) {
            continue; // dnf: "Bad id for repo", skipped
        }
        out.push(OurRepo {
            id,
            line: same.last().map_or(0, |s| s.header + 1),
            // dnf: an invalid or empty value is an error and the default
            // (enabled) stays.
            enabled: value(&same, "enabled")
                .and_then(|v| parse_bool(&v))
                .unwrap_or(true),
            baseurl: split(value(&same, "baseurl")),
            mirrorlist: value(&same, "mirrorlist").into_iter().collect(),
            metalink: value(&same, "metalink").into_iter().collect(),
        });
    }
    Some(out)
}

/// Where this project's reading of a file differs from dnf's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Divergence {
    pub file: PathBuf,
    pub line: usize,
    pub what: Message,
}

impl Divergence {
    /// Where and how, as a message.
    pub fn message(&self) -> Message {
        msg!(
            "{file} line {line}: {what}",
            file = self.file.display(),
            line = self.line,
            what = self.what
        )
    }
}

alma_ext_i18n::localize_via_message!(Divergence);

/// Compare this project's reading of `bytes` (host path `file`) with
/// dnf's reading of the same file.
pub fn compare(
    file: &Path,
    bytes: &[u8],
    dnf: &DnfFile,
    vars: &BTreeMap<String, String>,
) -> Result<(), Divergence> {
    let div = |line: usize, what: Message| Divergence {
        file: file.to_path_buf(),
        line,
        what,
    };
    let ours = our_reading(bytes, vars);
    match (&ours, &dnf.error) {
        (None, None) => {
            let line = RepoFile::parse(bytes)
                .invalid_lines()
                .first()
                .copied()
                .unwrap_or(0);
            return Err(div(
                line,
                msg!("alma-ext reads this line as one dnf cannot parse, but dnf reads the file"),
            ));
        }
        (None, Some(_)) => return Ok(()),
        (Some(_), Some(e)) => {
            return Err(div(
                line_of_error(e),
                msg!(
                    "dnf skips this file ({error}), alma-ext reads it",
                    error = e
                ),
            ))
        }
        (Some(_), None) => {}
    }
    let ours = ours.unwrap_or_default();
    let theirs = &dnf.repos;
    let ours_ids: Vec<&str> = ours.iter().map(|r| r.id.as_str()).collect();
    let dnf_ids: Vec<&str> = theirs.iter().map(|r| r.id.as_str()).collect();
    let mut a = ours_ids.clone();
    let mut b = dnf_ids.clone();
    a.sort_unstable();
    b.sort_unstable();
    if a != b {
        let line = ours
            .iter()
            .find(|r| !dnf_ids.contains(&r.id.as_str()))
            .map_or(1, |r| r.line);
        return Err(div(
            line,
            msg!(
                "alma-ext reads the repo ids [{ours}], dnf reads [{dnf}]",
                ours = a.join(", "),
                dnf = b.join(", ")
            ),
        ));
    }
    for o in &ours {
        let Some(t) = theirs.iter().find(|t| t.id == o.id) else {
            continue;
        };
        let mut diffs = Vec::new();
        if o.enabled != t.enabled {
            diffs.push(msg!(
                "enabled: alma-ext reads {ours}, dnf reads {dnf}",
                ours = o.enabled,
                dnf = t.enabled
            ));
        }
        for (k, x, y) in [
            ("baseurl", &o.baseurl, &t.baseurl),
            ("mirrorlist", &o.mirrorlist, &t.mirrorlist),
            ("metalink", &o.metalink, &t.metalink),
        ] {
            if x != y {
                diffs.push(msg!(
                    "{option}: alma-ext reads {ours}, dnf reads {dnf}",
                    option = k,
                    ours = format!("{x:?}"),
                    dnf = format!("{y:?}")
                ));
            }
        }
        if !diffs.is_empty() {
            return Err(div(
                o.line,
                msg!(
                    "repo {repo}: {differences}",
                    repo = o.id,
                    differences = diffs
                ),
            ));
        }
    }
    Ok(())
}

/// The line number in a libdnf parse error (`... at line 4`).
fn line_of_error(e: &str) -> usize {
    e.rsplit("at line ")
        .next()
        .and_then(|t| {
            t.chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line() {
        assert_eq!(
            line_of_error("Parsing file 'x' failed: IniParser: Missing '=' at line 3"),
            3
        );
        assert_eq!(line_of_error("nothing"), 0);
    }
}
