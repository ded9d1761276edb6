//! `alma-ext-server coverage`: the fleet-wide view of the machines'
//! `alma-ext security-status` summaries. A pure function of the stored
//! summaries.

use std::collections::BTreeMap;

use alma_ext_proto::api::{SecuritySummary, SeverityCounts};
use serde::Serialize;

/// One machine's stored summary.
#[derive(Debug, Clone, Serialize)]
pub struct MachineSecurity {
    pub machine: String,
    pub hostname: Option<String>,
    pub contract: String,
    #[serde(flatten)]
    pub summary: SecuritySummary,
}

/// An installed package the extended repositories do not carry, and on
/// how many machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotExtended {
    pub name: String,
    pub machines: u32,
}

/// The fleet-wide summary (`--format json`).
#[derive(Debug, Clone, Serialize)]
pub struct FleetCoverage {
    pub schema_version: u32,
    /// Machines that reported a summary.
    pub machines: Vec<MachineSecurity>,
    /// Machines with pending Critical or Important security advisories.
    pub pending_critical_or_important: Vec<String>,
    /// Pending security advisories summed over the machines.
    pub pending: SeverityCounts,
    /// Packages installed across the fleet that the extended repositories
    /// do not carry, most widespread first (from agents that sent names).
    pub not_extended: Vec<NotExtended>,
}

/// A machine whose stored security summary does not read. `Display` is
/// English (the admin API logs it); the terminal shows
/// [`Unreadable::localized`].
#[derive(Debug, thiserror::Error)]
#[error("machine {machine}: unreadable security summary: {error}")]
pub struct Unreadable {
    pub machine: String,
    pub error: serde_json::Error,
}

impl Unreadable {
    /// The warning in the reader's language.
    pub fn localized(&self) -> String {
        alma_ext_i18n::t!(
            "machine {machine}: unreadable security summary: {error}",
            machine = self.machine,
            error = self.error
        )
    }
}

/// The stored summaries of the machines seen in the last `age_out_days`,
/// summarised; and a warning per unreadable summary.
pub async fn load(
    store: &crate::store::Store,
    age_out_days: i64,
    now: i64,
) -> Result<(FleetCoverage, Vec<Unreadable>), crate::store::StoreError> {
    let mut machines = Vec::new();
    let mut warnings = Vec::new();
    for (machine, hostname, contract, json) in
        store.security_summaries(now - age_out_days * 86400).await?
    {
        match serde_json::from_str(&json) {
            Ok(summary) => machines.push(MachineSecurity {
                machine,
                hostname,
                contract,
                summary,
            }),
            Err(error) => warnings.push(Unreadable { machine, error }),
        }
    }
    Ok((fleet(machines), warnings))
}

/// Summarise the machines' summaries.
pub fn fleet(mut machines: Vec<MachineSecurity>) -> FleetCoverage {
    machines.sort_by(|a, b| a.machine.cmp(&b.machine));
    let mut pending = SeverityCounts::default();
    let mut names: BTreeMap<&str, u32> = BTreeMap::new();
    let mut urgent = Vec::new();
    for m in &machines {
        let p = &m.summary.pending;
        pending.critical += p.critical;
        pending.important += p.important;
        pending.moderate += p.moderate;
        pending.low += p.low;
        if p.critical + p.important > 0 {
            urgent.push(m.machine.clone());
        }
        for n in m.summary.not_extended.iter().flatten() {
            *names.entry(n).or_default() += 1;
        }
    }
    let mut not_extended: Vec<NotExtended> = names
        .into_iter()
        .map(|(n, c)| NotExtended {
            name: n.to_string(),
            machines: c,
        })
        .collect();
    not_extended.sort_by(|a, b| b.machines.cmp(&a.machines).then(a.name.cmp(&b.name)));
    FleetCoverage {
        schema_version: 1,
        machines,
        pending_critical_or_important: urgent,
        pending,
        not_extended,
    }
}

fn opt(n: Option<u32>) -> String {
    n.map_or(String::new(), |n| n.to_string())
}

/// One CSV row per machine.
pub fn csv(c: &FleetCoverage) -> String {
    let mut out = String::from(
        "machine,hostname,contract,at,installed,extended,community_only,third_party,unavailable,critical,important,moderate,low\n",
    );
    for m in &c.machines {
        let s = &m.summary;
        let field = |v: &str| {
            if v.contains([',', '"', '\n']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            field(&m.machine),
            field(m.hostname.as_deref().unwrap_or("")),
            field(&m.contract),
            s.at,
            s.installed,
            opt(s.extended),
            opt(s.community_only),
            opt(s.third_party),
            opt(s.unavailable),
            s.pending.critical,
            s.pending.important,
            s.pending.moderate,
            s.pending.low
        ));
    }
    out
}

/// For people.
pub fn text(c: &FleetCoverage) -> String {
    use alma_ext_i18n::t;
    let mut out = t!(
        "{machines} machines reported security status; {urgent} with pending Critical or Important security advisories.",
        machines = c.machines.len(),
        urgent = c.pending_critical_or_important.len()
    );
    out.push('\n');
    out.push_str(&t!(
        "Pending security advisories across the fleet: {critical} Critical, {important} Important, {moderate} Moderate, {low} Low.",
        critical = c.pending.critical,
        important = c.pending.important,
        moderate = c.pending.moderate,
        low = c.pending.low
    ));
    out.push('\n');
    for m in &c.pending_critical_or_important {
        out.push_str(&format!("  {m}\n"));
    }
    if c.not_extended.is_empty() {
        out.push_str(t!(
            "No installed package outside the extended repositories was reported."
        ));
        out.push('\n');
    } else {
        out.push_str(t!(
            "Installed packages the extended repositories do not carry (machines):"
        ));
        out.push('\n');
        for p in &c.not_extended {
            out.push_str(&format!("  {:<40} {}\n", p.name, p.machines));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, crit: u32, imp: u32, names: &[&str]) -> MachineSecurity {
        MachineSecurity {
            machine: id.into(),
            hostname: Some(format!("{id}.example.com")),
            contract: "c1".into(),
            summary: SecuritySummary {
                at: chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
                installed: 10,
                extended: Some(7),
                community_only: Some(1),
                third_party: Some(1),
                unavailable: Some(1),
                pending: SeverityCounts {
                    critical: crit,
                    important: imp,
                    moderate: 1,
                    low: 0,
                },
                not_extended: Some(names.iter().map(|n| n.to_string()).collect()),
            },
        }
    }

    #[test]
    fn fleet_counts_machines_per_package_and_urgent_machines() {
        let c = fleet(vec![
            m("m2", 0, 0, &["bash", "htop"]),
            m("m1", 1, 0, &["bash"]),
            m("m3", 0, 2, &[]),
        ]);
        assert_eq!(c.pending_critical_or_important, ["m1", "m3"]);
        assert_eq!(c.pending.moderate, 3);
        assert_eq!(
            c.not_extended,
            [
                NotExtended {
                    name: "bash".into(),
                    machines: 2
                },
                NotExtended {
                    name: "htop".into(),
                    machines: 1
                }
            ]
        );
        let csv = csv(&c);
        assert!(
            csv.contains("\nm1,m1.example.com,c1,2026-11-29,10,7,1,1,1,1,0,1,0\n"),
            "{csv}"
        );
        let j = serde_json::to_value(&c).unwrap();
        assert_eq!(j["machines"][0]["pending"]["Critical"], 1);
        assert_eq!(j["machines"][0]["community_only"], 1);
        assert!(text(&c).contains("2 with pending Critical or Important"));
    }
}
