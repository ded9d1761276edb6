//! `alma-ext switch` end to end: the real binary, real dnf 4 in an
//! installroot, a signed package in a createrepo_c repository served by
//! nginx on 127.0.0.1 over HTTPS (basic auth, and TLS client certificates).

mod common_switch;

use std::fs;

use common_switch::*;

fn root_arg(r: &tempfile::TempDir) -> String {
    r.path().display().to_string()
}

fn switch(r: &tempfile::TempDir, t: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let root = root_arg(r);
    let t = t.display().to_string();
    let mut a = vec!["switch", "--root", &root, "--target", &t];
    a.extend_from_slice(extra);
    alma_ext(&a, &[])
}

fn assert_installs(r: &tempfile::TempDir, major: u32) {
    let out = dnf(
        r.path(),
        major,
        &["-y", "--repo=ext-baseos", "install", PKG],
    );
    assert!(out.status.success(), "dnf install failed: {}", text(&out));
    assert_eq!(
        fs::read_to_string(r.path().join(format!("usr/share/{PKG}/hello.txt"))).unwrap(),
        "extended\n"
    );
    // gpgcheck was on and the key came from the switch's import.
    let q = std::process::Command::new("rpm")
        .arg("--root")
        .arg(r.path())
        .args(["-qi", PKG])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&q.stdout).contains("Key ID"),
        "{}",
        text(&q)
    );
}

#[test]
fn basic_auth_switch_install_and_revert_on_almalinux_9() {
    let (r, t) = setup(9, Access::Basic);
    let before = snapshot(r.path());

    // Dry run: plan and diff, no change, password never shown.
    let out = switch(&r, &t, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = text(&out);
    assert!(
        s.contains("+++ b/etc/yum.repos.d/alma-ext-extended.repo"),
        "{s}"
    );
    assert!(s.contains("-enabled=1\n+enabled=0"), "{s}");
    assert!(!s.contains(PASSWORD), "{s}");
    assert_eq!(snapshot(r.path()), before);

    // No terminal and no --yes: refused, exit 8.
    let out = switch(&r, &t, &[]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(text(&out).contains("--yes"));
    assert_eq!(snapshot(r.path()), before);

    let out = switch(&r, &t, &["--yes", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["result"], "switched");
    assert_eq!(j["state"]["status"], "extended");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(PASSWORD));
    let repo = r.path().join("etc/yum.repos.d/alma-ext-extended.repo");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&repo).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(fs::read_to_string(&repo)
        .unwrap()
        .contains(&format!("password={PASSWORD}")));

    assert_installs(&r, 9);

    // Second run: already switched, nothing changes.
    let snap = snapshot(r.path());
    let out = switch(&r, &t, &["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Already switched"), "{}", text(&out));
    assert_eq!(snapshot(r.path()), snap);

    // Status JSON through the library the status command uses.
    let st = fs::read_to_string(r.path().join("var/lib/alma-ext/switch/state.json")).unwrap();
    assert!(st.contains("\"extended\""));

    let root = root_arg(&r);
    let out = alma_ext(&["switch", "--revert", "--root", &root, "--yes"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(snapshot(r.path()), before, "revert is byte for byte");
    // The key stays imported.
    let q = std::process::Command::new("rpm")
        .arg("--root")
        .arg(r.path())
        .args(["-q", "gpg-pubkey"])
        .output()
        .unwrap();
    assert!(q.status.success(), "{}", text(&q));
}

#[test]
fn client_certificate_switch_and_install_on_almalinux_8() {
    let (r, t) = setup(8, Access::ClientCert);
    let before = snapshot(r.path());
    // A relative --root works as well (dnf needs an absolute installroot).
    let out = std::process::Command::new(bin())
        .current_dir(r.path().parent().unwrap())
        .args(["switch", "--yes", "--root"])
        .arg(r.path().file_name().unwrap())
        .arg("--target")
        .arg(&t)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_installs(&r, 8);
    let root = root_arg(&r);
    let out = alma_ext(&["switch", "--revert", "--root", &root, "--yes"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(snapshot(r.path()), before);
}

fn assert_refused(access: Access, code: i32, words: &[&str]) {
    let (r, t) = setup(9, access);
    let before = snapshot(r.path());
    let out = switch(&r, &t, &["--yes"]);
    let s = text(&out);
    eprintln!("{access:?} -> exit {:?}: {s}", out.status.code());
    assert_eq!(out.status.code(), Some(code), "{access:?}: {s}");
    for w in words {
        assert!(s.contains(w), "{access:?}: {w:?} not in {s}");
    }
    assert!(s.contains("nothing was changed"), "{s}");
    assert!(
        !s.contains(PASSWORD) && !s.contains("wrong-password"),
        "{s}"
    );
    assert_eq!(snapshot(r.path()), before, "{access:?}");
    assert!(!r
        .path()
        .join("var/lib/alma-ext/switch/journal.json")
        .exists());
}

#[test]
fn wrong_password_is_refused_and_named() {
    assert_refused(
        Access::WrongPassword,
        7,
        &["HTTP 401", "repodata/repomd.xml", USER, "ext-"],
    );
}

#[test]
fn unreachable_repository_changes_nothing() {
    let w = world();
    assert_refused(Access::Unreachable, 6, &["unreachable", &w.dead_url]);
}

#[test]
fn expired_client_certificate_is_named() {
    assert_refused(Access::ExpiredCert, 4, &["client certificate", "expired"]);
}

#[test]
fn bad_key_changes_nothing() {
    let (r, t) = setup(9, Access::Basic);
    // One flipped character in the armored body breaks the checksum.
    let p = r.path().join("etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended");
    let mut k = fs::read_to_string(&p).unwrap();
    let i = k.find("\n\n").unwrap() + 10;
    let c = if &k[i..i + 1] == "A" { "B" } else { "A" };
    k.replace_range(i..i + 1, c);
    fs::write(&p, k).unwrap();
    let before = snapshot(r.path());
    let out = switch(&r, &t, &["--yes"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(4), "{s}");
    assert!(
        s.contains("bad key") && s.contains("RPM-GPG-KEY-vendor-extended"),
        "{s}"
    );
    assert_eq!(snapshot(r.path()), before);

    // Not a key at all.
    fs::write(&p, "hello\n").unwrap();
    let out = switch(&r, &t, &["--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("not an armored OpenPGP public key"));
}

#[test]
fn no_target_bad_toml_and_busy() {
    let (r, t) = setup(9, Access::Basic);
    let root = root_arg(&r);
    let out = alma_ext(&["switch", "--root", &root, "--yes"], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains("no target: pass --target FILE or register with `alma-ext register`")
    );

    // Bad TOML: exit 3, the file and key are named.
    let bad = r.path().join("bad.toml");
    fs::write(&bad, "gpgcheck = true\nfrobnicate = 1\n").unwrap();
    let out = alma_ext(
        &[
            "switch",
            "--root",
            &root,
            "--target",
            &bad.display().to_string(),
            "--yes",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("frobnicate") && text(&out).contains("bad.toml"),
        "{}",
        text(&out)
    );

    // Another switch holds the lock: exit 9.
    let lock = r.path().join("var/lib/alma-ext/switch/lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .unwrap();
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) },
        0
    );
    let out = switch(&r, &t, &["--yes"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    drop(f);
}

/// A really killed process at every step of the switch: the next
/// `alma-ext switch` rolls back and switches, `--revert` gives the
/// original bytes back.
#[test]
fn killed_at_every_step_then_resume_and_revert() {
    let (r0, t0) = setup(9, Access::Basic);
    let out = switch(&r0, &t0, &["--dry-run", "--format", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = j["plan"]["changes"].as_array().unwrap().len();
    let mut points = vec!["journal-written".to_string(), "keys-imported".to_string()];
    for i in 0..n {
        points.push(format!("before-write-{i}"));
        points.push(format!("after-write-{i}"));
    }
    points.extend(["verified", "committed", "finalized"].map(String::from));
    // What an uninterrupted switch leaves in /etc.
    let (rr, tr) = setup(9, Access::Basic);
    assert!(switch(&rr, &tr, &["--yes"]).status.success());
    let expected = portable(snapshot(rr.path()), rr.path());

    for fp in &points {
        let (r, t) = setup(9, Access::Basic);
        let before = snapshot(r.path());
        let root = root_arg(&r);
        let tt = t.display().to_string();
        let out = alma_ext(
            &["switch", "--root", &root, "--target", &tt, "--yes"],
            &[("ALMA_EXT_FAILPOINT", &format!("{fp}=kill"))],
        );
        // Killed by SIGKILL.
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9), "{fp}: {}", text(&out));
        let pending = r
            .path()
            .join("var/lib/alma-ext/switch/journal.json")
            .exists();
        // Killed after finalizing: the switch is complete and recorded;
        // killed anywhere before: the journal is kept for recovery.
        assert_eq!(pending, fp != "finalized", "{fp}: journal after the kill");
        if !pending {
            let s = alma_ext_switcher::state::load(r.path()).unwrap();
            assert_eq!(
                s.status,
                alma_ext_proto::api::SwitchStatus::Extended,
                "{fp}"
            );
            assert_eq!(portable(snapshot(r.path()), r.path()), expected, "{fp}");
        }
        if pending {
            // status shows it; a dry run refuses until it is finished.
            let s = alma_ext_switcher::state::load(r.path()).unwrap();
            assert_eq!(
                s.status,
                alma_ext_proto::api::SwitchStatus::Interrupted,
                "{fp}"
            );
            let out = switch(&r, &t, &["--dry-run"]);
            assert_eq!(out.status.code(), Some(4), "{fp}: {}", text(&out));
            assert!(text(&out).contains("interrupted"), "{}", text(&out));
        }

        // Resume with a switch: exactly the switched tree.
        let out = switch(&r, &t, &["--yes"]);
        assert!(out.status.success(), "{fp}: {}", text(&out));
        assert_eq!(portable(snapshot(r.path()), r.path()), expected, "{fp}");
        assert!(!r
            .path()
            .join("var/lib/alma-ext/switch/journal.json")
            .exists());

        let out = alma_ext(&["switch", "--revert", "--root", &root, "--yes"], &[]);
        assert!(out.status.success(), "{fp}: {}", text(&out));
        assert_eq!(snapshot(r.path()), before, "{fp}");
    }

    // Killed during a revert: `--revert` again completes it.
    for fp in [
        "revert-journal-written",
        "revert-after-write-0",
        "revert-committed",
    ] {
        let (r, t) = setup(9, Access::Basic);
        let before = snapshot(r.path());
        let root = root_arg(&r);
        assert!(switch(&r, &t, &["--yes"]).status.success());
        let out = alma_ext(
            &["switch", "--revert", "--root", &root, "--yes"],
            &[("ALMA_EXT_FAILPOINT", &format!("{fp}=kill"))],
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(9), "{fp}");
        let out = alma_ext(
            &[
                "switch", "--revert", "--root", &root, "--yes", "--format", "json",
            ],
            &[],
        );
        assert!(out.status.success(), "{fp}: {}", text(&out));
        assert_eq!(snapshot(r.path()), before, "{fp}");
    }
}

/// dnf cannot use the new repository: the switch is rolled back to the
/// exact old bytes, exit 5, and the state says why.
#[test]
fn dnf_verification_failure_rolls_back() {
    let (r, t) = setup(9, Access::Basic);
    let toml = fs::read_to_string(&t)
        .unwrap()
        .replace("/repo/baseos/", "/repo/broken/");
    fs::write(&t, toml).unwrap();
    let before = snapshot(r.path());
    let out = switch(&r, &t, &["--yes", "--format", "json"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(5), "{s}");
    assert!(
        s.contains("dnf could not use the new repositories") && s.contains("rolled back"),
        "{s}"
    );
    assert_eq!(snapshot(r.path()), before);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["result"], "rolled-back");
    assert_eq!(j["exit_code"], 5);
    assert_eq!(j["state"]["status"], "failed");
    assert!(!r
        .path()
        .join("var/lib/alma-ext/switch/journal.json")
        .exists());
}

/// With a terminal (a pty from `script`), the command asks; "n" changes
/// nothing (exit 8), "y" switches.
#[test]
fn terminal_confirmation() {
    let (r, t) = setup(9, Access::Basic);
    let before = snapshot(r.path());
    let cmd = format!(
        "{} switch --root {} --target {}",
        bin().display(),
        r.path().display(),
        t.display()
    );
    let ask = |answer: &str| {
        use std::io::Write;
        let mut c = std::process::Command::new("script")
            .args(["-q", "-e", "-c", &cmd, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        c.wait_with_output().unwrap()
    };
    let out = ask("n\n");
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        text(&out).contains("[y/N]") && text(&out).contains("not confirmed"),
        "{}",
        text(&out)
    );
    assert_eq!(snapshot(r.path()), before);
    let out = ask("y\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Switched"), "{}", text(&out));
}

/// `snap` with the name of `root` (part of the per-root certificate paths
/// written into the repo file) replaced by `ROOT`, so that the trees of two
/// roots compare byte for byte.
fn portable(snap: Snapshot, root: &std::path::Path) -> Snapshot {
    let name = root.file_name().unwrap().to_string_lossy().into_owned();
    snap.into_iter()
        .map(|(p, (bytes, mode, uid, gid))| {
            let text = String::from_utf8_lossy(&bytes).replace(&name, "ROOT");
            (p, (text.into_bytes(), mode, uid, gid))
        })
        .collect()
}

/// Under a Japanese locale the plan and the refusal are Japanese (repo ids,
/// paths and URLs as they are), and `--format json` prints the same bytes
/// as under `LANG=C`, a refused switch too.
#[test]
fn japanese_plan_and_identical_json() {
    let (r, t) = setup(9, Access::Basic);
    let ja = [("LANG", "ja_JP.UTF-8"), ("LC_ALL", ""), ("LC_MESSAGES", "")];
    let c = [("LANG", "C"), ("LC_ALL", ""), ("LC_MESSAGES", "")];
    let out = switch(&r, &t, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = alma_ext(
        &[
            "switch",
            "--root",
            &root_arg(&r),
            "--target",
            &t.display().to_string(),
            "--dry-run",
        ],
        &ja,
    );
    assert!(out.status.success(), "{}", text(&out));
    let s = String::from_utf8_lossy(&out.stdout);
    let plan = s.split("\n--- ").next().unwrap();
    for w in [
        "置き換え (その場で無効化",
        "ext-baseos",
        "ドライラン: 何も変更していません。",
    ] {
        assert!(s.contains(w), "{w:?} not in\n{s}");
    }
    assert!(
        !plan.contains("Replaced") && !plan.contains("Files written"),
        "{plan}"
    );

    let mut json = vec![
        "switch".to_string(),
        "--root".into(),
        root_arg(&r),
        "--target".into(),
        t.display().to_string(),
        "--dry-run".into(),
        "--format".into(),
        "json".into(),
    ];
    let run = |v: &[String], env: &[(&str, &str)]| {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        alma_ext(&a, env)
    };
    assert_eq!(run(&json, &ja).stdout, run(&json, &c).stdout);

    // A refused switch (a broken key): the same JSON, a Japanese message.
    let key = r.path().join("etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended");
    fs::write(&key, "hello\n").unwrap();
    json.retain(|a| a != "--dry-run");
    json.push("--yes".into());
    let (j, e) = (run(&json, &ja), run(&json, &c));
    assert_eq!(j.status.code(), Some(4));
    assert_eq!(e.status.code(), Some(4));
    assert_eq!(j.stdout, e.stdout);
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("not an armored OpenPGP public key"),
        "{v}"
    );
    let err = String::from_utf8_lossy(&j.stderr);
    assert!(
        err.contains("事前確認: gpgkey ")
            && err.contains("RPM-GPG-KEY-vendor-extended")
            && err.contains("ASCII 形式の OpenPGP 公開鍵ではありません")
            && err.contains("何も変更していません"),
        "{err}"
    );
}
