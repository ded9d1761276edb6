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
pub fn run_file(
    path: &Path,
    format: ReportFormat,
) -> Result<String, crate::license::cli::FileError> {
    crate::license::cli::run_file(path, engine_format(format))
}

/// The live report as tables.
pub fn live_text(r: &LiveReport) -> String {
    use alma_ext_i18n::{t, width, Pad, PadLeft};
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}\n",
        t!(
            "Live licence count: {machines} machines ({clones} clones), silent machines age out after {age_out_days} days, peak guests over {window_days} days",
            machines = r.machines,
            clones = r.clones,
            age_out_days = r.age_out_days,
            window_days = r.window_days
        )
    );
    s.push_str(&r.fleet.to_text());
    if !s.ends_with("\n\n") {
        s.push('\n');
    }
    if !r.contracts.is_empty() {
        // Columns as wide as in English, wider for a heading that takes
        // more terminal columns; cells padded by display width.
        let head = [
            t!("CONTRACT"),
            t!("CUSTOMER"),
            t!("PRODUCT"),
            t!("STATUS"),
            t!("MACHINES"),
            t!("BOUGHT"),
            t!("NEEDED"),
            t!("STATE"),
        ];
        let rows: Vec<[String; 8]> = r
            .contracts
            .iter()
            .map(|c| {
                let status = serde_json::to_value(c.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                [
                    c.contract.clone(),
                    c.customer.clone(),
                    product_word(&c.product).to_string(),
                    status_word(&status).to_string(),
                    c.machines.to_string(),
                    c.bought.to_string(),
                    c.needed.to_string(),
                    if c.over_deployed {
                        t!("OVER-DEPLOYED")
                    } else {
                        t!("ok")
                    }
                    .to_string(),
                ]
            })
            .collect();
        let mut w = [14, 24, 9, 8, 8, 6, 6, 0];
        for (i, h) in head.iter().enumerate() {
            w[i] = w[i].max(width(h));
        }
        let mut line = |cells: [&str; 8]| {
            let _ = writeln!(
                s,
                "{} {} {} {} {} {} {}  {}",
                Pad(cells[0], w[0]),
                Pad(cells[1], w[1]),
                Pad(cells[2], w[2]),
                Pad(cells[3], w[3]),
                PadLeft(cells[4], w[4]),
                PadLeft(cells[5], w[5]),
                PadLeft(cells[6], w[6]),
                cells[7]
            );
        };
        line(head);
        for row in &rows {
            line(row.each_ref().map(String::as_str));
        }
        s.push('\n');
    }
    for w in &r.warnings {
        let _ = writeln!(s, "{}", t!("warning: {warning}", warning = w.localized()));
    }
    s
}

/// A product (`physical`, `virtual`, `platform`) in the reader's words.
pub fn product_word(p: &str) -> &str {
    use alma_ext_i18n::t;
    match p {
        "physical" => t!("physical"),
        "virtual" => t!("virtual"),
        "platform" => t!("platform"),
        other => other,
    }
}

/// An entitlement status (`active`, `pending`, `expired`, `revoked`) in the
/// reader's words.
pub fn status_word(s: &str) -> &str {
    use alma_ext_i18n::t;
    match s {
        "active" => t!("active"),
        "pending" => t!("pending"),
        "expired" => t!("expired"),
        "revoked" => t!("revoked"),
        other => other,
    }
}

/// The live report's systems, one CSV row each (the engine's CSV).
pub fn live_csv(r: &LiveReport) -> String {
    r.fleet.to_csv()
}
