//! `alma-ext-full`: the binary that runs the commands `alma-ext` does not
//! run itself.
//!
//! `alma-ext` runs `facts` and `status` in its own process and executes
//! `alma-ext-full` for every other command (the daemon, registration,
//! check-in, switch, security status, support bundle), as git runs its
//! helpers from `git-core`. `alma-ext` parses the command line first, with
//! the same definition, so help, usage errors and exit codes are the same
//! whichever binary runs the command; the helper replaces the process
//! (`execv`), so the process id, the environment, the open descriptors and
//! the exit status are the caller's. What this buys: `alma-ext` links
//! neither tokio, reqwest and rustls nor tar, flate2 and regex, so the
//! loader relocates and maps a fraction of the code at every start
//! (BENCHMARKS.md, the facts section).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use crate::exit::{fail, Exit, Failed};

/// File name of the helper binary.
pub const NAME: &str = "alma-ext-full";

/// Where the package installs the helper.
pub const LIBEXEC_DIR: &str = "/usr/libexec/alma-ext";

/// The helper next to `own_exe` (a build tree: `target/debug`, the tests),
/// else the one in `libexec`; `Err` holds every path looked at.
pub fn locate(own_exe: Option<&Path>, libexec: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let candidates: Vec<PathBuf> = own_exe
        .and_then(Path::parent)
        .map(|dir| dir.join(NAME))
        .into_iter()
        .chain(std::iter::once(libexec.join(NAME)))
        .collect();
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(candidates),
    }
}

/// Replace this process with the helper, given this process's own
/// arguments (`argv[0]` included, so `ps` and the journal still say
/// `alma-ext`). Returns only when the helper could not be run.
pub fn exec() -> Failed {
    let own_exe = std::env::current_exe().ok();
    let helper = match locate(own_exe.as_deref(), Path::new(LIBEXEC_DIR)) {
        Ok(p) => p,
        Err(looked_at) => {
            let paths: Vec<String> = looked_at.iter().map(|p| p.display().to_string()).collect();
            return fail(
                Exit::Failure,
                alma_ext_i18n::t!(
                    "{helper}, which runs this command, is missing: looked for {paths} (reinstall the alma-ext package; in a source tree, `cargo build -p alma-ext-agent` builds it)",
                    helper = NAME,
                    paths = paths.join(alma_ext_i18n::t!(" and "))
                ),
            );
        }
    };
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| OsString::from("alma-ext"));
    let err = std::process::Command::new(&helper)
        .arg0(arg0)
        .args(args)
        .exec();
    fail(
        Exit::Failure,
        alma_ext_i18n::t!(
            "cannot run {command}: {error}",
            command = helper.display(),
            error = err
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_next_to_the_binary_comes_first() {
        let build = tempfile::tempdir().unwrap();
        let libexec = tempfile::tempdir().unwrap();
        std::fs::write(build.path().join(NAME), b"").unwrap();
        std::fs::write(libexec.path().join(NAME), b"").unwrap();
        let front = build.path().join("alma-ext");
        assert_eq!(
            locate(Some(&front), libexec.path()),
            Ok(build.path().join(NAME))
        );
    }

    #[test]
    fn an_installed_binary_uses_the_libexec_helper() {
        let bin = tempfile::tempdir().unwrap();
        let libexec = tempfile::tempdir().unwrap();
        std::fs::write(libexec.path().join(NAME), b"").unwrap();
        let front = bin.path().join("alma-ext");
        assert_eq!(
            locate(Some(&front), libexec.path()),
            Ok(libexec.path().join(NAME))
        );
    }

    #[test]
    fn a_missing_helper_names_every_path_looked_at() {
        let bin = tempfile::tempdir().unwrap();
        let libexec = tempfile::tempdir().unwrap();
        // A directory of that name is not the helper.
        std::fs::create_dir(bin.path().join(NAME)).unwrap();
        let front = bin.path().join("alma-ext");
        assert_eq!(
            locate(Some(&front), libexec.path()),
            Err(vec![bin.path().join(NAME), libexec.path().join(NAME)])
        );
        assert_eq!(
            locate(None, libexec.path()),
            Err(vec![libexec.path().join(NAME)])
        );
    }
}
