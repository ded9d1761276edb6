//! Exit codes of `alma-ext`: a public interface, documented in the man page
//! and README. Never renumber; add new codes at the end. The machinery
//! (the error with its code, the edge that prints it) is shared with
//! `alma-ext-server` in `alma_ext_proto::exit`.

pub use alma_ext_proto::exit::{fail, ExitContext};

alma_ext_proto::exit_codes! {
    /// How a command ended.
    pub enum Exit {
        /// Done.
        Ok = 0 => "success",
        /// An unexpected error (a bug, or the host refused an operation).
        Failure = 1 => "unexpected failure",
        /// Bad command line (clap's own code).
        Usage = 2 => "bad command line",
        /// Invalid configuration or input file; the message names file, line
        /// and key.
        Config = 3 => "invalid configuration or input file (the message names file, line, key)",
        /// A switch preflight failed, or the machine is not eligible; nothing
        /// was changed.
        Preflight = 4 => "switch preflight failed or machine not eligible; nothing was changed",
        /// The switch was applied but did not verify, and was rolled back;
        /// the configuration is exactly as before.
        RolledBack = 5 => "switch did not verify and was rolled back; configuration is as before",
        /// The server or a repository could not be reached (network, TLS,
        /// proxy).
        Unreachable = 6 => "server or repository unreachable (network, TLS, proxy)",
        /// The server refused: bad key or credential, revoked contract, not
        /// entitled.
        Refused = 7 => "server refused (bad key or credential, revoked contract, not entitled)",
        /// Confirmation needed: no terminal and no `--yes`, or the user said no.
        NotConfirmed = 8 => "confirmation needed (no terminal and no --yes) or declined",
        /// Another switch, dnf or rpm transaction holds the lock.
        Busy = 9 => "another switch, dnf or rpm transaction is running",
        /// Not registered with an entitlement server.
        NotRegistered = 10 => "not registered",
    }
}

/// An error that says how the process should exit.
pub type Failed = alma_ext_proto::exit::Failed<Exit>;

/// What every command returns.
pub type CmdResult = Result<Exit, Failed>;

/// A failure the user reads in their language: `e`'s `Display` (what logs
/// and `--format json` carry) stays English, the edge prints
/// [`user_message`].
pub fn fail_localized(exit: Exit, e: impl alma_ext_i18n::message::LocalizedError) -> Failed {
    Failed {
        exit,
        error: anyhow::Error::new(alma_ext_i18n::Localized::new(e)),
    }
}

/// The error chain of `f` as the user reads it (`a: b: c`): in English
/// its `Display`, under a Japanese locale each link made by
/// [`fail_localized`] in Japanese.
pub fn user_message(f: &Failed) -> String {
    if alma_ext_i18n::is_japanese() {
        alma_ext_i18n::chain(f.error.chain())
    } else {
        f.to_string()
    }
}
