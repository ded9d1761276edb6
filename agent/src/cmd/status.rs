//! `alma-ext status` (not implemented yet).

use crate::cli::RootArg;
use crate::exit::{fail, CmdResult, Exit};

/// Arguments of `alma-ext status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
}

pub fn run(_args: Args) -> CmdResult {
    Err(fail(Exit::Failure, "not implemented yet"))
}
