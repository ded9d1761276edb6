//! Where the server meets the licence engine (`crate::license`): running
//! it, and rendering the live report around its output.

use std::fmt::Write;
use std::path::Path;

use anyhow::Result;

use crate::cli::ReportFormat;
use crate::fleet::LiveReport;
use crate::license::{Inventory, Report};

/// Price an inventory.
pub fn report(inv: &Inventory) -> Result<Report> {
    let _ = inv;
    anyhow::bail!("the licence engine is not built into this binary yet")
}

/// `licenses --inventory FILE`.
pub fn run_file(path: &Path, format: ReportFormat) -> Result<String> {
    let _ = (path, format);
    anyhow::bail!("the licence engine is not built into this binary yet")
}

fn yen(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The live report as tables.
pub fn live_text(r: &LiveReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Live licence count: {} machines ({} clones), silent machines age out after {} days, peak guests over {} days\n",
        r.machines, r.clones, r.age_out_days, r.window_days
    );
    let _ = writeln!(
        s,
        "{:<28} {:<10} {:>5} {:>6} {:<9} {:>8} {:>7} {:>8} {:>14}",
        "SYSTEM",
        "KIND",
        "HOSTS",
        "GUESTS",
        "CHOSEN",
        "PHYSICAL",
        "VIRTUAL",
        "PLATFORM",
        "YEARLY JPY"
    );
    for sys in &r.fleet.systems {
        let o = sys.chosen_option();
        let _ = writeln!(
            s,
            "{:<28} {:<10} {:>5} {:>6} {:<9} {:>8} {:>7} {:>8} {:>14}",
            sys.id,
            sys.kind.as_str(),
            sys.hosts,
            sys.guests,
            sys.chosen.as_str(),
            o.physical,
            o.r#virtual,
            o.platform,
            yen(o.yearly_cost_jpy)
        );
    }
    let t = &r.fleet.total;
    let _ = writeln!(
        s,
        "{:<28} {:<10} {:>5} {:>6} {:<9} {:>8} {:>7} {:>8} {:>14}\n",
        "TOTAL",
        "",
        "",
        "",
        "",
        t.physical,
        t.r#virtual,
        t.platform,
        yen(t.yearly_cost_jpy)
    );
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
    for w in r.fleet.warnings.iter().chain(&r.warnings) {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// The live report's systems, one CSV row each.
pub fn live_csv(r: &LiveReport) -> String {
    let mut s =
        String::from("system,kind,hosts,guests,chosen,physical,virtual,platform,yearly_cost_jpy\n");
    for sys in &r.fleet.systems {
        let o = sys.chosen_option();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{}",
            csv_field(&sys.id),
            sys.kind.as_str(),
            sys.hosts,
            sys.guests,
            sys.chosen.as_str(),
            o.physical,
            o.r#virtual,
            o.platform,
            o.yearly_cost_jpy
        );
    }
    s
}
