//! Check-ins carrying `alma-ext security-status` summaries: the server
//! stores the latest per machine and `alma-ext-server coverage` summarises
//! the fleet (real binary over HTTP on 127.0.0.1, SQLite and PostgreSQL).

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::facts::MachineType;
use helpers::*;

fn body(f: &alma_ext_proto::facts::Facts, security: serde_json::Value) -> serde_json::Value {
    let mut b = checkin_body(f);
    b["security"] = security;
    b
}

fn summary(critical: u32, important: u32, names: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "at": "2026-11-29", "installed": 5, "extended": 2, "community_only": 1,
        "third_party": 1, "unavailable": 1,
        "pending": {"Critical": critical, "Important": important, "Moderate": 0, "Low": 0},
        "not_extended": names,
    })
}

#[tokio::test]
async fn latest_summary_per_machine_and_fleet_coverage_sqlite() {
    let db = sqlite_db();
    scenario(&db.url).await;
}

#[tokio::test]
async fn latest_summary_per_machine_and_fleet_coverage_postgres() {
    let db = pg_db().await;
    scenario(&db.url).await;
}

async fn scenario(db: &str) {
    let (_c, key) = create_contract(db, "virtual", 10);
    let dir = tempfile::tempdir().unwrap();
    let (token_file, token) = admin_token(dir.path());
    let s = Server::start(db, &["--admin-token-file", &token_file]);
    let c = client();
    let post = |cred: String, b: serde_json::Value| {
        let c = c.clone();
        let url = s.url("/v1/checkin");
        async move {
            let r = c.post(url).bearer_auth(cred).json(&b).send().await.unwrap();
            let st = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap();
            (st, v)
        }
    };
    let f1 = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "web1");
    let f2 = facts(MachineType::Virtual, &hex_id(2), &uuid(2), "web2");
    let f3 = facts(MachineType::Virtual, &hex_id(3), &uuid(3), "old-agent");
    let (m1, c1) = register(&c, &s, &key, None, &f1).await;
    let (m2, c2) = register(&c, &s, &key, None, &f2).await;
    let (_m3, c3) = register(&c, &s, &key, None, &f3).await;

    let (st, v) = post(c1.clone(), body(&f1, summary(0, 0, &["bash"]))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["security_packages"], true);
    // The latest summary replaces the earlier one (same facts).
    let (st, _) = post(c1.clone(), body(&f1, summary(1, 0, &["bash", "htop"]))).await;
    assert_eq!(st, 200);
    let (st, _) = post(c2.clone(), body(&f2, summary(0, 2, &["bash"]))).await;
    assert_eq!(st, 200);
    // An agent without security-status: accepted, not listed.
    let (st, _) = checkin(&c, &s, &c3, &f3).await;
    assert_eq!(st, 200);
    // Check-ins are acknowledged once stored.
    let (code, out, err) = cli(&["coverage", "--format", "json", "--database", db]);
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let machines: Vec<&str> = j["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine"].as_str().unwrap())
        .collect();
    let mut want = vec![m1.as_str(), m2.as_str()];
    want.sort();
    assert_eq!(machines, want);
    let one = j["machines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["machine"] == m1.as_str())
        .unwrap();
    assert_eq!(one["pending"]["Critical"], 1);
    assert_eq!(one["hostname"], "web1");
    assert_eq!(
        j["pending_critical_or_important"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        j["not_extended"],
        serde_json::json!([{"name": "bash", "machines": 2}, {"name": "htop", "machines": 1}])
    );

    // The same document over the admin API.
    let r = c
        .get(s.url("/v1/admin/coverage"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let api: serde_json::Value = r.json().await.unwrap();
    assert_eq!(api, j);

    let (code, out, _) = cli(&["coverage", "--format", "csv", "--database", db]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("machine,hostname,contract,at,installed,"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    let (code, out, _) = cli(&["coverage", "--database", db]);
    assert_eq!(code, 0);
    assert!(
        out.contains("2 machines reported security status; 2 with pending Critical or Important"),
        "{out}"
    );
}
