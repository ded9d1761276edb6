//! Fixture roots and tree snapshots for the switcher tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use alma_ext_switcher::plan::TlsFile;
use alma_ext_switcher::system::{PackageTools, ToolError};

pub fn fixtures() -> PathBuf {
    alma_ext_test_support::almalinux_fixtures()
}

pub use alma_ext_test_support::copy_tree;

/// A temp copy of the AlmaLinux `major` fixture root.
pub fn fixture_root(major: u32) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join(major.to_string()), d.path());
    d
}

/// Every file under `root/etc` with bytes, mode, owner and SELinux label.
pub type Snapshot = BTreeMap<PathBuf, (Vec<u8>, u32, u32, u32, Option<Vec<u8>>)>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut m = BTreeMap::new();
    walk(root, &root.join("etc"), &mut m);
    m
}

fn walk(root: &Path, dir: &Path, m: &mut Snapshot) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd {
        let e = e.unwrap();
        let p = e.path();
        let md = fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            walk(root, &p, m);
        } else {
            let label = xattr::get(&p, "security.selinux").ok().flatten();
            m.insert(
                p.strip_prefix(root).unwrap().to_path_buf(),
                (
                    fs::read(&p).unwrap(),
                    md.mode() & 0o7777,
                    md.uid(),
                    md.gid(),
                    label,
                ),
            );
        }
    }
}

pub fn write(root: &Path, rel: &str, text: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// dnf and rpm stand-ins that record calls and fail on request.
#[derive(Default)]
pub struct FakeTools {
    pub fail_import: bool,
    pub fail_makecache: bool,
    pub calls: RefCell<Vec<String>>,
}

impl PackageTools for FakeTools {
    fn import_key(&self, _root: &Path, key: &Path) -> Result<(), ToolError> {
        self.calls
            .borrow_mut()
            .push(format!("import {}", key.display()));
        if self.fail_import {
            return Err(ToolError::Failed {
                command: format!("rpm --import {}", key.display()),
                status: "exit status: 1".into(),
                stderr: "error: key 1 not an armored public key".into(),
            });
        }
        Ok(())
    }

    fn makecache(
        &self,
        _root: &Path,
        releasever: Option<&str>,
        repos: &[String],
        _tls_files: &[TlsFile],
    ) -> Result<(), ToolError> {
        self.calls.borrow_mut().push(format!(
            "makecache {} {}",
            releasever.unwrap_or("-"),
            repos.join(",")
        ));
        if self.fail_makecache {
            return Err(ToolError::Failed {
                command: "dnf makecache".into(),
                status: "exit status: 1".into(),
                stderr: "Failed to download metadata for repo 'ext-baseos'".into(),
            });
        }
        Ok(())
    }
}

pub const TARGET: &str = r#"
gpgkey = ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended"]

[auth]
username = "customer-0042"
password = "s3cret-pw"

[repos.baseos]
id = "ext-baseos"
name = "AlmaLinux $releasever - BaseOS (extended support)"
baseurl = "https://updates.example.jp/almalinux/$releasever/BaseOS/$basearch/os/"

[repos.appstream]
id = "ext-appstream"
name = "AlmaLinux $releasever - AppStream (extended support)"
baseurl = "https://updates.example.jp/almalinux/$releasever/AppStream/$basearch/os/"
"#;

pub fn target(text: &str) -> alma_ext_proto::Target {
    alma_ext_proto::Target::from_toml(text).unwrap()
}
