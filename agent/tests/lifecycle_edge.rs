//! Lifecycle dates at the edge of the date type (`+262142-12-31`, the last
//! day chrono can hold): a validation error that names file, line and
//! field (exit 3) in `alma-ext status`, and a cached server table that the
//! daemon ignores (the built-in table stays in force), never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;

use alma_ext_agent::daemon::checkin::lifecycle_table;
use alma_ext_agent::root::HostRoot;
use alma_ext_proto::LifecycleTable;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/lifecycle-edge")
}

#[test]
fn status_refuses_an_override_at_the_edge_of_the_date_type() {
    let out = Command::new(env!("CARGO_BIN_EXE_alma-ext"))
        .args([
            "status",
            "--root",
            fixture().to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("etc/alma-ext/lifecycle.toml line 2"), "{err}");
    assert!(
        err.contains("security_end") && err.contains("+262142-12-31"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_cached_server_table_that_fails_validation_is_ignored() {
    let root = HostRoot::new(fixture());
    assert!(root
        .join(alma_ext_agent::daemon::checkin::LIFECYCLE_FILE)
        .is_file());
    assert_eq!(lifecycle_table(&root), LifecycleTable::builtin());
}
