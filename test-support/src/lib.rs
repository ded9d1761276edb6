//! Test harness shared by the alma-ext test suites. Everything a test reads
//! lives inside the repository; nothing here knows a machine's paths.

use std::path::{Path, PathBuf};

pub mod stdout;

/// The repository's top directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lives one level below the workspace root")
        .to_path_buf()
}

/// `tests/fixtures/almalinux`: the AlmaLinux 8 and 9 host roots
/// (os-release, repo files, dnf vars). Panics naming the path when missing.
pub fn almalinux_fixtures() -> PathBuf {
    let dir = workspace_root().join("tests/fixtures/almalinux");
    assert!(
        dir.is_dir(),
        "the AlmaLinux fixture roots are missing: {} is not a directory",
        dir.display()
    );
    dir
}

/// The AlmaLinux fixture root of one major release (`"8"` or `"9"`).
/// Panics naming the path it looked for when the root has no
/// `etc/yum.repos.d`.
pub fn almalinux_root(major: impl std::fmt::Display) -> PathBuf {
    let root = almalinux_fixtures().join(major.to_string());
    let repos = root.join("etc/yum.repos.d");
    assert!(
        repos.is_dir(),
        "the AlmaLinux fixture root is missing: {} is not a directory",
        repos.display()
    );
    root
}
