//! Preflight checks with a scripted repository probe.

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;

use alma_ext_switcher::preflight::{
    check_armored_key, check_local, check_repos, substitute, FailureClass, KeyProblem, NoAnswer,
    ProbeResult, RepoProbe,
};
use base64::Engine;
use common::*;

struct Scripted {
    answer: ProbeResult,
    asked: RefCell<Vec<String>>,
}

impl RepoProbe for Scripted {
    fn probe(&self, url: &str) -> ProbeResult {
        self.asked.borrow_mut().push(url.to_string());
        self.answer.clone()
    }
}

fn vars() -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("releasever".into(), "9".into());
    v.insert("basearch".into(), "x86_64".into());
    v
}

#[test]
fn repomd_of_every_repo_with_vars_substituted() {
    let p = Scripted {
        answer: Ok(200),
        asked: RefCell::new(vec![]),
    };
    check_repos(&target(TARGET), &vars(), &p).unwrap();
    assert_eq!(
        *p.asked.borrow(),
        vec![
            "https://updates.example.jp/almalinux/9/AppStream/x86_64/os/repodata/repomd.xml",
            "https://updates.example.jp/almalinux/9/BaseOS/x86_64/os/repodata/repomd.xml",
        ]
    );
}

#[test]
fn failures_are_classified_and_named() {
    let cases = [
        (Ok(401), FailureClass::Refused, "HTTP 401"),
        (Ok(403), FailureClass::Refused, "HTTP 403"),
        (Ok(404), FailureClass::Failed, "HTTP 404"),
        (
            Err(NoAnswer {
                url: "https://updates.example.jp/".into(),
                reason: "tcp connect error: Connection refused".into(),
            }),
            FailureClass::Unreachable,
            "Connection refused",
        ),
    ];
    for (answer, class, words) in cases {
        let p = Scripted {
            answer,
            asked: RefCell::new(vec![]),
        };
        let e = check_repos(&target(TARGET), &vars(), &p).unwrap_err();
        assert_eq!(e.class, class);
        assert!(e.to_string().contains(words), "{e}");
        assert!(e.to_string().contains("customer-0042"), "{e}");
        assert!(e.to_string().contains("repodata/repomd.xml"), "{e}");
        assert!(!e.to_string().contains("s3cret-pw"), "{e}");
    }
}

#[test]
fn vars_come_from_dnf_for_the_root() {
    use alma_ext_switcher::dnfquery::{DnfReader, RealDnf};
    let r = fixture_root(9);
    let v = RealDnf::default().read(r.path(), &[]).unwrap();
    // No rpm database in the fixture: the major version of VERSION_ID.
    assert_eq!(v.releasever.as_deref(), Some("9"));
    assert_eq!(v.releasever_source, "os-release");
    assert_eq!(v.vars["stream"], "9-stream");
    let basearch = v.basearch.clone().unwrap();
    assert_eq!(
        substitute("a/$releasever/${stream}/$nope/$basearch", &v.vars),
        format!("a/9/9-stream/$nope/{basearch}")
    );
    // A machine pinned to a minor release.
    std::fs::write(r.path().join("etc/dnf/vars/releasever"), "9.6\n").unwrap();
    let v = RealDnf::default().read(r.path(), &[]).unwrap();
    assert_eq!(v.releasever.as_deref(), Some("9.6"));
    assert_eq!(v.releasever_source, "vars");
    assert!(v.releasever_is_dnfs());
}

fn armor(data: &[u8]) -> String {
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
    let c = [(crc >> 16) as u8, (crc >> 8) as u8, crc as u8];
    let e = base64::engine::general_purpose::STANDARD;
    format!(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: test\n\n{}\n={}\n-----END PGP PUBLIC KEY BLOCK-----\n",
        e.encode(data),
        e.encode(c)
    )
}

#[test]
fn armored_key_checks() {
    // Old-format packet header, tag 6 (public key).
    let pk = [0x99u8, 0x00, 0x03, 4, 0, 0];
    check_armored_key(armor(&pk).as_bytes()).unwrap();
    // Tag 2 (signature) is not a key.
    let sig = [0x88u8, 0x03, 4, 0, 0];
    let e = check_armored_key(armor(&sig).as_bytes()).unwrap_err();
    assert_eq!(e, KeyProblem::NotAPublicKey(2));
    assert!(e.to_string().contains("not a public key"), "{e}");
    // A damaged body fails the checksum.
    let bad = armor(&pk).replacen("mQAD", "mQAE", 1);
    assert_eq!(
        check_armored_key(bad.as_bytes()).unwrap_err(),
        KeyProblem::Checksum
    );
    assert_eq!(
        check_armored_key(b"hello").unwrap_err(),
        KeyProblem::NoBegin
    );
}

#[test]
fn missing_key_and_certificate_files_are_named() {
    let r = fixture_root(9);
    let e = check_local(r.path(), &target(TARGET), chrono::Utc::now()).unwrap_err();
    assert!(
        e.to_string().contains("RPM-GPG-KEY-vendor-extended")
            && e.to_string().contains("cannot read"),
        "{}",
        e
    );
    write(
        r.path(),
        "etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended",
        armor(&[0x99, 0, 3, 4, 0, 0]).as_bytes(),
    );
    check_local(r.path(), &target(TARGET), chrono::Utc::now()).unwrap();
    let t = TARGET.replace(
        "password = \"s3cret-pw\"\n",
        "password = \"s3cret-pw\"\nsslcacert = \"/etc/pki/tls/certs/vendor-ca.pem\"\n",
    );
    let e = check_local(r.path(), &target(&t), chrono::Utc::now()).unwrap_err();
    assert!(
        e.to_string().contains("sslcacert") && e.to_string().contains("vendor-ca.pem"),
        "{}",
        e
    );
}

#[test]
fn reposdir_is_read_from_dnf_conf_main() {
    use alma_ext_switcher::preflight::configured_reposdir;
    assert_eq!(configured_reposdir(b"[main]\ngpgcheck=1\n"), None);
    assert_eq!(
        configured_reposdir(b"[main]\ngpgcheck=1\nreposdir = /etc/yum.repos.d/, /srv/r  /x\n"),
        Some((
            3,
            vec!["/etc/yum.repos.d".into(), "/srv/r".into(), "/x".into()]
        ))
    );
    // Only [main] counts.
    assert_eq!(configured_reposdir(b"[main]\n[other]\nreposdir=/x\n"), None);
}

#[test]
fn repo_files_outside_yum_repos_d_are_refused_before_anything_changes() {
    use alma_ext_switcher::preflight::check_reposdir;
    let r = fixture_root(9);
    check_reposdir(r.path()).unwrap();

    // dnf's default reposdir also reads /etc/yum/repos.d.
    write(
        r.path(),
        "etc/yum/repos.d/legacy.repo",
        b"[legacy]\nbaseurl=http://x/\n",
    );
    let e = check_reposdir(r.path()).unwrap_err();
    assert_eq!(e.class, FailureClass::Failed);
    assert!(
        e.to_string().contains("/etc/yum/repos.d")
            && e.to_string().contains("legacy.repo")
            && e.to_string().contains("default reposdir"),
        "{}",
        e
    );

    // A reposdir without /etc/yum/repos.d leaves that directory unread.
    write(
        r.path(),
        "etc/dnf/dnf.conf",
        b"[main]\ngpgcheck=1\nreposdir=/etc/yum.repos.d,/srv/empty.repos.d\n",
    );
    check_reposdir(r.path()).unwrap();

    // Without /etc/yum.repos.d dnf would never see the new repository.
    write(
        r.path(),
        "etc/dnf/dnf.conf",
        b"[main]\ngpgcheck=1\nreposdir=/srv/mirror.repos.d\n",
    );
    let e = check_reposdir(r.path()).unwrap_err();
    assert!(
        e.to_string().contains("/etc/dnf/dnf.conf line 3")
            && e.to_string().contains("/srv/mirror.repos.d"),
        "{}",
        e
    );
    // check_local runs it first.
    let e = check_local(r.path(), &target(TARGET), chrono::Utc::now()).unwrap_err();
    assert!(e.to_string().contains("reposdir"), "{e}");
}
