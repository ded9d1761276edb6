//! The fleet store: contracts, machines, platforms, targets and check-in
//! history, in SQLite (default, zero configuration) or PostgreSQL (large
//! fleets, several replicas).
//!
//! One set of SQL serves both: `$N` placeholders work in both engines,
//! times are Unix seconds in BIGINT columns, and booleans are 0/1, so
//! every query is written once and run through `on_pool!` on whichever
//! pool this store holds.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

/// The default database when no `--database` is given: an SQLite file.
pub const DEFAULT_DATABASE: &str = "sqlite:///var/lib/alma-ext-server/fleet.db";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A connection pool to the fleet database.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Run the same statement on whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// A support contract.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContractRow {
    pub id: String,
    pub customer: String,
    /// physical, virtual or platform.
    pub product: String,
    pub quantity: i64,
    pub starts: String,
    pub ends: String,
    /// `platform` contracts: the extended-update repository add-on.
    pub platform_updates: bool,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// Machines registered (active) under this contract.
    pub machines: i64,
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
    pub system_label: Option<String>,
    pub kind: String,
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

/// One check-in to write.
#[derive(Debug, Clone)]
pub struct CheckinWrite {
    pub machine: String,
    pub now: i64,
    pub observed_at: i64,
    pub day: i64,
    pub columns: FactColumns,
    pub switch_status: String,
    pub agent_version: Option<String>,
    /// Set when the machine has no repository password hash yet.
    pub repo_hash: Option<String>,
    /// Some when the KVM guest list changed: (hash, guest UUIDs).
    pub guests: Option<(String, Vec<String>)>,
    /// Whether to record today's presence (false when this replica has
    /// already recorded it today).
    pub record_presence: bool,
    /// `--system` label of the machine, for the presence group.
    pub system_label: Option<String>,
}

/// One machine as the live count sees it.
#[derive(Debug, Clone)]
pub struct FleetRow {
    pub id: String,
    pub contract_id: String,
    pub state: String,
    pub system_label: Option<String>,
    pub hostname: Option<String>,
    pub dmi_uuid: Option<String>,
    pub kind: String,
    pub hypervisor: Option<String>,
    pub hypervisor_host: bool,
    pub cloud_provider: Option<String>,
    pub cloud_account: Option<String>,
    pub cloud_unit: Option<String>,
    pub cluster: Option<String>,
    pub last_seen: i64,
    pub clone_of: Option<String>,
}

/// A declared virtualization platform.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlatformRow {
    pub id: String,
    pub hosts: Vec<String>,
    pub choice: String,
}

/// A machine's repository-auth view.
#[derive(Debug, Clone)]
pub struct RepoAuthRow {
    pub state: String,
    pub repo_hash: Option<String>,
    pub contract: ContractRow,
}

const CONTRACT_COLS: &str = "c.id, c.customer, c.product, c.quantity, c.starts, c.ends, \
     c.platform_updates, c.created_at, c.revoked_at";

fn contract_from_row<R: Row>(r: &R, machines: i64) -> Result<ContractRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ContractRow {
        id: r.try_get("id")?,
        customer: r.try_get("customer")?,
        product: r.try_get("product")?,
        quantity: r.try_get("quantity")?,
        starts: r.try_get("starts")?,
        ends: r.try_get("ends")?,
        platform_updates: r.try_get::<i64, _>("platform_updates")? != 0,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        machines,
    })
}

impl Store {
    /// Open (creating when needed) the database at `url` and run the
    /// migrations. Two replicas may start at once on one PostgreSQL: the
    /// migrator holds an advisory lock.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connect without running migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        if let Some(path) = sqlite_path(url)? {
            let path = Path::new(&path);
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    std::fs::create_dir_all(dir).with_context(|| {
                        format!("creating the database directory {}", dir.display())
                    })?;
                }
            }
            if !path.exists() {
                // The store holds facts about the customer's fleet: not for
                // other local users.
                create_private_file(path)?;
            }
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a crash loses at most the last commits,
                // never corrupts; fsync per check-in would cap throughput.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .min_connections(1)
                .connect_with(opts)
                .await
                .with_context(|| format!("opening the SQLite database {}", path.display()))?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).context("parsing the PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(15))
                .connect_with(opts)
                .await
                .with_context(|| format!("connecting to PostgreSQL at {}", redact_url(url)))?;
            Ok(Store::Postgres(pool))
        } else {
            bail!(
                "unsupported database URL {}: use sqlite:///path/to/fleet.db or postgres://user@host/db",
                redact_url(url)
            )
        }
    }

    /// Bring the schema up to date.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(p) => SQLITE_MIGRATIONS
                .run(p)
                .await
                .context("running SQLite migrations"),
            Store::Postgres(p) => PG_MIGRATIONS
                .run(p)
                .await
                .context("running PostgreSQL migrations"),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }

    /// Check that the database answers.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    // ---- contracts ----

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_contract(
        &self,
        id: &str,
        customer: &str,
        product: &str,
        quantity: i64,
        starts: &str,
        ends: &str,
        platform_updates: bool,
        key_hash: &str,
        now: i64,
    ) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO contracts (id, customer, product, quantity, starts, ends, platform_updates, key_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )
        .bind(id)
        .bind(customer)
        .bind(product)
        .bind(quantity)
        .bind(starts)
        .bind(ends)
        .bind(platform_updates as i64)
        .bind(key_hash)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn list_contracts(&self) -> Result<Vec<ContractRow>> {
        let sql = format!(
            "SELECT {CONTRACT_COLS}, (SELECT COUNT(*) FROM machines m WHERE m.contract_id = c.id AND m.state = 'active') AS n \
             FROM contracts c ORDER BY c.created_at, c.id"
        );
        on_pool!(self, |p| {
            let rows = sqlx::query(&sql).fetch_all(p).await?;
            rows.iter()
                .map(|r| contract_from_row(r, r.try_get("n")?))
                .collect()
        })
    }

    pub async fn get_contract(&self, id: &str) -> Result<Option<ContractRow>> {
        Ok(self
            .list_contracts()
            .await?
            .into_iter()
            .find(|c| c.id == id))
    }

    pub async fn contract_by_key_hash(&self, key_hash: &str) -> Result<Option<ContractRow>> {
        let sql = format!("SELECT {CONTRACT_COLS} FROM contracts c WHERE c.key_hash = $1");
        on_pool!(self, |p| {
            match sqlx::query(&sql).bind(key_hash).fetch_optional(p).await? {
                Some(r) => Ok(Some(contract_from_row(&r, 0)?)),
                None => Ok(None),
            }
        })
    }

    /// Set a contract's end date. False when no such contract.
    pub async fn set_contract_end(&self, id: &str, ends: &str) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE contracts SET ends = $1 WHERE id = $2"
        )
        .bind(ends)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Revoke a contract now. False when no such contract.
    pub async fn revoke_contract(&self, id: &str, now: i64) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "UPDATE contracts SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2"
        )
        .bind(now)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    // ---- platforms, targets, settings ----

    pub async fn set_platform(&self, id: &str, hosts: &[String], choice: &str) -> Result<()> {
        let hosts = serde_json::to_string(hosts)?;
        on_pool!(self, |p| sqlx::query(
            "INSERT INTO platforms (id, hosts, choice) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET hosts = excluded.hosts, choice = excluded.choice"
        )
        .bind(id)
        .bind(&hosts)
        .bind(choice)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn delete_platform(&self, id: &str) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query("DELETE FROM platforms WHERE id = $1")
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    pub async fn list_platforms(&self) -> Result<Vec<PlatformRow>> {
        let rows: Vec<(String, String, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id, hosts, choice FROM platforms ORDER BY id"
        )
        .fetch_all(p)
        .await?);
        rows.into_iter()
            .map(|(id, hosts, choice)| {
                Ok(PlatformRow {
                    hosts: serde_json::from_str(&hosts)
                        .with_context(|| format!("platform {id}: hosts"))?,
                    id,
                    choice,
                })
            })
            .collect()
    }

    /// Store the switch target TOML for a major version.
    pub async fn set_target(&self, major: i64, toml_text: &str, now: i64) -> Result<()> {
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO targets (major, target, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (major) DO UPDATE SET target = excluded.target, updated_at = excluded.updated_at"
        )
        .bind(major)
        .bind(toml_text)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn delete_target(&self, major: i64) -> Result<bool> {
        let n = on_pool!(self, |p| sqlx::query(
            "DELETE FROM targets WHERE major = $1"
        )
        .bind(major)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// All targets: (major, TOML).
    pub async fn list_targets(&self) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT major, target FROM targets ORDER BY major"
        )
        .fetch_all(p)
        .await?))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        .bind(key)
        .bind(value)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn get_setting(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|r| r.0))
    }

    // ---- machines ----

    pub async fn insert_machine(&self, m: &NewMachine) -> Result<()> {
        let c = &m.columns;
        on_pool!(self, |p| {
            sqlx::query(
            "INSERT INTO machines (id, contract_id, state, token_hash, repo_hash, system_label, machine_id, dmi_uuid, \
             hostname, kind, hypervisor, hypervisor_host, cloud_provider, cloud_account, cloud_unit, cluster, os_major, \
             facts, clone_of, registered_at, last_seen, observed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20, $21)"
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
        .bind(&c.facts_json)
        .bind(&m.clone_of)
        .bind(m.now)
        .bind(m.observed_at)
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// Turn a counted clone row into a registered machine (the clone
    /// registered again with the credential it had copied).
    pub async fn promote_clone(
        &self,
        id: &str,
        token_hash: &str,
        system_label: Option<&str>,
        columns: &FactColumns,
        now: i64,
    ) -> Result<bool> {
        let n = on_pool!(self, |p| {
            sqlx::query(
            "UPDATE machines SET state = 'active', token_hash = $1, system_label = $2, facts = $3, last_seen = $4, \
             repo_hash = NULL, guests_hash = NULL WHERE id = $5 AND state = 'clone'"
        )
        .bind(token_hash)
        .bind(system_label)
        .bind(&columns.facts_json)
        .bind(now)
        .bind(id)
        .execute(p)
        .await?
        .rows_affected()
        });
        Ok(n == 1)
    }

    /// A machine registering again (lost its credential, re-ran
    /// `register`): its old registration stops counting and working.
    pub async fn retire_identity(
        &self,
        contract_id: &str,
        machine_id: &str,
        dmi_uuid: Option<&str>,
        now: i64,
    ) -> Result<u64> {
        Ok(on_pool!(self, |p| {
            sqlx::query(
            "UPDATE machines SET state = 'unregistered', token_hash = NULL, repo_hash = NULL, last_seen = $1 \
             WHERE contract_id = $2 AND state = 'active' AND machine_id = $3 AND dmi_uuid IS NOT DISTINCT FROM $4"
        )
        .bind(now)
        .bind(contract_id)
        .bind(machine_id)
        .bind(dmi_uuid)
        .execute(p)
        .await?
        .rows_affected()
        }))
    }

    /// The clone row already recorded for this contract and identity.
    pub async fn find_clone(
        &self,
        contract_id: &str,
        machine_id: Option<&str>,
        dmi_uuid: Option<&str>,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM machines WHERE contract_id = $1 AND state = 'clone' \
             AND machine_id IS NOT DISTINCT FROM $2 AND dmi_uuid IS NOT DISTINCT FROM $3 LIMIT 1"
        )
        .bind(contract_id)
        .bind(machine_id)
        .bind(dmi_uuid)
        .fetch_optional(p)
        .await?);
        Ok(row.map(|r| r.0))
    }

    /// Refresh a clone row's last-seen time.
    pub async fn touch_clone(&self, id: &str, facts_json: &str, now: i64) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "UPDATE machines SET last_seen = $1, facts = $2 WHERE id = $3"
        )
        .bind(now)
        .bind(facts_json)
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Look up the machine that holds a credential (by its hash).
    pub async fn machine_by_token(&self, token_hash: &str) -> Result<Option<MachineAuth>> {
        let sql = format!(
            "SELECT m.id AS mid, m.contract_id, m.state, m.machine_id, m.dmi_uuid, m.repo_hash, m.guests_hash, \
             m.system_label, m.kind, {CONTRACT_COLS} \
             FROM machines m JOIN contracts c ON c.id = m.contract_id WHERE m.token_hash = $1"
        );
        on_pool!(self, |p| {
            match sqlx::query(&sql).bind(token_hash).fetch_optional(p).await? {
                None => Ok(None),
                Some(r) => Ok(Some(MachineAuth {
                    id: r.try_get("mid")?,
                    contract_id: r.try_get("contract_id")?,
                    state: r.try_get("state")?,
                    machine_id: r.try_get("machine_id")?,
                    dmi_uuid: r.try_get("dmi_uuid")?,
                    repo_hash: r.try_get("repo_hash")?,
                    guests_hash: r.try_get("guests_hash")?,
                    system_label: r.try_get("system_label")?,
                    kind: r.try_get("kind")?,
                    contract: contract_from_row(&r, 0)?,
                })),
            }
        })
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
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
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
            tx.commit().await
        })?;
        Ok(())
    }

    /// Write a batch of check-ins in one transaction (group commit).
    pub async fn apply_checkins(&self, batch: &[CheckinWrite]) -> Result<()> {
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            for w in batch {
                let c = &w.columns;
                sqlx::query(
                    "UPDATE machines SET last_seen = $1, observed_at = $2, facts = $3, machine_id = $4, dmi_uuid = $5, \
                     hostname = $6, kind = $7, hypervisor = $8, hypervisor_host = $9, cloud_provider = $10, \
                     cloud_account = $11, cloud_unit = $12, cluster = $13, os_major = $14, switch_status = $15, \
                     agent_version = $16, repo_hash = COALESCE(repo_hash, $17) \
                     WHERE id = $18 AND state = 'active'",
                )
                .bind(w.now)
                .bind(w.observed_at)
                .bind(&c.facts_json)
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
                .bind(&w.switch_status)
                .bind(&w.agent_version)
                .bind(&w.repo_hash)
                .bind(&w.machine)
                .execute(&mut *tx)
                .await?;
                if let Some((hash, guests)) = &w.guests {
                    sqlx::query("DELETE FROM host_guests WHERE host_id = $1")
                        .bind(&w.machine)
                        .execute(&mut *tx)
                        .await?;
                    for g in guests {
                        sqlx::query(
                            "INSERT INTO host_guests (guest_uuid, host_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        )
                        .bind(g)
                        .bind(&w.machine)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query("UPDATE machines SET guests_hash = $1 WHERE id = $2")
                        .bind(hash)
                        .bind(&w.machine)
                        .execute(&mut *tx)
                        .await?;
                }
                if w.record_presence {
                    let inserted = sqlx::query(
                        "INSERT INTO presence (day, machine_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(w.day)
                    .bind(&w.machine)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 1 && c.kind == "virtual" {
                        // The guest's group: its --system label, else the
                        // KVM host that lists its DMI UUID.
                        let grp: Option<String> = match &w.system_label {
                            Some(l) => Some(format!("s:{l}")),
                            None => match &c.dmi_uuid {
                                Some(u) => sqlx::query_as::<_, (String,)>(
                                    "SELECT host_id FROM host_guests WHERE guest_uuid = $1 ORDER BY host_id LIMIT 1",
                                )
                                .bind(u)
                                .fetch_optional(&mut *tx)
                                .await?
                                .map(|r| format!("h:{}", r.0)),
                                None => None,
                            },
                        };
                        if let Some(grp) = grp {
                            sqlx::query(
                                "INSERT INTO group_daily (day, grp, guests) VALUES ($1, $2, 1) \
                                 ON CONFLICT (day, grp) DO UPDATE SET guests = group_daily.guests + 1",
                            )
                            .bind(w.day)
                            .bind(&grp)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Machines counted by the live report: active and clone rows seen
    /// since `since` (Unix seconds).
    pub async fn fleet(&self, since: i64) -> Result<Vec<FleetRow>> {
        on_pool!(self, |p| {
            let rows = sqlx::query(
                "SELECT id, contract_id, state, system_label, hostname, dmi_uuid, kind, hypervisor, hypervisor_host, \
                 cloud_provider, cloud_account, cloud_unit, cluster, last_seen, clone_of \
                 FROM machines WHERE state IN ('active', 'clone') AND last_seen >= $1 ORDER BY id",
            )
            .bind(since)
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(FleetRow {
                        id: r.try_get("id")?,
                        contract_id: r.try_get("contract_id")?,
                        state: r.try_get("state")?,
                        system_label: r.try_get("system_label")?,
                        hostname: r.try_get("hostname")?,
                        dmi_uuid: r.try_get("dmi_uuid")?,
                        kind: r.try_get("kind")?,
                        hypervisor: r.try_get("hypervisor")?,
                        hypervisor_host: r.try_get::<i64, _>("hypervisor_host")? != 0,
                        cloud_provider: r.try_get("cloud_provider")?,
                        cloud_account: r.try_get("cloud_account")?,
                        cloud_unit: r.try_get("cloud_unit")?,
                        cluster: r.try_get("cluster")?,
                        last_seen: r.try_get("last_seen")?,
                        clone_of: r.try_get("clone_of")?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
    }

    /// Host → guest DMI UUIDs, from the KVM hosts' latest guest lists.
    pub async fn host_guests(&self) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT host_id, guest_uuid FROM host_guests ORDER BY host_id, guest_uuid"
        )
        .fetch_all(p)
        .await?))
    }

    /// Guests seen per day per group since `since_day`: (day, group, guests).
    pub async fn group_daily(&self, since_day: i64) -> Result<Vec<(i64, String, i64)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT day, grp, guests FROM group_daily WHERE day >= $1 ORDER BY day, grp"
        )
        .bind(since_day)
        .fetch_all(p)
        .await?))
    }

    /// Drop presence rows older than `before_day` (they only serve to
    /// count each machine once a day; the per-group counts stay).
    pub async fn prune_presence(&self, before_day: i64) -> Result<u64> {
        Ok(on_pool!(self, |p| sqlx::query(
            "DELETE FROM presence WHERE day < $1"
        )
        .bind(before_day)
        .execute(p)
        .await?
        .rows_affected()))
    }

    /// Number of machines per state, for /metrics.
    pub async fn machine_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT state, COUNT(*) FROM machines GROUP BY state ORDER BY state"
        )
        .fetch_all(p)
        .await?))
    }

    /// SQLite only: `PRAGMA integrity_check`, for tests and `doctor` runs.
    pub async fn integrity_check(&self) -> Result<String> {
        match self {
            Store::Sqlite(p) => {
                let (r,): (String,) = sqlx::query_as("PRAGMA integrity_check")
                    .fetch_one(p)
                    .await?;
                Ok(r)
            }
            Store::Postgres(_) => Ok("ok".into()),
        }
    }

    /// Bulk-load synthetic machines for the benchmark: credentials are
    /// `bench_credential(i)`, machine ids `bench-m-<i>`.
    pub async fn seed_bench(
        &self,
        contract_id: &str,
        n: usize,
        days: i64,
        today: i64,
    ) -> Result<()> {
        use crate::auth::sha256_hex;
        let chunk = 500;
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                for i in start..end {
                    let kind = if i.is_multiple_of(5) {
                        "physical"
                    } else {
                        "virtual"
                    };
                    let cloud = kind == "virtual" && i % 10 == 1;
                    let label = if kind == "virtual" && !cloud {
                        Some(format!("plat-{}", i % 200))
                    } else {
                        None
                    };
                    let (provider, unit) = if cloud {
                        (Some("azure"), Some(format!("rg-{}", i % 50)))
                    } else {
                        (None, None)
                    };
                    sqlx::query(
                        "INSERT INTO machines (id, contract_id, state, token_hash, system_label, machine_id, dmi_uuid, \
                         hostname, kind, hypervisor_host, facts, registered_at, last_seen, observed_at, cloud_provider, cloud_unit) \
                         VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, 0, '{}', $9, $9, $9, $10, $11)",
                    )
                    .bind(format!("bench-m-{i}"))
                    .bind(contract_id)
                    .bind(sha256_hex(&bench_credential(i)))
                    .bind(&label)
                    .bind(format!("{:032x}", i))
                    .bind(format!("00000000-0000-0000-0000-{:012x}", i))
                    .bind(format!("host{i}"))
                    .bind(kind)
                    .bind(today * 86400)
                    .bind(provider)
                    .bind(&unit)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            })?;
        }
        // History: every machine seen every day of the window.
        for d in 0..days {
            let day = today - d;
            on_pool!(self, |p| {
                sqlx::query(
                "INSERT INTO presence (day, machine_id) SELECT $1, id FROM machines WHERE true ON CONFLICT DO NOTHING"
            )
            .bind(day)
            .execute(p)
            .await
            .map(|_| ())
            })?;
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                for g in 0..200 {
                    let guests = (n / 250) as i64 + (d % 3);
                    sqlx::query(
                        "INSERT INTO group_daily (day, grp, guests) VALUES ($1, $2, $3) \
                         ON CONFLICT (day, grp) DO UPDATE SET guests = excluded.guests",
                    )
                    .bind(day)
                    .bind(format!("s:plat-{g}"))
                    .bind(guests)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            })?;
        }
        Ok(())
    }
}

/// The credential of synthetic machine `i` of `seed_bench`.
pub fn bench_credential(i: usize) -> String {
    format!("aec_bench{i:038}")
}

/// `sqlite:///abs/path`, `sqlite://rel/path`, `sqlite:path` → the path.
fn sqlite_path(url: &str) -> Result<Option<String>> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() {
        bail!("the SQLite URL {url} has no file path: use sqlite:///path/to/fleet.db");
    }
    Ok(Some(path.to_string()))
}

fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating the database file {}", path.display()))?;
    Ok(())
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}@{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/x.db").unwrap().unwrap(),
            "/var/lib/x.db"
        );
        assert_eq!(sqlite_path("sqlite:rel.db").unwrap().unwrap(), "rel.db");
        assert!(sqlite_path("postgres://x").unwrap().is_none());
        assert!(sqlite_path("sqlite://").is_err());
    }

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
