//! `alma-ext`: runs `facts` and `status` itself; the other commands need
//! the network stack or heavy libraries, which this binary does not link:
//! they are run by `alma-ext-full` (see `alma_ext_agent::full`).
//!
//! `facts` runs at every check and in scripts, against a budget of half
//! systemd-detect-virt's wall time (BENCHMARKS.md). Two things of a Rust
//! program's start are left out here for it:
//! - std's `fn main` wrapper, which before `main` reads and parses
//!   `/proc/self/maps` (to place the main thread's stack guard) and sets
//!   up an alternate signal stack, so that a stack overflow prints its
//!   message: about a tenth of the instructions `facts` runs. Without it
//!   a stack overflow is a plain SIGSEGV. What else the wrapper does and
//!   this binary needs is done below: SIGPIPE ignored (a closed pipe is an
//!   EPIPE write error, which `alma_ext_stdio` ends quietly), a panic's
//!   exit status 101, stdout flushed at exit (`std::process::exit`).
//! - clap building the whole command tree: [`FrontCli`] holds `facts` and
//!   `status` only, and anything else is parsed by the whole tree.
// A test build (`cargo test --all-targets`) keeps the harness's `main`.
#![cfg_attr(not(test), no_main)]
#![cfg_attr(test, allow(dead_code, unused_imports))]

use std::ffi::{c_char, c_int};

use alma_ext_agent::cli::{Command, FrontCli};
use alma_ext_agent::edge;
use alma_ext_agent::exit::CmdResult;
use clap::Parser;

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    // SAFETY: setting a signal's disposition to SIG_IGN, before any thread
    // exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = std::panic::catch_unwind(|| match FrontCli::try_parse() {
        Ok(front) => edge::run_exit(front.command.into(), run),
        Err(_) => edge::parse_run_exit(run),
    })
    // The panic hook has printed the message; std's status for a panic.
    .unwrap_or(101);
    std::process::exit(i32::from(code))
}

fn run(command: Command) -> CmdResult {
    match command {
        Command::Facts(a) => alma_ext_agent::cmd::facts::run(a),
        Command::Status(a) => alma_ext_agent::cmd::status::run(a),
        _ => Err(alma_ext_agent::full::exec()),
    }
}
