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
    if list.is_empty() {
        return "no machines\n".into();
    }
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
    let mut width = COLUMNS.map(|c| c.chars().count());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cols.iter().zip(width).enumerate() {
            if i + 1 == cols.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&COLUMNS.map(String::from));
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
    let mut out = String::new();
    let mut field = |k: &str, val: String| out.push_str(&format!("{:<14}{val}\n", format!("{k}:")));
    field("machine", m.id.clone());
    field("state", m.state.clone());
    field("contract", m.contract.clone());
    field("hostname", dash(&m.hostname));
    field("type", m.kind.clone());
    field("hypervisor", dash(&m.hypervisor));
    field("cloud", dash(&m.cloud));
    field("system", dash(&m.system));
    field("os", dash(&m.os));
    field("phase", v.lifecycle_phase.to_string());
    field("switch", dash(&m.switch));
    field("agent", dash(&m.agent_version));
    if let Some(c) = &m.clone_of {
        field("clone of", c.clone());
    }
    field("registered", rfc3339(&v.registered));
    field("last check-in", rfc3339(&v.last_checkin));
    if let Some(r) = &v.retired {
        field("retired", rfc3339(r));
    }
    out
}
