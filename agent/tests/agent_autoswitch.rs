//! The end of life with `switch.auto = true`: the server's lifecycle says
//! the extended period has started and gives a target; the daemon warns,
//! runs the CLI's own `alma-ext switch` at the configured time, leaves the
//! machine exactly as it was when the switch fails, and reports at once.

mod agent_common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_common::{agent_bin, copy_tree, register, server_bin, Server};
use alma_ext_agent::config;
use alma_ext_agent::daemon::{self, Control, Event, ManualClock, Notifier};
use alma_ext_agent::root::HostRoot;
use tokio::sync::mpsc;

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        m.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    m
}

fn fixture9() -> Option<PathBuf> {
    [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/almalinux/9"),
        PathBuf::from("/work/shared/fixtures/almalinux/9"),
    ]
    .into_iter()
    .find(|p| p.join("etc/yum.repos.d").is_dir())
}

#[test]
fn auto_switch_fails_cleanly_and_is_reported() {
    let Some(fx) = fixture9() else {
        panic!("the AlmaLinux 9 fixture root (shared/fixtures/almalinux/9) is missing");
    };
    let d = tempfile::tempdir().unwrap();
    let srv = d.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let db = format!("sqlite://{}/fleet.db", srv.display());
    // Lifecycle: community security support of 9 ended on 2026-01-01.
    let lc = d.path().join("lifecycle.json");
    std::fs::write(
        &lc,
        r#"{"releases":[{"major":9,"ga":"2022-05-26","active_end":"2023-05-31","security_end":"2026-01-01"}]}"#,
    )
    .unwrap();
    // The target points at a repository that is not there: the switch's
    // preflight must fail and change nothing.
    let dead = agent_common::free_port();
    let target = d.path().join("target.toml");
    std::fs::write(
        &target,
        format!("[repos.baseos]\nid = \"ext-baseos\"\nname = \"Extended BaseOS\"\nbaseurl = \"http://127.0.0.1:{dead}/9/BaseOS/$basearch/os/\"\n[repos.appstream]\nid = \"ext-appstream\"\nname = \"Extended AppStream\"\nbaseurl = \"http://127.0.0.1:{dead}/9/AppStream/$basearch/os/\"\n"),
    )
    .unwrap();
    for args in [
        vec!["lifecycle", "set", "--file", lc.to_str().unwrap()],
        vec![
            "target",
            "set",
            "--major",
            "9",
            "--file",
            target.to_str().unwrap(),
        ],
    ] {
        let o = std::process::Command::new(server_bin())
            .args(&args)
            .args(["--database", &db])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let server = Server::start(&srv, &["--rate-every", "0"]);
    let root = d.path().join("root");
    copy_tree(&fx, &root);
    std::fs::write(
        root.join("etc/machine-id"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let key = server.contract("virtual", 5);
    let o = register(&server, &root, &key, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let before = snapshot(&root.join("etc/yum.repos.d"));

    let settings = config::from_texts(&[(
        PathBuf::from("/etc/alma-ext/agent.toml"),
        "[switch]\nauto = true\ntime = \"00:00\"\n[checkin]\nsplay = \"0\"\n".to_string(),
    )])
    .unwrap();
    let clock = Arc::new(ManualClock::new(
        chrono::Utc::now() - chrono::Duration::days(10),
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let events = rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let opts = daemon::Options {
            clock,
            notifier: Notifier::default(),
            events: Some(tx),
            seed: Some(1),
            switch_timeout: Duration::from_secs(600),
            switch_exe: Some(agent_bin()),
        };
        let task = tokio::spawn(daemon::run(HostRoot::new(&root), settings, opts, ctl_rx));
        let mut seen = Vec::new();
        let mut switched = false;
        while let Some(e) = rx.recv().await {
            let done =
                switched && matches!(e, Event::CheckinOk { .. } | Event::CheckinFailed { .. });
            switched |= matches!(e, Event::Switched { .. });
            seen.push(e);
            if done {
                break;
            }
        }
        ctl.send(Control::Stop).unwrap();
        while let Some(e) = rx.recv().await {
            if e == Event::Stopped {
                break;
            }
        }
        task.await.unwrap().unwrap();
        seen
    });
    // The daily warning names the end of security support.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Warning { message, .. } if message.contains("2026-01-01"))),
        "{events:?}"
    );
    let err = events
        .iter()
        .find_map(|e| match e {
            Event::Switched { error, .. } => Some(error.clone()),
            _ => None,
        })
        .expect("the automatic switch ran");
    assert!(
        err.is_some(),
        "the switch cannot succeed against a dead repository: {events:?}"
    );
    // The entitlement's target, with this machine's repository
    // credentials, is what `alma-ext switch` without --target uses.
    let reg = alma_ext_agent::registration::load(&HostRoot::new(&root))
        .unwrap()
        .unwrap();
    let t = reg.target.expect("target from the check-in");
    assert_eq!(t.repos["baseos"].id, "ext-baseos");
    let auth = t.auth.expect("repository credentials");
    assert!(auth.password.is_some());
    assert!(!format!("{auth:?}").contains(auth.password.as_deref().unwrap()));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("var/lib/alma-ext/target.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Exactly as it was.
    assert_eq!(snapshot(&root.join("etc/yum.repos.d")), before);
    // Reported at once: the check-in right after the switch succeeded.
    let i = events
        .iter()
        .position(|e| matches!(e, Event::Switched { .. }))
        .unwrap();
    assert!(
        matches!(events[i + 1..].last(), Some(Event::CheckinOk { .. })),
        "{events:?}"
    );
    // Only once that day.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Switched { .. }))
            .count(),
        1
    );
}
