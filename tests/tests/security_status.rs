//! `alma-ext security-status` end to end: real rpm databases in fixture
//! roots (packages built with rpmbuild, recorded with `rpm --justdb`),
//! community, extended and third-party createrepo_c repositories with an
//! updateinfo.xml added by modifyrepo_c, served by nginx on 127.0.0.1 over
//! HTTPS with the credentials the switch uses; real dnf (python3-dnf).

mod common_switch;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common_switch::*;
use serde_json::Value;

fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    out
}

/// (name, version, release)
const BUILT: &[(&str, &str, &str)] = &[
    ("openssl", "3.0.7", "27.el9"),
    ("openssl", "3.0.7", "28.el9"),
    ("zlib", "1.2.11", "1.el9"),
    ("zlib", "1.2.11", "2.el9"),
    ("bash", "5.1.8", "9.el9"),
    ("epel-tool", "1.0", "1.el9"),
    ("local-tool", "1.0", "1"),
];

/// What the fixture roots have installed.
const INSTALLED: &[&str] = &[
    "openssl-3.0.7-27.el9",
    "zlib-1.2.11-2.el9",
    "bash-5.1.8-9.el9",
    "epel-tool-1.0-1.el9",
    "local-tool-1.0-1",
];

fn advisory(id: &str, sev: &str, cve: &str, name: &str, ver: &str, rel: &str) -> String {
    format!(
        r#"  <update from="security@almalinux.org" status="final" type="security" version="1">
    <id>{id}</id>
    <title>{sev}: {name} security update</title>
    <issued date="2025-03-01 00:00:00"/>
    <updated date="2025-03-01 00:00:00"/>
    <severity>{sev}</severity>
    <description>Fixes {cve}.</description>
    <references>
      <reference href="https://www.cve.org/CVERecord?id={cve}" id="{cve}" title="{cve}" type="cve"/>
    </references>
    <pkglist><collection short="almalinux-9"><name>AlmaLinux 9</name>
      <package name="{name}" version="{ver}" release="{rel}" epoch="0" arch="noarch" src="{name}-{ver}-{rel}.src.rpm"><filename>{name}-{ver}-{rel}.noarch.rpm</filename></package>
    </collection></pkglist>
  </update>
"#
    )
}

/// Packages and repositories, built once per test binary under the
/// nginx document root (`/sec/...`).
struct Repos {
    rpms: PathBuf,
}

fn repos() -> &'static Repos {
    static R: OnceLock<Repos> = OnceLock::new();
    R.get_or_init(|| {
        let w = world();
        let top = w.dir.join("sec-rpmbuild");
        fs::create_dir_all(top.join("SPECS")).unwrap();
        for (n, v, r) in BUILT {
            let spec = top.join(format!("SPECS/{n}-{v}-{r}.spec"));
            fs::write(
                &spec,
                format!(
                    "Name: {n}\nVersion: {v}\nRelease: {r}\nSummary: security-status test\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n%description\ntest\n%files\n"
                ),
            )
            .unwrap();
            sh(Command::new("rpmbuild")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .args(["--nodeps", "-bb", "--quiet"])
                .arg(&spec));
        }
        let rpms = top.join("RPMS/noarch");
        let www = w.dir.join("www/sec");
        let repo = |name: &str, pkgs: &[&str], updateinfo: Option<String>| {
            let d = www.join(name);
            fs::create_dir_all(&d).unwrap();
            for p in pkgs {
                let f = format!("{p}.noarch.rpm");
                fs::copy(rpms.join(&f), d.join(&f)).unwrap();
            }
            sh(Command::new("createrepo_c").arg("-q").arg(&d));
            if let Some(ui) = updateinfo {
                let f = w.dir.join(format!("updateinfo-{name}/updateinfo.xml"));
                fs::create_dir_all(f.parent().unwrap()).unwrap();
                fs::write(&f, format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n{ui}</updates>\n")).unwrap();
                sh(Command::new("modifyrepo_c")
                    .arg("--mdtype=updateinfo")
                    .arg(&f)
                    .arg(d.join("repodata")));
            }
        };
        // Applies: openssl 28 over installed 27. Does not apply: zlib 1
        // (2 is installed) and an advisory for a package not installed.
        let applies = advisory(
            "ALSA-2025:1234",
            "Important",
            "CVE-2025-0001",
            "openssl",
            "3.0.7",
            "28.el9",
        );
        let community_ui = format!(
            "{applies}{}{}",
            advisory("ALSA-2025:2000", "Moderate", "CVE-2025-0002", "zlib", "1.2.11", "1.el9"),
            advisory("ALSA-2025:3000", "Critical", "CVE-2025-0003", "kernel", "5.14.0", "500.el9"),
        );
        repo(
            "baseos",
            &[
                "openssl-3.0.7-27.el9",
                "openssl-3.0.7-28.el9",
                "zlib-1.2.11-1.el9",
                "zlib-1.2.11-2.el9",
            ],
            Some(community_ui),
        );
        repo("appstream", &["bash-5.1.8-9.el9"], None);
        repo(
            "ext-baseos",
            &["openssl-3.0.7-28.el9", "zlib-1.2.11-2.el9"],
            Some(applies),
        );
        repo("epel", &["epel-tool-1.0-1.el9"], None);
        Repos { rpms }
    })
}

/// A root with an rpm database, the community repos, EPEL, and a target
/// file naming the extended repository (basic auth over HTTPS).
fn root_with(epel_url: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let w = world();
    let r = repos();
    let (root, _) = setup(9, Access::Basic);
    // `setup` put the CA inside the root at this path of the machine.
    let host_pki = std::path::Path::new("/etc/pki/alma-ext-test");
    let repos_d = root.path().join("etc/yum.repos.d");
    fs::remove_dir_all(&repos_d).unwrap();
    fs::create_dir_all(&repos_d).unwrap();
    let section = |id: &str, url: &str| {
        format!(
            "[{id}]\nname={id}\nbaseurl={url}\nenabled=1\ngpgcheck=0\nusername={USER}\npassword={PASSWORD}\nsslcacert={}/ca.pem\n",
            host_pki.display()
        )
    };
    let base = &w.basic_url;
    fs::write(
        repos_d.join("almalinux-baseos.repo"),
        section("baseos", &format!("{base}/sec/baseos/")),
    )
    .unwrap();
    fs::write(
        repos_d.join("almalinux-appstream.repo"),
        section("appstream", &format!("{base}/sec/appstream/")),
    )
    .unwrap();
    let epel = epel_url.map_or(format!("{base}/sec/epel/"), str::to_string);
    fs::write(repos_d.join("epel.repo"), section("epel", &epel)).unwrap();

    let pkgs: Vec<PathBuf> = INSTALLED
        .iter()
        .map(|p| r.rpms.join(format!("{p}.noarch.rpm")))
        .collect();
    sh(Command::new("rpm")
        .arg("--root")
        .arg(root.path())
        .args(["--dbpath", "/var/lib/rpm", "--justdb", "--nodeps", "-i"])
        .args(&pkgs));

    let target = format!(
        r#"gpgcheck = false
others = "keep"

[auth]
username = "{USER}"
password = "{PASSWORD}"
sslcacert = "{p}/ca.pem"

[repos.baseos]
id = "ext-baseos"
name = "AlmaLinux $releasever - BaseOS (extended support)"
baseurl = "{base}/sec/ext-baseos/"
"#,
        p = host_pki.display()
    );
    let t = root.path().join("security-target.toml");
    fs::write(&t, target).unwrap();
    (root, t)
}

fn status(root: &Path, extra: &[&str]) -> Output {
    let root = root.display().to_string();
    let mut a = vec!["security-status", "--root", &root];
    a.extend_from_slice(extra);
    alma_ext(&a, &[])
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

fn coverage(j: &Value) -> Vec<(String, String)> {
    j["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["coverage"].as_str().unwrap_or("null").to_string(),
            )
        })
        .collect()
}

fn pair(n: &str, c: &str) -> (String, String) {
    (n.to_string(), c.to_string())
}

fn assert_classes(j: &Value) {
    assert_eq!(j["schema_version"], 1);
    assert_eq!(
        j["summary"],
        serde_json::json!({"installed": 5, "extended": 2, "community_only": 1, "third_party": 1, "unavailable": 1})
    );
    assert_eq!(
        coverage(j),
        [
            pair("bash", "community_only"),
            pair("epel-tool", "third_party"),
            pair("local-tool", "unavailable"),
            pair("openssl", "extended"),
            pair("zlib", "extended"),
        ]
    );
    let openssl = &j["packages"][3];
    assert_eq!(openssl["evr"], "3.0.7-27.el9");
    assert_eq!(openssl["arch"], "noarch");
    // Only the advisory that updates an installed package to a newer
    // version: not zlib's (a newer zlib is installed), not kernel's.
    let pending = j["advisories"]["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["id"], "ALSA-2025:1234");
    assert_eq!(pending[0]["type"], "security");
    assert_eq!(pending[0]["severity"], "Important");
    assert_eq!(pending[0]["cves"], serde_json::json!(["CVE-2025-0001"]));
    assert_eq!(pending[0]["packages"], serde_json::json!(["openssl"]));
    assert_eq!(
        j["advisories"]["by_severity"],
        serde_json::json!({"Critical": 0, "Important": 1, "Moderate": 0, "Low": 0})
    );
}

#[test]
fn before_and_after_the_switch_online_and_offline() {
    let (r, t) = root_with(None);
    let ts = t.display().to_string();

    let out = status(r.path(), &["--target", &ts, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_classes(&j);
    assert_eq!(j["switched"], false);
    assert_eq!(j["advisories"]["pending"][0]["repo"], "baseos");
    assert_eq!(
        j["packages"][3]["repos"],
        serde_json::json!(["baseos", "ext-baseos"])
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));

    // Text: one line per coverage with this release's dates, then the
    // pending security advisories and the command that installs them.
    let out = status(r.path(), &["--target", &ts]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    for line in [
        "2 packages in the extended-update repositories: fixes continue until 2038-05-31",
        "1 package only in the community repositories: no fixes after 2032-05-31",
        "1 package only in third-party repositories",
        "1 package in no enabled repository",
        "Pending security advisories: 1 (0 Critical, 1 Important, 0 Moderate, 0 Low)",
        "dnf upgrade --security",
        "--format json",
    ] {
        assert!(s.contains(line), "{line:?} missing in:\n{s}");
    }

    // The summary is kept for the check-in.
    let saved: Value = serde_json::from_slice(
        &fs::read(r.path().join("var/lib/alma-ext/security-status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["community_only"], 1);
    assert_eq!(saved["pending"]["Important"], 1);

    // --offline with dnf's cache from the run above: the same answer.
    let out = status(
        r.path(),
        &["--target", &ts, "--offline", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_classes(&json(&out));

    // Switch (baseos is replaced by ext-baseos; the rest is kept).
    let root = r.path().display().to_string();
    let out = alma_ext(&["switch", "--root", &root, "--target", &ts, "--yes"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    // The switched machine's repo file now holds ext-baseos (with the
    // credentials); the target still says it is the extended one.
    let out = status(r.path(), &["--target", &ts, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["switched"], true);
    assert_classes(&j);
    assert_eq!(j["packages"][3]["repos"], serde_json::json!(["ext-baseos"]));
    assert_eq!(j["advisories"]["pending"][0]["repo"], "ext-baseos");
}

#[test]
fn unreachable_repository_exits_6_and_prints_the_rest() {
    let w = world();
    let (r, t) = root_with(Some(&format!("{}/sec/epel/", w.dead_url)));
    let ts = t.display().to_string();
    let out = status(r.path(), &["--target", &ts, "--format", "json"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(text(&out).contains("epel"), "{}", text(&out));
    let j = json(&out);
    let epel = j["repos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "epel")
        .unwrap()
        .clone();
    assert_eq!(epel["loaded"], false);
    // Without EPEL's metadata its package is in no repository dnf loaded.
    assert_eq!(j["summary"]["unavailable"], 2);
    assert_eq!(j["summary"]["extended"], 2);
    assert!(!r
        .path()
        .join("var/lib/alma-ext/security-status.json")
        .exists());
}

#[test]
fn offline_without_a_cache_loads_nothing_and_says_so() {
    let (r, t) = root_with(None);
    let ts = t.display().to_string();
    let out = status(
        r.path(),
        &["--target", &ts, "--offline", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert!(j["repos"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["loaded"] == false && x["error"].as_str().unwrap().contains("cache")));
    assert_eq!(j["summary"]["installed"], 5);
    assert_eq!(j["summary"]["unavailable"], 5);
    let out = status(r.path(), &["--target", &ts, "--offline"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Not loaded: repository ext-baseos"),
        "{}",
        text(&out)
    );
}

#[test]
fn bad_target_exits_3_and_no_target_exits_10_with_the_rest_printed() {
    let (r, _) = root_with(None);
    let bad = r.path().join("bad-target.toml");
    fs::write(&bad, "[repos.baseos]\nid = \"ext-baseos\"\nbogus = 1\n").unwrap();
    let out = status(r.path(), &["--target", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("bad-target.toml"), "{}", text(&out));

    let out = status(r.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["summary"]["installed"], 5);
    assert_eq!(j["summary"]["extended"], Value::Null);
    assert_eq!(j["advisories"]["pending"][0]["id"], "ALSA-2025:1234");
    let out = status(r.path(), &[]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Coverage unknown: no target"),
        "{}",
        text(&out)
    );
}
