use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

/// Copy the tree `from` into `to` (created if missing): directories and
/// regular files with their permission bits, symlinks as symlinks (the
/// same target, never followed). Anything else (a socket, a device) is a
/// panic naming it.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("creating {}: {e}", to.display()));
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
    for e in entries {
        let e = e.unwrap_or_else(|e| panic!("reading {}: {e}", from.display()));
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let md = fs::symlink_metadata(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let ft = md.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&src).unwrap();
            symlink(&target, &dst).unwrap_or_else(|e| {
                panic!("symlink {} -> {}: {e}", dst.display(), target.display())
            });
            continue;
        }
        if ft.is_dir() {
            copy_tree(&src, &dst);
        } else if ft.is_file() {
            fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("copying {} to {}: {e}", src.display(), dst.display()));
        } else {
            panic!(
                "copy_tree: {} is neither a file, a directory nor a symlink",
                src.display()
            );
        }
        fs::set_permissions(&dst, fs::Permissions::from_mode(md.permissions().mode()))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dst.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn copies_files_modes_and_symlinks_as_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("etc/yum.repos.d")).unwrap();
        fs::write(src.join("etc/yum.repos.d/a.repo"), "[a]\n").unwrap();
        fs::set_permissions(
            src.join("etc/yum.repos.d/a.repo"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        symlink("yum.repos.d/a.repo", src.join("etc/link.repo")).unwrap();
        symlink("/nonexistent/target", src.join("etc/dangling")).unwrap();
        let dst = d.path().join("dst");
        copy_tree(&src, &dst);
        assert_eq!(
            fs::read(dst.join("etc/yum.repos.d/a.repo")).unwrap(),
            b"[a]\n"
        );
        assert_eq!(
            fs::metadata(dst.join("etc/yum.repos.d/a.repo"))
                .unwrap()
                .mode()
                & 0o777,
            0o600
        );
        for (link, target) in [
            ("etc/link.repo", "yum.repos.d/a.repo"),
            ("etc/dangling", "/nonexistent/target"),
        ] {
            let md = fs::symlink_metadata(dst.join(link)).unwrap();
            assert!(md.file_type().is_symlink(), "{link} is not a symlink");
            assert_eq!(fs::read_link(dst.join(link)).unwrap(), Path::new(target));
        }
    }
}
