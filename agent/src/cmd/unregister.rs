//! `alma-ext unregister`: remove this machine's registration, on the server
//! and here.

use crate::cli::RootArg;
use crate::client::{Client, ClientOptions};
use crate::cmd::register::runtime;
use crate::config;
use crate::daemon::logging;
use crate::exit::{fail, CmdResult, Exit, ExitContext};
use crate::registration;
use crate::root::HostRoot;

/// Arguments of `alma-ext unregister`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Forget the registration here even when the server cannot be told
    /// (unreachable, or it no longer knows this machine).
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub root: RootArg,
}

pub fn run(args: Args) -> CmdResult {
    let root = HostRoot::new(&args.root.root);
    let settings = config::load(&root).exit(Exit::Config)?;
    logging::init(&settings.log_level);
    let reg = registration::load(&root)
        .exit(Exit::Failure)?
        .ok_or_else(|| fail(Exit::NotRegistered, "not registered"))?;
    let told = match &reg.credential {
        None => Err(fail(
            Exit::Failure,
            "the credential file is unreadable (run as root)",
        )),
        Some(cred) => {
            let client = Client::new(&ClientOptions::from_settings(&settings, &root, &reg.server))
                .exit(Exit::Config)?;
            let rt = runtime()?;
            rt.block_on(client.unregister(cred))
                .map_err(|e| fail(e.exit(), e))
        }
    };
    if let Err(e) = told {
        if !args.local {
            return Err(fail(
                e.exit,
                format!("{e}; use --local to forget the registration here anyway"),
            ));
        }
        alma_ext_stdio::errln!("alma-ext: warning: {e}; forgetting the registration here only");
    }
    registration::remove(&root).exit(Exit::Failure)?;
    if let Ok(spool) = root.resolve(crate::spool::SPOOL_DIR) {
        let _ = std::fs::remove_dir_all(spool);
    }
    alma_ext_stdio::outln!("Unregistered machine {} from {}.", reg.machine, reg.server);
    Ok(Exit::Ok)
}
