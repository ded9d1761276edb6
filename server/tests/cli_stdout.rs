//! Every `alma-ext-server` admin command with its stdout closed early
//! (`| head -1`) and full (`> /dev/full`): a closed pipe ends quietly with
//! the command's own exit code, a full device is an error naming stdout
//! (exit 1), nothing panics. `serve` writes only logs, to stderr.

use std::path::Path;
use std::process::Command;

use alma_ext_test_support::stdout::check_closed_and_full;

fn server(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alma-ext-server"));
    c.args(args);
    c
}

/// Check each command, and that it succeeds.
fn each_succeeds(cases: &[Vec<&str>]) {
    for args in cases {
        let o = check_closed_and_full(&args.join(" "), false, || server(args));
        assert!(
            o.status.success(),
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
#[rustfmt::skip]
fn every_admin_command() {
    let d = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/fleet.db", d.path().display());
    let inventory = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventories/examples/01-ha-pair-physical.json");
    let inventory = inventory.to_str().unwrap();
    let create = [
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
        "--database",
        &db,
        // The first command makes the fleet database (`serve` would).
        "--create",
    ];
    let cases: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["--version"],
        vec!["contract", "--help"],
        create.to_vec(),
        vec!["contract", "list", "--database", &db],
        vec!["contract", "list", "--format", "json", "--database", &db],
        vec!["platform", "list", "--database", &db],
        vec!["target", "list", "--database", &db],
        vec!["licenses", "--database", &db],
        vec!["licenses", "--format", "json", "--database", &db],
        vec!["inventory", "--database", &db],
        vec!["licenses", "--inventory", inventory],
        vec!["lifecycle", "clear", "--database", &db],
    ];
    each_succeeds(&cases);
    // Commands on a contract, a platform, a target and the lifecycle.
    let out = server(&[&create[..], &["--format", "json"]].concat())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["id"].as_str().unwrap().to_string();
    let target = d.path().join("target.toml");
    std::fs::write(
        &target,
        "[repos.baseos]\nid = \"ext-baseos\"\nname = \"Extended BaseOS\"\nbaseurl = \"https://repo.example/9/BaseOS/$basearch/os/\"\n",
    )
    .unwrap();
    let lifecycle = d.path().join("lifecycle.json");
    std::fs::write(
        &lifecycle,
        r#"{"releases":[{"major":9,"ga":"2022-05-26","active_end":"2027-05-31","security_end":"2032-05-31"}]}"#,
    )
    .unwrap();
    let (target, lifecycle) = (target.to_str().unwrap(), lifecycle.to_str().unwrap());
    let cases: Vec<Vec<&str>> = vec![
        vec!["contract", "extend", &id, "--years", "1", "--database", &db],
        vec![
            "platform",
            "set",
            "vmware-a",
            "--hosts",
            "esx1,esx2",
            "--database",
            &db,
        ],
        vec![
            "target",
            "set",
            "--major",
            "9",
            "--file",
            target,
            "--database",
            &db,
        ],
        vec!["lifecycle", "set", "--file", lifecycle, "--database", &db],
        vec!["contract", "revoke", &id, "--database", &db],
    ];
    each_succeeds(&cases);
    // Removing needs something to remove on each of the three runs.
    let set_platform = [
        "platform",
        "set",
        "vmware-a",
        "--hosts",
        "esx1",
        "--database",
        &db,
    ];
    let set_target = [
        "target",
        "set",
        "--major",
        "9",
        "--file",
        target,
        "--database",
        &db,
    ];
    for (set, remove) in [
        (
            &set_platform[..],
            &["platform", "remove", "vmware-a", "--database", &db][..],
        ),
        (
            &set_target[..],
            &["target", "remove", "--major", "9", "--database", &db][..],
        ),
    ] {
        check_closed_and_full(&remove.join(" "), false, || {
            assert!(server(set).output().unwrap().status.success());
            server(remove)
        });
    }
    // A new file each run: admin-token refuses to overwrite one.
    let n = std::cell::Cell::new(0);
    check_closed_and_full("admin-token", false, || {
        n.set(n.get() + 1);
        let f = d.path().join(format!("token{}", n.get()));
        server(&["admin-token", "--output", f.to_str().unwrap()])
    });
}
