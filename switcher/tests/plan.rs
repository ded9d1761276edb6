//! The pure switch plan against the AlmaLinux fixtures and variants.

mod common;

use std::path::{Path, PathBuf};

use alma_ext_switcher::apply::{read_release, read_repo_files};
use alma_ext_switcher::plan::{
    self, Action, InputFile, Origin, Plan, PlanError, EXTENDED_REPO_FILE,
};
use common::*;

fn plan_for(root: &Path, target_text: &str) -> Result<Plan, PlanError> {
    let rel = read_release(root).unwrap().unwrap();
    let files = read_repo_files(root).unwrap();
    plan::plan(&files, &rel, &target(target_text))
}

fn action<'a>(p: &'a Plan, id: &str) -> &'a Action {
    &p.repos
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .action
}

fn after(p: &Plan, path: &str) -> String {
    String::from_utf8(
        p.changes
            .iter()
            .find(|c| c.path == Path::new(path))
            .unwrap_or_else(|| panic!("no change to {path}"))
            .after
            .clone(),
    )
    .unwrap()
}

/// Lines that differ between two texts (old, new), in order.
fn changed_lines(a: &[u8], b: &[u8]) -> Vec<(String, String)> {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    let d = similar::TextDiff::from_lines(a.as_ref(), b.as_ref());
    let mut v = Vec::new();
    for op in d.ops() {
        for c in d.iter_changes(op) {
            let s = c.value().to_string();
            match c.tag() {
                similar::ChangeTag::Delete => v.push((s, String::new())),
                similar::ChangeTag::Insert => v.push((String::new(), s)),
                _ => {}
            }
        }
    }
    v
}

/// Apply a plan's changes to InputFiles (pure), for idempotence checks.
fn applied(files: &[InputFile], p: &Plan) -> Vec<InputFile> {
    let mut out: Vec<InputFile> = files.to_vec();
    for c in &p.changes {
        match out.iter_mut().find(|f| f.path == c.path) {
            Some(f) => f.bytes = c.after.clone(),
            None => out.push(InputFile {
                path: c.path.clone(),
                bytes: c.after.clone(),
            }),
        }
    }
    out
}

#[test]
fn almalinux9_default_plan() {
    let r = fixture_root(9);
    let p = plan_for(r.path(), TARGET).unwrap();
    assert_eq!(p.release.major, 9);
    assert_eq!(
        action(&p, "baseos"),
        &Action::Replace {
            by: "ext-baseos".into()
        }
    );
    assert_eq!(
        action(&p, "appstream"),
        &Action::Replace {
            by: "ext-appstream".into()
        }
    );
    assert_eq!(
        action(&p, "extras"),
        &Action::Vault {
            url: "https://vault.almalinux.org/9.6/extras/$basearch/os/".into()
        }
    );
    assert_eq!(action(&p, "crb"), &Action::AlreadyDisabled);
    assert_eq!(action(&p, "baseos-debuginfo"), &Action::AlreadyDisabled);
    assert!(p.repos.iter().all(|d| d.origin != Origin::ThirdParty));
    let paths: Vec<_> = p.changes.iter().map(|c| c.path.clone()).collect();
    assert_eq!(
        paths,
        vec![
            PathBuf::from("/etc/yum.repos.d/almalinux-appstream.repo"),
            PathBuf::from("/etc/yum.repos.d/almalinux-baseos.repo"),
            PathBuf::from("/etc/yum.repos.d/almalinux-extras.repo"),
            PathBuf::from(EXTENDED_REPO_FILE),
        ]
    );
    // Only the enabled= line of a replaced repo changes.
    let c = &p.changes[1];
    assert_eq!(
        changed_lines(c.before.as_ref().unwrap(), &c.after),
        vec![
            ("enabled=1\n".to_string(), String::new()),
            (String::new(), "enabled=0\n".to_string())
        ]
    );
    // The new file carries the credentials and is 0600.
    let new = p.changes.last().unwrap();
    assert!(new.is_new() && new.secret && new.new_mode == 0o600);
    let text = String::from_utf8(new.after.clone()).unwrap();
    assert!(text.contains("[ext-baseos]\n") && text.contains("password=s3cret-pw\n"));
    assert!(text.contains("gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended\n"));
    // ... but the diff and the JSON plan never show the password.
    let diff = plan::unified_diff(new);
    assert!(!diff.contains("s3cret-pw") && diff.contains("+password=********"));
    assert!(!serde_json::to_string(&p).unwrap().contains("s3cret-pw"));
}

#[test]
fn almalinux8_single_file_and_vault_of_8_10() {
    let r = fixture_root(8);
    let p = plan_for(r.path(), TARGET).unwrap();
    assert_eq!(
        action(&p, "extras"),
        &Action::Vault {
            url: "https://vault.almalinux.org/8.10/extras/$basearch/os/".into()
        }
    );
    let text = after(&p, "/etc/yum.repos.d/almalinux.repo");
    assert!(text.contains(
        "#mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/extras\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/extras/$basearch/os/\nbaseurl=https://vault.almalinux.org/8.10/extras/$basearch/os/\nenabled=1\n"
    ));
    assert_eq!(action(&p, "powertools"), &Action::AlreadyDisabled);
}

#[test]
fn second_plan_after_switch_is_already_switched() {
    for major in [8, 9] {
        let r = fixture_root(major);
        let rel = read_release(r.path()).unwrap().unwrap();
        let files = read_repo_files(r.path()).unwrap();
        let t = target(TARGET);
        let p = plan::plan(&files, &rel, &t).unwrap();
        assert!(!p.already_switched);
        let files2 = applied(&files, &p);
        let p2 = plan::plan(&files2, &rel, &t).unwrap();
        assert!(p2.already_switched, "{major}: {:?}", p2.changes);
        assert!(p2.new_repos.iter().all(|r| r.enabled));
    }
}

#[test]
fn mirror_pointed_elsewhere_is_still_recognised() {
    let r = fixture_root(9);
    write(
        r.path(),
        "etc/yum.repos.d/almalinux-baseos.repo",
        b"[baseos]\nname=AlmaLinux $releasever - BaseOS\n#mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos\nbaseurl=http://mirror.corp.example/almalinux/$releasever/BaseOS/$basearch/os/\nenabled=1\ngpgcheck=1\n",
    );
    write(
        r.path(),
        "etc/yum.repos.d/almalinux-extras.repo",
        b"[extras]\nname=x\nbaseurl=http://mirror.corp.example/almalinux/$releasever/extras/$basearch/os/\nenabled=1\n",
    );
    let p = plan_for(r.path(), TARGET).unwrap();
    assert_eq!(
        action(&p, "baseos"),
        &Action::Replace {
            by: "ext-baseos".into()
        }
    );
    // A local mirror keeps answering after the end of life: kept...
    assert!(
        matches!(action(&p, "extras"), Action::Keep { reason } if reason.to_string().contains("mirror.corp.example"))
    );
    // ... unless the target names a vault (a local copy of it).
    let t = format!("vault_url = \"https://vault.corp.example/almalinux/\"\n{TARGET}");
    let p = plan_for(r.path(), &t).unwrap();
    assert_eq!(
        action(&p, "extras"),
        &Action::Vault {
            url: "https://vault.corp.example/almalinux/9.6/extras/$basearch/os/".into()
        }
    );
    assert_eq!(
        after(&p, "/etc/yum.repos.d/almalinux-extras.repo"),
        "[extras]\nname=x\nbaseurl=https://vault.corp.example/almalinux/9.6/extras/$basearch/os/\nenabled=1\n"
    );
}

#[test]
fn crlf_file_keeps_crlf() {
    let r = fixture_root(9);
    let p = r.path().join("etc/yum.repos.d/almalinux-baseos.repo");
    let crlf = std::fs::read_to_string(&p).unwrap().replace('\n', "\r\n");
    std::fs::write(&p, &crlf).unwrap();
    let plan = plan_for(r.path(), TARGET).unwrap();
    let a = after(&plan, "/etc/yum.repos.d/almalinux-baseos.repo");
    assert_eq!(a, crlf.replacen("enabled=1\r\n", "enabled=0\r\n", 1));
}

#[test]
fn continuation_lines_and_unknown_keys_survive() {
    let r = fixture_root(9);
    let text = "# admin notes\n[baseos]\nname=BaseOS\nbaseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/\n  https://mirror2.example/almalinux/$releasever/BaseOS/$basearch/os/\nenabled = 1\nx-unknown-key = keep me\n\n[extras]\nbaseurl=https://repo.almalinux.org/almalinux/$releasever/extras/$basearch/os/\n\thttps://mirror2.example/extras/\nenabled=1\n";
    write(
        r.path(),
        "etc/yum.repos.d/almalinux-baseos.repo",
        text.as_bytes(),
    );
    std::fs::remove_file(r.path().join("etc/yum.repos.d/almalinux-extras.repo")).unwrap();
    let p = plan_for(r.path(), TARGET).unwrap();
    let a = after(&p, "/etc/yum.repos.d/almalinux-baseos.repo");
    assert_eq!(
        a,
        text.replace("enabled = 1\n", "enabled = 0\n").replace(
            "baseurl=https://repo.almalinux.org/almalinux/$releasever/extras/$basearch/os/\n\thttps://mirror2.example/extras/\n",
            "baseurl=https://vault.almalinux.org/9.6/extras/$basearch/os/\n"
        )
    );
}

#[test]
fn duplicate_sections_main_section_and_missing_enabled() {
    let r = fixture_root(9);
    let text = "[main]\ngpgcheck=1\n\n[baseos]\nname=BaseOS\nenabled=0\n\n[appstream]\nname=AppStream\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\n\n[baseos]\nenabled=1\n";
    write(
        r.path(),
        "etc/yum.repos.d/almalinux-baseos.repo",
        text.as_bytes(),
    );
    std::fs::remove_file(r.path().join("etc/yum.repos.d/almalinux-appstream.repo")).unwrap();
    let p = plan_for(r.path(), TARGET).unwrap();
    // The merged [baseos] is enabled (the last enabled= wins): replaced.
    assert_eq!(
        action(&p, "baseos"),
        &Action::Replace {
            by: "ext-baseos".into()
        }
    );
    assert!(!p.repos.iter().any(|d| d.id == "main"));
    let a = after(&p, "/etc/yum.repos.d/almalinux-baseos.repo");
    // appstream had no enabled= (default on): enabled=0 added after its last key.
    assert_eq!(
        a,
        "[main]\ngpgcheck=1\n\n[baseos]\nname=BaseOS\nenabled=0\n\n[appstream]\nname=AppStream\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\nenabled=0\n\n[baseos]\nenabled=0\n"
    );
    let new = p
        .new_repos
        .iter()
        .find(|r| r.id == "ext-appstream")
        .unwrap();
    assert!(new.enabled);
}

#[test]
fn admin_choices_are_kept() {
    // crb enabled by the admin, appstream disabled by the admin.
    let r = fixture_root(9);
    let d = r.path().join("etc/yum.repos.d");
    let crb = std::fs::read_to_string(d.join("almalinux-crb.repo")).unwrap();
    std::fs::write(
        d.join("almalinux-crb.repo"),
        crb.replacen("enabled=0", "enabled=1", 1),
    )
    .unwrap();
    let app = std::fs::read_to_string(d.join("almalinux-appstream.repo")).unwrap();
    std::fs::write(
        d.join("almalinux-appstream.repo"),
        app.replacen("enabled=1", "enabled=0", 1),
    )
    .unwrap();
    let p = plan_for(r.path(), TARGET).unwrap();
    assert_eq!(
        action(&p, "crb"),
        &Action::Vault {
            url: "https://vault.almalinux.org/9.6/CRB/$basearch/os/".into()
        }
    );
    assert_eq!(action(&p, "appstream"), &Action::AlreadyDisabled);
    let app = p
        .new_repos
        .iter()
        .find(|r| r.id == "ext-appstream")
        .unwrap();
    assert!(
        !app.enabled,
        "replacement of a disabled repo is added disabled"
    );
    assert!(!p
        .changes
        .iter()
        .any(|c| c.path.ends_with("almalinux-appstream.repo")));

    // With a replacement for crb in the target, ext-crb is enabled like crb was.
    let t = format!("{TARGET}\n[repos.crb]\nid = \"ext-crb\"\nname = \"CRB ext\"\nbaseurl = \"https://updates.example.jp/crb/\"\n");
    let p = plan_for(r.path(), &t).unwrap();
    assert_eq!(
        action(&p, "crb"),
        &Action::Replace {
            by: "ext-crb".into()
        }
    );
    assert!(
        p.new_repos
            .iter()
            .find(|r| r.id == "ext-crb")
            .unwrap()
            .enabled
    );

    // powertools on 8, enabled by the admin.
    let r = fixture_root(8);
    let f = r.path().join("etc/yum.repos.d/almalinux-powertools.repo");
    let t8 = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, t8.replacen("enabled=0", "enabled=1", 1)).unwrap();
    let p = plan_for(r.path(), TARGET).unwrap();
    assert_eq!(
        action(&p, "powertools"),
        &Action::Vault {
            url: "https://vault.almalinux.org/8.10/PowerTools/$basearch/os/".into()
        }
    );
}

#[test]
fn others_keep_and_disable() {
    let r = fixture_root(9);
    let p = plan_for(r.path(), &format!("others = \"keep\"\n{TARGET}")).unwrap();
    assert!(matches!(action(&p, "extras"), Action::Keep { .. }));
    assert!(!p
        .changes
        .iter()
        .any(|c| c.path.ends_with("almalinux-extras.repo")));
    let p = plan_for(r.path(), &format!("others = \"disable\"\n{TARGET}")).unwrap();
    assert_eq!(action(&p, "extras"), &Action::Disable);
    let a = after(&p, "/etc/yum.repos.d/almalinux-extras.repo");
    assert!(a.starts_with("[extras]\nname=AlmaLinux $releasever - Extras\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/extras\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/extras/$basearch/os/\nenabled=0\n"));
}

#[test]
fn third_party_repos_are_untouched_and_listed() {
    let r = fixture_root(9);
    write(r.path(), "etc/yum.repos.d/epel.repo", b"[epel]\nname=Extra Packages for Enterprise Linux $releasever - $basearch\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=epel-$releasever&arch=$basearch\nenabled=1\ngpgcheck=1\n");
    write(r.path(), "etc/yum.repos.d/docker-ce.repo", b"[docker-ce-stable]\nname=Docker CE Stable - $basearch\nbaseurl=https://download.docker.com/linux/centos/$releasever/$basearch/stable\nenabled=1\n");
    write(
        r.path(),
        "etc/yum.repos.d/inhouse.repo",
        b"[tools]\nbaseurl=http://repo.corp.example/tools/\n",
    );
    let p = plan_for(r.path(), TARGET).unwrap();
    for id in ["epel", "docker-ce-stable", "tools"] {
        let d = p.repos.iter().find(|d| d.id == id).unwrap();
        assert_eq!(d.origin, Origin::ThirdParty);
        assert_eq!(d.action, Action::Untouched);
        assert!(d.enabled);
    }
    assert!(!p.changes.iter().any(|c| c.path.ends_with("epel.repo")
        || c.path.ends_with("docker-ce.repo")
        || c.path.ends_with("inhouse.repo")));
    // A third-party repo on AlmaLinux's host is AlmaLinux's.
    write(
        r.path(),
        "etc/yum.repos.d/odd.repo",
        b"[my-alma]\nbaseurl=https://repo.almalinux.org/almalinux/9/extras/x86_64/os/\nenabled=1\n",
    );
    let p = plan_for(r.path(), TARGET).unwrap();
    assert_eq!(
        p.repos.iter().find(|d| d.id == "my-alma").unwrap().origin,
        Origin::Community
    );
}

#[test]
fn almalinux_9_0_debug_ids() {
    let r = fixture_root(9);
    let f = r.path().join("etc/yum.repos.d/almalinux-baseos.repo");
    let t = std::fs::read_to_string(&f)
        .unwrap()
        .replace("[baseos-debuginfo]", "[baseos-debug]");
    std::fs::write(&f, t).unwrap();
    let p = plan_for(r.path(), TARGET).unwrap();
    let d = p.repos.iter().find(|d| d.id == "baseos-debug").unwrap();
    assert_eq!(d.origin, Origin::Community);
    assert_eq!(d.action, Action::AlreadyDisabled);
    assert!(plan::is_standard_id(9, "appstream-debug"));
    assert!(!plan::is_standard_id(9, "powertools"));
    assert!(plan::is_standard_id(8, "powertools-debuginfo"));
}

#[test]
fn file_dnf_cannot_parse_is_left_alone() {
    let r = fixture_root(9);
    let f = r.path().join("etc/yum.repos.d/almalinux-extras.repo");
    let t = std::fs::read_to_string(&f).unwrap() + "this line has no equals sign\n";
    std::fs::write(&f, t).unwrap();
    let p = plan_for(r.path(), TARGET).unwrap();
    assert!(matches!(action(&p, "extras"), Action::IgnoredByDnf { .. }));
    assert!(!p
        .changes
        .iter()
        .any(|c| c.path.ends_with("almalinux-extras.repo")));
    assert!(p
        .warnings
        .iter()
        .any(|w| w.to_string().contains("almalinux-extras.repo")));
}

#[test]
fn errors_name_the_cause() {
    let r = fixture_root(9);
    write(
        r.path(),
        "etc/yum.repos.d/x.repo",
        b"[ext-baseos]\nbaseurl=http://x/\n",
    );
    let e = plan_for(r.path(), TARGET).unwrap_err();
    assert!(
        e.to_string().contains("repos.baseos") && e.to_string().contains("x.repo"),
        "{e}"
    );

    let r = fixture_root(9);
    let bad = TARGET.replace(
        "https://updates.example.jp/almalinux/$releasever/BaseOS",
        "https://user:pw@updates.example.jp/x",
    );
    let e = plan_for(r.path(), &bad).unwrap_err();
    assert!(
        e.to_string().contains("repos.baseos") && e.to_string().contains("credentials"),
        "{e}"
    );

    let e = plan_for(r.path(), &TARGET.replace("password = \"s3cret-pw\"\n", "")).unwrap_err();
    assert!(e.to_string().contains("[auth]"), "{e}");

    // Not AlmaLinux.
    write(r.path(), "etc/os-release", b"ID=centos\nVERSION_ID=\"7\"\n");
    assert!(matches!(
        plan_for(r.path(), TARGET),
        Err(PlanError::Unsupported { .. })
    ));

    // The TOML parser names line and key.
    let e = alma_ext_proto::Target::from_toml(
        "gpgcheck = true\nfoo = 1\n[repos.baseos]\nid=\"a\"\nname=\"b\"\nbaseurl=\"https://x/\"\n",
    )
    .unwrap_err();
    let m = e.to_string();
    assert!(m.contains("line 2") && m.contains("foo"), "{m}");
}
