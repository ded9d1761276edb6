//! Opening a fleet database that must already exist: every command but
//! `serve` (and `--create`) reads or changes a fleet, so a mistyped path or
//! URL is an error that names it, never a new empty database that reports
//! 0 machines.

use anyhow::Context;

use super::{redact_url, sqlite_path, Store};

/// Why an existing fleet database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// No file at the SQLite path, or no such database on the PostgreSQL server.
    #[error(
        "the database {0} does not exist: check --database, or pass --create to make a new one"
    )]
    Missing(String),
    /// The database exists but was never set up by alma-ext-server.
    #[error("the database {0} holds no fleet (no alma-ext-server schema): check --database, or pass --create to set one up")]
    NoSchema(String),
    /// The database is there but could not be reached or migrated.
    #[error(transparent)]
    Unreachable(anyhow::Error),
}

/// PostgreSQL's SQLSTATE for "database does not exist".
const PG_INVALID_CATALOG_NAME: &str = "3D000";

impl Store {
    /// Open the fleet database at `url` and bring its schema up to date.
    /// With `create`, as [`Store::open`]: a missing SQLite file (or empty
    /// database) is set up. Without, a missing file or database, or one
    /// without the fleet schema, is [`OpenError::Missing`] or
    /// [`OpenError::NoSchema`].
    pub async fn open_existing(url: &str, create: bool) -> Result<Store, OpenError> {
        if create {
            return Store::open(url).await.map_err(OpenError::Unreachable);
        }
        let sqlite = sqlite_path(url).map_err(OpenError::Unreachable)?;
        if let Some(path) = &sqlite {
            if !std::path::Path::new(path).exists() {
                return Err(OpenError::Missing(path.clone()));
            }
        }
        let store = match Store::connect(url).await {
            Ok(s) => s,
            Err(e) if sqlite.is_none() && is_missing_database(&e) => {
                return Err(OpenError::Missing(redact_url(url)))
            }
            Err(e) => return Err(OpenError::Unreachable(e)),
        };
        if !store.has_schema().await.map_err(OpenError::Unreachable)? {
            store.close().await;
            return Err(OpenError::NoSchema(
                sqlite.unwrap_or_else(|| redact_url(url)),
            ));
        }
        store.migrate().await.map_err(OpenError::Unreachable)?;
        Ok(store)
    }

    /// Whether alma-ext-server ever migrated this database.
    async fn has_schema(&self) -> anyhow::Result<bool> {
        let n: i64 = match self {
            Store::Sqlite(p) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(p)
            .await,
            Store::Postgres(p) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = '_sqlx_migrations' \
                 AND schemaname = ANY (current_schemas(false))",
            )
            .fetch_one(p)
            .await,
        }
        .context("looking for the fleet schema")?;
        Ok(n > 0)
    }
}

fn is_missing_database(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>()
            .and_then(|s| s.as_database_error())
            .and_then(|d| d.code())
            .is_some_and(|code| code == PG_INVALID_CATALOG_NAME)
    })
}
