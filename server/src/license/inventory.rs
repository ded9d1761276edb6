//! Fleet inventory, format v1 (see `docs/inventory.md`): every AlmaLinux
//! machine plus what administrators declare (platforms, autoscale groups,
//! cloud units). The entitlement server builds one from its fleet store;
//! `alma-ext-server licenses --inventory FILE` reads one from a file.

use serde::{Deserialize, Deserializer, Serialize};

/// The only inventory format version this engine reads.
pub const INVENTORY_VERSION: u64 = 1;

/// Largest `max` / `peak_guests` accepted: far above any real fleet, and low
/// enough that every price sum fits in a u64.
pub const MAX_DECLARED_COUNT: u64 = 10_000_000;

/// A fleet inventory: the input of the licence engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Format version; must be 1.
    pub version: u64,
    /// Every AlmaLinux machine, physical or virtual.
    #[serde(default)]
    pub machines: Vec<MachineEntry>,
    /// Declared virtualization platforms (systems) and their physical hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<PlatformEntry>,
    /// Autoscaling groups and the most VMs each may run at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoscale_groups: Vec<AutoscaleGroupEntry>,
    /// Cloud resource-management units, only needed to set their `choice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cloud_units: Vec<CloudUnitEntry>,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory {
            version: INVENTORY_VERSION,
            machines: Vec::new(),
            platforms: Vec::new(),
            autoscale_groups: Vec::new(),
            cloud_units: Vec::new(),
        }
    }
}

/// One AlmaLinux machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineEntry {
    /// Unique machine id (host name, machine-id, instance id...).
    pub id: String,
    /// `physical` or `virtual`.
    #[serde(rename = "type")]
    pub kind: MachineType,
    /// HA/FT cluster name; informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// `active` or `standby`; informational (standby nodes count too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// For a VM: the physical host it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// For a VM: the virtualization platform (system) it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// For a VM: the cloud resource-management unit it sits in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudRef>,
    /// For a VM: the autoscaling group that started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale_group: Option<String>,
}

impl MachineEntry {
    /// A machine with only its id and type set.
    pub fn new(id: impl Into<String>, kind: MachineType) -> Self {
        MachineEntry {
            id: id.into(),
            kind,
            cluster: None,
            role: None,
            host: None,
            platform: None,
            cloud: None,
            autoscale_group: None,
        }
    }
}

/// Physical server or virtual machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MachineType {
    Physical,
    Virtual,
}

/// Role in an HA/FT cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Active,
    Standby,
}

/// A cloud resource-management unit: Azure resource group, GCP project,
/// AWS account or equivalent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudRef {
    /// Cloud provider, e.g. `azure`, `aws`, `gcp`.
    pub provider: String,
    /// The resource-management unit inside that provider.
    pub unit: String,
}

impl CloudRef {
    /// `provider/unit`: the id of this unit's system in the report.
    pub fn system_id(&self) -> String {
        format!("{}/{}", self.provider, self.unit)
    }
}

/// A virtualization platform: one system, counted per physical host under
/// `platform`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformEntry {
    /// Platform id, as VMs name it in `platform`.
    pub id: String,
    /// Every physical host on which its AlmaLinux guests may run.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Peak number of its AlmaLinux guests running at once; without it the
    /// listed guests are counted.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "count_opt"
    )]
    pub peak_guests: Option<u64>,
    /// What the customer has contracted or wants priced.
    #[serde(default)]
    pub choice: Choice,
}

/// An autoscaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleGroupEntry {
    /// Group id, as VMs name it in `autoscale_group`.
    pub id: String,
    /// Most VMs the group may run at once; without it the VMs seen count.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "count_opt"
    )]
    pub max: Option<u64>,
    /// The cloud unit the group sits in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudRef>,
    /// The platform the group sits in (instead of a cloud unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// A cloud unit declaration, to set its `choice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudUnitEntry {
    /// Cloud provider, e.g. `azure`, `aws`, `gcp`.
    pub provider: String,
    /// The resource-management unit.
    pub unit: String,
    /// What the customer has contracted or wants priced.
    #[serde(default)]
    pub choice: Choice,
}

impl CloudUnitEntry {
    /// The unit this entry declares.
    pub fn cloud_ref(&self) -> CloudRef {
        CloudRef {
            provider: self.provider.clone(),
            unit: self.unit.clone(),
        }
    }
}

/// Which option a platform or cloud unit is priced with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
    /// The valid option with the lower yearly cost (tie: `per-unit`).
    #[default]
    Cheapest,
    /// `physical` per AlmaLinux host + `virtual` per guest.
    PerUnit,
    /// `platform` per physical host (cloud unit: one).
    Platform,
}

/// Counts are JSON integers >= 0; a negative one gets a message saying so
/// rather than serde's "expected u64".
fn count_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    let v: Option<i128> = Option::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(n) if n < 0 => Err(D::Error::custom(format!("must be 0 or more, got {n}"))),
        Some(n) if n > MAX_DECLARED_COUNT as i128 => Err(D::Error::custom(format!(
            "{n} is more than the largest accepted count {MAX_DECLARED_COUNT}"
        ))),
        Some(n) => Ok(Some(n as u64)),
    }
}
