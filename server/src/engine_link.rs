//! Where the server's output meets the licence engine's (`crate::license`):
//! `licenses --inventory FILE`, and the live report rendered around the
//! engine's tables. (The fleet runs the engine itself: `fleet::run_engine`.)

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;

use crate::fleet::LiveReport;
use crate::render::ReportFormat;

fn engine_format(f: ReportFormat) -> crate::license::cli::Format {
    match f {
        ReportFormat::Text => crate::license::cli::Format::Text,
        ReportFormat::Json => crate::license::cli::Format::Json,
        ReportFormat::Csv => crate::license::cli::Format::Csv,
    }
}

/// `licenses --inventory FILE`.
pub fn run_file(path: &Path, format: ReportFormat) -> Result<String> {
    crate::license::cli::run_file(path, engine_format(format))
}

/// The live report as tables.
pub fn live_text(r: &LiveReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Live licence count: {} machines ({} clones), silent machines age out after {} days, peak guests over {} days\n",
        r.machines, r.clones, r.age_out_days, r.window_days
    );
    s.push_str(&r.fleet.to_text());
    if !s.ends_with("\n\n") {
        s.push('\n');
    }
    if !r.contracts.is_empty() {
        let _ = writeln!(
            s,
            "{:<14} {:<24} {:<9} {:<8} {:>8} {:>6} {:>6}  STATE",
            "CONTRACT", "CUSTOMER", "PRODUCT", "STATUS", "MACHINES", "BOUGHT", "NEEDED"
        );
        for c in &r.contracts {
            let status = serde_json::to_value(c.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "{:<14} {:<24} {:<9} {:<8} {:>8} {:>6} {:>6}  {}",
                c.contract,
                c.customer,
                c.product,
                status,
                c.machines,
                c.bought,
                c.needed,
                if c.over_deployed {
                    "OVER-DEPLOYED"
                } else {
                    "ok"
                }
            );
        }
        s.push('\n');
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

/// The live report's systems, one CSV row each (the engine's CSV).
pub fn live_csv(r: &LiveReport) -> String {
    r.fleet.to_csv()
}
