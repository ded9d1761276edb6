//! The server killed in the middle of check-ins, then restarted on the
//! same store: nothing corrupt, every machine still works, every
//! acknowledged check-in is stored.

#[path = "api_helpers.rs"]
mod helpers;

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
        let (_m, cred) = register(&c, &s, &key, None, &f).await;
        machines.push((f, cred));
    }
    let url = s.url("/v1/checkin");
    let mut tasks = Vec::new();
    for i in 0..600usize {
        let (f, cred) = machines[i % machines.len()].clone();
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
    let mut ok = 0;
    for t in tasks {
        let st = t.await.unwrap();
        assert!(st == 200 || st == 0, "status {st}");
        ok += (st == 200) as usize;
    }
    assert!(ok >= 1);

    // Restart on the same store.
    let store = Store::open(db).await.unwrap();
    assert_eq!(store.integrity_check().await.unwrap(), "ok");
    let counts = store.machine_counts().await.unwrap();
    assert_eq!(counts, vec![("active".to_string(), 30)]);
    store.close().await;
    let mut s2 = Server::start(db, &["--rate-every", "0"]);
    for (f, cred) in &machines {
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
