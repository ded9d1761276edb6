//! `alma-ext switch` with dnf as the judge: each kind of repository setup
//! that once made the switch say "switched" while dnf disagreed, in a
//! fixture root, switched or refused as the real dnf (its Python API, and
//! `dnf makecache` against createrepo_c repositories on 127.0.0.1) reads it.

mod common_switch;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alma_ext_switcher::dnfquery::{DnfReader, RealDnf};
use common_switch::*;

fn switch(root: &Path, target: &Path, extra: &[&str]) -> Output {
    let root = root.display().to_string();
    let t = target.display().to_string();
    let mut a = vec!["switch", "--root", &root, "--target", &t];
    a.extend_from_slice(extra);
    alma_ext(&a, &[])
}

fn revert(root: &Path, extra: &[&str]) -> Output {
    let root = root.display().to_string();
    let mut a = vec!["switch", "--revert", "--root", &root];
    a.extend_from_slice(extra);
    alma_ext(&a, &[])
}

/// The repo ids dnf loads enabled for the root, as dnf itself reads it.
fn enabled(root: &Path) -> BTreeSet<String> {
    RealDnf::default()
        .read(root, &[])
        .expect("python3-dnf answers")
        .enabled_ids()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn repo_file(root: &Path, name: &str) -> PathBuf {
    root.join("etc/yum.repos.d").join(name)
}

fn journal_pending(root: &Path) -> bool {
    root.join("var/lib/alma-ext/switch/journal.json").exists()
}

/// Refused before any change: exit 4, the words named, the tree as it
/// was, no journal left.
fn assert_refused(root: &Path, out: &Output, before: &Snapshot, words: &[&str]) {
    let s = text(out);
    assert_eq!(out.status.code(), Some(4), "{s}");
    for w in words {
        assert!(s.contains(w), "{w:?} not in: {s}");
    }
    assert_eq!(&snapshot(root), before, "{s}");
    assert!(!journal_pending(root), "{s}");
}

#[test]
fn byte_order_mark_and_header_comment_are_switched_as_dnf_reads_them() {
    let (r, t) = setup(9, Access::Basic);
    let base = repo_file(r.path(), "almalinux-baseos.repo");
    let mut b = b"\xef\xbb\xbf".to_vec();
    b.extend(fs::read(&base).unwrap());
    fs::write(&base, b).unwrap();
    let app = repo_file(r.path(), "almalinux-appstream.repo");
    let a =
        fs::read_to_string(&app)
            .unwrap()
            .replacen("[appstream]", "[appstream] # local mirror", 1);
    fs::write(&app, a).unwrap();
    let before = snapshot(r.path());
    assert!(enabled(r.path()).is_superset(&set(&["baseos", "appstream"])));

    let out = switch(r.path(), &t, &["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let now = enabled(r.path());
    assert!(
        now.is_superset(&set(&["ext-baseos", "ext-appstream"])),
        "{now:?}"
    );
    assert!(
        !now.contains("baseos") && !now.contains("appstream"),
        "{now:?}"
    );
    // The byte-order mark and the comment stay.
    assert!(fs::read(&base)
        .unwrap()
        .starts_with(b"\xef\xbb\xbf[baseos]"));
    assert!(fs::read_to_string(&app)
        .unwrap()
        .contains("[appstream] # local mirror"));

    let out = revert(r.path(), &["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(snapshot(r.path()), before);
}

/// A machine pinned to a minor release: `$releasever` is 9.6 for dnf, so
/// preflight and verification use 9.6 too (nothing is served under 9).
#[test]
fn pinned_releasever_is_the_one_dnf_uses() {
    let w = world();
    let (r, t) = setup(9, Access::Basic);
    for name in ["baseos", "appstream"] {
        let dst = w.dir.join("www/pinned/9.6").join(name);
        if !dst.exists() {
            copy_tree(&w.dir.join("www/repo").join(name), &dst);
        }
    }
    fs::write(r.path().join("etc/dnf/vars/releasever"), "9.6\n").unwrap();
    let toml = fs::read_to_string(&t)
        .unwrap()
        .replace("/repo/baseos/", "/pinned/$releasever/baseos/")
        .replace("/repo/appstream/", "/pinned/$releasever/appstream/");
    fs::write(&t, toml).unwrap();

    let out = switch(r.path(), &t, &["--yes", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let view = RealDnf::default().read(r.path(), &[]).unwrap();
    assert_eq!(view.releasever.as_deref(), Some("9.6"));
    let ext = view.repo("ext-baseos").unwrap();
    assert!(ext.enabled && ext.baseurl[0].ends_with("/pinned/9.6/baseos/"));
    // A plain dnf on the machine (its own variables, no --releasever)
    // reads the new repositories.
    let root = r.path().display().to_string();
    let conf = r.path().join("var/lib/alma-ext/switch/empty-dnf.conf");
    let out = Command::new("dnf")
        .arg(format!("--installroot={root}"))
        .arg(format!("--setopt=reposdir={root}/etc/yum.repos.d"))
        .arg(format!("--setopt=varsdir={root}/etc/dnf/vars"))
        .arg(format!("--config={}", conf.display()))
        .args(tls_setopts(r.path()))
        .args([
            "-y",
            "--repo=ext-baseos",
            "--repo=ext-appstream",
            "makecache",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// `others = "vault"` with a local vault copy: a repo the copy has is
/// repointed and fetched by dnf; a repo it lacks is left alone with a
/// warning, never pointed at a missing directory.
#[test]
fn vault_copy_lacking_a_repo_leaves_it_alone() {
    let w = world();
    for with_extras in [true, false] {
        let (r, t) = setup(9, Access::Basic);
        // The vault at the same absolute path on this machine (dnf
        // --installroot fetches file:// URLs from here) and in the root
        // (where the machine itself would find it).
        let vault = w.dir.join(format!(
            "vault-{}",
            r.path().file_name().unwrap().to_string_lossy()
        ));
        let in_root = r.path().join(vault.strip_prefix("/").unwrap());
        for v in [&vault, &in_root] {
            fs::create_dir_all(v.join("9.6")).unwrap();
            if with_extras {
                copy_tree(
                    &w.dir.join("www/repo/baseos"),
                    &v.join("9.6/extras/x86_64/os"),
                );
            }
        }
        // An ELevate leftover: AlmaLinux's server, but no OS repo of the vault.
        fs::write(
            repo_file(r.path(), "elevate.repo"),
            "[elevate]\nname=ELevate\nbaseurl=https://repo.almalinux.org/elevate/el$releasever/$basearch/\nenabled=1\ngpgcheck=1\n",
        )
        .unwrap();
        let toml = fs::read_to_string(&t).unwrap().replace(
            "others = \"disable\"",
            &format!(
                "others = \"vault\"\nvault_url = \"file://{}\"",
                vault.display()
            ),
        );
        fs::write(&t, toml).unwrap();
        let out = switch(r.path(), &t, &["--yes", "--format", "json"]);
        assert!(out.status.success(), "{}", text(&out));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let extras = j["plan"]["repos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == "extras")
            .unwrap()
            .clone();
        let view = RealDnf::default().read(r.path(), &[]).unwrap();
        // Never pointed at a vault path that does not exist.
        let elevate = view.repo("elevate").unwrap();
        assert_eq!(
            elevate.baseurl,
            vec!["https://repo.almalinux.org/elevate/el9/x86_64/".to_string()]
        );
        let dnf_extras = view.repo("extras").unwrap();
        assert!(dnf_extras.enabled);
        if with_extras {
            assert_eq!(extras["action"], "vault", "{extras}");
            assert_eq!(
                dnf_extras.baseurl,
                vec![format!("file://{}/9.6/extras/x86_64/os/", vault.display())]
            );
        } else {
            assert_eq!(extras["action"], "keep", "{extras}");
            assert!(dnf_extras.baseurl.is_empty(), "{dnf_extras:?}");
            let warnings = j["plan"]["warnings"].to_string();
            assert!(
                warnings.contains("extras") && warnings.contains("vault has no directory"),
                "{warnings}"
            );
        }
    }
}

#[test]
fn community_repo_in_dnf_conf_is_refused() {
    let (r, t) = setup(9, Access::Basic);
    fs::write(
        r.path().join("etc/dnf/dnf.conf"),
        "[main]\ngpgcheck=1\n\n[baseos-local]\nname=BaseOS local\nbaseurl=https://repo.almalinux.org/almalinux/9/BaseOS/x86_64/os/\nenabled=1\n",
    )
    .unwrap();
    let before = snapshot(r.path());
    let out = switch(r.path(), &t, &["--yes"]);
    assert_refused(
        r.path(),
        &out,
        &before,
        &["/etc/dnf/dnf.conf", "baseos-local", "/etc/yum.repos.d"],
    );
}

/// A Satellite-managed host whose community repos are already disabled:
/// nothing to switch is an error that says why.
#[test]
fn nothing_to_enable_is_refused() {
    let (r, t) = setup(9, Access::Basic);
    for name in ["almalinux-baseos.repo", "almalinux-appstream.repo"] {
        let p = repo_file(r.path(), name);
        let s = fs::read_to_string(&p)
            .unwrap()
            .replacen("enabled=1", "enabled=0", 1);
        fs::write(&p, s).unwrap();
    }
    let before = snapshot(r.path());
    let out = switch(r.path(), &t, &["--yes"]);
    assert_refused(
        r.path(),
        &out,
        &before,
        &[
            "nothing to switch",
            "baseos is disabled",
            "appstream is disabled",
        ],
    );
}

/// `[repos.BaseOS]`: no such repo id (ids are case-sensitive); named with
/// the machine's repo ids, and nothing is repointed.
#[test]
fn target_key_matching_no_repo_is_named() {
    let (r, t) = setup(9, Access::Basic);
    let toml = fs::read_to_string(&t)
        .unwrap()
        .replace("[repos.baseos]", "[repos.BaseOS]");
    fs::write(&t, toml).unwrap();
    let before = snapshot(r.path());
    let out = switch(r.path(), &t, &["--yes"]);
    assert_refused(
        r.path(),
        &out,
        &before,
        &[
            "repos.BaseOS",
            "did you mean \"baseos\"",
            "appstream, appstream-debuginfo",
        ],
    );
}

/// A repo file that is a relative symlink: the file it points to inside
/// the root is edited, the link stays a link, the mode stays, and the
/// revert gives the bytes back.
#[test]
fn relative_symlinked_repo_file_keeps_its_link_and_mode() {
    let (r, t) = setup(9, Access::Basic);
    let shared = r.path().join("usr/share/almalinux-release");
    fs::create_dir_all(&shared).unwrap();
    let link = repo_file(r.path(), "almalinux-baseos.repo");
    let real = shared.join("almalinux-baseos.repo");
    fs::rename(&link, &real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(
        "../../usr/share/almalinux-release/almalinux-baseos.repo",
        &link,
    )
    .unwrap();
    let original = fs::read(&real).unwrap();

    let out = switch(r.path(), &t, &["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let md = fs::symlink_metadata(&link).unwrap();
    assert!(md.file_type().is_symlink());
    assert_eq!(
        fs::read_link(&link).unwrap(),
        Path::new("../../usr/share/almalinux-release/almalinux-baseos.repo")
    );
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o7777,
        0o644
    );
    assert!(!enabled(r.path()).contains("baseos"));

    let out = revert(r.path(), &["--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(&real).unwrap(), original);
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o7777,
        0o644
    );
}

/// A repo file that is an absolute symlink: inside the root it names the
/// root's file, but dnf --installroot would follow it on this machine.
/// Refused before any change, naming the link; nothing is written on this
/// machine.
#[test]
fn absolute_symlinked_repo_file_is_refused_when_dnf_reads_elsewhere() {
    let (r, t) = setup(9, Access::Basic);
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("appstream.repo");
    let in_root = r.path().join(abs.strip_prefix("/").unwrap());
    fs::create_dir_all(in_root.parent().unwrap()).unwrap();
    let link = repo_file(r.path(), "almalinux-appstream.repo");
    fs::rename(&link, &in_root).unwrap();
    std::os::unix::fs::symlink(&abs, &link).unwrap();
    let out = switch(r.path(), &t, &["--yes"]);
    let s = text(&out);
    eprintln!("{s}");
    assert_eq!(out.status.code(), Some(4), "{s}");
    assert!(
        s.contains("/etc/yum.repos.d/almalinux-appstream.repo is a symlink to the absolute path"),
        "{s}"
    );
    assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
    assert!(!journal_pending(r.path()));
}

/// `/etc/yum.repos.d` is an absolute symlink: a --root run never writes
/// outside the root. Here the same path on this machine holds the same
/// files, so dnf (which follows the link on this machine) would read the
/// same repos: refused before any change, naming the link; neither this
/// machine's files nor the root's change.
#[test]
fn absolute_symlinked_reposdir_never_leads_out_of_the_root() {
    let (r, t) = setup(9, Access::Basic);
    let outside = tempfile::tempdir().unwrap();
    let abs = outside.path().join("repos");
    let dir = r.path().join("etc/yum.repos.d");
    let in_root = r.path().join(abs.strip_prefix("/").unwrap());
    copy_tree(&dir, &abs);
    fs::create_dir_all(in_root.parent().unwrap()).unwrap();
    fs::rename(&dir, &in_root).unwrap();
    std::os::unix::fs::symlink(&abs, &dir).unwrap();
    let host_before = snapshot_dir(&abs);
    let root_before = snapshot_dir(&in_root);

    let out = switch(r.path(), &t, &["--yes"]);
    let s = text(&out);
    eprintln!("{s}");
    assert_eq!(out.status.code(), Some(4), "{s}");
    assert!(
        s.contains("/etc/yum.repos.d is a symlink to the absolute path"),
        "{s}"
    );
    assert_eq!(snapshot_dir(&abs), host_before, "{s}");
    assert_eq!(snapshot_dir(&in_root), root_before, "{s}");
    assert!(!journal_pending(r.path()));
}

fn snapshot_dir(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(d)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A switch killed after its first write, then an admin edits that file:
/// finishing the recovery would drop the edit, so it is refused as a
/// normal revert refuses; `--force-recovery` finishes it and keeps the
/// edited bytes next to the file.
#[test]
fn recovery_refuses_a_later_edit() {
    let (r, t) = setup(9, Access::Basic);
    let before = snapshot(r.path());
    let root = r.path().display().to_string();
    let tt = t.display().to_string();
    let out = alma_ext(
        &["switch", "--root", &root, "--target", &tt, "--yes"],
        &[("ALMA_EXT_FAILPOINT", "after-write-0=kill")],
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out));
    assert!(journal_pending(r.path()));
    let now = snapshot(r.path());
    let (changed, _) = now
        .iter()
        .find(|(p, v)| before.get(*p) != Some(v) && !p.starts_with("var"))
        .expect("the first write happened");
    let changed = r.path().join(changed);
    let mut edited = fs::read(&changed).unwrap();
    edited.extend_from_slice(b"# the admin's note\n");
    fs::write(&changed, &edited).unwrap();

    let out = revert(r.path(), &["--yes"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(4), "{s}");
    assert!(
        s.contains(&changed.file_name().unwrap().to_string_lossy().into_owned())
            && s.contains("--force-recovery"),
        "{s}"
    );
    assert_eq!(fs::read(&changed).unwrap(), edited);
    assert!(journal_pending(r.path()));

    let out = revert(r.path(), &["--yes", "--force-recovery"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!journal_pending(r.path()));
    let mut keep = changed.clone().into_os_string();
    keep.push(".alma-ext-edited");
    assert_eq!(fs::read(&keep).unwrap(), edited);
    fs::remove_file(&keep).unwrap();
    assert_eq!(snapshot(r.path()), before);
}

/// A mount made for one test, undone when it ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        // The remount and the bind mount are one mount: the second
        // umount finds nothing, quietly.
        let _ = Command::new("umount")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn mount(args: &[&str], at: &Path) -> Option<Mount> {
    let ok = Command::new("mount")
        .args(args)
        .arg(at)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mount(at.to_path_buf()))
}

/// `/etc` read-only: found before any change (exit 4), nothing pending,
/// and a dry run still works.
#[test]
fn read_only_etc_is_refused_before_any_change() {
    let (r, t) = setup(9, Access::Basic);
    let etc = r.path().join("etc");
    let etc_s = etc.display().to_string();
    let Some(_bind) = mount(&["--bind", &etc_s], &etc) else {
        eprintln!("skipped: bind mounts need root");
        return;
    };
    let Some(_ro) = mount(&["-o", "remount,bind,ro"], &etc) else {
        eprintln!("skipped: cannot remount read-only");
        return;
    };
    let before = snapshot(r.path());
    let out = switch(r.path(), &t, &["--yes"]);
    assert_refused(
        r.path(),
        &out,
        &before,
        &["Read-only file system", "nothing was changed"],
    );
    assert!(!text(&out).contains("rolling back failed"));
    let out = switch(r.path(), &t, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `/etc/yum.repos.d` on a full filesystem: exit 4 before any change.
#[test]
fn full_filesystem_is_refused_before_any_change() {
    let (r, t) = setup(9, Access::Basic);
    let dir = r.path().join("etc/yum.repos.d");
    let saved = tempfile::tempdir().unwrap();
    copy_tree(&dir, saved.path());
    let Some(_tmpfs) = mount(&["-t", "tmpfs", "-o", "size=256k", "tmpfs"], &dir) else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    copy_tree(saved.path(), &dir);
    // Fill it: what is left is less than any repo file the switch writes.
    let mut filler = fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut filler, &chunk).is_ok() {}
    while std::io::Write::write_all(&mut filler, &chunk[..1]).is_ok() {}
    drop(filler);
    let before = snapshot(r.path());
    let out = switch(r.path(), &t, &["--yes"]);
    assert_refused(
        r.path(),
        &out,
        &before,
        &["No space left on device", "nothing was changed"],
    );
}
