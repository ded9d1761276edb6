//! `alma-ext-server licenses --inventory FILE`: the engine on a file, for a
//! customer who plans a purchase before installing anything.

use std::path::{Path, PathBuf};

use super::engine;
use super::inventory::{parse_inventory, InventoryError};
use super::report::Report;

/// Output format of the licence report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    #[default]
    Text,
    /// The report format v1 (docs/inventory.md), for scripts.
    Json,
    /// One row per system, for a purchasing spreadsheet.
    Csv,
}

/// Render a report in the given format.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
        Format::Csv => report.to_csv(),
    }
}

/// Why `licenses --inventory FILE` failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read inventory {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid inventory {}: {error}", path.display())]
    Invalid {
        path: PathBuf,
        error: InventoryError,
    },
}

impl FileError {
    /// The error in the reader's language: the file, field path and id as
    /// they are; the engine's reason in its own words.
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            FileError::Read { path, source } => t!(
                "cannot read inventory {path}: {error}",
                path = path.display(),
                error = crate::messages::io_reason(source)
            ),
            FileError::Invalid { path, error } => t!(
                "invalid inventory {path}: {error}",
                path = path.display(),
                error = error.localized()
            ),
        }
    }
}

/// Read an inventory file, count its licences and render the report.
/// Errors name the file, the field and the machine id.
pub fn run_file(path: &Path, format: Format) -> Result<String, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |error| FileError::Invalid {
        path: path.to_owned(),
        error,
    };
    let inv = parse_inventory(&text).map_err(invalid)?;
    let report = engine::report(&inv).map_err(invalid)?;
    Ok(render(&report, format))
}
