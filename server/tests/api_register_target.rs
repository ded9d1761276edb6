//! The registration answer carries the switch target with the machine's
//! own repository credentials, so a machine can switch right after
//! registering; repo-auth accepts them before any check-in. Real binary,
//! HTTP on 127.0.0.1, SQLite.

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::api::RegisterResponse;
use alma_ext_proto::facts::MachineType;
use helpers::*;

fn set_target(db: &str) {
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
        "--create",
    ]);
    assert_eq!(code, 0, "{err}");
}

async fn register_raw(
    c: &reqwest::Client,
    s: &Server,
    key: &str,
    f: &alma_ext_proto::Facts,
) -> serde_json::Value {
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(key, None, f))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

#[tokio::test]
async fn registration_answer_carries_the_target() {
    let db = sqlite_db();
    set_target(&db.url);
    let (_, key) = create_contract(&db.url, "virtual", 5);
    let s = Server::start(&db.url, &[]);
    let c = client();
    let f = facts(MachineType::Virtual, &hex_id(1), &uuid(1), "web1");
    let v = register_raw(&c, &s, &key, &f).await;
    let machine = v["machine"].as_str().unwrap();
    assert_eq!(v["target"]["repos"]["baseos"]["id"], "ext-baseos", "{v}");
    assert_eq!(v["target"]["auth"]["username"], machine);
    let pass = v["target"]["auth"]["password"].as_str().unwrap();
    // Usable at once: repo-auth lets the machine in before any check-in.
    let r = c
        .get(s.url("/v1/repo-auth"))
        .basic_auth(machine, Some(pass))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // The first check-in hands out the same credentials.
    let (_, ck) = checkin(&c, &s, v["credential"].as_str().unwrap(), &f).await;
    assert_eq!(ck["target"]["auth"]["password"].as_str().unwrap(), pass);
    // The typed answer reads it too.
    let typed: RegisterResponse = serde_json::from_value(v.clone()).unwrap();
    assert!(typed.target.is_some());
}

#[tokio::test]
async fn no_target_without_extended_updates_and_old_answers_still_parse() {
    let db = sqlite_db();
    set_target(&db.url);
    // A platform contract without the extended-update add-on.
    let (_, key) = create_contract(&db.url, "platform", 1);
    let s = Server::start(&db.url, &[]);
    let c = client();
    let f = facts(MachineType::Virtual, &hex_id(2), &uuid(2), "web2");
    let v = register_raw(&c, &s, &key, &f).await;
    assert_eq!(v["entitlement"]["extended_updates"], false, "{v}");
    assert!(v.get("target").is_none(), "{v}");
    // An answer from a server without the field is still a valid answer.
    let mut old = v.clone();
    old.as_object_mut().unwrap().remove("target");
    let typed: RegisterResponse = serde_json::from_value(old).unwrap();
    assert!(typed.target.is_none());
}
