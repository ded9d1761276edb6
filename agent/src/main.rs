use std::process::ExitCode;

use alma_ext_agent::cli::{Cli, Command};
use alma_ext_agent::exit::CmdResult;

fn main() -> ExitCode {
    parse_run_exit(run)
}

/// `alma-ext` runs `facts` and `status` itself; the other commands need the
/// network stack or heavy libraries, which this binary does not link: they
/// are run by `alma-ext-full` (see `alma_ext_agent::full`).
fn run(command: Command) -> CmdResult {
    match command {
        Command::Facts(a) => alma_ext_agent::cmd::facts::run(a),
        Command::Status(a) => alma_ext_agent::cmd::status::run(a),
        _ => Err(alma_ext_agent::full::exec()),
    }
}

/// The edge shared by `alma-ext` and `alma-ext-full` (src/bin/alma-ext-full.rs),
/// which differ only in how they `run` a command.
pub(crate) fn parse_run_exit(run: fn(Command) -> CmdResult) -> ExitCode {
    let cli: Cli = alma_ext_stdio::parse("alma-ext");
    // A switch's exit code says what it did to dnf's configuration, even
    // when its report could not be written.
    let work_stands = matches!(cli.command, Command::Switch(_));
    let code = match run(cli.command) {
        Ok(exit) => exit.code(),
        Err(failed) => {
            // The whole error chain, once; journald adds the timestamp.
            alma_ext_stdio::errln!(
                "{}",
                alma_ext_i18n::t!(
                    "alma-ext: error: {error}",
                    error = alma_ext_agent::exit::user_message(&failed)
                )
            );
            failed.exit.code()
        }
    };
    ExitCode::from(alma_ext_stdio::exit_code("alma-ext", code, work_stands))
}
