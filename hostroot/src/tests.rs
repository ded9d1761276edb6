use super::*;
use std::os::unix::fs::symlink;

fn fixture() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
    std::fs::write(dir.path().join("usr/lib/os-release"), "NAME=\"In Root\"\n").unwrap();
    let root = Root::open(dir.path()).unwrap();
    (dir, root)
}

#[test]
fn slash_is_the_live_system() {
    assert!(Root::open("/").unwrap().is_system());
    assert!(Root::system().is_system());
}

#[test]
fn absolute_symlink_resolves_inside_the_root() {
    let (dir, root) = fixture();
    symlink("/usr/lib/os-release", dir.path().join("etc/os-release")).unwrap();
    let got = root.read_string("/etc/os-release", DEFAULT_LIMIT).unwrap();
    assert_eq!(got.as_deref(), Some("NAME=\"In Root\"\n"));
    assert_eq!(
        root.resolve("/etc/os-release").unwrap(),
        root.path().join("usr/lib/os-release")
    );
}

#[test]
fn absolute_symlinked_directory_resolves_inside_the_root() {
    let (dir, root) = fixture();
    // /etc exists on every host: the root's link must not reach it.
    symlink("/usr/lib", dir.path().join("etc/sub")).unwrap();
    let entries = root.read_dir("/etc/sub").unwrap().unwrap();
    assert_eq!(
        entries,
        vec![Entry {
            name: "os-release".into(),
            kind: Kind::File
        }]
    );
    symlink("/etc", dir.path().join("hostetc")).unwrap();
    let names: Vec<String> = root
        .read_dir("/hostetc")
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec!["sub".to_string()]);
}

#[test]
fn dotdot_stops_at_the_root() {
    let (dir, root) = fixture();
    symlink(
        "../../../../../../usr/lib/os-release",
        dir.path().join("etc/up"),
    )
    .unwrap();
    let got = root.read_string("/etc/up", DEFAULT_LIMIT).unwrap();
    assert_eq!(got.as_deref(), Some("NAME=\"In Root\"\n"));
    assert_eq!(
        root.read_string("/../../etc/passwd", DEFAULT_LIMIT)
            .unwrap(),
        None
    );
}

#[test]
fn missing_is_none_never_the_host() {
    let (_dir, root) = fixture();
    assert_eq!(root.read("/etc/passwd", DEFAULT_LIMIT).unwrap(), None);
    assert_eq!(root.read("/etc/passwd/x", DEFAULT_LIMIT).unwrap(), None);
    assert_eq!(root.read_dir("/proc").unwrap(), None);
    assert!(root.metadata("/etc/hostname").unwrap().is_none());
    assert!(!root.exists("/etc/hostname"));
}

#[test]
fn symlink_loop_is_an_error_naming_the_path() {
    let (dir, root) = fixture();
    symlink("b", dir.path().join("etc/a")).unwrap();
    symlink("a", dir.path().join("etc/b")).unwrap();
    let e = root.read("/etc/a", DEFAULT_LIMIT).unwrap_err();
    assert!(
        matches!(&e, Error::Io { source, .. } if source.raw_os_error() == Some(libc::ELOOP)),
        "{e:?}"
    );
    assert!(e.to_string().contains("etc/a"), "{e}");
    assert!(root.resolve("/etc/a").is_err());
}

#[test]
fn dangling_symlink_is_missing_and_resolves_to_its_target() {
    let (dir, root) = fixture();
    symlink("/var/lib/new.conf", dir.path().join("etc/new.conf")).unwrap();
    assert_eq!(root.read("/etc/new.conf", DEFAULT_LIMIT).unwrap(), None);
    assert!(root.exists("/etc/new.conf"));
    assert_eq!(
        root.resolve("/etc/new.conf").unwrap(),
        root.path().join("var/lib/new.conf")
    );
    assert_eq!(
        root.resolve_parent("/etc/new.conf").unwrap(),
        root.path().join("etc/new.conf")
    );
    assert_eq!(
        root.read_link("/etc/new.conf").unwrap(),
        Some(PathBuf::from("/var/lib/new.conf"))
    );
}

#[test]
fn fifo_is_not_read() {
    let (dir, root) = fixture();
    let fifo = dir.path().join("etc/fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = root.read("/etc/fifo", DEFAULT_LIMIT).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotRegular {
                kind: Kind::Fifo,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(root.read_trimmed("/etc/fifo"), None);
}

#[test]
fn devices_are_not_read_on_the_live_root() {
    let e = Root::system().read("/dev/zero", DEFAULT_LIMIT).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotRegular {
                kind: Kind::CharDevice,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn link_to_dev_zero_under_a_root_is_not_the_host_device() {
    let (dir, root) = fixture();
    symlink("/dev/zero", dir.path().join("etc/zero")).unwrap();
    assert_eq!(root.read("/etc/zero", DEFAULT_LIMIT).unwrap(), None);
}

#[test]
fn reads_are_capped() {
    let (dir, root) = fixture();
    std::fs::write(dir.path().join("etc/big"), vec![b'x'; 100]).unwrap();
    assert!(matches!(
        root.read("/etc/big", 99),
        Err(Error::TooLarge { limit: 99, .. })
    ));
    assert_eq!(root.read("/etc/big", 100).unwrap().unwrap().len(), 100);
}

#[test]
fn pseudo_files_are_read_on_the_live_root() {
    let s = Root::system().read_trimmed("/proc/self/stat").unwrap();
    assert!(!s.is_empty());
}

#[test]
fn directory_is_not_a_regular_file() {
    let (_dir, root) = fixture();
    let e = root.read("/etc", DEFAULT_LIMIT).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotRegular {
                kind: Kind::Dir,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .ends_with("etc: not a regular file but a directory"),
        "{e}"
    );
}

#[test]
fn in_root_maps_back() {
    let (_dir, root) = fixture();
    let real = root.resolve("/usr/lib/os-release").unwrap();
    assert_eq!(
        root.in_root(&real),
        Some(PathBuf::from("/usr/lib/os-release"))
    );
    assert_eq!(root.in_root(Path::new("/elsewhere")), None);
}

#[test]
fn open_names_a_missing_root() {
    let e = Root::open("/nonexistent/alma-ext-root").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/alma-ext-root"), "{e}");
}
