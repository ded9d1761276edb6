//! `alma-ext-server user add/list/remove/passwd` through the real binary,
//! on SQLite and PostgreSQL: Argon2id hashes, roles, contracts, errors.

#[path = "api_helpers.rs"]
mod helpers;

#[path = "support/console_helpers.rs"]
mod console;

use alma_ext_server::console::users::verify_password;
use alma_ext_server::store::Store;
use console::{cli_stdin, user_add};
use helpers::*;

async fn users_on(db: &str) {
    let (contract, _) = create_contract(db, "virtual", 2);
    let add = |name: &str, role: &str, contracts: &[&str], pw: &str| {
        user_add(db, name, role, contracts, pw)
    };
    let (code, out, err) = add("alice", "admin", &[], "alice password 1\n");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("user alice added (admin)"), "{out}");
    let (code, _, err) = add("kk-admin", "customer", &[&contract], "customer password\n");
    assert_eq!(code, 0, "{err}");

    // Refusals name the field; exit codes as the other admin commands.
    let (code, _, err) = add("alice", "staff", &[], "another password\n");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("name: a user alice exists already"), "{err}");
    let (code, _, err) = add("bob", "customer", &[], "bob password 12\n");
    assert_eq!(code, 3);
    assert!(err.contains("contract:"), "{err}");
    let (code, _, err) = add("bob", "customer", &["ct-missing"], "bob password 12\n");
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("ct-missing"), "{err}");
    let (code, _, err) = add("bob", "staff", &[], "short\n");
    assert_eq!(code, 3);
    assert!(err.contains("password: must be at least 12"), "{err}");
    let (code, _, err) = cli(&["user", "add", "bob", "--role", "staff", "--database", db]);
    assert_ne!(code, 0);
    assert!(err.contains("--password-stdin"), "{err}");

    let (code, out, _) = cli(&["user", "list", "--format", "json", "--database", db]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "alice");
    assert_eq!(v[0]["role"], "admin");
    assert_eq!(v[1]["name"], "kk-admin");
    assert_eq!(v[1]["contracts"][0], contract.as_str());
    assert!(!out.contains("argon2"), "the list shows no hash: {out}");

    // Stored as Argon2id; passwd replaces it.
    let store = Store::open(db).await.unwrap();
    let (_, hash) = store.get_user("alice").await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(verify_password("alice password 1", &hash));
    let (code, _, err) = cli_stdin(
        &[
            "user",
            "passwd",
            "alice",
            "--password-stdin",
            "--database",
            db,
        ],
        "alice password 2\n",
    );
    assert_eq!(code, 0, "{err}");
    let (_, hash) = store.get_user("alice").await.unwrap().unwrap();
    assert!(verify_password("alice password 2", &hash));
    assert!(!verify_password("alice password 1", &hash));

    let (code, _, _) = cli(&["user", "remove", "alice", "--database", db]);
    assert_eq!(code, 0);
    let (code, _, err) = cli(&["user", "remove", "alice", "--database", db]);
    assert_eq!(code, 4);
    assert!(err.contains("no user alice"), "{err}");
    assert!(store.get_user("alice").await.unwrap().is_none());
    store.close().await;
}

#[tokio::test]
async fn users_on_sqlite() {
    let db = sqlite_db();
    users_on(&db.url).await;
}

#[tokio::test]
async fn users_on_postgres() {
    let db = pg_db().await;
    users_on(&db.url).await;
}
