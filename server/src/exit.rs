//! Exit codes of `alma-ext-server`: a public interface (docs/server.md and
//! the man page's EXIT STATUS). Never renumber; add new codes at the end.
//! The machinery is shared with `alma-ext` in `alma_ext_proto::exit`.

pub use alma_ext_proto::exit::{fail, ExitContext};

alma_ext_proto::exit_codes! {
    /// How a command ended.
    pub enum Exit {
        /// Done.
        Ok = 0 => "success",
        /// An unexpected error.
        Failure = 1 => "unexpected failure",
        /// Bad command line (clap's own code).
        Usage = 2 => "bad command line",
        /// Invalid input: a file, flag value or inventory (the message names
        /// the field), or a --database that does not exist.
        Invalid = 3 => "invalid input: file, flag value, inventory (the message names the field), or a --database that does not exist",
        /// No such contract, machine, platform or target.
        NotFound = 4 => "no such contract, machine, platform or target",
        /// The database could not be opened or reached.
        Database = 5 => "the database could not be opened or reached",
        /// The live count found a contract with more licences needed than
        /// bought (`licenses --fail-on-over-deployment`).
        OverDeployed = 6 => "a contract needs more licences than it bought (licenses --fail-on-over-deployment)",
    }
}

/// An error and the exit code it maps to.
pub type Failed = alma_ext_proto::exit::Failed<Exit>;
