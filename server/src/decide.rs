//! The server's decisions, as pure functions over data (as Bottlerocket's
//! updog decides which update applies): which contract state entitles a
//! machine to what, whether a registration with a machine credential may
//! go ahead, when a check-in comes from a clone, what a check-in writes
//! (credential and presence bookkeeping), whether the repository lets a
//! machine in, and which switch target a machine gets. No I/O: the API
//! handlers look the data up, call these, and turn the result into a
//! response; the tests below run them on tables of cases.

use std::collections::HashMap;

use alma_ext_proto::api::{Entitlement, EntitlementStatus};
use alma_ext_proto::target::{Auth, Target};
use chrono::{Months, NaiveDate};

use crate::store::{CheckinWrite, ContractRow, FactColumns, MachineAuth};

/// The entitlement a contract gives on `day`.
pub fn entitlement(c: &ContractRow, day: NaiveDate) -> Entitlement {
    let starts = NaiveDate::parse_from_str(&c.starts, "%Y-%m-%d").unwrap_or(NaiveDate::MIN);
    let ends = NaiveDate::parse_from_str(&c.ends, "%Y-%m-%d").unwrap_or(NaiveDate::MIN);
    let status = if c.revoked_at.is_some() {
        EntitlementStatus::Revoked
    } else if day < starts {
        EntitlementStatus::Pending
    } else if day > ends {
        EntitlementStatus::Expired
    } else {
        EntitlementStatus::Active
    };
    Entitlement {
        contract: c.id.clone(),
        customer: c.customer.clone(),
        product: c.product.clone(),
        status,
        starts,
        ends,
        extended_updates: c.product != "platform" || c.platform_updates,
    }
}

/// Start of the contract year that contains `day` (the window of the peak
/// concurrent-guest count).
pub fn contract_year_start(c: &ContractRow, day: NaiveDate) -> NaiveDate {
    let starts = NaiveDate::parse_from_str(&c.starts, "%Y-%m-%d").unwrap_or(day);
    if day <= starts {
        return starts;
    }
    let mut y = starts;
    loop {
        match y.checked_add_months(Months::new(12)) {
            Some(next) if next <= day => y = next,
            _ => return y,
        }
    }
}

/// Why a contract registers no machine today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationRefused {
    /// The contract was revoked.
    Revoked,
    /// The contract ended on this day.
    Expired(NaiveDate),
}

/// Whether a contract with this entitlement registers machines: a pending
/// contract does (the machine waits for its start), a revoked or expired
/// one does not.
pub fn may_register(ent: &Entitlement) -> Result<(), RegistrationRefused> {
    match ent.status {
        EntitlementStatus::Revoked => Err(RegistrationRefused::Revoked),
        EntitlementStatus::Expired => Err(RegistrationRefused::Expired(ent.ends)),
        EntitlementStatus::Pending | EntitlementStatus::Active => Ok(()),
    }
}

/// A machine's identity: (machine id, DMI UUID); either may be unknown.
pub type Identity<'a> = (Option<&'a str>, Option<&'a str>);

/// The identity in a check-in's or registration's fact columns.
pub fn identity(c: &FactColumns) -> Identity<'_> {
    (c.machine_id.as_deref(), c.dmi_uuid.as_deref())
}

/// True when two identities are one machine: one part at least known on
/// both sides, and no part that differs.
pub fn same_machine(a: Identity<'_>, b: Identity<'_>) -> bool {
    let part = |x: Option<&str>, y: Option<&str>| match (x, y) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    let parts = [part(a.0, b.0), part(a.1, b.1)];
    parts.contains(&Some(true)) && !parts.contains(&Some(false))
}

/// Clone detection at check-in: the machine presenting a credential is a
/// clone when a part of its identity known on both sides differs from the
/// one registered with the credential. (A part the check-in lacks is no
/// evidence: the stored one is kept.)
pub fn is_clone(registered: Identity<'_>, presented: Identity<'_>) -> bool {
    let differs = |a: Option<&str>, b: Option<&str>| matches!((a, b), (Some(a), Some(b)) if a != b);
    differs(registered.0, presented.0) || differs(registered.1, presented.1)
}

/// Whether a registration with a machine credential may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reregistration {
    /// The credential's own machine registers again (its old credential
    /// is retired in the same transaction).
    OwnMachine,
    /// A clone the server has recorded registers as itself (its clone row
    /// is promoted to a machine of its own).
    Clone,
    /// Anything else needs the activation key.
    Refused,
}

/// The decision for a registration presenting a machine credential:
/// `registered` is the credential's machine, `presented` the registering
/// one, `clone_recorded` whether a check-in recorded it as a clone.
pub fn reregistration(
    registered: Identity<'_>,
    presented: Identity<'_>,
    clone_recorded: bool,
) -> Reregistration {
    if same_machine(registered, presented) {
        Reregistration::OwnMachine
    } else if clone_recorded {
        Reregistration::Clone
    } else {
        Reregistration::Refused
    }
}

/// Whether a registration must look for a recorded clone row before
/// deciding (only when the identities are not one machine).
pub fn needs_clone_lookup(registered: Identity<'_>, presented: Identity<'_>) -> bool {
    !same_machine(registered, presented)
}

/// The switch target a machine of major `os_major` gets with this
/// entitlement: the stored target of its major with the machine's own
/// repository credentials, only while the contract is active and covers
/// the extended-update repository.
pub fn machine_target(
    ent: &Entitlement,
    targets: &HashMap<i64, Target>,
    os_major: Option<i64>,
    machine: &str,
    repo_password: &str,
) -> Option<Target> {
    if ent.status != EntitlementStatus::Active || !ent.extended_updates {
        return None;
    }
    let mut t = targets.get(&os_major?)?.clone();
    let mut a = t.auth.take().unwrap_or_default();
    a.username = Some(machine.to_string());
    a.password = Some(repo_password.to_string());
    t.auth = Some(Auth { ..a });
    Some(t)
}

/// The answer of the repository's `auth_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoAccess {
    /// Let the request through.
    Allowed,
    /// Unknown machine, not active, or wrong repository password.
    WrongCredentials,
    /// The contract was revoked.
    Revoked,
    /// The contract is pending or has ended.
    NotInForce,
    /// A `platform` contract without the extended-update add-on.
    NoExtendedUpdates,
}

/// Whether a machine in `state` whose repository password matched
/// (`password_ok`) may read the extended-update repository under `ent`.
pub fn repo_access(state: &str, password_ok: bool, ent: &Entitlement) -> RepoAccess {
    if state != "active" || !password_ok {
        RepoAccess::WrongCredentials
    } else if ent.status == EntitlementStatus::Revoked {
        RepoAccess::Revoked
    } else if ent.status != EntitlementStatus::Active {
        RepoAccess::NotInForce
    } else if !ent.extended_updates {
        RepoAccess::NoExtendedUpdates
    } else {
        RepoAccess::Allowed
    }
}

/// A validated check-in, as the handler read it.
#[derive(Debug, Clone)]
pub struct Checkin {
    /// Server time, Unix seconds.
    pub now: i64,
    /// When the agent gathered the facts, Unix seconds.
    pub observed_at: i64,
    pub columns: FactColumns,
    /// The `security` summary as JSON, when the check-in carries one.
    pub security_json: Option<String>,
    pub switch_status: String,
    pub agent_version: Option<String>,
    /// SHA-256 of the repository password this credential derives.
    pub repo_hash: String,
}

/// What a check-in of machine `m` writes: the facts only when their hash
/// changed; the repository password's hash on the machine's first
/// check-in after registering (a promoted clone gets it here); the KVM
/// guest list only when it changed (`guest_list` is only called for a KVM
/// host, or a machine that had one); presence only on the machine's first
/// check-in of the day.
pub fn checkin_write(
    m: &MachineAuth,
    c: Checkin,
    guest_list: impl FnOnce() -> (String, Vec<String>),
) -> CheckinWrite {
    let guests = if c.columns.hypervisor_host || m.guests_hash.is_some() {
        let (hash, list) = guest_list();
        (m.guests_hash.as_deref() != Some(hash.as_str())).then_some((hash, list))
    } else {
        None
    };
    // One hash covers the facts and the security summary, so an unchanged
    // check-in writes neither.
    let facts_hash = match &c.security_json {
        None => crate::auth::sha256_hex(&c.columns.facts_json),
        Some(j) => crate::auth::sha256_hex(&format!("{}\n{j}", c.columns.facts_json)),
    };
    let facts_changed = m.facts_hash.as_deref() != Some(facts_hash.as_str());
    let day = c.now.div_euclid(86400);
    CheckinWrite {
        machine: m.id.clone(),
        now: c.now,
        observed_at: c.observed_at,
        day,
        columns: c.columns,
        facts_hash,
        facts_changed,
        security_json: c.security_json,
        switch_status: c.switch_status,
        agent_version: c.agent_version,
        repo_hash: m.repo_hash.is_none().then_some(c.repo_hash),
        guests,
        record_presence: m.presence_day != Some(day),
        system_label: m.system_label.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn contract(product: &str, platform_updates: bool, revoked: bool) -> ContractRow {
        ContractRow {
            id: "ct-1".into(),
            customer: "Example".into(),
            product: product.into(),
            quantity: 10,
            starts: "2026-01-01".into(),
            ends: "2026-12-31".into(),
            platform_updates,
            created_at: 0,
            revoked_at: revoked.then_some(1),
            machines: 0,
        }
    }

    #[test]
    fn entitlement_by_day_revocation_and_product() {
        use EntitlementStatus::*;
        // (product, add-on, revoked, day) -> (status, extended updates)
        let cases = [
            ("physical", false, false, "2025-12-31", Pending, true),
            ("physical", false, false, "2026-01-01", Active, true),
            ("physical", false, false, "2026-12-31", Active, true),
            ("physical", false, false, "2027-01-01", Expired, true),
            ("physical", false, true, "2026-06-01", Revoked, true),
            ("virtual", false, true, "2027-06-01", Revoked, true),
            ("platform", false, false, "2026-06-01", Active, false),
            ("platform", true, false, "2026-06-01", Active, true),
        ];
        for (product, addon, revoked, day, status, ext) in cases {
            let e = entitlement(&contract(product, addon, revoked), d(day));
            assert_eq!(
                (e.status, e.extended_updates),
                (status, ext),
                "{product} {addon} {revoked} {day}"
            );
        }
    }

    #[test]
    fn registration_is_refused_only_for_revoked_and_expired() {
        let c = contract("physical", false, false);
        let cases = [
            ("2025-12-01", Ok(())),
            ("2026-06-01", Ok(())),
            (
                "2027-01-01",
                Err(RegistrationRefused::Expired(d("2026-12-31"))),
            ),
        ];
        for (day, want) in cases {
            assert_eq!(may_register(&entitlement(&c, d(day))), want, "{day}");
        }
        let revoked = contract("physical", false, true);
        assert_eq!(
            may_register(&entitlement(&revoked, d("2026-06-01"))),
            Err(RegistrationRefused::Revoked)
        );
    }

    #[test]
    fn identities_clones_and_reregistration() {
        use Reregistration::*;
        let a = (Some("mid-a"), Some("uuid-a"));
        // (registered, presented, clone recorded) -> (same machine, clone at check-in, decision)
        let cases: [(Identity, Identity, bool, bool, bool, Reregistration); 9] = [
            (a, a, false, true, false, OwnMachine),
            // A part unknown on one side is no evidence either way.
            (a, (Some("mid-a"), None), false, true, false, OwnMachine),
            (a, (None, Some("uuid-a")), false, true, false, OwnMachine),
            // Nothing known in common: not the same machine, not a clone.
            (a, (None, None), false, false, false, Refused),
            ((None, None), (None, None), false, false, false, Refused),
            (
                (Some("mid-a"), None),
                (None, Some("uuid-a")),
                false,
                false,
                false,
                Refused,
            ),
            // One part differs: a clone.
            (
                a,
                (Some("mid-b"), Some("uuid-a")),
                false,
                false,
                true,
                Refused,
            ),
            (a, (Some("mid-a"), Some("uuid-b")), true, false, true, Clone),
            (a, (Some("mid-b"), Some("uuid-b")), true, false, true, Clone),
        ];
        for (registered, presented, recorded, same, clone, decision) in cases {
            let case = format!("{registered:?} {presented:?} {recorded}");
            assert_eq!(same_machine(registered, presented), same, "same: {case}");
            assert_eq!(is_clone(registered, presented), clone, "clone: {case}");
            assert_eq!(
                needs_clone_lookup(registered, presented),
                !same,
                "lookup: {case}"
            );
            assert_eq!(
                reregistration(registered, presented, recorded),
                decision,
                "decision: {case}"
            );
        }
    }

    fn target() -> Target {
        Target::from_toml(
            "[repos.baseos]\nid = \"ext-baseos\"\nname = \"Ext\"\nbaseurl = \"https://r.example/9/baseos\"\n",
        )
        .expect("a target")
    }

    #[test]
    fn target_only_for_active_contracts_with_extended_updates() {
        let targets: HashMap<i64, Target> = [(9, target())].into_iter().collect();
        let active = entitlement(&contract("physical", false, false), d("2026-06-01"));
        let t = machine_target(&active, &targets, Some(9), "m-1", "pw").expect("a target");
        let auth = t.auth.expect("credentials injected");
        assert_eq!(auth.username.as_deref(), Some("m-1"));
        assert_eq!(auth.password.as_deref(), Some("pw"));
        let cases = [
            (active.clone(), Some(8)),
            (active.clone(), None),
            (
                entitlement(&contract("physical", false, false), d("2027-01-01")),
                Some(9),
            ),
            (
                entitlement(&contract("physical", false, true), d("2026-06-01")),
                Some(9),
            ),
            (
                entitlement(&contract("platform", false, false), d("2026-06-01")),
                Some(9),
            ),
        ];
        for (ent, major) in cases {
            assert!(
                machine_target(&ent, &targets, major, "m-1", "pw").is_none(),
                "{:?} {major:?}",
                ent.status
            );
        }
    }

    #[test]
    fn repository_access() {
        use RepoAccess::*;
        let on =
            |product, addon, revoked, day| entitlement(&contract(product, addon, revoked), d(day));
        let cases = [
            (
                "active",
                true,
                on("physical", false, false, "2026-06-01"),
                Allowed,
            ),
            (
                "active",
                false,
                on("physical", false, false, "2026-06-01"),
                WrongCredentials,
            ),
            (
                "retired",
                true,
                on("physical", false, false, "2026-06-01"),
                WrongCredentials,
            ),
            (
                "clone",
                true,
                on("physical", false, false, "2026-06-01"),
                WrongCredentials,
            ),
            (
                "active",
                true,
                on("physical", false, true, "2026-06-01"),
                Revoked,
            ),
            (
                "active",
                true,
                on("physical", false, false, "2025-06-01"),
                NotInForce,
            ),
            (
                "active",
                true,
                on("physical", false, false, "2027-06-01"),
                NotInForce,
            ),
            (
                "active",
                true,
                on("platform", false, false, "2026-06-01"),
                NoExtendedUpdates,
            ),
            (
                "active",
                true,
                on("platform", true, false, "2026-06-01"),
                Allowed,
            ),
        ];
        for (state, ok, ent, want) in cases {
            assert_eq!(
                repo_access(state, ok, &ent),
                want,
                "{state} {ok} {:?}",
                ent.status
            );
        }
    }

    fn machine(
        repo_hash: Option<&str>,
        guests_hash: Option<&str>,
        presence_day: Option<i64>,
    ) -> MachineAuth {
        MachineAuth {
            id: "m-1".into(),
            contract_id: "ct-1".into(),
            state: "active".into(),
            machine_id: Some("mid".into()),
            dmi_uuid: None,
            repo_hash: repo_hash.map(String::from),
            guests_hash: guests_hash.map(String::from),
            facts_hash: Some(crate::auth::sha256_hex("{}")),
            system_label: Some("plat".into()),
            kind: "physical".into(),
            presence_day,
            contract: contract("physical", false, false),
        }
    }

    fn checkin(now: i64, host: bool, facts: &str, security: Option<&str>) -> Checkin {
        Checkin {
            now,
            observed_at: now,
            columns: FactColumns {
                hypervisor_host: host,
                facts_json: facts.into(),
                ..FactColumns::default()
            },
            security_json: security.map(String::from),
            switch_status: "switched".into(),
            agent_version: None,
            repo_hash: "repo".into(),
        }
    }

    #[test]
    fn what_a_checkin_writes() {
        let day = 20_000;
        let now = day * 86400 + 100;
        let no_guests = || -> (String, Vec<String>) { panic!("guest list read for a non-host") };
        // (machine, check-in) -> (facts changed, repo hash written, presence, guests)
        let w = checkin_write(
            &machine(Some("r"), None, Some(day)),
            checkin(now, false, "{}", None),
            no_guests,
        );
        assert_eq!(
            (
                w.facts_changed,
                w.repo_hash.is_some(),
                w.record_presence,
                w.guests.is_some()
            ),
            (false, false, false, false)
        );
        assert_eq!(w.day, day);
        assert_eq!(w.system_label.as_deref(), Some("plat"));
        // Changed facts; a security summary changes the hash too.
        let w = checkin_write(
            &machine(Some("r"), None, Some(day)),
            checkin(now, false, "{\"a\":1}", None),
            no_guests,
        );
        assert!(w.facts_changed);
        let w = checkin_write(
            &machine(Some("r"), None, Some(day)),
            checkin(now, false, "{}", Some("{}")),
            no_guests,
        );
        assert!(w.facts_changed);
        // First check-in since registering (or promotion): the repository
        // password is recorded; first of the day: presence.
        let w = checkin_write(
            &machine(None, None, Some(day - 1)),
            checkin(now, false, "{}", None),
            no_guests,
        );
        assert_eq!(w.repo_hash.as_deref(), Some("repo"));
        assert!(w.record_presence);
        let w = checkin_write(
            &machine(Some("r"), None, None),
            checkin(now, false, "{}", None),
            no_guests,
        );
        assert!(w.record_presence);
        // A KVM host: the guest list when it changed, not when it did not.
        let list = || ("h1".to_string(), vec!["g".to_string()]);
        let w = checkin_write(
            &machine(Some("r"), None, Some(day)),
            checkin(now, true, "{}", None),
            list,
        );
        assert_eq!(w.guests, Some(("h1".into(), vec!["g".into()])));
        let w = checkin_write(
            &machine(Some("r"), Some("h1"), Some(day)),
            checkin(now, true, "{}", None),
            list,
        );
        assert_eq!(w.guests, None);
        // A former host that stopped being one: its (empty) list is written.
        let empty = || ("h0".to_string(), Vec::new());
        let w = checkin_write(
            &machine(Some("r"), Some("h1"), Some(day)),
            checkin(now, false, "{}", None),
            empty,
        );
        assert_eq!(w.guests, Some(("h0".into(), Vec::new())));
    }

    #[test]
    fn contract_years() {
        let c = contract("physical", false, false);
        let cases = [
            ("2025-06-01", "2026-01-01"),
            ("2026-01-01", "2026-01-01"),
            ("2026-12-31", "2026-01-01"),
            ("2027-01-01", "2027-01-01"),
            ("2028-03-01", "2028-01-01"),
        ];
        for (day, start) in cases {
            assert_eq!(contract_year_start(&c, d(day)), d(start), "{day}");
        }
    }
}
