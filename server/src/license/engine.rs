//! The licence engine: a pure function from an inventory to a report,
//! following `docs/inventory.md` (rules restated from the vendor's service
//! description in `licensing.md`).
//!
//! Every lookup goes through a hash map built once, so the engine is linear
//! in the size of the inventory: the server runs it on 100,000 machines.

// foldhash: several times faster than SipHash on the 100,000s of short
// ids of a fleet, and still seeded per process (machine-chosen host names
// cannot be tuned to collide).
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::inventory::{
    check_version, Choice, CloudRef, ErrorKind, Inventory, InventoryError, MachineType, Place,
    Reason,
};
use super::report::{
    AutoscaleCount, LicenceOption, Licences, OptionCost, PlatformBlocker, Report, SystemKind,
    SystemReport, Warning, PRICE_PHYSICAL_JPY, PRICE_PLATFORM_JPY, PRICE_VIRTUAL_JPY,
    REPORT_VERSION,
};

/// Fewest AlmaLinux guests for which `platform` may be chosen (rule 3).
pub const PLATFORM_MIN_GUESTS: u64 = 5;

/// Id of the system of VMs with no platform, host or cloud unit.
pub const UNASSIGNED_SYSTEM_ID: &str = "unassigned";

/// Where a VM (or an autoscale group) belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key<'a> {
    Platform(&'a str),
    Host(&'a str),
    Cloud(&'a str, &'a str),
    Unassigned,
}

/// A system while it is being filled.
struct Sys<'a> {
    key: Key<'a>,
    /// Declared platform index, when this is a declared platform.
    declared: Option<usize>,
    choice: Choice,
    /// Where the choice was set, for warnings.
    choice_field: Option<String>,
    peak_guests: Option<u64>,
    /// Hosts declared in `platforms[].hosts`.
    declared_hosts: u64,
    /// Hosts added because a VM of this platform runs there.
    extra_hosts: Vec<&'a str>,
    almalinux_hosts: u64,
    /// VMs outside autoscale groups.
    vms: u64,
    /// Autoscale group indices (into the resolved group list).
    groups: Vec<usize>,
}

impl<'a> Sys<'a> {
    fn new(key: Key<'a>) -> Self {
        Sys {
            key,
            declared: None,
            choice: Choice::Cheapest,
            choice_field: None,
            peak_guests: None,
            declared_hosts: 0,
            extra_hosts: Vec::new(),
            almalinux_hosts: 0,
            vms: 0,
            groups: Vec::new(),
        }
    }
}

/// An autoscale group, declared or only named by its VMs.
struct Group<'a> {
    id: &'a str,
    max: Option<u64>,
    /// Placement declared on the group.
    declared: Option<Key<'a>>,
    /// Placement learnt from its VMs, with the VM index it was learnt from.
    inferred: Option<(Key<'a>, usize)>,
    observed: u64,
}

fn err(kind: ErrorKind, field: String, id: &str, reason: Reason) -> InventoryError {
    InventoryError::new(kind, field, Some(id), reason)
}

fn non_empty(value: &str, field: impl FnOnce() -> String, id: &str) -> Result<(), InventoryError> {
    if value.trim().is_empty() {
        Err(err(ErrorKind::EmptyId, field(), id, Reason::Empty))
    } else {
        Ok(())
    }
}

fn overflow() -> InventoryError {
    InventoryError::new(ErrorKind::Overflow, "total", None, Reason::Overflow)
}

/// Count the licences an inventory needs: every system, its valid options
/// with their yearly cost, the chosen option, the total and warnings.
///
/// Errors name the field path and the id of the machine (or platform,
/// group) it belongs to.
pub fn report(inv: &Inventory) -> Result<Report, InventoryError> {
    check_version(inv.version)?;
    let mut warnings: Vec<Warning> = Vec::new();

    // Machines by id.
    let mut machines: HashMap<&str, usize> = HashMap::with_capacity(inv.machines.len());
    for (i, m) in inv.machines.iter().enumerate() {
        non_empty(&m.id, || format!("machines[{i}].id"), &m.id)?;
        if let Some(first) = machines.insert(m.id.as_str(), i) {
            return Err(err(
                ErrorKind::Duplicate,
                format!("machines[{i}].id"),
                &m.id,
                Reason::DuplicateMachine { first },
            ));
        }
    }

    // Declared platforms and which platform each host belongs to.
    let mut platforms: HashMap<&str, usize> = HashMap::new();
    let mut host_platform: HashMap<&str, (usize, usize)> = HashMap::new();
    for (p, plat) in inv.platforms.iter().enumerate() {
        non_empty(&plat.id, || format!("platforms[{p}].id"), &plat.id)?;
        if let Some(first) = platforms.insert(plat.id.as_str(), p) {
            return Err(err(
                ErrorKind::Duplicate,
                format!("platforms[{p}].id"),
                &plat.id,
                Reason::DuplicatePlatform { first },
            ));
        }
        for (h, host) in plat.hosts.iter().enumerate() {
            non_empty(host, || format!("platforms[{p}].hosts[{h}]"), &plat.id)?;
            if let Some(&mi) = machines.get(host.as_str()) {
                if inv.machines[mi].kind == MachineType::Virtual {
                    return Err(err(
                        ErrorKind::WrongType,
                        format!("platforms[{p}].hosts[{h}]"),
                        &plat.id,
                        Reason::PlatformHostIsVm {
                            host: host.clone(),
                            machine: mi,
                        },
                    ));
                }
            }
            if let Some(&(q, k)) = host_platform.get(host.as_str()) {
                if q == p {
                    return Err(err(
                        ErrorKind::Duplicate,
                        format!("platforms[{p}].hosts[{h}]"),
                        &plat.id,
                        Reason::HostListedTwice {
                            host: host.clone(),
                            also: k,
                        },
                    ));
                }
                let other = &inv.platforms[q].id;
                let both = Reason::HostInTwoPlatforms {
                    host: host.clone(),
                    first: other.clone(),
                    first_at: format!("platforms[{q}].hosts[{k}]"),
                    second: plat.id.clone(),
                    second_at: format!("platforms[{p}].hosts[{h}]"),
                };
                // Name a VM on that host when there is one: that is the
                // machine whose count is ambiguous.
                if let Some((vi, vm)) = inv
                    .machines
                    .iter()
                    .enumerate()
                    .find(|(_, m)| m.host.as_deref() == Some(host.as_str()))
                {
                    return Err(err(
                        ErrorKind::HostInTwoPlatforms,
                        format!("machines[{vi}].host"),
                        &vm.id,
                        both,
                    ));
                }
                return Err(err(
                    ErrorKind::HostInTwoPlatforms,
                    format!("platforms[{p}].hosts[{h}]"),
                    &plat.id,
                    both,
                ));
            }
            host_platform.insert(host.as_str(), (p, h));
        }
    }

    // Systems, keyed by where their VMs belong.
    let mut systems: Vec<Sys> = Vec::new();
    let mut by_key: HashMap<Key, usize> = HashMap::new();

    for (p, plat) in inv.platforms.iter().enumerate() {
        let mut s = Sys::new(Key::Platform(&plat.id));
        s.declared = Some(p);
        s.choice = plat.choice;
        s.choice_field = Some(format!("platforms[{p}].choice"));
        s.peak_guests = plat.peak_guests;
        s.declared_hosts = plat.hosts.len() as u64;
        by_key.insert(s.key, systems.len());
        systems.push(s);
    }
    let mut cloud_seen: HashMap<(&str, &str), usize> = HashMap::new();
    for (c, unit) in inv.cloud_units.iter().enumerate() {
        let label = format!("{}/{}", unit.provider, unit.unit);
        non_empty(
            &unit.provider,
            || format!("cloud_units[{c}].provider"),
            &label,
        )?;
        non_empty(&unit.unit, || format!("cloud_units[{c}].unit"), &label)?;
        let k = (unit.provider.as_str(), unit.unit.as_str());
        if let Some(first) = cloud_seen.insert(k, c) {
            return Err(err(
                ErrorKind::Duplicate,
                format!("cloud_units[{c}]"),
                &label,
                Reason::DuplicateCloudUnit { first },
            ));
        }
        let mut s = Sys::new(Key::Cloud(k.0, k.1));
        s.choice = unit.choice;
        s.choice_field = Some(format!("cloud_units[{c}].choice"));
        by_key.insert(s.key, systems.len());
        systems.push(s);
    }

    // Autoscale groups.
    let mut groups: Vec<Group> = Vec::with_capacity(inv.autoscale_groups.len());
    let mut group_idx: HashMap<&str, usize> = HashMap::new();
    for (g, grp) in inv.autoscale_groups.iter().enumerate() {
        non_empty(&grp.id, || format!("autoscale_groups[{g}].id"), &grp.id)?;
        if let Some(first) = group_idx.insert(grp.id.as_str(), g) {
            return Err(err(
                ErrorKind::Duplicate,
                format!("autoscale_groups[{g}].id"),
                &grp.id,
                Reason::DuplicateGroup { first },
            ));
        }
        let declared = match (&grp.cloud, &grp.platform) {
            (Some(_), Some(_)) => {
                return Err(err(
                    ErrorKind::Conflict,
                    format!("autoscale_groups[{g}].platform"),
                    &grp.id,
                    Reason::GroupCloudAndPlatform,
                ))
            }
            (Some(c), None) => {
                cloud_ref_ok(c, || format!("autoscale_groups[{g}].cloud"), &grp.id)?;
                Some(Key::Cloud(&c.provider, &c.unit))
            }
            (None, Some(p)) => {
                non_empty(p, || format!("autoscale_groups[{g}].platform"), &grp.id)?;
                Some(Key::Platform(p))
            }
            (None, None) => None,
        };
        groups.push(Group {
            id: &grp.id,
            max: grp.max,
            declared,
            inferred: None,
            observed: 0,
        });
    }

    // First pass over VMs: each VM's own placement, and autoscale groups'
    // placement learnt from their VMs (so the order of machines does not
    // matter).
    let mut own: Vec<Option<Key>> = vec![None; inv.machines.len()];
    let mut vm_group: Vec<Option<usize>> = vec![None; inv.machines.len()];
    // Hosts that a VM adds to the platform it names (host in no platform).
    let mut extra_host_platform: HashMap<&str, &str> = HashMap::new();
    for (i, m) in inv.machines.iter().enumerate() {
        let f = |name: &str| format!("machines[{i}].{name}");
        if m.kind == MachineType::Physical {
            let bad = [
                ("host", m.host.is_some()),
                ("platform", m.platform.is_some()),
                ("cloud", m.cloud.is_some()),
                ("autoscale_group", m.autoscale_group.is_some()),
            ];
            if let Some(&(name, _)) = bad.iter().find(|b| b.1) {
                return Err(err(
                    ErrorKind::Conflict,
                    f(name),
                    &m.id,
                    Reason::PhysicalWith { field: name },
                ));
            }
            continue;
        }
        if let Some(c) = &m.cloud {
            cloud_ref_ok(c, || f("cloud"), &m.id)?;
            if m.host.is_some() || m.platform.is_some() {
                let other = if m.host.is_some() { "host" } else { "platform" };
                return Err(err(
                    ErrorKind::Conflict,
                    f(other),
                    &m.id,
                    Reason::VmCloudAndPlatform,
                ));
            }
        }
        if let Some(p) = &m.platform {
            non_empty(p, || f("platform"), &m.id)?;
        }
        let key = if let Some(h) = &m.host {
            non_empty(h, || f("host"), &m.id)?;
            if let Some(&hi) = machines.get(h.as_str()) {
                if inv.machines[hi].kind == MachineType::Virtual {
                    return Err(err(
                        ErrorKind::WrongType,
                        f("host"),
                        &m.id,
                        Reason::VmHostIsVm {
                            host: h.clone(),
                            machine: hi,
                        },
                    ));
                }
            }
            match (host_platform.get(h.as_str()), &m.platform) {
                (Some(&(q, k)), Some(p)) if inv.platforms[q].id != *p => {
                    return Err(err(
                        ErrorKind::HostInTwoPlatforms,
                        f("platform"),
                        &m.id,
                        Reason::HostInOtherPlatform {
                            platform: p.clone(),
                            host: h.clone(),
                            other: inv.platforms[q].id.clone(),
                            other_at: format!("platforms[{q}].hosts[{k}]"),
                        },
                    ));
                }
                (Some(&(q, _)), _) => Some(Key::Platform(&inv.platforms[q].id)),
                (None, Some(p)) => {
                    match extra_host_platform.get(h.as_str()) {
                        Some(other) if *other != p.as_str() => {
                            return Err(err(
                                ErrorKind::HostInTwoPlatforms,
                                f("platform"),
                                &m.id,
                                Reason::HostRunsOtherPlatform {
                                    host: h.clone(),
                                    other: other.to_string(),
                                },
                            ));
                        }
                        Some(_) => {}
                        None => {
                            extra_host_platform.insert(h.as_str(), p.as_str());
                        }
                    }
                    Some(Key::Platform(p))
                }
                (None, None) => Some(Key::Host(h)),
            }
        } else if let Some(p) = &m.platform {
            Some(Key::Platform(p))
        } else {
            m.cloud.as_ref().map(|c| Key::Cloud(&c.provider, &c.unit))
        };
        own[i] = key;

        if let Some(gid) = &m.autoscale_group {
            non_empty(gid, || f("autoscale_group"), &m.id)?;
            let gi = match group_idx.get(gid.as_str()) {
                Some(&gi) => gi,
                None => {
                    warnings.push(Warning::GroupNotDeclared {
                        group: gid.to_string(),
                        machine: m.id.to_string(),
                    });
                    let gi = groups.len();
                    groups.push(Group {
                        id: gid,
                        max: None,
                        declared: None,
                        inferred: None,
                        observed: 0,
                    });
                    group_idx.insert(gid.as_str(), gi);
                    gi
                }
            };
            vm_group[i] = Some(gi);
            let grp = &mut groups[gi];
            grp.observed += 1;
            if let Some(k) = key {
                if let Some(d) = grp.declared {
                    if d != k {
                        return Err(err(
                            ErrorKind::Conflict,
                            f("autoscale_group"),
                            &m.id,
                            Reason::GroupElsewhere {
                                vm: place(k),
                                group: gid.to_string(),
                                declared: place(d),
                            },
                        ));
                    }
                }
                match grp.inferred {
                    Some((k0, i0)) if k0 != k => {
                        return Err(err(
                            ErrorKind::Conflict,
                            f("autoscale_group"),
                            &m.id,
                            Reason::GroupInTwoPlaces {
                                group: gid.to_string(),
                                here: place(k),
                                machine: inv.machines[i0].id.clone(),
                                there: place(k0),
                            },
                        ));
                    }
                    Some(_) => {}
                    None => grp.inferred = Some((k, i)),
                }
            }
        }
    }

    // Second pass: put VMs and groups into systems.
    fn sys_for<'a>(
        key: Key<'a>,
        systems: &mut Vec<Sys<'a>>,
        by_key: &mut HashMap<Key<'a>, usize>,
    ) -> usize {
        *by_key.entry(key).or_insert_with(|| {
            systems.push(Sys::new(key));
            systems.len() - 1
        })
    }
    let mut undeclared_platform_named: HashSet<&str> = HashSet::new();
    let mut extra_added: HashSet<&str> = HashSet::new();
    for (i, m) in inv.machines.iter().enumerate() {
        if m.kind == MachineType::Physical {
            continue;
        }
        let group_key = vm_group[i].map(|gi| {
            let g = &groups[gi];
            g.declared
                .or(g.inferred.map(|(k, _)| k))
                .unwrap_or(Key::Unassigned)
        });
        let key = own[i].or(group_key).unwrap_or(Key::Unassigned);
        if let Key::Platform(p) = key {
            if !platforms.contains_key(p) && undeclared_platform_named.insert(p) {
                warnings.push(Warning::PlatformNotDeclared {
                    platform: p.to_string(),
                    machine: m.id.to_string(),
                });
            }
        }
        let si = sys_for(key, &mut systems, &mut by_key);
        if vm_group[i].is_none() {
            systems[si].vms += 1;
        }
        if let (Some(h), Key::Platform(p)) = (&m.host, key) {
            // A hash set, not `extra_hosts.contains`: thousands of VMs may
            // each name a host missing from their platform.
            if !host_platform.contains_key(h.as_str()) && extra_added.insert(h.as_str()) {
                systems[si].extra_hosts.push(h);
                warnings.push(Warning::HostNotInPlatform {
                    host: h.to_string(),
                    machine: m.id.to_string(),
                    platform: p.to_string(),
                });
            }
        }
    }
    for (gi, g) in groups.iter().enumerate() {
        let key = g
            .declared
            .or(g.inferred.map(|(k, _)| k))
            .unwrap_or(Key::Unassigned);
        if let Key::Platform(p) = key {
            if !platforms.contains_key(p) && undeclared_platform_named.insert(p) {
                warnings.push(Warning::GroupPlatformNotDeclared {
                    platform: p.to_string(),
                    group: g.id.to_string(),
                });
            }
        }
        let si = sys_for(key, &mut systems, &mut by_key);
        systems[si].groups.push(gi);
        if let Some(max) = g.max {
            if g.observed > max {
                warnings.push(Warning::GroupOverMax {
                    group: g.id.to_string(),
                    observed: g.observed,
                    max,
                });
            }
        }
    }

    // Physical machines: AlmaLinux hosts of a platform, KVM hosts, or
    // standalone servers.
    let mut standalone: Vec<&str> = Vec::new();
    for m in inv
        .machines
        .iter()
        .filter(|m| m.kind == MachineType::Physical)
    {
        let id = m.id.as_str();
        let key = if let Some(&(q, _)) = host_platform.get(id) {
            Some(Key::Platform(&inv.platforms[q].id))
        } else if let Some(p) = extra_host_platform.get(id) {
            Some(Key::Platform(p))
        } else if by_key.contains_key(&Key::Host(id)) {
            Some(Key::Host(id))
        } else {
            None
        };
        match key {
            Some(k) => systems[by_key[&k]].almalinux_hosts += 1,
            None => standalone.push(id),
        }
    }

    // Price every system.
    let mut out: Vec<(u8, SystemReport)> = Vec::with_capacity(systems.len() + standalone.len());
    for s in &systems {
        let mut autoscale = Vec::with_capacity(s.groups.len());
        let mut listed = s.vms;
        for &gi in &s.groups {
            let g = &groups[gi];
            let counted = g.max.unwrap_or(0).max(g.observed);
            listed = listed.checked_add(counted).ok_or_else(overflow)?;
            autoscale.push(AutoscaleCount {
                id: g.id.to_string(),
                max: g.max,
                observed: g.observed,
                counted,
            });
        }
        let (id, kind, hosts) = match s.key {
            Key::Platform(p) => (
                p.to_string(),
                SystemKind::Platform,
                s.declared_hosts + s.extra_hosts.len() as u64,
            ),
            Key::Host(h) => {
                let kind = if s.almalinux_hosts > 0 {
                    SystemKind::KvmHost
                } else {
                    SystemKind::Platform
                };
                (h.to_string(), kind, 1)
            }
            Key::Cloud(p, u) => (format!("{p}/{u}"), SystemKind::Cloud, 0),
            Key::Unassigned => (UNASSIGNED_SYSTEM_ID.to_string(), SystemKind::Unassigned, 0),
        };
        let guests = match s.peak_guests {
            Some(peak) => {
                if peak < listed {
                    warnings.push(Warning::PeakBelowListed {
                        platform: id.to_string(),
                        peak,
                        listed,
                    });
                }
                peak
            }
            None => listed,
        };
        let per_unit = price(LicenceOption::PerUnit, s.almalinux_hosts, guests, 0)?;
        let mut options = vec![per_unit];
        // What `platform` would need, and why it is not available.
        let platform_units = match kind {
            SystemKind::Cloud => Some(1),
            SystemKind::Platform | SystemKind::KvmHost if hosts > 0 => Some(hosts),
            _ => None,
        };
        let platform_blocker = match (kind, platform_units) {
            (SystemKind::Unassigned, _) => Some(PlatformBlocker::Unassigned),
            (SystemKind::Standalone, _) => None,
            (_, None) => Some(PlatformBlocker::NoHosts),
            (_, Some(_)) if guests < PLATFORM_MIN_GUESTS => Some(PlatformBlocker::TooFewGuests {
                min: PLATFORM_MIN_GUESTS,
                guests,
            }),
            _ => None,
        };
        if let (None, Some(units)) = (&platform_blocker, platform_units) {
            options.push(price(LicenceOption::Platform, 0, 0, units)?);
        }
        let chosen = match s.choice {
            Choice::PerUnit => LicenceOption::PerUnit,
            Choice::Platform => match &platform_blocker {
                None => LicenceOption::Platform,
                Some(why) => {
                    warnings.push(Warning::PlatformChoiceInvalid {
                        kind,
                        id: id.to_string(),
                        why: *why,
                    });
                    LicenceOption::PerUnit
                }
            },
            Choice::Cheapest => {
                if kind == SystemKind::Platform && hosts == 0 && guests >= PLATFORM_MIN_GUESTS {
                    warnings.push(Warning::NoKnownHosts {
                        platform: id.to_string(),
                        guests,
                    });
                }
                // Strictly cheaper only: a tie goes to per-unit, which
                // includes the extended-update repository.
                options
                    .iter()
                    .skip(1)
                    .filter(|o| o.yearly_cost_jpy < options[0].yearly_cost_jpy)
                    .min_by_key(|o| o.yearly_cost_jpy)
                    .map(|o| o.choice)
                    .unwrap_or(LicenceOption::PerUnit)
            }
        };
        let rank = match kind {
            SystemKind::Platform => 0,
            SystemKind::KvmHost => 1,
            SystemKind::Cloud => 2,
            SystemKind::Unassigned => 3,
            SystemKind::Standalone => 4,
        };
        out.push((
            rank,
            SystemReport {
                id,
                kind,
                hosts,
                guests,
                options,
                chosen,
                almalinux_hosts: s.almalinux_hosts,
                autoscale_groups: autoscale,
            },
        ));
    }
    for id in standalone {
        out.push((
            4,
            SystemReport {
                id: id.to_string(),
                kind: SystemKind::Standalone,
                hosts: 1,
                guests: 0,
                options: vec![price(LicenceOption::PerUnit, 1, 0, 0)?],
                chosen: LicenceOption::PerUnit,
                almalinux_hosts: 1,
                autoscale_groups: Vec::new(),
            },
        ));
    }
    out.sort_by_key(|(rank, _)| *rank);
    let systems: Vec<SystemReport> = out.into_iter().map(|(_, s)| s).collect();

    let mut total = Licences::default();
    for s in &systems {
        let o = s.chosen_option();
        total.physical = total
            .physical
            .checked_add(o.physical)
            .ok_or_else(overflow)?;
        total.r#virtual = total
            .r#virtual
            .checked_add(o.r#virtual)
            .ok_or_else(overflow)?;
        total.platform = total
            .platform
            .checked_add(o.platform)
            .ok_or_else(overflow)?;
        total.yearly_cost_jpy = total
            .yearly_cost_jpy
            .checked_add(o.yearly_cost_jpy)
            .ok_or_else(overflow)?;
    }
    Ok(Report {
        version: REPORT_VERSION,
        systems,
        total,
        warnings,
    })
}

fn price(
    choice: LicenceOption,
    physical: u64,
    r#virtual: u64,
    platform: u64,
) -> Result<OptionCost, InventoryError> {
    let cost = physical
        .checked_mul(PRICE_PHYSICAL_JPY)
        .and_then(|a| Some((a, r#virtual.checked_mul(PRICE_VIRTUAL_JPY)?)))
        .and_then(|(a, b)| a.checked_add(b))
        .and_then(|a| a.checked_add(platform.checked_mul(PRICE_PLATFORM_JPY)?))
        .ok_or_else(overflow)?;
    Ok(OptionCost {
        choice,
        physical,
        r#virtual,
        platform,
        yearly_cost_jpy: cost,
    })
}

fn cloud_ref_ok(c: &CloudRef, field: impl Fn() -> String, id: &str) -> Result<(), InventoryError> {
    non_empty(&c.provider, || format!("{}.provider", field()), id)?;
    non_empty(&c.unit, || format!("{}.unit", field()), id)
}

fn place(k: Key) -> Place {
    match k {
        Key::Platform(p) => Place::Platform(p.to_string()),
        Key::Host(h) => Place::Host(h.to_string()),
        Key::Cloud(p, u) => Place::Cloud(p.to_string(), u.to_string()),
        Key::Unassigned => Place::Unassigned,
    }
}
