//! `alma-ext unregister`: remove this machine's registration, on the server
//! and here. A switched machine's extended-update repository stops
//! accepting it at that moment, so the command says so and offers to go
//! back to the community repositories first.

use alma_ext_i18n::t;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use alma_ext_proto::api::SwitchStatus;

use crate::cli::RootArg;
use crate::client::{Client, ClientOptions};
use crate::cmd::register::runtime;
use crate::config;
use crate::daemon::logging;
use crate::exit::{fail, CmdResult, Exit, ExitContext, Failed};
use crate::registration;
use crate::root::HostRoot;

/// Arguments of `alma-ext unregister`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
On a switched machine the extended-update repository refuses the machine
once it is unregistered (its credentials die with the registration), and dnf
fails on /etc/yum.repos.d/alma-ext-extended.repo. unregister asks whether to
go back to the community repositories first (`alma-ext switch --revert`);
without a terminal, say it with --revert (or --yes) or --keep-repos.

Exit codes: 0 done, 3 invalid configuration, 4/5/9 the revert failed (still
registered), 6 server unreachable, 7 server refused, 8 no terminal to ask and
no --revert/--keep-repos/--yes, or declined, 10 not registered.")]
pub struct Args {
    /// Forget the registration here even when the server cannot be told
    /// (unreachable, or it no longer knows this machine).
    #[arg(long)]
    pub local: bool,
    /// On a switched machine, go back to the community repositories first
    /// (`alma-ext switch --revert`).
    #[arg(long, conflicts_with = "keep_repos")]
    pub revert: bool,
    /// On a switched machine, leave the extended-update repository file in
    /// place (its credentials stop working: dnf fails on it until
    /// `alma-ext switch --revert`).
    #[arg(long)]
    pub keep_repos: bool,
    /// Answer yes to the question: revert the switch first.
    #[arg(long, short = 'y', conflicts_with = "keep_repos")]
    pub yes: bool,
    #[command(flatten)]
    pub root: RootArg,
}

/// What to do with the extended-update repository before unregistering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repos {
    /// The machine is not switched: nothing to do.
    NotSwitched,
    Revert,
    Keep,
}

fn decide(args: &Args, switch: SwitchStatus) -> Result<Repos, Failed> {
    if !matches!(switch, SwitchStatus::Extended | SwitchStatus::Interrupted) {
        return Ok(Repos::NotSwitched);
    }
    if args.revert || args.yes {
        return Ok(Repos::Revert);
    }
    if args.keep_repos {
        return Ok(Repos::Keep);
    }
    let why = t!(
        "this machine is switched to the extended-update repository: once it is unregistered, the repository refuses it and dnf fails on {path}",
        path = alma_ext_switcher::plan::EXTENDED_REPO_FILE
    );
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            Exit::NotConfirmed,
            t!("{why}; no terminal to ask: run again with --revert (back to the community repositories first) or --keep-repos (leave the repository file)", why = why),
        ));
    }
    eprint!(
        "{}",
        t!(
            "{why}.\nGo back to the community repositories first (alma-ext switch --revert)? [Y/n] ",
            why = why
        )
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "" | "y" | "yes" | "はい" => Ok(Repos::Revert),
        "n" | "no" | "いいえ" => Ok(Repos::Keep),
        _ => Err(fail(
            Exit::NotConfirmed,
            t!("not confirmed: nothing was changed"),
        )),
    }
}

/// `alma-ext switch --revert --yes` on `root`, as a child: the switch's own
/// revert, journal and exit codes.
fn revert(root: &Path) -> Result<(), Failed> {
    let exe = std::env::current_exe().exit(Exit::Failure)?;
    let st = std::process::Command::new(exe)
        .args(["switch", "--revert", "--yes", "--root"])
        .arg(root)
        .stdin(std::process::Stdio::null())
        .status()
        .exit(Exit::Failure)?;
    if st.success() {
        return Ok(());
    }
    let exit = match st.code() {
        Some(4) => Exit::Preflight,
        Some(5) => Exit::RolledBack,
        Some(9) => Exit::Busy,
        _ => Exit::Failure,
    };
    Err(fail(
        exit,
        t!(
            "the revert failed ({status}); the machine is still registered: nothing was unregistered",
            status = st
        ),
    ))
}

pub fn run(args: Args) -> CmdResult {
    let root = HostRoot::new(&args.root.root);
    let settings = config::load(&root).map_err(|e| crate::exit::fail_localized(Exit::Config, e))?;
    logging::init(&settings.log_level);
    let switch = alma_ext_switcher::state::load(root.path()).map_err(|e| {
        fail(
            Exit::Failure,
            t!("reading the switch state: {error}", error = e),
        )
    })?;
    let reg = registration::load(&root)
        .exit(Exit::Failure)?
        .ok_or_else(|| match switch.status {
            SwitchStatus::Extended | SwitchStatus::Interrupted => fail(
                Exit::NotRegistered,
                t!("not registered, but still switched: the extended-update repository refuses this machine; go back to the community repositories with `alma-ext switch --revert`"),
            ),
            _ => fail(Exit::NotRegistered, t!("not registered")),
        })?;
    let repos = decide(&args, switch.status)?;
    if repos == Repos::Revert {
        revert(root.path())?;
    }
    let told = match &reg.credential {
        None => Err(fail(
            Exit::Failure,
            t!("the credential file is unreadable (run as root)"),
        )),
        Some(cred) => {
            let client = Client::new(&ClientOptions::from_settings(&settings, &root, &reg.server))
                .exit(Exit::Config)?;
            let rt = runtime()?;
            rt.block_on(client.unregister(cred))
                .map_err(|e| crate::exit::fail_localized(e.exit(), e))
        }
    };
    if let Err(e) = told {
        if !args.local {
            let reverted = if repos == Repos::Revert {
                t!(" (the switch was reverted)")
            } else {
                ""
            };
            return Err(fail(
                e.exit,
                t!(
                    "{error}; use --local to forget the registration here anyway{reverted}",
                    error = e,
                    reverted = reverted
                ),
            ));
        }
        alma_ext_stdio::errln!(
            "{}",
            t!(
                "alma-ext: warning: {error}; forgetting the registration here only",
                error = e
            )
        );
    }
    registration::remove(&root).exit(Exit::Failure)?;
    if let Ok(spool) = root.resolve(crate::spool::SPOOL_DIR) {
        let _ = std::fs::remove_dir_all(spool);
    }
    alma_ext_stdio::outln!(
        "{}",
        t!(
            "Unregistered machine {machine} from {server}.",
            machine = reg.machine,
            server = reg.server
        )
    );
    let done = match repos {
        Repos::NotSwitched => t!(
            "No extended-update repository was configured; dnf reads the community repositories as before."
        ).to_string(),
        Repos::Revert => t!(
            "The switch was reverted first: dnf reads the community repositories again."
        ).to_string(),
        Repos::Keep => t!(
            "{path} stays, but its credentials no longer work (the repository refuses this machine): dnf fails on it until you run `alma-ext switch --revert` (or register again and switch).",
            path = alma_ext_switcher::plan::EXTENDED_REPO_FILE
        ),
    };
    alma_ext_stdio::outln!("{done}");
    Ok(Exit::Ok)
}
