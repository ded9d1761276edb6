//! Opening a fleet database: for serving (checked first: a damaged store
//! refuses to serve), for `store check`, and for every other command,
//! where the database must already exist: every command but `serve` (and
//! `--create`) reads or changes a fleet, so a mistyped path or URL is an
//! error that names it, never a new empty database that reports 0
//! machines.

use std::path::Path;

use super::engine::{redact_url, sqlite_path};
use super::{Result, Store, StoreError};

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
    Unreachable(StoreError),
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
    async fn has_schema(&self) -> Result<bool> {
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
        }?;
        Ok(n > 0)
    }
}

fn is_missing_database(e: &StoreError) -> bool {
    match e {
        StoreError::ConnectPostgres { source, .. } => source
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == PG_INVALID_CATALOG_NAME),
        _ => false,
    }
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
                return Err(StoreError::NoFile(path));
            }
            if is_empty_file(p) {
                return Ok(CheckReport {
                    problems: vec![Problem::EmptyFile(path)],
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
            // (pragma, the table it checks)
            let pragmas: &[(&str, Option<&str>)] = if full {
                &[("PRAGMA integrity_check", None)]
            } else {
                &[
                    ("PRAGMA quick_check", None),
                    ("PRAGMA integrity_check(machines)", Some("machines")),
                    ("PRAGMA integrity_check(contracts)", Some("contracts")),
                ]
            };
            for (pragma, table) in pragmas {
                if let Some(table) = table {
                    // A table not there yet (a new database) is no damage.
                    match sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
                    )
                    .bind(table)
                    .fetch_one(p)
                    .await
                    {
                        Ok(0) => continue,
                        Ok(_) => {}
                        Err(e) => {
                            report.problems.push(Problem::CheckFailed {
                                check: pragma.to_string(),
                                error: e.to_string(),
                            });
                            break;
                        }
                    }
                }
                match sqlx::query_scalar::<_, String>(pragma).fetch_all(p).await {
                    Ok(rows) => report
                        .problems
                        .extend(rows.into_iter().filter(|r| r != "ok").map(Problem::Sqlite)),
                    Err(e) => report.problems.push(Problem::CheckFailed {
                        check: pragma.to_string(),
                        error: e.to_string(),
                    }),
                }
                if !report.problems.is_empty() {
                    break;
                }
            }
        }
        let applied = match self.applied_migrations().await {
            Ok(a) => a,
            Err(e) => {
                report.problems.push(Problem::SchemaUnreadable {
                    error: format!("{e:#}"),
                });
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
}

/// What a check of the store found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Damage: the store must not serve as it is.
    pub problems: Vec<Problem>,
    /// Worth knowing, not damage (schema version, pending migrations).
    pub notes: Vec<Note>,
}

/// Damage a check found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A line of SQLite's integrity check, in SQLite's words.
    #[error("{0}")]
    Sqlite(String),
    /// A check that could not run (the pragma, the database's error).
    #[error("{check} failed: {error}")]
    CheckFailed { check: String, error: String },
    #[error("reading the schema version: {error}")]
    SchemaUnreadable { error: String },
    #[error(
        "schema version {version} is newer than this server knows (it knows up to {known}): \
         run the server version that wrote this database, or a later one"
    )]
    SchemaNewer { version: i64, known: i64 },
    #[error("schema migration {version} failed part-way: restore from a backup")]
    MigrationFailed { version: i64 },
    #[error("schema migration {version} is not the one this server ships (checksum differs)")]
    ChecksumDiffers { version: i64 },
    /// An empty file where the SQLite database should be.
    #[error("{}", StoreDamage::EmptyFile(.0.clone()))]
    EmptyFile(String),
}

impl Problem {
    /// The finding in the reader's language (SQLite's and the database's
    /// own words stay as they are).
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            Problem::Sqlite(line) => line.clone(),
            Problem::CheckFailed { check, error } => {
                t!("{check} failed: {error}", check = check, error = error)
            }
            Problem::SchemaUnreadable { error } => {
                t!("reading the schema version: {error}", error = error)
            }
            Problem::SchemaNewer { version, known } => t!(
                "schema version {version} is newer than this server knows (it knows up to {known}): run the server version that wrote this database, or a later one",
                version = version,
                known = known
            ),
            Problem::MigrationFailed { version } => t!(
                "schema migration {version} failed part-way: restore from a backup",
                version = version
            ),
            Problem::ChecksumDiffers { version } => t!(
                "schema migration {version} is not the one this server ships (checksum differs)",
                version = version
            ),
            Problem::EmptyFile(path) => StoreDamage::EmptyFile(path.clone()).localized(),
        }
    }
}

/// Worth knowing about a store, not damage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Note {
    #[error("schema: not created yet (`serve` creates version {latest})")]
    NotCreated { latest: i64 },
    #[error("schema version {current}; `serve` migrates it to {latest}")]
    Behind { current: i64, latest: i64 },
    #[error("schema version {0}")]
    Version(i64),
}

impl Note {
    /// The note in the reader's language.
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            Note::NotCreated { latest } => t!(
                "schema: not created yet (`serve` creates version {latest})",
                latest = latest
            ),
            Note::Behind { current, latest } => t!(
                "schema version {current}; `serve` migrates it to {latest}",
                current = current,
                latest = latest
            ),
            Note::Version(v) => t!("schema version {version}", version = v),
        }
    }
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
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Damaged { url: String, problems: Vec<Problem> },
}

impl StoreDamage {
    /// The refusal in the reader's language, for the terminal.
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            StoreDamage::EmptyFile(path) => t!(
                "{path} is an empty file where the fleet database was expected: restore it from a backup, or remove it to start an empty fleet (--start-anyway serves it as an empty fleet)",
                path = path
            ),
            StoreDamage::Damaged { url, problems } => t!(
                "the fleet database {url} is damaged ({problems}); restore it from a backup (`alma-ext-server store check` runs the full check; --start-anyway serves it as it is)",
                url = url,
                problems = problems
                    .iter()
                    .map(Problem::localized)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }
    }
}

impl OpenError {
    /// The error in the reader's language, for the terminal.
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            OpenError::Missing(db) => t!(
                "the database {database} does not exist: check --database, or pass --create to make a new one",
                database = db
            ),
            OpenError::NoSchema(db) => t!(
                "the database {database} holds no fleet (no alma-ext-server schema): check --database, or pass --create to set one up",
                database = db
            ),
            OpenError::Unreachable(e) => e.localized(),
        }
    }
}

/// One row of `_sqlx_migrations`: (version, success, checksum).
type AppliedMigration = (i64, bool, Vec<u8>);

/// Problems and notes from the applied migrations against the known
/// ones (version, checksum). Pure.
fn schema_findings(
    applied: &[AppliedMigration],
    known: &[(i64, Vec<u8>)],
) -> (Vec<Problem>, Vec<Note>) {
    let mut problems = Vec::new();
    for (version, success, checksum) in applied {
        let version = *version;
        match known.iter().find(|(v, _)| *v == version) {
            None => problems.push(Problem::SchemaNewer {
                version,
                known: known.iter().map(|(v, _)| *v).max().unwrap_or(0),
            }),
            Some(_) if !success => problems.push(Problem::MigrationFailed { version }),
            Some((_, k)) if k != checksum => problems.push(Problem::ChecksumDiffers { version }),
            Some(_) => {}
        }
    }
    let current = applied.iter().map(|a| a.0).max();
    let latest = known.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let notes = match current {
        None => vec![Note::NotCreated { latest }],
        Some(c) if c < latest => vec![Note::Behind { current: c, latest }],
        Some(c) => vec![Note::Version(c)],
    };
    (problems, notes)
}

/// True for an existing regular file of 0 bytes.
fn is_empty_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.len() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_findings_name_the_version() {
        let known = vec![(1, vec![1u8]), (2, vec![2u8])];
        let (p, n) = schema_findings(&[(1, true, vec![1]), (2, true, vec![2])], &known);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(n, [Note::Version(2)]);
        assert_eq!(n[0].to_string(), "schema version 2");
        let (p, _) = schema_findings(&[(1, true, vec![1]), (3, true, vec![3])], &known);
        assert!(
            p[0].to_string().contains("schema version 3 is newer"),
            "{p:?}"
        );
        let (p, _) = schema_findings(&[(1, false, vec![1])], &known);
        assert!(p[0].to_string().contains("failed part-way"), "{p:?}");
        let (p, _) = schema_findings(&[(1, true, vec![9])], &known);
        assert!(p[0].to_string().contains("checksum"), "{p:?}");
        let (p, n) = schema_findings(&[], &known);
        assert!(p.is_empty());
        assert!(n[0].to_string().contains("not created yet"), "{n:?}");
    }
}
