//! The applier asks dnf again after writing: the real dnf agrees with a
//! clean switch; when dnf reads something else than the plan, the switch
//! is rolled back to the exact old bytes and the message says what
//! differed.

mod common;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use alma_ext_switcher::apply::{read_release, read_repo_files, Applier, ApplyError, Failpoint};
use alma_ext_switcher::dnfquery::{DnfQueryError, DnfReader, DnfView, RealDnf};
use alma_ext_switcher::plan;
use common::*;

/// The real dnf, with its answers after the first one changed by `edit`.
struct Tampered<F: Fn(&mut DnfView)> {
    calls: Cell<usize>,
    edit: F,
}

impl<F: Fn(&mut DnfView)> DnfReader for Tampered<F> {
    fn read(&self, root: &Path, parse: &[PathBuf]) -> Result<DnfView, DnfQueryError> {
        let mut v = RealDnf::default().read(root, parse)?;
        self.calls.set(self.calls.get() + 1);
        if self.calls.get() > 1 {
            (self.edit)(&mut v);
        }
        Ok(v)
    }
}

fn run(edit: impl Fn(&mut DnfView)) -> (tempfile::TempDir, Snapshot, Result<(), ApplyError>) {
    let r = fixture_root(9);
    let before = snapshot(r.path());
    let files = read_repo_files(r.path()).unwrap();
    let t = target(TARGET);
    let p = plan::plan(&files, &read_release(r.path()).unwrap().unwrap(), &t).unwrap();
    let judge = Tampered {
        calls: Cell::new(0),
        edit,
    };
    let view = judge.read(r.path(), &[]).unwrap();
    plan::judge(&files, &p, &t, &view).unwrap();
    let tools = FakeTools::default();
    let res = Applier::new(r.path(), &tools, Failpoint::default())
        .with_judge(&judge, view)
        .apply(&p)
        .map(|_| ());
    (r, before, res)
}

#[test]
fn dnf_agrees_with_a_clean_switch() {
    let (r, before, res) = run(|_| {});
    res.unwrap();
    assert_ne!(snapshot(r.path()), before);
}

#[test]
fn dnf_still_reading_a_community_repo_rolls_back() {
    let (r, before, res) = run(|v| {
        for repo in &mut v.repos {
            if repo.id == "baseos" {
                repo.enabled = true;
            }
        }
    });
    match res {
        Err(ApplyError::RolledBack(m)) => assert!(
            m.to_string()
                .contains("dnf does not read the switch as planned")
                && m.to_string().contains("still or newly enabled: baseos"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(r.path()), before);
    assert!(!r
        .path()
        .join("var/lib/alma-ext/switch/journal.json")
        .exists());
}

#[test]
fn a_vault_repoint_dnf_reads_elsewhere_rolls_back() {
    let (r, before, res) = run(|v| {
        for repo in &mut v.repos {
            if repo.id == "extras" {
                repo.baseurl = vec!["https://vault.almalinux.org/9.5/extras/x86_64/os/".into()];
            }
        }
    });
    match res {
        Err(ApplyError::RolledBack(m)) => {
            assert!(m.to_string().contains("extras reads baseurl"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(r.path()), before);
}
