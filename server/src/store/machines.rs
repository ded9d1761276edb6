//! Machines and their credentials: registration (a machine registering
//! again retires its old credential; a recorded clone is promoted), clone
//! rows seen at check-in, the credential lookups, unregistering, and
//! machines as licensing staff see them (`machine list`, `show`,
//! `retire`).

use sqlx::Row;

use super::contracts::{contract_from_row, ContractRow, CONTRACT_COLS};
use super::engine::{Arg, BindArgs, Rows};
use super::{Result, Store, StoreError};

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
            Ok::<_, StoreError>(n)
        })?;
        Ok(n == 1)
    }
}

/// What an authenticated request needs about its machine and contract.
#[derive(Debug, Clone)]
pub struct MachineAuth {
    pub id: String,
    pub contract_id: String,
    pub state: String,
    pub machine_id: Option<String>,
    pub dmi_uuid: Option<String>,
    pub repo_hash: Option<String>,
    pub guests_hash: Option<String>,
    /// SHA-256 of the stored facts (None: unknown, send them).
    pub facts_hash: Option<String>,
    pub system_label: Option<String>,
    pub kind: String,
    /// The last day whose presence row the machine has (None: unknown).
    pub presence_day: Option<i64>,
    pub contract: ContractRow,
}

/// A new machine row (registration, or a clone seen at check-in).
#[derive(Debug, Clone)]
pub struct NewMachine {
    pub id: String,
    pub contract_id: String,
    /// `active` (registered) or `clone` (seen presenting another machine's
    /// credential; counted, but without a credential of its own).
    pub state: String,
    pub token_hash: Option<String>,
    pub repo_hash: Option<String>,
    pub system_label: Option<String>,
    pub clone_of: Option<String>,
    pub now: i64,
    pub observed_at: i64,
    pub columns: FactColumns,
}

/// The facts fields the store keeps in columns, for counting without
/// parsing every machine's facts JSON.
#[derive(Debug, Clone, Default)]
pub struct FactColumns {
    pub machine_id: Option<String>,
    pub dmi_uuid: Option<String>,
    pub hostname: Option<String>,
    pub kind: String,
    pub hypervisor: Option<String>,
    pub hypervisor_host: bool,
    pub cloud_provider: Option<String>,
    pub cloud_account: Option<String>,
    pub cloud_unit: Option<String>,
    pub cluster: Option<String>,
    pub os_major: Option<i64>,
    pub facts_json: String,
}

/// The clone row of a contract and identity.
const SQL_FIND_CLONE: &str = "SELECT id FROM machines WHERE contract_id = $1 AND state = 'clone' \
     AND machine_id IS NOT DISTINCT FROM $2 AND dmi_uuid IS NOT DISTINCT FROM $3 LIMIT 1";

/// A machine registering again retires its active registration.
const SQL_RETIRE_IDENTITY: &str = "UPDATE machines SET state = 'unregistered', token_hash = NULL, \
     repo_hash = NULL, last_seen = $1 \
     WHERE contract_id = $2 AND state = 'active' AND machine_id = $3 AND dmi_uuid IS NOT DISTINCT FROM $4";

/// The INSERT of a `NewMachine` (without its facts), ready to execute.
macro_rules! insert_machine_query {
    ($m:expr) => {{
        let m: &NewMachine = $m;
        let c = &m.columns;
        sqlx::query(
            "INSERT INTO machines (id, contract_id, state, token_hash, repo_hash, system_label, machine_id, dmi_uuid, \
             hostname, kind, hypervisor, hypervisor_host, cloud_provider, cloud_account, cloud_unit, cluster, os_major, \
             clone_of, registered_at, last_seen, observed_at, facts_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20, $21)",
        )
        .bind(&m.id)
        .bind(&m.contract_id)
        .bind(&m.state)
        .bind(&m.token_hash)
        .bind(&m.repo_hash)
        .bind(&m.system_label)
        .bind(&c.machine_id)
        .bind(&c.dmi_uuid)
        .bind(&c.hostname)
        .bind(&c.kind)
        .bind(&c.hypervisor)
        .bind(c.hypervisor_host as i64)
        .bind(&c.cloud_provider)
        .bind(&c.cloud_account)
        .bind(&c.cloud_unit)
        .bind(&c.cluster)
        .bind(c.os_major)
        .bind(&m.clone_of)
        .bind(m.now)
        .bind(m.observed_at)
        .bind(crate::auth::sha256_hex(&c.facts_json))
    }};
}

/// What `Store::register_machine` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The machine's server id (a promoted clone keeps its own).
    pub machine: String,
    /// Earlier registrations of the same identity retired.
    pub retired: u64,
}

/// Store a machine's facts, unless they are what is stored already.
pub(super) const SQL_SET_FACTS: &str = "INSERT INTO machine_facts (machine_id, facts) VALUES ($1, $2) \
     ON CONFLICT (machine_id) DO UPDATE SET facts = excluded.facts WHERE machine_facts.facts <> excluded.facts";

/// A machine's repository-auth view.
#[derive(Debug, Clone)]
pub struct RepoAuthRow {
    pub state: String,
    pub repo_hash: Option<String>,
    pub contract: ContractRow,
}

const MACHINE_AUTH_COLS: &str = "m.id AS mid, m.contract_id, m.state, m.machine_id, m.dmi_uuid, \
     m.repo_hash, m.guests_hash, m.facts_hash, m.system_label, m.kind, m.presence_day";

fn machine_auth_from_row<R: Row>(r: &R) -> Result<MachineAuth>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(MachineAuth {
        id: r.try_get("mid")?,
        contract_id: r.try_get("contract_id")?,
        state: r.try_get("state")?,
        machine_id: r.try_get("machine_id")?,
        dmi_uuid: r.try_get("dmi_uuid")?,
        repo_hash: r.try_get("repo_hash")?,
        guests_hash: r.try_get("guests_hash")?,
        facts_hash: r.try_get("facts_hash")?,
        system_label: r.try_get("system_label")?,
        kind: r.try_get("kind")?,
        presence_day: r.try_get("presence_day")?,
        contract: contract_from_row(r, 0)?,
    })
}

impl Store {
    // ---- machines ----

    /// Insert a machine row (a clone seen at check-in) with its facts.
    pub async fn insert_machine(&self, m: &NewMachine) -> Result<()> {
        write_tx!(self, |tx| {
            insert_machine_query!(m).execute(&mut *tx).await?;
            sqlx::query(SQL_SET_FACTS)
                .bind(&m.id)
                .bind(&m.columns.facts_json)
                .execute(&mut *tx)
                .await?;
        })?;
        Ok(())
    }

    /// Register a machine, all in one transaction, answered once it is
    /// committed: retire the active registration of the same identity in
    /// the contract (a machine registering again: its old credential stops
    /// working and counting), then turn the clone row of this identity
    /// into the machine, or else insert `m`.
    pub async fn register_machine(&self, m: &NewMachine) -> Result<Registered> {
        let c = &m.columns;
        write_tx!(self, durable: true, |tx| {
            let retired = match &c.machine_id {
                Some(mid) => sqlx::query(SQL_RETIRE_IDENTITY)
                    .bind(m.now)
                    .bind(&m.contract_id)
                    .bind(mid)
                    .bind(&c.dmi_uuid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
                None => 0,
            };
            let clone: Option<(String,)> = sqlx::query_as(SQL_FIND_CLONE)
                .bind(&m.contract_id)
                .bind(&c.machine_id)
                .bind(&c.dmi_uuid)
                .fetch_optional(&mut *tx)
                .await?;
            let mut promoted = None;
            if let Some((id,)) = clone {
                let n = sqlx::query(
                    "UPDATE machines SET state = 'active', token_hash = $1, system_label = $2, last_seen = $3, \
                     repo_hash = NULL, guests_hash = NULL, facts_hash = NULL WHERE id = $4 AND state = 'clone'",
                )
                .bind(&m.token_hash)
                .bind(&m.system_label)
                .bind(m.now)
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                promoted = (n == 1).then_some(id);
            }
            let machine = match promoted {
                Some(id) => id,
                None => {
                    insert_machine_query!(m).execute(&mut *tx).await?;
                    m.id.clone()
                }
            };
            sqlx::query(SQL_SET_FACTS)
                .bind(&machine)
                .bind(&c.facts_json)
                .execute(&mut *tx)
                .await?;
            Registered { machine, retired }
        })
    }

    /// The clone row already recorded for this contract and identity.
    pub async fn find_clone(
        &self,
        contract_id: &str,
        machine_id: Option<&str>,
        dmi_uuid: Option<&str>,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, |p| sqlx::query_as(SQL_FIND_CLONE)
            .bind(contract_id)
            .bind(machine_id)
            .bind(dmi_uuid)
            .fetch_optional(p)
            .await?);
        Ok(row.map(|r| r.0))
    }

    /// Refresh a clone row's last-seen time.
    pub async fn touch_clone(&self, id: &str, facts_json: &str, now: i64) -> Result<()> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE machines SET last_seen = $1, facts_hash = NULL WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(SQL_SET_FACTS)
                .bind(id)
                .bind(facts_json)
                .execute(&mut *tx)
                .await?;
        })?;
        Ok(())
    }

    /// Look up the machine that holds a credential (by its hash).
    pub async fn machine_by_token(&self, token_hash: &str) -> Result<Option<MachineAuth>> {
        let found = self.machines_by_tokens(&[token_hash.to_string()]).await?;
        Ok(found.into_iter().next().map(|(_, m)| m))
    }

    /// Look up the machines that hold any of these credential hashes, in
    /// a few statements (the check-in lookup batches concurrent requests
    /// through this): (credential hash, machine).
    pub async fn machines_by_tokens(
        &self,
        token_hashes: &[String],
    ) -> Result<Vec<(String, MachineAuth)>> {
        let rows = Rows {
            cols: &[("h", "text")],
            rows: token_hashes
                .iter()
                .map(|h| vec![Arg::Text(Some(h.as_str()))])
                .collect(),
        };
        let statements = self.row_statements(
            &rows,
            &format!(
                "SELECT m.token_hash, {MACHINE_AUTH_COLS}, {CONTRACT_COLS} \
                 FROM v JOIN machines m ON m.token_hash = v.h JOIN contracts c ON c.id = m.contract_id"
            ),
        );
        let mut out = Vec::with_capacity(token_hashes.len());
        on_pool!(self, |p| {
            for (sql, args) in &statements {
                for r in sqlx::query(sql).bind_args(args).fetch_all(p).await? {
                    let hash: String = r.try_get("token_hash")?;
                    out.push((hash, machine_auth_from_row(&r)?));
                }
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// The repository-auth view of a machine (by its server id).
    pub async fn repo_auth(&self, machine: &str) -> Result<Option<RepoAuthRow>> {
        let sql = format!(
            "SELECT m.state, m.repo_hash, {CONTRACT_COLS} \
             FROM machines m JOIN contracts c ON c.id = m.contract_id WHERE m.id = $1"
        );
        on_pool!(self, |p| {
            match sqlx::query(&sql).bind(machine).fetch_optional(p).await? {
                None => Ok(None),
                Some(r) => Ok(Some(RepoAuthRow {
                    state: r.try_get("state")?,
                    repo_hash: r.try_get("repo_hash")?,
                    contract: contract_from_row(&r, 0)?,
                })),
            }
        })
    }

    /// Unregister: the credential stops working, the machine stops
    /// counting, the row stays for the record.
    pub async fn unregister(&self, machine: &str, now: i64) -> Result<()> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE machines SET state = 'unregistered', token_hash = NULL, repo_hash = NULL, last_seen = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(machine)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM host_guests WHERE host_id = $1")
                .bind(machine)
                .execute(&mut *tx)
                .await?;
        })?;
        Ok(())
    }

    /// Number of machines per state, for /metrics.
    pub async fn machine_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT state, COUNT(*) FROM machines GROUP BY state ORDER BY state"
        )
        .fetch_all(p)
        .await?))
    }
}
