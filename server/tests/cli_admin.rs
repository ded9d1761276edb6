//! The admin command line, through the real binary: output formats,
//! exit codes, errors that name the field.

#[path = "api_helpers.rs"]
mod helpers;

use helpers::*;

#[test]
fn contract_lifecycle_on_the_command_line() {
    let db = sqlite_db();
    let (code, out, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "Example KK",
        "--product",
        "virtual",
        "--quantity",
        "3",
        "--starts",
        "2026-01-01",
        "--format",
        "json",
        "--create",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["activation_key"].as_str().unwrap().starts_with("aek_"));
    assert_eq!(v["ends"], "2026-12-31");
    let id = v["id"].as_str().unwrap().to_string();

    // Text output shows the key once and says so.
    let (code, out, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "B",
        "--product",
        "platform",
        "--quantity",
        "1",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("activation key: aek_"), "{out}");
    assert!(err.contains("shown only once"), "{err}");

    let (code, out, _) = cli(&[
        "contract",
        "extend",
        &id,
        "--years",
        "1",
        "--format",
        "json",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ends"], "2027-12-31");
    let (code, _, err) = cli(&[
        "contract",
        "extend",
        &id,
        "--until",
        "2020-01-01",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("until"), "{err}");

    let (code, out, _) = cli(&[
        "contract",
        "list",
        "--format",
        "json",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    // The stored form never holds the key.
    assert!(!out.contains("aek_"), "{out}");
}

#[test]
fn invalid_input_names_the_field() {
    let db = sqlite_db();
    let (code, _, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "X",
        "--product",
        "virtual",
        "--quantity",
        "0",
        "--create",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("quantity"), "{err}");
    let (code, _, _) = cli(&[
        "contract",
        "create",
        "--customer",
        "X",
        "--product",
        "gold",
        "--quantity",
        "1",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 2);
    let (code, _, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "X",
        "--product",
        "virtual",
        "--quantity",
        "1",
        "--platform-updates",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("platform_updates"), "{err}");

    let (code, _, err) = cli(&[
        "platform",
        "set",
        "bad id!",
        "--hosts",
        "a",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("id"), "{err}");
    let (code, _, err) = cli(&[
        "platform",
        "set",
        "p1",
        "--hosts",
        "a,a",
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("hosts[1]"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = write_file(dir.path(), "t.toml", "[repos.baseos]\nid = 1\n");
    let (code, _, err) = cli(&[
        "target",
        "set",
        "--major",
        "9",
        "--file",
        bad.to_str().unwrap(),
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("t.toml"), "{err}");
    let good = write_file(dir.path(), "good.toml", TARGET_TOML);
    let (code, _, err) = cli(&[
        "target",
        "set",
        "--major",
        "7",
        "--file",
        good.to_str().unwrap(),
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("major"), "{err}");
    let (code, _, err) = cli(&[
        "target",
        "set",
        "--major",
        "9",
        "--file",
        good.to_str().unwrap(),
        "--database",
        &db.url,
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&["target", "list", "--format", "json", "--database", &db.url]);
    assert_eq!(code, 0);
    assert!(out.contains("ext-baseos"));
    let (code, _, _) = cli(&["target", "remove", "--major", "8", "--database", &db.url]);
    assert_eq!(code, 4);
}

#[test]
fn database_and_token_errors() {
    let (code, _, err) = cli(&["contract", "list", "--database", "mysql://x/y"]);
    assert_eq!(code, 5);
    assert!(err.contains("unsupported database URL"), "{err}");
    let (code, _, err) = cli(&[
        "contract",
        "list",
        "--database",
        "postgres://alma:secret@127.0.0.1:1/none",
    ]);
    assert_eq!(code, 5);
    assert!(!err.contains("secret"), "password leaked: {err}");

    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("admin.token");
    let (code, _, _) = cli(&["admin-token", "--output", token.to_str().unwrap()]);
    assert_eq!(code, 0);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&token).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Never overwritten.
    let (code, _, _) = cli(&["admin-token", "--output", token.to_str().unwrap()]);
    assert_eq!(code, 3);
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db.url,
        "--admin-token-file",
        token.to_str().unwrap(),
    ]);
    assert_eq!(code, 3);
    assert!(err.contains("world-readable"), "{err}");
}

#[test]
fn help_answers_questions() {
    let (code, out, _) = cli(&["--help"]);
    assert_eq!(code, 0);
    for cmd in [
        "serve",
        "contract",
        "platform",
        "target",
        "licenses",
        "inventory",
    ] {
        assert!(out.contains(cmd), "{cmd} missing from --help");
    }
    let (_, out, _) = cli(&["serve", "--help"]);
    assert!(out.contains("ALMA_EXT_SERVER_ADMIN_TOKEN_FILE"), "{out}");
    assert!(out.contains("ALMA_EXT_SERVER_TLS_CERT"), "{out}");
    let (_, out, _) = cli(&["licenses", "--help"]);
    assert!(out.contains("--database"), "{out}");
}
