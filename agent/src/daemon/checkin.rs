//! One check-in, shared by `alma-ext checkin` and the daemon: collect the
//! facts (with guests, cluster, Hyper-V host and cloud account), spool the
//! request, send the spool oldest first, and record the reply.
//!
//! The current request goes through the spool too: if the process is
//! stopped mid-flight, or the server fails, it is already on disk and is
//! sent at the next chance.

use std::time::Duration;

use alma_ext_proto::api::{CheckinRequest, CheckinResponse};
use alma_ext_proto::{Facts, LifecycleTable, Phase};
use chrono::{DateTime, Utc};

use crate::client::{ApiError, Client, ClientOptions};
use crate::config::Settings;
use crate::registration::{self, write_atomic, Registration};
use crate::root::HostRoot;
use crate::spool::Spool;

/// The lifecycle table last received from the server, as a host path.
pub const LIFECYCLE_FILE: &str = "/var/lib/alma-ext/lifecycle.json";

/// The lifecycle table in force: built in, overlaid with the server's.
pub fn lifecycle_table(root: &HostRoot) -> LifecycleTable {
    let builtin = LifecycleTable::builtin();
    let ignored = |why: &dyn std::fmt::Display| {
        tracing::warn!("ignoring the cached lifecycle table {LIFECYCLE_FILE}: {why}");
    };
    match root.read_to_string(LIFECYCLE_FILE) {
        Ok(Some(t)) => match serde_json::from_str::<LifecycleTable>(&t) {
            Ok(server) => match server.validate() {
                Ok(()) => builtin.merged_with(&server),
                Err(e) => {
                    ignored(&e);
                    builtin
                }
            },
            Err(e) => {
                ignored(&e);
                builtin
            }
        },
        _ => builtin,
    }
}

/// The facts of `root` with the agent-only parts filled in: guests,
/// cluster, Hyper-V host (from files) and, when `with_cloud`, the cloud
/// account (from the metadata service, bounded and cached).
pub async fn collect_facts(
    root: &HostRoot,
    settings: &Settings,
    now: DateTime<Utc>,
    with_cloud: bool,
) -> anyhow::Result<Facts> {
    let mut facts = crate::facts::collect(root)?;
    fill_local(root, &mut facts);
    if with_cloud && facts.cloud_account.is_none() {
        let cloud = facts.machine.cloud.clone();
        facts.cloud_account =
            crate::cloud::account(root, &settings.cloud, cloud.as_deref(), now).await;
    }
    Ok(facts)
}

/// Fill guests, cluster and Hyper-V host when the facts module left them
/// empty.
pub fn fill_local(root: &HostRoot, facts: &mut Facts) {
    if facts.guests.is_empty() {
        facts.guests = crate::guests::collect(root);
    }
    if facts.cluster.is_none() {
        facts.cluster = crate::cluster::collect(root);
    }
    if facts.hyperv_host.is_none() {
        facts.hyperv_host = crate::guests::hyperv_host(root);
    }
}

/// The check-in request for these facts.
pub fn build_request(root: &HostRoot, facts: Facts, now: DateTime<Utc>) -> CheckinRequest {
    let phase = facts
        .os
        .major
        .filter(|_| facts.os.family == "almalinux")
        .and_then(|m| {
            lifecycle_table(root)
                .release(m)
                .map(|r| r.phase_on(now.date_naive()))
        })
        .unwrap_or(Phase::None);
    let switch = alma_ext_switcher::state::load(root.path()).unwrap_or_default();
    CheckinRequest {
        observed_at: now,
        facts,
        lifecycle_phase: Some(phase),
        switch,
        agent_version: Some(env!("CARGO_PKG_VERSION").to_string()),
        security: crate::security::state::for_checkin(root),
    }
}

/// What one check-in did.
#[derive(Debug)]
pub struct Sent {
    pub response: CheckinResponse,
    /// Spooled check-ins from earlier that went out too.
    pub backlog_sent: usize,
    /// Spooled check-ins the server rejected (moved aside).
    pub rejected: usize,
}

/// Why a check-in did not go out.
#[derive(Debug)]
pub enum CheckinError {
    /// The client could not be built (CA file, proxy, URL): configuration.
    Config(String),
    /// The server call failed.
    Api(ApiError),
    /// The spool could not be written and the live send failed as well.
    Local(String),
}

impl std::fmt::Display for CheckinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckinError::Config(m) => write!(f, "{m}"),
            CheckinError::Api(e) => write!(f, "{e}"),
            CheckinError::Local(m) => write!(f, "{m}"),
        }
    }
}

/// Send `req` after the spooled backlog, and record the outcome in the
/// registration. On a retryable failure the request stays spooled.
pub async fn send(
    root: &HostRoot,
    settings: &Settings,
    reg: &mut Registration,
    req: CheckinRequest,
) -> Result<Sent, CheckinError> {
    // One sender at a time (the daemon and a manual `alma-ext checkin`),
    // so no spooled check-in goes out twice.
    let _lock = lock_spool(root).await;
    let spool = Spool::new(root, settings.spool);
    let spooled = match spool.push(&req) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(
                "cannot spool the check-in in {}: {e}",
                spool.dir().display()
            );
            false
        }
    };
    let mut result = send_inner(root, settings, reg, &req, spooled).await;
    if let Err(CheckinError::Api(ApiError::ReregisterRequired(why))) = &result {
        // A clone: the server counts it apart and wants it to register as
        // itself. It does so with the credential it copied.
        tracing::warn!(
            "this machine is a clone of machine {} ({why}): registering as a new machine",
            reg.machine
        );
        match reregister(root, settings, reg, &req).await {
            Ok(()) => result = send_inner(root, settings, reg, &req, spooled).await,
            Err(e) => result = Err(e),
        }
    }
    let now = req.observed_at;
    match &result {
        Ok(sent) => {
            let r = &sent.response;
            reg.entitlement = Some(r.entitlement.clone());
            reg.target = r.target.clone();
            crate::security::state::remember_ask(root, r.security_packages);
            reg.last_checkin = Some(now);
            reg.checkin_interval_secs = Some(r.checkin_interval_secs);
            reg.last_error = None;
            reg.last_error_at = None;
            reg.reported_switch = Some(req.switch.status);
            // A revoked or ended contract is a refusal, although the
            // server took the check-in.
            reg.refusal = crate::access::refusal_in_reply(&r.entitlement, now);
            if let Some(rf) = &reg.refusal {
                let refused = ApiError::Refused {
                    code: rf.code.clone(),
                    message: rf.message.clone(),
                };
                reg.last_error = Some(refused.to_string());
                reg.last_error_at = Some(now);
            }
            if let Some(t) = &r.lifecycle {
                if t.validate().is_ok() {
                    if let Ok(text) = serde_json::to_string_pretty(t) {
                        if let Ok(p) = root.resolve(LIFECYCLE_FILE) {
                            let _ = write_atomic(&p, text.as_bytes(), 0o644);
                        }
                    }
                }
            }
        }
        Err(e) => {
            reg.last_error = Some(e.to_string());
            reg.last_error_at = Some(now);
            if let CheckinError::Api(ApiError::Refused { code, message }) = e {
                reg.refusal = Some(crate::registration::Refusal {
                    code: code.clone(),
                    message: message.clone(),
                    at: now,
                });
            }
        }
    }
    if let Err(e) = registration::save(root, reg) {
        tracing::error!("cannot record the check-in: {e:#}");
    }
    match (&reg.refusal, result) {
        (Some(rf), Ok(_)) => Err(CheckinError::Api(ApiError::Refused {
            code: rf.code.clone(),
            message: rf.message.clone(),
        })),
        (_, result) => result,
    }
}

/// Take `/var/lib/alma-ext/spool.lock`, waiting up to a minute (without
/// blocking the runtime: the watchdog keeps being fed). None when it cannot
/// be had: sending anyway is better than not at all.
async fn lock_spool(root: &HostRoot) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = root.resolve("/var/lib/alma-ext/spool.lock").ok()?;
    registration::create_dirs(path.parent()?).ok()?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ok()?;
    for _ in 0..600 {
        #[allow(deprecated)]
        match nix::fcntl::flock(f.as_raw_fd(), nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(()) => return Some(f),
            Err(nix::errno::Errno::EWOULDBLOCK) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(_) => return None,
        }
    }
    tracing::warn!(
        "{} is held by another check-in for a minute; sending anyway",
        path.display()
    );
    None
}

/// Register a clone as a machine of its own, keeping the label.
async fn reregister(
    root: &HostRoot,
    settings: &Settings,
    reg: &mut Registration,
    req: &CheckinRequest,
) -> Result<(), CheckinError> {
    let credential = reg
        .credential
        .clone()
        .ok_or_else(|| CheckinError::Local("the credential is unreadable".into()))?;
    let client = Client::new(&ClientOptions::from_settings(settings, root, &reg.server))
        .map_err(|e| CheckinError::Config(format!("{e:#}")))?;
    let r = client
        .reregister(
            &credential,
            &alma_ext_proto::api::RegisterRequest {
                activation_key: String::new(),
                system: reg.system.clone(),
                facts: req.facts.clone(),
            },
        )
        .await
        .map_err(CheckinError::Api)?;
    tracing::warn!("registered again as machine {}", r.machine);
    reg.machine = r.machine;
    reg.credential = Some(crate::registration::Secret::new(r.credential));
    reg.entitlement = Some(r.entitlement);
    reg.registered_at = Some(req.observed_at);
    reg.machine_id = req.facts.machine.machine_id.clone();
    reg.uuid = req.facts.machine.uuid.clone();
    reg.checkin_interval_secs = Some(r.checkin_interval_secs);
    registration::save(root, reg).map_err(|e| CheckinError::Local(format!("{e:#}")))?;
    Ok(())
}

async fn send_inner(
    root: &HostRoot,
    settings: &Settings,
    reg: &Registration,
    req: &CheckinRequest,
    spooled: bool,
) -> Result<Sent, CheckinError> {
    let Some(credential) = reg.credential.clone() else {
        return Err(CheckinError::Local(
            "the credential file /var/lib/alma-ext/credential is missing or unreadable (run as root, or register again)"
                .into(),
        ));
    };
    let client = Client::new(&ClientOptions::from_settings(settings, root, &reg.server))
        .map_err(|e| CheckinError::Config(format!("{e:#}")))?;
    let spool = Spool::new(root, settings.spool);
    let mut last: Option<CheckinResponse> = None;
    let mut backlog_sent = 0usize;
    let mut rejected = 0usize;
    let entries = spool.entries();
    let n = entries.len();
    for (i, entry) in entries.into_iter().enumerate() {
        match client.checkin(&credential, &entry.request).await {
            Ok(r) => {
                spool.remove(&entry);
                if i + 1 < n || !spooled {
                    backlog_sent += 1;
                }
                last = Some(r);
            }
            Err(e @ ApiError::Rejected { .. }) => {
                // Sending it again would fail the same way: do not wedge.
                spool.move_aside(
                    &entry.path,
                    "rejected",
                    &format!("was rejected by the server: {e}"),
                );
                rejected += 1;
            }
            Err(e) => return Err(CheckinError::Api(e)),
        }
    }
    if !spooled {
        last = Some(
            client
                .checkin(&credential, req)
                .await
                .map_err(CheckinError::Api)?,
        );
    }
    match last {
        Some(response) => {
            if backlog_sent > 0 {
                tracing::info!("sent {backlog_sent} spooled check-ins");
            }
            Ok(Sent {
                response,
                backlog_sent,
                rejected,
            })
        }
        None => Err(CheckinError::Api(ApiError::Rejected {
            code: "invalid_request".into(),
            message: "the server rejected the check-in".into(),
            field: None,
        })),
    }
}

/// The interval the server asked for, if any.
pub fn server_interval(r: &CheckinResponse) -> Option<Duration> {
    (r.checkin_interval_secs > 0).then(|| Duration::from_secs(r.checkin_interval_secs))
}
