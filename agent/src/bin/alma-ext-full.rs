//! `alma-ext-full` (installed as /usr/libexec/alma-ext/alma-ext-full): every
//! `alma-ext` command, run with `alma-ext`'s own arguments when `alma-ext`
//! executes it for a command it does not run itself (see
//! `alma_ext_agent::full`). Same parsing, messages and exit codes as
//! `alma-ext`: the edge is the same (`alma_ext_agent::edge`).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(alma_ext_agent::edge::parse_run_exit(
        alma_ext_agent::cli::Command::run,
    ))
}
