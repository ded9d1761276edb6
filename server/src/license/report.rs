//! Licence report, format v1 (see `docs/inventory.md`), and its text, JSON
//! and CSV renderings.

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
    pub warnings: Vec<String>,
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
