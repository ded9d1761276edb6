//! Output formats shared by the subcommands.

use clap::ValueEnum;
use serde::Serialize;

/// `--format`: text for people, json for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Print a value as pretty JSON with a trailing newline.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let s = serde_json::to_string_pretty(value)?;
    alma_ext_stdio::outln!("{s}");
    Ok(())
}
