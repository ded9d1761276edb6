//! `alma-ext security-status`: which installed packages the extended-update
//! repositories keep fixing, and which advisories are pending.
//!
//! [`classify`] is a pure function of what dnf sees ([`DnfView`], asked by
//! [`query`]) and of which repo ids are extended-update ones (the target's).
//! Community repos are recognised as the switch recognises them
//! ([`alma_ext_switcher::plan::is_standard_id`] and
//! [`alma_ext_switcher::plan::is_almalinux_url`]).

pub mod query;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};

use alma_ext_proto::api::{SecuritySummary, SeverityCounts};
use alma_ext_switcher::plan::{is_almalinux_url, is_standard_id};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The version of the JSON document `--format json` prints.
pub const SCHEMA_VERSION: u32 = 1;

/// An installed package, as dnf reads it from the root's rpm database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    pub name: String,
    /// `[epoch:]version-release`, the epoch only when it is not 0.
    pub evr: String,
    pub arch: String,
}

/// One enabled repository and whether dnf could load its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoLoad {
    pub id: String,
    /// baseurl, mirrorlist and metalink, as dnf substituted them.
    pub urls: Vec<String>,
    pub loaded: bool,
    /// dnf's message when it could not load the repository.
    pub error: Option<String>,
}

/// An advisory package newer than the latest installed package of that
/// name and arch: dnf's `updateinfo list` (available) judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryPackage {
    pub id: String,
    /// security, bugfix, enhancement, newpackage or unknown.
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: Option<String>,
    pub cves: Vec<String>,
    /// The installed package name it updates.
    pub name: String,
    pub evr: String,
    pub arch: String,
    /// The repositories that carry this exact package.
    pub repos: Vec<String>,
}

/// What dnf sees in the root: the answer of the query program.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DnfView {
    pub installed: Vec<Installed>,
    pub repos: Vec<RepoLoad>,
    /// Repo id -> the installed package names it carries (any version).
    pub carriers: BTreeMap<String, BTreeSet<String>>,
    pub advisories: Vec<AdvisoryPackage>,
}

/// Who serves a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoClass {
    /// One of the target's extended-update repositories.
    Extended,
    /// AlmaLinux's own (standard repo id, or an AlmaLinux URL).
    Community,
    /// Anything else: EPEL, vendors, in-house.
    ThirdParty,
}

/// Where an installed package's fixes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// An extended-update repository carries a package of that name.
    Extended,
    /// Only AlmaLinux's community repositories carry it.
    CommunityOnly,
    /// Only other repositories carry it.
    ThirdParty,
    /// No enabled repository carries it.
    Unavailable,
}

/// The class of a repository. `extended` holds the target's repo ids.
pub fn repo_class(major: u32, extended: &BTreeSet<String>, repo: &RepoLoad) -> RepoClass {
    if extended.contains(&repo.id) {
        RepoClass::Extended
    } else if is_standard_id(major, &repo.id) || repo.urls.iter().any(|u| is_almalinux_url(u)) {
        RepoClass::Community
    } else {
        RepoClass::ThirdParty
    }
}

/// One installed package in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageStatus {
    pub name: String,
    pub evr: String,
    pub arch: String,
    /// None when no target is known.
    pub coverage: Option<Coverage>,
    /// Every loaded repository that carries a package of that name.
    pub repos: Vec<String>,
}

/// Counts per coverage; the four classes are None without a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub installed: u32,
    pub extended: Option<u32>,
    pub community_only: Option<u32>,
    pub third_party: Option<u32>,
    pub unavailable: Option<u32>,
}

/// A pending advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pending {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub severity: Option<String>,
    pub cves: Vec<String>,
    /// The installed package names it updates.
    pub packages: Vec<String>,
    /// A repository that carries its packages (the first by id).
    pub repo: Option<String>,
}

/// Pending advisories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advisories {
    pub pending: Vec<Pending>,
    /// Pending security advisories by severity.
    pub by_severity: SeverityCounts,
}

/// A repository in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoStatus {
    pub id: String,
    pub class: RepoClass,
    pub loaded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole report: the JSON document of `--format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub at: NaiveDate,
    /// The machine uses the extended-update repositories.
    pub switched: bool,
    pub summary: Summary,
    pub packages: Vec<PackageStatus>,
    pub advisories: Advisories,
    /// Every enabled repository dnf was asked to load (and the target's).
    pub repos: Vec<RepoStatus>,
}

/// Order of severities in lists: the most severe first.
fn severity_rank(s: Option<&str>) -> u8 {
    match s {
        Some("Critical") => 0,
        Some("Important") => 1,
        Some("Moderate") => 2,
        Some("Low") => 3,
        _ => 4,
    }
}

/// Classify what dnf sees. `extended` is the set of the target's repo ids,
/// None when no target is known (coverage is then not computed).
pub fn classify(
    view: &DnfView,
    major: u32,
    extended: Option<&BTreeSet<String>>,
    at: NaiveDate,
    switched: bool,
) -> Report {
    let none = BTreeSet::new();
    let ext_ids = extended.unwrap_or(&none);
    let classes: BTreeMap<&str, RepoClass> = view
        .repos
        .iter()
        .map(|r| (r.id.as_str(), repo_class(major, ext_ids, r)))
        .collect();
    // Name -> the repos that carry it (only loaded repos appear in
    // `carriers`: dnf had their metadata).
    let mut carried: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (repo, names) in &view.carriers {
        for n in names {
            carried.entry(n).or_default().insert(repo);
        }
    }
    let class_of = |repo: &str| {
        classes
            .get(repo)
            .copied()
            .unwrap_or_else(|| repo_class(major, ext_ids, &unknown_repo(repo)))
    };
    let mut counts = [0u32; 4];
    let packages: Vec<PackageStatus> = view
        .installed
        .iter()
        .map(|p| {
            let repos = carried.get(p.name.as_str()).cloned().unwrap_or_default();
            let coverage = extended.map(|_| {
                let has = |c: RepoClass| repos.iter().any(|r| class_of(r) == c);
                if has(RepoClass::Extended) {
                    Coverage::Extended
                } else if has(RepoClass::Community) {
                    Coverage::CommunityOnly
                } else if has(RepoClass::ThirdParty) {
                    Coverage::ThirdParty
                } else {
                    Coverage::Unavailable
                }
            });
            if let Some(c) = coverage {
                counts[c as usize] += 1;
            }
            PackageStatus {
                name: p.name.clone(),
                evr: p.evr.clone(),
                arch: p.arch.clone(),
                coverage,
                repos: repos.into_iter().map(str::to_string).collect(),
            }
        })
        .collect();
    let known = |i: usize| extended.map(|_| counts[i]);
    let summary = Summary {
        installed: packages.len() as u32,
        extended: known(Coverage::Extended as usize),
        community_only: known(Coverage::CommunityOnly as usize),
        third_party: known(Coverage::ThirdParty as usize),
        unavailable: known(Coverage::Unavailable as usize),
    };

    // One entry per advisory id; dnf reports one per advisory package.
    let mut by_id: BTreeMap<&str, (Pending, BTreeSet<&str>)> = BTreeMap::new();
    for a in &view.advisories {
        let e = by_id.entry(&a.id).or_insert_with(|| {
            (
                Pending {
                    id: a.id.clone(),
                    kind: a.kind.clone(),
                    severity: a.severity.clone(),
                    cves: vec![],
                    packages: vec![],
                    repo: None,
                },
                BTreeSet::new(),
            )
        });
        for c in &a.cves {
            if !e.0.cves.contains(c) {
                e.0.cves.push(c.clone());
            }
        }
        if !e.0.packages.contains(&a.name) {
            e.0.packages.push(a.name.clone());
        }
        e.1.extend(a.repos.iter().map(String::as_str));
    }
    let mut by_severity = SeverityCounts::default();
    let mut pending: Vec<Pending> = by_id
        .into_values()
        .map(|(mut p, repos)| {
            p.cves.sort();
            p.packages.sort();
            p.repo = repos.first().map(|r| r.to_string());
            if p.kind == "security" {
                match p.severity.as_deref() {
                    Some("Critical") => by_severity.critical += 1,
                    Some("Important") => by_severity.important += 1,
                    Some("Moderate") => by_severity.moderate += 1,
                    Some("Low") => by_severity.low += 1,
                    _ => {}
                }
            }
            p
        })
        .collect();
    pending.sort_by(|a, b| {
        (
            a.kind != "security",
            severity_rank(a.severity.as_deref()),
            &a.id,
        )
            .cmp(&(
                b.kind != "security",
                severity_rank(b.severity.as_deref()),
                &b.id,
            ))
    });

    Report {
        schema_version: SCHEMA_VERSION,
        at,
        switched,
        summary,
        packages,
        advisories: Advisories {
            pending,
            by_severity,
        },
        repos: view
            .repos
            .iter()
            .map(|r| RepoStatus {
                id: r.id.clone(),
                class: classes[r.id.as_str()],
                loaded: r.loaded,
                error: r.error.clone(),
            })
            .collect(),
    }
}

fn unknown_repo(id: &str) -> RepoLoad {
    RepoLoad {
        id: id.to_string(),
        urls: vec![],
        loaded: true,
        error: None,
    }
}

impl Report {
    /// The summary a check-in carries; the names of the packages the
    /// extended repositories do not carry only when `with_names`.
    pub fn checkin_summary(&self, with_names: bool) -> SecuritySummary {
        let s = &self.summary;
        let not_extended = (with_names && s.extended.is_some()).then(|| {
            let names: BTreeSet<&str> = self
                .packages
                .iter()
                .filter(|p| p.coverage.is_some_and(|c| c != Coverage::Extended))
                .map(|p| p.name.as_str())
                .collect();
            names.into_iter().map(str::to_string).collect()
        });
        SecuritySummary {
            at: self.at,
            installed: s.installed,
            extended: s.extended,
            community_only: s.community_only,
            third_party: s.third_party,
            unavailable: s.unavailable,
            pending: self.advisories.by_severity,
            not_extended,
        }
    }
}

#[cfg(test)]
mod tests;
