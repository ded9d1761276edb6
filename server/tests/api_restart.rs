//! The server killed in the middle of check-ins, then restarted on the
//! same store: nothing corrupt, every machine still works, every
//! acknowledged check-in is stored.

#[path = "api_helpers.rs"]
mod helpers;

use std::collections::{BTreeMap, BTreeSet};

use alma_ext_proto::facts::MachineType;
use alma_ext_server::store::Store;
use helpers::*;

async fn kill_mid_checkin(db: &str) {
    let (_contract, key) = create_contract(db, "virtual", 1000);
    let mut s = Server::start(db, &["--rate-every", "0"]);
    let c = client();
    let mut machines = Vec::new();
    for n in 0..30u32 {
        let mut f = facts(MachineType::Virtual, &hex_id(n), &uuid(n), &format!("r{n}"));
        // Big facts make each write slower: more chance to be mid-write.
        f.machine.evidence = (0..200)
            .map(|i| alma_ext_proto::facts::Evidence {
                decides: "type".into(),
                source: format!("/sys/class/dmi/id/{i}"),
                value: "x".repeat(100),
            })
            .collect();
        let (m, cred) = register(&c, &s, &key, None, &f).await;
        machines.push((f, cred, m));
    }
    let url = s.url("/v1/checkin");
    let mut tasks = Vec::new();
    for i in 0..600usize {
        let (f, cred, _) = machines[i % machines.len()].clone();
        let (c, url) = (c.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut body = checkin_body(&f);
            body["agent_version"] = serde_json::json!(format!("v{i}"));
            match c.post(url).bearer_auth(&cred).json(&body).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        }));
    }
    // Kill as soon as some check-ins have been answered.
    let mut answered = 0;
    while answered < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        answered = tasks.iter().filter(|t| t.is_finished()).count();
    }
    s.kill();
    // Check-in i went to machine i % 30 with agent version "v{i}".
    let mut sent: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut acknowledged: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let st = t.await.unwrap();
        assert!(st == 200 || st == 0, "status {st}");
        let m = machines[i % machines.len()].2.as_str();
        sent.entry(m).or_default().insert(format!("v{i}"));
        if st == 200 {
            acknowledged.entry(m).or_default().insert(format!("v{i}"));
        }
    }
    assert!(!acknowledged.is_empty());
    // Every machine with an acknowledged check-in has a check-in of its
    // own stored: not its registration's empty record, nor another's.
    let stored = agent_versions(db).await;
    for (m, acked) in &acknowledged {
        let v = stored
            .get(*m)
            .unwrap_or_else(|| panic!("machine {m} is not stored"));
        let v = v.as_deref().unwrap_or_else(|| {
            panic!("machine {m}: check-ins {acked:?} acknowledged, none stored")
        });
        assert!(
            sent[m].contains(v),
            "machine {m} stores {v}, sent {:?}",
            sent[m]
        );
    }

    // Restart on the same store.
    let store = Store::open(db).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let counts = store.machine_counts().await.unwrap();
    assert_eq!(counts, vec![("active".to_string(), 30)]);
    store.close().await;
    let mut s2 = Server::start(db, &["--rate-every", "0"]);
    for (f, cred, _) in &machines {
        let (st, v) = checkin(&c, &s2, cred, f).await;
        assert_eq!(st, 200, "{v}");
    }
    // A graceful stop exits 0.
    assert_eq!(s2.stop(), 0);
}

#[tokio::test]
async fn restart_mid_checkin_sqlite() {
    let db = sqlite_db();
    kill_mid_checkin(&db.url).await;
}

#[tokio::test]
async fn restart_mid_checkin_postgres() {
    let db = pg_db().await;
    kill_mid_checkin(&db.url).await;
}

/// Machine id -> the agent version of its stored check-in (None before any).
async fn agent_versions(db: &str) -> BTreeMap<String, Option<String>> {
    const Q: &str = "SELECT id, agent_version FROM machines";
    let rows: Vec<(String, Option<String>)> = if db.starts_with("sqlite:") {
        let p = sqlx::SqlitePool::connect(db).await.unwrap();
        let r = sqlx::query_as(Q).fetch_all(&p).await.unwrap();
        p.close().await;
        r
    } else {
        let p = sqlx::PgPool::connect(db).await.unwrap();
        let r = sqlx::query_as(Q).fetch_all(&p).await.unwrap();
        p.close().await;
        r
    };
    rows.into_iter().collect()
}
