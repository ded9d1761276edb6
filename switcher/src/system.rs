//! The edges that run programs: dnf and rpm, behind one small trait so the
//! applier can be tested with fault injection.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::plan::TlsFile;

/// Why a dnf or rpm run did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The program could not be started.
    Spawn {
        /// The command line, as run.
        command: String,
        #[source]
        source: io::Error,
    },
    /// The program ran and failed.
    Failed {
        /// The command line, as run.
        command: String,
        /// Its exit status, as the system words it.
        status: String,
        /// Its non-empty stderr lines, joined with "; ".
        stderr: String,
    },
}

impl ToolError {
    /// What failed, as a message (the command line, the status and the
    /// program's own stderr as they are).
    pub fn message(&self) -> alma_ext_i18n::Message {
        match self {
            ToolError::Spawn { command, source } => alma_ext_i18n::msg!(
                "cannot run {command}: {error}",
                command = command,
                error = source
            ),
            ToolError::Failed {
                command,
                status,
                stderr,
            } => alma_ext_i18n::msg!(
                "{command} failed ({status}): {stderr}",
                command = command,
                status = status,
                stderr = stderr
            ),
        }
    }
}

alma_ext_i18n::localize_via_message!(ToolError);

/// dnf and rpm as the switch needs them.
pub trait PackageTools {
    /// Import an armored public key file (a path on this machine) into the
    /// rpm database of `root`.
    fn import_key(&self, root: &Path, key: &Path) -> Result<(), ToolError>;
    /// Download the metadata of `repos` only (`dnf makecache --repo ...`)
    /// with the root's own variables; `releasever` only when dnf cannot
    /// derive it itself (a root without an rpm database). `tls_files` are
    /// the new repos' TLS files, paths of the machine: under another root
    /// they must be handed to dnf as their places inside it.
    fn makecache(
        &self,
        root: &Path,
        releasever: Option<&str>,
        repos: &[String],
        tls_files: &[TlsFile],
    ) -> Result<(), ToolError>;
}

/// The real dnf and rpm.
#[derive(Debug, Clone)]
pub struct RealTools {
    pub dnf: PathBuf,
    pub rpm: PathBuf,
}

impl Default for RealTools {
    fn default() -> Self {
        RealTools {
            dnf: PathBuf::from("dnf"),
            rpm: PathBuf::from("rpm"),
        }
    }
}

fn is_system_root(root: &Path) -> bool {
    root == Path::new("/")
}

fn run(mut cmd: Command) -> Result<(), ToolError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| ToolError::Spawn {
        command: shown.clone(),
        source,
    })?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Err(ToolError::Failed {
        command: shown,
        status: out.status.to_string(),
        stderr: err,
    })
}

/// The dnf options that keep a run inside `root`: its repo files, vars and
/// configuration, never the host's.
pub fn dnf_root_args(root: &Path, releasever: Option<&str>) -> Vec<String> {
    if is_system_root(root) {
        return releasever
            .map(|r| vec![format!("--releasever={r}")])
            .unwrap_or_default();
    }
    // dnf refuses a relative --installroot.
    let root = &std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let r = root.display();
    let mut v = vec![format!("--installroot={r}")];
    if let Some(rv) = releasever {
        v.push(format!("--releasever={rv}"));
    }
    v.extend([
        format!("--setopt=reposdir={r}/etc/yum.repos.d"),
        format!("--setopt=varsdir={r}/etc/yum/vars,{r}/etc/dnf/vars"),
    ]);
    let mut conf = root.join("etc/dnf/dnf.conf");
    if !conf.exists() {
        // The host's dnf.conf must not leak into the root: an empty one
        // next to the journal (dnf refuses /dev/null).
        let empty = root.join(crate::journal::SWITCH_DIR).join("empty-dnf.conf");
        if !empty.exists() {
            let _ = crate::fsops::create_dir_mode(empty.parent().unwrap(), 0o700);
            let _ = fs::write(&empty, "[main]\n");
        }
        conf = empty;
    }
    v.push(format!("--config={}", conf.display()));
    v
}

impl PackageTools for RealTools {
    fn import_key(&self, root: &Path, key: &Path) -> Result<(), ToolError> {
        let mut c = Command::new(&self.rpm);
        if !is_system_root(root) {
            c.arg("--root").arg(root);
        }
        c.arg("--import").arg(key);
        run(c)
    }

    fn makecache(
        &self,
        root: &Path,
        releasever: Option<&str>,
        repos: &[String],
        tls_files: &[TlsFile],
    ) -> Result<(), ToolError> {
        let mut c = Command::new(&self.dnf);
        c.args(dnf_root_args(root, releasever));
        c.args(["-y", "--quiet", "--setopt=skip_if_unavailable=False"]);
        // dnf --installroot reads a repo's TLS files on this host: under
        // another root, point it at the root's own.
        if !is_system_root(root) {
            for t in tls_files {
                c.arg(format!(
                    "--setopt={}.{}={}",
                    t.repo_id,
                    t.option,
                    crate::preflight::under_root(root, &t.path).display()
                ));
            }
        }
        for r in repos {
            c.arg(format!("--repo={r}"));
        }
        c.arg("makecache");
        run(c)
    }
}

/// Remove the dnf cache of `ids` under `root` (`var/cache/dnf/<id>-<hash>`
/// and its `.solv` files). Caches come back on the next run; best effort.
pub fn drop_caches(root: &Path, ids: &[String]) -> Vec<PathBuf> {
    // Resolved inside the root: a symlinked /var/cache never leads out.
    let Some(dir) = hostroot::Root::open(root)
        .and_then(|r| r.resolve("/var/cache/dnf"))
        .ok()
    else {
        return vec![];
    };
    let mut removed = Vec::new();
    let Ok(rd) = fs::read_dir(&dir) else {
        return removed;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let hit = ids.iter().any(|id| {
            if let Some(rest) = name.strip_prefix(&format!("{id}-")) {
                if rest.len() == 16 && rest.chars().all(|c| c.is_ascii_hexdigit()) {
                    return true;
                }
            }
            [
                ".solv",
                "-filenames.solvx",
                "-updateinfo.solvx",
                "-other.solvx",
                "-presto.solvx",
            ]
            .iter()
            .any(|suf| name == format!("{id}{suf}"))
        });
        if hit {
            let p = e.path();
            let ok = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            if ok.is_ok() {
                removed.push(p);
            }
        }
    }
    removed
}

/// The rpm database directories of a root: for the running system the
/// one rpm names (`%_dbpath`); for another root both places an AlmaLinux
/// rpm database lives (this host's rpm says nothing about the root's).
pub fn rpm_dbpaths(root: &Path, rpm: &Path) -> Vec<String> {
    if is_system_root(root) {
        vec![rpm_dbpath(rpm)]
    } else {
        vec!["/var/lib/rpm".into(), "/usr/lib/sysimage/rpm".into()]
    }
}

/// The rpm database directory (`%_dbpath`), asked from rpm once; the
/// AlmaLinux default when rpm cannot say.
pub fn rpm_dbpath(rpm: &Path) -> String {
    Command::new(rpm)
        .args(["--eval", "%_dbpath"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| s.starts_with('/'))
        .unwrap_or_else(|| "/var/lib/rpm".to_string())
}

/// Who holds a package-manager lock under `root`, if anyone: an rpm
/// transaction (fcntl lock on `<dbpath>/.rpm.lock`) or, on the running
/// system only, a running dnf (`var/lib/dnf/rpmdb_lock.pid` and friends
/// naming a live dnf process: the processes of another root are not in
/// this `/proc`).
pub fn package_lock_holder(
    root: &Path,
    dbpaths: &[String],
) -> io::Result<Option<alma_ext_i18n::Message>> {
    for dbpath in dbpaths {
        if let Some(who) = rpm_lock_holder(root, dbpath) {
            return Ok(Some(who));
        }
    }
    if !is_system_root(root) {
        return Ok(None);
    }
    dnf_lock_holder(root)
}

fn rpm_lock_holder(root: &Path, dbpath: &str) -> Option<alma_ext_i18n::Message> {
    let lock = root.join(dbpath.trim_start_matches('/')).join(".rpm.lock");
    if let Ok(f) = fs::OpenOptions::new().read(true).write(true).open(&lock) {
        let mut fl = libc::flock {
            l_type: libc::F_WRLCK as _,
            l_whence: libc::SEEK_SET as _,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        // F_GETLK only asks; it takes nothing.
        let r = unsafe {
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&f),
                libc::F_GETLK,
                &mut fl as *mut libc::flock,
            )
        };
        if r == 0 && fl.l_type != libc::F_UNLCK as libc::c_short {
            return Some(alma_ext_i18n::msg!(
                "an rpm transaction (process {pid}) holds {lock}",
                pid = fl.l_pid,
                lock = lock.display()
            ));
        }
    }
    None
}

/// A live dnf named by the pid files under `root`. Reads this host's
/// `/proc`: meaningful for the running system only.
pub fn dnf_lock_holder(root: &Path) -> io::Result<Option<alma_ext_i18n::Message>> {
    for p in [
        "var/lib/dnf/rpmdb_lock.pid",
        "var/cache/dnf/metadata_lock.pid",
        "var/cache/dnf/download_lock.pid",
    ] {
        let path = root.join(p);
        let Ok(s) = fs::read_to_string(&path) else {
            continue;
        };
        let Ok(pid) = s.trim().parse::<i32>() else {
            continue;
        };
        if pid <= 0 || pid == std::process::id() as i32 {
            continue;
        }
        let comm = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if comm.contains("dnf") || comm.contains("yum") {
            return Ok(Some(alma_ext_i18n::msg!(
                "dnf (process {pid}) holds {lock}",
                pid = pid,
                lock = path.display()
            )));
        }
    }
    Ok(None)
}
