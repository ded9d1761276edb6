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

mod console;
mod machines;
mod open;

pub use console::{MachineQuery, MachineSort, PageMachine, SessionRow, UserRow};

pub use machines::MachineRow;
pub use open::OpenError;

/// Run `$body` in a transaction on a connection of its own; on any error
/// the connection is closed instead of going back to the pool. SQLite
/// may end a transaction by itself on a write error (a full disk) while
/// the driver still counts it open; a connection in that state would
/// answer later statements inside a transaction that never commits.
/// Closing it rolls back whatever it held.
///
/// `durable: true` (registrations): on SQLite the commit is synced to disk
/// (`synchronous = FULL` for this transaction; check-ins run with `NORMAL`,
/// where a power loss may take the last commits). PostgreSQL syncs every
/// commit by default.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:expr) => {
        write_tx!($store, durable: false, |$tx| $body)
    };
    ($store:expr, durable: $durable:expr, |$tx:ident| $body:expr) => {{
        let sync_full = $durable && matches!($store, Store::Sqlite(_));
        on_pool!($store, |p| {
            let mut conn = p.acquire().await?;
            let r: Result<_> = async {
                if sync_full {
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                }
                let mut $tx = sqlx::Connection::begin(&mut *conn).await?;
                let v = $body;
                $tx.commit().await?;
                Ok(v)
            }
            .await;
            // Committed or not, a connection left at FULL goes too.
            let reset = !sync_full
                || sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut *conn)
                    .await
                    .is_ok();
            if r.is_err() || !reset {
                conn.close_on_drop();
            }
            r
        })
    }};
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
    /// SHA-256 of `columns.facts_json` (and of `security_json` when the
    /// check-in carries one).
    pub facts_hash: String,
    /// The check-in's `security` summary as JSON; written with the facts.
    pub security_json: Option<String>,
    /// False when the store already holds these facts (by hash): the
    /// facts are then not sent to the database.
    pub facts_changed: bool,
    /// Set when the machine has no repository password hash yet.
    pub repo_hash: Option<String>,
    /// Some when the KVM guest list changed: (hash, guest UUIDs).
    pub guests: Option<(String, Vec<String>)>,
    /// Whether to record the day's presence (false when the machine's
    /// presence row for the day exists: the lookup's `presence_day`).
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

/// One bound value: a column of a batch row, or (PostgreSQL) a whole
/// column of a batch as one array.
#[derive(Debug, Clone, PartialEq)]
enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    Owned(String),
    Ints(Vec<Option<i64>>),
    Texts(Vec<Option<&'a str>>),
}

impl<'a> Arg<'a> {
    fn as_text(&self) -> Option<&str> {
        match self {
            Arg::Text(v) => *v,
            Arg::Owned(v) => Some(v),
            _ => None,
        }
    }

    fn as_int(&self) -> Option<i64> {
        match self {
            Arg::Int(v) => *v,
            _ => None,
        }
    }
}

/// Rows for `Store::row_statements`: columns (name, PostgreSQL type:
/// `text` or `bigint`) and one `Arg` per column per row.
#[derive(Debug, Default)]
struct Rows<'a> {
    cols: &'static [(&'static str, &'static str)],
    rows: Vec<Vec<Arg<'a>>>,
}

impl<'a> Rows<'a> {
    /// One array per column, in column order.
    fn columns(&self) -> Vec<Arg<'_>> {
        self.cols
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| match *ty {
                "bigint" => Arg::Ints(self.rows.iter().map(|r| r[i].as_int()).collect()),
                _ => Arg::Texts(self.rows.iter().map(|r| r[i].as_text()).collect()),
            })
            .collect()
    }
}

/// Bind `args` in order: `q.bind_args(&args)` on a `query` or `query_as`.
trait BindArgs<'q>: Sized {
    fn bind_args(self, args: &'q [Arg<'_>]) -> Self;
}

macro_rules! impl_bind_args {
    ($query:ty, $($o:ident)?; |$q:ident, $v:ident| $arrays:expr) => {
        impl<'q, $($o)?> BindArgs<'q> for $query {
            fn bind_args(self, args: &'q [Arg<'_>]) -> Self {
                args.iter().fold(self, |$q, a| match a {
                    Arg::Int(v) => $q.bind(*v),
                    Arg::Text(v) => $q.bind(*v),
                    Arg::Owned(v) => $q.bind(v.as_str()),
                    Arg::Ints($v) => $arrays,
                    Arg::Texts($v) => $arrays,
                })
            }
        }
    };
}

// PostgreSQL binds arrays natively; `row_statements` makes none for
// SQLite, which has no arrays (were one bound, it would go as JSON text).
impl_bind_args!(sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>, ;
    |q, v| q.bind(v.as_slice()));
impl_bind_args!(sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>, O;
    |q, v| q.bind(v.as_slice()));
impl_bind_args!(sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>, ;
    |q, v| q.bind(serde_json::to_string(v).unwrap_or_default()));
impl_bind_args!(sqlx::query::QueryAs<'q, sqlx::Sqlite, O, sqlx::sqlite::SqliteArguments<'q>>, O;
    |q, v| q.bind(serde_json::to_string(v).unwrap_or_default()));

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
const SQL_SET_FACTS: &str = "INSERT INTO machine_facts (machine_id, facts) VALUES ($1, $2) \
     ON CONFLICT (machine_id) DO UPDATE SET facts = excluded.facts WHERE machine_facts.facts <> excluded.facts";

/// The machine update of a check-in; reads `v` with `UPDATE_COLS`.
/// A machine id or DMI UUID the check-in lacks keeps its stored value:
/// the identity the clone check compares against is never erased.
/// `facts_hash`: the new hash when the facts were sent; else kept while it
/// still matches what the agent reported, cleared when it does not (a
/// concurrent check-in changed the facts in between), so that the next
/// check-in sends the facts again.
const SQL_UPDATE_MACHINES: &str = "UPDATE machines SET last_seen = v.now, observed_at = v.observed_at, \
     facts_hash = CASE WHEN v.facts_sent = 1 THEN v.facts_hash \
     WHEN machines.facts_hash = v.facts_hash THEN machines.facts_hash ELSE NULL END, \
     machine_id = COALESCE(v.machine_id, machines.machine_id), \
     dmi_uuid = COALESCE(v.dmi_uuid, machines.dmi_uuid), hostname = v.hostname, kind = v.kind, \
     hypervisor = v.hypervisor, hypervisor_host = v.hypervisor_host, cloud_provider = v.cloud_provider, \
     cloud_account = v.cloud_account, cloud_unit = v.cloud_unit, cluster = v.cluster, os_major = v.os_major, \
     switch_status = v.switch_status, agent_version = v.agent_version, \
     repo_hash = COALESCE(machines.repo_hash, v.repo_hash), presence_day = v.day \
     FROM v WHERE machines.id = v.id AND machines.state = 'active'";

const UPDATE_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("now", "bigint"),
    ("observed_at", "bigint"),
    ("machine_id", "text"),
    ("dmi_uuid", "text"),
    ("hostname", "text"),
    ("kind", "text"),
    ("hypervisor", "text"),
    ("hypervisor_host", "bigint"),
    ("cloud_provider", "text"),
    ("cloud_account", "text"),
    ("cloud_unit", "text"),
    ("cluster", "text"),
    ("os_major", "bigint"),
    ("switch_status", "text"),
    ("agent_version", "text"),
    ("repo_hash", "text"),
    ("facts_hash", "text"),
    ("facts_sent", "bigint"),
    ("day", "bigint"),
];

/// A batch of check-ins laid out for the few statements that write it
/// (pure: tested without a database).
struct CheckinBatch<'a> {
    /// The latest write of each machine in the batch, by machine.
    latest: std::collections::HashMap<&'a str, &'a CheckinWrite>,
    /// Writes carrying a changed KVM guest list, in batch order.
    guests: Vec<&'a CheckinWrite>,
    /// `UPDATE_COLS` rows of the latest writes.
    updates: Rows<'a>,
    /// (id, facts) of the latest writes.
    facts: Rows<'a>,
    /// (id, summary) of the latest writes whose facts or summary changed.
    security: Rows<'a>,
    /// (day, id) of the writes that record presence.
    presence: Rows<'a>,
}

impl<'a> CheckinBatch<'a> {
    fn new(batch: &'a [CheckinWrite]) -> Self {
        // A machine twice in one batch: its last check-in wins (a row can
        // be updated once per statement).
        let mut latest = std::collections::HashMap::new();
        for w in batch {
            latest.insert(w.machine.as_str(), w);
        }
        let mut updates = Rows {
            cols: UPDATE_COLS,
            rows: Vec::new(),
        };
        let mut facts = Rows {
            cols: &[("id", "text"), ("facts", "text")],
            rows: Vec::new(),
        };
        let mut security = Rows {
            cols: &[("id", "text"), ("summary", "text")],
            rows: Vec::new(),
        };
        let mut guests = Vec::new();
        for (i, w) in batch.iter().enumerate() {
            if !std::ptr::eq(latest[w.machine.as_str()], &batch[i]) {
                continue;
            }
            if w.guests.is_some() {
                guests.push(w);
            }
            let c = &w.columns;
            if w.facts_changed {
                facts.rows.push(vec![
                    Arg::Text(Some(&w.machine)),
                    Arg::Text(Some(&c.facts_json)),
                ]);
                if let Some(j) = &w.security_json {
                    security
                        .rows
                        .push(vec![Arg::Text(Some(&w.machine)), Arg::Text(Some(j))]);
                }
            }
            updates.rows.push(vec![
                Arg::Text(Some(&w.machine)),
                Arg::Int(Some(w.now)),
                Arg::Int(Some(w.observed_at)),
                Arg::Text(c.machine_id.as_deref()),
                Arg::Text(c.dmi_uuid.as_deref()),
                Arg::Text(c.hostname.as_deref()),
                Arg::Text(Some(&c.kind)),
                Arg::Text(c.hypervisor.as_deref()),
                Arg::Int(Some(c.hypervisor_host as i64)),
                Arg::Text(c.cloud_provider.as_deref()),
                Arg::Text(c.cloud_account.as_deref()),
                Arg::Text(c.cloud_unit.as_deref()),
                Arg::Text(c.cluster.as_deref()),
                Arg::Int(c.os_major),
                Arg::Text(Some(&w.switch_status)),
                Arg::Text(w.agent_version.as_deref()),
                Arg::Text(w.repo_hash.as_deref()),
                Arg::Text(Some(&w.facts_hash)),
                Arg::Int(Some(w.facts_changed as i64)),
                Arg::Int(Some(w.day)),
            ]);
        }
        let mut seen = std::collections::HashSet::new();
        let presence = Rows {
            cols: &[("day", "bigint"), ("id", "text")],
            rows: batch
                .iter()
                .filter(|w| w.record_presence && seen.insert((w.day, w.machine.as_str())))
                .map(|w| vec![Arg::Int(Some(w.day)), Arg::Text(Some(&w.machine))])
                .collect(),
        };
        CheckinBatch {
            latest,
            guests,
            updates,
            facts,
            security,
            presence,
        }
    }

    /// Writes that carry a changed KVM guest list.
    fn guest_changes(&self) -> impl Iterator<Item = &&'a CheckinWrite> {
        self.guests.iter()
    }

    /// DMI UUIDs of the guests among `firsts` (first check-ins of the day)
    /// that have no `--system` label: their group is their KVM host.
    fn unlabelled_guest_uuids(&self, firsts: &[(String, i64)]) -> Rows<'a> {
        let mut uuids: Vec<&'a str> = firsts
            .iter()
            .filter_map(|(id, _)| self.latest.get(id.as_str()))
            .filter(|w| w.columns.kind == "virtual" && w.system_label.is_none())
            .filter_map(|w| w.columns.dmi_uuid.as_deref())
            .collect();
        uuids.sort_unstable();
        uuids.dedup();
        Rows {
            cols: &[("uuid", "text")],
            rows: uuids
                .into_iter()
                .map(|u| vec![Arg::Text(Some(u))])
                .collect(),
        }
    }

    /// Guests per (day, group) among `firsts`; `hosts`: (guest DMI UUID,
    /// KVM host machine id).
    fn group_counts(&self, firsts: &[(String, i64)], hosts: &[(String, String)]) -> Rows<'static> {
        let host_of: std::collections::HashMap<&str, &str> = hosts
            .iter()
            .map(|(u, h)| (u.as_str(), h.as_str()))
            .collect();
        let mut counts: std::collections::BTreeMap<(i64, String), i64> =
            std::collections::BTreeMap::new();
        for (id, day) in firsts {
            let Some(w) = self.latest.get(id.as_str()) else {
                continue;
            };
            if w.columns.kind != "virtual" {
                continue;
            }
            // The guest's group: its --system label, else the KVM host
            // that lists its DMI UUID.
            let grp = match &w.system_label {
                Some(l) => format!("s:{l}"),
                None => match w.columns.dmi_uuid.as_deref().and_then(|u| host_of.get(u)) {
                    Some(h) => format!("h:{h}"),
                    None => continue,
                },
            };
            *counts.entry((*day, grp)).or_default() += 1;
        }
        Rows {
            cols: &[("day", "bigint"), ("grp", "text"), ("n", "bigint")],
            rows: counts
                .into_iter()
                .map(|((day, grp), n)| {
                    vec![Arg::Int(Some(day)), Arg::Owned(grp), Arg::Int(Some(n))]
                })
                .collect(),
        }
    }
}

/// `FleetRow` as the database packs it (a JSON array per row, in the
/// column order of `Store::fleet`).
#[derive(serde::Deserialize)]
struct FleetWire(
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

impl From<FleetWire> for FleetRow {
    fn from(w: FleetWire) -> FleetRow {
        FleetRow {
            id: w.0,
            contract_id: w.1,
            state: w.2,
            system_label: w.3,
            hostname: w.4,
            dmi_uuid: w.5,
            kind: w.6,
            hypervisor: w.7,
            hypervisor_host: w.8 != 0,
            cloud_provider: w.9,
            cloud_account: w.10,
            cloud_unit: w.11,
            cluster: w.12,
            last_seen: w.13,
            clone_of: w.14,
        }
    }
}

/// Fleet rows from PostgreSQL's COPY text format: a line per row, tab
/// between columns, `\N` for NULL, backslash escapes.
fn parse_copy_rows(text: &[u8]) -> Result<Vec<FleetRow>> {
    fn field(raw: &[u8]) -> Result<Option<String>> {
        if raw == b"\\N" {
            return Ok(None);
        }
        if !raw.contains(&b'\\') {
            return std::str::from_utf8(raw)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| anyhow::anyhow!("COPY output: a field is not UTF-8"));
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let c = raw[i];
            i += 1;
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = raw.get(i) else {
                bail!("COPY output: a backslash at the end of a field");
            };
            i += 1;
            out.push(match e {
                b'b' => 8,
                b'f' => 12,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 11,
                b'0'..=b'7' => {
                    let mut v = (e - b'0') as u32;
                    for _ in 0..2 {
                        match raw.get(i) {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + (d - b'0') as u32;
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    v as u8
                }
                b'x' => {
                    let mut v = 0u32;
                    for _ in 0..2 {
                        match raw.get(i).and_then(|d| (*d as char).to_digit(16)) {
                            Some(d) => {
                                v = v * 16 + d;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                    v as u8
                }
                other => other,
            });
        }
        String::from_utf8(out)
            .map(Some)
            .map_err(|_| anyhow::anyhow!("COPY output: a field is not UTF-8"))
    }
    let mut rows = Vec::new();
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut cols: [&[u8]; 15] = [&[]; 15];
        let mut count = 0;
        for c in line.split(|b| *b == b'\t') {
            if count < cols.len() {
                cols[count] = c;
            }
            count += 1;
        }
        if count != cols.len() {
            bail!("COPY output line {}: {count} columns, expected 15", n + 1);
        }
        let text = |i: usize| field(cols[i]);
        let need = |i: usize| -> Result<String> {
            text(i)?
                .with_context(|| format!("COPY output line {}: column {} is NULL", n + 1, i + 1))
        };
        let int = |i: usize| -> Result<i64> {
            need(i)?.parse().with_context(|| {
                format!(
                    "COPY output line {}: column {} is not a number",
                    n + 1,
                    i + 1
                )
            })
        };
        rows.push(FleetRow {
            id: need(0)?,
            contract_id: need(1)?,
            state: need(2)?,
            system_label: text(3)?,
            hostname: text(4)?,
            dmi_uuid: text(5)?,
            kind: need(6)?,
            hypervisor: text(7)?,
            hypervisor_host: int(8)? != 0,
            cloud_provider: text(9)?,
            cloud_account: text(10)?,
            cloud_unit: text(11)?,
            cluster: text(12)?,
            last_seen: int(13)?,
            clone_of: text(14)?,
        });
    }
    Ok(rows)
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
                // A ping before every acquire costs a thread hop (SQLite) or
                // a round trip (PostgreSQL) per statement; a dead connection
                // shows up as an error of the statement itself.
                .test_before_acquire(false)
                .min_connections(1)
                .connect_with(opts)
                .await
                .with_context(|| format!("opening the SQLite database {}", path.display()))?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .context("parsing the PostgreSQL URL")?
                // Plan each prepared statement once. The batch statements
                // take arrays (`unnest($1::text[], …)`), and with a custom
                // plan per array length PostgreSQL re-planned every
                // check-in batch: as much time planning as executing.
                // The server's statements are key lookups and small
                // tables, for which the generic plan is the plan.
                .options([("plan_cache_mode", "force_generic_plan")]);
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .test_before_acquire(false)
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

    /// Open for serving: refuse an empty file where the SQLite database
    /// should be, check the store (`PRAGMA quick_check`, the schema
    /// version) and refuse a damaged one, then migrate. `start_anyway`
    /// turns the refusals into warnings.
    pub async fn open_checked(url: &str, start_anyway: bool) -> Result<Store> {
        if let Some(path) = sqlite_path(url)? {
            if is_empty_file(Path::new(&path)) {
                let e = StoreDamage::EmptyFile(path);
                if !start_anyway {
                    return Err(e.into());
                }
                tracing::warn!("{e}; starting anyway (--start-anyway)");
            }
        }
        let store = Store::connect(url).await?;
        let report = store.check(false).await?;
        if !report.problems.is_empty() {
            let e = StoreDamage::Damaged {
                url: redact_url(url),
                problems: report.problems,
            };
            if !start_anyway {
                store.close().await;
                return Err(e.into());
            }
            tracing::error!("{e}; starting anyway (--start-anyway)");
        }
        store.migrate().await?;
        Ok(store)
    }

    /// `alma-ext-server store check`: the full check of the database at
    /// `url`, which must exist (nothing is created or migrated).
    pub async fn check_url(url: &str) -> Result<CheckReport> {
        if let Some(path) = sqlite_path(url)? {
            let p = Path::new(&path);
            if !p.is_file() {
                bail!("no database file at {path}");
            }
            if is_empty_file(p) {
                return Ok(CheckReport {
                    problems: vec![StoreDamage::EmptyFile(path).to_string()],
                    notes: Vec::new(),
                });
            }
        }
        let store = Store::connect(url).await?;
        let report = store.check(true).await;
        store.close().await;
        report
    }

    /// Check the store: SQLite's `quick_check` (`full`: `integrity_check`,
    /// which also compares every index with its table) and, on both
    /// engines, the schema version against this server's migrations.
    pub async fn check(&self, full: bool) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        if let Store::Sqlite(p) = self {
            // The quick check reads every page but does not compare indexes
            // with their tables; for the tables every request reads by
            // index (a flipped byte in a credential hash locks a machine
            // out), the full check of those tables, which is quick too.
            let pragmas: &[&str] = if full {
                &["PRAGMA integrity_check"]
            } else {
                &[
                    "PRAGMA quick_check",
                    "PRAGMA integrity_check(machines)",
                    "PRAGMA integrity_check(contracts)",
                ]
            };
            for pragma in pragmas {
                match sqlx::query_scalar::<_, String>(pragma).fetch_all(p).await {
                    Ok(rows) => report
                        .problems
                        .extend(rows.into_iter().filter(|r| r != "ok")),
                    // A table not there yet (a new database) is no damage.
                    Err(e) if e.to_string().contains("no such table") => {}
                    Err(e) => report.problems.push(format!("{pragma}: {e}")),
                }
                if !report.problems.is_empty() {
                    break;
                }
            }
        }
        let applied = match self.applied_migrations().await {
            Ok(a) => a,
            Err(e) => {
                report
                    .problems
                    .push(format!("reading the schema version: {e:#}"));
                return Ok(report);
            }
        };
        let known: Vec<(i64, Vec<u8>)> = self
            .migrator()
            .iter()
            .map(|m| (m.version, m.checksum.to_vec()))
            .collect();
        let (problems, notes) = schema_findings(&applied, &known);
        report.problems.extend(problems);
        report.notes.extend(notes);
        Ok(report)
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self {
            Store::Sqlite(_) => &SQLITE_MIGRATIONS,
            Store::Postgres(_) => &PG_MIGRATIONS,
        }
    }

    /// The migrations recorded in the database: (version, success,
    /// checksum). Empty for a database never migrated.
    async fn applied_migrations(&self) -> Result<Vec<AppliedMigration>> {
        let exists_sql = match self {
            Store::Sqlite(_) => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Store::Postgres(_) => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let exists: i64 = on_pool!(self, |p| sqlx::query_scalar(exists_sql)
            .fetch_one(p)
            .await?);
        if exists == 0 {
            return Ok(Vec::new());
        }
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version"
        )
        .fetch_all(p)
        .await?))
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

    /// A small write that must reach the database file (health probe
    /// while writes fail).
    pub async fn probe_write(&self, now: i64) -> Result<()> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ('health_probe', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        })?;
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
            anyhow::Ok(())
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

    /// Write a batch of check-ins in one transaction (group commit).
    ///
    /// A handful of statements per batch, not per check-in: each reads the
    /// batch as a table (`row_statements`). Statements cost a thread hop
    /// each on SQLite and a round trip each on PostgreSQL; per-row
    /// statements capped check-ins well below the 5,000/s target. The
    /// common batch (machines already present today, facts unchanged) is
    /// a single `UPDATE` on PostgreSQL, without BEGIN and COMMIT.
    pub async fn apply_checkins(&self, batch: &[CheckinWrite]) -> Result<()> {
        let plan = CheckinBatch::new(batch);
        let update = self.row_statements(&plan.updates, SQL_UPDATE_MACHINES);
        let facts = self.row_statements(
            &plan.facts,
            "INSERT INTO machine_facts (machine_id, facts) \
             SELECT v.id, v.facts FROM v JOIN machines m ON m.id = v.id WHERE m.state = 'active' \
             ON CONFLICT (machine_id) DO UPDATE SET facts = excluded.facts \
             WHERE machine_facts.facts <> excluded.facts",
        );
        let security = self.row_statements(
            &plan.security,
            "INSERT INTO machine_security (machine_id, summary) \
             SELECT v.id, v.summary FROM v JOIN machines m ON m.id = v.id WHERE m.state = 'active' \
             ON CONFLICT (machine_id) DO UPDATE SET summary = excluded.summary \
             WHERE machine_security.summary <> excluded.summary",
        );
        let presence = self.row_statements(
            &plan.presence,
            "INSERT INTO presence (day, machine_id) SELECT day, id FROM v WHERE true \
             ON CONFLICT DO NOTHING RETURNING machine_id, day",
        );
        if let ([(sql, args)], true, true, None) = (
            update.as_slice(),
            facts.is_empty() && security.is_empty(),
            presence.is_empty(),
            plan.guest_changes().next(),
        ) {
            // The common batch on PostgreSQL: machines already seen today
            // with unchanged facts. One statement is its own transaction;
            // BEGIN and COMMIT would be two more round trips.
            on_pool!(self, |p| sqlx::query(sql)
                .bind_args(args)
                .execute(p)
                .await
                .map(|_| ()))?;
            return Ok(());
        }
        write_tx!(self, |tx| {
            for (sql, args) in update.iter().chain(&facts).chain(&security) {
                sqlx::query(sql).bind_args(args).execute(&mut *tx).await?;
            }
            for w in plan.guest_changes() {
                let Some((hash, guests)) = &w.guests else {
                    continue;
                };
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
            // First check-ins of the day count towards the day's guests
            // of the machine's group.
            let mut firsts: Vec<(String, i64)> = Vec::new();
            for (sql, args) in &presence {
                firsts.extend(
                    sqlx::query_as::<_, (String, i64)>(sql)
                        .bind_args(args)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            let uuids = plan.unlabelled_guest_uuids(&firsts);
            let mut hosts: Vec<(String, String)> = Vec::new();
            // The guest's KVM host, when it has no --system label.
            for (sql, args) in &self.row_statements(
                &uuids,
                "SELECT g.guest_uuid, MIN(g.host_id) FROM host_guests g JOIN v ON g.guest_uuid = v.uuid \
                 GROUP BY g.guest_uuid",
            ) {
                hosts.extend(
                    sqlx::query_as::<_, (String, String)>(sql).bind_args(args)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            let groups = plan.group_counts(&firsts, &hosts);
            for (sql, args) in &self.row_statements(
                &groups,
                "INSERT INTO group_daily (day, grp, guests) SELECT day, grp, n FROM v WHERE true \
                 ON CONFLICT (day, grp) DO UPDATE SET guests = group_daily.guests + excluded.guests",
            ) {
                sqlx::query(sql).bind_args(args).execute(&mut *tx).await?;
            }
        })?;
        Ok(())
    }

    /// The statements that run `body` over `rows`, which `body` reads as
    /// the table `v`. PostgreSQL: one statement, each column bound as one
    /// typed array (`unnest`), in binary: no JSON to write or parse (the
    /// JSON form, `json_to_recordset`, spent a tenth of PostgreSQL's time
    /// in its JSON parser). SQLite: `VALUES` lists of 64, 16, 4 and 1 rows
    /// (a few fixed statement shapes for the statement cache; SQLite's
    /// JSON functions re-parse a row's text for every column, which cost
    /// more than the statements they saved).
    fn row_statements<'r>(&self, rows: &'r Rows<'_>, body: &str) -> Vec<(String, Vec<Arg<'r>>)> {
        if rows.rows.is_empty() {
            return Vec::new();
        }
        let names: Vec<&str> = rows.cols.iter().map(|(c, _)| *c).collect();
        match self {
            Store::Postgres(_) => {
                let arrays: Vec<String> = rows
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(i, (_, t))| format!("${}::{t}[]", i + 1))
                    .collect();
                vec![(
                    format!(
                        "WITH v AS (SELECT * FROM unnest({}) AS x({})) {body}",
                        arrays.join(", "),
                        names.join(", ")
                    ),
                    rows.columns(),
                )]
            }
            Store::Sqlite(_) => {
                let mut out = Vec::new();
                let mut rest: &[Vec<Arg<'r>>] = &rows.rows;
                while !rest.is_empty() {
                    let n = [64, 16, 4, 1]
                        .into_iter()
                        .find(|n| *n <= rest.len())
                        .unwrap_or(1);
                    let (chunk, tail) = rest.split_at(n);
                    rest = tail;
                    let width = names.len();
                    let values: Vec<String> = (0..n)
                        .map(|r| {
                            let ps: Vec<String> = (0..width)
                                .map(|c| format!("${}", r * width + c + 1))
                                .collect();
                            format!("({})", ps.join(", "))
                        })
                        .collect();
                    out.push((
                        format!(
                            "WITH v({}) AS (VALUES {}) {body}",
                            names.join(", "),
                            values.join(", ")
                        ),
                        chunk.iter().flatten().cloned().collect(),
                    ));
                }
                out
            }
        }
    }

    /// Machines counted by the live report: active and clone rows seen
    /// since `since` (Unix seconds).
    ///
    /// The database packs the rows into one JSON array and serde reads
    /// that: 100,000 rows decoded one by one through the driver (a thread
    /// hop and a by-name lookup per column on SQLite) took seconds; one
    /// value takes a small fraction of that on both engines.
    pub async fn fleet(&self, since: i64) -> Result<Vec<FleetRow>> {
        const COLS: &str = "id, contract_id, state, system_label, hostname, dmi_uuid, kind, hypervisor, \
             hypervisor_host, cloud_provider, cloud_account, cloud_unit, cluster, last_seen, clone_of";
        const WHERE: &str = "FROM machines WHERE state IN ('active', 'clone') AND last_seen >=";
        let mut rows: Vec<FleetRow> = match self {
            Store::Sqlite(p) => {
                let packed: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT json_group_array(json_array({COLS})) FROM (SELECT {COLS} {WHERE} $1)"
                ))
                .bind(since)
                .fetch_one(p)
                .await?;
                let wire: Vec<FleetWire> = match packed {
                    Some(p) => serde_json::from_str(&p).context("reading the fleet rows")?,
                    None => Vec::new(),
                };
                wire.into_iter().map(FleetRow::from).collect()
            }
            Store::Postgres(p) => {
                // COPY: PostgreSQL's bulk text output, an order of
                // magnitude cheaper on its side than building JSON.
                // (`since` is an integer we format: no injection.)
                use futures_util::TryStreamExt;
                use sqlx::postgres::PgPoolCopyExt;
                let mut text = Vec::with_capacity(1 << 20);
                let mut stream = p
                    .copy_out_raw(&format!("COPY (SELECT {COLS} {WHERE} {since}) TO STDOUT"))
                    .await?;
                while let Some(chunk) = stream.try_next().await? {
                    text.extend_from_slice(&chunk);
                }
                parse_copy_rows(&text)?
            }
        };
        rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    /// The latest security-status summary of each active machine seen
    /// since `since`: (machine, hostname, contract, summary JSON).
    pub async fn security_summaries(
        &self,
        since: i64,
    ) -> Result<Vec<(String, Option<String>, String, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT m.id, m.hostname, m.contract_id, s.summary FROM machine_security s \
             JOIN machines m ON m.id = s.machine_id \
             WHERE m.state = 'active' AND m.last_seen >= $1 ORDER BY m.id"
        )
        .bind(since)
        .fetch_all(p)
        .await)?)
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
                    let facts = bench_facts(i);
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
                         hostname, kind, hypervisor_host, registered_at, last_seen, observed_at, cloud_provider, cloud_unit, \
                         facts_hash, presence_day) \
                         VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, 0, $9, $9, $9, $10, $11, $12, $13)",
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
                    .bind(sha256_hex(&facts))
                    // Today's presence row is written below.
                    .bind((days > 0).then_some(today))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(SQL_SET_FACTS)
                        .bind(format!("bench-m-{i}"))
                        .bind(&facts)
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

    /// For the benchmark: forget that any machine checked in on `day`, so
    /// that each one's next check-in is its first of the day (presence
    /// row, per-group count).
    pub async fn bench_new_day(&self, day: i64) -> Result<()> {
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE machines SET presence_day = NULL")
                .execute(&mut *tx)
                .await?;
            for table in ["presence", "group_daily"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE day = $1"))
                    .bind(day)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }
}

/// The facts JSON of synthetic machine `i` (about 1.8 KB, like a real
/// agent's): one in five physical, the rest KVM guests, one in ten of
/// those in an Azure resource group.
pub fn bench_facts(i: usize) -> String {
    let kind = if i.is_multiple_of(5) {
        "physical"
    } else {
        "virtual"
    };
    let hyp = if kind == "virtual" { "\"kvm\"" } else { "null" };
    let cloud = if kind == "virtual" && i % 10 == 1 {
        format!(
            r#","cloud_account":{{"provider":"azure","account":"sub-1","unit":"rg-{}","region":"japaneast","instance_id":"i-{i}","official_image":true,"image":"almalinux-9"}}"#,
            i % 50
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"schema_version":1,"machine":{{"type":"{kind}","hypervisor":{hyp},"cloud":null,"container":null,"hypervisor_host":false,"uuid":"00000000-0000-0000-0000-{i:012x}","machine_id":"{i:032x}","hostname":"host{i}","evidence":[{{"decides":"type","source":"/sys/class/dmi/id/sys_vendor","value":"QEMU"}},{{"decides":"hypervisor","source":"cpuid","value":"KVMKVMKVM"}}]}},"os":{{"id":"almalinux","name":"AlmaLinux","pretty_name":"AlmaLinux 9.6 (Sage Margay)","version_id":"9.6","major":9,"minor":6,"family":"almalinux","supported":true,"support_end":"2032-05-31","platform_id":"platform:el9"}},"hardware":{{"arch":"x86_64","cpu_model":"Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz","cpu_sockets":2,"cpu_cores":32,"cpu_threads":64,"memory_bytes":274877906944,"dmi":{{"sys_vendor":"QEMU","product_name":"Standard PC (Q35 + ICH9, 2009)","product_version":"pc-q35-8.2","product_serial":null,"product_uuid":"00000000-0000-0000-0000-{i:012x}","board_vendor":null,"bios_vendor":"SeaBIOS","bios_version":"1.16.3","chassis_asset_tag":null}}}},"guests":[]{cloud}}}"#
    )
}

/// The credential of synthetic machine `i` of `seed_bench`.
pub fn bench_credential(i: usize) -> String {
    format!("aec_bench{i:038}")
}

/// What a check of the store found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Damage: the store must not serve as it is.
    pub problems: Vec<String>,
    /// Worth knowing, not damage (schema version, pending migrations).
    pub notes: Vec<String>,
}

/// Why the store refuses to serve.
#[derive(Debug, thiserror::Error)]
pub enum StoreDamage {
    #[error(
        "{0} is an empty file where the fleet database was expected: restore it from a backup, \
         or remove it to start an empty fleet (--start-anyway serves it as an empty fleet)"
    )]
    EmptyFile(String),
    #[error(
        "the fleet database {url} is damaged ({}); restore it from a backup \
         (`alma-ext-server store check` runs the full check; --start-anyway serves it as it is)",
        problems.join("; ")
    )]
    Damaged { url: String, problems: Vec<String> },
}

/// One row of `_sqlx_migrations`: (version, success, checksum).
type AppliedMigration = (i64, bool, Vec<u8>);

/// Problems and notes from the applied migrations against the known
/// ones (version, checksum). Pure.
fn schema_findings(
    applied: &[AppliedMigration],
    known: &[(i64, Vec<u8>)],
) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    for (version, success, checksum) in applied {
        match known.iter().find(|(v, _)| v == version) {
            None => problems.push(format!(
                "schema version {version} is newer than this server knows (it knows up to {}): \
                 run the server version that wrote this database, or a later one",
                known.iter().map(|(v, _)| *v).max().unwrap_or(0)
            )),
            Some(_) if !success => problems.push(format!(
                "schema migration {version} failed part-way: restore from a backup"
            )),
            Some((_, k)) if k != checksum => problems.push(format!(
                "schema migration {version} is not the one this server ships (checksum differs)"
            )),
            Some(_) => {}
        }
    }
    let current = applied.iter().map(|a| a.0).max();
    let latest = known.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let notes = match current {
        None => vec![format!(
            "schema: not created yet (`serve` creates version {latest})"
        )],
        Some(c) if c < latest => vec![format!(
            "schema version {c}; `serve` migrates it to {latest}"
        )],
        Some(c) => vec![format!("schema version {c}")],
    };
    (problems, notes)
}

/// True for an existing regular file of 0 bytes.
fn is_empty_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.len() == 0)
        .unwrap_or(false)
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
    fn copy_rows_unescape_and_name_the_line() {
        let text = b"m-1\tct-1\tactive\t\\N\tweb\\t1\t\\N\tvirtual\tkvm\t0\t\\N\t\\N\t\\N\t\\N\t86400\t\\N\n\
m-2\tct-1\tclone\tplat\\\\x\th\\303\\251\tu\tphysical\t\\N\t1\taws\tacct\tunit\tha\t5\tm-1\n";
        let rows = parse_copy_rows(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "m-1");
        assert_eq!(rows[0].system_label, None);
        assert_eq!(rows[0].hostname.as_deref(), Some("web\t1"));
        assert!(!rows[0].hypervisor_host);
        assert_eq!(rows[0].last_seen, 86400);
        assert_eq!(rows[1].system_label.as_deref(), Some("plat\\x"));
        assert_eq!(rows[1].hostname.as_deref(), Some("h\u{e9}"));
        assert!(rows[1].hypervisor_host);
        assert_eq!(rows[1].clone_of.as_deref(), Some("m-1"));
        let e = parse_copy_rows(b"m-1\tct-1\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("2 columns"), "{e}");
        let e = parse_copy_rows(b"m\tc\ts\t\\N\t\\N\t\\N\tk\t\\N\tX\t\\N\t\\N\t\\N\t\\N\t1\t\\N\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 9"), "{e}");
    }

    /// `row_statements` of `rows` run on SQLite: the rows `body` returns.
    async fn run_sqlite(store: &Store, rows: &Rows<'_>, body: &str) -> Vec<(String, i64)> {
        let Store::Sqlite(p) = store else {
            unreachable!("a SQLite store")
        };
        let mut got = Vec::new();
        for (sql, args) in &store.row_statements(rows, body) {
            got.extend(
                sqlx::query_as::<_, (String, i64)>(sql)
                    .bind_args(args)
                    .fetch_all(p)
                    .await
                    .unwrap(),
            );
        }
        got
    }

    fn id_rows(ids: &[(String, i64)]) -> Rows<'_> {
        Rows {
            cols: &[("id", "text"), ("n", "bigint")],
            rows: ids
                .iter()
                .map(|(i, n)| vec![Arg::Text(Some(i)), Arg::Int(Some(*n))])
                .collect(),
        }
    }

    #[tokio::test]
    async fn sqlite_batches_return_every_row_in_few_statement_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}/f.db", dir.path().display()))
            .await
            .unwrap();
        let body = "SELECT id, n FROM v";
        // Every row comes back, in order, whatever the batch size; 70 rows
        // take 4 statements (64 + 4 + 1 + 1), not 70.
        for len in [1, 3, 4, 16, 63, 64, 65, 70, 200] {
            let ids: Vec<(String, i64)> = (0..len).map(|i| (format!("m{i}"), i)).collect();
            assert_eq!(
                run_sqlite(&store, &id_rows(&ids), body).await,
                ids,
                "{len} rows"
            );
        }
        let ids: Vec<(String, i64)> = (0..70).map(|i| (format!("m{i}"), i)).collect();
        assert_eq!(store.row_statements(&id_rows(&ids), body).len(), 4);
        // Few distinct statements over every batch size (the statement
        // cache holds them all).
        let shapes: std::collections::BTreeSet<String> = (1..=200)
            .flat_map(|len| {
                let ids: Vec<(String, i64)> = (0..len).map(|i| (format!("m{i}"), i)).collect();
                store
                    .row_statements(&id_rows(&ids), body)
                    .into_iter()
                    .map(|(sql, _)| sql)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(shapes.len(), 4);
        // No rows: no statement.
        assert!(store
            .row_statements(&Rows::default(), "SELECT 1")
            .is_empty());
    }

    /// On the test PostgreSQL (ALMA_EXT_TEST_DATABASE_URL, which
    /// tests/run-all starts): a batch of any size is one statement, with
    /// one array per column, and every row comes back with its NULLs.
    #[tokio::test]
    async fn postgres_batch_is_one_statement_returning_every_row() {
        let url = std::env::var("ALMA_EXT_TEST_DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "ALMA_EXT_TEST_DATABASE_URL is not set: this test needs a real PostgreSQL; \
                 run it through tests/run-all (it starts one), or export the variable yourself"
            )
        });
        let store = Store::Postgres(PgPoolOptions::new().connect(&url).await.unwrap());
        let Store::Postgres(p) = &store else {
            unreachable!()
        };
        let rows = Rows {
            cols: &[("id", "text"), ("n", "bigint"), ("grp", "text")],
            rows: vec![
                vec![
                    Arg::Text(Some("m1")),
                    Arg::Int(Some(7)),
                    Arg::Owned("s:a".into()),
                ],
                vec![Arg::Text(None), Arg::Int(None), Arg::Text(Some("h:b"))],
            ],
        };
        let st = store.row_statements(&rows, "SELECT id, n, grp FROM v");
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].1.len(), 3, "one bound array per column");
        let got: Vec<(Option<String>, Option<i64>, Option<String>)> = sqlx::query_as(&st[0].0)
            .bind_args(&st[0].1)
            .fetch_all(p)
            .await
            .unwrap();
        assert_eq!(
            got,
            [
                (Some("m1".into()), Some(7), Some("s:a".into())),
                (None, None, Some("h:b".into())),
            ]
        );
        let many: Vec<(String, i64)> = (0..1000).map(|i| (format!("m{i}"), i)).collect();
        let many_rows = id_rows(&many);
        let st = store.row_statements(&many_rows, "SELECT id, n FROM v");
        assert_eq!(st.len(), 1, "1000 rows, one statement");
        let got: Vec<(String, i64)> = sqlx::query_as(&st[0].0)
            .bind_args(&st[0].1)
            .fetch_all(p)
            .await
            .unwrap();
        assert_eq!(got, many);
        store.close().await;
    }

    #[test]
    fn schema_findings_name_the_version() {
        let known = vec![(1, vec![1u8]), (2, vec![2u8])];
        let (p, n) = schema_findings(&[(1, true, vec![1]), (2, true, vec![2])], &known);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(n, ["schema version 2"]);
        let (p, _) = schema_findings(&[(1, true, vec![1]), (3, true, vec![3])], &known);
        assert!(p[0].contains("schema version 3 is newer"), "{p:?}");
        let (p, _) = schema_findings(&[(1, false, vec![1])], &known);
        assert!(p[0].contains("failed part-way"), "{p:?}");
        let (p, _) = schema_findings(&[(1, true, vec![9])], &known);
        assert!(p[0].contains("checksum"), "{p:?}");
        let (p, n) = schema_findings(&[], &known);
        assert!(p.is_empty());
        assert!(n[0].contains("not created yet"), "{n:?}");
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
