use std::process::ExitCode;

use clap::Parser;

use alma_ext_agent::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    alma_ext_proto::exit::finish("alma-ext", cli.command.run())
}
