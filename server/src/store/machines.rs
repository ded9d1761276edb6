//! Machines as licensing staff see them (`machine list`, `show`,
//! `retire`), and a contract's activation key (`contract rekey`).

use anyhow::Result;
use sqlx::Row;

use super::Store;

/// One machine for `machine list` and `machine show`: what it is, where it
/// runs, what it runs, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MachineRow {
    /// Server id (`m-...`).
    pub id: String,
    /// Contract it is registered under.
    pub contract: String,
    /// `active` (registered), `clone` (seen with another machine's
    /// credential; counted), `unregistered` or `retired` (kept for the
    /// record; not counted).
    pub state: String,
    pub hostname: Option<String>,
    /// physical, virtual, container or unknown.
    #[serde(rename = "type")]
    pub kind: String,
    /// kvm, vmware, hyperv, ... for guests.
    pub hypervisor: Option<String>,
    /// Cloud provider (aws, azure, gcp, ...).
    pub cloud: Option<String>,
    /// `--system` label the machine registered with.
    pub system: Option<String>,
    /// Operating system as reported, e.g. `AlmaLinux 9.6`.
    pub os: Option<String>,
    /// Major version of the OS.
    pub os_major: Option<i64>,
    /// os-release family (`almalinux`, `almalinux-kitten`, `other`).
    #[serde(skip)]
    pub os_family: Option<String>,
    /// Switch state from the last check-in: community, switched, ...
    pub switch: Option<String>,
    pub agent_version: Option<String>,
    /// The machine whose credential this clone presented.
    pub clone_of: Option<String>,
    /// Unix seconds (shown as RFC 3339 by `admin::MachineView`).
    #[serde(skip)]
    pub registered_at: i64,
    /// Last check-in (or registration), Unix seconds.
    #[serde(skip)]
    pub last_checkin: i64,
    /// When `machine retire` took it out of the count, Unix seconds.
    #[serde(skip)]
    pub retired_at: Option<i64>,
}

const MACHINE_COLS: &str = "m.id, m.contract_id, m.state, m.hostname, m.kind, m.hypervisor, \
     m.cloud_provider, m.system_label, m.os_major, m.switch_status, m.agent_version, m.clone_of, \
     m.registered_at, m.last_seen, m.retired_at";

pub(super) fn machine_from_row<R: Row>(r: &R) -> Result<MachineRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let name: Option<String> = r.try_get("os_name")?;
    let version: Option<String> = r.try_get("os_version")?;
    let pretty: Option<String> = r.try_get("os_pretty")?;
    let os = match (name, version) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, _) => pretty.or(n),
    };
    Ok(MachineRow {
        id: r.try_get("id")?,
        contract: r.try_get("contract_id")?,
        state: r.try_get("state")?,
        hostname: r.try_get("hostname")?,
        kind: r.try_get("kind")?,
        hypervisor: r.try_get("hypervisor")?,
        cloud: r.try_get("cloud_provider")?,
        system: r.try_get("system_label")?,
        os,
        os_major: r.try_get("os_major")?,
        os_family: r.try_get("os_family")?,
        switch: r
            .try_get::<Option<String>, _>("switch_status")?
            .filter(|s| !s.is_empty()),
        agent_version: r.try_get("agent_version")?,
        clone_of: r.try_get("clone_of")?,
        registered_at: r.try_get("registered_at")?,
        last_checkin: r.try_get("last_seen")?,
        retired_at: r.try_get("retired_at")?,
    })
}

impl Store {
    /// A text field of the facts JSON (`machine_facts.facts AS f`): the
    /// one place the two engines spell JSON access differently.
    pub(super) fn facts_field(&self, path: &[&str]) -> String {
        match self {
            Store::Sqlite(_) => format!("json_extract(f.facts, '$.{}')", path.join(".")),
            Store::Postgres(_) => format!("(f.facts::json #>> '{{{}}}')", path.join(",")),
        }
    }

    fn machine_select(&self, extra: &str, filter: &str) -> String {
        format!(
            "SELECT {MACHINE_COLS}{extra}, {} AS os_name, {} AS os_version, {} AS os_pretty, {} AS os_family \
             FROM machines m LEFT JOIN machine_facts f ON f.machine_id = m.id {filter} \
             ORDER BY m.contract_id, m.id",
            self.facts_field(&["os", "name"]),
            self.facts_field(&["os", "version_id"]),
            self.facts_field(&["os", "pretty_name"]),
            self.facts_field(&["os", "family"]),
        )
    }

    /// One page of machines: `filter` and `order` pick and sort the ids
    /// on the machines table alone (over covering indexes), then only the
    /// page's rows and facts are read.
    pub(super) fn machine_page_select(
        &self,
        filter: &str,
        order: &str,
        limit: i64,
        offset: i64,
    ) -> String {
        format!(
            "SELECT {MACHINE_COLS}, m.hypervisor_host, m.cloud_unit, {} AS os_name, {} AS os_version, \
             {} AS os_pretty, {} AS os_family \
             FROM (SELECT m.id FROM machines m {filter} {order} LIMIT {limit} OFFSET {offset}) page \
             JOIN machines m ON m.id = page.id \
             LEFT JOIN machine_facts f ON f.machine_id = m.id {order}",
            self.facts_field(&["os", "name"]),
            self.facts_field(&["os", "version_id"]),
            self.facts_field(&["os", "pretty_name"]),
            self.facts_field(&["os", "family"]),
        )
    }

    /// Every machine, in every state, optionally of one contract; by
    /// contract, then id.
    pub async fn list_machines(&self, contract: Option<&str>) -> Result<Vec<MachineRow>> {
        let sql = match contract {
            Some(_) => self.machine_select("", "WHERE m.contract_id = $1"),
            None => self.machine_select("", ""),
        };
        on_pool!(self, |p| {
            let mut q = sqlx::query(&sql);
            if let Some(c) = contract {
                q = q.bind(c);
            }
            q.fetch_all(p).await?.iter().map(machine_from_row).collect()
        })
    }

    /// One machine and its last reported facts (JSON text).
    pub async fn get_machine(&self, id: &str) -> Result<Option<(MachineRow, Option<String>)>> {
        let sql = self.machine_select(", f.facts AS facts_json", "WHERE m.id = $1");
        on_pool!(self, |p| {
            match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
                None => Ok(None),
                Some(r) => Ok(Some((machine_from_row(&r)?, r.try_get("facts_json")?))),
            }
        })
    }

    /// Retire a machine: it stops counting, its credential and repository
    /// password stop working, its row stays. False when no such machine;
    /// a machine retired before keeps its first `retired_at`.
    pub async fn retire_machine(&self, id: &str, now: i64) -> Result<bool> {
        let n = on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE machines SET state = 'retired', token_hash = NULL, repo_hash = NULL, \
                 retired_at = COALESCE(retired_at, $1) WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // A retired KVM host no longer places guests.
            sqlx::query("DELETE FROM host_guests WHERE host_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            anyhow::Ok(n)
        })?;
        Ok(n == 1)
    }

    /// Replace a contract's activation key (by its hash): the old key
    /// registers nothing from this commit on. False when no such contract.
    pub async fn set_contract_key(&self, id: &str, key_hash: &str) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE contracts SET key_hash = $1 WHERE id = $2"
        )
        .bind(key_hash)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }
}
