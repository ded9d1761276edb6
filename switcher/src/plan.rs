//! The switch plan: a pure function of the parsed repo files, the host's
//! release and the target. No I/O here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use alma_ext_i18n::{msg, Message};
use alma_ext_proto::target::{Others, Target};
use serde::Serialize;

use crate::repofile::{parse_bool, RepoFile};

/// Where the switch writes its own repositories.
pub const EXTENDED_REPO_FILE: &str = "/etc/yum.repos.d/alma-ext-extended.repo";
/// The public vault of frozen minor releases.
pub const DEFAULT_VAULT: &str = "https://vault.almalinux.org";

/// The release of the host, from `/etc/os-release`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// `ID`, e.g. `almalinux`.
    pub id: String,
    /// `VERSION_ID`, e.g. `9.6`.
    pub version: String,
    /// The major version, dnf's `$releasever` on AlmaLinux.
    pub major: u32,
}

impl Release {
    /// Read the fields from the text of an os-release file.
    pub fn from_os_release(text: &str) -> Option<Release> {
        let mut id = None;
        let mut version = None;
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "ID" => id = Some(v),
                "VERSION_ID" => version = Some(v),
                _ => {}
            }
        }
        let version = version?;
        let major = version.split('.').next()?.parse().ok()?;
        Some(Release {
            id: id?,
            version,
            major,
        })
    }
}

/// One repo file as read from the host.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The host path, e.g. `/etc/yum.repos.d/almalinux-baseos.repo`.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Who a section belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// AlmaLinux's own repository (standard id or AlmaLinux host).
    Community,
    /// Not AlmaLinux's: EPEL, docker-ce, in-house. Never touched.
    ThirdParty,
    /// Written by alma-ext switch.
    Extended,
}

fn english<S: serde::Serializer>(m: &Message, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&m.to_string())
}

fn english_all<S: serde::Serializer>(v: &[Message], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Message::to_string))
}

/// What the plan does with a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Disabled in place (only its `enabled=` line), replaced by `by`.
    Replace { by: String },
    /// Repointed in place to the frozen vault of the installed release.
    Vault { url: String },
    /// Disabled in place (`others = "disable"`).
    Disable,
    /// Left enabled as it is (`others = "keep"`, or it points at a mirror
    /// that is not AlmaLinux's). The JSON carries the reason in English.
    Keep {
        #[serde(serialize_with = "english")]
        reason: Message,
    },
    /// Already disabled; untouched.
    AlreadyDisabled,
    /// Already in the wanted state from an earlier switch.
    AlreadyDone,
    /// Third-party: untouched, not covered by extended support.
    Untouched,
    /// dnf ignores the file (a line it cannot parse): untouched.
    IgnoredByDnf { lines: Vec<usize> },
    /// A repository the switch adds or keeps in its own file.
    Added,
}

/// The plan's decision for one section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoDecision {
    pub id: String,
    pub file: PathBuf,
    pub origin: Origin,
    /// Enabled before the switch.
    pub enabled: bool,
    #[serde(flatten)]
    pub action: Action,
}

/// A file the plan writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Host path.
    pub path: PathBuf,
    /// Current bytes; None when the file is new.
    #[serde(skip)]
    pub before: Option<Vec<u8>>,
    #[serde(skip)]
    pub after: Vec<u8>,
    /// Mode of a new file (existing files keep theirs).
    pub new_mode: u32,
    /// True when the file holds credentials: mode 0600, redacted in diffs.
    pub secret: bool,
}

impl FileChange {
    pub fn is_new(&self) -> bool {
        self.before.is_none()
    }
}

/// A new repository of the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRepo {
    pub id: String,
    /// The community repo id it replaces.
    pub replaces: String,
    pub baseurl: String,
    /// Enabled when the repo it replaces was enabled.
    pub enabled: bool,
}

/// The whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub release: Release,
    pub repos: Vec<RepoDecision>,
    pub new_repos: Vec<NewRepo>,
    /// Keys to import into the rpm database.
    pub gpgkeys: Vec<String>,
    pub changes: Vec<FileChange>,
    /// Nothing to change: the machine is already switched to this target.
    pub already_switched: bool,
    /// Warnings a person should read.
    /// In English in the JSON; the text output renders them in the
    /// user's language.
    #[serde(serialize_with = "english_all")]
    pub warnings: Vec<Message>,
    /// The TLS files each new repo names (`sslcacert`, `sslclientcert`,
    /// `sslclientkey`): paths of the machine, which `dnf --installroot`
    /// reads on the host, so a switch under `--root` hands dnf their
    /// places inside the root.
    #[serde(skip)]
    pub tls_files: Vec<TlsFile>,
}

/// One TLS file option of a new repo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFile {
    pub repo_id: String,
    /// The repo option: `sslcacert`, `sslclientcert` or `sslclientkey`.
    pub option: &'static str,
    /// The path as the repo file names it.
    pub path: String,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    Unsupported {
        id: String,
        version: String,
    },
    EmptyTarget,
    BadTargetRepo {
        key: String,
        msg: Message,
    },
    IdCollision {
        key: String,
        id: String,
        file: PathBuf,
    },
    BadTarget(Message),
    /// This project reads a file differently from dnf: nothing is planned
    /// on a reading dnf does not share.
    Divergence(#[from] crate::dnfquery::Divergence),
    /// A target key that is no repo id of the machine.
    UnknownKey {
        key: String,
        /// The id that differs only in case, if any.
        did_you_mean: Option<String>,
        ids: String,
    },
    /// The switch would enable nothing.
    NothingToSwitch(Message),
    /// A community repo dnf reads from a file the switch does not edit.
    OutsideReposDir {
        id: String,
        file: PathBuf,
        dir: String,
    },
    /// A section the switch would change whose name dnf substitutes
    /// (`[extras-$basearch]` is `extras-x86_64` to dnf): the switch names
    /// repos as the files write them, and could not check its work.
    SubstitutedId {
        section: String,
        id: String,
        file: PathBuf,
    },
    /// A section the switch would repoint that dnf does not load at all
    /// (`[$nope]`: not a repo id dnf accepts): the switch could not check
    /// its work.
    NotLoaded {
        section: String,
        file: PathBuf,
    },
}

impl PlanError {
    /// Why, as a message (ids, paths and URLs as they are).
    pub fn message(&self) -> Message {
        match self {
            PlanError::Unsupported { id, version } => msg!(
                "{id} {version} is not supported: alma-ext switches AlmaLinux 8, 9 and 10",
                id = id,
                version = version
            ),
            PlanError::EmptyTarget => msg!("the target has no repositories"),
            PlanError::BadTargetRepo { key, msg } => {
                msg!("target repos.{key}: {problem}", key = key, problem = msg)
            }
            PlanError::IdCollision { key, id, file } => msg!(
                "target repos.{key}: repo id {id} is already used in {file}",
                key = key,
                id = format!("{id:?}"),
                file = file.display()
            ),
            PlanError::BadTarget(m) => msg!("target: {problem}", problem = m),
            PlanError::Divergence(d) => msg!(
                "{divergence}; alma-ext and dnf read this file differently (a symlink dnf follows to another file, or a syntax alma-ext does not read as dnf does), so the switch changes nothing",
                divergence = d.message()
            ),
            PlanError::UnknownKey {
                key,
                did_you_mean: Some(other),
                ids,
            } => msg!(
                "target repos.{key}: no repo {quoted} on this machine (repo ids are case-sensitive: did you mean {other}?); dnf reads the repo ids: {ids}",
                key = key,
                quoted = format!("{key:?}"),
                other = format!("{other:?}"),
                ids = ids
            ),
            PlanError::UnknownKey {
                key,
                did_you_mean: None,
                ids,
            } => msg!(
                "target repos.{key}: no repo {quoted} on this machine; dnf reads the repo ids: {ids}",
                key = key,
                quoted = format!("{key:?}"),
                ids = ids
            ),
            PlanError::NothingToSwitch(m) => msg!("nothing to switch: {why}", why = m),
            PlanError::OutsideReposDir { id, file, dir } => msg!(
                "{file}: dnf reads the AlmaLinux repo {id} (enabled) from this file; alma-ext switch edits only {dir}: move the repo to a file there (or disable it) and run again",
                file = file.display(),
                id = id,
                dir = dir
            ),
            PlanError::SubstitutedId { section, id, file } => msg!(
                "{file}: the section [{section}] is the repo {id} to dnf (it substitutes the variables in the name); alma-ext switch would change it and cannot check that by its name: write the name without variables and run again",
                file = file.display(),
                section = section,
                id = id
            ),
            PlanError::NotLoaded { section, file } => msg!(
                "{file}: dnf does not load the section [{section}] (its name is not a repo id dnf accepts); alma-ext switch would repoint it and cannot check that: fix or remove the section and run again",
                file = file.display(),
                section = section
            ),
        }
    }
}

alma_ext_i18n::localize_via_message!(PlanError);

impl PlanError {
    /// True when the plan failed on the machine's configuration, not on
    /// the target file.
    pub fn is_machine(&self) -> bool {
        matches!(
            self,
            PlanError::Unsupported { .. }
                | PlanError::Divergence(_)
                | PlanError::UnknownKey { .. }
                | PlanError::NothingToSwitch(_)
                | PlanError::OutsideReposDir { .. }
                | PlanError::SubstitutedId { .. }
                | PlanError::NotLoaded { .. }
        )
    }
}

const STANDARD_8: &[(&str, &str)] = &[
    ("baseos", "BaseOS"),
    ("appstream", "AppStream"),
    ("extras", "extras"),
    ("powertools", "PowerTools"),
    ("ha", "HighAvailability"),
    ("nfv", "NFV"),
    ("plus", "plus"),
    ("resilientstorage", "ResilientStorage"),
    ("rt", "RT"),
    ("sap", "SAP"),
    ("saphana", "SAPHANA"),
    ("devel", "devel"),
];

const STANDARD_9: &[(&str, &str)] = &[
    ("baseos", "BaseOS"),
    ("appstream", "AppStream"),
    ("extras", "extras"),
    ("crb", "CRB"),
    ("highavailability", "HighAvailability"),
    ("nfv", "NFV"),
    ("plus", "plus"),
    ("resilientstorage", "ResilientStorage"),
    ("rt", "RT"),
    ("sap", "SAP"),
    ("saphana", "SAPHANA"),
    ("devel", "devel"),
];

fn standard(major: u32) -> &'static [(&'static str, &'static str)] {
    if major == 8 {
        STANDARD_8
    } else {
        STANDARD_9
    }
}

/// True when `id` is one of AlmaLinux's standard repo ids for `major`
/// (with the `-source`, `-debuginfo` and 9.0's `-debug` variants).
pub fn is_standard_id(major: u32, id: &str) -> bool {
    let base = id
        .strip_suffix("-debuginfo")
        .or_else(|| id.strip_suffix("-debug"))
        .or_else(|| id.strip_suffix("-source"))
        .unwrap_or(id);
    standard(major).iter().any(|(s, _)| *s == base)
}

/// The host part of a URL, lowercased.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let hostport = rest.split(['/', '?', '#']).next()?;
    let host = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    let host = host.split(':').next()?;
    Some(host.to_ascii_lowercase())
}

/// True when a URL points at AlmaLinux's own servers.
pub fn is_almalinux_url(url: &str) -> bool {
    url_host(url).is_some_and(|h| h == "almalinux.org" || h.ends_with(".almalinux.org"))
}

fn urls_of(f: &RepoFile, s: &crate::repofile::Section) -> Vec<String> {
    let mut v = Vec::new();
    for k in ["baseurl", "mirrorlist", "metalink"] {
        if let Some(val) = f.get(s, k) {
            v.extend(
                val.split(|c: char| c.is_whitespace() || c == ',')
                    .map(str::to_string),
            );
        }
    }
    v.retain(|u| !u.is_empty());
    v
}

/// The vault directory of a section (`extras/$basearch/os/`), taken from
/// its baseurl or its commented `# baseurl=`, else from the standard table.
fn vault_dir(major: u32, id: &str, f: &RepoFile, s: &crate::repofile::Section) -> Option<String> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some(b) = f.get(s, "baseurl") {
        candidates.extend(b.split_whitespace().map(str::to_string));
    }
    for c in f.comments(s) {
        if let Some(v) = c.strip_prefix("baseurl") {
            let v = v.trim_start();
            if let Some(v) = v.strip_prefix('=') {
                candidates.push(v.trim().to_string());
            }
        }
    }
    for c in candidates {
        if let Some((_, dir)) = c.split_once("/$releasever/") {
            if !dir.is_empty() {
                return Some(dir.to_string());
            }
        }
    }
    standard(major)
        .iter()
        .find(|(s, _)| *s == id)
        .map(|(_, d)| format!("{d}/$basearch/os/"))
}

/// Render the repo file the switch writes.
pub fn render_extended_file(target: &Target, new_repos: &[NewRepo]) -> Vec<u8> {
    let mut s = String::new();
    s.push_str("# Written by `alma-ext switch`: AlmaLinux extended-support repositories.\n");
    s.push_str(
        "# Undo with `alma-ext switch --revert`; edits here are replaced by the next switch.\n",
    );
    for r in new_repos {
        let spec = &target.repos[&r.replaces];
        s.push('\n');
        s.push_str(&format!("[{}]\n", spec.id));
        s.push_str(&format!("name={}\n", spec.name));
        s.push_str(&format!("baseurl={}\n", spec.baseurl));
        s.push_str(&format!("enabled={}\n", u8::from(r.enabled)));
        s.push_str(&format!("gpgcheck={}\n", u8::from(target.gpgcheck)));
        if !target.gpgkey.is_empty() {
            s.push_str(&format!("gpgkey={}\n", target.gpgkey.join(" ")));
        }
        if let Some(a) = &target.auth {
            for (k, v) in [
                ("username", &a.username),
                ("password", &a.password),
                ("sslclientcert", &a.sslclientcert),
                ("sslclientkey", &a.sslclientkey),
                ("sslcacert", &a.sslcacert),
            ] {
                if let Some(v) = v {
                    s.push_str(&format!("{k}={v}\n"));
                }
            }
        }
    }
    s.into_bytes()
}

fn check_target(target: &Target) -> Result<(), PlanError> {
    if target.repos.is_empty() {
        return Err(PlanError::EmptyTarget);
    }
    let mut ids = BTreeSet::new();
    for (key, r) in &target.repos {
        let bad = |msg: Message| PlanError::BadTargetRepo {
            key: key.clone(),
            msg,
        };
        let id_ok = !r.id.is_empty()
            && r.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !id_ok {
            return Err(bad(msg!(
                "id must be letters, digits, '-', '_', '.' or ':'"
            )));
        }
        if r.id == *key {
            return Err(bad(msg!(
                "id must differ from the community repo id it replaces"
            )));
        }
        if !ids.insert(r.id.clone()) {
            return Err(bad(msg!("two target repos have the same id")));
        }
        if r.name.trim().is_empty() || r.name.contains('\n') {
            return Err(bad(msg!("name must be one non-empty line")));
        }
        let u = r.baseurl.trim();
        if !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with("file://"))
            || u.contains(char::is_whitespace)
        {
            return Err(bad(msg!(
                "baseurl must be one http://, https:// or file:// URL"
            )));
        }
        if u.split_once("://")
            .is_some_and(|(_, r)| r.split('/').next().unwrap_or("").contains('@'))
        {
            return Err(bad(msg!(
                "baseurl must not carry credentials: put them in [auth]"
            )));
        }
    }
    if let Some(a) = &target.auth {
        if a.username.is_some() != a.password.is_some() {
            return Err(PlanError::BadTarget(msg!(
                "[auth] needs both username and password"
            )));
        }
        if a.sslclientcert.is_some() != a.sslclientkey.is_some() {
            return Err(PlanError::BadTarget(msg!(
                "[auth] needs both sslclientcert and sslclientkey"
            )));
        }
        for v in [
            &a.username,
            &a.password,
            &a.sslclientcert,
            &a.sslclientkey,
            &a.sslcacert,
        ]
        .into_iter()
        .flatten()
        {
            if v.contains(['\n', '\r']) {
                return Err(PlanError::BadTarget(msg!("[auth] values must be one line")));
            }
        }
    }
    for k in &target.gpgkey {
        if k.contains(char::is_whitespace) {
            return Err(PlanError::BadTarget(msg!(
                "gpgkey {key} contains whitespace",
                key = format!("{k:?}")
            )));
        }
    }
    Ok(())
}

/// Make the plan. `files` are the repo files of the host (any order);
/// `release` its os-release.
pub fn plan(files: &[InputFile], release: &Release, target: &Target) -> Result<Plan, PlanError> {
    plan_with(files, release, target, &BTreeSet::new())
}

/// [`plan`], leaving the repos in `no_vault` as they are (with a warning)
/// instead of repointing them to the vault: the vault has no such
/// directory.
pub fn plan_with(
    files: &[InputFile],
    release: &Release,
    target: &Target,
    no_vault: &BTreeSet<String>,
) -> Result<Plan, PlanError> {
    if release.id != "almalinux" || !(8..=10).contains(&release.major) {
        return Err(PlanError::Unsupported {
            id: release.id.clone(),
            version: release.version.clone(),
        });
    }
    check_target(target)?;
    let major = release.major;
    let ours = Path::new(EXTENDED_REPO_FILE);
    let mut files: Vec<&InputFile> = files.iter().collect();
    files.sort_by_key(|f| dnf_order(&f.path));

    let parsed: Vec<(PathBuf, RepoFile)> = files
        .iter()
        .map(|f| (f.path.clone(), RepoFile::parse(&f.bytes)))
        .collect();

    // Collisions: a target id that some other file already uses.
    let target_ids: BTreeMap<&str, &str> = target
        .repos
        .iter()
        .map(|(k, r)| (r.id.as_str(), k.as_str()))
        .collect();
    for (path, f) in &parsed {
        if path == ours {
            continue;
        }
        for s in f.sections() {
            if let Some(key) = target_ids.get(s.id.as_str()) {
                return Err(PlanError::IdCollision {
                    key: key.to_string(),
                    id: s.id.clone(),
                    file: path.clone(),
                });
            }
        }
    }

    let explicit_vault = target.vault_url.is_some();
    let vault_base = target
        .vault_url
        .as_deref()
        .unwrap_or(DEFAULT_VAULT)
        .trim_end_matches('/')
        .to_string();

    let mut decisions = Vec::new();
    let mut warnings = Vec::new();
    let mut changes = Vec::new();
    // Community ids replaced by the target that are enabled (in any file).
    let mut replaced_enabled: BTreeSet<String> = BTreeSet::new();
    let mut community_seen: BTreeSet<String> = BTreeSet::new();

    // dnf merges sections with the same id in one file: the last
    // `enabled=` of any of them wins, and a value dnf cannot read leaves
    // the default (enabled). Across files the first file (in dnf's order)
    // that defines an id wins; dnf ignores the id in later files.
    let mut effective_enabled: BTreeMap<String, bool> = BTreeMap::new();
    for (path, f) in &parsed {
        if path == ours || !f.invalid_lines().is_empty() {
            continue;
        }
        let mut last: BTreeMap<String, Option<String>> = BTreeMap::new();
        for s in f.sections() {
            if s.id == "main" {
                continue;
            }
            let v = f.key_lines(&s, "enabled").last().map(|&i| f.full_value(i));
            let e = last.entry(s.id.clone()).or_default();
            if v.is_some() {
                *e = v;
            }
        }
        for (id, v) in last {
            let e = v.as_deref().and_then(parse_bool).unwrap_or(true);
            effective_enabled.entry(id).or_insert(e);
        }
    }

    for (path, f) in &parsed {
        if path == ours {
            continue;
        }
        let invalid = f.invalid_lines();
        let mut edited = f.clone();
        for (k, s) in f.sections().into_iter().enumerate() {
            if s.id == "main" {
                continue;
            }
            let urls = urls_of(f, &s);
            let community =
                is_standard_id(major, &s.id) || urls.iter().any(|u| is_almalinux_url(u));
            let origin = if community {
                Origin::Community
            } else {
                Origin::ThirdParty
            };
            let enabled = effective_enabled.get(&s.id).copied().unwrap_or(true);
            let action = if !invalid.is_empty() {
                if community {
                    warnings.push(msg!(
                        "{file}: dnf ignores this file (line {line} cannot be parsed); left untouched",
                        file = path.display(),
                        line = invalid[0]
                    ));
                }
                Action::IgnoredByDnf {
                    lines: invalid.clone(),
                }
            } else if !community {
                Action::Untouched
            } else {
                community_seen.insert(s.id.clone());
                // The same section in the edited copy: line numbers shift
                // with edits, the order of sections does not.
                let es = edited
                    .sections()
                    .into_iter()
                    .nth(k)
                    .expect("edits keep every section header");
                if let Some(spec) = target.repos.get(&s.id) {
                    if enabled {
                        replaced_enabled.insert(s.id.clone());
                        disable(&mut edited, &es, insert_ok(f, &s));
                        Action::Replace {
                            by: spec.id.clone(),
                        }
                    } else {
                        Action::AlreadyDisabled
                    }
                } else if !enabled {
                    Action::AlreadyDisabled
                } else {
                    match target.others {
                        Others::Keep => Action::Keep {
                            reason: msg!("others = \"keep\""),
                        },
                        Others::Disable => {
                            disable(&mut edited, &es, insert_ok(f, &s));
                            Action::Disable
                        }
                        Others::Vault => {
                            let on_alma = urls.iter().any(|u| is_almalinux_url(u));
                            let vault_active =
                                urls.iter().all(|u| u.starts_with(&vault_base)) && !urls.is_empty();
                            if vault_active {
                                Action::AlreadyDone
                            } else if no_vault.contains(&s.id) {
                                warnings.push(msg!(
                                    "{repo} in {file}: the vault has no directory for it; left as is (it may stop working when the community mirrors drop AlmaLinux {version})",
                                    repo = s.id,
                                    file = path.display(),
                                    version = release.version
                                ));
                                Action::Keep {
                                    reason: msg!("the vault has no directory for it"),
                                }
                            } else if !on_alma && !explicit_vault {
                                Action::Keep {
                                    reason: msg!(
                                        "points at {host}, not at AlmaLinux's servers",
                                        host = urls
                                            .first()
                                            .and_then(|u| url_host(u))
                                            .unwrap_or_default()
                                    ),
                                }
                            } else {
                                match vault_dir(major, &s.id, f, &s) {
                                    Some(dir) => {
                                        let url = format!("{vault_base}/{}/{dir}", release.version);
                                        repoint(&mut edited, &es, &url);
                                        Action::Vault { url }
                                    }
                                    None => {
                                        warnings.push(msg!(
                                            "{repo} in {file}: no baseurl to find its vault directory; left as is",
                                            repo = s.id,
                                            file = path.display()
                                        ));
                                        Action::Keep {
                                            reason: msg!("no vault directory known"),
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            };
            decisions.push(RepoDecision {
                id: s.id.clone(),
                file: path.clone(),
                origin,
                enabled,
                action,
            });
        }
        let after = edited.to_bytes();
        let before = files
            .iter()
            .find(|x| &x.path == path)
            .map(|x| x.bytes.clone())
            .unwrap_or_default();
        if after != before {
            changes.push(FileChange {
                path: path.clone(),
                before: Some(before),
                after,
                new_mode: 0o644,
                secret: false,
            });
        }
    }

    // The same id in two sections of one file, or in two files: report
    // the action once, where it was decided; keep every occurrence listed.
    let existing_ours = files.iter().find(|f| f.path == ours);
    let ours_parsed = existing_ours.map(|f| RepoFile::parse(&f.bytes));

    let mut new_repos = Vec::new();
    for (key, spec) in &target.repos {
        // Enabled when the community repo it replaces is enabled now, or
        // was enabled before an earlier switch disabled it (our own file
        // says so).
        let was_ours_enabled = ours_parsed.as_ref().and_then(|f| {
            f.sections()
                .into_iter()
                .find(|s| s.id == spec.id)
                .and_then(|s| f.get(&s, "enabled"))
                .and_then(|v| parse_bool(&v))
        });
        let enabled = replaced_enabled.contains(key) || was_ours_enabled == Some(true);
        if !community_seen.contains(key) && was_ours_enabled.is_none() {
            warnings.push(msg!(
                "target repos.{key}: no community repo {quoted} on this machine; {repo} is added disabled",
                key = key,
                quoted = format!("{key:?}"),
                repo = spec.id
            ));
        }
        new_repos.push(NewRepo {
            id: spec.id.clone(),
            replaces: key.clone(),
            baseurl: spec.baseurl.clone(),
            enabled,
        });
    }
    for r in &new_repos {
        decisions.push(RepoDecision {
            id: r.id.clone(),
            file: ours.to_path_buf(),
            origin: Origin::Extended,
            enabled: r.enabled,
            action: Action::Added,
        });
    }
    let secret = target
        .auth
        .as_ref()
        .is_some_and(|a| a.password.is_some() || a.sslclientkey.is_some());
    let after = render_extended_file(target, &new_repos);
    let before = existing_ours.map(|f| f.bytes.clone());
    if before.as_deref() != Some(&after[..]) {
        changes.push(FileChange {
            path: ours.to_path_buf(),
            before,
            after,
            new_mode: if secret { 0o600 } else { 0o644 },
            secret: secret || target.auth.is_some(),
        });
    }

    let already_switched = changes.is_empty();
    let tls_files = tls_files(target, &new_repos);
    Ok(Plan {
        release: release.clone(),
        repos: decisions,
        new_repos,
        gpgkeys: target.gpgkey.clone(),
        changes,
        already_switched,
        warnings,
        tls_files,
    })
}

fn tls_files(target: &Target, new_repos: &[NewRepo]) -> Vec<TlsFile> {
    let Some(a) = &target.auth else {
        return Vec::new();
    };
    let mut v = Vec::new();
    for r in new_repos {
        let id = &target.repos[&r.replaces].id;
        for (option, path) in [
            ("sslcacert", &a.sslcacert),
            ("sslclientcert", &a.sslclientcert),
            ("sslclientkey", &a.sslclientkey),
        ] {
            if let Some(path) = path {
                v.push(TlsFile {
                    repo_id: id.clone(),
                    option,
                    path: path.clone(),
                });
            }
        }
    }
    v
}

/// dnf's order of repo files: the path without `.repo`, compared
/// component by component (`a.repo` before `a-b.repo`).
fn dnf_order(p: &Path) -> Vec<String> {
    let s = p.to_string_lossy();
    let s = s.strip_suffix(".repo").unwrap_or(&s);
    s.split('/').map(str::to_string).collect()
}

/// True when `enabled=0` may be added to section `s`: no occurrence of its
/// id in the file has an `enabled=` line and `s` is the last occurrence
/// (dnf merges duplicate sections; the last value wins).
fn insert_ok(f: &RepoFile, s: &crate::repofile::Section) -> bool {
    let same: Vec<_> = f.sections().into_iter().filter(|x| x.id == s.id).collect();
    same.iter().all(|x| f.key_lines(x, "enabled").is_empty())
        && same.last().is_some_and(|x| x.header == s.header)
}

/// Set every `enabled=` line of the section to 0, or add `enabled=0` when
/// the id has none (dnf's default is enabled).
fn disable(f: &mut RepoFile, s: &crate::repofile::Section, insert: bool) {
    let lines = f.key_lines(s, "enabled");
    if lines.is_empty() {
        if !insert {
            return;
        }
        let at = f.last_content_line(s);
        f.insert_key_after(at, "enabled", "0");
        return;
    }
    // From the bottom: dropping continuation lines shifts what follows.
    for i in lines.into_iter().rev() {
        if parse_bool(&f.full_value(i)) != Some(false) {
            f.set_value(i, "0");
        }
    }
}

/// Point the section at `url`: comment out mirrorlist/metalink, set (or
/// add) baseurl.
fn repoint(f: &mut RepoFile, s: &crate::repofile::Section, url: &str) {
    for key in ["mirrorlist", "metalink"] {
        for i in f.key_lines(s, key) {
            f.comment_out(i);
        }
    }
    let b = f.key_lines(s, "baseurl");
    if b.is_empty() {
        // After the `# baseurl=` comment when there is one, so the file
        // reads naturally; else after the last key.
        let at = (s.header + 1..s.end)
            .find(|&i| {
                f.lines()[i].kind() == &crate::repofile::LineKind::Comment
                    && String::from_utf8_lossy(f.lines()[i].content())
                        .trim_start_matches(['#', ';', ' ', '\t'])
                        .starts_with("baseurl")
            })
            .unwrap_or_else(|| f.last_content_line(s));
        f.insert_key_after(at, "baseurl", url);
    } else {
        for i in b.into_iter().rev() {
            f.set_value(i, url);
        }
    }
}

/// A unified diff of a change; values of `password=` are masked.
pub fn unified_diff(change: &FileChange) -> String {
    let mask = |b: &[u8]| -> String {
        let t = String::from_utf8_lossy(b).into_owned();
        if !change.secret {
            return t;
        }
        t.split_inclusive('\n')
            .map(|l| {
                let trimmed = l.trim_start();
                if trimmed.starts_with("password") && trimmed.contains('=') {
                    let (k, _) = l.split_once('=').unwrap();
                    let eol = if l.ends_with("\r\n") {
                        "\r\n"
                    } else if l.ends_with('\n') {
                        "\n"
                    } else {
                        ""
                    };
                    format!("{k}=********{eol}")
                } else {
                    l.to_string()
                }
            })
            .collect()
    };
    let old = change.before.as_deref().map(mask).unwrap_or_default();
    let new = mask(&change.after);
    let p = change.path.display().to_string();
    let old_name = if change.before.is_some() {
        format!("a{p}")
    } else {
        "/dev/null".into()
    };
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &format!("b{p}"))
        .to_string()
}

/// True when a repo dnf loads is AlmaLinux's own (standard id or a URL
/// on `*.almalinux.org`).
fn is_community(major: u32, r: &crate::dnfquery::DnfRepo) -> bool {
    is_standard_id(major, &r.id)
        || r.baseurl
            .iter()
            .chain(&r.mirrorlist)
            .chain(&r.metalink)
            .any(|u| is_almalinux_url(u))
}

/// Check a plan against dnf's own reading of the machine (`view`), before
/// anything changes: every repo file the plan reads for AlmaLinux's repos
/// or edits is read by this project as dnf reads it; no enabled AlmaLinux
/// repo lives where the switch does not edit; every target key is a repo
/// id of the machine; the switch enables something.
pub fn judge(
    files: &[InputFile],
    plan: &Plan,
    target: &Target,
    view: &crate::dnfquery::DnfView,
) -> Result<(), PlanError> {
    let major = plan.release.major;
    let ours = Path::new(EXTENDED_REPO_FILE);
    let repos_dir = Path::new(EXTENDED_REPO_FILE)
        .parent()
        .unwrap_or(Path::new("/"));
    // 1. The files: this project's reading equals dnf's.
    for f in files {
        if f.path == ours {
            continue;
        }
        let changed = plan.changes.iter().any(|c| c.path == f.path);
        let community_here = plan
            .repos
            .iter()
            .any(|d| d.file == f.path && d.origin == Origin::Community);
        let dnf_file = view.file(&f.path);
        let dnf_community =
            dnf_file.is_some_and(|d| d.repos.iter().any(|r| is_community(major, r)));
        if !(changed || community_here || dnf_community) {
            continue;
        }
        let Some(dnf_file) = dnf_file else {
            return Err(crate::dnfquery::Divergence {
                file: f.path.clone(),
                line: 1,
                what: msg!("dnf does not read this file"),
            }
            .into());
        };
        crate::dnfquery::compare(&f.path, &f.bytes, dnf_file, &view.vars)?;
    }
    // 2. Enabled AlmaLinux repos outside /etc/yum.repos.d (dnf.conf,
    //    another reposdir) would stay enabled beside the new ones.
    for r in &view.repos {
        let file = view.host_path(&r.file);
        if r.enabled && is_community(major, r) && file.parent() != Some(repos_dir) {
            return Err(PlanError::OutsideReposDir {
                id: r.id.clone(),
                file,
                dir: repos_dir.display().to_string(),
            });
        }
    }
    // 3. Each section the switch changes is the repo of that name to dnf:
    //    the switch checks its work by that name (`intended_enabled`,
    //    the vault URLs), and dnf substitutes variables in section names.
    for d in &plan.repos {
        if !matches!(
            d.action,
            Action::Replace { .. } | Action::Vault { .. } | Action::Disable
        ) {
            continue;
        }
        let dnf = view
            .repos
            .iter()
            .find(|r| r.section == d.id && view.host_path(&r.file) == d.file);
        if let Some(r) = dnf {
            if r.id != d.id {
                return Err(PlanError::SubstitutedId {
                    section: d.id.clone(),
                    id: r.id.clone(),
                    file: d.file.clone(),
                });
            }
        }
        // A repointed repo is checked by dnf's URL for its id afterwards:
        // dnf must load that id (from this file, or first from another).
        if matches!(d.action, Action::Vault { .. }) && view.repo(&d.id).is_none() {
            return Err(PlanError::NotLoaded {
                section: d.id.clone(),
                file: d.file.clone(),
            });
        }
    }
    // 4. Every target key is a repo of the machine.
    let mut ids: Vec<&str> = view.repos.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    let new_ids: BTreeSet<&str> = target.repos.values().map(|r| r.id.as_str()).collect();
    for key in target.repos.keys() {
        if view.repo(key).is_some() {
            continue;
        }
        let did_you_mean = ids
            .iter()
            .find(|i| i.eq_ignore_ascii_case(key))
            .map(|i| i.to_string());
        return Err(PlanError::UnknownKey {
            key: key.clone(),
            did_you_mean,
            ids: ids
                .iter()
                .filter(|i| !new_ids.contains(*i))
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    // 5. Something to switch.
    if !plan.already_switched && !plan.new_repos.iter().any(|r| r.enabled) {
        let states: Vec<Message> = target
            .repos
            .keys()
            .map(|k| match view.repo(k) {
                Some(r) if r.enabled => msg!(
                    "{repo} is enabled in {file}",
                    repo = k,
                    file = view.host_path(&r.file).display()
                ),
                Some(r) => msg!(
                    "{repo} is disabled in {file}",
                    repo = k,
                    file = view.host_path(&r.file).display()
                ),
                None => msg!("{repo} is not defined", repo = k),
            })
            .collect();
        return Err(PlanError::NothingToSwitch(msg!(
            "no repo the target replaces is enabled ({states}), so no extended-update repo would be enabled and dnf would keep its present configuration; enable the community repos first (`dnf config-manager --set-enabled ID`) if this machine should use them",
            states = states
        )));
    }
    Ok(())
}

/// The repo ids dnf should load enabled once `plan` is written, from
/// dnf's reading before: replaced and disabled community repos off, the
/// switch's enabled repos on, everything else as it was.
pub fn intended_enabled(plan: &Plan, before: &crate::dnfquery::DnfView) -> BTreeSet<String> {
    let mut set = before.enabled_ids();
    for d in &plan.repos {
        if matches!(d.action, Action::Replace { .. } | Action::Disable) {
            set.remove(&d.id);
        }
    }
    for r in &plan.new_repos {
        if r.enabled {
            set.insert(r.id.clone());
        } else {
            set.remove(&r.id);
        }
    }
    set
}

/// The repo ids the switch enables or repoints: each must answer dnf.
pub fn repos_to_verify(plan: &Plan) -> Vec<String> {
    let mut v: Vec<String> = plan
        .new_repos
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.id.clone())
        .collect();
    for d in &plan.repos {
        if matches!(d.action, Action::Vault { .. }) && !v.contains(&d.id) {
            v.push(d.id.clone());
        }
    }
    v
}
