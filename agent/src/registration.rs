//! This machine's registration with the entitlement server, kept under
//! `/var/lib/alma-ext/` in the root:
//!
//! - `registration.json` (0644): server, machine id, label, entitlement,
//!   last check-in. Nothing secret, so `alma-ext status` can read it.
//! - `credential` (0600): the bearer credential.
//! - `target.json` (0600): the switch target with this machine's repository
//!   credentials.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use alma_ext_proto::api::{Entitlement, SwitchStatus};
use alma_ext_proto::Target;
use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::root::HostRoot;

/// Where the agent keeps its state, as a host path.
pub const STATE_DIR: &str = "/var/lib/alma-ext";
const REGISTRATION_FILE: &str = "/var/lib/alma-ext/registration.json";
const CREDENTIAL_FILE: &str = "/var/lib/alma-ext/credential";
const TARGET_FILE: &str = "/var/lib/alma-ext/target.json";

/// A secret string that never shows in `Debug` or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: only for the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What `alma-ext register` recorded and the last check-in updated.
#[derive(Debug, Clone)]
pub struct Registration {
    pub server: String,
    /// The server's id for this machine.
    pub machine: String,
    pub system: Option<String>,
    pub entitlement: Option<Entitlement>,
    /// The switch target from the last check-in, with this machine's
    /// repository credentials (None when `target.json` is unreadable, e.g.
    /// for a user other than root).
    pub target: Option<Target>,
    pub last_checkin: Option<chrono::DateTime<chrono::Utc>>,
    /// The bearer credential (None when the 0600 file is unreadable).
    pub credential: Option<Secret>,
    /// When this machine registered.
    pub registered_at: Option<chrono::DateTime<chrono::Utc>>,
    /// /etc/machine-id and DMI UUID at registration: a machine whose own
    /// differ is a clone and must register again.
    pub machine_id: Option<String>,
    pub uuid: Option<String>,
    /// Check-in interval the server asked for, in seconds.
    pub checkin_interval_secs: Option<u64>,
    /// Error of the last check-in attempt, if it failed.
    pub last_error: Option<String>,
    /// When the last check-in attempt failed.
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the server last refused this machine (revoked or expired
    /// contract, unknown credential); cleared by an accepted check-in with
    /// a contract in force.
    pub refusal: Option<Refusal>,
    /// The switch state the last acknowledged check-in reported (None:
    /// the server was never told). The daemon checks in when it differs.
    pub reported_switch: Option<SwitchStatus>,
}

/// A refusal by the server, as it said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The API's error code (`contract_revoked`, `unauthenticated`, ...),
    /// or `contract_expired` for an accepted check-in whose contract ended.
    pub code: String,
    /// The reason, in words.
    pub message: String,
    /// When the server said so.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The on-disk form of `registration.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RegistrationFile {
    server: String,
    machine: String,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    entitlement: Option<Entitlement>,
    #[serde(default)]
    last_checkin: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    registered_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    machine_id: Option<String>,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    checkin_interval_secs: Option<u64>,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refusal: Option<Refusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reported_switch: Option<SwitchStatus>,
}

/// The mode of a directory the agent creates: 0700 for its state
/// directory `/var/lib/alma-ext` and everything below (credential, spool,
/// journal), 0755 elsewhere. Pure: `dir` may be under any root.
pub fn dir_mode(dir: &Path) -> u32 {
    let parts: Vec<_> = dir.components().map(|c| c.as_os_str()).collect();
    let state = parts
        .windows(3)
        .any(|w| w[0] == "var" && w[1] == "lib" && w[2] == "alma-ext");
    if state {
        0o700
    } else {
        0o755
    }
}

/// Create `dir` and its missing parents, each with `dir_mode` exactly,
/// whatever the umask (under `umask 000` a plain `create_dir_all` makes
/// them 0777). Existing directories are left as they are.
pub fn create_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent)?;
    }
    let mode = dir_mode(dir);
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename) with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_dirs(dir)?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp.{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; a pre-existing file may be wider.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A message for the user's language, carried through `anyhow`.
fn said(m: alma_ext_i18n::Message) -> anyhow::Error {
    anyhow::Error::new(alma_ext_i18n::Localized::new(m))
}

fn not_valid(file: &str, e: serde_json::Error) -> anyhow::Error {
    said(alma_ext_i18n::msg!(
        "{file} is not valid: {error}",
        file = file,
        error = e
    ))
}

/// The registration of the host under `root`, if any.
pub fn load(root: &HostRoot) -> anyhow::Result<Option<Registration>> {
    let Some(text) = root.read_to_string(REGISTRATION_FILE).map_err(|e| {
        said(alma_ext_i18n::msg!(
            "reading {file}: {error}",
            file = REGISTRATION_FILE,
            error = alma_ext_i18n::io_message(&e)
        ))
    })?
    else {
        return Ok(None);
    };
    let f: RegistrationFile =
        serde_json::from_str(&text).map_err(|e| not_valid(REGISTRATION_FILE, e))?;
    // Unreadable secrets (not root) are not an error: status still works.
    let credential = match root.read_to_string(CREDENTIAL_FILE) {
        Ok(Some(c)) if !c.trim().is_empty() => Some(Secret::new(c.trim())),
        _ => None,
    };
    let target = match root.read_to_string(TARGET_FILE) {
        Ok(Some(t)) => {
            Some(serde_json::from_str::<Target>(&t).map_err(|e| not_valid(TARGET_FILE, e))?)
        }
        _ => None,
    };
    Ok(Some(Registration {
        server: f.server,
        machine: f.machine,
        system: f.system,
        entitlement: f.entitlement,
        target,
        last_checkin: f.last_checkin,
        credential,
        registered_at: f.registered_at,
        machine_id: f.machine_id,
        uuid: f.uuid,
        checkin_interval_secs: f.checkin_interval_secs,
        last_error: f.last_error,
        last_error_at: f.last_error_at,
        refusal: f.refusal,
        reported_switch: f.reported_switch,
    }))
}

/// Record `reg` under `root`: the credential and target in 0600 files.
pub fn save(root: &HostRoot, reg: &Registration) -> anyhow::Result<()> {
    let file = RegistrationFile {
        server: reg.server.clone(),
        machine: reg.machine.clone(),
        system: reg.system.clone(),
        entitlement: reg.entitlement.clone(),
        last_checkin: reg.last_checkin,
        registered_at: reg.registered_at,
        machine_id: reg.machine_id.clone(),
        uuid: reg.uuid.clone(),
        checkin_interval_secs: reg.checkin_interval_secs,
        last_error: reg.last_error.clone(),
        last_error_at: reg.last_error_at,
        refusal: reg.refusal.clone(),
        reported_switch: reg.reported_switch,
    };
    // Secrets first: a registration.json without its credential would look
    // registered but could not check in.
    if let Some(c) = &reg.credential {
        let p = root.resolve(CREDENTIAL_FILE)?;
        write_atomic(&p, format!("{}\n", c.expose()).as_bytes(), 0o600)
            .with_context(|| format!("writing {CREDENTIAL_FILE}"))?;
    }
    match &reg.target {
        Some(t) => {
            let p = root.resolve(TARGET_FILE)?;
            write_atomic(&p, serde_json::to_string_pretty(t)?.as_bytes(), 0o600)
                .with_context(|| format!("writing {TARGET_FILE}"))?;
        }
        None => {
            if let Ok(p) = root.resolve(TARGET_FILE) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    let p = root.resolve(REGISTRATION_FILE)?;
    write_atomic(&p, serde_json::to_string_pretty(&file)?.as_bytes(), 0o644)
        .with_context(|| format!("writing {REGISTRATION_FILE}"))?;
    Ok(())
}

/// Forget the registration (credential, target, state). Absent files are fine.
pub fn remove(root: &HostRoot) -> anyhow::Result<()> {
    for f in [CREDENTIAL_FILE, TARGET_FILE, REGISTRATION_FILE] {
        match root.resolve(f).and_then(std::fs::remove_file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {f}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registration {
        Registration {
            server: "https://x".into(),
            machine: "m-1".into(),
            system: Some("lab".into()),
            entitlement: None,
            target: None,
            last_checkin: None,
            credential: Some(Secret::new("s3cr3t")),
            registered_at: None,
            machine_id: Some("abc".into()),
            uuid: None,
            checkin_interval_secs: Some(100),
            last_error: None,
            last_error_at: None,
            refusal: None,
            reported_switch: None,
        }
    }

    #[test]
    fn state_directories_are_private() {
        assert_eq!(dir_mode(Path::new("/var/lib/alma-ext")), 0o700);
        assert_eq!(
            dir_mode(Path::new("/r/var/lib/alma-ext/spool/rejected")),
            0o700
        );
        assert_eq!(dir_mode(Path::new("/r/var/lib")), 0o755);
        assert_eq!(dir_mode(Path::new("/r/etc/alma-ext/agent.d")), 0o755);
    }

    #[test]
    fn save_load_remove() {
        let d = tempfile::tempdir().unwrap();
        let root = HostRoot::new(d.path());
        assert!(load(&root).unwrap().is_none());
        save(&root, &reg()).unwrap();
        let r = load(&root).unwrap().unwrap();
        assert_eq!(r.machine, "m-1");
        assert_eq!(r.credential.as_ref().unwrap().expose(), "s3cr3t");
        let mode = std::fs::metadata(root.join(CREDENTIAL_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(root.join(REGISTRATION_FILE)).unwrap();
        assert!(!text.contains("s3cr3t"));
        assert!(!format!("{r:?}").contains("s3cr3t"));
        remove(&root).unwrap();
        assert!(load(&root).unwrap().is_none());
    }
}
