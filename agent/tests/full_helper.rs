//! `alma-ext` runs `facts` and `status` itself and executes `alma-ext-full`
//! for the other commands: what a user sees is the same either way, and a
//! missing helper is a clear error that names where it was looked for.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

const FRONT: &str = env!("CARGO_BIN_EXE_alma-ext");
const FULL: &str = env!("CARGO_BIN_EXE_alma-ext-full");
const INSTALLED_HELPER: &str = "/usr/libexec/alma-ext/alma-ext-full";

/// `bin` with `args`, as `alma-ext` (`argv[0]`, as `alma-ext` passes its
/// own to the helper).
///
/// A binary copied by this test can be "busy" (ETXTBSY) for a moment: a
/// process another test thread forks at that time holds the copy's write
/// descriptor until it execs. That passes; try again.
fn run(bin: &str, args: &[&str]) -> Output {
    let mut tries = 0;
    loop {
        match Command::new(bin)
            .arg0("alma-ext")
            .args(args)
            .env_remove("ALMA_EXT_ACTIVATION_KEY")
            .output()
        {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("running {bin}: {e}"),
            Ok(out) => return out,
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_command_run_by_the_helper_answers_as_alma_ext() {
    let root = tempfile::tempdir().unwrap();
    let root = root.path().to_str().unwrap();
    let via_front = run(FRONT, &["checkin", "--root", root]);
    let direct = run(FULL, &["checkin", "--root", root]);
    assert_eq!(
        via_front.status.code(),
        Some(10),
        "{}",
        text(&via_front.stderr)
    );
    assert_eq!(
        text(&via_front.stderr),
        "alma-ext: error: not registered: run `alma-ext register --server URL --key KEY` first\n"
    );
    assert_eq!(via_front.status.code(), direct.status.code());
    assert_eq!(via_front.stderr, direct.stderr);
    assert_eq!(via_front.stdout, direct.stdout);
}

#[test]
fn usage_errors_and_help_of_moved_commands_come_from_alma_ext() {
    let front = run(FRONT, &["register", "--server", "https://127.0.0.1:1"]);
    let full = run(FULL, &["register", "--server", "https://127.0.0.1:1"]);
    assert_eq!(front.status.code(), Some(2), "{}", text(&front.stderr));
    assert!(text(&front.stderr).contains("Usage: alma-ext register"));
    assert_eq!(front.stderr, full.stderr);

    let front = run(FRONT, &["switch", "--help"]);
    let full = run(FULL, &["switch", "--help"]);
    assert_eq!(front.status.code(), Some(0));
    assert!(text(&front.stdout).contains("Usage: alma-ext switch"));
    assert_eq!(front.stdout, full.stdout);
}

#[test]
fn a_missing_helper_is_an_error_naming_the_paths_looked_at() {
    if Path::new(INSTALLED_HELPER).exists() {
        eprintln!("skipped: {INSTALLED_HELPER} is installed on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("alma-ext");
    std::fs::copy(FRONT, &lone).unwrap();
    let lone = lone.to_str().unwrap();
    let root = dir.path().to_str().unwrap();

    let out = run(lone, &["checkin", "--root", root]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "alma-ext: error: alma-ext-full, which runs this command, is missing: looked for \
             {root}/alma-ext-full and {INSTALLED_HELPER} (reinstall the alma-ext package; \
             in a source tree, `cargo build -p alma-ext-agent` builds it)\n"
        )
    );
    // The commands alma-ext runs itself need no helper.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/kvm");
    let out = run(lone, &["facts", "--root", fixture.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
