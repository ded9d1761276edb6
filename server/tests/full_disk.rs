//! The SQLite store on a disk that fills up in the middle of a check-in
//! burst, then gets space back: every acknowledged check-in is stored,
//! `/healthz` says 503 while writes fail, and the server serves again
//! without a restart. Needs root (mounts a small tmpfs); skips otherwise.

#[path = "api_helpers.rs"]
mod helpers;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use alma_ext_proto::facts::MachineType;
use helpers::*;

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None (with a message) when not root or when mounting fails.
    fn mount(size: &str) -> Option<Tmpfs> {
        if !nix_is_root() {
            eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs on {}", dir.path().display());
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Fill the file system of `dir` with a file until it is full, then give
/// `leave` bytes back.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5au8; 16 * 1024];
    let mut written: u64 = 0;
    while f.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = f.sync_all();
    drop(f);
    let keep = written.saturating_sub(leave);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(keep).unwrap();
    path
}

/// Facts of machine `n` in round `round`: the hostname says the round,
/// and a few KB of evidence make each check-in's facts a new write.
fn big_facts(n: u32, round: u32) -> alma_ext_proto::Facts {
    let mut f = facts(
        MachineType::Virtual,
        &hex_id(n),
        &uuid(n),
        &format!("r{round}-m{n}"),
    );
    f.machine.evidence = (0..40)
        .map(|i| alma_ext_proto::facts::Evidence {
            decides: "type".into(),
            source: format!("/sys/class/dmi/id/r{round}-{i}"),
            value: format!("{round:04}").repeat(25),
        })
        .collect();
    f
}

/// Machine id → hostname as stored, read over a connection of its own.
async fn stored_hostnames(db: &str) -> HashMap<String, String> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(db).await.unwrap();
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, hostname FROM machines WHERE state = 'active'")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    rows.into_iter()
        .map(|(id, h)| (id, h.unwrap_or_default()))
        .collect()
}

fn round_of(hostname: &str) -> i64 {
    hostname
        .strip_prefix('r')
        .and_then(|r| r.split('-').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1)
}

/// Every machine's stored round is at least its last acknowledged one.
fn assert_acknowledged_stored(
    stored: &HashMap<String, String>,
    acked: &HashMap<String, i64>,
    when: &str,
) {
    for (machine, round) in acked {
        let got = stored.get(machine).map(|h| round_of(h)).unwrap_or(-1);
        assert!(
            got >= *round,
            "{when}: machine {machine}: check-in of round {round} was acknowledged, the database holds round {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_fills_during_a_checkin_burst_then_recovers() {
    let Some(fs) = Tmpfs::mount("6m") else {
        return;
    };
    let db = format!("sqlite://{}/fleet.db", fs.path().display());
    let (_contract, key) = create_contract(&db, "virtual", 1000);
    let s = Server::start(&db, &["--rate-every", "0"]);
    let c = client();
    let machines = 24u32;
    let mut creds = Vec::new();
    for n in 0..machines {
        let (m, cred) = register(&c, &s, &key, None, &big_facts(n, 0)).await;
        creds.push((n, m, cred));
    }
    let health = |c: reqwest::Client, url: String| async move {
        c.get(url).send().await.unwrap().status().as_u16()
    };
    assert_eq!(health(c.clone(), s.url("/healthz")).await, 200);

    let filler = fill(fs.path(), 96 * 1024);
    let mut acked: HashMap<String, i64> = HashMap::new();
    let mut failed = 0usize;
    let mut unhealthy_seen = false;
    for round in 1..=30u32 {
        let mut tasks = tokio::task::JoinSet::new();
        for (n, m, cred) in &creds {
            let (c, url, cred, m) = (c.clone(), s.url("/v1/checkin"), cred.clone(), m.clone());
            let body = checkin_body(&big_facts(*n, round));
            tasks.spawn(async move {
                let r = c.post(url).bearer_auth(cred).json(&body).send().await;
                (m, r.map(|r| r.status().as_u16()).unwrap_or(0))
            });
        }
        while let Some(r) = tasks.join_next().await {
            let (m, status) = r.unwrap();
            match status {
                200 => {
                    acked.insert(m, round as i64);
                }
                500..=599 => failed += 1,
                other => panic!("check-in answered {other} on a full disk"),
            }
        }
        if failed > 0 && !unhealthy_seen {
            let h = health(c.clone(), s.url("/healthz")).await;
            assert_eq!(h, 503, "/healthz while writes fail");
            unhealthy_seen = true;
        }
        if failed >= 3 * machines as usize {
            break;
        }
    }
    assert!(
        failed > 0,
        "the disk never filled: every check-in succeeded ({})",
        s.log()
    );
    // What was acknowledged is in the database, seen from outside.
    assert_acknowledged_stored(&stored_hostnames(&db).await, &acked, "disk full");

    // Registrations on the full disk: stored (201) or nothing (5xx).
    let mut registered_while_full = Vec::new();
    for n in 500..506u32 {
        let r = c
            .post(s.url("/v1/register"))
            .json(&register_body(&key, None, &big_facts(n, 0)))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        match status {
            201 => registered_while_full.push((n, v["credential"].as_str().unwrap().to_string())),
            500..=599 => {}
            other => panic!("registration answered {other} on a full disk: {v}"),
        }
    }
    let ghosts = stored_hostnames(&db).await;
    for n in 500..506u32 {
        let stored = ghosts.values().any(|h| h == &format!("r0-m{n}"));
        let acked = registered_while_full.iter().any(|(m, _)| *m == n);
        assert_eq!(
            stored, acked,
            "machine {n}: stored {stored}, acknowledged {acked}"
        );
    }

    // Space back: the same server serves again, no restart.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if health(c.clone(), s.url("/healthz")).await == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz stayed unhealthy after space came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (n, m, cred) in &creds {
        let (st, v) = checkin(&c, &s, cred, &big_facts(*n, 100)).await;
        assert_eq!(st, 200, "check-in after space came back: {v}");
        acked.insert(m.clone(), 100);
    }
    for (n, cred) in &registered_while_full {
        let (st, v) = checkin(&c, &s, cred, &big_facts(*n, 100)).await;
        assert_eq!(st, 200, "a registration acknowledged on the full disk: {v}");
    }
    let extra = facts(MachineType::Virtual, &hex_id(999), &uuid(999), "after");
    register(&c, &s, &key, None, &extra).await;
    assert_acknowledged_stored(&stored_hostnames(&db).await, &acked, "space back");

    // A clean stop keeps it all.
    let mut s = s;
    assert_eq!(s.stop(), 0);
    assert_acknowledged_stored(&stored_hostnames(&db).await, &acked, "after stop");
}
