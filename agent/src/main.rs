use std::process::ExitCode;

use clap::Parser;

use alma_ext_agent::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(failed) => {
            // The whole error chain, once; journald adds the timestamp.
            eprintln!("alma-ext: error: {failed}");
            ExitCode::from(failed.exit.code())
        }
    }
}
