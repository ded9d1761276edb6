//! `alma-ext status` against fixture roots: lifecycle phase, dates, days to
//! the next boundary, advice, override file, registration and switch state.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(case)
}

fn shared_alma(major: &str) -> PathBuf {
    alma_ext_test_support::almalinux_root(major)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alma-ext"))
        .args(args)
        .output()
        .expect("run alma-ext")
}

fn status(root: &Path, at: &str) -> (Value, String) {
    let out = run(&[
        "status",
        "--root",
        root.to_str().unwrap(),
        "--at",
        at,
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        serde_json::from_slice(&out.stdout).expect("status prints JSON"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn alma9_dates_phases_and_advice() {
    let root = shared_alma("9");
    let (v, err) = status(&root, "2026-11-27");
    let l = &v["lifecycle"];
    assert_eq!(v["at"], "2026-11-27");
    assert_eq!(l["phase"], "full");
    assert_eq!(l["major"], 9);
    assert_eq!(l["ga"], "2022-05-26");
    assert_eq!(l["active_end"], "2027-05-31");
    assert_eq!(l["security_end"], "2032-05-31");
    assert_eq!(l["extended_start"], "2032-06-01");
    assert_eq!(l["extended_end"], "2038-05-31");
    assert_eq!(l["next_phase"], "security");
    assert_eq!(l["next_boundary"], "2027-06-01");
    assert_eq!(l["days_to_next_boundary"], 186);
    let advice = l["advice"].as_str().unwrap();
    assert!(
        advice.contains("switch to the extended-update repository before 2032-06-01"),
        "{advice}"
    );
    // AlmaLinux writes the day after security support ends: they agree.
    assert_eq!(l["support_end"]["value"], "2032-06-01");
    assert_eq!(l["support_end"]["agrees"], true);
    assert!(err.is_empty(), "{err}");
    assert_eq!(l["table"], "built-in");

    let phase = |at: &str| status(&root, at).0["lifecycle"]["phase"].clone();
    assert_eq!(phase("2027-05-31"), "full");
    assert_eq!(phase("2027-06-01"), "security");
    assert_eq!(phase("2032-05-31"), "security");
    assert_eq!(phase("2032-06-01"), "extended");
    assert_eq!(phase("2038-05-31"), "extended");
    assert_eq!(phase("2038-06-01"), "ended");

    let (v, _) = status(&root, "2032-05-30");
    assert_eq!(v["lifecycle"]["days_to_next_boundary"], 2);
    assert_eq!(v["lifecycle"]["next_phase"], "extended");
    let (v, _) = status(&root, "2033-01-01");
    assert!(v["lifecycle"]["advice"]
        .as_str()
        .unwrap()
        .contains("switch to the extended-update repository now"));
    let (v, _) = status(&root, "2040-01-01");
    assert_eq!(v["lifecycle"]["next_boundary"], Value::Null);
    assert_eq!(v["lifecycle"]["days_to_next_boundary"], Value::Null);
}

#[test]
fn alma8_is_in_security_support() {
    let (v, _) = status(&shared_alma("8"), "2026-11-27");
    let l = &v["lifecycle"];
    assert_eq!(l["phase"], "security");
    assert_eq!(l["extended_start"], "2029-06-01");
    assert_eq!(l["extended_end"], "2035-05-31");
    assert_eq!(l["next_boundary"], "2029-06-01");
    assert!(l["advice"].as_str().unwrap().contains("before 2029-06-01"));
}

#[test]
fn alma10_dates() {
    let (v, _) = status(&fixture("os-alma10"), "2026-11-27");
    let l = &v["lifecycle"];
    assert_eq!(l["phase"], "full");
    assert_eq!(l["extended_start"], "2035-06-01");
    assert_eq!(l["extended_end"], "2041-05-31");
}

#[test]
fn kitten_and_other_distributions_have_no_lifecycle() {
    for case in ["os-kitten", "os-debian", "empty"] {
        let (v, _) = status(&fixture(case), "2026-11-27");
        assert_eq!(v["lifecycle"]["phase"], "none", "{case}");
        assert_eq!(v["lifecycle"]["extended_start"], Value::Null, "{case}");
    }
    let (v, _) = status(&fixture("os-kitten"), "2026-11-27");
    assert!(v["lifecycle"]["advice"]
        .as_str()
        .unwrap()
        .contains("Kitten"));
    let (v, _) = status(&fixture("os-debian"), "2026-11-27");
    assert!(v["lifecycle"]["advice"]
        .as_str()
        .unwrap()
        .contains("Debian GNU/Linux 12 (bookworm) is not AlmaLinux"));
}

#[test]
fn support_end_disagreement_is_a_warning() {
    let root = fixture("osrelease-escapes");
    let (v, err) = status(&root, "2026-11-27");
    assert_eq!(v["lifecycle"]["support_end"]["value"], "2031-12-31");
    assert_eq!(v["lifecycle"]["support_end"]["agrees"], false);
    assert!(err.contains("SUPPORT_END=2031-12-31 disagrees"), "{err}");
    assert!(v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("2032-05-31")));
    let out = run(&[
        "status",
        "--root",
        root.to_str().unwrap(),
        "--at",
        "2026-11-27",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("disagrees with the table"), "{text}");
}

#[test]
fn override_file_replaces_the_builtin_dates() {
    let (v, _) = status(&fixture("lifecycle-override"), "2036-01-01");
    let l = &v["lifecycle"];
    assert_eq!(l["extended_end"], "2035-05-31");
    assert_eq!(l["phase"], "ended");
    assert_eq!(l["table"], "built-in + /etc/alma-ext/lifecycle.toml");
}

#[test]
fn invalid_override_file_names_file_and_line() {
    let root = fixture("lifecycle-invalid");
    let out = run(&["status", "--root", root.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("etc/alma-ext/lifecycle.toml line 5"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn override_with_dates_out_of_order_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc/alma-ext")).unwrap();
    std::fs::copy(
        shared_alma("9").join("etc/os-release"),
        dir.path().join("etc/os-release"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/alma-ext/lifecycle.toml"),
        "[[releases]]\nmajor = 9\nga = 2022-05-26\nactive_end = 2027-05-31\nsecurity_end = 2032-05-31\n\n[[releases]]\nmajor = 11\nga = 2030-01-01\nactive_end = 2029-01-01\nsecurity_end = 2040-01-01\n",
    )
    .unwrap();
    let out = run(&["status", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lifecycle.toml line 7"), "{err}");
    assert!(err.contains("major=11"), "{err}");
}

#[test]
fn registration_and_switch_state_are_shown_when_empty() {
    let root = shared_alma("9");
    let (v, _) = status(&root, "2026-11-27");
    assert_eq!(v["registration"]["registered"], false);
    assert_eq!(v["switch"]["status"], "community");
    assert_eq!(v["switch"]["description"], "community repositories");
    let out = run(&[
        "status",
        "--root",
        root.to_str().unwrap(),
        "--at",
        "2026-11-27",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not registered"), "{text}");
    assert!(text.contains("community repositories"), "{text}");
    assert!(text.contains("Phase"), "{text}");
    assert!(text.contains("full"), "{text}");
    assert!(text.contains("in 186 days"), "{text}");
    assert!(text.contains("2032-06-01 to 2038-05-31"), "{text}");
    assert!(text.lines().count() <= 14, "{text}");
}

#[test]
fn bad_at_date_is_a_usage_error() {
    let out = run(&["status", "--root", "/", "--at", "2032-13-01"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}

/// `security-status` on a root without an rpm database refuses and names
/// where it looked; dnf is never left to create an empty database there.
#[test]
fn security_status_without_an_rpm_database_refuses_and_creates_nothing() {
    let root = tempfile::tempdir().unwrap();
    alma_ext_test_support::copy_tree(&shared_alma("9"), root.path());
    let out = run(&[
        "security-status",
        "--root",
        root.path().to_str().unwrap(),
        "--offline",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no rpm database in the root"), "{err}");
    assert!(err.contains("/var/lib/rpm"), "{err}");
    for d in ["var/lib/rpm", "usr/lib/sysimage/rpm", "var/cache/dnf"] {
        let p = root.path().join(d);
        let empty = std::fs::read_dir(&p).map_or(true, |mut e| e.next().is_none());
        assert!(empty, "{} was written", p.display());
    }
}
