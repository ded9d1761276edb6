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

/// Why an inventory was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Not JSON at all (bad syntax, truncated).
    Syntax,
    /// JSON, but a field has the wrong type, an unknown name or value, or
    /// a required field is missing.
    Schema,
    /// `version` is not 1.
    Version,
    /// An id is empty.
    EmptyId,
    /// Two entries share an id (machines, platforms, groups, cloud units),
    /// or a host is listed twice in one platform.
    Duplicate,
    /// A host is listed in two platforms, or a VM's host is in another
    /// platform than the one the VM names.
    HostInTwoPlatforms,
    /// Fields that cannot go together (a physical machine with a host, a VM
    /// both in a cloud unit and on a host, ...).
    Conflict,
    /// A host or platform entry names a machine of the wrong type.
    WrongType,
    /// Counts so large that the yearly cost does not fit in 64 bits.
    Overflow,
}

/// A rejected inventory: which field, which machine (or platform, group),
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryError {
    /// Why.
    pub kind: ErrorKind,
    /// The field path, e.g. `machines[3].type` or `platforms[0].hosts[2]`.
    pub field: String,
    /// The id of the machine (or platform, group, cloud unit) the field
    /// belongs to, when it has one.
    pub id: Option<String>,
    /// What is wrong, for a person (boxed: an error stays small).
    pub reason: Box<Reason>,
}

/// Where a VM or an autoscale group sits, as a rejection names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Place {
    #[error("platform {0:?}")]
    Platform(String),
    #[error("host {0:?}")]
    Host(String),
    #[error("cloud unit {0}/{1}")]
    Cloud(String, String),
    #[error("no system")]
    Unassigned,
}

impl Place {
    /// The place in the reader's language (ids as they are).
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            Place::Platform(p) => t!("platform {id}", id = format!("{p:?}")),
            Place::Host(h) => t!("host {id}", id = format!("{h:?}")),
            Place::Cloud(p, u) => t!("cloud unit {id}", id = format!("{p}/{u}")),
            Place::Unassigned => t!("no system").into(),
        }
    }
}

/// Why an inventory is rejected: `Display` is the English of the report's
/// errors; the terminal shows [`Reason::localized`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    #[error("must not be empty")]
    Empty,
    #[error("the counts are too large to price in 64 bits")]
    Overflow,
    #[error("duplicate machine id; first used by machines[{first}]")]
    DuplicateMachine { first: usize },
    #[error("duplicate platform id; first declared at platforms[{first}]")]
    DuplicatePlatform { first: usize },
    #[error("cloud unit declared twice; first at cloud_units[{first}]")]
    DuplicateCloudUnit { first: usize },
    #[error("duplicate autoscale group id; first at autoscale_groups[{first}]")]
    DuplicateGroup { first: usize },
    #[error(
        "host {host:?} is a virtual machine (machines[{machine}]); platform hosts are physical"
    )]
    PlatformHostIsVm { host: String, machine: usize },
    #[error("host {host:?} is listed twice (also hosts[{also}])")]
    HostListedTwice { host: String, also: usize },
    /// `first` and `second`: a platform id and where it lists the host.
    #[error(
        "host {host:?} is in two platforms, {first:?} ({first_at}) and {second:?} ({second_at})"
    )]
    HostInTwoPlatforms {
        host: String,
        first: String,
        first_at: String,
        second: String,
        second_at: String,
    },
    #[error("a group sits in a cloud unit or a platform, not both")]
    GroupCloudAndPlatform,
    /// A physical machine with a field only VMs have (`host`, `platform`,
    /// `cloud`, `autoscale_group`).
    #[error("{} (this machine is \"physical\")", physical_why(field))]
    PhysicalWith { field: &'static str },
    #[error("a VM sits in a cloud unit or on a virtualization platform, not both")]
    VmCloudAndPlatform,
    #[error("host {host:?} is a virtual machine (machines[{machine}]); a VM's host is the physical server it runs on")]
    VmHostIsVm { host: String, machine: usize },
    #[error("the VM names platform {platform:?} but its host {host:?} is in platform {other:?} ({other_at})")]
    HostInOtherPlatform {
        platform: String,
        host: String,
        other: String,
        other_at: String,
    },
    #[error("its host {host:?} also runs VMs of platform {other:?}; declare the host in one platform's hosts")]
    HostRunsOtherPlatform { host: String, other: String },
    #[error("the VM is in {vm} but its autoscale group {group:?} sits in {declared}")]
    GroupElsewhere {
        vm: Place,
        group: String,
        declared: Place,
    },
    #[error("autoscale group {group:?} has VMs in two places: this one in {here}, machine {machine:?} in {there}")]
    GroupInTwoPlaces {
        group: String,
        here: Place,
        machine: String,
        there: Place,
    },
    #[error("unsupported inventory version {version}; this alma-ext-server reads version {INVENTORY_VERSION}")]
    Version { version: u64 },
    /// The JSON parser's reason (serde's words), or a count's.
    #[error("{0}")]
    Text(String),
}

fn physical_why(field: &str) -> &'static str {
    match field {
        "host" => "only a virtual machine runs on a host",
        "platform" => "a physical machine joins a platform by being listed in platforms[].hosts",
        "cloud" => "only virtual machines are counted per cloud unit",
        _ => "only virtual machines are started by autoscale groups",
    }
}

impl From<String> for Reason {
    fn from(s: String) -> Self {
        Reason::Text(s)
    }
}

impl From<&str> for Reason {
    fn from(s: &str) -> Self {
        Reason::Text(s.to_owned())
    }
}

impl Reason {
    /// The reason in the reader's language (ids and field paths as they
    /// are; the JSON parser's own words as it says them).
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        let q = |s: &str| format!("{s:?}");
        match self {
            Reason::Empty => t!("must not be empty").into(),
            Reason::Overflow => t!("the counts are too large to price in 64 bits").into(),
            Reason::DuplicateMachine { first } => t!(
                "duplicate machine id; first used by machines[{first}]",
                first = first
            ),
            Reason::DuplicatePlatform { first } => t!(
                "duplicate platform id; first declared at platforms[{first}]",
                first = first
            ),
            Reason::DuplicateCloudUnit { first } => t!(
                "cloud unit declared twice; first at cloud_units[{first}]",
                first = first
            ),
            Reason::DuplicateGroup { first } => t!(
                "duplicate autoscale group id; first at autoscale_groups[{first}]",
                first = first
            ),
            Reason::PlatformHostIsVm { host, machine } => t!(
                "host {host} is a virtual machine (machines[{machine}]); platform hosts are physical",
                host = q(host),
                machine = machine
            ),
            Reason::HostListedTwice { host, also } => t!(
                "host {host} is listed twice (also hosts[{also}])",
                host = q(host),
                also = also
            ),
            Reason::HostInTwoPlatforms {
                host,
                first,
                first_at,
                second,
                second_at,
            } => t!(
                "host {host} is in two platforms, {first} ({first_at}) and {second} ({second_at})",
                host = q(host),
                first = q(first),
                first_at = first_at,
                second = q(second),
                second_at = second_at
            ),
            Reason::GroupCloudAndPlatform => {
                t!("a group sits in a cloud unit or a platform, not both").into()
            }
            Reason::PhysicalWith { field } => match *field {
                "host" => t!("only a virtual machine runs on a host (this machine is \"physical\")"),
                "platform" => t!("a physical machine joins a platform by being listed in platforms[].hosts (this machine is \"physical\")"),
                "cloud" => t!("only virtual machines are counted per cloud unit (this machine is \"physical\")"),
                _ => t!("only virtual machines are started by autoscale groups (this machine is \"physical\")"),
            }
            .into(),
            Reason::VmCloudAndPlatform => {
                t!("a VM sits in a cloud unit or on a virtualization platform, not both").into()
            }
            Reason::VmHostIsVm { host, machine } => t!(
                "host {host} is a virtual machine (machines[{machine}]); a VM's host is the physical server it runs on",
                host = q(host),
                machine = machine
            ),
            Reason::HostInOtherPlatform {
                platform,
                host,
                other,
                other_at,
            } => t!(
                "the VM names platform {platform} but its host {host} is in platform {other} ({other_at})",
                platform = q(platform),
                host = q(host),
                other = q(other),
                other_at = other_at
            ),
            Reason::HostRunsOtherPlatform { host, other } => t!(
                "its host {host} also runs VMs of platform {other}; declare the host in one platform's hosts",
                host = q(host),
                other = q(other)
            ),
            Reason::GroupElsewhere {
                vm,
                group,
                declared,
            } => t!(
                "the VM is in {place} but its autoscale group {group} sits in {declared}",
                place = vm.localized(),
                group = q(group),
                declared = declared.localized()
            ),
            Reason::GroupInTwoPlaces {
                group,
                here,
                machine,
                there,
            } => t!(
                "autoscale group {group} has VMs in two places: this one in {here}, machine {machine} in {there}",
                group = q(group),
                here = here.localized(),
                machine = q(machine),
                there = there.localized()
            ),
            Reason::Version { version } => t!(
                "unsupported inventory version {version}; this alma-ext-server reads version {supported}",
                version = version,
                supported = INVENTORY_VERSION
            ),
            Reason::Text(s) => crate::messages::serde_reason(s),
        }
    }
}

impl InventoryError {
    pub(crate) fn new(
        kind: ErrorKind,
        field: impl Into<String>,
        id: Option<&str>,
        reason: impl Into<Reason>,
    ) -> Self {
        InventoryError {
            kind,
            field: field.into(),
            id: id.map(str::to_owned),
            reason: Box::new(reason.into()),
        }
    }
}

impl std::fmt::Display for InventoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.field)?;
        if let Some(id) = &self.id {
            let what = match self.field.split(['[', '.']).next() {
                Some("machines") => "machine",
                Some("platforms") => "platform",
                Some("autoscale_groups") => "autoscale group",
                Some("cloud_units") => "cloud unit",
                _ => "id",
            };
            write!(f, " ({what} {id:?})")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl InventoryError {
    /// The error in the reader's language: the field path and the id as
    /// they are, what the id names in the reader's words, the reason in
    /// the engine's (or JSON parser's) own words.
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        let Some(id) = &self.id else {
            return t!(
                "{field}: {message}",
                field = self.field,
                message = self.reason.localized()
            );
        };
        let id = format!("{id:?}");
        let named = match self.field.split(['[', '.']).next() {
            Some("machines") => t!("{field} (machine {id})", field = self.field, id = id),
            Some("platforms") => t!("{field} (platform {id})", field = self.field, id = id),
            Some("autoscale_groups") => {
                t!(
                    "{field} (autoscale group {id})",
                    field = self.field,
                    id = id
                )
            }
            Some("cloud_units") => t!("{field} (cloud unit {id})", field = self.field, id = id),
            _ => t!("{field} (id {id})", field = self.field, id = id),
        };
        format!("{named}: {}", self.reason.localized())
    }
}

impl std::error::Error for InventoryError {}

/// Parse an inventory from JSON text. Checks the format (fields, types,
/// version); the engine checks the rest (ids, references) when it counts.
pub fn parse_inventory(text: &str) -> Result<Inventory, InventoryError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let inv: Result<Inventory, _> = serde_path_to_error::deserialize(&mut de);
    let inv = inv.map_err(|e| explain_serde_error(text, e))?;
    if let Err(e) = de.end() {
        return Err(InventoryError::new(
            ErrorKind::Syntax,
            "(document)",
            None,
            format!("{e} (text after the inventory object)"),
        ));
    }
    check_version(inv.version)?;
    Ok(inv)
}

/// Reject any version but 1 with a message that says what to do.
pub fn check_version(version: u64) -> Result<(), InventoryError> {
    if version == INVENTORY_VERSION {
        Ok(())
    } else {
        Err(InventoryError::new(
            ErrorKind::Version,
            "version",
            None,
            Reason::Version { version },
        ))
    }
}

/// Turn a serde error into one that names the field and the machine (or
/// platform, group) id: a person fixing a 10,000-line file needs both.
fn explain_serde_error(
    text: &str,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> InventoryError {
    let mut field = e.path().to_string();
    let inner = e.into_inner();
    let kind = if inner.is_data() {
        ErrorKind::Schema
    } else {
        ErrorKind::Syntax
    };
    let message = inner.to_string();
    if kind == ErrorKind::Syntax {
        // The path ends in `?` where the parser could not read a key.
        let field = field.trim_end_matches('?').trim_end_matches('.');
        let field = if field.is_empty() {
            "(document)".to_string()
        } else {
            field.to_string()
        };
        return InventoryError {
            kind,
            field,
            id: None,
            reason: Box::new(Reason::Text(message)),
        };
    }
    // The text is valid JSON here; look at it as a tree for context.
    let tree: Option<serde_json::Value> = serde_json::from_str(text).ok();
    if let Some(tree) = &tree {
        // A file of a future version fails on fields this one does not
        // know; the version is the useful message then.
        match tree.get("version").map(|v| v.as_u64()) {
            Some(Some(v)) if v != INVENTORY_VERSION => {
                if let Err(err) = check_version(v) {
                    return err;
                }
            }
            _ => {}
        }
    }
    // "missing field `x`" is reported at the parent; name the field itself.
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(name) = rest.split('`').next() {
            field = if field == "." {
                name.to_string()
            } else {
                format!("{field}.{name}")
            };
        }
    }
    // The top level, or a key that is the empty string (`{"": 1}`: the
    // path of an unknown field is the field's own name).
    if field == "." || field.is_empty() {
        field = "(document)".to_string();
    }
    let id = tree.as_ref().and_then(|t| owner_id(t, &field));
    InventoryError {
        kind,
        field,
        id,
        reason: Box::new(Reason::Text(message)),
    }
}

/// The id of the array element a field path starts in, e.g. the `id` of
/// `machines[3]` for `machines[3].cloud.unit`.
fn owner_id(tree: &serde_json::Value, field: &str) -> Option<String> {
    let first = field.split('.').next()?;
    let (name, rest) = first.split_once('[')?;
    let index: usize = rest.strip_suffix(']')?.parse().ok()?;
    let elem = tree.get(name)?.get(index)?;
    if let Some(id) = elem.get("id").and_then(|v| v.as_str()) {
        return Some(id.to_string());
    }
    // cloud_units have no id: provider/unit is theirs.
    let provider = elem.get("provider")?.as_str()?;
    let unit = elem.get("unit")?.as_str()?;
    Some(format!("{provider}/{unit}"))
}
