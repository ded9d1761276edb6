use super::*;

fn repo(id: &str, url: &str, loaded: bool) -> RepoLoad {
    RepoLoad {
        id: id.into(),
        urls: vec![url.into()],
        loaded,
        error: (!loaded).then(|| "unreachable".into()),
    }
}

fn pkg(name: &str, evr: &str) -> Installed {
    Installed {
        name: name.into(),
        evr: evr.into(),
        arch: "x86_64".into(),
    }
}

fn adv(id: &str, kind: &str, sev: Option<&str>, name: &str, repos: &[&str]) -> AdvisoryPackage {
    AdvisoryPackage {
        id: id.into(),
        kind: kind.into(),
        severity: sev.map(str::to_string),
        cves: vec![format!("CVE-{id}")],
        name: name.into(),
        evr: "9-9".into(),
        arch: "x86_64".into(),
        repos: repos.iter().map(|r| r.to_string()).collect(),
    }
}

fn view() -> DnfView {
    let mut carriers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut carry = |r: &str, names: &[&str]| {
        carriers.insert(r.into(), names.iter().map(|n| n.to_string()).collect());
    };
    carry("baseos", &["openssl", "bash"]);
    carry("ext-baseos", &["openssl"]);
    carry("epel", &["htop"]);
    // An AlmaLinux mirror under a non-standard id is still community.
    carry("my-alma-mirror", &["vim"]);
    DnfView {
        installed: vec![
            pkg("bash", "5.1-1.el9"),
            pkg("htop", "3.2-1.el9"),
            pkg("local-tool", "1.0-1"),
            pkg("openssl", "1:3.0.7-27.el9"),
            pkg("vim", "8.2-1.el9"),
        ],
        repos: vec![
            repo("baseos", "https://mirrors.example.com/alma/9/BaseOS", true),
            repo("epel", "https://dl.fedoraproject.org/pub/epel/9", true),
            repo("ext-baseos", "https://ext.example.com/baseos/", true),
            repo(
                "my-alma-mirror",
                "https://repo.almalinux.org/almalinux/9/x",
                true,
            ),
        ],
        carriers,
        advisories: vec![
            adv(
                "ALSA-2025:1",
                "security",
                Some("Important"),
                "openssl",
                &["ext-baseos", "baseos"],
            ),
            adv(
                "ALSA-2025:1",
                "security",
                Some("Important"),
                "bash",
                &["baseos"],
            ),
            adv(
                "ALSA-2025:2",
                "security",
                Some("Critical"),
                "bash",
                &["baseos"],
            ),
            adv("ALBA-2025:3", "bugfix", None, "vim", &[]),
        ],
    }
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn ext() -> BTreeSet<String> {
    ["ext-baseos".to_string()].into()
}

#[test]
fn every_coverage_class() {
    let r = classify(&view(), 9, Some(&ext()), day(), false);
    let cov: BTreeMap<&str, Coverage> = r
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.coverage.unwrap()))
        .collect();
    assert_eq!(cov["openssl"], Coverage::Extended);
    assert_eq!(cov["bash"], Coverage::CommunityOnly);
    assert_eq!(cov["vim"], Coverage::CommunityOnly);
    assert_eq!(cov["htop"], Coverage::ThirdParty);
    assert_eq!(cov["local-tool"], Coverage::Unavailable);
    assert_eq!(
        r.summary,
        Summary {
            installed: 5,
            extended: Some(1),
            community_only: Some(2),
            third_party: Some(1),
            unavailable: Some(1),
        }
    );
    let openssl = r.packages.iter().find(|p| p.name == "openssl").unwrap();
    assert_eq!(openssl.repos, ["baseos", "ext-baseos"]);
    assert_eq!(openssl.evr, "1:3.0.7-27.el9");
}

#[test]
fn advisories_once_per_id_most_severe_first() {
    let r = classify(&view(), 9, Some(&ext()), day(), false);
    let ids: Vec<&str> = r.advisories.pending.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["ALSA-2025:2", "ALSA-2025:1", "ALBA-2025:3"]);
    let a1 = &r.advisories.pending[1];
    assert_eq!(a1.packages, ["bash", "openssl"]);
    assert_eq!(a1.repo.as_deref(), Some("baseos"));
    assert_eq!(r.advisories.pending[2].repo, None);
    assert_eq!(
        r.advisories.by_severity,
        SeverityCounts {
            critical: 1,
            important: 1,
            moderate: 0,
            low: 0
        }
    );
}

#[test]
fn without_target_no_coverage_but_advisories() {
    let r = classify(&view(), 9, None, day(), false);
    assert_eq!(r.summary.installed, 5);
    assert_eq!(r.summary.extended, None);
    assert!(r.packages.iter().all(|p| p.coverage.is_none()));
    assert_eq!(r.advisories.pending.len(), 3);
    // ext-baseos is then not known as extended: it is a third-party repo.
    let c = r.repos.iter().find(|x| x.id == "ext-baseos").unwrap().class;
    assert_eq!(c, RepoClass::ThirdParty);
}

#[test]
fn json_field_names() {
    let r = classify(&view(), 9, Some(&ext()), day(), true);
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["schema_version"], 1);
    assert_eq!(j["at"], "2026-11-29");
    assert_eq!(j["switched"], true);
    assert_eq!(j["summary"]["community_only"], 2);
    assert_eq!(j["packages"][3]["coverage"], "extended");
    assert_eq!(j["advisories"]["pending"][1]["type"], "security");
    assert_eq!(j["advisories"]["by_severity"]["Important"], 1);
    let s = r.checkin_summary(true);
    assert_eq!(
        s.not_extended.unwrap(),
        ["bash", "htop", "local-tool", "vim"]
    );
    assert_eq!(r.checkin_summary(false).not_extended, None);
}

#[test]
fn root_dbpath_prefers_a_directory_with_a_database() {
    assert_eq!(query::root_dbpath(|_| false), None);
    assert_eq!(
        query::root_dbpath(|d| d == "/usr/lib/sysimage/rpm"),
        Some("/usr/lib/sysimage/rpm")
    );
    assert_eq!(query::root_dbpath(|_| true), Some("/var/lib/rpm"));
}

#[test]
fn checkin_carries_the_names_only_when_the_server_asked() {
    let dir = tempfile::tempdir().unwrap();
    let root = hostroot::Root::open(dir.path()).unwrap();
    let host = crate::root::HostRoot::new(dir.path());
    assert_eq!(state::for_checkin(&host), None);
    let r = classify(&view(), 9, Some(&ext()), day(), false);
    state::save(&root, &r.checkin_summary(true)).unwrap();
    let s = state::for_checkin(&host).unwrap();
    assert_eq!(s.community_only, Some(2));
    assert_eq!(s.pending.critical, 1);
    assert_eq!(s.not_extended, None);
    state::remember_ask(&host, true);
    assert_eq!(
        state::for_checkin(&host).unwrap().not_extended.unwrap(),
        ["bash", "htop", "local-tool", "vim"]
    );
    state::remember_ask(&host, false);
    assert_eq!(state::for_checkin(&host).unwrap().not_extended, None);
}
