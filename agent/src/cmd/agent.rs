//! `alma-ext agent`: the long-running agent under systemd (`Type=notify`,
//! watchdog). See `crate::daemon`.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::cli::RootArg;
use crate::cmd::register::runtime;
use crate::config;
use crate::daemon::{self, logging, Control};
use crate::exit::{CmdResult, Exit, ExitContext};
use crate::root::HostRoot;

/// Arguments of `alma-ext agent`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
}

pub fn run(args: Args) -> CmdResult {
    // journald lines stay English: tools and the vendor's upstream read them.
    alma_ext_i18n::set_lang(alma_ext_i18n::Lang::En);
    let root = HostRoot::new(&args.root.root);
    let settings = config::load(&root).map_err(|e| crate::exit::fail_localized(Exit::Config, e))?;
    use std::io::IsTerminal;
    logging::init(logging::agent_level(
        &settings.log_level,
        std::io::stderr().is_terminal(),
    ));
    let rt = runtime()?;
    rt.block_on(async move {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut hup = signal(SignalKind::hangup())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let signals = async move {
            loop {
                let c = tokio::select! {
                    _ = hup.recv() => Control::Reload,
                    _ = term.recv() => Control::Stop,
                    _ = int.recv() => Control::Stop,
                };
                if tx.send(c).is_err() {
                    break;
                }
            }
        };
        let daemon = daemon::run(root, settings, daemon::Options::default(), rx);
        tokio::select! {
            r = daemon => r,
            _ = signals => Ok(()),
        }
    })
    .exit(Exit::Failure)?;
    Ok(Exit::Ok)
}
