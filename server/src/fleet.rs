//! The live count: the licence inventory built from what machines report
//! (facts, `--system` labels, KVM guest lists, check-in history) and what
//! administrators declare (platforms), then priced by the licence engine.
//!
//! `inventory_from` is pure (rows in, inventory out); `build` and
//! `live_report` read the store around it.

use std::collections::{BTreeMap, BTreeSet};

/// Why the fleet could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// Reading the fleet from the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The inventory built from the store does not pass the licence
    /// engine's checks (the error names the field and machine).
    #[error("the fleet inventory is not valid: {0}")]
    Inventory(#[from] crate::license::inventory::InventoryError),
}

pub type Result<T, E = FleetError> = std::result::Result<T, E>;
use chrono::{NaiveDate, Utc};
use foldhash::HashMap as FastMap;
use serde::Serialize;

use crate::admin;
use crate::license::inventory::{Choice, CloudRef, MachineEntry, MachineType, PlatformEntry};
use crate::license::{Inventory, Report};
use crate::store::{ContractRow, FleetRow, PlatformRow, Store};

/// How the live count reads the fleet.
#[derive(Debug, Clone)]
pub struct Options {
    /// Machines silent for longer than this stop counting.
    pub age_out_days: i64,
    /// The fleet-wide peak of concurrent guests looks back this far
    /// (per-contract counts look back to the start of the contract year).
    pub window_days: i64,
    /// The day the count is made for (today by default).
    pub today: NaiveDate,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            age_out_days: 30,
            window_days: 365,
            today: Utc::now().date_naive(),
        }
    }
}

/// Everything the pure part needs.
#[derive(Debug, Clone, Default)]
pub struct FleetData {
    pub machines: Vec<FleetRow>,
    /// (host machine id, guest DMI UUID).
    pub host_guests: Vec<(String, String)>,
    pub platforms: Vec<PlatformRow>,
    /// (day, group, guests seen that day).
    pub group_daily: Vec<(i64, String, i64)>,
}

/// A note made while building the fleet's inventory or live report.
/// `Display` (and the JSON, a string) is English; the terminal shows
/// [`FleetWarning::localized`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetWarning {
    /// The agent could not tell physical from virtual.
    #[error("machine {machine}: the agent could not tell physical from virtual; counted as {counted_as}")]
    UnknownKind {
        machine: String,
        /// `physical` or `virtual`.
        counted_as: &'static str,
    },
    /// Clones that have not registered again yet.
    #[error("{0} cloned machine(s) are counted although they have not registered again yet")]
    Clones(usize),
    /// A contract needs more licences than it bought.
    #[error(
        "contract {contract} ({customer}): {needed} {product} licence(s) needed, {bought} bought{}",
        also_text(other_needed)
    )]
    OverDeployed {
        contract: String,
        customer: String,
        needed: u64,
        product: String,
        bought: u64,
        other_needed: BTreeMap<String, u64>,
    },
}

fn also_text(other: &BTreeMap<String, u64>) -> String {
    if other.is_empty() {
        return String::new();
    }
    format!("; also needed: {}", products_times(other, |k| k))
}

/// `physical × 2, virtual × 3`, each product as `word` says it.
fn products_times(other: &BTreeMap<String, u64>, word: impl Fn(&str) -> &str) -> String {
    other
        .iter()
        .map(|(k, v)| format!("{} × {v}", word(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Serialize for FleetWarning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FleetWarning {
    /// The warning in the reader's language (ids and names as they are).
    pub fn localized(&self) -> String {
        use crate::engine_link::product_word;
        use alma_ext_i18n::t;
        match self {
            FleetWarning::UnknownKind {
                machine,
                counted_as,
            } => t!(
                "machine {machine}: the agent could not tell physical from virtual; counted as {counted_as}",
                machine = machine,
                counted_as = product_word(counted_as)
            ),
            FleetWarning::Clones(n) => t!(
                "{count} cloned machine(s) are counted although they have not registered again yet",
                count = n
            ),
            FleetWarning::OverDeployed {
                contract,
                customer,
                needed,
                product,
                bought,
                other_needed,
            } => {
                let also = if other_needed.is_empty() {
                    String::new()
                } else {
                    t!(
                        "; also needed: {products}",
                        products = products_times(other_needed, product_word)
                    )
                };
                t!(
                    "contract {contract} ({customer}): {needed} {product} licence(s) needed, {bought} bought{also}",
                    contract = contract,
                    customer = customer,
                    needed = needed,
                    product = product_word(product),
                    bought = bought,
                    also = also
                )
            }
        }
    }
}

/// An inventory and the notes made while building it.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub inventory: Inventory,
    pub warnings: Vec<FleetWarning>,
    /// Current guests per platform (to share a platform's peak between
    /// contracts).
    #[serde(skip)]
    pub platform_guests: BTreeMap<String, u64>,
}

/// How platform and cloud-unit choices are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceMode {
    /// As declared (`platform set --choice`), cheapest by default.
    Declared,
    /// Forced, to price what a contract bought.
    Forced(Choice),
}

fn day_of(ts: i64) -> i64 {
    ts.div_euclid(86400)
}

fn days_since_epoch(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// Build the inventory of `data` (already filtered to the machines that
/// count). `since_day`: first day of the peak-guest window.
pub fn inventory_from(data: &FleetData, since_day: i64, mode: ChoiceMode) -> Built {
    let rows: Vec<&FleetRow> = data.machines.iter().collect();
    inventory_shared(data, &rows, since_day, mode, None)
}

/// The inventory of `rows`, a part of `data`'s fleet (one contract, or
/// all of it), with `data`'s guest lists, platforms and history. For a
/// part (`fleet_guests`: current guests per platform in the whole fleet),
/// a platform's observed peak is shared in proportion to the part's
/// current guests, and platforms without machines of this part are left
/// out.
pub fn inventory_shared(
    data: &FleetData,
    rows: &[&FleetRow],
    since_day: i64,
    mode: ChoiceMode,
    fleet_guests: Option<&BTreeMap<String, u64>>,
) -> Built {
    let mut warnings = Vec::new();

    // Ids: the host name where it is unique (what admins write in
    // `platform set --hosts`), else host name + server id. Kept by row
    // index: the fleet has 100,000s of rows and this runs per contract.
    let mut name_count: FastMap<&str, u32> = FastMap::default();
    name_count.reserve(rows.len());
    for r in rows {
        if let Some(h) = r.hostname.as_deref().filter(|h| !h.is_empty()) {
            *name_count.entry(h).or_default() += 1;
        }
    }
    let inv_ids: Vec<String> = rows
        .iter()
        .map(|r| match r.hostname.as_deref().filter(|h| !h.is_empty()) {
            Some(h) if name_count[h] == 1 => h.to_string(),
            Some(h) => format!("{h}~{}", r.id),
            None => r.id.clone(),
        })
        .collect();
    let index: FastMap<&str, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();

    let kind_of = |r: &FleetRow| -> MachineType {
        match r.kind.as_str() {
            "physical" => MachineType::Physical,
            "virtual" => MachineType::Virtual,
            // Unknown: a hypervisor name means a VM; otherwise price it as
            // physical, the conservative reading.
            _ if r.hypervisor.is_some() => MachineType::Virtual,
            _ => MachineType::Physical,
        }
    };
    for (i, r) in rows.iter().enumerate() {
        if r.kind == "physical" || r.kind == "virtual" {
            continue;
        }
        warnings.push(FleetWarning::UnknownKind {
            machine: inv_ids[i].to_string(),
            counted_as: if kind_of(r) == MachineType::Virtual {
                "virtual"
            } else {
                "physical"
            },
        });
    }

    // Guest -> host (row index), from the hosts' guest lists (DMI UUID). A
    // guest listed by several hosts (migration) goes to the host heard
    // from last.
    let mut host_of_uuid: FastMap<&str, usize> = FastMap::default();
    for (host, uuid) in &data.host_guests {
        let Some(&h) = index.get(host.as_str()) else {
            continue;
        };
        match host_of_uuid.get(uuid.as_str()) {
            Some(&prev) if rows[prev].last_seen >= rows[h].last_seen => {}
            _ => {
                host_of_uuid.insert(uuid.as_str(), h);
            }
        }
    }

    let declared: BTreeMap<&str, &PlatformRow> =
        data.platforms.iter().map(|p| (p.id.as_str(), p)).collect();
    let host_in_declared: FastMap<&str, &str> = data
        .platforms
        .iter()
        .flat_map(|p| p.hosts.iter().map(move |h| (h.as_str(), p.id.as_str())))
        .collect();
    // A label is a platform when declared, or when a VM carries it;
    // otherwise (only physical machines) it names an HA cluster.
    let mut platform_labels: BTreeSet<&str> = declared.keys().copied().collect();
    for r in rows {
        if let Some(l) = r.system_label.as_deref() {
            if kind_of(r) == MachineType::Virtual && !is_cloud(r) {
                platform_labels.insert(l);
            }
        }
    }

    let mut machines = Vec::with_capacity(rows.len());
    // platform id -> hosts found (labelled physical machines, hosts of its guests)
    let mut found_hosts: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // platform id -> current guests
    let mut guests_now: FastMap<&str, u64> = FastMap::default();
    let mut cloud_units: BTreeSet<CloudRef> = BTreeSet::new();
    for (i, r) in rows.iter().enumerate() {
        let id = &inv_ids[i];
        let kind = kind_of(r);
        let mut m = MachineEntry::new(id.clone(), kind);
        m.cluster = r.cluster.clone();
        let label = r.system_label.as_deref();
        match kind {
            MachineType::Physical => {
                if let Some(l) = label {
                    if platform_labels.contains(l) {
                        if host_in_declared.get(id.as_str()).is_none_or(|p| *p == l) {
                            found_hosts.entry(l).or_default().insert(id.clone());
                        }
                    } else if m.cluster.is_none() {
                        m.cluster = Some(l.to_string());
                    }
                }
            }
            MachineType::Virtual => {
                let host = r
                    .dmi_uuid
                    .as_deref()
                    .and_then(|u| host_of_uuid.get(u))
                    .map(|&h| &inv_ids[h]);
                if let Some(c) = cloud_ref(r) {
                    cloud_units.insert(c.clone());
                    m.cloud = Some(c);
                } else if let Some(l) = label {
                    m.platform = Some(l.to_string());
                    *guests_now.entry(l).or_default() += 1;
                    if let Some(h) = host {
                        if host_in_declared.get(h.as_str()).is_none_or(|p| *p == l) {
                            found_hosts.entry(l).or_default().insert(h.clone());
                        }
                    }
                } else if let Some(h) = host {
                    if let Some(p) = host_in_declared.get(h.as_str()) {
                        *guests_now.entry(p).or_default() += 1;
                    }
                    m.host = Some(h.clone());
                }
            }
        }
        machines.push(m);
    }
    let current_guests: BTreeMap<String, u64> = guests_now
        .into_iter()
        .map(|(p, n)| (p.to_string(), n))
        .collect();

    // Peak concurrent guests per platform: per day, the guests seen under
    // its label or on one of its hosts; the highest day wins.
    let host_platform = |grp: &str| -> Option<String> {
        if let Some(l) = grp.strip_prefix("s:") {
            return Some(l.to_string());
        }
        let h = grp.strip_prefix("h:")?;
        let hid = &inv_ids[*index.get(h)?];
        if let Some(p) = host_in_declared.get(hid.as_str()) {
            return Some(p.to_string());
        }
        found_hosts
            .iter()
            .find(|(_, hs)| hs.contains(hid))
            .map(|(p, _)| p.to_string())
    };
    let mut per_day: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for (day, grp, n) in data.group_daily.iter().filter(|(d, _, _)| *d >= since_day) {
        if let Some(p) = host_platform(grp) {
            *per_day.entry((p, *day)).or_default() += n;
        }
    }
    let mut peak: BTreeMap<String, u64> = BTreeMap::new();
    for ((p, _), n) in per_day {
        let e = peak.entry(p).or_default();
        *e = (*e).max(n.max(0) as u64);
    }

    let choice_for = |declared: Choice| match mode {
        ChoiceMode::Declared => declared,
        ChoiceMode::Forced(c) => c,
    };
    let mut platforms = Vec::new();
    for id in &platform_labels {
        let mut hosts: Vec<String> = declared
            .get(id)
            .map(|p| p.hosts.clone())
            .unwrap_or_default();
        for h in found_hosts.get(id).into_iter().flatten() {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        let declared_choice = declared
            .get(id)
            .and_then(|p| {
                serde_json::from_value::<Choice>(serde_json::Value::String(p.choice.clone())).ok()
            })
            .unwrap_or_default();
        let current = current_guests.get(*id).copied().unwrap_or(0);
        let mut peak_guests = peak.get(*id).map(|p| (*p).max(current));
        if let Some(fleet) = fleet_guests {
            if current == 0 && found_hosts.get(id).is_none_or(|h| h.is_empty()) {
                continue;
            }
            let all = fleet.get(*id).copied().unwrap_or(current).max(current);
            peak_guests = peak_guests.map(|p| {
                if all == 0 {
                    current
                } else {
                    p.saturating_mul(current).div_ceil(all).max(current)
                }
            });
        }
        platforms.push(PlatformEntry {
            id: id.to_string(),
            hosts,
            peak_guests,
            choice: choice_for(declared_choice),
        });
    }
    let cloud_units = match mode {
        ChoiceMode::Declared => Vec::new(),
        ChoiceMode::Forced(c) => cloud_units
            .into_iter()
            .map(|u| crate::license::inventory::CloudUnitEntry {
                provider: u.provider,
                unit: u.unit,
                choice: c,
            })
            .collect(),
    };
    let clones = rows.iter().filter(|r| r.state == "clone").count();
    if clones > 0 {
        warnings.push(FleetWarning::Clones(clones));
    }
    Built {
        inventory: Inventory {
            machines,
            platforms,
            cloud_units,
            ..Inventory::default()
        },
        warnings,
        platform_guests: current_guests,
    }
}

fn is_cloud(r: &FleetRow) -> bool {
    cloud_ref(r).is_some()
}

/// The cloud resource-management unit of a VM: the unit from the cloud's
/// metadata, else the account.
fn cloud_ref(r: &FleetRow) -> Option<CloudRef> {
    let provider = r.cloud_provider.clone()?;
    let unit = r.cloud_unit.clone().or_else(|| r.cloud_account.clone())?;
    Some(CloudRef { provider, unit })
}

/// Read what the live count needs from the store.
pub async fn load(store: &Store, opts: &Options) -> Result<FleetData> {
    let since = (days_since_epoch(opts.today) - opts.age_out_days) * 86400;
    let since_day = days_since_epoch(opts.today) - opts.window_days.max(366);
    Ok(FleetData {
        machines: store.fleet(since).await?,
        host_guests: store.host_guests().await?,
        platforms: store.list_platforms().await?,
        group_daily: store.group_daily(since_day).await?,
    })
}

/// The fleet-wide inventory (`alma-ext-server inventory`).
pub async fn build(store: &Store, opts: &Options) -> Result<Built> {
    let data = load(store, opts).await?;
    let since_day = days_since_epoch(opts.today) - opts.window_days;
    Ok(inventory_from(&data, since_day, ChoiceMode::Declared))
}

/// One contract's inventory, priced as the contract was bought
/// (`inventory --contract`).
pub async fn build_for_contract(store: &Store, opts: &Options, c: &ContractRow) -> Result<Built> {
    let data = load(store, opts).await?;
    let fleet_guests = inventory_from(&data, 0, ChoiceMode::Declared).platform_guests;
    let rows: Vec<&FleetRow> = data
        .machines
        .iter()
        .filter(|r| r.contract_id == c.id)
        .collect();
    Ok(contract_inventory(
        &data,
        &rows,
        c,
        opts.today,
        &fleet_guests,
    ))
}

fn contract_inventory(
    data: &FleetData,
    rows: &[&FleetRow],
    c: &ContractRow,
    today: NaiveDate,
    fleet_guests: &BTreeMap<String, u64>,
) -> Built {
    let choice = if c.product == "platform" {
        Choice::Platform
    } else {
        Choice::PerUnit
    };
    let since_day = days_since_epoch(admin::contract_year_start(c, today));
    inventory_shared(
        data,
        rows,
        since_day,
        ChoiceMode::Forced(choice),
        Some(fleet_guests),
    )
}

/// Licences bought against licences needed, for one contract.
#[derive(Debug, Clone, Serialize)]
pub struct ContractUsage {
    pub contract: String,
    pub customer: String,
    pub product: String,
    pub status: alma_ext_proto::api::EntitlementStatus,
    pub ends: NaiveDate,
    /// Machines of this contract that count (registered or clones, not aged out).
    pub machines: u64,
    /// Licences bought.
    pub bought: u64,
    /// Licences of the contract's product the machines need.
    pub needed: u64,
    /// Needed licences of the other products (machines the product does
    /// not cover, e.g. physical servers under a virtual contract).
    pub other_needed: BTreeMap<String, u64>,
    /// True when more is needed than bought.
    pub over_deployed: bool,
}

/// The live report: the fleet priced by the engine, and per contract.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    pub version: u32,
    pub generated_at: chrono::DateTime<Utc>,
    pub age_out_days: i64,
    pub window_days: i64,
    pub machines: u64,
    pub clones: u64,
    pub fleet: Report,
    pub contracts: Vec<ContractUsage>,
    pub warnings: Vec<FleetWarning>,
}

/// Run the licence engine. The inventory the server builds is checked
/// like a file's: an error names the field and machine.
pub fn run_engine(inv: &Inventory) -> Result<Report> {
    Ok(crate::license::engine::report(inv)?)
}

/// Per-contract use, from the fleet data.
pub fn contract_usage(
    data: &FleetData,
    contracts: &[ContractRow],
    today: NaiveDate,
) -> Result<Vec<ContractUsage>> {
    let fleet_guests = inventory_from(data, 0, ChoiceMode::Declared).platform_guests;
    contract_usage_with(data, contracts, today, &fleet_guests)
}

fn contract_usage_with(
    data: &FleetData,
    contracts: &[ContractRow],
    today: NaiveDate,
    fleet_guests: &BTreeMap<String, u64>,
) -> Result<Vec<ContractUsage>> {
    let mut by_contract: FastMap<&str, Vec<&FleetRow>> = FastMap::default();
    for r in &data.machines {
        by_contract
            .entry(r.contract_id.as_str())
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for c in contracts {
        let rows = by_contract
            .get(c.id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let ent = admin::entitlement(c, today);
        if rows.is_empty() && ent.status != alma_ext_proto::api::EntitlementStatus::Active {
            continue;
        }
        let built = contract_inventory(data, rows, c, today, fleet_guests);
        let report = run_engine(&built.inventory)?;
        let t = &report.total;
        let mut needed_by: BTreeMap<String, u64> = BTreeMap::new();
        needed_by.insert("physical".into(), t.physical);
        needed_by.insert("virtual".into(), t.r#virtual);
        needed_by.insert("platform".into(), t.platform);
        let needed = needed_by.remove(&c.product).unwrap_or(0);
        needed_by.retain(|_, v| *v > 0);
        let bought = c.quantity.max(0) as u64;
        out.push(ContractUsage {
            contract: c.id.clone(),
            customer: c.customer.clone(),
            product: c.product.clone(),
            status: ent.status,
            ends: ent.ends,
            machines: rows.len() as u64,
            bought,
            needed,
            over_deployed: needed > bought || !needed_by.is_empty(),
            other_needed: needed_by,
        });
    }
    Ok(out)
}

/// `alma-ext-server licenses`: the live report.
pub async fn live_report(store: &Store, opts: &Options) -> Result<LiveReport> {
    let data = load(store, opts).await?;
    let contracts = store.list_contracts().await?;
    report_from(&data, &contracts, opts)
}

/// The live report of `data` (pure).
pub fn report_from(
    data: &FleetData,
    contracts: &[ContractRow],
    opts: &Options,
) -> Result<LiveReport> {
    let since_day = days_since_epoch(opts.today) - opts.window_days;
    let built = inventory_from(data, since_day, ChoiceMode::Declared);
    let fleet = run_engine(&built.inventory)?;
    let usage = contract_usage_with(data, contracts, opts.today, &built.platform_guests)?;
    let mut warnings = built.warnings;
    for u in &usage {
        if u.over_deployed {
            warnings.push(FleetWarning::OverDeployed {
                contract: u.contract.clone(),
                customer: u.customer.clone(),
                needed: u.needed,
                product: u.product.clone(),
                bought: u.bought,
                other_needed: u.other_needed.clone(),
            });
        }
    }
    Ok(LiveReport {
        version: 1,
        generated_at: Utc::now(),
        age_out_days: opts.age_out_days,
        window_days: opts.window_days,
        machines: data.machines.len() as u64,
        clones: data.machines.iter().filter(|r| r.state == "clone").count() as u64,
        fleet,
        contracts: usage,
        warnings,
    })
}

/// The day a Unix time falls on, for tests.
pub fn day_index(ts: i64) -> i64 {
    day_of(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, kind: &str) -> FleetRow {
        FleetRow {
            id: format!("m-{id}"),
            contract_id: "c".into(),
            state: "active".into(),
            system_label: None,
            hostname: Some(id.into()),
            dmi_uuid: Some(format!("uuid-{id}")),
            kind: kind.into(),
            hypervisor: None,
            hypervisor_host: false,
            cloud_provider: None,
            cloud_account: None,
            cloud_unit: None,
            cluster: None,
            last_seen: 100,
            clone_of: None,
        }
    }

    #[test]
    fn guests_find_their_kvm_host_by_uuid() {
        let mut data = FleetData::default();
        data.machines.push(row("kvm1", "physical"));
        data.machines.push(row("vm1", "virtual"));
        data.machines.push(row("vm2", "virtual"));
        data.host_guests.push(("m-kvm1".into(), "uuid-vm1".into()));
        let b = inventory_from(&data, 0, ChoiceMode::Declared);
        let vm1 = b.inventory.machines.iter().find(|m| m.id == "vm1").unwrap();
        assert_eq!(vm1.host.as_deref(), Some("kvm1"));
        let vm2 = b.inventory.machines.iter().find(|m| m.id == "vm2").unwrap();
        assert_eq!(vm2.host, None);
    }

    #[test]
    fn labels_make_platforms_and_history_gives_the_peak() {
        let mut data = FleetData::default();
        for i in 0..3 {
            let mut r = row(&format!("g{i}"), "virtual");
            r.system_label = Some("vc".into());
            data.machines.push(r);
        }
        let mut esx = row("db1", "physical");
        esx.system_label = Some("db-ha".into());
        data.machines.push(esx);
        data.group_daily = vec![
            (10, "s:vc".into(), 2),
            (11, "s:vc".into(), 6),
            (5, "s:vc".into(), 9),
        ];
        let b = inventory_from(&data, 10, ChoiceMode::Declared);
        assert_eq!(b.inventory.platforms.len(), 1);
        assert_eq!(b.inventory.platforms[0].id, "vc");
        assert_eq!(b.inventory.platforms[0].peak_guests, Some(6));
        let db1 = b.inventory.machines.iter().find(|m| m.id == "db1").unwrap();
        assert_eq!(db1.cluster.as_deref(), Some("db-ha"));
    }

    #[test]
    fn cloud_unit_from_facts_and_duplicate_hostnames() {
        let mut data = FleetData::default();
        let mut a = row("web", "virtual");
        a.cloud_provider = Some("azure".into());
        a.cloud_unit = Some("rg-prod".into());
        let mut b = row("web", "virtual");
        b.id = "m-other".into();
        b.cloud_provider = Some("aws".into());
        b.cloud_account = Some("1234".into());
        data.machines = vec![a, b];
        let built = inventory_from(&data, 0, ChoiceMode::Declared);
        let ids: Vec<_> = built
            .inventory
            .machines
            .iter()
            .map(|m| m.id.clone())
            .collect();
        assert_eq!(ids, vec!["web~m-web", "web~m-other"]);
        assert_eq!(
            built.inventory.machines[1].cloud.as_ref().unwrap().unit,
            "1234"
        );
    }
}
