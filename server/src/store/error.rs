//! What can go wrong in the store: one variant per failure site, naming
//! the database, file, platform or line it failed on.

use std::path::PathBuf;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `--database` is neither an SQLite nor a PostgreSQL URL.
    #[error(
        "unsupported database URL {0}: use sqlite:///path/to/fleet.db or postgres://user@host/db"
    )]
    UnsupportedUrl(String),
    /// An `sqlite:` URL without a file path.
    #[error("the SQLite URL {0} has no file path: use sqlite:///path/to/fleet.db")]
    NoSqlitePath(String),
    /// The directory of a new SQLite database could not be made.
    #[error("creating the database directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A new SQLite database file could not be made.
    #[error("creating the database file {path}: {source}")]
    CreateFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The SQLite database could not be opened.
    #[error("opening the SQLite database {path}: {source}")]
    OpenSqlite {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The PostgreSQL URL does not parse (the URL is not repeated: it may
    /// hold a password).
    #[error("parsing the PostgreSQL URL: {0}")]
    PostgresUrl(#[source] sqlx::Error),
    /// PostgreSQL could not be reached (URL without its password).
    #[error("connecting to PostgreSQL at {url}: {source}")]
    ConnectPostgres {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    /// The schema migrations failed.
    #[error("running {engine} migrations: {source}")]
    Migrate {
        /// `SQLite` or `PostgreSQL`.
        engine: &'static str,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// `store check` of an SQLite path with no file there.
    #[error("no database file at {0}")]
    NoFile(String),
    /// The store refuses to serve: empty file or damage found.
    #[error(transparent)]
    Damaged(#[from] super::StoreDamage),
    /// The stored hosts of a platform are not a JSON list.
    #[error("platform {id}: hosts: {source}")]
    PlatformHosts {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    /// The packed fleet rows SQLite returned do not read.
    #[error("reading the fleet rows: {0}")]
    FleetRows(#[source] serde_json::Error),
    /// A line of PostgreSQL's COPY output of the fleet rows does not read.
    #[error("COPY output line {line}: {problem}")]
    CopyRow { line: usize, problem: String },
    /// The database refused or failed a statement (sqlx's error keeps the
    /// database's own code, e.g. a SQLSTATE).
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The error in the reader's language, for the terminal (`Display`
    /// stays English for logs and the API).
    pub fn localized(&self) -> String {
        use crate::messages::io_reason;
        use alma_ext_i18n::t;
        match self {
            StoreError::UnsupportedUrl(url) => t!(
                "unsupported database URL {url}: use sqlite:///path/to/fleet.db or postgres://user@host/db",
                url = url
            ),
            StoreError::NoSqlitePath(url) => t!(
                "the SQLite URL {url} has no file path: use sqlite:///path/to/fleet.db",
                url = url
            ),
            StoreError::CreateDir { path, source } => t!(
                "creating the database directory {path}: {error}",
                path = path.display(),
                error = io_reason(source)
            ),
            StoreError::CreateFile { path, source } => t!(
                "creating the database file {path}: {error}",
                path = path.display(),
                error = io_reason(source)
            ),
            StoreError::OpenSqlite { path, source } => t!(
                "opening the SQLite database {path}: {error}",
                path = path.display(),
                error = source
            ),
            StoreError::PostgresUrl(e) => t!("parsing the PostgreSQL URL: {error}", error = e),
            StoreError::ConnectPostgres { url, source } => t!(
                "connecting to PostgreSQL at {url}: {error}",
                url = url,
                error = source
            ),
            StoreError::Migrate { engine, source } => t!(
                "running {engine} migrations: {error}",
                engine = engine,
                error = source
            ),
            StoreError::NoFile(path) => t!("no database file at {path}", path = path),
            StoreError::Damaged(d) => d.localized(),
            StoreError::PlatformHosts { id, source } => t!(
                "platform {id}: hosts: {error}",
                id = id,
                error = source
            ),
            StoreError::FleetRows(e) => t!("reading the fleet rows: {error}", error = e),
            StoreError::CopyRow { line, problem } => t!(
                "COPY output line {line}: {problem}",
                line = line,
                problem = problem
            ),
            StoreError::Sql(e) => t!("the database failed: {error}", error = e),
        }
    }
}
