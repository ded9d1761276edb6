//! Licence report, format v1 (see `docs/inventory.md`), and its text, JSON
//! and CSV renderings.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// The only report format version this engine writes.
pub const REPORT_VERSION: u64 = 1;

/// Yearly price of one `physical` licence, JPY before tax.
pub const PRICE_PHYSICAL_JPY: u64 = 84_000;
/// Yearly price of one `virtual` licence, JPY before tax.
pub const PRICE_VIRTUAL_JPY: u64 = 48_000;
/// Yearly price of one `platform` licence, JPY before tax.
pub const PRICE_PLATFORM_JPY: u64 = 240_000;

/// The licence report: every system, its valid options, the choice and total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Format version; 1.
    pub version: u64,
    /// One entry per system, in a stable order.
    pub systems: Vec<SystemReport>,
    /// Sum of the chosen option of every system.
    pub total: Licences,
    /// Things a licensing person should look at (invalid choices, guesses).
    pub warnings: Vec<Warning>,
}

/// Something a licensing person should look at. In the JSON a string (the
/// English `Display`); the text table shows [`Warning::localized`]. Two
/// warnings are equal when their English says the same.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Warning {
    #[error("autoscale group {group:?} (named by machine {machine:?}) is not declared in autoscale_groups[]: counting the VMs seen in it, not its maximum")]
    GroupNotDeclared { group: String, machine: String },
    #[error("platform {platform:?} (named by machine {machine:?}) is not declared in platforms[]: its hosts are unknown, so only per-unit can be priced")]
    PlatformNotDeclared { platform: String, machine: String },
    #[error("host {host:?} of machine {machine:?} is not in the hosts of its platform {platform:?}: counted as one of its hosts (rule 7: every host a guest may run on)")]
    HostNotInPlatform {
        host: String,
        machine: String,
        platform: String,
    },
    #[error("platform {platform:?} (named by autoscale group {group:?}) is not declared in platforms[]: its hosts are unknown, so only per-unit can be priced")]
    GroupPlatformNotDeclared { platform: String, group: String },
    #[error("autoscale group {group:?}: {observed} VMs seen, more than its declared max {max}; counting {observed}")]
    GroupOverMax {
        group: String,
        observed: u64,
        max: u64,
    },
    #[error("platform {platform:?}: peak_guests {peak} is below the {listed} AlmaLinux guests listed; counting {peak} as declared (standby guests count too: rule 2)")]
    PeakBelowListed {
        platform: String,
        peak: u64,
        listed: u64,
    },
    #[error("{} {id:?}: choice \"platform\" is not valid: {why}; priced per-unit", kind.as_str())]
    PlatformChoiceInvalid {
        kind: SystemKind,
        id: String,
        why: PlatformBlocker,
    },
    #[error("platform {platform:?}: {guests} guests but no known hosts, so the platform option cannot be priced; declare its hosts in platforms[].hosts")]
    NoKnownHosts { platform: String, guests: u64 },
    /// A warning read back from a report's JSON, as it was written.
    #[error("{0}")]
    Text(String),
}

/// Why a system cannot take the `platform` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlatformBlocker {
    #[error("VMs with no known platform, host or cloud unit can only be licensed per unit")]
    Unassigned,
    #[error("no physical hosts are known (declare them in platforms[].hosts)")]
    NoHosts,
    #[error("platform needs {min} or more AlmaLinux guests, this system has {guests}")]
    TooFewGuests { min: u64, guests: u64 },
}

impl PlatformBlocker {
    /// The reason in the reader's language.
    pub fn localized(self) -> String {
        use alma_ext_i18n::t;
        match self {
            PlatformBlocker::Unassigned => {
                t!("VMs with no known platform, host or cloud unit can only be licensed per unit")
                    .into()
            }
            PlatformBlocker::NoHosts => {
                t!("no physical hosts are known (declare them in platforms[].hosts)").into()
            }
            PlatformBlocker::TooFewGuests { min, guests } => t!(
                "platform needs {min} or more AlmaLinux guests, this system has {guests}",
                min = min,
                guests = guests
            ),
        }
    }
}

impl Warning {
    /// The warning in the reader's language (ids as they are, quoted).
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        let q = |s: &str| format!("{s:?}");
        match self {
            Warning::GroupNotDeclared { group, machine } => t!(
                "autoscale group {group} (named by machine {machine}) is not declared in autoscale_groups[]: counting the VMs seen in it, not its maximum",
                group = q(group),
                machine = q(machine)
            ),
            Warning::PlatformNotDeclared { platform, machine } => t!(
                "platform {platform} (named by machine {machine}) is not declared in platforms[]: its hosts are unknown, so only per-unit can be priced",
                platform = q(platform),
                machine = q(machine)
            ),
            Warning::HostNotInPlatform {
                host,
                machine,
                platform,
            } => t!(
                "host {host} of machine {machine} is not in the hosts of its platform {platform}: counted as one of its hosts (rule 7: every host a guest may run on)",
                host = q(host),
                machine = q(machine),
                platform = q(platform)
            ),
            Warning::GroupPlatformNotDeclared { platform, group } => t!(
                "platform {platform} (named by autoscale group {group}) is not declared in platforms[]: its hosts are unknown, so only per-unit can be priced",
                platform = q(platform),
                group = q(group)
            ),
            Warning::GroupOverMax {
                group,
                observed,
                max,
            } => t!(
                "autoscale group {group}: {observed} VMs seen, more than its declared max {max}; counting {observed}",
                group = q(group),
                observed = observed,
                max = max
            ),
            Warning::PeakBelowListed {
                platform,
                peak,
                listed,
            } => t!(
                "platform {platform}: peak_guests {peak} is below the {listed} AlmaLinux guests listed; counting {peak} as declared (standby guests count too: rule 2)",
                platform = q(platform),
                peak = peak,
                listed = listed
            ),
            Warning::PlatformChoiceInvalid { kind, id, why } => t!(
                "{kind} {id}: choice \"platform\" is not valid: {why}; priced per-unit",
                kind = kind.word(),
                id = q(id),
                why = why.localized()
            ),
            Warning::NoKnownHosts { platform, guests } => t!(
                "platform {platform}: {guests} guests but no known hosts, so the platform option cannot be priced; declare its hosts in platforms[].hosts",
                platform = q(platform),
                guests = guests
            ),
            Warning::Text(s) => s.clone(),
        }
    }
}

impl PartialEq for Warning {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Warning {}

impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Warning {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Warning::Text)
    }
}

/// One system: the unit inside which `virtual` and `platform` never mix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemReport {
    /// Platform id, host name, `provider/unit`, `unassigned` or machine id.
    pub id: String,
    /// What kind of system this is.
    pub kind: SystemKind,
    /// Physical hosts counted under `platform` (0 for cloud, unassigned).
    pub hosts: u64,
    /// AlmaLinux guests counted under `virtual`.
    pub guests: u64,
    /// Every valid option, `per-unit` first.
    pub options: Vec<OptionCost>,
    /// The option priced into the total.
    pub chosen: LicenceOption,
    /// AlmaLinux physical machines among `hosts` (they need `physical`
    /// under `per-unit`).
    #[serde(default)]
    pub almalinux_hosts: u64,
    /// Autoscale groups in this system: declared maximum beside observed VMs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoscale_groups: Vec<AutoscaleCount>,
}

impl SystemReport {
    /// The option that was chosen (always present among `options`).
    pub fn chosen_option(&self) -> &OptionCost {
        self.options
            .iter()
            .find(|o| o.choice == self.chosen)
            .unwrap_or(&self.options[0])
    }
}

/// How an autoscale group was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoscaleCount {
    /// Group id.
    pub id: String,
    /// Declared maximum, if any.
    pub max: Option<u64>,
    /// VMs of the group seen in the inventory: a lower bound of the peak.
    pub observed: u64,
    /// What the group counts as: `max(max, observed)`.
    pub counted: u64,
}

/// Kind of system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SystemKind {
    /// A virtualization platform, declared or a lone non-AlmaLinux host.
    Platform,
    /// An AlmaLinux physical machine running KVM guests.
    KvmHost,
    /// A public-cloud resource-management unit.
    Cloud,
    /// VMs with no known platform, host or cloud: `virtual` only.
    Unassigned,
    /// A physical AlmaLinux server with no guests: `physical` × 1.
    Standalone,
}

impl SystemKind {
    /// The kind in the reader's words.
    pub fn word(self) -> &'static str {
        use alma_ext_i18n::t;
        match self {
            SystemKind::Platform => t!("platform"),
            SystemKind::KvmHost => t!("kvm-host"),
            SystemKind::Cloud => t!("cloud"),
            SystemKind::Unassigned => t!("unassigned"),
            SystemKind::Standalone => t!("standalone"),
        }
    }

    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SystemKind::Platform => "platform",
            SystemKind::KvmHost => "kvm-host",
            SystemKind::Cloud => "cloud",
            SystemKind::Unassigned => "unassigned",
            SystemKind::Standalone => "standalone",
        }
    }
}

/// A way to license a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceOption {
    /// `physical` per AlmaLinux host + `virtual` per guest.
    PerUnit,
    /// `platform` per physical host (cloud unit: one).
    Platform,
}

impl LicenceOption {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceOption::PerUnit => "per-unit",
            LicenceOption::Platform => "platform",
        }
    }
}

/// Licences needed under one option, and their yearly cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionCost {
    /// Which option.
    pub choice: LicenceOption,
    /// `physical` licences.
    pub physical: u64,
    /// `virtual` licences.
    pub r#virtual: u64,
    /// `platform` licences.
    pub platform: u64,
    /// Yearly cost in JPY before tax.
    pub yearly_cost_jpy: u64,
}

/// Licence counts and their yearly cost (the report total).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licences {
    /// `physical` licences.
    pub physical: u64,
    /// `virtual` licences.
    pub r#virtual: u64,
    /// `platform` licences.
    pub platform: u64,
    /// Yearly cost in JPY before tax.
    pub yearly_cost_jpy: u64,
}

/// `12,345,678`: yen amounts the way purchasing staff read them.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

impl Report {
    /// Pretty JSON, newline-terminated: the report format v1.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("report serializes");
        s.push('\n');
        s
    }

    /// An aligned table, one line per system, then the total and warnings.
    pub fn to_text(&self) -> String {
        use alma_ext_i18n::{t, Pad, PadLeft};
        let head: [&str; 10] = [
            t!("SYSTEM"),
            t!("KIND"),
            t!("HOSTS"),
            t!("GUESTS"),
            t!("CHOSEN"),
            t!("PHYSICAL"),
            t!("VIRTUAL"),
            t!("PLATFORM"),
            t!("YEARLY JPY"),
            t!("OTHER OPTION"),
        ];
        let kind = SystemKind::word;
        let choice = |c: LicenceOption| match c {
            LicenceOption::PerUnit => t!("per-unit"),
            LicenceOption::Platform => t!("platform"),
        };
        let yen = |n: u64| t!("{amount}", amount = group_thousands(n));
        // Columns whose numbers are right-aligned.
        const RIGHT: [bool; 10] = [
            false, false, true, true, false, true, true, true, true, false,
        ];
        let mut rows: Vec<[String; 10]> = Vec::with_capacity(self.systems.len() + 2);
        rows.push(head.map(str::to_string));
        for s in &self.systems {
            let o = s.chosen_option();
            let other = s
                .options
                .iter()
                .filter(|x| x.choice != s.chosen)
                .map(|x| format!("{} {}", choice(x.choice), yen(x.yearly_cost_jpy)))
                .collect::<Vec<_>>()
                .join("; ");
            rows.push([
                s.id.clone(),
                kind(s.kind).to_string(),
                s.hosts.to_string(),
                s.guests.to_string(),
                choice(s.chosen).to_string(),
                o.physical.to_string(),
                o.r#virtual.to_string(),
                o.platform.to_string(),
                yen(o.yearly_cost_jpy),
                if other.is_empty() {
                    "-".to_string()
                } else {
                    other
                },
            ]);
        }
        let t = &self.total;
        rows.push([
            t!("TOTAL").to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            t.physical.to_string(),
            t.r#virtual.to_string(),
            t.platform.to_string(),
            yen(t.yearly_cost_jpy),
            String::new(),
        ]);
        let mut width = [0usize; 10];
        for r in &rows {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(alma_ext_i18n::width(cell));
            }
        }
        let mut out = String::new();
        for r in &rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let w = width[c];
                if RIGHT[c] {
                    let _ = write!(line, "{}", PadLeft(cell, w));
                } else {
                    let _ = write!(line, "{}", Pad(cell, w));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if !self.warnings.is_empty() {
            out.push('\n');
            out.push_str(t!("warnings:"));
            out.push('\n');
            for w in &self.warnings {
                out.push_str("  - ");
                out.push_str(&w.localized());
                out.push('\n');
            }
        }
        out
    }

    /// CSV (RFC 4180), one row per system, for a purchasing spreadsheet.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "system,kind,hosts,guests,almalinux_hosts,chosen,physical,virtual,platform,yearly_cost_jpy,per_unit_cost_jpy,platform_cost_jpy\r\n",
        );
        for s in &self.systems {
            let o = s.chosen_option();
            let cost_of = |c: LicenceOption| {
                s.options
                    .iter()
                    .find(|x| x.choice == c)
                    .map(|x| x.yearly_cost_jpy.to_string())
                    .unwrap_or_default()
            };
            let cells = [
                csv_cell(&s.id),
                s.kind.as_str().to_string(),
                s.hosts.to_string(),
                s.guests.to_string(),
                s.almalinux_hosts.to_string(),
                s.chosen.as_str().to_string(),
                o.physical.to_string(),
                o.r#virtual.to_string(),
                o.platform.to_string(),
                o.yearly_cost_jpy.to_string(),
                cost_of(LicenceOption::PerUnit),
                cost_of(LicenceOption::Platform),
            ];
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// Quote a CSV cell when needed. A leading `=`, `+`, `-`, `@` gets a `'`
/// in front: system ids come from machines, and a spreadsheet must not run
/// them as formulas.
pub(crate) fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
