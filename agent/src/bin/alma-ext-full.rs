//! `alma-ext-full` (installed as /usr/libexec/alma-ext/alma-ext-full): every
//! `alma-ext` command, run with `alma-ext`'s own arguments when `alma-ext`
//! executes it for a command it does not run itself (see
//! `alma_ext_agent::full`). Same parsing, messages and exit codes as
//! `alma-ext`: the edge is `alma-ext`'s own (src/main.rs).

use std::process::ExitCode;

#[allow(dead_code)] // its `main` and `run` are `alma-ext`'s
#[path = "../main.rs"]
mod front;

fn main() -> ExitCode {
    front::parse_run_exit(alma_ext_agent::cli::Command::run)
}
