use std::process::ExitCode;

use alma_ext_agent::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli: Cli = alma_ext_stdio::parse("alma-ext");
    // A switch's exit code says what it did to dnf's configuration, even
    // when its report could not be written.
    let work_stands = matches!(cli.command, Command::Switch(_));
    let code = match cli.command.run() {
        Ok(exit) => exit.code(),
        Err(failed) => {
            // The whole error chain, once; journald adds the timestamp.
            alma_ext_stdio::errln!(
                "{}",
                alma_ext_i18n::t!("alma-ext: error: {error}", error = failed)
            );
            failed.exit.code()
        }
    };
    ExitCode::from(alma_ext_stdio::exit_code("alma-ext", code, work_stands))
}
