//! `alma-ext-server licenses --inventory FILE`: the engine on a file, for a
//! customer who plans a purchase before installing anything.

use std::path::Path;

use anyhow::Context;

use super::engine;
use super::inventory::parse_inventory;
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

/// Read an inventory file, count its licences and render the report.
/// Errors name the file, the field and the machine id.
pub fn run_file(path: &Path, format: Format) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read inventory {}", path.display()))?;
    let inv =
        parse_inventory(&text).with_context(|| format!("invalid inventory {}", path.display()))?;
    let report =
        engine::report(&inv).with_context(|| format!("invalid inventory {}", path.display()))?;
    Ok(render(&report, format))
}
