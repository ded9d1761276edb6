//! From registration to the extended-update repository and back, as a user
//! walks it, against the real `alma-ext-server` on loopback and the real
//! dnf (createrepo_c repositories served on 127.0.0.1): `switch` right after
//! `register`; a revoked contract makes `checkin` exit 7 and `status` say
//! that access is lost and what to do; `unregister` with and without the
//! revert; the daemon, restarted after a switch, reports it at once, and a
//! revert made while it runs at its next look at the facts (virtual clock).

mod agent_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agent_common::{agent_bin, alma_root, server_bin, Server};
use alma_ext_agent::config;
use alma_ext_agent::daemon::{Event, ManualClock};
use alma_ext_agent::root::HostRoot;

/// Community repo files as AlmaLinux 9 ships them (the parts the switch
/// reads).
const BASEOS_REPO: &str = "[baseos]\nname=AlmaLinux $releasever - BaseOS\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/\nenabled=1\ngpgcheck=1\ncountme=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\nmetadata_expire=86400\nenabled_metadata=1\n";
const APPSTREAM_REPO: &str = "[appstream]\nname=AlmaLinux $releasever - AppStream\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/AppStream/$basearch/os/\nenabled=1\ngpgcheck=1\ncountme=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-AlmaLinux-9\nmetadata_expire=86400\nenabled_metadata=1\n";

/// The server, the repositories and a scratch directory.
struct World {
    dir: tempfile::TempDir,
    server: Server,
    _repos: alma_ext_test_support::StaticHttp,
}

/// Empty createrepo_c repositories for BaseOS and AppStream served over
/// HTTP on 127.0.0.1, and a server whose target for 9 points at them.
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let repos = agent_common::serve_empty_repos(&dir.path().join("www"), &["BaseOS", "AppStream"]);
    let base = repos.base();
    let srv = dir.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let target = dir.path().join("target.toml");
    std::fs::write(
        &target,
        format!("vault_url = \"{base}/vault/\"\n[repos.baseos]\nid = \"ext-baseos\"\nname = \"Extended BaseOS\"\nbaseurl = \"{base}/9/BaseOS/$basearch/os/\"\n[repos.appstream]\nid = \"ext-appstream\"\nname = \"Extended AppStream\"\nbaseurl = \"{base}/9/AppStream/$basearch/os/\"\n"),
    )
    .unwrap();
    let db = format!("sqlite://{}/fleet.db", srv.display());
    let o = Command::new(server_bin())
        .args(["target", "set", "--major", "9", "--file"])
        .arg(&target)
        .args(["--database", &db, "--create"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let server = Server::start(&srv, &["--rate-every", "0"]);
    World {
        dir,
        server,
        _repos: repos,
    }
}

impl World {
    /// A new contract: (id, activation key).
    fn contract(&self) -> (String, String) {
        let o = Command::new(server_bin())
            .args(["contract", "create", "--customer", "ACME"])
            .args(["--product", "virtual", "--quantity", "5"])
            .args(["--starts", "2026-01-01", "--format", "json"])
            .args(["--database", &self.server.db])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["activation_key"].as_str().unwrap().to_string(),
        )
    }

    fn revoke(&self, contract: &str) {
        let o = Command::new(server_bin())
            .args(["contract", "revoke", contract])
            .args(["--database", &self.server.db])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// An AlmaLinux 9 root with the community repositories, registered
    /// with `key`.
    fn registered_root(&self, name: &str, key: &str, machine_id: &str) -> PathBuf {
        let root = self.dir.path().join(name);
        alma_root(
            &root,
            machine_id,
            &format!("4c4c4544-0000-1111-2222-{:0>12}", name.len()),
        );
        let repos = root.join("etc/yum.repos.d");
        std::fs::create_dir_all(&repos).unwrap();
        std::fs::write(repos.join("almalinux-baseos.repo"), BASEOS_REPO).unwrap();
        std::fs::write(repos.join("almalinux-appstream.repo"), APPSTREAM_REPO).unwrap();
        std::fs::create_dir_all(root.join("etc/dnf/vars")).unwrap();
        std::fs::write(root.join("etc/dnf/vars/stream"), "9-stream\n").unwrap();
        let o = alma_ext(
            &root,
            &["register", "--server", &self.server.url(), "--key", key],
        );
        assert!(o.status.success(), "{}", text(&o));
        root
    }
}

fn alma_ext(root: &Path, args: &[&str]) -> Output {
    Command::new(agent_bin())
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn status_json(root: &Path) -> serde_json::Value {
    let o = alma_ext(root, &["status", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

const EXT_REPO: &str = "etc/yum.repos.d/alma-ext-extended.repo";

/// `register`, then `switch` at once: dnf verifies the extended-update
/// repositories with this machine's own credentials.
fn register_and_switch(w: &World, name: &str, key: &str, machine_id: &str) -> PathBuf {
    let root = w.registered_root(name, key, machine_id);
    let o = alma_ext(&root, &["switch", "--yes"]);
    assert!(
        o.status.success(),
        "switch right after register: {}",
        text(&o)
    );
    let ext = std::fs::read_to_string(root.join(EXT_REPO)).unwrap();
    assert!(ext.contains("[ext-baseos]"), "{ext}");
    let reg = alma_ext_agent::registration::load(&HostRoot::new(&root))
        .unwrap()
        .unwrap();
    assert!(
        ext.contains(&format!("username={}", reg.machine)),
        "the machine's own repository credentials: {ext}"
    );
    assert_eq!(status_json(&root)["switch"]["status"], "extended");
    root
}

#[test]
fn revoked_contract_checkin_status_and_unregister() {
    let w = world();
    let (contract, key) = w.contract();
    let root = register_and_switch(&w, "revoked", &key, "0123456789abcdef0123456789abcd01");

    // While the contract is in force the check-in succeeds and status is calm.
    let o = alma_ext(&root, &["checkin"]);
    assert!(o.status.success(), "{}", text(&o));
    let s = status_json(&root);
    assert!(s["registration"]["access_lost"].is_null(), "{s}");

    w.revoke(&contract);
    let o = alma_ext(&root, &["checkin"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    println!("{err}");
    assert!(err.contains("revoked"), "{err}");
    assert!(
        err.contains("access to the extended-update repository is lost"),
        "{err}"
    );
    assert!(err.contains("alma-ext switch --revert"), "{err}");

    // Recorded: status says what the server said, when, and what to do.
    let s = status_json(&root);
    let reg = &s["registration"];
    assert_eq!(reg["entitlement"]["status"], "revoked", "{s}");
    assert!(reg["last_checkin"].is_string(), "{s}");
    assert!(
        reg["last_error"].as_str().unwrap_or("").contains("revoked"),
        "{s}"
    );
    assert!(reg["access_lost"]["switched"].as_bool().unwrap(), "{s}");
    let advice = s["lifecycle"]["advice"].as_str().unwrap();
    assert!(!advice.contains("nothing to do"), "{advice}");
    assert!(
        advice.contains("renew") && advice.contains("alma-ext switch --revert"),
        "{advice}"
    );
    let o = alma_ext(&root, &["status"]);
    let t = text(&o);
    println!("{t}");
    assert!(t.contains("Access") && t.contains("LOST"), "{t}");
    assert!(t.contains("Last error"), "{t}");
    assert!(!t.contains("nothing to do"), "{t}");

    // No terminal and no choice: unregister asks, changes nothing.
    let o = alma_ext(&root, &["unregister"]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(text(&o).contains("--keep-repos"), "{}", text(&o));
    assert!(root.join("var/lib/alma-ext/registration.json").exists());

    // Keep the repo file: said so, and left in place.
    let o = alma_ext(&root, &["unregister", "--keep-repos"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert!(out.contains("alma-ext-extended.repo stays"), "{out}");
    assert!(out.contains("alma-ext switch --revert"), "{out}");
    assert!(root.join(EXT_REPO).exists());
    assert!(!root.join("var/lib/alma-ext/registration.json").exists());
    // Unregistering again says how to get dnf working.
    let o = alma_ext(&root, &["unregister"]);
    assert_eq!(o.status.code(), Some(10), "{}", text(&o));
    assert!(
        text(&o).contains("alma-ext switch --revert"),
        "{}",
        text(&o)
    );
    // Not registered but still switched: status does not say all is well.
    let s = status_json(&root);
    assert!(!s["registration"]["access_lost"].is_null(), "{s}");
    assert!(s["lifecycle"]["advice"]
        .as_str()
        .unwrap()
        .contains("alma-ext switch --revert"));
}

#[test]
fn unregister_with_revert_goes_back_to_community() {
    let w = world();
    let (_, key) = w.contract();
    let root = register_and_switch(&w, "reverted", &key, "0123456789abcdef0123456789abcd02");
    let o = alma_ext(&root, &["unregister", "--revert"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("reverted"),
        "{}",
        text(&o)
    );
    assert!(!root.join(EXT_REPO).exists());
    let baseos =
        std::fs::read_to_string(root.join("etc/yum.repos.d/almalinux-baseos.repo")).unwrap();
    assert_eq!(baseos, BASEOS_REPO, "community repo restored byte for byte");
    let s = status_json(&root);
    assert_eq!(s["switch"]["status"], "community", "{s}");
    assert_eq!(s["registration"]["registered"], false, "{s}");
    assert!(s["registration"]["access_lost"].is_null(), "{s}");
}

#[test]
fn daemon_reports_a_switch_change_made_while_stopped_or_running() {
    let w = world();
    let (_, key) = w.contract();
    // Switched while no agent ran.
    let root = register_and_switch(&w, "daemon", &key, "0123456789abcdef0123456789abcd03");
    let settings = config::from_texts(&[(
        PathBuf::from("/etc/alma-ext/agent.toml"),
        "[checkin]\ninterval = \"4h\"\nsplay = \"30m\"\n".to_string(),
    )])
    .unwrap();
    let start = chrono::Utc::now();
    let clock = Arc::new(ManualClock::new(start));
    let events = agent_common::run_daemon(
        &root,
        settings,
        clock,
        7,
        None,
        Duration::from_secs(60),
        |e, _| matches!(e, Event::CheckinOk { .. } | Event::CheckinFailed { .. }),
    );
    assert!(
        events.iter().any(
            |e| matches!(e, Event::FactsChanged { what, .. } if what.contains("switch state"))
        ),
        "{events:?}"
    );
    let at = events
        .iter()
        .find_map(|e| match e {
            Event::CheckinOk { at, .. } => Some(*at),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(
        at - start < chrono::Duration::minutes(1),
        "check-in at {at}, started {start}"
    );
    let reg = alma_ext_agent::registration::load(&HostRoot::new(&root))
        .unwrap()
        .unwrap();
    assert_eq!(
        reg.reported_switch,
        Some(alma_ext_proto::api::SwitchStatus::Extended)
    );

    // Running again, the admin reverts: reported at the next look at the
    // facts (5 minutes), not at the next scheduled check-in (4 hours).
    let settings = config::from_texts(&[(
        PathBuf::from("/etc/alma-ext/agent.toml"),
        "[checkin]\ninterval = \"4h\"\nsplay = \"30m\"\nfacts_poll = \"5m\"\n".to_string(),
    )])
    .unwrap();
    let start = at + chrono::Duration::minutes(1);
    let clock = Arc::new(ManualClock::new(start));
    let revert_root = root.clone();
    let events = agent_common::run_daemon(
        &root,
        settings,
        clock,
        8,
        None,
        Duration::from_secs(60),
        move |e, _| {
            if matches!(e, Event::Started { .. }) {
                let o = alma_ext(&revert_root, &["switch", "--revert", "--yes"]);
                assert!(o.status.success(), "{}", text(&o));
            }
            matches!(e, Event::CheckinOk { .. } | Event::CheckinFailed { .. })
        },
    );
    assert!(
        events.iter().any(
            |e| matches!(e, Event::FactsChanged { what, .. } if what.contains("switch state"))
        ),
        "{events:?}"
    );
    let at = events
        .iter()
        .find_map(|e| match e {
            Event::CheckinOk { at, .. } => Some(*at),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(
        at - start <= chrono::Duration::minutes(6),
        "check-in at {at}, started {start}"
    );
    let reg = alma_ext_agent::registration::load(&HostRoot::new(&root))
        .unwrap()
        .unwrap();
    assert_eq!(
        reg.reported_switch,
        Some(alma_ext_proto::api::SwitchStatus::Community)
    );
}

#[test]
fn retired_credential_is_a_refusal_with_what_to_do() {
    let w = world();
    let (_, key) = w.contract();
    let mid = "0123456789abcdef0123456789abcd04";
    let root = w.registered_root("retired", &key, mid);
    // The same machine registers again from a copy of its disk: the server
    // retires the first registration and its credential.
    let copy = w.dir.path().join("retired-copy");
    agent_common::copy_tree(&root, &copy);
    let o = alma_ext(
        &copy,
        &[
            "register",
            "--force",
            "--server",
            &w.server.url(),
            "--key",
            &key,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));

    let o = alma_ext(&root, &["checkin"]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("alma-ext register --force"), "{err}");
    let s = status_json(&root);
    let lost = &s["registration"]["access_lost"];
    assert!(
        lost["reason"].as_str().unwrap().contains("no longer knows"),
        "{s}"
    );
    assert!(
        s["lifecycle"]["advice"]
            .as_str()
            .unwrap()
            .contains("alma-ext register --force"),
        "{s}"
    );
}
