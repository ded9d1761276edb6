//! `plan::judge` is a pure function of the repo files, the plan and dnf's
//! reading (a `DnfView`): tested here on hand-made views, no dnf run.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use alma_ext_switcher::dnfquery::{DnfFile, DnfRepo, DnfView};
use alma_ext_switcher::plan::{self, InputFile, PlanError, Release};
use common::{target, TARGET};

fn release() -> Release {
    Release {
        id: "almalinux".into(),
        version: "9.6".into(),
        major: 9,
    }
}

const BASE: &str = "[baseos]\nname=BaseOS\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos\nenabled=1\n";
const APP: &str = "[appstream]\nname=AppStream\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\nenabled=1\n";

fn files() -> Vec<InputFile> {
    vec![
        InputFile {
            path: "/etc/yum.repos.d/almalinux-appstream.repo".into(),
            bytes: APP.into(),
        },
        InputFile {
            path: "/etc/yum.repos.d/almalinux-baseos.repo".into(),
            bytes: BASE.into(),
        },
    ]
}

fn repo(id: &str, file: &str, enabled: bool) -> DnfRepo {
    DnfRepo {
        id: id.into(),
        section: id.into(),
        file: PathBuf::from("/r").join(file.trim_start_matches('/')),
        enabled,
        baseurl: vec![],
        mirrorlist: vec![format!("https://mirrors.almalinux.org/mirrorlist/9/{id}")],
        metalink: vec![],
    }
}

/// dnf's reading of `files()` under root `/r`, as dnf would give it.
fn view(base_enabled: bool, app_enabled: bool) -> DnfView {
    let app = repo(
        "appstream",
        "/etc/yum.repos.d/almalinux-appstream.repo",
        app_enabled,
    );
    let base = repo(
        "baseos",
        "/etc/yum.repos.d/almalinux-baseos.repo",
        base_enabled,
    );
    DnfView {
        root: "/r".into(),
        config_file: None,
        reposdirs: vec!["/r/etc/yum.repos.d".into()],
        releasever: Some("9".into()),
        releasever_source: "rpmdb".into(),
        basearch: Some("x86_64".into()),
        vars: BTreeMap::from([
            ("releasever".into(), "9".into()),
            ("basearch".into(), "x86_64".into()),
        ]),
        files: vec![
            DnfFile {
                path: app.file.clone(),
                error: None,
                repos: vec![app.clone()],
            },
            DnfFile {
                path: base.file.clone(),
                error: None,
                repos: vec![base.clone()],
            },
        ],
        repos: vec![app, base],
        parsed: vec![],
        warnings: vec![],
    }
}

#[test]
fn agreeing_readings_pass_and_the_intended_set_follows_the_plan() {
    let t = target(TARGET);
    let p = plan::plan(&files(), &release(), &t).unwrap();
    let v = view(true, true);
    plan::judge(&files(), &p, &t, &v).unwrap();
    let want: Vec<String> = plan::intended_enabled(&p, &v).into_iter().collect();
    assert_eq!(want, ["ext-appstream", "ext-baseos"]);
}

#[test]
fn a_reading_dnf_does_not_share_names_file_and_line() {
    let t = target(TARGET);
    let p = plan::plan(&files(), &release(), &t).unwrap();
    // dnf reads baseos disabled (say, a later duplicate section this
    // project missed): no plan on that file.
    let v = view(false, true);
    match plan::judge(&files(), &p, &t, &v) {
        Err(PlanError::Divergence(d)) => {
            assert_eq!(
                d.file,
                PathBuf::from("/etc/yum.repos.d/almalinux-baseos.repo")
            );
            assert_eq!(d.line, 1);
            assert!(d.what.to_string().contains("enabled"), "{d}");
        }
        other => panic!("{other:?}"),
    }
    // dnf skipped the file (a parse error) that this project reads.
    let mut v = view(true, true);
    v.files[1].error = Some("IniParser: Missing '=' at line 3".into());
    v.files[1].repos.clear();
    let e = plan::judge(&files(), &p, &t, &v).unwrap_err();
    assert!(
        e.to_string().contains("line 3") && e.to_string().contains("dnf skips"),
        "{e}"
    );
}

#[test]
fn enabled_almalinux_repo_in_dnf_conf_is_refused() {
    let t = target(TARGET);
    let p = plan::plan(&files(), &release(), &t).unwrap();
    let mut v = view(true, true);
    v.repos
        .push(repo("baseos-local", "/etc/dnf/dnf.conf", true));
    let e = plan::judge(&files(), &p, &t, &v).unwrap_err();
    assert!(matches!(e, PlanError::OutsideReposDir { .. }), "{e}");
    assert!(e
        .to_string()
        .starts_with("/etc/dnf/dnf.conf: dnf reads the AlmaLinux repo baseos-local"));
    // A third-party repo there is none of the switch's business.
    let mut v = view(true, true);
    let mut epel = repo("epel", "/etc/dnf/dnf.conf", true);
    epel.mirrorlist = vec!["https://mirrors.fedoraproject.org/metalink?repo=epel-9".into()];
    v.repos.push(epel);
    plan::judge(&files(), &p, &t, &v).unwrap();
}

#[test]
fn target_key_matching_no_repo_names_the_ids() {
    let t = target(&TARGET.replace("[repos.baseos]", "[repos.BaseOS]"));
    let p = plan::plan(&files(), &release(), &t).unwrap();
    let e = plan::judge(&files(), &p, &t, &view(true, true)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "target repos.BaseOS: no repo \"BaseOS\" on this machine (repo ids are case-sensitive: did you mean \"baseos\"?); dnf reads the repo ids: appstream, baseos"
    );
}

#[test]
fn nothing_to_enable_says_why() {
    let off = |s: &str| s.replace("enabled=1", "enabled=0");
    let f = vec![
        InputFile {
            path: "/etc/yum.repos.d/almalinux-appstream.repo".into(),
            bytes: off(APP).into(),
        },
        InputFile {
            path: "/etc/yum.repos.d/almalinux-baseos.repo".into(),
            bytes: off(BASE).into(),
        },
    ];
    let t = target(TARGET);
    let p = plan::plan(&f, &release(), &t).unwrap();
    let e = plan::judge(&f, &p, &t, &view(false, false)).unwrap_err();
    let s = e.to_string();
    assert!(s.starts_with("nothing to switch: "), "{s}");
    assert!(
        s.contains("appstream is disabled in /etc/yum.repos.d/almalinux-appstream.repo")
            && s.contains("baseos is disabled in /etc/yum.repos.d/almalinux-baseos.repo"),
        "{s}"
    );
}
