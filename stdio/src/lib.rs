//! Standard output and error for the command-line edges of both binaries
//! (`alma-ext`, `alma-ext-server`): writing never panics and never stops
//! the work.
//!
//! `println!` panics when stdout is a closed pipe (`alma-ext facts | head
//! -1`) or a full device (`> /dev/full`). Here the first failure is kept
//! and later writes are skipped, so a command finishes its work whatever
//! happens to its output; the binary's `main` asks [`finish`] at the end:
//! a closed pipe ends quietly with the command's own status, any other
//! write error is reported naming stdout. Writes to stderr (warnings,
//! prompts, the final error) ignore failures: there is nowhere left to say
//! so.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

static FAILED: Mutex<Option<io::Error>> = Mutex::new(None);

/// Write to stdout; after the first failure, nothing more is written.
pub fn out(args: fmt::Arguments<'_>) {
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_some() {
        return;
    }
    if let Err(e) = io::stdout().lock().write_fmt(args) {
        *failed = Some(e);
    }
}

/// Write to stderr, ignoring failures.
pub fn err(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// How stdout ended.
#[derive(Debug)]
pub enum StdoutEnd {
    /// Everything was written.
    Written,
    /// The reader went away (EPIPE): not an error for the command.
    Closed,
    /// A write failed (ENOSPC on /dev/full, EIO, ...).
    Failed(io::Error),
}

/// Flush stdout and say how it ended. Call once, after the command's work.
pub fn finish() -> StdoutEnd {
    let mut failed = FAILED.lock().unwrap_or_else(|e| e.into_inner());
    if failed.is_none() {
        if let Err(e) = io::stdout().lock().flush() {
            *failed = Some(e);
        }
    }
    match failed.take() {
        None => StdoutEnd::Written,
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => StdoutEnd::Closed,
        Some(e) => StdoutEnd::Failed(e),
    }
}

/// `print!` that never panics (see [`out`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::out(format_args!($($arg)*)) };
}

/// `println!` that never panics (see [`out`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that never panics (see [`err`]).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::err(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that never panics (see [`err`]).
#[macro_export]
macro_rules! errout {
    ($($arg:tt)*) => { $crate::err(format_args!($($arg)*)) };
}

/// The process exit code once the command's work has returned `code`:
/// stdout is flushed; a closed pipe leaves `code` as it is; a write error
/// is reported as `PROG: error: writing to stdout: ...` and turns success
/// into 1, unless `work_stands` (a command that changed the host, whose
/// exit code says what it did whatever happened to its output).
pub fn exit_code(prog: &str, code: u8, work_stands: bool) -> u8 {
    match finish() {
        StdoutEnd::Written | StdoutEnd::Closed => code,
        StdoutEnd::Failed(e) => {
            errln!(
                "{}",
                alma_ext_i18n::t!(
                    "{prog}: error: writing to stdout: {error}",
                    prog = prog,
                    error = io_reason(&e)
                )
            );
            if code == 0 && !work_stands {
                1
            } else {
                code
            }
        }
    }
}

/// An operating-system error in the reader's language: under Japanese the
/// common reasons in Japanese with the error number kept (`(os error 2)`)
/// and anything before them (a path) as it is, any other as the system
/// says it; under English the system's text (`alma_ext_i18n::io_message`).
pub fn io_reason(e: &io::Error) -> String {
    use alma_ext_i18n::Localize;
    alma_ext_i18n::io_message(e).localized()
}

/// Parse the command line. `--help` and `--version` are written with
/// [`out`] (a closed pipe or a full disk never panics); other clap errors
/// go to stderr with clap's exit code 2.
pub fn parse<C: clap::Parser>(prog: &str) -> C {
    match alma_ext_i18n::parse::<C>() {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            out!("{}", e.render());
            std::process::exit(i32::from(exit_code(prog, 0, false)))
        }
        Err(e) => {
            // clap's usage errors in Japanese under a Japanese locale; its
            // exit code (2) either way.
            if alma_ext_i18n::is_japanese() {
                if let Some(text) = alma_ext_i18n::clap_ja::render_error(&e) {
                    errln!("{}", text.trim_end());
                    std::process::exit(e.exit_code());
                }
            }
            e.exit()
        }
    }
}
