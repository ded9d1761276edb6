//! The agent's configuration: `/etc/alma-ext/agent.toml` plus
//! `/etc/alma-ext/agent.d/*.toml` drop-ins (in name order, later wins),
//! read under the host root.
//!
//! Zincati-style: every file parses into an all-`Option` fragment, the
//! fragments are merged key by key, and only the merged result is validated
//! into [`Settings`]. Each value remembers the file and line it came from,
//! so an error names file, line and key even when it is found after merging.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alma_ext_i18n::{msg, Localize, Message};
use chrono::NaiveTime;
use serde::Deserialize;
use toml::Spanned;

use crate::root::HostRoot;

/// The main config file, as a host path.
pub const MAIN_FILE: &str = "/etc/alma-ext/agent.toml";
/// The drop-in directory, as a host path.
pub const DROPIN_DIR: &str = "/etc/alma-ext/agent.d";

/// The official AWS account that publishes AlmaLinux AMIs.
pub const ALMALINUX_AWS_OWNER: &str = "764336703387";

/// A configuration error: file, line, key and what is wrong. `Display`
/// is English (logs, JSON); the user reads [`Localize::localized`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// 1-based column, for TOML syntax errors.
    pub column: Option<usize>,
    pub key: Option<String>,
    pub message: Message,
}

impl ConfigError {
    /// `text` of `file` is not valid TOML (or does not fit the file's
    /// shape): the line and column of the toml crate's span, the key on
    /// that line, and the crate's own detail.
    pub fn toml(file: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map(|s| s.start.min(text.len()));
        let column = offset.map(|o| {
            let start = text[..o].rfind('\n').map_or(0, |i| i + 1);
            text[start..o].chars().count() + 1
        });
        let detail = e
            .message()
            .trim()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError {
            file: file.to_path_buf(),
            line: offset.map(|o| line_of(text, o)),
            column,
            key: offset.and_then(|o| key_at(text, o)),
            message: msg!("invalid TOML: {detail}", detail = detail),
        }
    }
}

impl Localize for ConfigError {
    fn localized(&self) -> String {
        let (file, message) = (self.file.display(), self.message.localized());
        if let (Some(line), Some(column)) = (self.line, self.column) {
            return match &self.key {
                Some(key) => alma_ext_i18n::t!(
                    "{file} line {line}, column {column}: {key}: {message}",
                    file = file,
                    line = line,
                    column = column,
                    key = key,
                    message = message
                ),
                None => alma_ext_i18n::t!(
                    "{file} line {line}, column {column}: {message}",
                    file = file,
                    line = line,
                    column = column,
                    message = message
                ),
            };
        }
        match (self.line, &self.key) {
            (Some(line), Some(key)) => alma_ext_i18n::t!(
                "{file} line {line}: {key}: {message}",
                file = file,
                line = line,
                key = key,
                message = message
            ),
            (Some(line), None) => alma_ext_i18n::t!(
                "{file} line {line}: {message}",
                file = file,
                line = line,
                message = message
            ),
            (None, Some(key)) => alma_ext_i18n::t!(
                "{file}: {key}: {message}",
                file = file,
                key = key,
                message = message
            ),
            (None, None) => alma_ext_i18n::t!("{file}: {message}", file = file, message = message),
        }
    }
}

alma_ext_i18n::display_in_english!(ConfigError);

impl std::error::Error for ConfigError {}

/// A duration written as seconds (`14400`) or with a unit (`"4h"`, `"30m"`,
/// `"90d"`, `"45s"`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum DurationValue {
    Secs(u64),
    Text(String),
}

impl DurationValue {
    fn parse(&self) -> Result<Duration, Message> {
        match self {
            DurationValue::Secs(s) => Ok(Duration::from_secs(*s)),
            DurationValue::Text(t) => parse_duration(t),
        }
    }
}

/// Parse `"4h"`, `"30m"`, `"90d"`, `"45s"`, `"1h30m"` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, Message> {
    let t = text.trim();
    if t.is_empty() {
        return Err(msg!("empty duration"));
    }
    if let Ok(s) = t.parse::<u64>() {
        return Ok(Duration::from_secs(s));
    }
    let mut total: u64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            ' ' => continue,
            _ => {
                return Err(msg!(
                    "`{value}` is not a duration (use e.g. 4h, 30m, 90d, 45s)",
                    value = text
                ))
            }
        };
        let n: u64 = num.parse().map_err(|_| {
            msg!(
                "`{value}` is not a duration (use e.g. 4h, 30m, 90d, 45s)",
                value = text
            )
        })?;
        total = total.saturating_add(n.saturating_mul(unit));
        num.clear();
    }
    if !num.is_empty() {
        return Err(msg!(
            "`{value}` is not a duration: a number without a unit at the end",
            value = text
        ));
    }
    Ok(Duration::from_secs(total))
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFrag {
    url: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    proxy: Option<Spanned<String>>,
    timeout: Option<Spanned<DurationValue>>,
}

/// `[checkin]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckinFrag {
    interval: Option<Spanned<DurationValue>>,
    splay: Option<Spanned<DurationValue>>,
    max_backoff: Option<Spanned<DurationValue>>,
    facts_poll: Option<Spanned<DurationValue>>,
}

/// `[system]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemFrag {
    label: Option<Spanned<String>>,
}

/// `[cloud]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudFrag {
    enabled: Option<Spanned<bool>>,
    aws_endpoint: Option<Spanned<String>>,
    azure_endpoint: Option<Spanned<String>>,
    gcp_endpoint: Option<Spanned<String>>,
    oracle_endpoint: Option<Spanned<String>>,
    timeout: Option<Spanned<DurationValue>>,
    cache_ttl: Option<Spanned<DurationValue>>,
}

/// `[switch]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchFrag {
    auto: Option<Spanned<bool>>,
    lead_time: Option<Spanned<DurationValue>>,
    time: Option<Spanned<String>>,
}

/// `[spool]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpoolFrag {
    max_count: Option<Spanned<i64>>,
    max_bytes: Option<Spanned<i64>>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFrag {
    level: Option<Spanned<String>>,
}

/// One file, every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fragment {
    #[serde(default)]
    server: ServerFrag,
    #[serde(default)]
    checkin: CheckinFrag,
    #[serde(default)]
    system: SystemFrag,
    #[serde(default)]
    cloud: CloudFrag,
    #[serde(default)]
    switch: SwitchFrag,
    #[serde(default)]
    spool: SpoolFrag,
    #[serde(default)]
    log: LogFrag,
}

/// A value and where it was written.
#[derive(Debug, Clone)]
struct Src<T> {
    value: T,
    file: PathBuf,
    line: usize,
    key: &'static str,
}

impl<T> Src<T> {
    fn err(&self, message: Message) -> ConfigError {
        ConfigError {
            file: self.file.clone(),
            line: Some(self.line),
            column: None,
            key: Some(self.key.to_string()),
            message,
        }
    }
}

/// The merged fragments: the last file that sets a key wins.
#[derive(Debug, Default)]
struct Merged {
    server_url: Option<Src<String>>,
    ca_file: Option<Src<String>>,
    proxy: Option<Src<String>>,
    timeout: Option<Src<DurationValue>>,
    interval: Option<Src<DurationValue>>,
    splay: Option<Src<DurationValue>>,
    max_backoff: Option<Src<DurationValue>>,
    facts_poll: Option<Src<DurationValue>>,
    label: Option<Src<String>>,
    cloud_enabled: Option<Src<bool>>,
    aws_endpoint: Option<Src<String>>,
    azure_endpoint: Option<Src<String>>,
    gcp_endpoint: Option<Src<String>>,
    oracle_endpoint: Option<Src<String>>,
    cloud_timeout: Option<Src<DurationValue>>,
    cloud_cache_ttl: Option<Src<DurationValue>>,
    switch_auto: Option<Src<bool>>,
    lead_time: Option<Src<DurationValue>>,
    switch_time: Option<Src<String>>,
    spool_max_count: Option<Src<i64>>,
    spool_max_bytes: Option<Src<i64>>,
    log_level: Option<Src<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The dotted key on the line of `offset`, with its `[section]`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line = text[start..].lines().next().unwrap_or("");
    let key = line.split('=').next()?.trim();
    if key.is_empty() || key.starts_with('[') || !line.contains('=') {
        return None;
    }
    let section = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match section {
        Some(s) => format!("{s}.{key}"),
        None => key.to_string(),
    })
}

macro_rules! take {
    ($merged:expr, $field:ident, $value:expr, $key:literal, $file:expr, $text:expr) => {
        if let Some(v) = $value {
            let line = line_of($text, v.span().start);
            $merged.$field = Some(Src {
                value: v.into_inner(),
                file: $file.to_path_buf(),
                line,
                key: $key,
            });
        }
    };
}

impl Merged {
    fn add(&mut self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let frag: Fragment = toml::from_str(text).map_err(|e| ConfigError::toml(file, text, &e))?;
        let t = text;
        take!(self, server_url, frag.server.url, "server.url", file, t);
        take!(
            self,
            ca_file,
            frag.server.ca_file,
            "server.ca_file",
            file,
            t
        );
        take!(self, proxy, frag.server.proxy, "server.proxy", file, t);
        take!(
            self,
            timeout,
            frag.server.timeout,
            "server.timeout",
            file,
            t
        );
        take!(
            self,
            interval,
            frag.checkin.interval,
            "checkin.interval",
            file,
            t
        );
        take!(self, splay, frag.checkin.splay, "checkin.splay", file, t);
        take!(
            self,
            max_backoff,
            frag.checkin.max_backoff,
            "checkin.max_backoff",
            file,
            t
        );
        take!(
            self,
            facts_poll,
            frag.checkin.facts_poll,
            "checkin.facts_poll",
            file,
            t
        );
        take!(self, label, frag.system.label, "system.label", file, t);
        take!(
            self,
            cloud_enabled,
            frag.cloud.enabled,
            "cloud.enabled",
            file,
            t
        );
        take!(
            self,
            aws_endpoint,
            frag.cloud.aws_endpoint,
            "cloud.aws_endpoint",
            file,
            t
        );
        take!(
            self,
            azure_endpoint,
            frag.cloud.azure_endpoint,
            "cloud.azure_endpoint",
            file,
            t
        );
        take!(
            self,
            gcp_endpoint,
            frag.cloud.gcp_endpoint,
            "cloud.gcp_endpoint",
            file,
            t
        );
        take!(
            self,
            oracle_endpoint,
            frag.cloud.oracle_endpoint,
            "cloud.oracle_endpoint",
            file,
            t
        );
        take!(
            self,
            cloud_timeout,
            frag.cloud.timeout,
            "cloud.timeout",
            file,
            t
        );
        take!(
            self,
            cloud_cache_ttl,
            frag.cloud.cache_ttl,
            "cloud.cache_ttl",
            file,
            t
        );
        take!(self, switch_auto, frag.switch.auto, "switch.auto", file, t);
        take!(
            self,
            lead_time,
            frag.switch.lead_time,
            "switch.lead_time",
            file,
            t
        );
        take!(self, switch_time, frag.switch.time, "switch.time", file, t);
        take!(
            self,
            spool_max_count,
            frag.spool.max_count,
            "spool.max_count",
            file,
            t
        );
        take!(
            self,
            spool_max_bytes,
            frag.spool.max_bytes,
            "spool.max_bytes",
            file,
            t
        );
        take!(self, log_level, frag.log.level, "log.level", file, t);
        Ok(())
    }
}

/// Cloud metadata settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudSettings {
    /// Ask the cloud's metadata service at check-in.
    pub enabled: bool,
    pub aws_endpoint: String,
    pub azure_endpoint: String,
    pub gcp_endpoint: String,
    pub oracle_endpoint: String,
    /// Per request; the metadata services answer in milliseconds or not at all.
    pub timeout: Duration,
    /// How long a cached answer is used before asking again.
    pub cache_ttl: Duration,
}

/// The end-of-life switch policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchPolicy {
    /// Run the switch by itself when the extended period starts.
    pub auto: bool,
    /// Warn daily from this long before the extended period starts.
    pub lead_time: Duration,
    /// Local time of day at which the automatic switch runs.
    pub time: NaiveTime,
}

/// Spool bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolLimits {
    pub max_count: usize,
    pub max_bytes: u64,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Entitlement server; `register` uses it when `--server` is not given.
    pub server_url: Option<String>,
    /// Extra CA certificates (PEM) to trust for the server, as a host path.
    pub ca_file: Option<PathBuf>,
    /// HTTP(S) proxy for the server; without it `https_proxy` is honoured.
    pub proxy: Option<String>,
    /// Timeout of one request to the server.
    pub timeout: Duration,
    /// Time between check-ins.
    pub interval: Duration,
    /// Random delay added to each check-in, so a fleet spreads out.
    pub splay: Duration,
    /// Longest wait between retries after failures.
    pub max_backoff: Duration,
    /// How often the daemon looks for a change of the counted facts.
    pub facts_poll: Duration,
    /// The admin's label for the platform or cluster this machine is in.
    pub system: Option<String>,
    pub cloud: CloudSettings,
    pub switch: SwitchPolicy,
    pub spool: SpoolLimits,
    /// Log level: error, warn, info, debug, trace.
    pub log_level: String,
    /// The files that were read, in order.
    pub files: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server_url: None,
            ca_file: None,
            proxy: None,
            timeout: Duration::from_secs(30),
            interval: Duration::from_secs(4 * 3600),
            splay: Duration::from_secs(30 * 60),
            max_backoff: Duration::from_secs(3600),
            facts_poll: Duration::from_secs(300),
            system: None,
            cloud: CloudSettings {
                enabled: true,
                aws_endpoint: "http://169.254.169.254".into(),
                azure_endpoint: "http://169.254.169.254".into(),
                gcp_endpoint: "http://metadata.google.internal".into(),
                oracle_endpoint: "http://169.254.169.254".into(),
                timeout: Duration::from_secs(2),
                cache_ttl: Duration::from_secs(24 * 3600),
            },
            switch: SwitchPolicy {
                auto: false,
                lead_time: Duration::from_secs(90 * 86400),
                time: NaiveTime::from_hms_opt(3, 0, 0).expect("valid time"),
            },
            spool: SpoolLimits {
                max_count: 500,
                max_bytes: 8 * 1024 * 1024,
            },
            log_level: "warn".into(),
            files: Vec::new(),
        }
    }
}

/// Is `url` acceptable for the server: `https://`, or `http://` to a
/// loopback address only (a credential must never cross a network in clear).
pub fn check_server_url(url: &str) -> Result<reqwest::Url, Message> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| msg!("`{value}` is not a URL: {error}", value = url, error = e))?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || bare
                    .parse::<std::net::IpAddr>()
                    .map(|a| a.is_loopback())
                    .unwrap_or(false);
            if !loopback {
                return Err(msg!(
                    "`{value}`: http:// is allowed only to a loopback address (127.0.0.1, [::1], localhost); use https://",
                    value = url
                ));
            }
        }
        other => {
            return Err(msg!(
                "`{value}`: scheme {scheme}:// is not supported; use https://",
                value = url,
                scheme = other
            ))
        }
    }
    if parsed.host_str().is_none() {
        return Err(msg!("`{value}` has no host", value = url));
    }
    Ok(parsed)
}

/// Add `https://` when the user gave a bare host name.
pub fn normalize_server_url(url: &str) -> String {
    let u = url.trim().trim_end_matches('/');
    if u.contains("://") {
        u.to_string()
    } else {
        format!("https://{u}")
    }
}

fn dur(v: &Option<Src<DurationValue>>, default: Duration) -> Result<Duration, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => s.value.parse().map_err(|m| s.err(m)),
    }
}

fn endpoint(v: &Option<Src<String>>, default: &str) -> Result<String, ConfigError> {
    match v {
        None => Ok(default.to_string()),
        Some(s) => {
            let u = reqwest::Url::parse(&s.value).map_err(|e| {
                s.err(msg!(
                    "`{value}` is not a URL: {error}",
                    value = s.value,
                    error = e
                ))
            })?;
            if u.scheme() != "http" && u.scheme() != "https" {
                return Err(s.err(msg!("`{value}`: use http:// or https://", value = s.value)));
            }
            Ok(s.value.trim_end_matches('/').to_string())
        }
    }
}

impl Merged {
    fn validate(self, files: Vec<PathBuf>) -> Result<Settings, ConfigError> {
        let d = Settings::default();
        let server_url = match &self.server_url {
            None => None,
            Some(s) => {
                let u = normalize_server_url(&s.value);
                check_server_url(&u).map_err(|m| s.err(m))?;
                Some(u)
            }
        };
        let ca_file = match &self.ca_file {
            None => None,
            Some(s) if !s.value.starts_with('/') => {
                return Err(s.err(msg!("`{value}` must be an absolute path", value = s.value)))
            }
            Some(s) => Some(PathBuf::from(&s.value)),
        };
        let proxy = match &self.proxy {
            None => None,
            Some(s) if s.value.trim().is_empty() => None,
            Some(s) => {
                reqwest::Proxy::all(&s.value).map_err(|e| {
                    s.err(msg!(
                        "`{value}` is not a proxy URL: {error}",
                        value = s.value,
                        error = e
                    ))
                })?;
                Some(s.value.clone())
            }
        };
        let timeout = dur(&self.timeout, d.timeout)?;
        if timeout.is_zero() {
            return Err(self
                .timeout
                .as_ref()
                .unwrap()
                .err(msg!("must be more than 0")));
        }
        let interval = dur(&self.interval, d.interval)?;
        if interval < Duration::from_secs(60) || interval > Duration::from_secs(7 * 86400) {
            let s = self.interval.as_ref().unwrap();
            return Err(s.err(msg!("must be between 1m and 7d")));
        }
        let splay = dur(&self.splay, d.splay.min(interval / 2))?;
        if splay > interval {
            let s = self.splay.as_ref().unwrap();
            return Err(s.err(msg!("must not be longer than checkin.interval")));
        }
        let max_backoff = dur(&self.max_backoff, d.max_backoff.min(interval))?;
        if max_backoff < Duration::from_secs(1) {
            return Err(self
                .max_backoff
                .as_ref()
                .unwrap()
                .err(msg!("must be at least 1s")));
        }
        let facts_poll = dur(&self.facts_poll, d.facts_poll)?;
        if facts_poll < Duration::from_secs(10) {
            return Err(self
                .facts_poll
                .as_ref()
                .unwrap()
                .err(msg!("must be at least 10s")));
        }
        let system = match &self.label {
            None => None,
            Some(s) if s.value.trim().is_empty() => return Err(s.err(msg!("must not be empty"))),
            Some(s) if s.value.len() > 200 => {
                return Err(s.err(msg!("is longer than 200 characters")))
            }
            Some(s) => Some(s.value.trim().to_string()),
        };
        let cloud = CloudSettings {
            enabled: self
                .cloud_enabled
                .as_ref()
                .map(|s| s.value)
                .unwrap_or(d.cloud.enabled),
            aws_endpoint: endpoint(&self.aws_endpoint, &d.cloud.aws_endpoint)?,
            azure_endpoint: endpoint(&self.azure_endpoint, &d.cloud.azure_endpoint)?,
            gcp_endpoint: endpoint(&self.gcp_endpoint, &d.cloud.gcp_endpoint)?,
            oracle_endpoint: endpoint(&self.oracle_endpoint, &d.cloud.oracle_endpoint)?,
            timeout: dur(&self.cloud_timeout, d.cloud.timeout)?,
            cache_ttl: dur(&self.cloud_cache_ttl, d.cloud.cache_ttl)?,
        };
        if cloud.timeout.is_zero() || cloud.timeout > Duration::from_secs(30) {
            return Err(self
                .cloud_timeout
                .as_ref()
                .unwrap()
                .err(msg!("must be between 1ms and 30s")));
        }
        let time = match &self.switch_time {
            None => d.switch.time,
            Some(s) => NaiveTime::parse_from_str(&s.value, "%H:%M").map_err(|_| {
                s.err(msg!(
                    "`{value}` is not a time of day HH:MM",
                    value = s.value
                ))
            })?,
        };
        let switch = SwitchPolicy {
            auto: self.switch_auto.as_ref().map(|s| s.value).unwrap_or(false),
            lead_time: dur(&self.lead_time, d.switch.lead_time)?,
            time,
        };
        let max_count = match &self.spool_max_count {
            None => d.spool.max_count,
            Some(s) if s.value < 2 || s.value > 100_000 => {
                return Err(s.err(msg!("must be between 2 and 100000")))
            }
            Some(s) => s.value as usize,
        };
        let max_bytes = match &self.spool_max_bytes {
            None => d.spool.max_bytes,
            Some(s) if s.value < 65536 || s.value > 1 << 30 => {
                return Err(s.err(msg!("must be between 65536 and 1073741824")))
            }
            Some(s) => s.value as u64,
        };
        let log_level = match &self.log_level {
            None => d.log_level,
            Some(s) => {
                let l = s.value.to_ascii_lowercase();
                if !["error", "warn", "info", "debug", "trace"].contains(&l.as_str()) {
                    return Err(s.err(msg!(
                        "`{value}` is not one of error, warn, info, debug, trace",
                        value = s.value
                    )));
                }
                l
            }
        };
        Ok(Settings {
            server_url,
            ca_file,
            proxy,
            timeout,
            interval,
            splay,
            max_backoff,
            facts_poll,
            system,
            cloud,
            switch,
            spool: SpoolLimits {
                max_count,
                max_bytes,
            },
            log_level,
            files,
        })
    }
}

/// Parse and validate a set of (file name, text) pairs, in order. Pure.
pub fn from_texts(files: &[(PathBuf, String)]) -> Result<Settings, ConfigError> {
    let mut merged = Merged::default();
    for (path, text) in files {
        merged.add(path, text)?;
    }
    merged.validate(files.iter().map(|(p, _)| p.clone()).collect())
}

/// Read the configuration of the host under `root`. Missing files are fine
/// (defaults); unreadable or invalid ones are errors. Paths in errors are
/// host paths (`/etc/alma-ext/agent.toml`).
pub fn load(root: &HostRoot) -> Result<Settings, ConfigError> {
    let mut files = Vec::new();
    let read = |abs: &Path| -> Result<Option<String>, ConfigError> {
        root.read_to_string(abs).map_err(|e| ConfigError {
            file: abs.to_path_buf(),
            line: None,
            column: None,
            key: None,
            message: msg!("cannot read: {error}", error = e),
        })
    };
    if let Some(text) = read(Path::new(MAIN_FILE))? {
        files.push((PathBuf::from(MAIN_FILE), text));
    }
    match root.read_dir_names(DROPIN_DIR) {
        Ok(None) => {}
        Ok(Some(names)) => {
            let names = names
                .into_iter()
                .filter(|n| n.ends_with(".toml") && !n.starts_with('.'));
            for n in names {
                let abs = Path::new(DROPIN_DIR).join(&n);
                if let Some(text) = read(&abs)? {
                    files.push((abs, text));
                }
            }
        }
        Err(e) => {
            return Err(ConfigError {
                file: PathBuf::from(DROPIN_DIR),
                line: None,
                column: None,
                key: None,
                message: msg!("cannot read directory: {error}", error = e),
            })
        }
    }
    from_texts(&files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Settings, ConfigError> {
        from_texts(&[(PathBuf::from("/etc/alma-ext/agent.toml"), text.to_string())])
    }

    #[test]
    fn defaults() {
        let s = one("").unwrap();
        assert_eq!(s.interval, Duration::from_secs(4 * 3600));
        assert!(!s.switch.auto);
        assert!(s.cloud.enabled);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("4h").unwrap(), Duration::from_secs(14400));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86400)
        );
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        assert!(parse_duration("4x").is_err());
        assert!(parse_duration("4").is_ok());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("5m3").is_err());
    }

    #[test]
    fn unknown_key_names_file_line_key() {
        let e = one("[checkin]\ninterval = \"4h\"\nintervl = \"5h\"\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.key.as_deref(), Some("checkin.intervl"));
        assert!(
            e.to_string().starts_with(
                "/etc/alma-ext/agent.toml line 3, column 1: checkin.intervl: invalid TOML: \
                 unknown field `intervl`"
            ),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_names_key() {
        let e = one("[switch]\nauto = \"yes\"\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert_eq!(e.key.as_deref(), Some("switch.auto"));
    }

    #[test]
    fn invalid_value_after_merge_names_the_dropin() {
        let files = vec![
            (
                PathBuf::from("/etc/alma-ext/agent.toml"),
                "[checkin]\ninterval = \"4h\"\n".to_string(),
            ),
            (
                PathBuf::from("/etc/alma-ext/agent.d/10-x.toml"),
                "# comment\n[checkin]\n\ninterval = \"10s\"\n".to_string(),
            ),
        ];
        let e = from_texts(&files).unwrap_err();
        assert_eq!(e.file, PathBuf::from("/etc/alma-ext/agent.d/10-x.toml"));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.key.as_deref(), Some("checkin.interval"));
    }

    #[test]
    fn dropin_overrides_main() {
        let files = vec![
            (
                PathBuf::from("/a"),
                "[system]\nlabel = \"a\"\n[checkin]\ninterval = \"2h\"\n".to_string(),
            ),
            (PathBuf::from("/b"), "[system]\nlabel = \"b\"\n".to_string()),
        ];
        let s = from_texts(&files).unwrap();
        assert_eq!(s.system.as_deref(), Some("b"));
        assert_eq!(s.interval, Duration::from_secs(7200));
    }

    #[test]
    fn server_url_rules() {
        assert!(check_server_url("https://ext.example.com").is_ok());
        assert!(check_server_url("http://127.0.0.1:8080").is_ok());
        assert!(check_server_url("http://[::1]:8080").is_ok());
        assert!(check_server_url("http://localhost:8080").is_ok());
        assert!(check_server_url("http://ext.example.com").is_err());
        assert!(check_server_url("http://10.0.0.1").is_err());
        assert!(check_server_url("ftp://x").is_err());
        assert_eq!(
            normalize_server_url("ext.example.com/"),
            "https://ext.example.com"
        );
        let e = one("[server]\nurl = \"http://ext.example.com\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("server.url"));
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn switch_time() {
        let s = one("[switch]\nauto = true\ntime = \"02:30\"\nlead_time = \"30d\"\n").unwrap();
        assert!(s.switch.auto);
        assert_eq!(s.switch.time, NaiveTime::from_hms_opt(2, 30, 0).unwrap());
        let e = one("[switch]\ntime = \"25:00\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("switch.time"));
    }

    #[test]
    fn syntax_error_has_line() {
        let e = one("[server]\nurl = \"https://x\n").unwrap_err();
        assert_eq!(e.line, Some(2));
    }
}

#[cfg(test)]
mod dist_tests {
    /// The commented default file that the RPM installs parses, and every
    /// value it shows is the default.
    #[test]
    fn dist_file_is_valid_and_shows_the_defaults() {
        let text = include_str!("../dist/agent.toml");
        let path = std::path::PathBuf::from("/etc/alma-ext/agent.toml");
        let s = super::from_texts(&[(path.clone(), text.to_string())]).unwrap();
        let d = super::Settings {
            files: vec![path.clone()],
            ..Default::default()
        };
        assert_eq!(s, d);
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix('#')
                    .filter(|r| !r.starts_with(' ') && !r.is_empty())
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let u = super::from_texts(&[(path, uncommented)]).unwrap();
        assert_eq!(u.interval, d.interval);
        assert_eq!(u.splay, d.splay);
        assert_eq!(u.switch, d.switch);
        assert_eq!(u.spool, d.spool);
        assert_eq!(u.cloud, d.cloud);
    }
}
