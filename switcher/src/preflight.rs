//! Checks made before anything changes: the target repositories answer
//! with the credentials, the keys and certificates are usable, there is
//! room for the backups.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alma_ext_i18n::{msg, Message};

use alma_ext_i18n::io_message;
use alma_ext_proto::target::{Auth, Target};
use base64::Engine;
use serde::Serialize;

/// Why a preflight check failed; the class decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// Not reachable: DNS, connection, TLS, proxy.
    Unreachable,
    /// The repository refused the credentials (401, 403).
    Refused,
    /// Anything else: missing key, expired certificate, 404, no space.
    Failed,
}

/// A failed preflight check: `Display` in English (logs, JSON), the
/// message in the user's language through [`Localize`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PreflightError {
    pub class: FailureClass,
    pub message: Message,
}

impl PreflightError {
    /// What failed, as a message.
    pub fn message(&self) -> Message {
        self.message.clone()
    }
}

alma_ext_i18n::localize_via_message!(PreflightError);

fn failed(message: Message) -> PreflightError {
    PreflightError {
        class: FailureClass::Failed,
        message,
    }
}

/// A probe that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no answer from {url}: {reason}")]
pub struct NoAnswer {
    /// The URL probed.
    pub url: String,
    /// Why: connect, TLS, DNS or proxy (the error chain, joined).
    pub reason: String,
}

/// What a probe of a URL gave: the HTTP status (200 on success), or no
/// answer.
pub type ProbeResult = Result<u16, NoAnswer>;

/// Fetches a URL with the target's credentials.
pub trait RepoProbe {
    fn probe(&self, url: &str) -> ProbeResult;
}

/// Substitute `$var` and `${var}` as dnf does (unknown ones stay).
pub fn substitute(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let (name, next) = if b.get(i + 1) == Some(&b'{') {
                match s[i + 2..].find('}') {
                    Some(e) => (&s[i + 2..i + 2 + e], i + 3 + e),
                    None => ("", i + 1),
                }
            } else {
                let e = s[i + 1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .map_or(s.len(), |e| i + 1 + e);
                (&s[i + 1..e], e)
            };
            if let Some(v) = vars.get(name) {
                out.push_str(v);
                i = next;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The URL of a repository's `repodata/repomd.xml`.
pub fn repomd_url(baseurl: &str) -> String {
    format!("{}/repodata/repomd.xml", baseurl.trim_end_matches('/'))
}

/// Resolve a `file://` URL or host path inside the root, every symlink
/// (absolute ones too) resolved as in a chroot.
pub fn under_root(root: &Path, p: &str) -> PathBuf {
    let p = p.strip_prefix("file://").unwrap_or(p);
    let rel = p.trim_start_matches('/');
    hostroot::Root::open(root)
        .and_then(|r| r.resolve(Path::new("/").join(rel)))
        .unwrap_or_else(|_| root.join(rel))
}

/// What is wrong with a key file that should hold an armored OpenPGP
/// public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    NoBegin,
    NoEnd,
    Base64(base64::DecodeError),
    ChecksumLine,
    Checksum,
    Empty,
    NotAPacket,
    /// The first packet's type.
    NotAPublicKey(u8),
}

impl KeyProblem {
    /// What is wrong, as a message.
    pub fn message(&self) -> Message {
        match self {
            KeyProblem::NoBegin => {
                msg!("not an armored OpenPGP public key (no BEGIN PGP PUBLIC KEY BLOCK line)")
            }
            KeyProblem::NoEnd => msg!("armored key is cut short (no END line)"),
            KeyProblem::Base64(e) => msg!("armored key is damaged (base64: {error})", error = e),
            KeyProblem::ChecksumLine => msg!("armored key checksum line is damaged"),
            KeyProblem::Checksum => msg!("armored key is damaged (checksum mismatch)"),
            KeyProblem::Empty => msg!("armored key is empty"),
            KeyProblem::NotAPacket => msg!("armored key does not start with an OpenPGP packet"),
            KeyProblem::NotAPublicKey(tag) => msg!(
                "armored block starts with OpenPGP packet type {tag}, not a public key (6)",
                tag = tag
            ),
        }
    }
}

alma_ext_i18n::localize_via_message!(KeyProblem);

/// Check that the bytes are an ASCII-armored OpenPGP public key block with
/// a valid checksum and a public-key packet.
pub fn check_armored_key(text: &[u8]) -> Result<(), KeyProblem> {
    let t = String::from_utf8_lossy(text);
    let begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let end = "-----END PGP PUBLIC KEY BLOCK-----";
    let start = t.find(begin).ok_or(KeyProblem::NoBegin)?;
    let stop = t[start..].find(end).ok_or(KeyProblem::NoEnd)? + start;
    let body = &t[start + begin.len()..stop];
    // Headers end at the first empty line.
    let mut lines = body.lines().skip_while(|l| l.trim().is_empty()).peekable();
    let mut payload_lines = Vec::new();
    let mut in_headers = lines.peek().is_some_and(|l| l.contains(": "));
    for l in lines {
        let l = l.trim();
        if in_headers {
            if l.is_empty() {
                in_headers = false;
            }
            continue;
        }
        if !l.is_empty() {
            payload_lines.push(l);
        }
    }
    let mut crc: Option<&str> = None;
    if let Some(last) = payload_lines.last() {
        if let Some(c) = last.strip_prefix('=') {
            crc = Some(c);
            payload_lines.pop();
        }
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(payload_lines.concat())
        .map_err(KeyProblem::Base64)?;
    if let Some(c) = crc {
        let want = base64::engine::general_purpose::STANDARD
            .decode(c)
            .map_err(|_| KeyProblem::ChecksumLine)?;
        let got = crc24(&data);
        if want.len() != 3 || want != [(got >> 16) as u8, (got >> 8) as u8, got as u8] {
            return Err(KeyProblem::Checksum);
        }
    }
    let first = *data.first().ok_or(KeyProblem::Empty)?;
    if first & 0x80 == 0 {
        return Err(KeyProblem::NotAPacket);
    }
    let tag = if first & 0x40 != 0 {
        first & 0x3f
    } else {
        (first >> 2) & 0x0f
    };
    if tag != 6 {
        return Err(KeyProblem::NotAPublicKey(tag));
    }
    Ok(())
}

fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xB704CE;
    for &b in data {
        crc ^= (b as u32) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x1000000 != 0 {
                crc ^= 0x1864CFB;
            }
        }
    }
    crc & 0xFFFFFF
}

/// The expiry of a PEM certificate, when it is already past: Some(why).
pub fn cert_expired(
    pem: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Message>, Message> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| msg!("not a PEM certificate: {error}", error = e))?;
    let cert = p
        .parse_x509()
        .map_err(|e| msg!("not an X.509 certificate: {error}", error = e))?;
    let v = cert.validity();
    let not_after = v.not_after.timestamp();
    let not_before = v.not_before.timestamp();
    if now.timestamp() > not_after {
        return Ok(Some(msg!(
            "the client certificate expired on {date}",
            date = v.not_after
        )));
    }
    if now.timestamp() < not_before {
        return Ok(Some(msg!(
            "the client certificate is not valid before {date}",
            date = v.not_before
        )));
    }
    Ok(None)
}

/// The only directory whose repo files the switch reads and writes.
pub const REPOS_DIR: &str = "/etc/yum.repos.d";

/// dnf's `reposdir` when `dnf.conf` does not set it.
const DNF_DEFAULT_REPOSDIR: &[&str] = &[
    "/etc/yum.repos.d",
    "/etc/yum/repos.d",
    "/etc/distro.repos.d",
];

/// The `reposdir=` of a `dnf.conf`'s `[main]` section: its 1-based line
/// number and its directories (dnf splits on commas and white space),
/// or None when it is not set.
pub fn configured_reposdir(dnf_conf: &[u8]) -> Option<(usize, Vec<String>)> {
    let f = crate::repofile::RepoFile::parse(dnf_conf);
    let main = f.sections().into_iter().rfind(|s| s.id == "main")?;
    let i = *f.key_lines(&main, "reposdir").last()?;
    let dirs = f
        .full_value(i)
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('/').to_string())
        .collect();
    Some((i + 1, dirs))
}

/// dnf must read repo files from `/etc/yum.repos.d` only: the switch
/// rewrites the repo files there and puts the extended-update repository
/// there. A `reposdir=` without it, or another directory of dnf's that
/// holds repo files, would leave community repositories enabled or the
/// new one unread; refused before anything changes.
pub fn check_reposdir(root: &Path) -> Result<(), PreflightError> {
    let conf = "/etc/dnf/dnf.conf";
    let configured = match fs::read(under_root(root, conf)) {
        Ok(b) => configured_reposdir(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(failed(msg!(
                "cannot read {path}: {error}",
                path = under_root(root, conf).display(),
                error = io_message(&e)
            )))
        }
    };
    let (origin, dirs) = match configured {
        Some((line, dirs)) => (
            msg!("reposdir= of {file} line {line}", file = conf, line = line),
            dirs,
        ),
        None => (
            msg!("dnf's default reposdir"),
            DNF_DEFAULT_REPOSDIR.iter().map(|d| d.to_string()).collect(),
        ),
    };
    if !dirs.iter().any(|d| d == REPOS_DIR) {
        return Err(failed(msg!(
            "{origin} is {dirs}, without {dir}: alma-ext switch reads and writes repo \
             files only in {dir}, so dnf would not see the extended-update repository; \
             add {dir} to reposdir",
            origin = origin,
            dirs = format!("{:?}", dirs.join(",")),
            dir = REPOS_DIR
        )));
    }
    for d in dirs.iter().filter(|d| *d != REPOS_DIR) {
        let Ok(rd) = fs::read_dir(under_root(root, d)) else {
            continue;
        };
        let mut repos: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".repo") && !n.starts_with('.'))
            .collect();
        if !repos.is_empty() {
            repos.sort();
            return Err(failed(msg!(
                "{path} holds repo files that dnf reads ({origin}): {files}; alma-ext switch \
                 handles only {dir}: move them there, or out of reposdir",
                path = d,
                origin = origin,
                files = repos.join(", "),
                dir = REPOS_DIR
            )));
        }
    }
    Ok(())
}

/// Under `--root`, `dnf --installroot` follows an absolute symlink on this
/// machine, not inside the root: a repo file, `/etc/yum.repos.d` or `/etc`
/// that is one would make dnf read other files than the ones the switch
/// edits inside the root. Refused before anything changes, naming the
/// link. (On the running system an absolute link means the same to both.)
pub fn check_links(root: &Path) -> Result<(), PreflightError> {
    let Ok(fs) = hostroot::Root::open(root) else {
        return Ok(());
    };
    if fs.is_system() {
        return Ok(());
    }
    let refuse = |link: &Path, to: &Path| {
        failed(msg!(
            "{link} is a symlink to the absolute path {to}: dnf --installroot follows it on \
             this machine, outside {root}, so dnf would not read what the switch writes; make \
             the link relative (or run the switch on the machine itself)",
            link = link.display(),
            to = to.display(),
            root = root.display()
        ))
    };
    for p in [Path::new("/etc"), Path::new(REPOS_DIR)] {
        if let Ok(Some(to)) = fs.read_link(p) {
            if to.is_absolute() {
                return Err(refuse(p, &to));
            }
        }
    }
    let entries = fs.read_dir(REPOS_DIR).ok().flatten().unwrap_or_default();
    for e in entries {
        if e.kind != hostroot::Kind::Symlink || !e.name.ends_with(".repo") {
            continue;
        }
        let p = Path::new(REPOS_DIR).join(&e.name);
        if let Ok(Some(to)) = fs.read_link(&p) {
            if to.is_absolute() {
                return Err(refuse(&p, &to));
            }
        }
    }
    Ok(())
}

/// The preflight checks that do not need the network.
pub fn check_local(
    root: &Path,
    target: &Target,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), PreflightError> {
    check_reposdir(root)?;
    for k in &target.gpgkey {
        if k.starts_with("file://") || k.starts_with('/') {
            let p = under_root(root, k);
            let b = fs::read(&p).map_err(|e| {
                failed(msg!(
                    "gpgkey {key}: cannot read {path}: {error}",
                    key = k,
                    path = p.display(),
                    error = io_message(&e)
                ))
            })?;
            check_armored_key(&b).map_err(|e| {
                failed(msg!(
                    "gpgkey {key} ({path}): bad key: {problem}",
                    key = k,
                    path = p.display(),
                    problem = e.message()
                ))
            })?;
        } else if !(k.starts_with("https://") || k.starts_with("http://")) {
            return Err(failed(msg!(
                "gpgkey {key}: only file://, http:// and https:// keys are supported",
                key = k
            )));
        }
    }
    if let Some(a) = &target.auth {
        for (what, p) in [
            ("sslclientcert", &a.sslclientcert),
            ("sslclientkey", &a.sslclientkey),
            ("sslcacert", &a.sslcacert),
        ] {
            if let Some(p) = p {
                let path = under_root(root, p);
                let b = fs::read(&path).map_err(|e| {
                    failed(msg!(
                        "[auth] {option} {file}: cannot read {path}: {error}",
                        option = what,
                        file = p,
                        path = path.display(),
                        error = io_message(&e)
                    ))
                })?;
                if what == "sslclientcert" {
                    if let Some(why) = cert_expired(&b, now).unwrap_or_else(Some) {
                        return Err(failed(msg!(
                            "[auth] sslclientcert {file}: {problem}",
                            file = p,
                            problem = why
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Probe `repodata/repomd.xml` of every target repository.
pub fn check_repos(
    target: &Target,
    vars: &BTreeMap<String, String>,
    probe: &dyn RepoProbe,
) -> Result<Vec<String>, PreflightError> {
    let who = describe_credential(target.auth.as_ref());
    let repo = |key: &str, id: &str| msg!("repos.{key} ({id})", key = key, id = id);
    let mut checked = Vec::new();
    for (key, r) in &target.repos {
        let url = repomd_url(&substitute(&r.baseurl, vars));
        match probe.probe(&url) {
            Ok(200) => checked.push(url),
            Ok(s @ (401 | 403)) => {
                return Err(PreflightError {
                    class: FailureClass::Refused,
                    message: msg!(
                        "{repo}: {url} answered HTTP {status}: the repository refused {credential}",
                        repo = repo(key, &r.id),
                        url = url,
                        status = s,
                        credential = who
                    ),
                })
            }
            Ok(s) => {
                return Err(failed(msg!(
                    "{repo}: {url} answered HTTP {status} (with {credential}); expected 200",
                    repo = repo(key, &r.id),
                    url = url,
                    status = s,
                    credential = who
                )))
            }
            Err(NoAnswer { reason, .. }) => {
                return Err(PreflightError {
                    class: FailureClass::Unreachable,
                    message: msg!(
                        "{repo}: {url} unreachable (with {credential}): {reason}",
                        repo = repo(key, &r.id),
                        url = url,
                        credential = who,
                        reason = reason
                    ),
                })
            }
        }
    }
    Ok(checked)
}

/// Which credential is used, for messages (never the password).
pub fn describe_credential(a: Option<&Auth>) -> Message {
    let user = a.and_then(|a| a.username.as_deref());
    let cert = a.and_then(|a| a.sslclientcert.as_deref());
    match (user, cert) {
        (None, None) => msg!("no credentials"),
        (Some(u), None) => msg!("user {user} and its password", user = format!("{u:?}")),
        (None, Some(c)) => msg!("client certificate {file}", file = c),
        (Some(u), Some(c)) => msg!(
            "user {user} and its password and client certificate {file}",
            user = format!("{u:?}"),
            file = c
        ),
    }
}

/// Bytes free for unprivileged... for root on the filesystem of `dir`.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let mut d = dir.to_path_buf();
    while !d.exists() {
        d = d.parent()?.to_path_buf();
    }
    let s = nix::sys::statvfs::statvfs(&d).ok()?;
    #[allow(clippy::unnecessary_cast)]
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}

/// HTTP probe with reqwest and rustls: basic auth, client certificate,
/// custom CA (`sslcacert`), the proxy from `https_proxy`/`http_proxy`.
pub struct HttpProbe {
    /// `file://` URLs are read inside this root.
    root: PathBuf,
    client: reqwest::blocking::Client,
    username: Option<String>,
    password: Option<String>,
}

impl HttpProbe {
    /// A probe with the target's credentials; files are read under `root`.
    pub fn new(root: &Path, auth: Option<&Auth>) -> Result<HttpProbe, PreflightError> {
        let mut b = reqwest::blocking::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("alma-ext-switch/", env!("CARGO_PKG_VERSION")));
        let mut username = None;
        let mut password = None;
        if let Some(a) = auth {
            username = a.username.clone();
            password = a.password.clone();
            if let Some(ca) = &a.sslcacert {
                let p = under_root(root, ca);
                let bad = |e: &dyn std::fmt::Display| {
                    failed(msg!(
                        "[auth] sslcacert {file}: {error}",
                        file = ca,
                        error = e
                    ))
                };
                let pem = fs::read(&p).map_err(|e| {
                    failed(msg!(
                        "[auth] sslcacert {file}: {error}",
                        file = ca,
                        error = io_message(&e)
                    ))
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(&e))?;
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            if let (Some(c), Some(k)) = (&a.sslclientcert, &a.sslclientkey) {
                let mut pem = fs::read(under_root(root, c)).map_err(|e| {
                    failed(msg!(
                        "[auth] sslclientcert {file}: {error}",
                        file = c,
                        error = io_message(&e)
                    ))
                })?;
                pem.push(b'\n');
                pem.extend(fs::read(under_root(root, k)).map_err(|e| {
                    failed(msg!(
                        "[auth] sslclientkey {file}: {error}",
                        file = k,
                        error = io_message(&e)
                    ))
                })?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    failed(msg!(
                        "[auth] sslclientcert {cert} / sslclientkey {key}: {error}",
                        cert = c,
                        key = k,
                        error = e
                    ))
                })?;
                b = b.identity(id);
            }
        }
        let client = b
            .build()
            .map_err(|e| failed(msg!("cannot set up HTTPS: {error}", error = e)))?;
        Ok(HttpProbe {
            root: root.to_path_buf(),
            client,
            username,
            password,
        })
    }
}

impl RepoProbe for HttpProbe {
    fn probe(&self, url: &str) -> ProbeResult {
        if url.starts_with("file://") {
            return if under_root(&self.root, url).is_file() {
                Ok(200)
            } else {
                Ok(404)
            };
        }
        let mut req = self.client.get(url);
        if let Some(u) = &self.username {
            req = req.basic_auth(u, self.password.as_ref());
        }
        match req.send() {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => {
                // The whole chain: "error sending request: ... certificate expired".
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                Err(NoAnswer {
                    url: url.to_string(),
                    reason: msg,
                })
            }
        }
    }
}
