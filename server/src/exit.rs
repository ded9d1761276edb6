//! Exit codes of `alma-ext-server`: a public interface (docs/server.md).
//! Never renumber; add new codes at the end.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// An unexpected error.
    Failure = 1,
    /// Bad command line (clap's own code).
    Usage = 2,
    /// Invalid input: a file, flag value or inventory; the message names
    /// the field.
    Invalid = 3,
    /// No such contract, platform or target.
    NotFound = 4,
    /// The database could not be opened or reached.
    Database = 5,
    /// The live count found a contract with more licences needed than bought
    /// (`licenses --fail-on-over-deployment`).
    OverDeployed = 6,
}

/// An error and the exit code it maps to.
#[derive(Debug)]
pub struct Failed {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failed {
    fn from(e: E) -> Self {
        Failed {
            exit: Exit::Failure,
            error: e.into(),
        }
    }
}

/// Attach an exit code to an error.
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
