//! Every `alma-ext` command with its stdout closed early (`| head -1`) and
//! full (`> /dev/full`): a closed pipe ends quietly with the command's own
//! exit code, a full device is an error naming stdout, nothing panics, and
//! a switch's exit code is what the switch did.

use std::path::{Path, PathBuf};
use std::process::Command;

use alma_ext_test_support::stdout::check_closed_and_full;

fn alma_ext(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_alma-ext"));
    c.args(args);
    c
}

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(case)
}

/// A writable copy of the AlmaLinux 9 fixture root.
fn alma9_copy() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = alma_ext_test_support::almalinux_root(9);
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    d
}

/// An empty repository made by createrepo_c, served over HTTP on
/// 127.0.0.1 (a `file://` URL would be read inside the switched root), and
/// a switch target file naming it.
fn empty_repo_target() -> (
    (tempfile::TempDir, alma_ext_test_support::StaticHttp),
    String,
) {
    let repo = tempfile::tempdir().unwrap();
    let st = Command::new("createrepo_c")
        .arg("-q")
        .arg(repo.path())
        .status()
        .expect("createrepo_c");
    assert!(st.success());
    let http = alma_ext_test_support::StaticHttp::serve(repo.path());
    let target = repo.path().join("target.toml");
    std::fs::write(
        &target,
        format!(
            "others = \"keep\"\n[repos.baseos]\nid = \"ext-baseos\"\nname = \"Extended BaseOS\"\nbaseurl = \"{}/\"\n",
            http.base()
        ),
    )
    .unwrap();
    let target = target.to_str().unwrap().to_string();
    ((repo, http), target)
}

#[test]
fn help_and_version() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["facts", "--help"],
        &["switch", "--help"],
    ] {
        let o = check_closed_and_full(&args.join(" "), false, || alma_ext(args));
        assert!(!o.stdout.is_empty());
    }
}

#[test]
fn facts() {
    let root = fixture("aws-metal");
    let root = root.to_str().unwrap();
    for args in [
        &["facts", "--root", root][..],
        &["facts", "--root", root, "--format", "json"],
    ] {
        let o = check_closed_and_full(&args.join(" "), false, || alma_ext(args));
        assert!(o.status.success());
        assert!(!o.stdout.is_empty());
    }
}

#[test]
fn status() {
    let root = alma_ext_test_support::almalinux_root(9);
    let root = root.to_str().unwrap();
    for args in [
        &["status", "--root", root, "--at", "2026-12-01"][..],
        &[
            "status",
            "--root",
            root,
            "--at",
            "2026-12-01",
            "--format",
            "json",
        ],
    ] {
        let o = check_closed_and_full(&args.join(" "), false, || alma_ext(args));
        assert!(
            !o.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn switch_dry_run_and_revert() {
    let d = alma9_copy();
    let (_repo, target) = empty_repo_target();
    let root = d.path().to_str().unwrap().to_string();
    let o = check_closed_and_full("switch --dry-run", true, || {
        alma_ext(&["switch", "--root", &root, "--target", &target, "--dry-run"])
    });
    assert!(
        !o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    check_closed_and_full("switch --revert --dry-run", true, || {
        alma_ext(&["switch", "--root", &root, "--revert", "--dry-run"])
    });
}

#[test]
fn register_checkin_unregister_without_a_server() {
    let d = alma9_copy();
    let root = d.path().to_str().unwrap().to_string();
    check_closed_and_full("register", false, || {
        alma_ext(&[
            "register",
            "--root",
            &root,
            "--server",
            "https://127.0.0.1:9",
            "--activation-key",
            "aek_test",
        ])
    });
    check_closed_and_full("checkin", false, || alma_ext(&["checkin", "--root", &root]));
    check_closed_and_full("unregister", false, || {
        alma_ext(&["unregister", "--root", &root])
    });
}

#[test]
fn switch_result_does_not_depend_on_its_output() {
    let (_repo, target) = empty_repo_target();
    // A fresh root for each of the three runs; all three must be switched.
    let roots = std::cell::RefCell::new(Vec::new());
    let o = check_closed_and_full("switch --yes", true, || {
        let d = alma9_copy();
        let root = d.path().to_str().unwrap().to_string();
        roots.borrow_mut().push(d);
        alma_ext(&["switch", "--root", &root, "--target", &target, "--yes"])
    });
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for d in roots.borrow().iter() {
        let repos = std::fs::read_dir(d.path().join("etc/yum.repos.d")).unwrap();
        let switched = repos
            .flatten()
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("[ext-baseos]")));
        assert!(switched, "{} was not switched", d.path().display());
    }
}
