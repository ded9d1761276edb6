//! The end of life with `switch.auto = true`: the server's lifecycle says
//! the extended period has started and gives a target; the daemon warns,
//! runs the CLI's own `alma-ext switch` at the configured time, leaves the
//! machine exactly as it was when the switch fails, switches it when the
//! repositories answer (real dnf, createrepo_c repositories on 127.0.0.1),
//! and reports at once.

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

/// What a daemon run with `switch.auto = true` left behind.
struct AutoSwitch {
    events: Vec<Event>,
    root: PathBuf,
    /// `/etc/yum.repos.d` before the daemon ran.
    before: BTreeMap<String, Vec<u8>>,
    _dir: tempfile::TempDir,
}

/// Register a copy of the AlmaLinux 9 fixture with a server whose
/// lifecycle says community security support ended on 2026-01-01 and whose
/// target for 9 has the repositories `ext-baseos` and `ext-appstream` at
/// `repo_base` (`<repo_base>/9/BaseOS/$basearch/os/`, ...), then run the
/// daemon until the check-in that follows its automatic switch.
fn run_auto_switch(repo_base: &str) -> AutoSwitch {
    let fx = alma_ext_test_support::almalinux_root(9);
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
    let target = d.path().join("target.toml");
    std::fs::write(
        &target,
        format!("[repos.baseos]\nid = \"ext-baseos\"\nname = \"Extended BaseOS\"\nbaseurl = \"{repo_base}/9/BaseOS/$basearch/os/\"\n[repos.appstream]\nid = \"ext-appstream\"\nname = \"Extended AppStream\"\nbaseurl = \"{repo_base}/9/AppStream/$basearch/os/\"\n"),
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
    AutoSwitch {
        events,
        root,
        before,
        _dir: d,
    }
}

/// The error of the daemon's automatic switch (None: it switched), after
/// checking that it ran once and was reported by the check-in right after.
fn switch_result(events: &[Event]) -> Option<String> {
    let runs: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Event::Switched { .. }))
        .map(|(i, _)| i)
        .collect();
    // Only once that day.
    assert_eq!(runs.len(), 1, "{events:?}");
    // Reported at once: the check-in right after the switch succeeded.
    assert!(
        matches!(events[runs[0] + 1..].last(), Some(Event::CheckinOk { .. })),
        "{events:?}"
    );
    match &events[runs[0]] {
        Event::Switched { error, .. } => error.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn auto_switch_fails_cleanly_and_is_reported() {
    // The target points at a repository that is not there: the switch's
    // preflight must fail and change nothing.
    let dead = agent_common::free_port();
    let AutoSwitch {
        events,
        root,
        before,
        _dir,
    } = run_auto_switch(&format!("http://127.0.0.1:{dead}"));
    // The daily warning names the end of security support.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Warning { message, .. } if message.contains("2026-01-01"))),
        "{events:?}"
    );
    let err = switch_result(&events);
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
}

/// Kills the child when dropped.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn auto_switch_succeeds_and_is_reported() {
    // Two real (empty) repositories made by createrepo_c, served over HTTP
    // on 127.0.0.1: dnf's verification (makecache) passes against them.
    let www = tempfile::tempdir().unwrap();
    for r in ["BaseOS", "AppStream"] {
        let p = www
            .path()
            .join(format!("9/{r}/{}/os", std::env::consts::ARCH));
        std::fs::create_dir_all(&p).unwrap();
        let o = std::process::Command::new("createrepo_c")
            .arg("--quiet")
            .arg(&p)
            .output()
            .expect("createrepo_c (tests/run-all installs it)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let port = agent_common::free_port();
    let _http = Reaper(
        std::process::Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(www.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3"),
    );
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the test repository server did not start");

    let run = run_auto_switch(&format!("http://127.0.0.1:{port}"));
    let err = switch_result(&run.events);
    assert_eq!(err, None, "{:?}", run.events);
    // dnf now reads the extended-update repositories, and the community
    // ones are disabled in place, every other byte kept.
    let repos = run.root.join("etc/yum.repos.d");
    let ext = std::fs::read_to_string(repos.join("alma-ext-extended.repo")).unwrap();
    assert!(
        ext.contains("[ext-baseos]") && ext.contains("[ext-appstream]"),
        "{ext}"
    );
    let baseos = std::fs::read_to_string(repos.join("almalinux-baseos.repo")).unwrap();
    assert!(baseos.contains("enabled=0"), "{baseos}");
    assert_eq!(
        snapshot(&repos)
            .keys()
            .filter(|k| **k != "alma-ext-extended.repo")
            .collect::<Vec<_>>(),
        run.before.keys().collect::<Vec<_>>(),
        "no repo file lost or added besides the extended one"
    );
    // `alma-ext status` shows it switched.
    let o = std::process::Command::new(agent_bin())
        .args(["status", "--format", "json", "--root"])
        .arg(&run.root)
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    assert_eq!(status["switch"]["status"], "extended", "{status}");
}
