//! `alma-ext support-bundle` against a root made at test time with secrets
//! planted everywhere they can be: the bundle, unpacked, holds none of
//! them and holds every item the issue lists.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use serde_json::Value;

const REPO_PASSWORD: &str = "RepoPassw0rd-1";
const REPO_PROXY_PASSWORD: &str = "RepoProxyPw-2";
const CLIENT_KEY: &str = "PRIVKEYDATA3xyz";
const AGENT_PROXY_PASSWORD: &str = "AgentProxyPw-4";
const DROPIN_PROXY_PASSWORD: &str = "DropinProxyPw-5";
const CREDENTIAL: &str = "CredentialValue-6abcdef";
const TARGET_PASSWORD: &str = "TargetPassw0rd-7";
const SPOOLED: &str = "SpooledCheckin-8";
const LOG_URL_PASSWORD: &str = "LogUrlPassw0rd-9";
const DNF_LOG_PASSWORD: &str = "DnfLogPw-10";
const DNF_CONF_PROXY_PASSWORD: &str = "DnfConfProxyPw-11";
const JOURNAL_BLOB_PASSWORD: &str = "JournalBlobPw-12";
const HISTORY_PASSWORD: &str = "HistoryPw-13";
const ACTIVATION_KEY: &str = "ActKey-14-zzzz";
const OUTSIDE: &str = "HostFileOutsideRoot-15";
/// An activation key as the server issues it, pasted where no key names it.
const ISSUED_KEY: &str = "aek_Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8L9z0X1c";

const SECRETS: [&str; 16] = [
    REPO_PASSWORD,
    REPO_PROXY_PASSWORD,
    CLIENT_KEY,
    AGENT_PROXY_PASSWORD,
    DROPIN_PROXY_PASSWORD,
    CREDENTIAL,
    TARGET_PASSWORD,
    SPOOLED,
    LOG_URL_PASSWORD,
    DNF_LOG_PASSWORD,
    DNF_CONF_PROXY_PASSWORD,
    JOURNAL_BLOB_PASSWORD,
    HISTORY_PASSWORD,
    ACTIVATION_KEY,
    OUTSIDE,
    ISSUED_KEY,
];

const HOSTNAME: &str = "web1.corp.example";
const MACHINE_ID: &str = "0123456789abcdef0123456789abcdef";
const DMI_UUID: &str = "4c4c4544-0042-3510-8051-b7c04f4e4e31";
const SERIAL: &str = "SRV-SERIAL-1234";
const ADDRESSES: [&str; 3] = ["10.20.30.40", "10.20.30.41", "fd00:1234::41"];

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// The dnf history database with `n` transactions, the schema dnf 4 uses
/// (the columns the bundle reads).
fn history_db(path: &Path, n: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script = format!(
        r#"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.executescript('''
CREATE TABLE trans (id INTEGER PRIMARY KEY, dt_begin INTEGER, dt_end INTEGER, rpmdb_version_begin TEXT,
  rpmdb_version_end TEXT, releasever TEXT, user_id INTEGER, cmdline TEXT, state INTEGER, comment TEXT);
CREATE TABLE item (id INTEGER PRIMARY KEY, item_type INTEGER);
CREATE TABLE rpm (item_id INTEGER UNIQUE, name TEXT, epoch INTEGER, version TEXT, release TEXT, arch TEXT);
CREATE TABLE repo (id INTEGER PRIMARY KEY, repoid TEXT);
CREATE TABLE trans_item (id INTEGER PRIMARY KEY, trans_id INTEGER, item_id INTEGER, repo_id INTEGER,
  action INTEGER, reason INTEGER, state INTEGER);
INSERT INTO repo VALUES (1, 'baseos');
''')
for i in range(1, {n} + 1):
    con.execute("INSERT INTO trans VALUES (?, ?, ?, '', '', '9', 0, ?, 1, '')",
                (i, 1700000000 + i * 60, 1700000030 + i * 60,
                 "dnf --setopt=proxy_password={HISTORY_PASSWORD} install pkg%d" % i))
    con.execute("INSERT INTO item VALUES (?, 1)", (i,))
    con.execute("INSERT INTO rpm VALUES (?, ?, 0, '1.0', '1.el9', 'x86_64')", (i, "pkg%d" % i))
    con.execute("INSERT INTO trans_item VALUES (?, ?, ?, 1, 1, 2, 1)", (i, i, i))
con.commit()
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An AlmaLinux 9 root with secrets and identifiers planted everywhere.
fn planted_root() -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let r = dir.path();
    alma_ext_test_support::copy_tree(&alma_ext_test_support::almalinux_root(9), r);
    write(r, "etc/hostname", &format!("{HOSTNAME}\n"));
    write(
        r,
        "etc/hosts",
        &format!("127.0.0.1 localhost\n10.20.30.41 {HOSTNAME} web1\nfd00:1234::41 {HOSTNAME}\n"),
    );
    write(r, "etc/machine-id", &format!("{MACHINE_ID}\n"));
    write(r, "sys/class/dmi/id/product_uuid", &format!("{DMI_UUID}\n"));
    write(r, "sys/class/dmi/id/product_serial", &format!("{SERIAL}\n"));
    write(r, "sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
    write(
        r,
        "etc/yum.repos.d/alma-ext-extended.repo",
        &format!(
            "[ext-baseos]\nname=Extended BaseOS\nbaseurl=https://ext.vendor.example/9/baseos\n\
             username=m-42\npassword={REPO_PASSWORD}\n\
             proxy=http://proxyuser:{REPO_PROXY_PASSWORD}@proxy.corp.example:3128\n\
             sslclientcert=/etc/alma-ext/client.crt\nsslclientkey=/etc/alma-ext/client.pem\n"
        ),
    );
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{CLIENT_KEY}\n-----END PRIVATE KEY-----\n");
    write(r, "etc/alma-ext/client.pem", &pem);
    write(r, "etc/alma-ext/other.key", &pem);
    write(r, "etc/alma-ext/bundle.crt", &format!("cert\n{pem}"));
    write(
        r,
        "etc/alma-ext/agent.toml",
        &format!(
            "[server]\nurl = \"https://ext.vendor.example\"\n\
             proxy = \"http://agentuser:{AGENT_PROXY_PASSWORD}@proxy.corp.example:3128\"\n"
        ),
    );
    write(
        r,
        "etc/alma-ext/agent.d/50-proxy.toml",
        &format!(
            "[server]\nproxy = \"http://dropuser:{DROPIN_PROXY_PASSWORD}@10.20.30.40:8080\"\n"
        ),
    );
    write(r, "var/lib/alma-ext/credential", &format!("{CREDENTIAL}\n"));
    write(
        r,
        "var/lib/alma-ext/registration.json",
        &format!(
            r#"{{"server": "https://ext.vendor.example", "machine": "m-42", "machine_id": "{MACHINE_ID}", "uuid": "{DMI_UUID}"}}"#
        ),
    );
    write(
        r,
        "var/lib/alma-ext/target.json",
        &format!(
            r#"{{"auth": {{"username": "m-42", "password": "{TARGET_PASSWORD}"}}, "repos": {{"baseos": {{"id": "ext-baseos", "name": "x", "baseurl": "https://ext.vendor.example/9/baseos"}}}}}}"#
        ),
    );
    write(
        r,
        "var/lib/alma-ext/spool/000001.json",
        &format!("{{\"x\": \"{SPOOLED}\"}}"),
    );
    write(
        r,
        "var/lib/alma-ext/spool/000002.json",
        &format!("{{\"x\": \"{SPOOLED}\"}}"),
    );
    write(
        r,
        "var/lib/alma-ext/switch/state.json",
        r#"{"status": "extended", "target": "ext-baseos"}"#,
    );
    let blob = base64::engine::general_purpose::STANDARD
        .encode(format!("[ext]\npassword={JOURNAL_BLOB_PASSWORD}\n"));
    write(
        r,
        "var/lib/alma-ext/switch/applied.json",
        &format!(
            r#"{{"files": [{{"path": "/etc/yum.repos.d/alma-ext-extended.repo", "after": {{"sha256": "00", "data": "{blob}"}}}}]}}"#
        ),
    );
    write(
        r,
        "etc/dnf/dnf.conf",
        &format!(
            "[main]\ngpgcheck=1\nproxy=http://proxy.corp.example:3128\nproxy_username=u\n\
             proxy_password={DNF_CONF_PROXY_PASSWORD}\n"
        ),
    );
    write(
        r,
        "var/log/dnf.librepo.log",
        &format!(
            "2026-11-29T10:00:00+0000 INFO Downloading https://m-42:{LOG_URL_PASSWORD}@ext.vendor.example/9/repodata/repomd.xml\n\
             2026-11-29T10:00:01+0000 DEBUG Authorization: Bearer {CREDENTIAL}\n\
             2026-11-29T10:00:02+0000 DEBUG rejected {TARGET_PASSWORD} for m-42 from 10.20.30.41\n"
        ),
    );
    write(
        r,
        "var/log/dnf.log",
        &format!(
            "2026-11-29T10:00:00+0000 DDEBUG Command: dnf --setopt=proxy_password={DNF_LOG_PASSWORD} makecache\n\
             2026-11-29T10:00:00+0000 DDEBUG alma-ext register --key {ACTIVATION_KEY} --server https://ext.vendor.example\n\
             2026-11-29T10:00:00+0000 DDEBUG host {HOSTNAME} machine {MACHINE_ID} at fd00:1234::41\n"
        ),
    );
    write(
        r,
        "var/log/dnf.rpm.log",
        "2026-11-29T10:00:00+0000 SUBDEBUG Installed: pkg1\n",
    );
    write(
        r,
        "var/log/hawkey.log",
        &format!("2026-11-29T10:00:00+0000 INFO === Started libdnf === {ISSUED_KEY}\n"),
    );
    write(
        r,
        "etc/selinux/config",
        "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
    );
    history_db(&r.join("var/lib/dnf/history.sqlite"), 25);
    let init = Command::new("rpm")
        .arg("--dbpath")
        .arg(r.join("var/lib/rpm"))
        .arg("--initdb")
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // Absolute symlinks to a file of this machine, outside the root: they
    // resolve inside the root, where nothing is.
    let host_file = outside.path().join("leak.repo");
    fs::write(&host_file, format!("[leak]\nname={OUTSIDE}\n")).unwrap();
    symlink(&host_file, r.join("etc/yum.repos.d/leak.repo")).unwrap();
    symlink(&host_file, r.join("etc/dnf/vars/leak")).unwrap();
    symlink(&host_file, r.join("etc/alma-ext/agent.d/60-leak.toml")).unwrap();
    (dir, outside)
}

fn run(root: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alma-ext"))
        .arg("support-bundle")
        .arg("--root")
        .arg(root)
        .args(extra)
        .env("ALMA_EXT_ACTIVATION_KEY", ACTIVATION_KEY)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Every file of the bundle: path -> text.
fn unpack(path: &Path) -> BTreeMap<String, String> {
    let f = fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        let mut s = String::new();
        e.read_to_string(&mut s).unwrap();
        out.insert(p, s);
    }
    out
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn manifest(files: &BTreeMap<String, String>) -> Value {
    serde_json::from_str(&files["manifest.json"]).unwrap()
}

fn item<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == name)
        .unwrap_or_else(|| panic!("no manifest item {name}: {m:#}"))
}

#[test]
fn bundle_holds_every_item_and_no_planted_secret() {
    let (dir, _outside) = planted_root();
    let r = dir.path();
    let stdout = ok(&run(r, &[]));
    let path = PathBuf::from(stdout.trim());
    assert!(
        path.starts_with(r.canonicalize().unwrap().join("var/tmp")),
        "{}",
        path.display()
    );
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("alma-ext-support-{HOSTNAME}-")) && name.ends_with("Z.tar.gz"),
        "{name}"
    );
    assert_eq!(mode(&path), 0o600);

    let files = unpack(&path);
    for (p, text) in &files {
        for s in SECRETS {
            assert!(!text.contains(s), "{s} survived in {p}:\n{text}");
            let b64 = base64::engine::general_purpose::STANDARD.encode(s);
            assert!(
                !text.contains(&b64[..b64.len() - 4]),
                "{s} in base64 in {p}"
            );
        }
        assert!(!text.contains("PRIVATE KEY"), "a private key in {p}");
    }
    let expected = [
        "manifest.json",
        "facts.json",
        "status.json",
        "etc/os-release",
        "etc/alma-ext/agent.toml",
        "etc/alma-ext/agent.d/50-proxy.toml",
        "var/lib/alma-ext/registration.json",
        "var/lib/alma-ext/switch/state.json",
        "var/lib/alma-ext/switch/applied.json",
        "etc/yum.repos.d/alma-ext-extended.repo",
        "etc/yum.repos.d/almalinux-baseos.repo",
        "etc/yum.repos.d/almalinux-appstream.repo",
        "etc/dnf/dnf.conf",
        "etc/dnf/vars/stream",
        "rpm-qa.txt",
        "dnf-history.txt",
        "var/log/dnf.log",
        "var/log/dnf.librepo.log",
        "var/log/dnf.rpm.log",
        "var/log/hawkey.log",
        "uname.txt",
        "df.txt",
        "selinux.txt",
    ];
    for e in expected {
        assert!(files.contains_key(e), "{e} is missing: {:?}", files.keys());
    }
    for p in files.keys() {
        assert!(
            !p.contains("credential")
                && !p.contains("target.json")
                && !p.contains("spool")
                && !p.ends_with(".key")
                && !p.ends_with("client.pem")
                && !p.ends_with("bundle.crt")
                && !p.contains("leak"),
            "{p} must not be in the bundle"
        );
    }
    // What is left of the secrets says where they were.
    let repo = &files["etc/yum.repos.d/alma-ext-extended.repo"];
    assert!(repo.contains("password=********"), "{repo}");
    assert!(
        repo.contains("proxy=http://********@proxy.corp.example:3128"),
        "{repo}"
    );
    assert!(files["etc/alma-ext/agent.toml"].contains("http://********@proxy.corp.example"));
    assert!(files["var/log/dnf.librepo.log"].contains("Authorization: ********"));
    assert!(files["etc/dnf/dnf.conf"].contains("proxy_password=********"));
    // The last 20 transactions, newest first.
    let h = &files["dnf-history.txt"];
    assert_eq!(h.matches("\nTransaction ").count(), 20, "{h}");
    assert!(
        h.contains("Transaction 25\n") && h.contains("Transaction 6\n"),
        "{h}"
    );
    assert!(!h.contains("Transaction 5\n"), "{h}");
    assert!(h.contains("pkg25-1.0-1.el9.x86_64 @baseos"), "{h}");
    assert!(files["selinux.txt"].contains("SELINUX=enforcing"));
    let facts: Value = serde_json::from_str(&files["facts.json"]).unwrap();
    assert_eq!(facts["machine"]["hostname"], HOSTNAME);
    let status: Value = serde_json::from_str(&files["status.json"]).unwrap();
    assert_eq!(status["registration"]["registered"], true);

    let m = manifest(&files);
    assert_eq!(m["alma_ext_version"], env!("CARGO_PKG_VERSION"));
    assert!(m["redactions"].as_u64().unwrap() >= 12, "{m:#}");
    assert_eq!(m["spooled_checkins"], 2);
    assert!(m["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "support-bundle"));
    // security-status runs offline (dnf's cache only): collected, or an
    // error that says why; never skipped, never fatal.
    let sec = item(&m, "security-status.json");
    assert!(
        sec["status"] == "collected" || sec["status"] == "error",
        "{sec:#}"
    );
    assert_eq!(item(&m, "var/lib/alma-ext/credential")["status"], "skipped");
    assert_eq!(
        item(&m, "var/lib/alma-ext/target.json")["status"],
        "skipped"
    );
    assert_eq!(item(&m, "etc/alma-ext/other.key")["status"], "skipped");
    assert_eq!(item(&m, "etc/alma-ext/client.pem")["status"], "skipped");
    assert_eq!(item(&m, "etc/alma-ext/bundle.crt")["status"], "skipped");
    assert!(item(&m, "var/lib/alma-ext/spool")["reason"]
        .as_str()
        .unwrap()
        .starts_with("2 spooled check-ins"));
    assert_eq!(item(&m, "journal.txt")["status"], "skipped");
    assert_eq!(item(&m, "etc/yum.repos.d/leak.repo")["status"], "missing");
    assert_eq!(item(&m, "etc/dnf/vars/leak")["status"], "missing");
    assert_eq!(
        item(&m, "etc/alma-ext/agent.d/60-leak.toml")["status"],
        "missing"
    );
    assert_eq!(item(&m, "etc/os-release")["status"], "collected");

    // The JSON form, to a chosen file.
    let out_file = dir.path().join("case-1234.tar.gz");
    let stdout = ok(&run(
        r,
        &["--format", "json", "--output", out_file.to_str().unwrap()],
    ));
    let j: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["path"], out_file.to_str().unwrap());
    assert!(j["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "rpm-qa.txt"));
    assert!(j["redacted"].as_u64().unwrap() >= 12);
    assert!(j["errors"].is_array());
    assert!(j.get("mapping").is_none());
    assert_eq!(mode(&out_file), 0o600);
    // An existing file is never overwritten.
    let again = run(r, &["--output", out_file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("case-1234.tar.gz"));
}

#[test]
fn obfuscate_leaves_no_host_name_address_machine_id_or_uuid_of_the_root() {
    let (dir, _outside) = planted_root();
    let r = dir.path();
    let out = run(r, &["--obfuscate", "--format", "json"]);
    let j: Value = serde_json::from_str(&ok(&out)).unwrap();
    let path = PathBuf::from(j["path"].as_str().unwrap());
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("alma-ext-support-host-"), "{name}");
    let mapping = PathBuf::from(j["mapping"].as_str().unwrap());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&mapping), 0o600);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(mapping.to_str().unwrap()), "{stderr}");

    let node = nix::sys::utsname::uname()
        .unwrap()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let files = unpack(&path);
    let mut forbidden: Vec<String> = vec![
        HOSTNAME.into(),
        "web1".into(),
        "corp.example".into(),
        "ext.vendor.example".into(),
        MACHINE_ID.into(),
        DMI_UUID.into(),
        DMI_UUID.to_uppercase(),
        SERIAL.into(),
    ];
    forbidden.extend(ADDRESSES.iter().map(|a| a.to_string()));
    forbidden.extend(SECRETS.iter().map(|s| s.to_string()));
    for (p, text) in &files {
        assert!(
            !p.contains("obfuscation-map"),
            "the mapping is in the bundle"
        );
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{f} survived in {p}:\n{text}");
        }
    }
    assert!(files["facts.json"].contains("host-"));
    // uname.txt shows the running machine's node name: obfuscated too.
    let shown = files["uname.txt"]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        shown.starts_with("host-") || node.starts_with("localhost"),
        "node name {node:?} shown as {shown:?}"
    );
    assert!(files["var/log/dnf.log"].contains("2001:db8::"));
    assert!(files["etc/alma-ext/agent.d/50-proxy.toml"].contains("192.0.2."));
    let m = manifest(&files);
    assert_eq!(m["obfuscated"], true);

    // The mapping, on this machine, says what each placeholder stands for.
    let map: Value = serde_json::from_str(&fs::read_to_string(&mapping).unwrap()).unwrap();
    let pairs = map["placeholders"].as_array().unwrap();
    for original in [HOSTNAME, MACHINE_ID, DMI_UUID, SERIAL, "10.20.30.40"] {
        assert!(
            pairs.iter().any(|p| p["original"] == original),
            "{original} not in the mapping: {map:#}"
        );
    }
}

#[test]
fn a_root_missing_most_items_still_gives_a_bundle_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "etc/os-release",
        "NAME=\"AlmaLinux\"\nID=\"almalinux\"\nVERSION_ID=\"9.4\"\n",
    );
    let out = dir.path().join("out/bundle.tar.gz");
    let stdout = ok(&run(dir.path(), &["--output", out.to_str().unwrap()]));
    assert_eq!(stdout.trim(), out.to_str().unwrap());
    assert_eq!(mode(&out), 0o600);
    let files = unpack(&out);
    assert!(files.contains_key("etc/os-release"));
    assert!(files.contains_key("facts.json"));
    let m = manifest(&files);
    for missing in [
        "etc/alma-ext",
        "var/lib/alma-ext/registration.json",
        "var/lib/alma-ext/switch/state.json",
        "etc/yum.repos.d",
        "etc/dnf/dnf.conf",
        "rpm-qa.txt",
        "dnf-history.txt",
        "var/log/dnf.log",
        "var/log/hawkey.log",
        "security-status.json",
    ] {
        assert_eq!(item(&m, missing)["status"], "missing", "{missing}: {m:#}");
    }
    // Nothing was written into the root: no rpm database, no dnf cache.
    assert!(!dir.path().join("var").exists());
    assert_eq!(m["redactions"], 0);
}

#[test]
fn the_size_limit_cuts_logs_to_their_newest_lines_and_says_so() {
    let (dir, _outside) = planted_root();
    let r = dir.path();
    // 3 MiB of log: more than the 1 MiB limit leaves after the reserve.
    let mut log = String::new();
    let mut i = 0;
    while log.len() < 3 << 20 {
        log.push_str(&format!("2026-11-29T10:00:00+0000 DEBUG line {i:08}\n"));
        i += 1;
    }
    write(r, "var/log/dnf.log", &log);
    let out = dir.path().join("small.tar.gz");
    ok(&run(
        r,
        &["--max-size", "1", "--output", out.to_str().unwrap()],
    ));
    let files = unpack(&out);
    let total: usize = files.values().map(String::len).sum();
    assert!(total <= 1 << 20, "{total} bytes");
    let m = manifest(&files);
    let it = item(&m, "var/log/dnf.log");
    assert_eq!(it["status"], "truncated", "{m:#}");
    assert!(it["reason"].as_str().unwrap().contains("--max-size"));
    let kept = &files["var/log/dnf.log"];
    assert!(
        kept.ends_with(&format!("line {:08}\n", i - 1)),
        "the newest line is kept"
    );
}

#[test]
fn the_default_output_resolves_an_absolute_var_tmp_link_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let r = dir.path();
    write(r, "etc/hostname", "box\n");
    fs::create_dir_all(r.join("var")).unwrap();
    // On the machine this would be a directory outside the root.
    symlink(outside.path(), r.join("var/tmp")).unwrap();
    fs::create_dir_all(r.join(outside.path().strip_prefix("/").unwrap())).unwrap();
    let stdout = ok(&run(r, &[]));
    let path = PathBuf::from(stdout.trim());
    assert!(
        path.starts_with(r.canonicalize().unwrap()),
        "{} is outside the root",
        path.display()
    );
    assert!(path.is_file());
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
}
