//! Two server replicas on one PostgreSQL database, as behind a load
//! balancer: concurrent migrations, every change seen by both, and
//! presence counted once a day per machine across replicas.

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::facts::MachineType;
use helpers::*;

#[tokio::test]
async fn two_replicas_on_one_postgres() {
    let db = pg_db().await;
    // Both start at once on an empty database: the migrations race.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(&db.url, &["--rate-every", "0"]));
        let b = s.spawn(|| Server::start(&db.url, &["--rate-every", "0"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (contract, key) = create_contract(&db.url, "virtual", 100);
    let c = client();

    // 40 machines, registered on alternating replicas, each checking in
    // on both replicas at the same time, several times.
    let mut machines = Vec::new();
    for n in 0..40u32 {
        let f = facts(
            MachineType::Virtual,
            &hex_id(n),
            &uuid(n),
            &format!("vm{n}"),
        );
        let s = if n % 2 == 0 { &a } else { &b };
        let (_m, cred) = register(&c, s, &key, Some("cluster-x"), &f).await;
        machines.push((f, cred));
    }
    let mut tasks = Vec::new();
    for round in 0..3 {
        for (f, cred) in &machines {
            for s in [&a, &b] {
                let (c, url, f, cred) = (c.clone(), s.url("/v1/checkin"), f.clone(), cred.clone());
                tasks.push(tokio::spawn(async move {
                    let r = c
                        .post(url)
                        .bearer_auth(&cred)
                        .json(&checkin_body(&f))
                        .send()
                        .await
                        .unwrap();
                    (round, r.status().as_u16())
                }));
            }
        }
    }
    for t in tasks {
        let (_, st) = t.await.unwrap();
        assert_eq!(st, 200);
    }

    // A clone noticed on one replica is refused on the other too.
    let (f0, cred0) = &machines[0];
    let mut clone = f0.clone();
    clone.machine.machine_id = Some(hex_id(999));
    assert_eq!(checkin(&c, &a, cred0, &clone).await.0, 409);
    assert_eq!(checkin(&c, &b, cred0, &clone).await.0, 409);

    // Each guest counted once today, whichever replica it talked to.
    let (code, out, err) = cli(&["licenses", "--format", "json", "--database", &db.url]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sys = r["fleet"]["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "cluster-x")
        .unwrap()
        .clone();
    // 40 guests plus the pending clone.
    assert_eq!(sys["guests"], 41, "{sys}");

    // Revoked through the CLI: both replicas say so.
    let (code, _, err) = cli(&["contract", "revoke", &contract, "--database", &db.url]);
    assert_eq!(code, 0, "{err}");
    let (f1, cred1) = &machines[1];
    for s in [&a, &b] {
        let (st, v) = checkin(&c, s, cred1, f1).await;
        assert_eq!(st, 200);
        assert_eq!(v["entitlement"]["status"], "revoked");
    }
    // Unregistered on one, unknown on the other.
    let r = c
        .post(a.url("/v1/unregister"))
        .bearer_auth(cred1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(checkin(&c, &b, cred1, f1).await.0, 401);
}
