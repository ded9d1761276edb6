//! Text and CSV for people and spreadsheets: `machine list` and
//! `machine show`. Pure: views in, text out.

use chrono::{DateTime, Utc};
use clap::ValueEnum;

use crate::admin::{MachineDetail, MachineView};
use crate::license::report::csv_cell;

/// Output of `licenses` and `coverage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Tables for people.
    Text,
    /// The report JSON (docs/inventory.md).
    Json,
    /// One row per system, for a purchasing spreadsheet.
    Csv,
}

/// Column headings of `machine list` (text and CSV).
const COLUMNS: [&str; 11] = [
    "ID",
    "STATE",
    "HOSTNAME",
    "TYPE",
    "HYPERVISOR",
    "CLOUD",
    "OS",
    "PHASE",
    "SWITCH",
    "LAST CHECK-IN",
    "CONTRACT",
];

fn cells(v: &MachineView, time: fn(&DateTime<Utc>) -> String) -> [String; 11] {
    let m = &v.machine;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        m.id.clone(),
        m.state.clone(),
        opt(&m.hostname),
        m.kind.clone(),
        opt(&m.hypervisor),
        opt(&m.cloud),
        opt(&m.os),
        v.lifecycle_phase.to_string(),
        opt(&m.switch),
        time(&v.last_checkin),
        m.contract.clone(),
    ]
}

fn minute(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%MZ").to_string()
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `machine list --format text`: aligned columns, `-` for unknown.
pub fn machines_text(list: &[MachineView]) -> String {
    use alma_ext_i18n::{t, width, Pad};
    if list.is_empty() {
        return format!("{}\n", t!("no machines"));
    }
    let headings: [&str; 11] = [
        t!("ID"),
        t!("STATE"),
        t!("HOSTNAME"),
        t!("TYPE"),
        t!("HYPERVISOR"),
        t!("CLOUD"),
        "OS",
        t!("PHASE"),
        t!("SWITCH"),
        t!("LAST CHECK-IN"),
        t!("CONTRACT"),
    ];
    let rows: Vec<[String; 11]> = list
        .iter()
        .map(|v| {
            cells(v, minute).map(|c| {
                // One line per machine whatever a host reported.
                let c: String = c
                    .chars()
                    .map(|ch| if ch.is_control() { ' ' } else { ch })
                    .collect();
                if c.is_empty() {
                    "-".into()
                } else {
                    c
                }
            })
        })
        .collect();
    let mut widths = headings.map(width);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{}  ", Pad(c, w)));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&headings.map(String::from));
    for r in &rows {
        line(r);
    }
    out
}

/// `machine list --format csv`: a header, then one row per machine; times
/// in RFC 3339.
pub fn machines_csv(list: &[MachineView]) -> String {
    let header = COLUMNS.map(|c| c.to_lowercase().replace([' ', '-'], "_"));
    let mut out = header.join(",");
    out.push_str("\r\n");
    for v in list {
        let row: Vec<String> = cells(v, rfc3339).iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// `machine show --format text`.
pub fn machine_text(d: &MachineDetail) -> String {
    let v = &d.view;
    let m = &v.machine;
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    use alma_ext_i18n::t;
    let mut fields: Vec<(&str, String)> = Vec::new();
    let mut field = |k: &'static str, val: String| fields.push((k, val));
    field(t!("machine"), m.id.clone());
    field(t!("state"), m.state.clone());
    field(t!("contract"), m.contract.clone());
    field(t!("hostname"), dash(&m.hostname));
    field(t!("type"), m.kind.clone());
    field(t!("hypervisor"), dash(&m.hypervisor));
    field(t!("cloud"), dash(&m.cloud));
    field(t!("system"), dash(&m.system));
    field("os", dash(&m.os));
    field(t!("phase"), v.lifecycle_phase.to_string());
    field(t!("switch"), dash(&m.switch));
    field(t!("agent"), dash(&m.agent_version));
    if let Some(c) = &m.clone_of {
        field(t!("clone of"), c.clone());
    }
    field(t!("registered"), rfc3339(&v.registered));
    field(t!("last check-in"), rfc3339(&v.last_checkin));
    if let Some(r) = &v.retired {
        field(t!("retired"), rfc3339(r));
    }
    // "machine:" then the value from column 15, as wide as the longest
    // label needs (always 14 in English).
    let w = fields
        .iter()
        .map(|(k, _)| alma_ext_i18n::width(k) + 1)
        .max()
        .unwrap_or(0);
    let w = if w > 14 { w + 1 } else { 14 };
    let mut out = String::new();
    for (k, val) in fields {
        out.push_str(&format!(
            "{}{val}\n",
            alma_ext_i18n::Pad(&format!("{k}:"), w)
        ));
    }
    out
}
