//! The agent <-> server HTTP API, version 1. JSON bodies; the machine
//! credential travels in `Authorization: Bearer`, never in a URL.
//!
//! Paths:
//! - `POST /v1/register`   RegisterRequest  -> RegisterResponse
//! - `POST /v1/checkin`    CheckinRequest   -> CheckinResponse (Bearer)
//! - `POST /v1/unregister` (empty)          -> 204 (Bearer)
//! - `GET  /v1/repo-auth`  for a reverse proxy's auth_request (Basic)
//!
//! Errors are `ErrorBody` with a stable `code`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::facts::Facts;
use crate::lifecycle::{LifecycleTable, Phase};
use crate::target::Target;

pub const PATH_REGISTER: &str = "/v1/register";
pub const PATH_CHECKIN: &str = "/v1/checkin";
pub const PATH_UNREGISTER: &str = "/v1/unregister";
pub const PATH_REPO_AUTH: &str = "/v1/repo-auth";

/// `POST /v1/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The activation key printed by `alma-ext-server contract create`.
    pub activation_key: String,
    /// The admin's label for the platform or cluster this machine is in.
    #[serde(default)]
    pub system: Option<String>,
    pub facts: Facts,
}

/// Reply to a registration.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The server's id for this machine.
    pub machine: String,
    /// Secret bearer credential for later calls. Kept in a 0600 file.
    pub credential: String,
    pub entitlement: Entitlement,
    /// Seconds until the first check-in is due.
    pub checkin_interval_secs: u64,
    /// The switch target for this machine's major version, with its
    /// repository credentials in `auth`, as a check-in would give it, so
    /// that `alma-ext switch` works right after `register`. Absent from
    /// older servers and when the entitlement gives no extended updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("machine", &self.machine)
            .field("credential", &"<redacted>")
            .field("entitlement", &self.entitlement)
            .field("target", &self.target)
            .finish()
    }
}

/// Where the machine stands in its switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwitchStatus {
    /// Community repositories, never switched (or reverted).
    #[default]
    Community,
    /// Switched to the extended-update repository.
    Extended,
    /// A journal exists: a switch or revert was interrupted.
    Interrupted,
    /// The last attempt failed and was rolled back.
    Failed,
}

/// Switch state as recorded by the switcher.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SwitchState {
    pub status: SwitchStatus,
    /// When the current status was reached.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Ids of the repos the switch added.
    #[serde(default)]
    pub repos: Vec<String>,
    /// Why the last attempt failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// `POST /v1/checkin`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckinRequest {
    /// When the agent collected this check-in (spooled check-ins are sent
    /// later with their original time).
    pub observed_at: DateTime<Utc>,
    pub facts: Facts,
    #[serde(default)]
    pub lifecycle_phase: Option<Phase>,
    #[serde(default)]
    pub switch: SwitchState,
    /// Agent version, for the fleet view.
    #[serde(default)]
    pub agent_version: Option<String>,
    /// The last `alma-ext security-status` of the machine (absent from
    /// agents that predate it, or before its first run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySummary>,
}

/// Pending security advisories by severity (advisory ids counted once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SeverityCounts {
    #[serde(rename = "Critical")]
    pub critical: u32,
    #[serde(rename = "Important")]
    pub important: u32,
    #[serde(rename = "Moderate")]
    pub moderate: u32,
    #[serde(rename = "Low")]
    pub low: u32,
}

/// What `alma-ext security-status` found, as a check-in carries it: counts
/// only; the names of the installed packages the extended-update
/// repositories do not carry only when the server asked for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySummary {
    /// The day it was computed (UTC).
    pub at: NaiveDate,
    /// Installed packages.
    pub installed: u32,
    /// Packages an extended-update repository carries; the four coverage
    /// counts are absent when no target was known.
    #[serde(default)]
    pub extended: Option<u32>,
    /// Packages only AlmaLinux's community repositories carry.
    #[serde(default)]
    pub community_only: Option<u32>,
    /// Packages only other repositories carry (EPEL, vendors).
    #[serde(default)]
    pub third_party: Option<u32>,
    /// Packages no enabled repository carries.
    #[serde(default)]
    pub unavailable: Option<u32>,
    /// Pending security advisories by severity.
    pub pending: SeverityCounts,
    /// Installed package names the extended-update repositories do not
    /// carry; only when the server asked (`CheckinResponse.security_packages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_extended: Option<Vec<String>>,
}

/// Contract status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntitlementStatus {
    Active,
    /// Not started yet (support starts the 1st of the next month).
    Pending,
    Expired,
    Revoked,
}

/// What the machine is entitled to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub contract: String,
    pub customer: String,
    /// physical, virtual or platform.
    pub product: String,
    pub status: EntitlementStatus,
    pub starts: NaiveDate,
    pub ends: NaiveDate,
    /// True when the contract gives access to the extended-update repository.
    pub extended_updates: bool,
}

/// Reply to a check-in.
#[derive(Clone, Serialize, Deserialize)]
pub struct CheckinResponse {
    pub entitlement: Entitlement,
    /// Lifecycle dates that override the agent's built-in table.
    #[serde(default)]
    pub lifecycle: Option<LifecycleTable>,
    /// The switch target for this machine's major version, with this
    /// machine's repository credentials in `auth`.
    #[serde(default)]
    pub target: Option<Target>,
    /// Seconds until the next check-in; the agent never checks in sooner
    /// than it planned, only later.
    pub checkin_interval_secs: u64,
    /// The server wants the names of the installed packages the extended
    /// repositories do not carry in the next check-ins' `security`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub security_packages: bool,
}

impl std::fmt::Debug for CheckinResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckinResponse")
            .field("entitlement", &self.entitlement)
            .field("target", &self.target)
            .field("checkin_interval_secs", &self.checkin_interval_secs)
            .finish()
    }
}

/// Every error reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, see `ErrorCode`.
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// The JSON field that was wrong, as a path (`facts.machine.type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Stable error codes.
pub mod code {
    pub const INVALID_REQUEST: &str = "invalid_request";
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const FORBIDDEN: &str = "forbidden";
    pub const NOT_FOUND: &str = "not_found";
    pub const INVALID_ACTIVATION_KEY: &str = "invalid_activation_key";
    pub const CONTRACT_REVOKED: &str = "contract_revoked";
    pub const CONTRACT_FULL: &str = "contract_full";
    /// The credential is presented by a machine whose machine-id or UUID
    /// differs from the registered one: a clone. The agent must register
    /// again.
    pub const REREGISTER_REQUIRED: &str = "reregister_required";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const INTERNAL: &str = "internal";
}
