//! The fleet store: contracts, machines, platforms, targets and check-in
//! history, in SQLite (default, zero configuration) or PostgreSQL (large
//! fleets, several replicas).
//!
//! One set of SQL serves both: `$N` placeholders work in both engines,
//! times are Unix seconds in BIGINT columns, and booleans are 0/1, so
//! every query is written once and run through `on_pool!` on whichever
//! pool this store holds. Where the engines differ (connecting,
//! migrations, batch statements) is `engine`.
//!
//! One module per aggregate: `contracts`; `machines` (registration,
//! credentials, clones, `machine list/show/retire`); `checkins` (the
//! group-commit batch, presence); `fleet` (what the live count and the
//! reports read); `settings` (platforms, switch targets, settings);
//! `open` (opening, checking and migrating a database); `console`
//! (console users, sessions, machine pages). `bench` (feature `bench`)
//! seeds synthetic fleets for benches/server.sh.

use sqlx::{PgPool, SqlitePool};

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

mod checkins;
mod console;
mod contracts;
mod engine;
mod error;
mod fleet;
mod machines;
mod open;
mod settings;

#[cfg(feature = "bench")]
mod bench;

#[cfg(feature = "bench")]
pub use bench::{bench_credential, bench_facts};
pub use checkins::CheckinWrite;
pub use console::{MachineQuery, MachineSort, PageMachine, SessionRow, UserRow};
pub use contracts::ContractRow;
pub use engine::{redact_url, DEFAULT_DATABASE};
pub use error::{Result, StoreError};
pub use fleet::FleetRow;
pub use machines::{FactColumns, MachineAuth, MachineRow, NewMachine, Registered, RepoAuthRow};
pub use open::{CheckReport, Note, OpenError, Problem, StoreDamage};
pub use settings::PlatformRow;
