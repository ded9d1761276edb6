//! Run a command with its stdout closed or full, as `| head -1` and
//! `> /dev/full` do, and check it neither panics nor changes its answer.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};

/// A pipe whose read end is already closed: every write gets EPIPE.
fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new descriptors that we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned here only.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn run(mut cmd: Command, stdout: Stdio) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run the command")
}

/// Run the command three times (`make` builds it afresh each time): with
/// stdout captured, into a pipe closed by its reader, and into /dev/full.
/// A closed pipe ends quietly with the command's own exit code; a full
/// device is an error naming stdout with exit 1 when the command succeeded
/// and wrote something (`work_stands`: the command's own code instead);
/// nothing ever panics. Returns the captured run.
pub fn check_closed_and_full(what: &str, work_stands: bool, make: impl Fn() -> Command) -> Output {
    let normal = run(make(), Stdio::piped());
    let code = normal.status.code();
    let no_panic = |o: &Output, how: &str| {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code().is_some() && o.status.code() != Some(101) && !err.contains("panicked"),
            "{what} {how}: {:?}\n{err}",
            o.status
        );
    };
    no_panic(&normal, "with stdout captured");

    let closed = run(make(), closed_pipe());
    no_panic(&closed, "into a closed pipe");
    let err = String::from_utf8_lossy(&closed.stderr);
    assert_eq!(
        closed.status.code(),
        code,
        "{what} into a closed pipe: {err}"
    );
    assert!(
        !err.contains("writing to stdout"),
        "{what} into a closed pipe: {err}"
    );

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let full = run(make(), Stdio::from(full));
    no_panic(&full, "into /dev/full");
    let err = String::from_utf8_lossy(&full.stderr);
    if normal.stdout.is_empty() {
        assert_eq!(full.status.code(), code, "{what} into /dev/full: {err}");
    } else {
        assert!(
            err.contains("error: writing to stdout"),
            "{what} into /dev/full names no stdout error: {err}"
        );
        let want = if code == Some(0) && !work_stands {
            Some(1)
        } else {
            code
        };
        assert_eq!(full.status.code(), want, "{what} into /dev/full: {err}");
    }
    normal
}
