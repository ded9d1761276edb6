//! Administration shared by the CLI subcommands and the admin API:
//! contracts, platforms, targets. Validation errors name the field.

use alma_ext_proto::api::EntitlementStatus;
use alma_ext_proto::lifecycle::{LifecycleTable, Phase};
use alma_ext_proto::target::Target;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};

use crate::auth;
use crate::store::{ContractRow, MachineRow, PlatformRow, Store};

/// A rejected admin input: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct InvalidInput {
    pub field: String,
    pub why: Why,
}

impl InvalidInput {
    /// The rejection in the reader's language, for the terminal: the
    /// field as it is, the reason through the catalogue.
    pub fn localized(&self) -> String {
        alma_ext_i18n::t!(
            "{field}: {message}",
            field = self.field,
            message = self.why.localized()
        )
    }
}

pub fn invalid(field: &str, why: impl Into<Why>) -> InvalidInput {
    InvalidInput {
        field: field.to_string(),
        why: why.into(),
    }
}

/// Why an admin input is rejected. `Display` is the API's English; the
/// terminal shows [`Why::localized`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Why {
    #[error("must not be empty")]
    Empty,
    #[error("longer than {0} characters")]
    LongerThan(usize),
    #[error("contains control characters")]
    ControlChars,
    #[error("must be 1 to 128 characters")]
    IdentLength,
    #[error("{0:?} may only contain letters, digits and - _ . : @ /")]
    IdentChars(String),
    /// `value` is not one of `allowed` (a comma-separated list).
    #[error("{value:?} is not one of {allowed}")]
    NotOneOf {
        value: String,
        allowed: &'static str,
    },
    #[error("must be between {min} and {max}")]
    Between { min: i64, max: i64 },
    #[error("{0} is outside {FIRST_DAY} .. {LAST_DAY}")]
    OutsideDates(NaiveDate),
    #[error("the extended-update add-on is only for platform contracts (physical and virtual include it)")]
    UpdatesOnlyForPlatform,
    #[error("give either until or years, not both")]
    UntilAndYears,
    #[error("{ends} plus {years} years is past {LAST_DAY}")]
    YearsPastLastDay { ends: NaiveDate, years: u32 },
    #[error("give the new end date (until) or a number of years")]
    NoExtension,
    #[error("{new_end} is not after the current end {ends}")]
    NotAfterEnd { new_end: NaiveDate, ends: NaiveDate },
    #[error("more than 10000 hosts")]
    TooManyHosts,
    #[error("{0} is listed twice")]
    ListedTwice(String),
    #[error("host {host} is already in platform {platform}")]
    HostInPlatform { host: String, platform: String },
    #[error("larger than 256 KiB")]
    TooLarge,
    /// The `toml` crate's error: where (1-based line and column) and its
    /// own reason; `Display` is the crate's whole text on one line.
    #[error("{text}")]
    TomlSyntax {
        line: usize,
        column: usize,
        reason: String,
        text: String,
    },
    #[error("the target must not contain credentials: the server issues per-machine credentials")]
    TargetCredentials,
    #[error("at least one repository is needed")]
    NoRepos,
    #[error("must not carry a user or password (user:password@): the server issues per-machine repository credentials")]
    UrlCredentials,
    #[error("must be an http(s) URL")]
    NotHttpUrl,
    #[error("must be a major version such as 8, 9 or 10")]
    NotMajor,
    #[error("{0:?} is not a date YYYY-MM-DD")]
    NotDate(String),
    #[error("must be at least {0} characters (read from stdin)")]
    PasswordTooShort(usize),
    #[error("a customer user needs at least one --contract")]
    CustomerNeedsContract,
    #[error("{0} users see every contract: leave out --contract")]
    SeesEveryContract(&'static str),
    #[error("a user {0} exists already")]
    UserExists(String),
    /// A reason only the agents' API gives (facts, request bodies): never
    /// shown on a terminal.
    #[error("{0}")]
    Text(String),
}

impl From<String> for Why {
    fn from(s: String) -> Self {
        Why::Text(s)
    }
}

impl From<&str> for Why {
    fn from(s: &str) -> Self {
        Why::Text(s.to_owned())
    }
}

impl Why {
    /// The reason in the reader's language (values, dates and names as
    /// they are).
    pub fn localized(&self) -> String {
        use alma_ext_i18n::t;
        match self {
            Why::Empty => t!("must not be empty").into(),
            Why::LongerThan(max) => t!("longer than {max} characters", max = max),
            Why::ControlChars => t!("contains control characters").into(),
            Why::IdentLength => t!("must be 1 to 128 characters").into(),
            Why::IdentChars(v) => t!(
                "{value} may only contain letters, digits and - _ . : @ /",
                value = format!("{v:?}")
            ),
            Why::NotOneOf { value, allowed } => t!(
                "{value} is not one of {allowed}",
                value = format!("{value:?}"),
                allowed = allowed
            ),
            Why::Between { min, max } => {
                t!("must be between {min} and {max}", min = min, max = max)
            }
            Why::OutsideDates(d) => t!(
                "{date} is outside {first} .. {last}",
                date = d,
                first = FIRST_DAY,
                last = LAST_DAY
            ),
            Why::UpdatesOnlyForPlatform => t!("the extended-update add-on is only for platform contracts (physical and virtual include it)").into(),
            Why::UntilAndYears => t!("give either until or years, not both").into(),
            Why::YearsPastLastDay { ends, years } => t!(
                "{ends} plus {years} years is past {last}",
                ends = ends,
                years = years,
                last = LAST_DAY
            ),
            Why::NoExtension => t!("give the new end date (until) or a number of years").into(),
            Why::NotAfterEnd { new_end, ends } => t!(
                "{new_end} is not after the current end {ends}",
                new_end = new_end,
                ends = ends
            ),
            Why::TooManyHosts => t!("more than 10000 hosts").into(),
            Why::ListedTwice(v) => t!("{value} is listed twice", value = v),
            Why::HostInPlatform { host, platform } => t!(
                "host {host} is already in platform {platform}",
                host = host,
                platform = platform
            ),
            Why::TooLarge => t!("larger than 256 KiB").into(),
            Why::TomlSyntax {
                line,
                column,
                reason,
                ..
            } => t!(
                "TOML syntax error at line {line}, column {column}: {reason}",
                line = line,
                column = column,
                reason = reason
            ),
            Why::TargetCredentials => t!("the target must not contain credentials: the server issues per-machine credentials").into(),
            Why::NoRepos => t!("at least one repository is needed").into(),
            Why::UrlCredentials => t!("must not carry a user or password (user:password@): the server issues per-machine repository credentials").into(),
            Why::NotHttpUrl => t!("must be an http(s) URL").into(),
            Why::NotMajor => t!("must be a major version such as 8, 9 or 10").into(),
            Why::NotDate(v) => t!("{value} is not a date YYYY-MM-DD", value = format!("{v:?}")),
            Why::PasswordTooShort(min) => t!(
                "must be at least {min} characters (read from stdin)",
                min = min
            ),
            Why::CustomerNeedsContract => {
                t!("a customer user needs at least one --contract").into()
            }
            Why::SeesEveryContract(role) => t!(
                "{role} users see every contract: leave out --contract",
                role = role
            ),
            Why::UserExists(name) => t!("a user {name} exists already", name = name),
            Why::Text(s) => s.clone(),
        }
    }
}

/// What can go wrong in an admin operation.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error("no contract {0}")]
    NoContract(String),
    #[error("no {0}")]
    NotFound(String),
    /// The database failed (a `StoreError`, or an error of the console's
    /// queries).
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for AdminError {
    fn from(e: crate::store::StoreError) -> Self {
        AdminError::Store(e.into())
    }
}

/// The products of the licensing spec.
pub const PRODUCTS: [&str; 3] = ["physical", "virtual", "platform"];

/// Input of `contract create`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContract {
    pub customer: String,
    pub product: String,
    pub quantity: i64,
    /// Support start; default the 1st of next month.
    #[serde(default)]
    pub starts: Option<NaiveDate>,
    /// `platform` contracts: include the extended-update repository add-on.
    #[serde(default)]
    pub platform_updates: bool,
}

/// A created (or rekeyed) contract and its activation key (shown once).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CreatedContract {
    #[serde(flatten)]
    pub contract: ContractRow,
    /// pending, active, expired or revoked, today.
    pub status: EntitlementStatus,
    pub activation_key: String,
}

/// A contract as `contract list --format json` and the admin API show it:
/// the stored row and its status today.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContractView {
    #[serde(flatten)]
    pub contract: ContractRow,
    /// pending, active, expired or revoked.
    pub status: EntitlementStatus,
}

/// The contract and its status on `day`.
pub fn contract_view(c: ContractRow, day: NaiveDate) -> ContractView {
    let status = entitlement(&c, day).status;
    ContractView {
        contract: c,
        status,
    }
}

/// Every contract with its status today.
pub async fn list_contracts(store: &Store) -> Result<Vec<ContractView>, AdminError> {
    let day = today();
    Ok(store
        .list_contracts()
        .await?
        .into_iter()
        .map(|c| contract_view(c, day))
        .collect())
}

/// Contract dates an admin may give: far enough from the ends of the date
/// type that every date the server derives from them (a year later, the
/// next day) exists, and four-digit years that every reader parses.
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("2000-01-01 is a date"),
};
/// See [`FIRST_DAY`].
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9899, 12, 31) {
    Some(d) => d,
    None => panic!("9899-12-31 is a date"),
};

/// A contract date from an admin, checked against [`FIRST_DAY`] and
/// [`LAST_DAY`].
pub fn check_date(field: &str, d: NaiveDate) -> Result<NaiveDate, InvalidInput> {
    if d < FIRST_DAY || d > LAST_DAY {
        return Err(invalid(field, Why::OutsideDates(d)));
    }
    Ok(d)
}

/// The 1st of the month after `day`: when support starts by default.
pub fn first_of_next_month(day: NaiveDate) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    first.checked_add_months(Months::new(1)).unwrap_or(first)
}

/// One contract year from `starts`: the day before the anniversary.
/// `starts` within [`FIRST_DAY`] .. [`LAST_DAY`] (saturates beyond).
pub fn one_year_from(starts: NaiveDate) -> NaiveDate {
    starts
        .checked_add_months(Months::new(12))
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn validate_name(field: &str, s: &str, max: usize) -> Result<(), InvalidInput> {
    if s.trim().is_empty() {
        return Err(invalid(field, Why::Empty));
    }
    if s.chars().count() > max {
        return Err(invalid(field, Why::LongerThan(max)));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(invalid(field, Why::ControlChars));
    }
    Ok(())
}

/// An identifier an admin types: platform ids, host names, labels.
pub fn validate_ident(field: &str, s: &str) -> Result<(), InvalidInput> {
    if s.is_empty() || s.len() > 128 {
        return Err(invalid(field, Why::IdentLength));
    }
    if !s
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@' | '/'))
    {
        return Err(invalid(field, Why::IdentChars(s.to_owned())));
    }
    Ok(())
}

pub async fn create_contract(
    store: &Store,
    c: &NewContract,
) -> Result<CreatedContract, AdminError> {
    validate_name("customer", &c.customer, 200)?;
    if !PRODUCTS.contains(&c.product.as_str()) {
        return Err(invalid(
            "product",
            Why::NotOneOf {
                value: c.product.clone(),
                allowed: "physical, virtual, platform",
            },
        )
        .into());
    }
    if c.quantity < 1 || c.quantity > 10_000_000 {
        return Err(invalid(
            "quantity",
            Why::Between {
                min: 1,
                max: 10_000_000,
            },
        )
        .into());
    }
    if c.platform_updates && c.product != "platform" {
        return Err(invalid("platform_updates", Why::UpdatesOnlyForPlatform).into());
    }
    let starts = match c.starts {
        Some(d) => check_date("starts", d)?,
        None => first_of_next_month(today()),
    };
    let ends = one_year_from(starts);
    let id = auth::new_id("ct-", 5);
    let key = auth::new_secret(auth::KEY_PREFIX);
    let now = Utc::now().timestamp();
    store
        .insert_contract(
            &id,
            c.customer.trim(),
            &c.product,
            c.quantity,
            &starts.to_string(),
            &ends.to_string(),
            c.platform_updates,
            &auth::sha256_hex(&key),
            now,
        )
        .await?;
    let contract = store
        .get_contract(&id)
        .await?
        .ok_or_else(|| AdminError::NoContract(id.clone()))?;
    Ok(CreatedContract {
        status: entitlement(&contract, today()).status,
        contract,
        activation_key: key,
    })
}

/// `contract rekey`: a new activation key for the contract, shown once;
/// the old key registers nothing from now on. Machines already registered
/// keep their credentials.
pub async fn rekey_contract(store: &Store, id: &str) -> Result<CreatedContract, AdminError> {
    let key = auth::new_secret(auth::KEY_PREFIX);
    if !store.set_contract_key(id, &auth::sha256_hex(&key)).await? {
        return Err(AdminError::NoContract(id.to_string()));
    }
    let contract = store
        .get_contract(id)
        .await?
        .ok_or_else(|| AdminError::NoContract(id.to_string()))?;
    Ok(CreatedContract {
        status: entitlement(&contract, today()).status,
        contract,
        activation_key: key,
    })
}

/// How to extend a contract: to a date, or by whole years.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    #[serde(default)]
    pub until: Option<NaiveDate>,
    #[serde(default)]
    pub years: Option<u32>,
}

pub async fn extend_contract(
    store: &Store,
    id: &str,
    ext: &Extension,
) -> Result<ContractRow, AdminError> {
    let c = store
        .get_contract(id)
        .await?
        .ok_or_else(|| AdminError::NoContract(id.to_string()))?;
    let ends = parse_date("ends", &c.ends)?;
    let new_end = match (ext.until, ext.years) {
        (Some(_), Some(_)) => return Err(invalid("years", Why::UntilAndYears).into()),
        (Some(d), None) => check_date("until", d)?,
        (None, Some(y)) if (1..=20).contains(&y) => ends
            .succ_opt()
            .and_then(|d| d.checked_add_months(Months::new(12 * y)))
            .and_then(|d| d.pred_opt())
            .and_then(|d| check_date("years", d).ok())
            .ok_or_else(|| invalid("years", Why::YearsPastLastDay { ends, years: y }))?,
        (None, Some(_)) => return Err(invalid("years", Why::Between { min: 1, max: 20 }).into()),
        (None, None) => return Err(invalid("until", Why::NoExtension).into()),
    };
    if new_end <= ends {
        return Err(invalid("until", Why::NotAfterEnd { new_end, ends }).into());
    }
    store.set_contract_end(id, &new_end.to_string()).await?;
    store
        .get_contract(id)
        .await?
        .ok_or_else(|| AdminError::NoContract(id.to_string()))
}

pub async fn revoke_contract(store: &Store, id: &str) -> Result<ContractRow, AdminError> {
    if !store.revoke_contract(id, Utc::now().timestamp()).await? {
        return Err(AdminError::NoContract(id.to_string()));
    }
    store
        .get_contract(id)
        .await?
        .ok_or_else(|| AdminError::NoContract(id.to_string()))
}

/// Input of `platform set`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformInput {
    pub hosts: Vec<String>,
    #[serde(default = "default_choice")]
    pub choice: String,
}

fn default_choice() -> String {
    "cheapest".into()
}

pub const CHOICES: [&str; 3] = ["cheapest", "per-unit", "platform"];

pub async fn set_platform(
    store: &Store,
    id: &str,
    p: &PlatformInput,
) -> Result<PlatformRow, AdminError> {
    validate_ident("id", id)?;
    if p.hosts.len() > 10_000 {
        return Err(invalid("hosts", Why::TooManyHosts).into());
    }
    let mut hosts = Vec::new();
    for (i, h) in p.hosts.iter().enumerate() {
        validate_ident(&format!("hosts[{i}]"), h)?;
        if hosts.contains(h) {
            return Err(invalid(&format!("hosts[{i}]"), Why::ListedTwice(h.clone())).into());
        }
        hosts.push(h.clone());
    }
    if !CHOICES.contains(&p.choice.as_str()) {
        return Err(invalid(
            "choice",
            Why::NotOneOf {
                value: p.choice.clone(),
                allowed: "cheapest, per-unit, platform",
            },
        )
        .into());
    }
    // A host belongs to one platform: the engine rejects a VM whose host
    // is in two, so refuse it here where the admin can fix it.
    for other in store.list_platforms().await? {
        if other.id == id {
            continue;
        }
        if let Some(h) = hosts.iter().find(|h| other.hosts.contains(h)) {
            return Err(invalid(
                "hosts",
                Why::HostInPlatform {
                    host: h.clone(),
                    platform: other.id.clone(),
                },
            )
            .into());
        }
    }
    store.set_platform(id, &hosts, &p.choice).await?;
    Ok(PlatformRow {
        id: id.to_string(),
        hosts,
        choice: p.choice.clone(),
    })
}

/// Check a target TOML for `target set`: it must parse, and carry no
/// credentials (the server fills in each machine's own).
/// True when `url` has a userinfo part (`scheme://user[:password]@host`).
/// Pure.
pub fn url_has_credentials(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

pub fn check_target(toml_text: &str) -> Result<Target, InvalidInput> {
    if toml_text.len() > 256 * 1024 {
        return Err(invalid("target", Why::TooLarge));
    }
    let t = Target::from_toml(toml_text).map_err(|e| {
        let (line, column) = e
            .span()
            .map_or((1, 1), |s| crate::messages::line_column(toml_text, s.start));
        invalid(
            "target",
            Why::TomlSyntax {
                line,
                column,
                reason: e.message().trim_end().replace('\n', "; "),
                text: e.to_string().replace('\n', " "),
            },
        )
    })?;
    if let Some(a) = &t.auth {
        if a.username.is_some()
            || a.password.is_some()
            || a.sslclientkey.is_some()
            || a.sslclientcert.is_some()
        {
            return Err(invalid("auth", Why::TargetCredentials));
        }
    }
    if t.repos.is_empty() {
        return Err(invalid("repos", Why::NoRepos));
    }
    // Agents refuse a URL that carries a user or password (it would land
    // in a world-readable repo file): refuse it here, naming the field.
    let urls = t
        .repos
        .iter()
        .map(|(k, r)| (format!("repos.{k}.baseurl"), r.baseurl.as_str()))
        .chain(
            t.gpgkey
                .iter()
                .enumerate()
                .map(|(i, u)| (format!("gpgkey[{i}]"), u.as_str())),
        )
        .chain(
            t.vault_url
                .iter()
                .map(|u| ("vault_url".to_string(), u.as_str())),
        );
    for (field, url) in urls {
        if url_has_credentials(url) {
            return Err(invalid(&field, Why::UrlCredentials));
        }
    }
    for (k, r) in &t.repos {
        if !(r.baseurl.starts_with("https://") || r.baseurl.starts_with("http://")) {
            return Err(invalid(&format!("repos.{k}.baseurl"), Why::NotHttpUrl));
        }
    }
    Ok(t)
}

pub async fn set_target(store: &Store, major: i64, toml_text: &str) -> Result<Target, AdminError> {
    if !(8..=99).contains(&major) {
        return Err(invalid("major", Why::NotMajor).into());
    }
    let t = check_target(toml_text)?;
    store
        .set_target(major, toml_text, Utc::now().timestamp())
        .await?;
    Ok(t)
}

pub fn parse_date(field: &str, s: &str) -> Result<NaiveDate, InvalidInput> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| invalid(field, Why::NotDate(s.to_owned())))
}

pub use crate::decide::{contract_year_start, entitlement};

/// A machine as `machine list`/`show` and the admin API show it: the
/// stored row, its lifecycle phase today, and readable times.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MachineView {
    #[serde(flatten)]
    pub machine: MachineRow,
    /// Where its release stands today in the server's lifecycle table
    /// (`none` for other distributions and unknown releases).
    pub lifecycle_phase: Phase,
    pub registered: DateTime<Utc>,
    /// Last check-in (or registration).
    pub last_checkin: DateTime<Utc>,
    /// When it was retired.
    pub retired: Option<DateTime<Utc>>,
}

/// `machine show`: the view and the facts the machine last reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MachineDetail {
    #[serde(flatten)]
    pub view: MachineView,
    pub facts: Option<serde_json::Value>,
}

/// The phase of a machine's release on `day`: only AlmaLinux releases in
/// the table have one.
pub fn machine_phase(
    table: &LifecycleTable,
    family: Option<&str>,
    major: Option<i64>,
    day: NaiveDate,
) -> Phase {
    if family != Some("almalinux") {
        return Phase::None;
    }
    major
        .and_then(|m| u32::try_from(m).ok())
        .and_then(|m| table.release(m))
        .map_or(Phase::None, |r| r.phase_on(day))
}

fn unix_time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// The view of a stored machine row on `day`.
pub fn machine_view(m: MachineRow, table: &LifecycleTable, day: NaiveDate) -> MachineView {
    MachineView {
        lifecycle_phase: machine_phase(table, m.os_family.as_deref(), m.os_major, day),
        registered: unix_time(m.registered_at),
        last_checkin: unix_time(m.last_checkin),
        retired: m.retired_at.map(unix_time),
        machine: m,
    }
}

/// The lifecycle table the server hands to agents: the built-in one
/// overlaid with `lifecycle set`. A stored table that no longer validates
/// is left out with a warning.
pub async fn lifecycle_table(store: &Store) -> Result<LifecycleTable, AdminError> {
    let builtin = LifecycleTable::builtin();
    let Some(text) = store.get_setting("lifecycle").await? else {
        return Ok(builtin);
    };
    match serde_json::from_str::<Option<LifecycleTable>>(&text) {
        Ok(None) => Ok(builtin),
        Ok(Some(t)) => match t.validate() {
            Ok(()) => Ok(builtin.merged_with(&t)),
            Err(e) => {
                tracing::warn!("the stored lifecycle table is ignored: {e}");
                Ok(builtin)
            }
        },
        Err(e) => {
            tracing::warn!("the stored lifecycle table is ignored: {e}");
            Ok(builtin)
        }
    }
}

/// `machine list [--contract ID]`: every machine in every state.
pub async fn list_machines(
    store: &Store,
    contract: Option<&str>,
) -> Result<Vec<MachineView>, AdminError> {
    if let Some(id) = contract {
        if store.get_contract(id).await?.is_none() {
            return Err(AdminError::NoContract(id.to_string()));
        }
    }
    let table = lifecycle_table(store).await?;
    let day = today();
    Ok(store
        .list_machines(contract)
        .await?
        .into_iter()
        .map(|m| machine_view(m, &table, day))
        .collect())
}

/// `machine show ID`.
pub async fn show_machine(store: &Store, id: &str) -> Result<MachineDetail, AdminError> {
    let (m, facts) = store
        .get_machine(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("machine {id}")))?;
    let table = lifecycle_table(store).await?;
    Ok(MachineDetail {
        view: machine_view(m, &table, today()),
        facts: facts.and_then(|f| serde_json::from_str(&f).ok()),
    })
}

/// `machine retire ID`: the machine stops counting and its credential and
/// repository password stop working at once; it stays in the history.
pub async fn retire_machine(store: &Store, id: &str) -> Result<MachineView, AdminError> {
    if !store.retire_machine(id, Utc::now().timestamp()).await? {
        return Err(AdminError::NotFound(format!("machine {id}")));
    }
    let (m, _) = store
        .get_machine(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("machine {id}")))?;
    Ok(machine_view(m, &lifecycle_table(store).await?, today()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_are_found() {
        assert!(url_has_credentials("https://u:p@repo.example/x"));
        assert!(url_has_credentials("https://u@repo.example"));
        assert!(!url_has_credentials("https://repo.example/x@y"));
        assert!(!url_has_credentials("https://repo.example/?a=b@c"));
        assert!(!url_has_credentials("not a url"));
        let toml = "[repos.baseos]\nid = \"x\"\nname = \"x\"\nbaseurl = \"https://u:secret@repo.example/9/\"\n";
        let e = check_target(toml).unwrap_err();
        assert_eq!(e.field, "repos.baseos.baseurl");
        assert!(!e.to_string().contains("secret"));
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn support_starts_next_month() {
        assert_eq!(first_of_next_month(d("2026-11-27")), d("2026-12-01"));
        assert_eq!(first_of_next_month(d("2026-12-01")), d("2027-01-01"));
        assert_eq!(one_year_from(d("2026-12-01")), d("2027-11-30"));
    }

    #[test]
    fn target_must_not_carry_credentials() {
        let ok = "[repos.baseos]\nid = \"ext-baseos\"\nname = \"Ext\"\nbaseurl = \"https://r.example/9/baseos\"\n";
        assert!(check_target(ok).is_ok());
        let bad = format!("{ok}[auth]\nusername = \"u\"\npassword = \"p\"\n");
        assert_eq!(check_target(&bad).unwrap_err().field, "auth");
        assert_eq!(check_target("repos = 3").unwrap_err().field, "target");
    }
}
