//! Apply and revert on fixture roots: byte-for-byte results, metadata
//! kept, rollback on failure, and a failpoint at every step (an injected
//! error, and an injected crash followed by recovery in both directions).

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use alma_ext_proto::api::SwitchStatus;
use alma_ext_switcher::apply::{
    read_release, read_repo_files, revert_failpoints, switch_failpoints, Applier, ApplyError,
    FailAction, Failpoint, Outcome,
};
use alma_ext_switcher::journal::{Lock, Op, Store};
use alma_ext_switcher::plan::{self, Plan, EXTENDED_REPO_FILE};
use common::*;

const LABEL: &[u8] = b"system_u:object_r:system_conf_t:s0\0";

fn make_plan(root: &Path) -> Plan {
    let rel = read_release(root).unwrap().unwrap();
    plan::plan(&read_repo_files(root).unwrap(), &rel, &target(TARGET)).unwrap()
}

/// A fixture with labels and an unusual owner/mode on one file, so
/// metadata preservation is visible.
fn prepared_root(major: u32) -> tempfile::TempDir {
    let r = fixture_root(major);
    let d = r.path().join("etc/yum.repos.d");
    for e in fs::read_dir(&d).unwrap() {
        xattr::set(e.unwrap().path(), "security.selinux", LABEL).unwrap();
    }
    let f = d.join(if major == 8 {
        "almalinux.repo"
    } else {
        "almalinux-baseos.repo"
    });
    std::os::unix::fs::chown(&f, Some(0), Some(4)).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    r
}

/// The tree a clean switch gives, for comparison.
fn switched_snapshot(major: u32) -> Snapshot {
    let r = prepared_root(major);
    let tools = FakeTools::default();
    let a = Applier::new(r.path(), &tools, Failpoint::default());
    assert_eq!(a.apply(&make_plan(r.path())).unwrap(), Outcome::Switched);
    snapshot(r.path())
}

#[test]
fn switch_then_revert_is_byte_for_byte() {
    for major in [8, 9] {
        let r = prepared_root(major);
        let before = snapshot(r.path());
        let tools = FakeTools::default();
        let a = Applier::new(r.path(), &tools, Failpoint::default());
        let p = make_plan(r.path());
        assert_eq!(a.apply(&p).unwrap(), Outcome::Switched);
        assert_eq!(
            *tools.calls.borrow(),
            vec![
                format!(
                    "import {}/etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended",
                    r.path().display()
                ),
                // The new repos and the repo repointed to the vault.
                format!("makecache {major} ext-appstream,ext-baseos,extras"),
            ]
        );
        let after = snapshot(r.path());
        // Owner, mode and label of an edited file are kept.
        let base = if major == 8 {
            "etc/yum.repos.d/almalinux.repo"
        } else {
            "etc/yum.repos.d/almalinux-baseos.repo"
        };
        let (b0, m0, u0, g0, l0) = &before[Path::new(base)];
        let (b1, m1, u1, g1, l1) = &after[Path::new(base)];
        assert_ne!(b0, b1);
        assert_eq!((m0, u0, g0, l0), (m1, u1, g1, l1));
        assert_eq!(*m1, 0o640);
        // The new file: 0600 (credentials), labelled like its siblings.
        let new = &after[Path::new("etc/yum.repos.d/alma-ext-extended.repo")];
        assert_eq!(new.1, 0o600);
        assert_eq!(new.4.as_deref(), Some(LABEL));
        // No temporary files left behind.
        assert!(fs::read_dir(r.path().join("etc/yum.repos.d"))
            .unwrap()
            .all(|e| !e.unwrap().file_name().to_string_lossy().starts_with('.')));
        let st = alma_ext_switcher::state::load(r.path()).unwrap();
        assert_eq!(st.status, SwitchStatus::Extended);
        assert_eq!(st.repos, vec!["ext-appstream", "ext-baseos"]);
        // Journal and backups are private.
        let store = Store::new(r.path());
        assert_eq!(fs::metadata(store.dir()).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            fs::metadata(store.applied_path()).unwrap().mode() & 0o777,
            0o600
        );
        assert!(!store.journal_path().exists());

        // Second run: already switched, nothing written.
        let p2 = make_plan(r.path());
        assert!(p2.already_switched);
        assert_eq!(a.apply(&p2).unwrap(), Outcome::AlreadySwitched);
        assert_eq!(snapshot(r.path()), after);

        assert_eq!(a.revert().unwrap(), Outcome::Reverted);
        assert_eq!(
            snapshot(r.path()),
            before,
            "revert restores every byte, mode, owner, label"
        );
        assert_eq!(
            alma_ext_switcher::state::load(r.path()).unwrap().status,
            SwitchStatus::Community
        );
        assert_eq!(a.revert().unwrap(), Outcome::NotSwitched);
    }
}

#[test]
fn verification_failure_rolls_back_exactly() {
    let r = prepared_root(9);
    let before = snapshot(r.path());
    let tools = FakeTools {
        fail_makecache: true,
        ..Default::default()
    };
    let a = Applier::new(r.path(), &tools, Failpoint::default());
    let e = a.apply(&make_plan(r.path())).unwrap_err();
    assert!(matches!(e, ApplyError::RolledBack(_)), "{e}");
    assert!(
        e.to_string()
            .contains("Failed to download metadata for repo 'ext-baseos'"),
        "{e}"
    );
    assert_eq!(snapshot(r.path()), before);
    let st = alma_ext_switcher::state::load(r.path()).unwrap();
    assert_eq!(st.status, SwitchStatus::Failed);
    assert!(st.error.unwrap().contains("ext-baseos"));
}

#[test]
fn key_import_failure_changes_nothing() {
    let r = prepared_root(9);
    let before = snapshot(r.path());
    let tools = FakeTools {
        fail_import: true,
        ..Default::default()
    };
    let a = Applier::new(r.path(), &tools, Failpoint::default());
    let e = a.apply(&make_plan(r.path())).unwrap_err();
    assert!(matches!(e, ApplyError::NothingChanged(_)), "{e}");
    assert!(e.to_string().contains("RPM-GPG-KEY-vendor-extended"), "{e}");
    assert_eq!(snapshot(r.path()), before);
    assert!(!Store::new(r.path()).journal_path().exists());
}

#[test]
fn injected_error_at_every_switch_step_rolls_back_or_completes() {
    let switched = switched_snapshot(9);
    let n = make_plan(prepared_root(9).path()).changes.len();
    for fp in switch_failpoints(n) {
        let r = prepared_root(9);
        let before = snapshot(r.path());
        let tools = FakeTools::default();
        let a = Applier::new(
            r.path(),
            &tools,
            Failpoint(Some((fp.clone(), FailAction::Error))),
        );
        let e = a.apply(&make_plan(r.path())).unwrap_err();
        if fp == "committed" || fp == "finalized" {
            // Past the commit point: the switch stands; the journal finishes it.
            assert!(matches!(e, ApplyError::Interrupted(..)), "{fp}: {e}");
            assert_eq!(snapshot(r.path()), switched, "{fp}");
            let ok = Applier::new(r.path(), &tools, Failpoint::default());
            ok.recover(Op::Switch).unwrap();
            assert_eq!(snapshot(r.path()), switched, "{fp}");
            assert_eq!(
                alma_ext_switcher::state::load(r.path()).unwrap().status,
                SwitchStatus::Extended
            );
            assert_eq!(ok.revert().unwrap(), Outcome::Reverted);
        } else {
            assert!(matches!(e, ApplyError::RolledBack(_)), "{fp}: {e}");
        }
        assert_eq!(snapshot(r.path()), before, "{fp}");
        assert!(!Store::new(r.path()).journal_path().exists(), "{fp}");
    }
}

#[test]
fn crash_at_every_switch_step_then_recover_and_revert() {
    let switched = switched_snapshot(9);
    let n = make_plan(prepared_root(9).path()).changes.len();
    for fp in switch_failpoints(n) {
        for toward in [Op::Switch, Op::Revert] {
            let r = prepared_root(9);
            let before = snapshot(r.path());
            let tools = FakeTools::default();
            let a = Applier::new(
                r.path(),
                &tools,
                Failpoint(Some((fp.clone(), FailAction::Crash))),
            );
            let e = a.apply(&make_plan(r.path())).unwrap_err();
            assert!(matches!(e, ApplyError::Interrupted(..)), "{fp}: {e}");
            // While the journal is pending, status says so.
            if Store::new(r.path()).journal_path().exists() {
                assert_eq!(
                    alma_ext_switcher::state::load(r.path()).unwrap().status,
                    SwitchStatus::Interrupted
                );
            }
            let ok = Applier::new(r.path(), &tools, Failpoint::default());
            let rec = ok.recover(toward).unwrap();
            let committed = fp == "committed" || fp == "finalized";
            // Exactly the old tree or exactly the new one.
            let now = snapshot(r.path());
            if committed {
                assert_eq!(now, switched, "{fp} {toward:?}");
            } else {
                assert_eq!(now, before, "{fp} {toward:?}");
                assert!(rec.unwrap().rolled_back);
            }
            // And from there the revert gives the original bytes back.
            ok.revert().unwrap();
            assert_eq!(snapshot(r.path()), before, "{fp} {toward:?}");
            // A switch after recovery works as if nothing happened.
            assert_eq!(ok.apply(&make_plan(r.path())).unwrap(), Outcome::Switched);
            assert_eq!(snapshot(r.path()), switched, "{fp} {toward:?}");
        }
    }
}

#[test]
fn crash_at_every_revert_step_then_recover() {
    let switched = switched_snapshot(8);
    let community = snapshot(prepared_root(8).path());
    let n = {
        let r = prepared_root(8);
        let tools = FakeTools::default();
        let a = Applier::new(r.path(), &tools, Failpoint::default());
        a.apply(&make_plan(r.path())).unwrap();
        a.revert_plan().unwrap().unwrap().files.len()
    };
    for fp in revert_failpoints(n) {
        for (action, toward) in [
            (FailAction::Crash, Op::Revert),
            (FailAction::Crash, Op::Switch),
            (FailAction::Error, Op::Revert),
        ] {
            let r = prepared_root(8);
            let tools = FakeTools::default();
            let ok = Applier::new(r.path(), &tools, Failpoint::default());
            ok.apply(&make_plan(r.path())).unwrap();
            let a = Applier::new(r.path(), &tools, Failpoint(Some((fp.clone(), action))));
            let res = a.revert();
            let committed = fp == "revert-committed" || fp == "revert-finalized";
            if action == FailAction::Error && !committed {
                assert!(matches!(res, Err(ApplyError::RolledBack(_))), "{fp}");
                assert_eq!(snapshot(r.path()), switched, "{fp}");
                continue;
            }
            assert!(matches!(res, Err(ApplyError::Interrupted(..))), "{fp}");
            ok.recover(toward).unwrap();
            let now = snapshot(r.path());
            // Completing the revert when asked to revert (or once committed);
            // back to the switch when a switch runs.
            if toward == Op::Revert || committed {
                assert_eq!(now, community, "{fp} {toward:?}");
                assert_eq!(
                    alma_ext_switcher::state::load(r.path()).unwrap().status,
                    SwitchStatus::Community
                );
            } else {
                assert_eq!(now, switched, "{fp} {toward:?}");
                assert_eq!(
                    alma_ext_switcher::state::load(r.path()).unwrap().status,
                    SwitchStatus::Extended
                );
                ok.revert().unwrap();
                assert_eq!(snapshot(r.path()), community, "{fp}");
            }
        }
    }
}

#[test]
fn crash_during_recovery_is_recovered_too() {
    // A torn write: the temp file of a write is left next to the repo file,
    // as a kill between create and rename leaves it.
    let r = prepared_root(9);
    let before = snapshot(r.path());
    let tools = FakeTools::default();
    let a = Applier::new(
        r.path(),
        &tools,
        Failpoint(Some(("after-write-1".into(), FailAction::Crash))),
    );
    a.apply(&make_plan(r.path())).unwrap_err();
    let tmp = r
        .path()
        .join("etc/yum.repos.d/.almalinux-extras.repo.alma-ext-tmp");
    fs::write(&tmp, b"half").unwrap();
    let ok = Applier::new(r.path(), &tools, Failpoint::default());
    ok.recover(Op::Switch).unwrap();
    ok.recover(Op::Switch).unwrap();
    assert!(!tmp.exists());
    assert_eq!(snapshot(r.path()), before);
}

#[test]
fn revert_refuses_when_a_file_was_edited_since() {
    let r = prepared_root(9);
    let tools = FakeTools::default();
    let a = Applier::new(r.path(), &tools, Failpoint::default());
    a.apply(&make_plan(r.path())).unwrap();
    let f = r.path().join("etc/yum.repos.d/almalinux-baseos.repo");
    let mut t = fs::read(&f).unwrap();
    t.extend_from_slice(b"# admin edit\n");
    fs::write(&f, &t).unwrap();
    let snap = snapshot(r.path());
    let e = a.revert().unwrap_err();
    assert!(e.to_string().contains("almalinux-baseos.repo"), "{e}");
    assert_eq!(snapshot(r.path()), snap);
}

#[test]
fn target_change_after_switch_keeps_the_original_backup() {
    let r = prepared_root(9);
    let before = snapshot(r.path());
    let tools = FakeTools::default();
    let a = Applier::new(r.path(), &tools, Failpoint::default());
    a.apply(&make_plan(r.path())).unwrap();
    // The server rotates the password: the new file is rewritten.
    let rel = read_release(r.path()).unwrap().unwrap();
    let t2 = target(&TARGET.replace("s3cret-pw", "rotated-pw"));
    let p2 = plan::plan(&read_repo_files(r.path()).unwrap(), &rel, &t2).unwrap();
    assert_eq!(p2.changes.len(), 1);
    assert_eq!(p2.changes[0].path, Path::new(EXTENDED_REPO_FILE));
    assert_eq!(a.apply(&p2).unwrap(), Outcome::Switched);
    let text = fs::read_to_string(r.path().join("etc/yum.repos.d/alma-ext-extended.repo")).unwrap();
    assert!(text.contains("password=rotated-pw"));
    a.revert().unwrap();
    assert_eq!(snapshot(r.path()), before);
}

#[test]
fn lock_is_exclusive_and_rpm_lock_is_seen() {
    let r = prepared_root(9);
    let store = Store::new(r.path());
    let l = Lock::try_acquire(&store).unwrap();
    assert!(l.is_some());
    // flock is per open file: a second open in this process conflicts too.
    assert!(Lock::try_acquire(&store).unwrap().is_none());
    drop(l);
    assert!(Lock::try_acquire(&store).unwrap().is_some());

    // An rpm transaction holds the fcntl lock on .rpm.lock.
    let db = r.path().join("var/lib/rpm");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join(".rpm.lock"), b"").unwrap();
    assert_eq!(
        alma_ext_switcher::system::package_lock_holder(r.path(), &["/var/lib/rpm".to_string()])
            .unwrap(),
        None
    );
    let mut child = std::process::Command::new("python3")
        .arg("-c")
        .arg("import fcntl,sys; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()")
        .arg(db.join(".rpm.lock"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let who =
        alma_ext_switcher::system::package_lock_holder(r.path(), &["/var/lib/rpm".to_string()])
            .unwrap();
    assert!(who.unwrap().to_string().contains("rpm transaction"));
    drop(child.stdin.take());
    child.wait().unwrap();
}

#[test]
fn old_caches_are_dropped_and_others_kept() {
    let r = prepared_root(9);
    let cache = r.path().join("var/cache/dnf");
    for d in [
        "baseos-0123456789abcdef",
        "appstream-0123456789abcdef",
        "extras-0123456789abcdef",
        "baseos-debuginfo-0123456789abcdef",
        "epel-0123456789abcdef",
    ] {
        fs::create_dir_all(cache.join(d).join("repodata")).unwrap();
    }
    for f in ["baseos.solv", "baseos-filenames.solvx", "epel.solv"] {
        fs::write(cache.join(f), b"x").unwrap();
    }
    let tools = FakeTools::default();
    let a = Applier::new(r.path(), &tools, Failpoint::default());
    a.apply(&make_plan(r.path())).unwrap();
    let mut left: Vec<String> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // Replaced (baseos, appstream) and repointed (extras) caches go; the
    // rest stays.
    assert_eq!(
        left,
        vec![
            "baseos-debuginfo-0123456789abcdef",
            "epel-0123456789abcdef",
            "epel.solv"
        ]
    );
}

#[test]
fn running_dnf_is_seen_by_its_pid_lock() {
    let r = prepared_root(9);
    let dir = r.path().join("var/lib/dnf");
    fs::create_dir_all(&dir).unwrap();
    // A stale pid file (no such dnf process) does not block.
    fs::write(dir.join("rpmdb_lock.pid"), b"999999999").unwrap();
    assert_eq!(
        alma_ext_switcher::system::package_lock_holder(r.path(), &["/var/lib/rpm".to_string()])
            .unwrap(),
        None
    );
    // A live process whose command line says dnf does.
    let mut child = std::process::Command::new("bash")
        .args(["-c", "exec -a /usr/bin/dnf sleep 1000"])
        .spawn()
        .unwrap();
    // Wait until the exec happened (the command line changes; bash's own
    // command line contains "dnf" too, so look for the new argv[0]).
    let pid = child.id();
    while !fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .starts_with("/usr/bin/dnf\0")
    {
        std::thread::yield_now();
    }
    fs::write(dir.join("rpmdb_lock.pid"), pid.to_string()).unwrap();
    let who = alma_ext_switcher::system::dnf_lock_holder(r.path()).unwrap();
    // Under --root the host's /proc says nothing about the root: not read.
    let under_root =
        alma_ext_switcher::system::package_lock_holder(r.path(), &["/var/lib/rpm".to_string()])
            .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(who
        .unwrap()
        .to_string()
        .contains(&format!("dnf (process {pid})")));
    assert_eq!(under_root, None);
}
