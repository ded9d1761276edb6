//! Exit codes: a public interface, documented in the man page and README.
//! Never renumber; add new codes at the end.

use std::fmt;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// An unexpected error (a bug, or the host refused an operation).
    Failure = 1,
    /// Bad command line (clap's own code).
    Usage = 2,
    /// Invalid configuration or input file; the message names file, line
    /// and key.
    Config = 3,
    /// A switch preflight failed, or the machine is not eligible; nothing
    /// was changed.
    Preflight = 4,
    /// The switch was applied but did not verify, and was rolled back;
    /// the configuration is exactly as before.
    RolledBack = 5,
    /// The server or a repository could not be reached (network, TLS,
    /// proxy).
    Unreachable = 6,
    /// The server refused: bad key or credential, revoked contract, not
    /// entitled.
    Refused = 7,
    /// Confirmation needed: no terminal and no `--yes`, or the user said no.
    NotConfirmed = 8,
    /// Another switch, dnf or rpm transaction holds the lock.
    Busy = 9,
    /// Not registered with an entitlement server.
    NotRegistered = 10,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that says how the process should exit.
#[derive(Debug)]
pub struct Failed {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain, once, on one line: "a: b: c".
        write!(f, "{:#}", self.error)
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed {
            exit: Exit::Failure,
            error: e.into(),
        }
    }
}

/// What every command returns.
pub type CmdResult = Result<Exit, Failed>;

/// Attach an exit code to an error: `read_config().exit(Exit::Config)?`.
pub trait ExitContext<T> {
    fn exit(self, exit: Exit) -> Result<T, Failed>;
}

impl<T, E: Into<anyhow::Error>> ExitContext<T> for Result<T, E> {
    fn exit(self, exit: Exit) -> Result<T, Failed> {
        self.map_err(|e| Failed {
            exit,
            error: e.into(),
        })
    }
}

/// Build a failure from a message.
pub fn fail(exit: Exit, msg: impl fmt::Display) -> Failed {
    Failed {
        exit,
        error: anyhow::anyhow!("{msg}"),
    }
}
