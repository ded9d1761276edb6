//! Every machine counted, no machine minted, no input half-read: run on
//! both stores (`hardening_sqlite.rs`, `hardening_postgres.rs`).
#![allow(dead_code)]

#[path = "api_helpers.rs"]
mod helpers;

pub use helpers::*;

use alma_ext_proto::facts::MachineType;
use alma_ext_server::store::Store;

/// (machine_id, dmi_uuid) stored for machine `id`.
async fn stored_identity(db: &str, id: &str) -> (Option<String>, Option<String>) {
    let store = Store::connect(db).await.unwrap();
    let sql = "SELECT machine_id, dmi_uuid FROM machines WHERE id = $1";
    let r = match &store {
        Store::Sqlite(p) => sqlx::query_as(sql).bind(id).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_as(sql).bind(id).fetch_one(p).await.unwrap(),
    };
    store.close().await;
    r
}

async fn count_machines(db: &str) -> i64 {
    let store = Store::connect(db).await.unwrap();
    let sql = "SELECT COUNT(*) FROM machines WHERE state IN ('active', 'clone')";
    let n = match &store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    };
    store.close().await;
    n
}

async fn post_raw(
    c: &reqwest::Client,
    url: String,
    bearer: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A check-in must name its machine, and never erases the stored identity.
pub async fn identity_is_required_and_kept(db: &str) {
    let (_contract, key) = create_contract(db, "virtual", 10);
    let s = Server::start(db, &["--rate-every", "0"]);
    let c = client();
    let f = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "web1");
    let (m, cred) = register(&c, &s, &key, None, &f).await;

    // Neither machine id nor DMI UUID: refused, the field named.
    let mut anon = f.clone();
    anon.machine.machine_id = None;
    anon.machine.uuid = None;
    anon.hardware.dmi.product_uuid = None;
    let (st, v) = checkin(&c, &s, &cred, &anon).await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["error"]["field"], "facts.machine.machine_id", "{v}");
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&key, None, &anon))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // Half an identity: accepted, and the other half stays stored.
    let mut no_uuid = f.clone();
    no_uuid.machine.uuid = None;
    let (st, v) = checkin(&c, &s, &cred, &no_uuid).await;
    assert_eq!(st, 200, "{v}");
    let (mid, dmi) = stored_identity(db, &m).await;
    assert_eq!(mid.as_deref(), Some(hex_id(1).as_str()));
    assert_eq!(dmi.as_deref(), Some(uuid(1).as_str()));

    // So a copy with another DMI UUID is still caught as a clone.
    let mut other = f.clone();
    other.machine.machine_id = None;
    other.machine.uuid = Some(uuid(2));
    let (st, v) = checkin(&c, &s, &cred, &other).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(v["error"]["code"], "reregister_required");
    assert_eq!(count_machines(db).await, 2, "the clone is counted");
}

/// A machine credential registers only its own machine, or a clone a
/// check-in recorded; never a machine out of nothing.
pub async fn credential_does_not_mint_machines(db: &str) {
    let (_contract, key) = create_contract(db, "virtual", 10);
    let s = Server::start(db, &["--rate-every", "0"]);
    let c = client();
    let a = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "a");
    let (_m, cred) = register(&c, &s, &key, None, &a).await;

    // Unknown machines with A's credential and no key: refused.
    for n in 10..13 {
        let f = facts(MachineType::Virtual, &hex_id(n), &uuid(n), "minted");
        let r = c
            .post(s.url("/v1/register"))
            .bearer_auth(&cred)
            .json(&register_body("", None, &f))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["field"], "activation_key", "{v}");
    }
    assert_eq!(count_machines(db).await, 1);

    // A itself registers again: new credential, the old one retired.
    let r = c
        .post(s.url("/v1/register"))
        .bearer_auth(&cred)
        .json(&register_body("", None, &a))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let cred2 = v["credential"].as_str().unwrap().to_string();
    let (st, _) = checkin(&c, &s, &cred, &a).await;
    assert_eq!(st, 401, "the old credential still works");
    let (st, _) = checkin(&c, &s, &cred2, &a).await;
    assert_eq!(st, 200);
    assert_eq!(count_machines(db).await, 1);

    // The clone path: seen (and counted) at check-in, then registered.
    let b = facts(MachineType::Virtual, &hex_id(2), &uuid(2), "b");
    let (st, _) = checkin(&c, &s, &cred2, &b).await;
    assert_eq!(st, 409);
    assert_eq!(count_machines(db).await, 2);
    let r = c
        .post(s.url("/v1/register"))
        .bearer_auth(&cred2)
        .json(&register_body("", None, &b))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        count_machines(db).await,
        2,
        "the clone became a machine, once"
    );
    assert!(
        s.log().contains("a clone of this machine registers"),
        "the clone registration is logged"
    );
}

/// Clones registering with one credential are rate-limited.
pub async fn clone_registrations_are_rate_limited(db: &str) {
    let (_contract, key) = create_contract(db, "virtual", 10);
    let s = Server::start(db, &["--rate-burst", "2", "--rate-every", "3600"]);
    let c = client();
    let mut creds = Vec::new();
    for n in 1..=3 {
        let f = facts(MachineType::Virtual, &hex_id(n), &uuid(n), "m");
        creds.push(register(&c, &s, &key, None, &f).await.1);
    }
    // Three clones, recorded at check-in (over two credentials: each
    // machine may check in twice).
    let clones: Vec<_> = (20..23)
        .map(|n| facts(MachineType::Virtual, &hex_id(n), &uuid(n), "clone"))
        .collect();
    for (i, f) in clones.iter().enumerate() {
        let (st, v) = checkin(&c, &s, &creds[1 + i / 2], f).await;
        assert_eq!(st, 409, "{v}");
    }
    // All three register with the first machine's credential: two pass,
    // the third waits.
    let mut statuses = Vec::new();
    for f in &clones {
        let r = c
            .post(s.url("/v1/register"))
            .bearer_auth(&creds[0])
            .json(&register_body("", None, f))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
}

/// JSON followed by anything is refused, before anything is stored.
pub async fn trailing_data_is_refused(db: &str) {
    let (_contract, key) = create_contract(db, "virtual", 10);
    let s = Server::start(db, &["--rate-every", "0"]);
    let c = client();
    let f = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "a");
    let mut body = serde_json::to_vec(&register_body(&key, None, &f)).unwrap();
    body.extend_from_slice(b" {\"activation_key\": \"x\"}");
    let (st, v) = post_raw(&c, s.url("/v1/register"), None, body).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"]["code"], "invalid_request");
    assert_eq!(count_machines(db).await, 0);
    let (_m, cred) = register(&c, &s, &key, None, &f).await;
    let mut body = serde_json::to_vec(&checkin_body(&f)).unwrap();
    body.extend_from_slice(b"garbage");
    let (st, v) = post_raw(&c, s.url("/v1/checkin"), Some(&cred), body).await;
    assert_eq!(st, 400, "{v}");
    // Trailing whitespace is fine.
    let mut body = serde_json::to_vec(&checkin_body(&f)).unwrap();
    body.extend_from_slice(b"\n");
    let (st, v) = post_raw(&c, s.url("/v1/checkin"), Some(&cred), body).await;
    assert_eq!(st, 200, "{v}");
}

/// The admin API and the CLI refuse a target URL carrying credentials.
pub async fn target_with_credentials_in_a_url_is_refused(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (token_file, token) = admin_token(dir.path());
    let s = Server::start(db, &["--admin-token-file", &token_file]);
    let c = client();
    let bad = TARGET_TOML.replace(
        "https://repo.example.invalid/9/BaseOS",
        "https://mirror:s3cret@repo.example.invalid/9/BaseOS",
    );
    let r = c
        .put(s.url("/v1/admin/targets/9"))
        .bearer_auth(&token)
        .body(bad.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["field"], "repos.baseos.baseurl", "{v}");
    assert!(!v.to_string().contains("s3cret"), "{v}");
    let r = c
        .get(s.url("/v1/admin/targets"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!([])
    );
    let file = write_file(dir.path(), "target.toml", &bad);
    let (code, _, err) = cli(&[
        "target",
        "set",
        "--major",
        "9",
        "--file",
        file.to_str().unwrap(),
        "--database",
        db,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("repos.baseos.baseurl"), "{err}");
}
