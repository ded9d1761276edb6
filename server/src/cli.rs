//! The `alma-ext-server` command line.

use alma_ext_i18n::t;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::admin::{self, AdminError};
use crate::api::{self, Settings};
use crate::console::users;
use crate::exit::{fail, Exit, ExitContext, Failed};
use crate::fleet;
use crate::messages::{self, io_reason};
use crate::render;
use crate::store::{self, Store};

/// Entitlement server for AlmaLinux extended support: registers machines,
/// answers their check-ins, gates the extended-update repository and
/// counts licences from what the fleet reports.
#[derive(Debug, Parser)]
#[command(
    name = "alma-ext-server",
    version,
    propagate_version = true,
    after_long_help = Exit::help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the fleet lives (`serve`: created when missing).
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Fleet database: sqlite:///path/to/fleet.db (default, created when
    /// missing) or postgres://user@host/db (large fleets, several replicas).
    #[arg(long, env = "ALMA_EXT_SERVER_DATABASE", default_value = store::DEFAULT_DATABASE, value_name = "URL")]
    pub database: String,
}

/// The fleet a report or admin command reads or changes: it must exist.
#[derive(Debug, Clone, Args)]
pub struct FleetDb {
    /// Fleet database: sqlite:///path/to/fleet.db (default) or
    /// postgres://user@host/db. It must exist (`serve` or --create made
    /// it); a missing one is an error (exit 3) that names it.
    #[arg(long, env = "ALMA_EXT_SERVER_DATABASE", default_value = store::DEFAULT_DATABASE, value_name = "URL")]
    pub database: String,
    /// Make the database when it does not exist yet (an SQLite file, or the
    /// schema in an empty PostgreSQL database).
    #[arg(long)]
    pub create: bool,
}

/// Output of admin commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For scripts.
    Json,
}

/// Output of `machine list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// A table for people.
    Text,
    /// A JSON array, for scripts.
    Json,
    /// One row per machine, for a spreadsheet.
    Csv,
}

pub use crate::render::ReportFormat;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (runs database migrations first).
    Serve(ServeArgs),
    /// Create, list, extend, rekey and revoke support contracts.
    #[command(subcommand)]
    Contract(ContractCmd),
    /// List, show and retire registered machines.
    #[command(subcommand)]
    Machine(MachineCmd),
    /// Declare virtualization platforms and their physical hosts.
    #[command(subcommand)]
    Platform(PlatformCmd),
    /// Set the extended-repository switch target per major version.
    #[command(subcommand)]
    Target(TargetCmd),
    /// Licences needed by the fleet (live), or by an inventory file.
    Licenses(LicensesArgs),
    /// Print the fleet's licence inventory JSON, which `licenses --inventory` re-runs.
    Inventory(InventoryArgs),
    /// Fleet-wide security coverage from the machines' `alma-ext
    /// security-status`: per-machine counts, machines with pending Critical
    /// or Important advisories, installed packages the extended
    /// repositories do not carry with how many machines have each.
    Coverage(CoverageArgs),
    /// Override lifecycle dates sent to agents at check-in.
    #[command(subcommand)]
    Lifecycle(LifecycleCmd),
    /// Check the fleet database.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Add, list, remove console users and set their passwords.
    #[command(subcommand)]
    User(UserCmd),
    /// Write a new random admin token to a file (mode 0600).
    AdminToken {
        /// File to create; it must not exist.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_LISTEN",
        default_value = "0.0.0.0:8080",
        value_name = "ADDR"
    )]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// TLS certificate chain (PEM). With --tls-key: serve HTTPS; without
    /// both: plain HTTP, for use behind a reverse proxy.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of --tls-cert.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// File holding the admin API token (not world-readable). Without it
    /// the admin API is off; the CLI subcommands still work.
    #[arg(long, env = "ALMA_EXT_SERVER_ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Seconds between check-ins, told to agents.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_CHECKIN_INTERVAL",
        default_value_t = 14400,
        value_name = "SECS"
    )]
    pub checkin_interval: u64,
    /// Check-ins one machine may send in a burst (per replica).
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_RATE_BURST",
        default_value_t = 10,
        value_name = "N"
    )]
    pub rate_burst: u32,
    /// After the burst, one check-in per this many seconds per machine
    /// (per replica); 0 turns the limit off.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_RATE_EVERY",
        default_value_t = 60.0,
        value_name = "SECS"
    )]
    pub rate_every: f64,
    /// Largest request body in bytes.
    #[arg(long, env = "ALMA_EXT_SERVER_BODY_LIMIT", default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub body_limit: usize,
    /// Machines silent for this many days stop counting as licences.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_AGE_OUT_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    pub age_out_days: i64,
    /// Seconds a client may take to send a request's headers (HTTP/1).
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_HEADER_TIMEOUT",
        default_value_t = 10,
        value_name = "SECS"
    )]
    pub header_timeout: u64,
    /// Seconds a client may take to send a request's body.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_BODY_TIMEOUT",
        default_value_t = 30,
        value_name = "SECS"
    )]
    pub body_timeout: u64,
    /// Seconds a connection may stay open with no request in flight.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_IDLE_TIMEOUT",
        default_value_t = 60,
        value_name = "SECS"
    )]
    pub idle_timeout: u64,
    /// Connections open at once. At the cap, each new connection closes
    /// the longest-idle one; it is refused only when all are busy.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_MAX_CONNECTIONS",
        default_value_t = 4096,
        value_name = "N"
    )]
    pub max_connections: usize,
    /// Serve even when the start-up check finds the database damaged or
    /// an empty file where the database should be (exit code 5 otherwise).
    /// For reading out what is left; repair or restore soon.
    #[arg(long, env = "ALMA_EXT_SERVER_START_ANYWAY")]
    pub start_anyway: bool,
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Check the whole database: SQLite's integrity check (every page,
    /// every index against its table) and the schema version. Exit code 5
    /// when damaged.
    Check {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContractCmd {
    /// Create a contract and print its activation key (shown only once).
    Create {
        /// Customer name.
        #[arg(long)]
        customer: String,
        /// Product: physical, virtual or platform.
        #[arg(long, value_parser = ["physical", "virtual", "platform"])]
        product: String,
        /// Licences bought.
        #[arg(long)]
        quantity: i64,
        /// Support start (YYYY-MM-DD); default the 1st of next month.
        #[arg(long, value_name = "DATE")]
        starts: Option<NaiveDate>,
        /// Platform contracts: include the extended-update repository add-on.
        #[arg(long)]
        platform_updates: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// List contracts.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Extend a contract to a date or by whole years.
    Extend {
        /// Contract id (ct-...).
        id: String,
        /// New last day of support (YYYY-MM-DD).
        #[arg(long, value_name = "DATE", conflicts_with = "years")]
        until: Option<NaiveDate>,
        /// Years to add to the current end.
        #[arg(long)]
        years: Option<u32>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Give a contract a new activation key (shown only once); the old key
    /// stops working at once. Registered machines are not affected.
    Rekey {
        /// Contract id (ct-...).
        id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Revoke a contract now: its machines lose repository access.
    Revoke {
        /// Contract id (ct-...).
        id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a console user; the password is the first line of stdin.
    Add {
        /// Login name.
        name: String,
        /// admin: everything; staff: reads everything; customer: reads
        /// its contracts' machines, licences and contracts.
        #[arg(long, value_parser = ["admin", "staff", "customer"])]
        role: String,
        /// A contract a customer user sees (repeat for more).
        #[arg(long = "contract", value_name = "ID")]
        contracts: Vec<String>,
        /// Read the password from stdin (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: FleetDb,
    },
    /// List console users: name, role, contracts.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Remove a console user and end its sessions.
    Remove {
        name: String,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Set a user's password from stdin and end its sessions.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: FleetDb,
    },
}

#[derive(Debug, Subcommand)]
pub enum MachineCmd {
    /// List machines in every state: id, state, hostname, type,
    /// hypervisor, cloud, OS, lifecycle phase, switch state, last check-in
    /// and contract.
    List {
        /// Only the machines of this contract (ct-...).
        #[arg(long, value_name = "ID")]
        contract: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Show one machine and the facts it last reported.
    Show {
        /// Machine id (m-...).
        id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Retire a machine: it stops counting as a licence and its credential
    /// stops working at once; it stays in the history. The machine can
    /// register again with an activation key.
    Retire {
        /// Machine id (m-...).
        id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlatformCmd {
    /// Declare (or replace) a platform: its id is the --system label its
    /// machines register with.
    Set {
        /// Platform id, e.g. vcenter-tokyo.
        id: String,
        /// Every physical host its guests may run on (comma-separated or repeated).
        #[arg(long, value_delimiter = ',', required = true)]
        hosts: Vec<String>,
        /// Price as: cheapest, per-unit or platform.
        #[arg(long, default_value = "cheapest", value_parser = ["cheapest", "per-unit", "platform"])]
        choice: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// List declared platforms.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Remove a declared platform.
    Remove {
        id: String,
        #[command(flatten)]
        db: FleetDb,
    },
}

#[derive(Debug, Subcommand)]
pub enum TargetCmd {
    /// Set the switch target (TOML, without credentials) for a major version.
    Set {
        /// Major version: 8, 9, 10...
        #[arg(long)]
        major: i64,
        /// The target TOML file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        db: FleetDb,
    },
    /// List the targets.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Remove the target of a major version.
    Remove {
        #[arg(long)]
        major: i64,
        #[command(flatten)]
        db: FleetDb,
    },
}

#[derive(Debug, Subcommand)]
pub enum LifecycleCmd {
    /// Send these lifecycle dates (JSON, the agent's table format) to agents.
    Set {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        db: FleetDb,
    },
    /// Stop overriding the agents' built-in lifecycle table.
    Clear {
        #[command(flatten)]
        db: FleetDb,
    },
}

#[derive(Debug, Args)]
pub struct LicensesArgs {
    /// Price this inventory file instead of the live fleet (no database).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub db: FleetDb,
    /// Machines silent for this many days are not counted.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_AGE_OUT_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    pub age_out_days: i64,
    /// Days of check-in history for the fleet-wide peak of concurrent guests.
    #[arg(long, default_value_t = 365, value_name = "DAYS")]
    pub window_days: i64,
    /// Exit with code 6 when a contract needs more licences than it bought.
    #[arg(long)]
    pub fail_on_over_deployment: bool,
}

#[derive(Debug, Args)]
pub struct CoverageArgs {
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub db: FleetDb,
    /// Machines silent for this many days are left out.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_AGE_OUT_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    pub age_out_days: i64,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    pub db: FleetDb,
    /// Only the machines of this contract, priced as it was bought.
    #[arg(long, value_name = "ID")]
    pub contract: Option<String>,
    /// Machines silent for this many days are left out.
    #[arg(
        long,
        env = "ALMA_EXT_SERVER_AGE_OUT_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    pub age_out_days: i64,
    /// Days of check-in history for the peak of concurrent guests.
    #[arg(long, default_value_t = 365, value_name = "DAYS")]
    pub window_days: i64,
}

/// Parse the command line, run, and exit.
pub fn main() -> std::process::ExitCode {
    let cli: Cli = alma_ext_stdio::parse("alma-ext-server");
    init_logging();
    let code = match run(cli) {
        Ok(exit) => exit.code(),
        Err(failed) => {
            // The whole error chain, once; journald adds the timestamp.
            alma_ext_stdio::errln!(
                "{}",
                t!(
                    "alma-ext-server: error: {error}",
                    error = messages::failure(&failed.error)
                )
            );
            failed.exit.code()
        }
    };
    std::process::ExitCode::from(alma_ext_stdio::exit_code("alma-ext-server", code, false))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ALMA_EXT_SERVER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // No timestamps: journald adds its own.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Run one command.
pub fn run(cli: Cli) -> Result<Exit, Failed> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(cli))
}

/// Open the fleet a command works on: it must exist unless --create.
async fn open(db: &FleetDb) -> Result<Store, Failed> {
    Store::open_existing(&db.database, db.create)
        .await
        .map_err(|e| {
            let exit = match e {
                store::OpenError::Missing(_) | store::OpenError::NoSchema(_) => Exit::Invalid,
                store::OpenError::Unreachable(_) => Exit::Database,
            };
            Failed {
                exit,
                error: anyhow!(e.localized()),
            }
        })
}

fn admin_failed(e: AdminError) -> Failed {
    // The message in the reader's language; the API keeps its own English.
    let (exit, error) = match e {
        AdminError::Invalid(i) => (Exit::Invalid, anyhow!(i.localized())),
        AdminError::NoContract(id) => (Exit::NotFound, anyhow!(t!("no contract {id}", id = id))),
        AdminError::NotFound(what) => {
            let text = match what.split_once(' ') {
                Some(("machine", id)) => t!("no machine {id}", id = id),
                Some(("user", id)) => t!("no user {id}", id = id),
                Some(("platform", id)) => t!("no platform {id}", id = id),
                _ => t!("no {what}", what = what),
            };
            (Exit::NotFound, anyhow!(text))
        }
        AdminError::Store(e) => (Exit::Failure, anyhow!(messages::failure(&e))),
    };
    Failed { exit, error }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Failed> {
    alma_ext_stdio::outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn print_contract_and_key(c: &crate::store::ContractRow, key: &str) {
    let rows = [
        (t!("contract"), contract_text(c)),
        (t!("activation key"), key.to_owned()),
    ];
    // "contract:       ..." as before in English: labels padded to 15.
    let w = rows
        .iter()
        .map(|(k, _)| alma_ext_i18n::width(k) + 2)
        .max()
        .unwrap_or(0)
        .max(16);
    for (k, v) in rows {
        alma_ext_stdio::outln!("{}{v}", alma_ext_i18n::Pad(&format!("{k}:"), w));
    }
}

fn platform_text(p: &crate::store::PlatformRow) -> String {
    t!(
        "{id}  hosts: {hosts}  choice: {choice}",
        id = p.id,
        hosts = p.hosts.join(","),
        choice = p.choice
    )
}

fn contract_text(c: &crate::store::ContractRow) -> String {
    let status = admin::entitlement(c, admin::today()).status;
    let status = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    t!(
        "{id}  {customer}  {product} × {quantity}  {starts} .. {ends}  {status}  machines: {machines}{updates}",
        id = c.id,
        customer = c.customer,
        product = crate::engine_link::product_word(&c.product),
        quantity = c.quantity,
        starts = c.starts,
        ends = c.ends,
        status = crate::engine_link::status_word(&status),
        machines = c.machines,
        updates = if c.platform_updates {
            "  +platform_updates"
        } else {
            ""
        }
    )
}

async fn run_async(cli: Cli) -> Result<Exit, Failed> {
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Contract(c) => contract(c).await,
        Command::Machine(m) => machine(m).await,
        Command::Platform(p) => platform(p).await,
        Command::Target(t) => target(t).await,
        Command::Lifecycle(l) => lifecycle(l).await,
        Command::Licenses(a) => licenses(a).await,
        Command::Inventory(a) => inventory(a).await,
        Command::Coverage(a) => coverage(a).await,
        Command::Store(StoreCmd::Check { db }) => store_check(&db).await,
        Command::User(u) => user(u).await,
        Command::AdminToken { output } => {
            write_admin_token(&output)?;
            alma_ext_stdio::outln!(
                "{}",
                t!("admin token written to {path}", path = output.display())
            );
            Ok(Exit::Ok)
        }
    }
}

/// Read the admin token file; refuse one that other users can read.
pub fn read_admin_token(path: &Path) -> Result<String, Failed> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |e: std::io::Error| {
        fail(
            Exit::Invalid,
            t!(
                "reading the admin token file {path}: {error}",
                path = path.display(),
                error = io_reason(&e)
            ),
        )
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.permissions().mode() & 0o004 != 0 {
        return Err(fail(
            Exit::Invalid,
            t!(
                "the admin token file {path} is world-readable: chmod 0600 it",
                path = path.display()
            ),
        ));
    }
    let token = std::fs::read_to_string(path).map_err(unreadable)?;
    let token = token.trim().to_string();
    if token.len() < 32 {
        return Err(fail(
            Exit::Invalid,
            t!(
                "the admin token in {path} is shorter than 32 characters: make one with `alma-ext-server admin-token --output FILE`",
                path = path.display()
            ),
        ));
    }
    Ok(token)
}

fn write_admin_token(path: &Path) -> Result<(), Failed> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let token = crate::auth::new_secret("aea_");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            fail(
                Exit::Invalid,
                t!(
                    "creating {path}: {error}",
                    path = path.display(),
                    error = io_reason(&e)
                ),
            )
        })?;
    writeln!(f, "{token}")?;
    Ok(())
}

async fn serve(a: ServeArgs) -> Result<Exit, Failed> {
    let admin_token_hash = match &a.admin_token_file {
        Some(p) => Some(crate::auth::sha256_hex(&read_admin_token(p)?)),
        None => None,
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => {
            Some(crate::serve::tls_config(c, k).map_err(|e| fail(Exit::Invalid, e.localized()))?)
        }
        _ => None,
    };
    if a.rate_every < 0.0 || !a.rate_every.is_finite() {
        return Err(fail(Exit::Invalid, t!("--rate-every must be 0 or more")));
    }
    match crate::serve::raise_nofile_limit() {
        Ok((before, now)) if now > before => {
            tracing::info!("open files limit raised from {before} to {now}")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot raise the open files limit: {e}"),
    }
    let store = Store::open_checked(&a.db.database, a.start_anyway)
        .await
        .map_err(|e| fail(Exit::Database, e.localized()))?;
    tracing::info!(
        "fleet database: {} ({})",
        store::redact_url(&a.db.database),
        store.kind()
    );
    let settings = Settings {
        checkin_interval_secs: a.checkin_interval.max(60),
        body_limit: a.body_limit.max(4096),
        body_timeout: std::time::Duration::from_secs(a.body_timeout.max(1)),
        rate_burst: a.rate_burst,
        rate_every_secs: a.rate_every,
        admin_token_hash,
        age_out_days: a.age_out_days,
    };
    let state = api::AppState::start(store.clone(), settings)
        .await
        .map_err(|e| fail(Exit::Failure, e.localized()))?;
    let app = crate::app::router(state);
    let listener = tokio::net::TcpListener::bind(a.listen).await.map_err(|e| {
        fail(
            Exit::Invalid,
            t!(
                "listening on {address}: {error}",
                address = a.listen,
                error = io_reason(&e)
            ),
        )
    })?;
    // The daemon is up: from here on its lines (journald, the error it may
    // end with) stay English, read by tools and by the vendor's upstream.
    alma_ext_i18n::set_lang(alma_ext_i18n::Lang::En);
    let limits = crate::serve::ConnLimits {
        header_read_timeout: std::time::Duration::from_secs(a.header_timeout.max(1)),
        idle_timeout: std::time::Duration::from_secs(a.idle_timeout.max(1)),
        max_connections: a.max_connections.max(1),
        ..Default::default()
    };
    crate::serve::run(listener, app, tls, limits).await?;
    store.close().await;
    Ok(Exit::Ok)
}

async fn store_check(db: &DbArgs) -> Result<Exit, Failed> {
    let report = Store::check_url(&db.database)
        .await
        .map_err(|e| fail(Exit::Database, e.localized()))?;
    for note in &report.notes {
        alma_ext_stdio::outln!("{}", note.localized());
    }
    if report.problems.is_empty() {
        alma_ext_stdio::outln!(
            "{}",
            t!("{database}: ok", database = store::redact_url(&db.database))
        );
        return Ok(Exit::Ok);
    }
    Err(anyhow!(t!(
        "{database} is damaged:\n  {problems}",
        database = store::redact_url(&db.database),
        problems = report
            .problems
            .iter()
            .map(store::Problem::localized)
            .collect::<Vec<_>>()
            .join("\n  ")
    )))
    .exit(Exit::Database)
}

async fn contract(c: ContractCmd) -> Result<Exit, Failed> {
    match c {
        ContractCmd::Create {
            customer,
            product,
            quantity,
            starts,
            platform_updates,
            format,
            db,
        } => {
            let store = open(&db).await?;
            let created = admin::create_contract(
                &store,
                &admin::NewContract {
                    customer,
                    product,
                    quantity,
                    starts,
                    platform_updates,
                },
            )
            .await
            .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&created)?,
                Format::Text => {
                    print_contract_and_key(&created.contract, &created.activation_key);
                    alma_ext_stdio::errln!(
                        "{}",
                        t!("Keep the activation key: it is shown only once (the server stores its hash).")
                    );
                }
            }
        }
        ContractCmd::List { format, db } => {
            let store = open(&db).await?;
            let list = admin::list_contracts(&store).await.map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&list)?,
                Format::Text => {
                    if list.is_empty() {
                        alma_ext_stdio::outln!("{}", t!("no contracts"));
                    }
                    for c in &list {
                        alma_ext_stdio::outln!("{}", contract_text(&c.contract));
                    }
                }
            }
        }
        ContractCmd::Rekey { id, format, db } => {
            let store = open(&db).await?;
            let rekeyed = admin::rekey_contract(&store, &id)
                .await
                .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&rekeyed)?,
                Format::Text => {
                    print_contract_and_key(&rekeyed.contract, &rekeyed.activation_key);
                    alma_ext_stdio::errln!(
                        "{}",
                        t!("Keep the activation key: it is shown only once. The old key no longer registers machines.")
                    );
                }
            }
        }
        ContractCmd::Extend {
            id,
            until,
            years,
            format,
            db,
        } => {
            let store = open(&db).await?;
            let c = admin::extend_contract(&store, &id, &admin::Extension { until, years })
                .await
                .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&admin::contract_view(c, admin::today()))?,
                Format::Text => alma_ext_stdio::outln!("{}", contract_text(&c)),
            }
        }
        ContractCmd::Revoke { id, format, db } => {
            let store = open(&db).await?;
            let c = admin::revoke_contract(&store, &id)
                .await
                .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&admin::contract_view(c, admin::today()))?,
                Format::Text => alma_ext_stdio::outln!("{}", contract_text(&c)),
            }
        }
    }
    Ok(Exit::Ok)
}

fn read_password_stdin() -> Result<String, Failed> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| {
            fail(
                Exit::Invalid,
                t!(
                    "reading the password from stdin: {error}",
                    error = io_reason(&e)
                ),
            )
        })?;
    users::password_from(&text).map_err(|e| admin_failed(e.into()))
}

async fn user(u: UserCmd) -> Result<Exit, Failed> {
    match u {
        UserCmd::Add {
            name,
            role,
            contracts,
            password_stdin: _,
            db,
        } => {
            let password = read_password_stdin()?;
            let role = users::Role::parse(&role).unwrap_or(users::Role::Customer);
            let store = open(&db).await?;
            let u = users::add_user(&store, &name, role, &contracts, &password)
                .await
                .map_err(admin_failed)?;
            alma_ext_stdio::outln!(
                "{}",
                t!("user {name} added ({role})", name = u.name, role = u.role)
            );
        }
        UserCmd::List { format, db } => {
            let store = open(&db).await?;
            let list = store.list_users().await?;
            match format {
                Format::Json => print_json(&list)?,
                Format::Text => {
                    if list.is_empty() {
                        alma_ext_stdio::outln!("{}", t!("no users"));
                    }
                    for u in &list {
                        alma_ext_stdio::outln!("{}  {}  {}", u.name, u.role, u.contracts.join(","));
                    }
                }
            }
        }
        UserCmd::Remove { name, db } => {
            let store = open(&db).await?;
            users::remove_user(&store, &name)
                .await
                .map_err(admin_failed)?;
            alma_ext_stdio::outln!("{}", t!("user {name} removed", name = name));
        }
        UserCmd::Passwd {
            name,
            password_stdin: _,
            db,
        } => {
            let password = read_password_stdin()?;
            let store = open(&db).await?;
            users::set_password(&store, &name, &password)
                .await
                .map_err(admin_failed)?;
            alma_ext_stdio::outln!(
                "{}",
                t!("password of {name} set; its sessions ended", name = name)
            );
        }
    }
    Ok(Exit::Ok)
}

async fn machine(m: MachineCmd) -> Result<Exit, Failed> {
    match m {
        MachineCmd::List {
            contract,
            format,
            db,
        } => {
            let store = open(&db).await?;
            let list = admin::list_machines(&store, contract.as_deref())
                .await
                .map_err(admin_failed)?;
            match format {
                ListFormat::Json => print_json(&list)?,
                ListFormat::Text => alma_ext_stdio::out!("{}", render::machines_text(&list)),
                ListFormat::Csv => alma_ext_stdio::out!("{}", render::machines_csv(&list)),
            }
        }
        MachineCmd::Show { id, format, db } => {
            let store = open(&db).await?;
            let m = admin::show_machine(&store, &id)
                .await
                .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&m)?,
                Format::Text => alma_ext_stdio::out!("{}", render::machine_text(&m)),
            }
        }
        MachineCmd::Retire { id, format, db } => {
            let store = open(&db).await?;
            let m = admin::retire_machine(&store, &id)
                .await
                .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&m)?,
                Format::Text => alma_ext_stdio::outln!(
                    "{}",
                    t!(
                        "machine {id} retired: it no longer counts, its credential no longer works",
                        id = m.machine.id
                    )
                ),
            }
        }
    }
    Ok(Exit::Ok)
}

async fn platform(p: PlatformCmd) -> Result<Exit, Failed> {
    match p {
        PlatformCmd::Set {
            id,
            hosts,
            choice,
            format,
            db,
        } => {
            let store = open(&db).await?;
            let row = admin::set_platform(&store, &id, &admin::PlatformInput { hosts, choice })
                .await
                .map_err(admin_failed)?;
            match format {
                Format::Json => print_json(&row)?,
                Format::Text => alma_ext_stdio::outln!("{}", platform_text(&row)),
            }
        }
        PlatformCmd::List { format, db } => {
            let store = open(&db).await?;
            let list = store.list_platforms().await?;
            match format {
                Format::Json => print_json(&list)?,
                Format::Text => {
                    if list.is_empty() {
                        alma_ext_stdio::outln!("{}", t!("no platforms declared"));
                    }
                    for p in list {
                        alma_ext_stdio::outln!("{}", platform_text(&p));
                    }
                }
            }
        }
        PlatformCmd::Remove { id, db } => {
            let store = open(&db).await?;
            if !store.delete_platform(&id).await? {
                return Err(anyhow!(t!("no platform {id}", id = id))).exit(Exit::NotFound);
            }
        }
    }
    Ok(Exit::Ok)
}

async fn target(t: TargetCmd) -> Result<Exit, Failed> {
    match t {
        TargetCmd::Set { major, file, db } => {
            let text = read_file(&file)?;
            let store = open(&db).await?;
            admin::set_target(&store, major, &text)
                .await
                .map_err(|e| match e {
                    AdminError::Invalid(admin::InvalidInput {
                        why:
                            admin::Why::TomlSyntax {
                                line,
                                column,
                                reason,
                                ..
                            },
                        ..
                    }) => fail(
                        Exit::Invalid,
                        t!(
                            "{path}: line {line}, column {column}: TOML syntax error: {reason}",
                            path = file.display(),
                            line = line,
                            column = column,
                            reason = reason
                        ),
                    ),
                    AdminError::Invalid(i) => fail(
                        Exit::Invalid,
                        format!("{}: {}", file.display(), i.localized()),
                    ),
                    e => admin_failed(e),
                })?;
            alma_ext_stdio::outln!(
                "{}",
                t!(
                    "target for AlmaLinux {major} set from {path}",
                    major = major,
                    path = file.display()
                )
            );
        }
        TargetCmd::List { format, db } => {
            let store = open(&db).await?;
            let list = store.list_targets().await?;
            match format {
                Format::Json => print_json(
                    &list
                        .iter()
                        .map(|(m, t)| serde_json::json!({"major": m, "toml": t}))
                        .collect::<Vec<_>>(),
                )?,
                Format::Text => {
                    if list.is_empty() {
                        alma_ext_stdio::outln!("{}", t!("no targets set"));
                    }
                    for (m, t) in list {
                        alma_ext_stdio::outln!("# AlmaLinux {m}\n{t}");
                    }
                }
            }
        }
        TargetCmd::Remove { major, db } => {
            let store = open(&db).await?;
            if !store.delete_target(major).await? {
                return Err(anyhow!(t!("no target for major {major}", major = major)))
                    .exit(Exit::NotFound);
            }
        }
    }
    Ok(Exit::Ok)
}

/// A text file an admin command reads (`--file`); an error names it.
fn read_file(path: &Path) -> Result<String, Failed> {
    std::fs::read_to_string(path).map_err(|e| {
        fail(
            Exit::Invalid,
            t!(
                "reading {path}: {error}",
                path = path.display(),
                error = io_reason(&e)
            ),
        )
    })
}

async fn lifecycle(l: LifecycleCmd) -> Result<Exit, Failed> {
    match l {
        LifecycleCmd::Set { file, db } => {
            let text = read_file(&file)?;
            let table: alma_ext_proto::LifecycleTable =
                serde_json::from_str(&text).map_err(|e| {
                    fail(
                        Exit::Invalid,
                        t!(
                            "{path}: line {line}, column {column}: not a lifecycle table: {reason}",
                            path = file.display(),
                            line = e.line(),
                            column = e.column(),
                            reason = messages::serde_reason(&messages::json_reason(&e))
                        ),
                    )
                })?;
            table.validate().map_err(|e| {
                fail(
                    Exit::Invalid,
                    format!("{}: {}", file.display(), messages::invalid_release(&e)),
                )
            })?;
            let store = open(&db).await?;
            store
                .set_setting("lifecycle", &serde_json::to_string(&table)?)
                .await?;
        }
        LifecycleCmd::Clear { db } => {
            let store = open(&db).await?;
            store.set_setting("lifecycle", "null").await?;
        }
    }
    Ok(Exit::Ok)
}

async fn licenses(a: LicensesArgs) -> Result<Exit, Failed> {
    if let Some(path) = &a.inventory {
        let out = crate::engine_link::run_file(path, a.format)
            .map_err(|e| fail(Exit::Invalid, e.localized()))?;
        alma_ext_stdio::out!("{out}");
        return Ok(Exit::Ok);
    }
    let store = open(&a.db).await?;
    let opts = fleet::Options {
        age_out_days: a.age_out_days,
        window_days: a.window_days,
        ..fleet::Options::default()
    };
    let report = fleet::live_report(&store, &opts).await?;
    let out = match a.format {
        ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        ReportFormat::Text => crate::engine_link::live_text(&report),
        ReportFormat::Csv => crate::engine_link::live_csv(&report),
    };
    alma_ext_stdio::out!("{out}");
    if a.fail_on_over_deployment && report.contracts.iter().any(|c| c.over_deployed) {
        return Ok(Exit::OverDeployed);
    }
    Ok(Exit::Ok)
}

async fn coverage(a: CoverageArgs) -> Result<Exit, Failed> {
    use crate::coverage;
    let store = open(&a.db).await?;
    let (c, warnings) =
        coverage::load(&store, a.age_out_days, chrono::Utc::now().timestamp()).await?;
    for w in &warnings {
        alma_ext_stdio::errln!(
            "{}",
            t!(
                "alma-ext-server: warning: {warning}",
                warning = w.localized()
            )
        );
    }
    let out = match a.format {
        ReportFormat::Json => serde_json::to_string_pretty(&c)? + "\n",
        ReportFormat::Text => coverage::text(&c),
        ReportFormat::Csv => coverage::csv(&c),
    };
    alma_ext_stdio::out!("{out}");
    Ok(Exit::Ok)
}

async fn inventory(a: InventoryArgs) -> Result<Exit, Failed> {
    let store = open(&a.db).await?;
    let opts = fleet::Options {
        age_out_days: a.age_out_days,
        window_days: a.window_days,
        ..fleet::Options::default()
    };
    let built = match &a.contract {
        None => fleet::build(&store, &opts).await?,
        Some(id) => {
            let c = store
                .get_contract(id)
                .await?
                .ok_or_else(|| anyhow!(t!("no contract {id}", id = id)))
                .exit(Exit::NotFound)?;
            fleet::build_for_contract(&store, &opts, &c).await?
        }
    };
    for w in &built.warnings {
        alma_ext_stdio::errln!(
            "{}",
            t!(
                "alma-ext-server: warning: {warning}",
                warning = w.localized()
            )
        );
    }
    print_json(&built.inventory)?;
    Ok(Exit::Ok)
}
