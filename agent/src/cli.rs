//! The command line. Kept in the library so packaging can generate man
//! pages and completions from the same definitions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;

/// alma-ext: AlmaLinux extended support on this machine.
///
/// Detects what the machine is, shows where its AlmaLinux release stands in
/// its lifecycle, registers it with the vendor's entitlement server, and
/// switches dnf to the extended-update repository before community support
/// ends.
#[derive(Debug, Parser)]
#[command(name = "alma-ext", version, about, long_about, after_long_help = crate::exit::Exit::help())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by commands that read the host.
#[derive(Debug, Clone, clap::Args)]
pub struct RootArg {
    /// Read and write the host under DIR instead of / (a fixture tree, an
    /// image, a chroot). Nothing outside DIR is read.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what this machine is: physical or virtual, hypervisor, cloud,
    /// container, KVM guests, OS and hardware, with the evidence.
    Facts(cmd::facts::Args),
    /// Show the lifecycle phase of this release, its dates, and what to do
    /// now; registration and switch state.
    Status(cmd::status::Args),
    /// Repoint dnf from the community repositories to the extended-update
    /// repository (or back, with --revert).
    Switch(cmd::switch::Args),
    /// Register this machine with the entitlement server.
    Register(cmd::register::Args),
    /// Check in with the entitlement server once.
    Checkin(cmd::checkin::Args),
    /// Remove this machine's registration.
    Unregister(cmd::unregister::Args),
    /// Show which installed packages the extended-update repositories keep
    /// fixing, and which security advisories are pending.
    SecurityStatus(cmd::security_status::Args),
    /// Run the long-running agent (started by systemd).
    Agent(cmd::agent::Args),
    /// Write one .tar.gz for the vendor's support desk (logs, configuration,
    /// state), with every secret removed.
    SupportBundle(cmd::support_bundle::Args),
}

/// The commands `alma-ext` runs in its own process (`facts`, `status`), and
/// nothing else: parsed first by `alma-ext`, because building this tree
/// costs a fraction of [`Cli`]'s whole one, which a command that runs at
/// every check (`facts`) would pay at each start. The same `Args` types as
/// in [`Cli`], so whatever this accepts [`Cli`] accepts alike; anything it
/// rejects (help, `--version`, another command, a usage error) is parsed
/// again by [`Cli`], which gives the documented help and errors.
#[derive(Debug, Parser)]
#[command(name = "alma-ext")]
pub struct FrontCli {
    #[command(subcommand)]
    pub command: FrontCommand,
}

/// See [`FrontCli`].
#[derive(Debug, Subcommand)]
pub enum FrontCommand {
    Facts(cmd::facts::Args),
    Status(cmd::status::Args),
}

impl From<FrontCommand> for Command {
    fn from(c: FrontCommand) -> Command {
        match c {
            FrontCommand::Facts(a) => Command::Facts(a),
            FrontCommand::Status(a) => Command::Status(a),
        }
    }
}

impl Command {
    /// Run the command.
    pub fn run(self) -> crate::exit::CmdResult {
        match self {
            Command::Facts(a) => cmd::facts::run(a),
            Command::Status(a) => cmd::status::run(a),
            Command::Switch(a) => cmd::switch::run(a),
            Command::Register(a) => cmd::register::run(a),
            Command::Checkin(a) => cmd::checkin::run(a),
            Command::Unregister(a) => cmd::unregister::run(a),
            Command::SecurityStatus(a) => cmd::security_status::run(a),
            Command::Agent(a) => cmd::agent::run(a),
            Command::SupportBundle(a) => cmd::support_bundle::run(a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever [`FrontCli`] accepts, [`Cli`] parses to the same command;
    /// what it rejects goes to [`Cli`].
    #[test]
    fn front_parses_as_the_whole_tree_does() {
        let accepted: &[&[&str]] = &[
            &["facts"],
            &["facts", "--format", "json"],
            &["facts", "--format=json", "--root", "/srv/img"],
            &["facts", "--root=/"],
            &["status"],
            &["status", "--format", "json"],
        ];
        for args in accepted {
            let argv = std::iter::once("alma-ext").chain(args.iter().copied());
            let front = FrontCli::try_parse_from(argv.clone()).expect("front accepts");
            let whole = Cli::try_parse_from(argv).expect("whole tree accepts");
            assert_eq!(
                format!("{:?}", Command::from(front.command)),
                format!("{:?}", whole.command),
                "{args:?}"
            );
        }
        let rejected: &[&[&str]] = &[
            &[],
            &["--help"],
            &["--version"],
            &["-V"],
            &["help"],
            &["help", "facts"],
            &["facts", "--help"],
            &["facts", "-h"],
            &["facts", "--format", "yaml"],
            &["facts", "--bogus"],
            &["switch"],
            &["register", "--server", "https://x"],
        ];
        for args in rejected {
            let argv = std::iter::once("alma-ext").chain(args.iter().copied());
            assert!(FrontCli::try_parse_from(argv).is_err(), "{args:?}");
        }
    }
}
