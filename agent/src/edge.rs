//! The edge shared by `alma-ext` (src/main.rs) and `alma-ext-full`
//! (src/bin/alma-ext-full.rs), which differ only in how they `run` a
//! command: parse the command line, run, print the error chain once, and
//! turn the result into the process's exit status.

use crate::cli::{Cli, Command};
use crate::exit::CmdResult;

/// Parse the whole command line (help, usage errors and their exit codes
/// as documented), then [`run_exit`].
pub fn parse_run_exit(run: fn(Command) -> CmdResult) -> u8 {
    let cli: Cli = alma_ext_stdio::parse("alma-ext");
    run_exit(cli.command, run)
}

/// Run a parsed command and give the exit status: the command's own, or
/// 1 when its report could not be written to stdout (not for a switch,
/// whose exit code says what it did to dnf's configuration even when its
/// report could not be written).
pub fn run_exit(command: Command, run: fn(Command) -> CmdResult) -> u8 {
    let work_stands = matches!(command, Command::Switch(_));
    let code = match run(command) {
        Ok(exit) => exit.code(),
        Err(failed) => {
            // The whole error chain, once; journald adds the timestamp.
            alma_ext_stdio::errln!(
                "{}",
                alma_ext_i18n::t!(
                    "alma-ext: error: {error}",
                    error = crate::exit::user_message(&failed)
                )
            );
            failed.exit.code()
        }
    };
    alma_ext_stdio::exit_code("alma-ext", code, work_stands)
}
