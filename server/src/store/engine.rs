//! Where SQLite and PostgreSQL differ: connecting, migrations, and how a
//! batch of rows becomes statements (`row_statements`: typed arrays on
//! PostgreSQL, `VALUES` lists on SQLite). The other store modules write
//! each query once and run it through `on_pool!` / `write_tx!`.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Result, Store, StoreError};

/// The default database when no `--database` is given: an SQLite file.
pub const DEFAULT_DATABASE: &str = "sqlite:///var/lib/alma-ext-server/fleet.db";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// One bound value: a column of a batch row, or (PostgreSQL) a whole
/// column of a batch as one array.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Arg<'a> {
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
pub(super) struct Rows<'a> {
    pub(super) cols: &'static [(&'static str, &'static str)],
    pub(super) rows: Vec<Vec<Arg<'a>>>,
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
pub(super) trait BindArgs<'q>: Sized {
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

impl Store {
    /// Connect without running migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        if let Some(path) = sqlite_path(url)? {
            let path = Path::new(&path);
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                        path: dir.to_path_buf(),
                        source,
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
                .map_err(|source| StoreError::OpenSqlite {
                    path: path.to_path_buf(),
                    source,
                })?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(StoreError::PostgresUrl)?
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
                .map_err(|source| StoreError::ConnectPostgres {
                    url: redact_url(url),
                    source,
                })?;
            Ok(Store::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// Bring the schema up to date.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(p) => {
                SQLITE_MIGRATIONS
                    .run(p)
                    .await
                    .map_err(|source| StoreError::Migrate {
                        engine: "SQLite",
                        source,
                    })
            }
            Store::Postgres(p) => {
                PG_MIGRATIONS
                    .run(p)
                    .await
                    .map_err(|source| StoreError::Migrate {
                        engine: "PostgreSQL",
                        source,
                    })
            }
        }
    }

    pub(super) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self {
            Store::Sqlite(_) => &SQLITE_MIGRATIONS,
            Store::Postgres(_) => &PG_MIGRATIONS,
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

    /// The statements that run `body` over `rows`, which `body` reads as
    /// the table `v`. PostgreSQL: one statement, each column bound as one
    /// typed array (`unnest`), in binary: no JSON to write or parse (the
    /// JSON form, `json_to_recordset`, spent a tenth of PostgreSQL's time
    /// in its JSON parser). SQLite: `VALUES` lists of 64, 16, 4 and 1 rows
    /// (a few fixed statement shapes for the statement cache; SQLite's
    /// JSON functions re-parse a row's text for every column, which cost
    /// more than the statements they saved).
    pub(super) fn row_statements<'r>(
        &self,
        rows: &'r Rows<'_>,
        body: &str,
    ) -> Vec<(String, Vec<Arg<'r>>)> {
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
}

/// `sqlite:///abs/path`, `sqlite://rel/path`, `sqlite:path` → the path.
pub(super) fn sqlite_path(url: &str) -> Result<Option<String>> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() {
        return Err(StoreError::NoSqlitePath(url.to_string()));
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
        .map_err(|source| StoreError::CreateFile {
            path: path.to_path_buf(),
            source,
        })?;
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
    fn redacts_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }
}
