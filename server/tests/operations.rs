//! Operations for licensing staff, through the real binary on SQLite and
//! PostgreSQL: `machine list/show/retire`, `contract rekey`, contract
//! status in JSON, the same through the admin API, and report or admin
//! commands refusing a database that does not exist.

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::facts::MachineType;
use helpers::*;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

async fn repo_auth(c: &reqwest::Client, s: &Server, user: &str, password: &str) -> u16 {
    c.get(s.url("/v1/repo-auth"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// List, show and retire machines; rekey a contract; on the command line
/// and through the admin API.
async fn machines_and_keys(db: &str) {
    let (contract, key) = create_contract(db, "virtual", 10);
    let (other, other_key) = create_contract(db, "physical", 1);
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
    let (token_file, token) = admin_token(dir.path());
    let s = Server::start(
        db,
        &["--rate-every", "0", "--admin-token-file", &token_file],
    );
    let c = client();

    let web = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "web1");
    let db1 = facts(MachineType::Virtual, &hex_id(2), &uuid(2), "db1");
    let host = facts(MachineType::Physical, &hex_id(3), &uuid(3), "host,1");
    let (m_web, cred_web) = register(&c, &s, &key, Some("vc-tokyo"), &web).await;
    let (m_db, cred_db) = register(&c, &s, &key, None, &db1).await;
    let (m_host, _) = register(&c, &s, &other_key, None, &host).await;
    let (st, v) = checkin(&c, &s, &cred_web, &web).await;
    assert_eq!(st, 200, "{v}");
    let repo_password = v["target"]["auth"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(repo_auth(&c, &s, &m_web, &repo_password).await, 204);
    assert_eq!(checkin(&c, &s, &cred_db, &db1).await.0, 200);

    // machine list: every column, JSON.
    let (code, out, err) = cli(&["machine", "list", "--format", "json", "--database", db]);
    assert_eq!(code, 0, "{err}");
    let list = json(&out);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    let w = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == m_web.as_str())
        .unwrap();
    assert_eq!(w["hostname"], "web1");
    assert_eq!(w["state"], "active");
    assert_eq!(w["type"], "virtual");
    assert_eq!(w["hypervisor"], "kvm");
    assert_eq!(w["cloud"], serde_json::Value::Null);
    assert_eq!(w["os"], "AlmaLinux 9.6");
    assert_eq!(w["system"], "vc-tokyo");
    assert!(
        ["full", "security", "extended", "ended"].contains(&w["lifecycle_phase"].as_str().unwrap()),
        "{w}"
    );
    assert_eq!(w["switch"], "community");
    assert_eq!(w["contract"], contract.as_str());
    let seen = chrono::DateTime::parse_from_rfc3339(w["last_checkin"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - seen.to_utc()).num_minutes().abs() < 10);

    // --contract narrows; an unknown one is "not found".
    let (code, out, _) = cli(&[
        "machine",
        "list",
        "--contract",
        &other,
        "--format",
        "json",
        "--database",
        db,
    ]);
    assert_eq!(code, 0);
    let only = json(&out);
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["id"], m_host.as_str());
    assert_eq!(only[0]["type"], "physical");
    let (code, _, err) = cli(&[
        "machine",
        "list",
        "--contract",
        "ct-nosuch",
        "--database",
        db,
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("ct-nosuch"), "{err}");

    // Text and CSV.
    let (code, out, _) = cli(&["machine", "list", "--database", db]);
    assert_eq!(code, 0);
    let header = out.lines().next().unwrap();
    for col in [
        "ID",
        "HOSTNAME",
        "TYPE",
        "HYPERVISOR",
        "CLOUD",
        "OS",
        "PHASE",
        "SWITCH",
        "LAST CHECK-IN",
        "CONTRACT",
    ] {
        assert!(header.contains(col), "{col} missing: {out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with(&m_web) && l.contains("web1") && l.contains("AlmaLinux 9.6")),
        "{out}"
    );
    let (code, out, _) = cli(&["machine", "list", "--format", "csv", "--database", db]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "id,state,hostname,type,hypervisor,cloud,os,phase,switch,last_check_in,contract"
    );
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines.iter().any(|l| l.contains("\"host,1\"")),
        "a comma is quoted: {out}"
    );

    // machine show: the row and its facts.
    let (code, out, _) = cli(&[
        "machine",
        "show",
        &m_web,
        "--format",
        "json",
        "--database",
        db,
    ]);
    assert_eq!(code, 0);
    let shown = json(&out);
    assert_eq!(shown["hostname"], "web1");
    assert_eq!(shown["facts"]["os"]["major"], 9);
    let (code, out, _) = cli(&["machine", "show", &m_web, "--database", db]);
    assert_eq!(code, 0);
    assert!(out.contains("hostname:") && out.contains("web1"), "{out}");
    let (code, _, err) = cli(&["machine", "show", "m-nosuch", "--database", db]);
    assert_eq!(code, 4);
    assert!(err.contains("m-nosuch"), "{err}");

    // machine retire: out of the count, credential and repository
    // password dead at once, kept in the history.
    let (code, out, err) = cli(&["machine", "retire", &m_web, "--database", db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&m_web), "{out}");
    let (st, v) = checkin(&c, &s, &cred_web, &web).await;
    assert_eq!(st, 401, "{v}");
    assert_eq!(repo_auth(&c, &s, &m_web, &repo_password).await, 401);
    let (_, out, _) = cli(&[
        "machine",
        "show",
        &m_web,
        "--format",
        "json",
        "--database",
        db,
    ]);
    let shown = json(&out);
    assert_eq!(shown["state"], "retired");
    assert!(shown["retired"].is_string(), "{shown}");
    let (_, out, _) = cli(&["contract", "list", "--format", "json", "--database", db]);
    let contracts = json(&out);
    let mine = contracts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == contract.as_str())
        .unwrap();
    assert_eq!(mine["machines"], 1, "{contracts}");
    assert_eq!(mine["status"], "active");
    let (_, out, _) = cli(&["inventory", "--database", db]);
    let inv = json(&out);
    let names: Vec<&str> = inv["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"web1"),
        "a retired machine is not counted: {inv}"
    );
    assert!(names.contains(&"db1"), "{inv}");
    let (code, _, _) = cli(&["machine", "retire", "m-nosuch", "--database", db]);
    assert_eq!(code, 4);

    // contract rekey: the old key stops at once, the new one registers,
    // registered machines keep working.
    let (code, out, err) = cli(&[
        "contract",
        "rekey",
        &contract,
        "--format",
        "json",
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    let rekeyed = json(&out);
    let new_key = rekeyed["activation_key"].as_str().unwrap().to_string();
    assert!(new_key.starts_with("aek_") && new_key != key);
    assert_eq!(rekeyed["status"], "active");
    let late = facts(MachineType::Virtual, &hex_id(4), &uuid(4), "late");
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&key, None, &late))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_activation_key");
    register(&c, &s, &new_key, None, &late).await;
    assert_eq!(checkin(&c, &s, &cred_db, &db1).await.0, 200);
    let (code, out, err) = cli(&["contract", "rekey", &contract, "--database", db]);
    assert_eq!(code, 0);
    assert!(out.contains("activation key: aek_"), "{out}");
    assert!(err.contains("shown only once"), "{err}");
    let (code, _, _) = cli(&["contract", "rekey", "ct-nosuch", "--database", db]);
    assert_eq!(code, 4);

    // The admin API: the same operations.
    let get = |path: &str| c.get(s.url(path)).bearer_auth(&token).send();
    let post = |path: &str| c.post(s.url(path)).bearer_auth(&token).send();
    let r = get(&format!("/v1/admin/machines?contract={contract}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        3,
        "web (retired), db, late: {list}"
    );
    let r = get("/v1/admin/machines?contract=ct-nosuch").await.unwrap();
    assert_eq!(r.status(), 404);
    let r = get("/v1/admin/machines?colour=red").await.unwrap();
    assert_eq!(r.status(), 400);
    let r = get(&format!("/v1/admin/machines/{m_db}")).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["hostname"], "db1");
    assert_eq!(v["facts"]["machine"]["hostname"], "db1");
    let r = post(&format!("/v1/admin/machines/{m_db}/retire"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["state"], "retired");
    assert_eq!(checkin(&c, &s, &cred_db, &db1).await.0, 401);
    let r = post("/v1/admin/machines/m-nosuch/retire").await.unwrap();
    assert_eq!(r.status(), 404);
    let r = post(&format!("/v1/admin/contracts/{contract}/rekey"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let api_key = v["activation_key"].as_str().unwrap().to_string();
    assert_ne!(api_key, new_key);
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(&new_key, None, &late))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the key before the API rekey stopped");
    let r = get("/v1/admin/contracts").await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "active"),
        "{v}"
    );
}

/// A report or admin command on a database that does not exist is an
/// error naming it (exit 3), and creates nothing; --create makes one.
fn missing_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flet.db");
    let url = format!("sqlite://{}", path.display());
    for args in [
        &["licenses"][..],
        &["inventory"],
        &["contract", "list"],
        &["machine", "list"],
        &["platform", "list"],
        &["target", "list"],
        &["lifecycle", "clear"],
        &["contract", "revoke", "ct-x"],
    ] {
        let mut a = args.to_vec();
        a.extend(["--database", &url]);
        let (code, out, err) = cli(&a);
        assert_eq!(code, 3, "{args:?}: {out}{err}");
        assert!(err.contains(path.to_str().unwrap()), "{args:?}: {err}");
        assert!(err.contains("does not exist"), "{err}");
        assert!(!path.exists(), "{args:?} created {}", path.display());
    }
    // An existing file that is not a fleet.
    let stray = dir.path().join("stray.db");
    std::fs::write(&stray, b"").unwrap();
    let (code, _, err) = cli(&[
        "licenses",
        "--database",
        &format!("sqlite://{}", stray.display()),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("stray.db") && err.contains("no fleet"),
        "{err}"
    );

    let (code, out, err) = cli(&["contract", "list", "--create", "--database", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no contracts"), "{out}");
    assert!(path.exists());
    let (code, out, _) = cli(&["machine", "list", "--database", &url]);
    assert_eq!(code, 0);
    assert_eq!(out, "no machines\n");
}

#[tokio::test]
async fn sqlite_machines_and_keys() {
    let db = sqlite_db();
    machines_and_keys(&db.url).await;
}

#[tokio::test]
async fn postgres_machines_and_keys() {
    let db = pg_db().await;
    machines_and_keys(&db.url).await;
}

#[test]
fn sqlite_missing_database_is_an_error() {
    missing_sqlite_database();
}

#[tokio::test]
async fn postgres_missing_database_is_an_error() {
    let base = pg_base_url();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    let missing = format!("{prefix}/no_such_fleet_db");
    let (code, _, err) = cli(&["licenses", "--database", &missing]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no_such_fleet_db") && err.contains("does not exist"),
        "{err}"
    );

    // An empty database holds no fleet until --create sets one up.
    let db = pg_db().await;
    let (code, _, err) = cli(&["machine", "list", "--database", &db.url]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no fleet"), "{err}");
    let (code, out, err) = cli(&["contract", "list", "--create", "--database", &db.url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no contracts"));
    let (code, _, err) = cli(&["licenses", "--database", &db.url]);
    assert_eq!(code, 0, "{err}");
}
