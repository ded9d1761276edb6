//! The daemon against the real `alma-ext-server` on loopback, with a
//! virtual clock: the schedule and splay, the server lengthening the
//! interval, backoff, and the spool across a server outage and an agent
//! restart. No timed assertions: the clock is virtual, the server real.

mod agent_common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_common::{alma_root, register, Server};
use alma_ext_agent::config::{self, Settings};
use alma_ext_agent::daemon::{Clock, Event, ManualClock};
use alma_ext_agent::root::HostRoot;
use alma_ext_agent::spool::{Spool, SPOOL_DIR};
use chrono::{DateTime, Utc};

fn settings(toml: &str) -> Settings {
    config::from_texts(&[(PathBuf::from("/etc/alma-ext/agent.toml"), toml.to_string())]).unwrap()
}

/// Run the daemon on `root` until `stop` says so; returns the events.
fn run_until(
    root: &Path,
    settings: Settings,
    clock: Arc<ManualClock>,
    seed: u64,
    stop: impl FnMut(&Event, &[Event]) -> bool,
) -> Vec<Event> {
    agent_common::run_daemon(
        root,
        settings,
        clock,
        seed,
        None,
        Duration::from_secs(60),
        stop,
    )
}

fn oks(events: &[Event]) -> Vec<(DateTime<Utc>, DateTime<Utc>, usize)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CheckinOk {
                at,
                next,
                backlog_sent,
            } => Some((*at, *next, *backlog_sent)),
            _ => None,
        })
        .collect()
}

fn fails(events: &[Event]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CheckinFailed { at, next, .. } => Some((*at, *next)),
            _ => None,
        })
        .collect()
}

struct Env {
    _dir: tempfile::TempDir,
    server: Server,
    root: PathBuf,
}

fn setup(server_args: &[&str]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let server = Server::start(&srv, server_args);
    let root = dir.path().join("root");
    alma_root(
        &root,
        "0123456789abcdef0123456789abcdef",
        "4c4c4544-0000-1111-2222-333344445555",
    );
    let key = server.contract("virtual", 10);
    let out = register(&server, &root, &key, Some("lab"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Env {
        _dir: dir,
        server,
        root,
    }
}

/// Far enough in the past that days of virtual time stay before "now" (the
/// server refuses check-ins from the future).
fn start_time() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::days(20)
}

#[test]
fn schedule_interval_plus_splay() {
    let env = setup(&["--rate-every", "0"]);
    let clock = Arc::new(ManualClock::new(start_time()));
    let t0 = clock.now();
    let ev = run_until(
        &env.root,
        settings("[checkin]\ninterval = \"4h\"\nsplay = \"30m\"\n"),
        clock,
        7,
        |_, seen| oks(seen).len() >= 7,
    );
    let ok = oks(&ev);
    assert!(fails(&ev).is_empty(), "{ev:?}");
    // The first one soon after start (splayed within 5 minutes).
    assert!(ok[0].0 - t0 <= chrono::Duration::minutes(5), "{:?}", ok[0]);
    let mut gaps = Vec::new();
    for w in ok.windows(2) {
        // It checked in when it said it would.
        assert_eq!(w[0].1, w[1].0);
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= chrono::Duration::hours(4) && gap <= chrono::Duration::minutes(270),
            "{gap}"
        );
        gaps.push(gap);
    }
    // The splay is random, not a constant offset.
    gaps.dedup();
    assert!(gaps.len() > 1, "{gaps:?}");
    // The registration records the last one.
    let reg = alma_ext_agent::registration::load(&HostRoot::new(&env.root))
        .unwrap()
        .unwrap();
    assert_eq!(reg.last_checkin, Some(ok.last().unwrap().0));
    assert!(reg.last_error.is_none());
}

#[test]
fn server_lengthens_the_interval_but_cannot_shorten_it() {
    let env = setup(&["--rate-every", "0", "--checkin-interval", "28800"]);
    let clock = Arc::new(ManualClock::new(start_time()));
    let ev = run_until(
        &env.root,
        settings("[checkin]\ninterval = \"4h\"\nsplay = \"10m\"\n"),
        clock,
        3,
        |_, seen| oks(seen).len() >= 4,
    );
    for w in oks(&ev).windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= chrono::Duration::hours(8) && gap <= chrono::Duration::minutes(490),
            "{gap}"
        );
    }
    drop(env);
    let env = setup(&["--rate-every", "0", "--checkin-interval", "600"]);
    let clock = Arc::new(ManualClock::new(start_time()));
    let ev = run_until(
        &env.root,
        settings("[checkin]\ninterval = \"4h\"\nsplay = \"0\"\n"),
        clock,
        3,
        |_, seen| oks(seen).len() >= 3,
    );
    for w in oks(&ev).windows(2) {
        assert_eq!(w[1].0 - w[0].0, chrono::Duration::hours(4));
    }
}

#[test]
fn backoff_then_spool_survives_outage_and_agent_restart() {
    let mut env = setup(&["--rate-every", "0"]);
    let clock = Arc::new(ManualClock::new(start_time()));
    let s = settings("[checkin]\ninterval = \"4h\"\nsplay = \"0\"\nmax_backoff = \"1h\"\n");
    let ev = run_until(&env.root, s.clone(), clock.clone(), 11, |e, seen| {
        if matches!(e, Event::CheckinOk { .. }) {
            // The server goes away after the first check-in.
            env.server.stop();
        }
        fails(seen).len() + usize::from(matches!(e, Event::CheckinFailed { .. })) >= 9
    });
    assert_eq!(oks(&ev).len(), 1);
    let f = fails(&ev);
    assert_eq!(f.len(), 9);
    for (i, (at, next)) in f.iter().enumerate() {
        let ceiling = (60i64 << i).min(3600);
        let wait = (*next - *at).num_seconds();
        assert!(
            wait >= ceiling / 2 && wait <= ceiling,
            "failure {i}: waited {wait}s, ceiling {ceiling}s"
        );
        if i + 1 < f.len() {
            assert_eq!(*next, f[i + 1].0, "retried when it said it would");
        }
    }
    // Every failed check-in is on disk, and survives the agent stopping.
    let root = HostRoot::new(&env.root);
    let spool = Spool::new(&root, s.spool);
    assert_eq!(spool.len(), 9);
    let before: Vec<_> = spool
        .entries()
        .iter()
        .map(|e| e.request.observed_at)
        .collect();
    assert!(before.windows(2).all(|w| w[0] < w[1]), "in order");
    let reg = alma_ext_agent::registration::load(&root).unwrap().unwrap();
    assert!(
        reg.last_error
            .as_deref()
            .unwrap_or("")
            .contains("unreachable"),
        "{:?}",
        reg.last_error
    );

    // A corrupt file in the spool is moved aside, not fatal.
    std::fs::write(
        env.root.join("var/lib/alma-ext/spool/0000000005.json"),
        b"{not json",
    )
    .unwrap();

    // The server is back; a new agent process (same root, later time).
    env.server.restart();
    clock.advance(chrono::Duration::hours(1));
    let ev = run_until(&env.root, s.clone(), clock.clone(), 12, |e, _| {
        matches!(e, Event::CheckinOk { .. } | Event::CheckinFailed { .. })
    });
    let ok = oks(&ev);
    assert_eq!(ok.len(), 1, "{ev:?}");
    // 9 spooled, one corrupted: 8 of the backlog went out before the live one.
    assert_eq!(ok[0].2, 8);
    assert!(spool.is_empty());
    let corrupt = env
        .root
        .join(SPOOL_DIR.trim_start_matches('/'))
        .join("corrupt/0000000005.json");
    assert!(corrupt.exists());
    let reg = alma_ext_agent::registration::load(&root).unwrap().unwrap();
    assert!(reg.last_error.is_none());
}

#[test]
fn a_full_spool_keeps_the_guest_peak() {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let mut server = Server::start(&srv, &["--rate-every", "0"]);
    let root = dir.path().join("root");
    agent_common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libvirt/kvmhost"),
        &root,
    );
    let key = server.contract("virtual", 50);
    let out = register(&server, &root, &key, Some("kvm-cluster"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = settings("[checkin]\ninterval = \"4h\"\nsplay = \"0\"\nmax_backoff = \"1h\"\n[spool]\nmax_count = 4\n");
    let clock = Arc::new(ManualClock::new(start_time()));
    let run_dir = root.join("run/libvirt/qemu");
    let ev = run_until(&root, s.clone(), clock.clone(), 5, |e, seen| {
        match e {
            Event::CheckinOk { .. } => server.stop(),
            Event::CheckinFailed { .. } => {
                let n = fails(seen).len() + 1;
                if n == 3 {
                    // A burst of 6 more guests for a while during the outage.
                    for i in 0..6 {
                        std::fs::write(
                            run_dir.join(format!("burst{i}.xml")),
                            format!("<domstatus state='running'><domain><name>burst{i}</name><uuid>0000000{i}-aaaa-4000-8000-000000000000</uuid></domain></domstatus>"),
                        )
                        .unwrap();
                    }
                }
                if n == 5 {
                    for i in 0..6 {
                        std::fs::remove_file(run_dir.join(format!("burst{i}.xml"))).unwrap();
                    }
                }
            }
            _ => {}
        }
        fails(seen).len() + usize::from(matches!(e, Event::CheckinFailed { .. })) >= 14
    });
    assert_eq!(oks(&ev).len(), 1);
    let spool = Spool::new(&HostRoot::new(&root), s.spool);
    let entries = spool.entries();
    assert!(entries.len() <= 4, "{}", entries.len());
    let peak = entries
        .iter()
        .map(|e| alma_ext_agent::guests::running_count(&e.request.facts.guests))
        .max()
        .unwrap();
    assert_eq!(
        peak,
        4 + 6,
        "the peak of concurrent guests survived the thinning"
    );
    server.restart();
    let ev = run_until(&root, s, clock, 6, |e, _| {
        matches!(e, Event::CheckinOk { .. } | Event::CheckinFailed { .. })
    });
    assert_eq!(oks(&ev).len(), 1, "{ev:?}");
    assert!(spool.is_empty());
}

#[test]
fn more_running_guests_check_in_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = dir.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let server = Server::start(&srv, &["--rate-every", "0"]);
    let root = dir.path().join("root");
    agent_common::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libvirt/kvmhost"),
        &root,
    );
    let key = server.contract("virtual", 50);
    assert!(register(&server, &root, &key, None).status.success());
    let s = settings("[checkin]\ninterval = \"4h\"\nsplay = \"0\"\nfacts_poll = \"5m\"\n");
    let clock = Arc::new(ManualClock::new(start_time()));
    let run_dir = root.join("run/libvirt/qemu");
    let ev = run_until(&root, s, clock, 5, |e, seen| {
        if matches!(e, Event::CheckinOk { .. }) && oks(seen).is_empty() {
            std::fs::write(
                run_dir.join("new.xml"),
                "<domstatus state='running'><domain><name>new</name><uuid>99999999-aaaa-4000-8000-000000000000</uuid></domain></domstatus>",
            )
            .unwrap();
        }
        oks(seen).len() + usize::from(matches!(e, Event::CheckinOk { .. })) >= 2
    });
    let changed: Vec<_> = ev
        .iter()
        .filter(|e| matches!(e, Event::FactsChanged { .. }))
        .collect();
    assert_eq!(changed.len(), 1, "{ev:?}");
    let ok = oks(&ev);
    // Within one facts poll, not after the 4 h interval.
    assert!(ok[1].0 - ok[0].0 <= chrono::Duration::minutes(5), "{ok:?}");
}
