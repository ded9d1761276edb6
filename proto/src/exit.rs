//! Exit codes, written once for both binaries: the macro that declares a
//! program's codes with their one-line meanings (the `Exit codes:` text of
//! `--help` and of the man page's EXIT STATUS section comes from the same
//! table), the error that carries its code, and the edge that prints the
//! error chain once and exits with it.
//!
//! Codes 0 to 3 mean the same in every alma-ext program; the codes after
//! that are each program's own. Codes are a public interface: never
//! renumber, add new ones at the end.

use std::fmt;

/// A program's exit code: declared with [`exit_codes!`](crate::exit_codes).
pub trait ExitCode: Copy + fmt::Debug {
    /// An unexpected error: what any error without a code of its own maps to.
    const FAILURE: Self;
    /// The process exit status.
    fn code(self) -> u8;
}

/// An error and the exit code it maps to.
#[derive(Debug)]
pub struct Failed<E> {
    pub exit: E,
    pub error: anyhow::Error,
}

impl<E> fmt::Display for Failed<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The whole chain, once, on one line: "a: b: c".
        write!(f, "{:#}", self.error)
    }
}

impl<E: ExitCode, X: Into<anyhow::Error>> From<X> for Failed<E> {
    fn from(e: X) -> Self {
        Failed {
            exit: E::FAILURE,
            error: e.into(),
        }
    }
}

/// Attach an exit code to an error: `read_config().exit(Exit::Config)?`.
pub trait ExitContext<T> {
    fn exit<E>(self, exit: E) -> Result<T, Failed<E>>;
}

impl<T, X: Into<anyhow::Error>> ExitContext<T> for Result<T, X> {
    fn exit<E>(self, exit: E) -> Result<T, Failed<E>> {
        self.map_err(|e| Failed {
            exit,
            error: e.into(),
        })
    }
}

/// A failure from a message.
pub fn fail<E>(exit: E, msg: impl fmt::Display) -> Failed<E> {
    Failed {
        exit,
        error: anyhow::anyhow!("{msg}"),
    }
}

/// The binary's edge: on failure print `<program>: error: <chain>` once to
/// stderr (journald adds the time), and give the process its exit code.
pub fn finish<E: ExitCode>(program: &str, result: Result<E, Failed<E>>) -> std::process::ExitCode {
    let exit = match result {
        Ok(exit) => exit,
        Err(failed) => {
            eprintln!("{program}: error: {failed}");
            failed.exit
        }
    };
    std::process::ExitCode::from(exit.code())
}

/// The `Exit codes:` text of `--help` (the man page generator turns it into
/// EXIT STATUS) from a code table.
pub fn help(table: &[(u8, &str)]) -> String {
    let mut out = String::from("Exit codes:");
    for (code, meaning) in table {
        out.push_str(&format!("\n  {code:<3} {meaning}"));
    }
    out
}

/// Declare a program's exit codes once: the enum, [`ExitCode`], and the
/// table behind `--help` and the man page. Codes 0 to 3 must be `Ok`,
/// `Failure`, `Usage` and an invalid-input code, as in every alma-ext
/// program.
#[macro_export]
macro_rules! exit_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $code:literal => $help:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        $vis enum $name {
            $( $(#[doc = $doc])* $variant = $code, )*
        }

        impl $crate::exit::ExitCode for $name {
            const FAILURE: Self = $name::Failure;
            fn code(self) -> u8 {
                self as u8
            }
        }

        impl $name {
            /// Every code and its meaning, in order.
            pub const TABLE: &'static [(u8, &'static str)] = &[$(($code, $help),)*];

            /// The process exit status.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// The `Exit codes:` text of `--help` and the man page.
            pub fn help() -> String {
                $crate::exit::help(Self::TABLE)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::exit_codes! {
        /// Codes of a test program.
        #[allow(dead_code)]
        pub enum Exit {
            /// Done.
            Ok = 0 => "success",
            Failure = 1 => "unexpected failure",
            Usage = 2 => "bad command line",
            Invalid = 3 => "invalid input",
            Later = 10 => "a later code",
        }
    }

    use super::*;

    #[test]
    fn one_table_gives_codes_and_help() {
        assert_eq!(Exit::Later.code(), 10);
        assert_eq!(<Exit as ExitCode>::FAILURE, Exit::Failure);
        assert_eq!(
            Exit::help(),
            "Exit codes:\n  0   success\n  1   unexpected failure\n  2   bad command line\n  3   invalid input\n  10  a later code"
        );
        let f: Failed<Exit> = std::fs::read("/nonexistent/x").unwrap_err().into();
        assert_eq!(f.exit, Exit::Failure);
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("inner"));
        let f = r
            .map_err(|e| anyhow::Error::new(e).context("outer"))
            .exit(Exit::Invalid)
            .unwrap_err();
        assert_eq!(f.exit, Exit::Invalid);
        assert_eq!(f.to_string(), "outer: inner");
    }
}
