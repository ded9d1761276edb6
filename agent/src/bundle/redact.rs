//! Redaction and obfuscation of what goes into a support bundle: pure
//! functions of text, no I/O.
//!
//! Redaction (always): the values of `password=`, `proxy_password=` and
//! similar keys, the `user:password@` of URLs (proxy settings included),
//! `Authorization:` values and bearer tokens, activation keys, private key
//! blocks, and every secret value the caller knows (the machine credential)
//! or that [`Redactor::learn`] found in another file, wherever it appears.
//! Each becomes [`MASK`].
//!
//! Obfuscation (`--obfuscate`): host names, IPv4 and IPv6 addresses, the
//! machine id, DMI UUIDs and serial numbers become stable placeholders
//! (`host-1`, `192.0.2.1`, `2001:db8::1`, `machine-id-1`, `uuid-1`,
//! `serial-1`): the same value gets the same placeholder in every file of
//! one bundle. The mapping is kept for the caller, who stores it outside
//! the bundle.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use base64::Engine;
use regex::{Regex, RegexBuilder};
use serde_json::Value;

/// What every redacted value becomes.
pub const MASK: &str = "********";

/// Learned secrets shorter than this are masked where their key names them
/// but not searched for in other text: a two-letter password would mask
/// every word it is part of.
const MIN_LEARNED_SECRET: usize = 4;

/// `key = value`, `key: value`, `"key": "value"` where the key names a
/// secret. Group 1 is everything up to the value, group 2 the rest of the
/// line.
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?im)(\b(?:proxy[_-]password|password|passwd|sslclientkeypassword|activation[_-]?key|alma_ext_activation_key|client[_-]secret|secret|token|credential|authorization)\b["']?[ \t]*[=:][ \t]*)([^\r\n]*)"#,
    )
    .expect("valid regex")
});

/// Command-line forms: `--key VALUE`, `--password=VALUE`.
static FLAG_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(--(?:key|password|proxy-password|proxy_password)(?:=|[ \t]+))([^\s'\x22]+)")
        .expect("valid regex")
});

/// The userinfo of a URL with a password: `scheme://user:password@`.
/// Greedy up to the last `@` before white space or a quote, so a password
/// with an unescaped `@` is masked whole.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#@"'<>]*:[^\s"<>]*)@"#).expect("valid regex")
});

/// A scheme-less proxy setting with credentials: `proxy = user:pass@host`.
static PROXY_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?im)^([ \t]*proxy[ \t]*=[ \t]*)([^\s:/@"']+:(?:[^/\s"][^\s"]*)?)@"#)
        .expect("valid regex")
});

/// `Bearer <token>` / `Basic <token>` anywhere.
static AUTH_SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|basic)([ \t]+)([A-Za-z0-9._~+/=\-]{8,})").expect("valid regex")
});

/// A PEM private key block (never useful to support, always secret).
static PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
    .expect("valid regex")
});

/// An activation key (`aek_`) or machine credential (`aec_`) as the
/// entitlement server issues them, wherever it stands.
static ISSUED_SECRET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:aek|aec)_[A-Za-z0-9_-]{43}").expect("valid regex"));

/// The host of a URL (group 1).
static URL_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z][a-z0-9+.\-]*://(?:[^\s/?#@]*@)?([a-z0-9][a-z0-9.\-]*[a-z0-9])")
        .expect("valid regex")
});

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}\b")
        .expect("valid regex")
});

/// A candidate IPv6 address: a run of hex digits and colons with at least
/// two colons (checked by parsing).
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*").expect("valid regex")
});

/// True when `text` contains a PEM private key.
pub fn contains_private_key(text: &str) -> bool {
    PRIVATE_KEY.is_match(text)
}

/// The kinds of identifier `--obfuscate` replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IdKind {
    Host,
    MachineId,
    Uuid,
    Serial,
    Ipv4,
    Ipv6,
}

impl IdKind {
    fn placeholder(self, n: usize) -> String {
        match self {
            IdKind::Host => format!("host-{n}"),
            IdKind::MachineId => format!("machine-id-{n}"),
            IdKind::Uuid => format!("uuid-{n}"),
            IdKind::Serial => format!("serial-{n}"),
            // The documentation ranges (RFC 5737, RFC 3849).
            IdKind::Ipv4 => match n {
                1..=254 => format!("192.0.2.{n}"),
                255..=508 => format!("198.51.100.{}", n - 254),
                509..=762 => format!("203.0.113.{}", n - 508),
                _ => format!("ipv4-{n}"),
            },
            IdKind::Ipv6 => format!("2001:db8::{n:x}"),
        }
    }
}

/// One placeholder and the value it stands for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    pub placeholder: String,
    pub original: String,
}

/// Stable placeholders for identifiers.
#[derive(Debug, Default)]
struct Obfuscator {
    /// Lower-cased value -> placeholder.
    known: BTreeMap<(IdKind, String), String>,
    counters: BTreeMap<IdKind, usize>,
    mapping: Vec<Mapping>,
    /// The literal identifiers (not addresses), longest first, as one
    /// case-insensitive pattern; rebuilt when one is added.
    literals: Option<Regex>,
    literal_placeholders: BTreeMap<String, String>,
}

impl Obfuscator {
    fn placeholder(&mut self, kind: IdKind, value: &str) -> String {
        let key = (kind, value.to_ascii_lowercase());
        if let Some(p) = self.known.get(&key) {
            return p.clone();
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        let p = kind.placeholder(*n);
        self.known.insert(key, p.clone());
        self.mapping.push(Mapping {
            placeholder: p.clone(),
            original: value.to_string(),
        });
        p
    }

    /// Replace `value` wherever it appears; `spelling_of` names another
    /// value whose placeholder it shares (the dashed machine id).
    fn add_literal(&mut self, kind: IdKind, value: &str, spelling_of: Option<&str>) {
        let lower = value.to_ascii_lowercase();
        if self.literal_placeholders.contains_key(&lower) || is_placeholder(&lower) {
            return;
        }
        let p = match spelling_of {
            Some(other) => self.placeholder(kind, other),
            None => self.placeholder(kind, value),
        };
        self.literal_placeholders.insert(lower, p);
        self.literals = None;
    }

    fn literal_pattern(&mut self) -> Option<&Regex> {
        if self.literals.is_none() && !self.literal_placeholders.is_empty() {
            self.literals = Some(literal_regex(self.literal_placeholders.keys(), true));
        }
        self.literals.as_ref()
    }

    fn apply(&mut self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(re) = self.literal_pattern().cloned() {
            out = replace_bounded(&out, &re, |m| {
                self.literal_placeholders
                    .get(&m.to_ascii_lowercase())
                    .cloned()
            });
        }
        out = replace_bounded(&out, &IPV4, |m| {
            let ip: Ipv4Addr = m.parse().ok()?;
            if ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() || ip.octets()[0] == 255
            {
                return None;
            }
            Some(self.placeholder(IdKind::Ipv4, m))
        });
        out = replace_ipv6(&out, |ip| {
            if ip.is_loopback() || ip.is_unspecified() {
                return None;
            }
            // Keyed by the canonical form: `FE80::1` and `fe80::1` are one.
            Some(self.placeholder(IdKind::Ipv6, &ip.to_string()))
        });
        out
    }
}

/// One pattern matching any of `values`, the longest first where several
/// start at the same place.
fn literal_regex<'a>(values: impl Iterator<Item = &'a String>, case_insensitive: bool) -> Regex {
    let mut values: Vec<&String> = values.collect();
    values.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    let alternation = values
        .iter()
        .map(|v| regex::escape(v))
        .collect::<Vec<_>>()
        .join("|");
    RegexBuilder::new(&alternation)
        .case_insensitive(case_insensitive)
        .size_limit(64 << 20)
        .build()
        .expect("escaped literals form a valid regex")
}

fn is_placeholder(v: &str) -> bool {
    ["host-", "machine-id-", "uuid-", "serial-"]
        .iter()
        .any(|p| v.strip_prefix(p).is_some_and(|n| n.parse::<u32>().is_ok()))
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Replace the matches of `re` whose neighbours are not word characters
/// (nor a `.` followed by a digit, which makes a version number) with what
/// `with` returns; `None` keeps the match.
fn replace_bounded(text: &str, re: &Regex, mut with: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in re.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        let after2 = text[m.end()..].chars().nth(1);
        let before2 = text[..m.start()].chars().rev().nth(1);
        // "x.10.1.2.3" or "10.1.2.3.4" is part of a version or a longer name.
        let dotted_before =
            before == Some('.') && before2.is_some_and(|c| c.is_ascii_alphanumeric());
        let dotted_after = after == Some('.') && after2.is_some_and(|c| c.is_ascii_digit());
        let bounded = !(before.is_some_and(is_word)
            || after.is_some_and(is_word)
            || dotted_before
            || dotted_after);
        if !bounded {
            continue;
        }
        if let Some(r) = with(m.as_str()) {
            out.push_str(&text[last..m.start()]);
            out.push_str(&r);
            last = m.end();
        }
    }
    out.push_str(&text[last..]);
    out
}

fn replace_ipv6(text: &str, mut with: impl FnMut(Ipv6Addr) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in IPV6.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        // "fe80::1:" at the end of a phrase: try without trailing colons.
        let mut cand = m.as_str();
        let mut ip = cand.parse::<Ipv6Addr>().ok();
        while ip.is_none() && cand.ends_with(':') && !cand.ends_with("::") {
            cand = &cand[..cand.len() - 1];
            ip = cand.parse::<Ipv6Addr>().ok();
        }
        let Some(ip) = ip else { continue };
        if let Some(r) = with(ip) {
            out.push_str(&text[last..m.start()]);
            out.push_str(&r);
            last = m.start() + cand.len();
        }
    }
    out.push_str(&text[last..]);
    out
}

/// A quoted value: the part inside the quotes and the rest of the line.
fn split_quoted(v: &str) -> Option<(char, &str, &str)> {
    let q = v.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &v[1..];
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == q {
            return Some((q, &body[..i], &body[i + 1..]));
        }
    }
    Some((q, body, ""))
}

/// Rule-based redaction, without literals. Returns the text, the count, and
/// the secret values it masked.
fn redact_rules(text: &str) -> (String, u64, Vec<String>) {
    let mut count = 0u64;
    let mut found = Vec::new();
    let text = PRIVATE_KEY.replace_all(text, |_: &regex::Captures| {
        count += 1;
        MASK.to_string()
    });
    let text = ISSUED_SECRET.replace_all(&text, |c: &regex::Captures| {
        count += 1;
        found.push(c[0].to_string());
        MASK.to_string()
    });
    let text = KEY_VALUE.replace_all(&text, |c: &regex::Captures| {
        let key = &c[1];
        let v = &c[2];
        let value = v.trim();
        if value.is_empty() || value.starts_with(MASK) || value == "null" {
            return c[0].to_string();
        }
        match split_quoted(v) {
            Some((_, inside, _)) if inside.is_empty() || inside == MASK => c[0].to_string(),
            Some((q, inside, rest)) => {
                count += 1;
                found.push(inside.to_string());
                format!("{key}{q}{MASK}{q}{rest}")
            }
            None => {
                count += 1;
                found.push(value.to_string());
                // An Authorization value is "scheme token": the token too.
                found.extend(
                    value
                        .split_whitespace()
                        .filter(|w| w.len() >= 8)
                        .map(str::to_string),
                );
                format!("{key}{MASK}")
            }
        }
    });
    let text = FLAG_VALUE.replace_all(&text, |c: &regex::Captures| {
        if &c[2] == MASK {
            return c[0].to_string();
        }
        count += 1;
        found.push(c[2].to_string());
        format!("{}{MASK}", &c[1])
    });
    let text = URL_USERINFO.replace_all(&text, |c: &regex::Captures| {
        count += 1;
        let info = &c[2];
        if let Some((_, pw)) = info.split_once(':') {
            found.push(pw.to_string());
        }
        format!("{}{MASK}@", &c[1])
    });
    let text = PROXY_USERINFO.replace_all(&text, |c: &regex::Captures| {
        count += 1;
        if let Some((_, pw)) = c[2].split_once(':') {
            found.push(pw.to_string());
        }
        format!("{}{MASK}@", &c[1])
    });
    let text = AUTH_SCHEME.replace_all(&text, |c: &regex::Captures| {
        if c[3].starts_with('*') {
            return c[0].to_string();
        }
        count += 1;
        found.push(c[3].to_string());
        format!("{}{}{MASK}", &c[1], &c[2])
    });
    (text.into_owned(), count, found)
}

/// Redacts secrets and, when asked, obfuscates identifiers, counting the
/// redactions. One per bundle: what it learns from one file it applies to
/// every other.
#[derive(Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
    secret_pattern: Option<Regex>,
    obfuscator: Option<Obfuscator>,
    redactions: u64,
}

impl Redactor {
    /// A redactor; `obfuscate` adds the identifier placeholders.
    pub fn new(obfuscate: bool) -> Redactor {
        Redactor {
            obfuscator: obfuscate.then(Obfuscator::default),
            ..Redactor::default()
        }
    }

    /// Mask `secret` wherever it appears (the machine credential, a
    /// repository password). Empty values are ignored.
    pub fn add_secret(&mut self, secret: &str) {
        let s = secret.trim();
        if s.is_empty() || s == MASK || self.secrets.iter().any(|x| x == s) {
            return;
        }
        self.secrets.push(s.to_string());
        self.secret_pattern = None;
    }

    /// Replace `value` (a host name, the machine id, a DMI UUID or serial)
    /// with a placeholder wherever it appears, when obfuscating.
    pub fn add_identifier(&mut self, kind: IdKind, value: &str) {
        let v = value.trim().trim_end_matches('.');
        if v.len() < 2 || !useful_identifier(kind, v) {
            return;
        }
        if let Some(o) = &mut self.obfuscator {
            o.add_literal(kind, v, None);
            if kind == IdKind::MachineId && v.len() == 32 && v.is_ascii() {
                // systemd shows it as a UUID too.
                let dashed = format!(
                    "{}-{}-{}-{}-{}",
                    &v[..8],
                    &v[8..12],
                    &v[12..16],
                    &v[16..20],
                    &v[20..]
                );
                o.add_literal(kind, &dashed, Some(v));
            }
        }
    }

    /// Learn the secrets and host names `text` reveals (the value of every
    /// `password=`, the password of every URL, the host of every URL), so
    /// that they are masked in every file, not only where their key names
    /// them.
    pub fn learn(&mut self, text: &str) {
        let (_, _, found) = redact_rules(text);
        for s in found {
            let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
            if learnable(s) {
                self.add_secret(s);
            }
        }
        if self.obfuscator.is_some() {
            let hosts: Vec<String> = URL_HOST
                .captures_iter(text)
                .map(|c| c[1].to_string())
                .collect();
            for h in hosts {
                self.add_identifier(IdKind::Host, &h);
            }
        }
    }

    /// Learn from every string of a JSON value.
    pub fn learn_json(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.learn(s),
            Value::Array(a) => a.iter().for_each(|v| self.learn_json(v)),
            Value::Object(o) => {
                for (k, v) in o {
                    match v {
                        Value::String(s) if is_secret_key(k) => {
                            if learnable(s) {
                                self.add_secret(s)
                            }
                        }
                        _ => self.learn_json(v),
                    }
                }
            }
            _ => {}
        }
    }

    /// How many values were masked so far.
    pub fn redactions(&self) -> u64 {
        self.redactions
    }

    /// The placeholders handed out so far, in order (empty without
    /// obfuscation).
    pub fn mapping(&self) -> Vec<Mapping> {
        self.obfuscator
            .as_ref()
            .map(|o| o.mapping.clone())
            .unwrap_or_default()
    }

    fn secret_pattern(&mut self) -> Option<&Regex> {
        if self.secret_pattern.is_none() && !self.secrets.is_empty() {
            self.secret_pattern = Some(literal_regex(self.secrets.iter(), false));
        }
        self.secret_pattern.as_ref()
    }

    /// Redact (and obfuscate) one text.
    pub fn redact(&mut self, text: &str) -> String {
        let (mut out, n, _) = redact_rules(text);
        self.redactions += n;
        if let Some(re) = self.secret_pattern().cloned() {
            let mut n = 0;
            out = re
                .replace_all(&out, |_: &regex::Captures| {
                    n += 1;
                    MASK
                })
                .into_owned();
            self.redactions += n;
        }
        if let Some(o) = &mut self.obfuscator {
            out = o.apply(&out);
        }
        out
    }

    /// Redact (and obfuscate) every string value of a JSON value (keys are
    /// left as they are).
    /// A value under a key that names a secret is masked whole; a switch
    /// journal's base64 `data` (a repo file's bytes) is decoded, redacted and
    /// kept as `text`, since the bytes themselves may hold a password.
    pub fn redact_json(&mut self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(o) => {
                let blob = o.contains_key("sha256") && o.get("data").is_some_and(Value::is_string);
                let mut out = serde_json::Map::new();
                for (k, v) in o {
                    // Keys are the schema's names ("server", "hostname"):
                    // never rewritten, or a host called "server" would
                    // rename them.
                    let key = k.clone();
                    let new = match v {
                        Value::String(s) if is_secret_key(k) && !s.is_empty() => {
                            self.redactions += 1;
                            Value::String(MASK.into())
                        }
                        Value::String(s) if blob && k == "data" => {
                            match base64::engine::general_purpose::STANDARD.decode(s) {
                                Ok(bytes) => match String::from_utf8(bytes) {
                                    Ok(t) => {
                                        out.insert("text".into(), Value::String(self.redact(&t)));
                                        continue;
                                    }
                                    Err(e) => Value::String(format!(
                                        "[{} bytes of binary data left out]",
                                        e.as_bytes().len()
                                    )),
                                },
                                Err(_) => Value::String(self.redact(s)),
                            }
                        }
                        _ => self.redact_json(v),
                    };
                    out.insert(key, new);
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// Whether a value found under a secret's key is worth masking in every
/// other file: not too short, not a word every config has.
fn learnable(s: &str) -> bool {
    s.chars().count() >= MIN_LEARNED_SECRET
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "none" | "null" | "yes" | "no" | "empty"
        )
}

/// JSON keys whose string value is a secret.
fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "password"
            | "proxy_password"
            | "passwd"
            | "credential"
            | "token"
            | "secret"
            | "client_secret"
            | "activation_key"
            | "authorization"
            | "sslclientkeypassword"
    )
}

/// Values that identify nothing (firmware defaults, `localhost`).
fn useful_identifier(kind: IdKind, v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    match kind {
        IdKind::Host => {
            !(l == "localhost"
                || l.starts_with("localhost.")
                || l == "localdomain"
                || l.ends_with("almalinux.org")
                || l.parse::<std::net::IpAddr>().is_ok()
                || !l.chars().any(|c| c.is_ascii_alphabetic()))
        }
        IdKind::Serial | IdKind::Uuid => {
            v.len() >= 4
                && !matches!(
                    l.as_str(),
                    "not specified"
                        | "to be filled by o.e.m."
                        | "default string"
                        | "none"
                        | "system serial number"
                        | "0123456789"
                        | "00000000-0000-0000-0000-000000000000"
                        | "03000200-0400-0500-0006-000700080009"
                )
                && !l.chars().all(|c| c == '0' || c == '-' || c == ' ')
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn red(text: &str) -> String {
        Redactor::new(false).redact(text)
    }

    #[test]
    fn repo_password_and_proxy_password_values_are_masked() {
        let out = red("[ext]\nusername=m-1\npassword=s3cr3t!\nproxy_password = pr0xy\n");
        assert_eq!(
            out,
            "[ext]\nusername=m-1\npassword=********\nproxy_password = ********\n"
        );
    }

    #[test]
    fn url_userinfo_is_masked_with_and_without_scheme() {
        assert_eq!(
            red("proxy = \"http://bob:hunter2@proxy.corp:3128\""),
            "proxy = \"http://********@proxy.corp:3128\""
        );
        assert_eq!(
            red("proxy=bob:hunter2@proxy.corp:3128"),
            "proxy=********@proxy.corp:3128"
        );
        assert_eq!(
            red("proxy=http://bob:hunter2@proxy.corp:3128"),
            "proxy=http://********@proxy.corp:3128"
        );
        assert_eq!(
            red("GET https://u:p@ss@mirror/x 200"),
            "GET https://********@mirror/x 200"
        );
        // No password, nothing to mask.
        assert_eq!(red("https://mirror.example/x"), "https://mirror.example/x");
    }

    #[test]
    fn authorization_bearer_and_activation_keys_are_masked() {
        assert_eq!(
            red("Authorization: Bearer abcdefgh12345"),
            "Authorization: ********"
        );
        assert_eq!(
            red("sent bearer abcdefgh12345 ok"),
            "sent bearer ******** ok"
        );
        assert_eq!(
            red("alma-ext register --key AK-123456 --server x"),
            "alma-ext register --key ******** --server x"
        );
        assert_eq!(
            red("ALMA_EXT_ACTIVATION_KEY=AK-123456"),
            "ALMA_EXT_ACTIVATION_KEY=********"
        );
    }

    #[test]
    fn issued_keys_and_credentials_are_masked_anywhere() {
        let key = format!("aek_{}", "A1b2-C3d4_".repeat(4) + "xyz");
        let cred = format!("aec_{}", "Z9y8-X7w6_".repeat(4) + "abc");
        assert_eq!(
            red(&format!("pasted {key} and {cred}.")),
            "pasted ******** and ********."
        );
    }

    #[test]
    fn json_values_keep_their_quotes_and_the_rest_of_the_line() {
        assert_eq!(
            red(r#"{"password": "x1y2", "user": "u"}"#),
            r#"{"password": "********", "user": "u"}"#
        );
    }

    #[test]
    fn private_keys_are_masked() {
        let out = red("a\n-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----\nb");
        assert_eq!(out, "a\n********\nb");
        assert!(contains_private_key("-----BEGIN RSA PRIVATE KEY-----\n"));
    }

    #[test]
    fn learned_and_given_secrets_are_masked_everywhere_and_counted() {
        let mut r = Redactor::new(false);
        r.add_secret("cred-0123456789");
        r.learn("[ext]\npassword=RepoPass99\n");
        let out = r.redact("librepo: curl error with RepoPass99 and cred-0123456789\n");
        assert_eq!(out, "librepo: curl error with ******** and ********\n");
        assert_eq!(r.redactions(), 2);
    }

    #[test]
    fn journal_blobs_are_decoded_and_redacted() {
        let data = base64::engine::general_purpose::STANDARD.encode("password=Blob1234\n");
        let v = serde_json::json!({"files": [{"path": "/etc/yum.repos.d/x.repo",
            "before": {"sha256": "00", "data": data}}], "password": "p4ss"});
        let mut r = Redactor::new(false);
        let out = r.redact_json(&v).to_string();
        assert!(!out.contains("Blob1234") && !out.contains("p4ss"), "{out}");
        assert!(out.contains(r#""text":"password=********\n""#), "{out}");
    }

    #[test]
    fn obfuscation_is_stable_across_files() {
        let mut r = Redactor::new(true);
        r.add_identifier(IdKind::Host, "web1.corp.example");
        r.add_identifier(IdKind::Host, "web1");
        r.add_identifier(IdKind::MachineId, "0123456789abcdef0123456789abcdef");
        r.learn("baseurl=https://mirror.corp.example/9/\n");
        let a = r.redact("web1.corp.example 10.1.2.3 fe80::1 web1 mirror.corp.example");
        let b = r
            .redact("WEB1 at 10.1.2.3, 10.1.2.4 and fe80::1; 01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(a, "host-1 192.0.2.1 2001:db8::1 host-2 host-3");
        assert_eq!(
            b,
            "host-2 at 192.0.2.1, 192.0.2.2 and 2001:db8::1; machine-id-1"
        );
        let m = r.mapping();
        assert!(m
            .iter()
            .any(|m| m.placeholder == "192.0.2.1" && m.original == "10.1.2.3"));
    }

    #[test]
    fn json_keys_stay_when_a_host_is_named_like_one() {
        let mut r = Redactor::new(true);
        r.add_identifier(IdKind::Host, "server");
        let v = serde_json::json!({"server": "server", "hostname": "server"});
        assert_eq!(
            r.redact_json(&v),
            serde_json::json!({"server": "host-1", "hostname": "host-1"})
        );
    }

    #[test]
    fn obfuscation_leaves_versions_times_and_loopback_alone() {
        let mut r = Redactor::new(true);
        let t = "kernel-4.18.0.553 at 12:34:56 on 127.0.0.1 and ::1 mask 255.255.255.0 v1.2.3.4.5";
        assert_eq!(r.redact(t), t);
        assert!(r.mapping().is_empty());
    }

    /// Secrets with a prefix no template contains, from characters a
    /// password may have (`*` excluded: it is the mask).
    fn secret() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#%&+,.;<>?^_|~$()\\[\\]{}=-]{4,24}".prop_map(|s| format!("Zq{s}"))
    }

    fn url_secret() -> impl Strategy<Value = String> {
        // RFC 3986 userinfo characters; '@' and ':' included.
        "[A-Za-z0-9._~!$&'()+,;=:@%-]{4,24}".prop_map(|s| format!("Zq{s}"))
    }

    proptest! {
        #[test]
        fn a_planted_secret_never_survives(pw in secret(), upw in url_secret(), cred in secret(),
                                           obfuscate in any::<bool>(), noise in "[a-z ]{0,20}") {
            let files = [
                format!("[ext]\nname=x\nbaseurl=https://ext.example/9\npassword={pw}\n{noise}\n"),
                format!("[main]\nproxy=http://proxy.corp:3128\nproxy_username=u\nproxy_password={pw}\n"),
                format!("[server]\nproxy = \"http://user:{upw}@proxy.corp:3128\"\n"),
                format!("2026-01-01 DEBUG GET https://m-1:{upw}@ext.example/9/repodata {noise}\n"),
                format!("Authorization: Bearer {cred}\n"),
                format!("{noise}{cred}{noise}\n"),
                format!("{{\"auth\": {{\"password\": \"{}\"}}}}", pw.replace('\\', "\\\\").replace('"', "\\\"")),
            ];
            let mut r = Redactor::new(obfuscate);
            r.add_secret(&cred);
            for f in &files { r.learn(f); }
            for f in &files {
                let out = r.redact(f);
                prop_assert!(!out.contains(&pw), "{pw:?} survived in {out:?}");
                prop_assert!(!out.contains(&upw), "{upw:?} survived in {out:?}");
                prop_assert!(!out.contains(&cred), "{cred:?} survived in {out:?}");
            }
            let json = serde_json::json!({"target": {"auth": {"password": pw, "username": "m"}},
                "log": files[3], "cred": format!("x {cred} y")});
            let out = r.redact_json(&json).to_string();
            prop_assert!(!out.contains(&pw) && !out.contains(&upw) && !out.contains(&cred), "{out}");
        }
    }
}
