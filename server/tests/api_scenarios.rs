//! API scenarios run against both stores (`api_sqlite.rs`,
//! `api_postgres.rs` include this file).
#![allow(dead_code)]

#[path = "api_helpers.rs"]
mod helpers;

pub use helpers::*;

use alma_ext_proto::facts::MachineType;

fn code_of(v: &serde_json::Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn field_of(v: &serde_json::Value) -> &str {
    v["error"]["field"].as_str().unwrap_or("")
}

/// Register, check in, get the target with repository credentials, use
/// them against repo-auth, unregister.
pub async fn register_checkin_repo_auth(db: &str) {
    let (_contract, key) = create_contract(db, "virtual", 10);
    let dir = tempfile::tempdir().unwrap();
    let target = write_file(dir.path(), "target.toml", TARGET_TOML);
    let (code, _, err) = cli(&[
        "target",
        "set",
        "--major",
        "9",
        "--file",
        target.to_str().unwrap(),
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    let s = Server::start(db, &[]);
    let c = client();

    // health, metrics, OpenAPI
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(s.url("/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["paths"]["/v1/checkin"].is_object());

    let f = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "web1");
    let (machine, cred) = register(&c, &s, &key, Some("vc-tokyo"), &f).await;
    assert!(cred.starts_with("aec_"));

    let (st, v) = checkin(&c, &s, &cred, &f).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["entitlement"]["status"], "active");
    assert_eq!(v["entitlement"]["product"], "virtual");
    assert_eq!(v["entitlement"]["extended_updates"], true);
    assert_eq!(v["target"]["repos"]["baseos"]["id"], "ext-baseos");
    let user = v["target"]["auth"]["username"]
        .as_str()
        .unwrap()
        .to_string();
    let pass = v["target"]["auth"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(user, machine);
    assert!(v["checkin_interval_secs"].as_u64().unwrap() >= 60);

    // The same password on the next check-in: dnf keeps working.
    let (_, v2) = checkin(&c, &s, &cred, &f).await;
    assert_eq!(v2["target"]["auth"]["password"].as_str().unwrap(), pass);

    // repo-auth: right, wrong, missing credentials.
    let r = c
        .get(s.url("/v1/repo-auth"))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .get(s.url("/v1/repo-auth"))
        .basic_auth(&user, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(s.url("/v1/repo-auth"))
        .basic_auth("m-nobody", Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(s.url("/v1/repo-auth")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());

    let m = c
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("alma_ext_checkins_total 2"), "{m}");
    assert!(m.contains("alma_ext_machines{state=\"active\"} 1"), "{m}");

    // Unregister: the credential and the repository password stop working.
    let r = c
        .post(s.url("/v1/unregister"))
        .bearer_auth(&cred)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (st, v) = checkin(&c, &s, &cred, &f).await;
    assert_eq!(st, 401);
    assert_eq!(code_of(&v), "unauthenticated");
    let r = c
        .get(s.url("/v1/repo-auth"))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// Bad input of every kind: nothing panics, errors name the field.
pub async fn malformed_and_unauthenticated(db: &str) {
    let (_contract, key) = create_contract(db, "physical", 2);
    let s = Server::start(db, &["--body-limit", "65536"]);
    let c = client();
    let f = facts(MachineType::Physical, &hex_id(2), &uuid(2), "db1");

    // Not JSON.
    let r = c
        .post(s.url("/v1/register"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&v), "invalid_request");

    // Wrong type deep inside: the path names it.
    let mut body = register_body(&key, None, &f);
    body["facts"]["machine"]["type"] = serde_json::json!("mainframe");
    let r = c
        .post(s.url("/v1/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "facts.machine.type", "{v}");

    // Missing field.
    let mut body = register_body(&key, None, &f);
    body["facts"].as_object_mut().unwrap().remove("os");
    let r = c
        .post(s.url("/v1/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(field_of(&v).contains("os"), "{v}");

    // Valid JSON, invalid value.
    let mut bad = f.clone();
    bad.machine.uuid = Some("not a uuid; drop table".into());
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&key, None, &bad))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "facts.machine.uuid");
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&key, Some("bad label!"), &f))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "system");
    let mut bad = f.clone();
    bad.schema_version = 99;
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&key, None, &bad))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "facts.schema_version");

    // Oversized.
    let big = "x".repeat(200_000);
    // The server answers 413 before reading the body and then closes the
    // connection; a client of its own keeps that close away from the
    // pooled connection the next requests reuse.
    let r = client()
        .post(s.url("/v1/register"))
        .header("content-type", "application/json")
        .body(format!("{{\"activation_key\": \"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&v), "payload_too_large");

    // Wrong and malformed keys.
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(
            "aek_0000000000000000000000000000000000000000000",
            None,
            &f,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&v), "invalid_activation_key");
    assert_eq!(field_of(&v), "activation_key");
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body("💥", None, &f))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Unauthenticated and wrong credentials.
    let r = c
        .post(s.url("/v1/checkin"))
        .json(&checkin_body(&f))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (st, v) = checkin(
        &c,
        &s,
        "aec_0000000000000000000000000000000000000000000",
        &f,
    )
    .await;
    assert_eq!(st, 401);
    assert_eq!(code_of(&v), "unauthenticated");
    // A credential that is not text (obs-text bytes, which HTTP allows in
    // a header but no credential has): reqwest refuses to send such a
    // header, so it goes over a raw connection, and the answer is the
    // handler's own JSON 401, not a parse error of the HTTP layer.
    let raw = raw_request(
        s.addr(),
        b"POST /v1/checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
          Authorization: Bearer \xff\xfe\r\nContent-Type: application/json\r\n\
          Content-Length: 2\r\n\r\n{}",
    );
    assert!(raw.starts_with("HTTP/1.1 401 "), "{raw}");
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"));
    assert_eq!(code_of(&v), "unauthenticated", "{raw}");
    let r = c
        .post(s.url("/v1/unregister"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A registered machine sending garbage.
    let (_m, cred) = register(&c, &s, &key, None, &f).await;
    let r = c
        .post(s.url("/v1/checkin"))
        .bearer_auth(&cred)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let mut body = checkin_body(&f);
    body["observed_at"] = serde_json::json!("2999-01-01T00:00:00Z");
    let r = c
        .post(s.url("/v1/checkin"))
        .bearer_auth(&cred)
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "observed_at");
    let mut body = checkin_body(&f);
    body["switch"]["status"] = serde_json::json!(7);
    let r = c
        .post(s.url("/v1/checkin"))
        .bearer_auth(&cred)
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "switch.status");

    // Admin API: off without a token file.
    let r = c.get(s.url("/v1/admin/contracts")).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // Unknown paths and methods: JSON errors.
    let r = c.get(s.url("/v1/nothing")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(s.url("/v1/checkin")).send().await.unwrap();
    assert_eq!(r.status(), 405);

    // Still healthy and still serving.
    let (st, _) = checkin(&c, &s, &cred, &f).await;
    assert_eq!(st, 200);
}

/// Clones: two machines with one credential. The server counts both,
/// answers 409 reregister_required to the clone, and lets it register
/// again with the copied credential.
pub async fn clones_are_counted_and_reregister(db: &str) {
    let (contract, key) = create_contract(db, "virtual", 10);
    let s = Server::start(db, &[]);
    let c = client();
    let orig = facts(MachineType::Virtual, &hex_id(10), &uuid(10), "app1");
    let (m1, cred) = register(&c, &s, &key, None, &orig).await;
    assert_eq!(checkin(&c, &s, &cred, &orig).await.0, 200);

    // The clone: same credential file, new machine-id and DMI UUID.
    let clone = facts(MachineType::Virtual, &hex_id(11), &uuid(11), "app1");
    let (st, v) = checkin(&c, &s, &cred, &clone).await;
    assert_eq!(st, 409, "{v}");
    assert_eq!(code_of(&v), "reregister_required");
    // Seen again: still one clone, not two.
    let (st, _) = checkin(&c, &s, &cred, &clone).await;
    assert_eq!(st, 409);
    // The original is unaffected.
    assert_eq!(checkin(&c, &s, &cred, &orig).await.0, 200);

    // Counted as two while the clone has not registered.
    let (code, out, err) = cli(&["inventory", "--database", db]);
    assert_eq!(code, 0, "{err}");
    let inv: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inv["machines"].as_array().unwrap().len(), 2, "{inv}");
    assert!(err.contains("cloned"), "{err}");

    // Only a different machine-id is a clone: a UUID change alone on the
    // same machine-id is one too (a VM copied with its /etc).
    let uuid_only = facts(MachineType::Virtual, &hex_id(10), &uuid(12), "app1");
    assert_eq!(checkin(&c, &s, &cred, &uuid_only).await.0, 409);

    // The clone registers again with the credential it copied.
    let r = c
        .post(s.url("/v1/register"))
        .bearer_auth(&cred)
        .json(&register_body("", None, &clone))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let m2 = v["machine"].as_str().unwrap();
    let cred2 = v["credential"].as_str().unwrap();
    assert_ne!(m2, m1);
    assert_ne!(cred2, cred);
    assert_eq!(v["entitlement"]["contract"], contract.as_str());
    assert_eq!(checkin(&c, &s, cred2, &clone).await.0, 200);
    assert_eq!(checkin(&c, &s, &cred, &orig).await.0, 200);

    let (_, out, _) = cli(&["contract", "list", "--format", "json", "--database", db]);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Two registered (the clone row became a registered machine) ...
    assert_eq!(list[0]["machines"], 2, "{list}");
    let (_, out, _) = cli(&["inventory", "--database", db]);
    let inv: serde_json::Value = serde_json::from_str(&out).unwrap();
    // ... plus the UUID-only clone still pending: three counted.
    assert_eq!(inv["machines"].as_array().unwrap().len(), 3, "{inv}");
}

/// Revoked contracts: check-ins say so and carry no repository
/// credentials, repo-auth refuses, new registrations are refused.
pub async fn revoked_contract(db: &str) {
    let (contract, key) = create_contract(db, "physical", 5);
    let dir = tempfile::tempdir().unwrap();
    let target = write_file(dir.path(), "target.toml", TARGET_TOML);
    cli(&[
        "target",
        "set",
        "--major",
        "9",
        "--file",
        target.to_str().unwrap(),
        "--database",
        db,
    ]);
    let s = Server::start(db, &[]);
    let c = client();
    let f = facts(MachineType::Physical, &hex_id(20), &uuid(20), "erp1");
    let (_m, cred) = register(&c, &s, &key, None, &f).await;
    let (_, v) = checkin(&c, &s, &cred, &f).await;
    let user = v["target"]["auth"]["username"]
        .as_str()
        .unwrap()
        .to_string();
    let pass = v["target"]["auth"]["password"]
        .as_str()
        .unwrap()
        .to_string();

    let (code, out, err) = cli(&[
        "contract",
        "revoke",
        &contract,
        "--format",
        "json",
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    let rv: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(rv["revoked_at"].is_i64());

    let (st, v) = checkin(&c, &s, &cred, &f).await;
    assert_eq!(st, 200);
    assert_eq!(v["entitlement"]["status"], "revoked");
    assert!(v["target"].is_null());
    let r = c
        .get(s.url("/v1/repo-auth"))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&v), "contract_revoked");
    let f2 = facts(MachineType::Physical, &hex_id(21), &uuid(21), "erp2");
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&key, None, &f2))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&v), "contract_revoked");

    let (code, _, err) = cli(&["contract", "revoke", "ct-nosuch", "--database", db]);
    assert_eq!(code, 4, "{err}");
}

/// Per-machine rate limit, and the admin API with a token.
pub async fn rate_limit_and_admin_api(db: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (token_file, token) = admin_token(dir.path());
    let s = Server::start(
        db,
        &[
            "--rate-burst",
            "2",
            "--rate-every",
            "3600",
            "--admin-token-file",
            &token_file,
        ],
    );
    let c = client();

    // Admin API: wrong token, then create a contract.
    let body = serde_json::json!({"customer": "Example KK", "product": "platform", "quantity": 2, "starts": this_month(), "platform_updates": true});
    let r = c
        .post(s.url("/v1/admin/contracts"))
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(s.url("/v1/admin/contracts"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let bad = serde_json::json!({"customer": "x", "product": "gold", "quantity": 2});
    let r = c
        .post(s.url("/v1/admin/contracts"))
        .bearer_auth(&token)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "product");
    let r = c
        .post(s.url("/v1/admin/contracts"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let key = v["activation_key"].as_str().unwrap().to_string();
    let id = v["id"].as_str().unwrap().to_string();
    let r = c
        .post(s.url(&format!("/v1/admin/contracts/{id}/extend")))
        .bearer_auth(&token)
        .json(&serde_json::json!({"years": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .put(s.url("/v1/admin/platforms/vc-osaka"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"hosts": ["esx1", "esx2"], "choice": "platform"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .put(s.url("/v1/admin/targets/9"))
        .bearer_auth(&token)
        .body("[auth]\nusername = \"u\"\n[repos.baseos]\nid=\"a\"\nname=\"b\"\nbaseurl=\"https://x/\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(field_of(&v), "auth");
    let r = c
        .put(s.url("/v1/admin/targets/9"))
        .bearer_auth(&token)
        .body(TARGET_TOML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(s.url("/v1/admin/contracts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Rate limit: 2 at once, then 429 with Retry-After.
    let f = facts(MachineType::Virtual, &hex_id(30), &uuid(30), "vm30");
    let (_m, cred) = register(&c, &s, &key, Some("vc-osaka"), &f).await;
    let (st, v) = checkin(&c, &s, &cred, &f).await;
    assert_eq!(st, 200);
    // platform contract with the add-on: the target comes with credentials.
    assert_eq!(v["entitlement"]["extended_updates"], true);
    assert!(v["target"]["auth"]["password"].is_string());
    assert_eq!(checkin(&c, &s, &cred, &f).await.0, 200);
    let r = c
        .post(s.url("/v1/checkin"))
        .bearer_auth(&cred)
        .json(&checkin_body(&f))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code_of(&v), "rate_limited");
}

/// Send `request` as is over a new connection to `addr`; the whole answer.
fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.write_all(request).unwrap();
    let mut out = Vec::new();
    conn.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
