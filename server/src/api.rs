//! The HTTP API (`/v1`, JSON), health, metrics and the OpenAPI document.
//! Paths and messages are those of `alma_ext_proto::api`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use alma_ext_proto::api::{
    self as proto, code, CheckinRequest, CheckinResponse, Entitlement, ErrorBody, ErrorDetail,
    RegisterRequest, RegisterResponse,
};
use alma_ext_proto::lifecycle::LifecycleTable;
use alma_ext_proto::target::Target;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::admin::{self, AdminError, InvalidInput};
use crate::auth;
use crate::decide::{self, RegistrationRefused, RepoAccess, Reregistration};
use crate::fleet;
use crate::metrics::{Metrics, WriteHealth};
use crate::ratelimit::RateLimiter;
use crate::store::{NewMachine, Store, StoreError};
use crate::validate;
use crate::writer::{Lookup, QueueError, Writer};

/// The OpenAPI 3 document of this API, served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Settings of the API that `serve` takes from its flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Seconds until the next check-in, told to agents.
    pub checkin_interval_secs: u64,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Time allowed for receiving a request body.
    pub body_timeout: Duration,
    /// Check-ins a machine may make at once ...
    pub rate_burst: u32,
    /// ... and then one per this many seconds (0: no limit).
    pub rate_every_secs: f64,
    /// SHA-256 of the admin token; None disables the admin API.
    pub admin_token_hash: Option<String>,
    /// Machines that have not checked in for this many days stop counting.
    pub age_out_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            checkin_interval_secs: 4 * 3600,
            body_limit: 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            rate_burst: 10,
            rate_every_secs: 60.0,
            admin_token_hash: None,
            age_out_days: 30,
        }
    }
}

/// Targets and lifecycle overrides, reloaded from the store every few
/// seconds so that every replica sees an admin's change.
#[derive(Default)]
struct Cache {
    targets: HashMap<i64, Target>,
    lifecycle: Option<LifecycleTable>,
}

/// Everything a request handler needs.
pub struct AppState {
    pub store: Store,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    limiter: RateLimiter,
    writer: Writer,
    lookup: Lookup,
    cache: RwLock<Cache>,
    /// Failed console logins per user and per address.
    pub login_failures: crate::ratelimit::LoginFailures,
}

pub type Shared = Arc<AppState>;

impl AppState {
    /// Build the state and start the writer and cache-refresh tasks (needs
    /// a Tokio runtime).
    pub async fn start(store: Store, settings: Settings) -> Result<Shared, StoreError> {
        let metrics = Arc::new(Metrics::default());
        // Writer and lookup tasks, each one statement at a time on its
        // own connection. SQLite has one writer anyway. On PostgreSQL,
        // fewer lanes make larger batches, and a batch costs PostgreSQL
        // about as much as a single check-in: 2 lanes measured ~40% more
        // check-ins/s than 4 writers + 2 lookups on the 2-core benchmark
        // machine, and a lane's batch grows with the load (up to 1,024).
        let lanes = match store {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => 2,
        };
        let state = Arc::new(AppState {
            writer: Writer::start(store.clone(), lanes, metrics.clone()),
            lookup: Lookup::start(store.clone(), lanes),
            limiter: RateLimiter::new(settings.rate_burst, settings.rate_every_secs),
            store,
            settings,
            metrics,
            cache: RwLock::new(Cache::default()),
            login_failures: Default::default(),
        });
        state.reload_cache().await?;
        let weak = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                let Some(s) = weak.upgrade() else { break };
                if let Err(e) = s.reload_cache().await {
                    tracing::warn!("reloading targets: {e:#}");
                }
                n += 1;
                if n % 360 == 1 {
                    // Hourly: presence rows only serve today's
                    // once-a-day count; keep 40 days for the record.
                    let before = Utc::now().timestamp() / 86400 - 40;
                    if let Err(e) = s.store.prune_presence(before).await {
                        tracing::warn!("pruning presence rows: {e:#}");
                    }
                }
            }
        });
        Ok(state)
    }

    async fn reload_cache(&self) -> Result<(), StoreError> {
        let mut targets = HashMap::new();
        for (major, text) in self.store.list_targets().await? {
            match Target::from_toml(&text) {
                Ok(t) => {
                    targets.insert(major, t);
                }
                Err(e) => tracing::warn!("stored target for major {major} does not parse: {e}"),
            }
        }
        let lifecycle = match self.store.get_setting("lifecycle").await? {
            // A stored table that does not validate is not sent to agents.
            Some(s) => serde_json::from_str::<Option<LifecycleTable>>(&s)
                .ok()
                .flatten()
                .filter(|t| match t.validate() {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!("the stored lifecycle table is not sent to agents: {e}");
                        false
                    }
                }),
            None => None,
        };
        let mut c = self.cache.write().unwrap_or_else(|e| e.into_inner());
        c.targets = targets;
        c.lifecycle = lifecycle;
        Ok(())
    }

    /// The switch target for a machine (`decide::machine_target` over
    /// the cached targets).
    fn machine_target(
        &self,
        ent: &Entitlement,
        os_major: Option<i64>,
        machine: &str,
        repo_password: &str,
    ) -> Option<Target> {
        let c = self.cache.read().unwrap_or_else(|e| e.into_inner());
        decide::machine_target(ent, &c.targets, os_major, machine, repo_password)
    }
}

/// An error reply: status plus `ErrorBody`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    fn field(mut self, f: impl Into<String>) -> Self {
        self.field = Some(f.into());
        self
    }

    fn unauthenticated(msg: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code::UNAUTHENTICATED, msg)
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        // The detail goes to the log, not to the client.
        tracing::error!("internal error: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            "internal error; the server log has the details",
        )
    }
}

impl From<InvalidInput> for ApiError {
    fn from(e: InvalidInput) -> Self {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code::INVALID_REQUEST,
            e.why.to_string(),
        )
        .field(e.field)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(i) => i.into(),
            AdminError::NoContract(id) => ApiError::new(
                StatusCode::NOT_FOUND,
                code::NOT_FOUND,
                format!("no contract {id}"),
            ),
            AdminError::NotFound(what) => {
                ApiError::new(StatusCode::NOT_FOUND, code::NOT_FOUND, format!("no {what}"))
            }
            AdminError::Store(e) => ApiError::internal(format!("{e:#}")),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(format!("{e:#}"))
    }
}

impl From<crate::fleet::FleetError> for ApiError {
    fn from(e: crate::fleet::FleetError) -> Self {
        ApiError::internal(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
            },
        };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"alma-ext\""),
            );
        }
        r
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Read the body (bounded) and parse it as JSON; errors name the field.
async fn json_body<T: DeserializeOwned>(body: Body, settings: &Settings) -> ApiResult<T> {
    let bytes = read_body(body, settings).await?;
    parse_json(&bytes)
}

/// Read the body, at most `body_limit` bytes within `body_timeout`.
async fn read_body(body: Body, settings: &Settings) -> ApiResult<Bytes> {
    let limit = settings.body_limit;
    let read = tokio::time::timeout(settings.body_timeout, axum::body::to_bytes(body, limit));
    let Ok(read) = read.await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            code::INVALID_REQUEST,
            format!(
                "the request body did not arrive within {} s",
                settings.body_timeout.as_secs()
            ),
        ));
    };
    read.map_err(|e| {
        // The limit's own error type, somewhere in axum's error chain.
        let mut too_large = false;
        let mut src: Option<&dyn std::error::Error> = Some(&e);
        while let Some(x) = src {
            too_large |= x.is::<http_body_util::LengthLimitError>();
            src = x.source();
        }
        if too_large {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {limit} bytes"),
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_REQUEST,
                format!("reading the request body: {e}"),
            )
        }
    })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    // Valid requests take the plain parser; only a bad one pays for
    // tracking the path that names the field (a tenth of a check-in's
    // CPU when every request paid for it).
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let mut err = ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("invalid JSON: {msg}"),
        );
        err = match (path.as_str(), missing_field(&msg)) {
            (".", Some(f)) => err.field(f),
            (p, Some(f)) => err.field(format!("{p}.{f}")),
            (".", None) => err,
            (p, None) => err.field(p),
        };
        err
    })?;
    // The plain parser failed on a valid value: something follows it.
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            format!("invalid JSON: {e}"),
        )
    })?;
    Ok(v)
}

/// serde reports a missing field at the parent's path; name the field.
fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn json_response<T: Serialize>(status: StatusCode, v: &T) -> Response {
    (status, axum::Json(v)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(token.trim())
    } else {
        None
    }
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Every route outside the admin API: its path (axum syntax, `:id`) and
/// its handlers. The router is built from this list and [`admin_routes`]
/// only, so together they are the list of what the router serves (checked
/// against the OpenAPI document by a test).
fn public_routes() -> Vec<(&'static str, MethodRouter<Shared>)> {
    vec![
        (proto::PATH_REGISTER, post(register)),
        (proto::PATH_CHECKIN, post(checkin)),
        (proto::PATH_UNREGISTER, post(unregister)),
        (proto::PATH_REPO_AUTH, get(repo_auth).head(repo_auth)),
        ("/v1/openapi.json", get(openapi)),
        ("/healthz", get(healthz)),
        ("/metrics", get(metrics)),
    ]
}

/// The paths the router serves, in axum syntax (`/v1/admin/targets/:major`).
pub fn route_paths() -> Vec<String> {
    let public = public_routes()
        .into_iter()
        .map(|(path, _)| path.to_string());
    let admin = admin_routes()
        .into_iter()
        .map(|(path, _)| format!("{ADMIN_PREFIX}{path}"));
    public.chain(admin).collect()
}

/// Where the admin API lives.
pub const ADMIN_PREFIX: &str = "/v1/admin";

/// Every route of the admin API, relative to [`ADMIN_PREFIX`]. The router
/// nests these alone behind one admin check ([`require_admin`]): an admin
/// route cannot exist without it.
pub fn admin_routes() -> Vec<(&'static str, MethodRouter<Shared>)> {
    vec![
        (
            "/contracts",
            get(admin_list_contracts).post(admin_create_contract),
        ),
        ("/contracts/:id/extend", post(admin_extend_contract)),
        ("/contracts/:id/rekey", post(admin_rekey_contract)),
        ("/contracts/:id/revoke", post(admin_revoke_contract)),
        ("/machines", get(admin_list_machines)),
        ("/machines/:id", get(admin_show_machine)),
        ("/machines/:id/retire", post(admin_retire_machine)),
        ("/platforms", get(admin_list_platforms)),
        (
            "/platforms/:id",
            put(admin_set_platform).delete(admin_delete_platform),
        ),
        ("/targets", get(admin_list_targets)),
        (
            "/targets/:major",
            put(admin_set_target).delete(admin_delete_target),
        ),
        ("/inventory", get(admin_inventory)),
        ("/licenses", get(admin_licenses)),
        ("/coverage", get(admin_coverage)),
    ]
}

fn admin_router(state: &Shared) -> Router<Shared> {
    admin_routes()
        .into_iter()
        .fold(Router::new(), |r, (path, route)| r.route(path, route))
        // Set here, under the admin check: a wrong method is refused like
        // any other request without the admin token.
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
}

/// The router with every route of the API (without the console: see
/// `app::router` for what `serve` serves).
pub fn router(state: Shared) -> Router {
    router_with(state, Router::new())
}

/// The router with every route of the API and `beside` (the console's
/// routes), under the same request counting, body limit and panic guard.
pub fn router_with(state: Shared, beside: Router<Shared>) -> Router {
    let limit = state.settings.body_limit;
    let v1 = public_routes()
        .into_iter()
        .fold(Router::new(), |r, (path, handlers)| r.route(path, handlers))
        .nest(ADMIN_PREFIX, admin_router(&state))
        .merge(beside)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    v1.layer(middleware::from_fn_with_state(
        state.clone(),
        count_requests,
    ))
    // Handlers read bodies themselves with the limit; this stops
    // anything else from buffering more.
    .layer(DefaultBodyLimit::max(limit))
    .layer(tower_http::catch_panic::CatchPanicLayer::custom(
        panic_response,
    ))
    .with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        code::INTERNAL,
        "internal error",
    )
    .into_response()
}

async fn count_requests(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let route = match req.uri().path() {
        proto::PATH_REGISTER => "register",
        proto::PATH_CHECKIN => "checkin",
        proto::PATH_UNREGISTER => "unregister",
        proto::PATH_REPO_AUTH => "repo-auth",
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        "/v1/openapi.json" => "openapi",
        p if p.starts_with("/v1/admin/") => "admin",
        _ => "other",
    };
    let r = next.run(req).await;
    s.metrics.request(route, r.status().as_u16());
    if r.status() == StatusCode::INTERNAL_SERVER_ERROR
        && matches!(route, "register" | "checkin" | "unregister" | "admin")
    {
        // Most likely a write that failed: /healthz checks with a write.
        s.metrics.write_outcome(false, Utc::now().timestamp());
    }
    r
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        code::NOT_FOUND,
        "no such path; the API is described at /v1/openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::INVALID_REQUEST,
        "method not allowed on this path",
    )
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Why `/healthz` says 503.
#[derive(Debug, thiserror::Error)]
enum Unhealthy {
    #[error(transparent)]
    Unreachable(StoreError),
    #[error("writes to the store fail")]
    WritesFail,
    #[error("writes to the store fail: {0}")]
    ProbeFailed(StoreError),
}

async fn healthz(State(s): State<Shared>) -> Response {
    let mut health = s.store.ping().await.map_err(Unhealthy::Unreachable);
    let now = Utc::now().timestamp();
    if health.is_ok() {
        health = match s.metrics.write_health(now) {
            WriteHealth::Ok => Ok(()),
            WriteHealth::Failing => Err(Unhealthy::WritesFail),
            // No write since the failure (a balancer may have taken this
            // replica out): whether writes work again, a write tells.
            WriteHealth::Probe(t) => match s.store.probe_write(now).await {
                Ok(()) => {
                    s.metrics.probe_ok(t);
                    tracing::info!("writes to the store work again");
                    Ok(())
                }
                Err(e) => {
                    s.metrics.write_outcome(false, now);
                    Err(Unhealthy::ProbeFailed(e))
                }
            },
        };
    }
    match health {
        Ok(()) => json_response(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "database": s.store.kind()}),
        ),
        Err(e) => {
            tracing::error!("health check: database: {e}");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"status": "unavailable", "database": s.store.kind()}),
            )
        }
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    let machines = s.store.machine_counts().await.unwrap_or_default();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(&machines),
    )
        .into_response()
}

fn now_and_today() -> (i64, chrono::NaiveDate) {
    let now = Utc::now();
    (now.timestamp(), now.date_naive())
}

fn check_observed_at(t: DateTime<Utc>, now: i64) -> ApiResult<()> {
    if t.timestamp() > now + 86400 {
        return Err(admin::invalid(
            "observed_at",
            "is more than a day in the future: check the machine's clock",
        )
        .into());
    }
    if t.timestamp() < 946_684_800 {
        return Err(admin::invalid("observed_at", "is before the year 2000").into());
    }
    Ok(())
}

async fn register(State(s): State<Shared>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let req: RegisterRequest = json_body(body, &s.settings).await?;
    validate::facts("facts", &req.facts)?;
    validate::identity("facts", &req.facts)?;
    validate::system_label("system", &req.system)?;
    let (now, today) = now_and_today();
    let columns = validate::columns(&req.facts);

    // A machine registers with the activation key. Without one, a
    // credential registers again only the machine it belongs to, or a
    // clone of it that a check-in has already recorded (and counts): it
    // was told `reregister_required` and registers as itself.
    let contract = if let Some(token) = bearer(&headers).filter(|_| req.activation_key.is_empty()) {
        let m = s
            .store
            .machine_by_token(&auth::sha256_hex(token))
            .await?
            .filter(|m| m.state == "active")
            .ok_or_else(|| ApiError::unauthenticated("unknown credential"))?;
        let presented = decide::identity(&columns);
        let registered = (m.machine_id.as_deref(), m.dmi_uuid.as_deref());
        let clone_recorded = decide::needs_clone_lookup(registered, presented)
            && s.store
                .find_clone(&m.contract_id, presented.0, presented.1)
                .await?
                .is_some();
        match decide::reregistration(registered, presented, clone_recorded) {
            Reregistration::OwnMachine => {}
            Reregistration::Clone => {
                if let Err(wait) = s.limiter.check(&format!("reregister:{}", m.id)) {
                    s.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let mut e = ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        code::RATE_LIMITED,
                        format!(
                            "too many clones registering with this credential; retry in {wait} s"
                        ),
                    );
                    e.retry_after = Some(wait);
                    return Err(e);
                }
                tracing::warn!(
                    machine = m.id,
                    contract = m.contract_id,
                    "a clone of this machine registers with its credential"
                );
            }
            Reregistration::Refused => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    code::INVALID_ACTIVATION_KEY,
                    "a machine credential registers only its own machine: register this machine with the activation key",
                )
                .field("activation_key"));
            }
        }
        m.contract
    } else {
        if req.activation_key.is_empty() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code::INVALID_REQUEST,
                "the activation key is empty",
            )
            .field("activation_key"));
        }
        let bad = || {
            ApiError::new(
                StatusCode::FORBIDDEN,
                code::INVALID_ACTIVATION_KEY,
                "unknown activation key",
            )
            .field("activation_key")
        };
        if !auth::well_formed(&req.activation_key, auth::KEY_PREFIX) {
            return Err(bad());
        }
        s.store
            .contract_by_key_hash(&auth::sha256_hex(&req.activation_key))
            .await?
            .ok_or_else(bad)?
    };
    let ent = decide::entitlement(&contract, today);
    match decide::may_register(&ent) {
        Ok(()) => {}
        Err(RegistrationRefused::Revoked) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code::CONTRACT_REVOKED,
                "the contract was revoked",
            ))
        }
        Err(RegistrationRefused::Expired(ends)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code::FORBIDDEN,
                format!("the contract ended on {ends}"),
            ))
        }
    }
    let credential = auth::new_secret(auth::CREDENTIAL_PREFIX);
    // One transaction: the old registration of this identity retired, a
    // clone row of it promoted, or a new machine; answered once committed.
    let os_major = columns.os_major;
    let new_id = auth::new_id("m-", 10);
    let registered = s
        .store
        .register_machine(&NewMachine {
            id: new_id.clone(),
            contract_id: contract.id.clone(),
            state: "active".into(),
            token_hash: Some(auth::sha256_hex(&credential)),
            repo_hash: Some(auth::sha256_hex(&auth::repo_password(&credential))),
            system_label: req.system.clone(),
            clone_of: None,
            now,
            observed_at: now,
            columns,
        })
        .await?;
    if registered.retired > 0 {
        tracing::info!(
            contract = contract.id,
            "a registered machine registered again: old credential retired"
        );
    }
    // A promoted clone keeps its own id.
    let promoted = registered.machine != new_id;
    let machine = registered.machine;
    s.metrics.registrations.fetch_add(1, Ordering::Relaxed);
    tracing::info!(machine, contract = contract.id, "machine registered");
    // The switch target comes with the answer, so `alma-ext switch` works
    // right after `register`. A promoted clone's repository password is
    // recorded by its first check-in, so it gets the target from there.
    let target = if promoted {
        None
    } else {
        s.machine_target(&ent, os_major, &machine, &auth::repo_password(&credential))
    };
    Ok(json_response(
        StatusCode::CREATED,
        &RegisterResponse {
            machine,
            credential,
            entitlement: ent,
            checkin_interval_secs: s.settings.checkin_interval_secs,
            target,
        },
    ))
}

async fn checkin(State(s): State<Shared>, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let token = bearer(&headers)
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer credential"))?;
    if !auth::well_formed(token, auth::CREDENTIAL_PREFIX) {
        return Err(ApiError::unauthenticated("unknown credential"));
    }
    let m = s
        .lookup
        .machine_by_token(auth::sha256_hex(token))
        .await?
        .filter(|m| m.state == "active")
        .ok_or_else(|| ApiError::unauthenticated("unknown credential"))?;
    if let Err(wait) = s.limiter.check(&m.id) {
        s.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            code::RATE_LIMITED,
            format!("too many check-ins from this machine; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let req: CheckinRequest = json_body(body, &s.settings).await?;
    validate::facts("facts", &req.facts)?;
    validate::identity("facts", &req.facts)?;
    let (now, today) = now_and_today();
    check_observed_at(req.observed_at, now)?;
    if let Some(v) = &req.agent_version {
        if v.len() > 64 || v.chars().any(|c| c.is_control()) {
            return Err(
                admin::invalid("agent_version", "must be at most 64 printable characters").into(),
            );
        }
    }
    let columns = validate::columns(&req.facts);

    // Clone check: the identity registered with this credential must
    // match the one presenting it.
    let registered = (m.machine_id.as_deref(), m.dmi_uuid.as_deref());
    if decide::is_clone(registered, decide::identity(&columns)) {
        s.metrics.clones.fetch_add(1, Ordering::Relaxed);
        match s
            .store
            .find_clone(
                &m.contract_id,
                columns.machine_id.as_deref(),
                columns.dmi_uuid.as_deref(),
            )
            .await?
        {
            Some(id) => s.store.touch_clone(&id, &columns.facts_json, now).await?,
            None => {
                let id = auth::new_id("m-", 10);
                tracing::warn!(
                    machine = m.id,
                    clone = id,
                    "credential presented by a clone"
                );
                s.store
                    .insert_machine(&NewMachine {
                        id,
                        contract_id: m.contract_id.clone(),
                        state: "clone".into(),
                        token_hash: None,
                        repo_hash: None,
                        system_label: m.system_label.clone(),
                        clone_of: Some(m.id.clone()),
                        now,
                        observed_at: req.observed_at.timestamp(),
                        columns,
                    })
                    .await?;
            }
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            code::REREGISTER_REQUIRED,
            "this credential belongs to another machine (different machine-id or DMI UUID): register this machine again",
        ));
    }

    let repo_password = auth::repo_password(token);
    let os_major = columns.os_major;
    let write = decide::checkin_write(
        &m,
        decide::Checkin {
            now,
            observed_at: req.observed_at.timestamp(),
            columns,
            security_json: req
                .security
                .as_ref()
                .and_then(|sec| serde_json::to_string(sec).ok()),
            switch_status: serde_json::to_value(req.switch.status)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            agent_version: req.agent_version.clone(),
            repo_hash: auth::sha256_hex(&repo_password),
        },
        || validate::guest_list(&req.facts),
    );
    s.writer.write(write).await.map_err(ApiError::internal)?;
    s.metrics.checkins.fetch_add(1, Ordering::Relaxed);

    let ent = decide::entitlement(&m.contract, today);
    let target = s.machine_target(&ent, os_major, &m.id, &repo_password);
    let lifecycle = s
        .cache
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .lifecycle
        .clone();
    Ok(json_response(
        StatusCode::OK,
        &CheckinResponse {
            entitlement: ent,
            lifecycle,
            target,
            checkin_interval_secs: s.settings.checkin_interval_secs,
            // For `alma-ext-server coverage`: which packages the extended
            // repositories do not carry, fleet-wide.
            security_packages: true,
        },
    ))
}

async fn unregister(State(s): State<Shared>, headers: HeaderMap) -> ApiResult<Response> {
    let token = bearer(&headers)
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer credential"))?;
    let m = s
        .store
        .machine_by_token(&auth::sha256_hex(token))
        .await?
        .ok_or_else(|| ApiError::unauthenticated("unknown credential"))?;
    s.store.unregister(&m.id, Utc::now().timestamp()).await?;
    tracing::info!(machine = m.id, "machine unregistered");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// For nginx `auth_request`: 204 lets the request through, 401/403 stop
/// it. Username is the machine id, password the repository password the
/// check-in handed out.
async fn repo_auth(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let deny = |s: &Shared, status: StatusCode, code: &'static str, msg: &str| {
        s.metrics.repo_auth_denied.fetch_add(1, Ordering::Relaxed);
        let mut r = ApiError::new(status, code, msg).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"alma-ext extended updates\""),
            );
        }
        r
    };
    let Some((user, password)) = basic(&headers) else {
        return deny(
            &s,
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            "repository credentials required",
        );
    };
    if user.len() > 64 || password.len() > 128 {
        return deny(
            &s,
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            "wrong repository credentials",
        );
    }
    let row = match s.store.repo_auth(&user).await {
        Ok(r) => r,
        Err(e) => return ApiError::internal(format!("{e:#}")).into_response(),
    };
    let Some(row) = row else {
        return deny(
            &s,
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            "wrong repository credentials",
        );
    };
    let password_ok = row
        .repo_hash
        .as_deref()
        .is_some_and(|h| auth::digest_eq(h, &auth::sha256_hex(&password)));
    let ent = decide::entitlement(&row.contract, Utc::now().date_naive());
    let (status, code, message) = match decide::repo_access(&row.state, password_ok, &ent) {
        RepoAccess::Allowed => {
            s.metrics.repo_auth_allowed.fetch_add(1, Ordering::Relaxed);
            return StatusCode::NO_CONTENT.into_response();
        }
        RepoAccess::WrongCredentials => (
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            "wrong repository credentials",
        ),
        RepoAccess::Revoked => (
            StatusCode::FORBIDDEN,
            code::CONTRACT_REVOKED,
            "the contract was revoked",
        ),
        RepoAccess::NotInForce => (
            StatusCode::FORBIDDEN,
            code::FORBIDDEN,
            "the contract is not in force today",
        ),
        RepoAccess::NoExtendedUpdates => (
            StatusCode::FORBIDDEN,
            code::FORBIDDEN,
            "the contract does not include the extended-update repository",
        ),
    };
    deny(&s, status, code, message)
}

// ---- admin API ----

/// The one admin check: the Bearer token must be the admin token (and
/// the admin API on). Layered on every route of [`admin_routes`].
async fn require_admin(State(s): State<Shared>, req: Request, next: Next) -> Response {
    match check_admin(&s, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check_admin(s: &Shared, headers: &HeaderMap) -> ApiResult<()> {
    let Some(expected) = &s.settings.admin_token_hash else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            code::FORBIDDEN,
            "the admin API is off: start the server with --admin-token-file",
        ));
    };
    let token = bearer(headers)
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer admin token"))?;
    if !auth::digest_eq(expected, &auth::sha256_hex(token)) {
        return Err(ApiError::unauthenticated("wrong admin token"));
    }
    Ok(())
}

async fn admin_list_contracts(State(s): State<Shared>) -> ApiResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        &admin::list_contracts(&s.store).await?,
    ))
}

async fn admin_create_contract(State(s): State<Shared>, body: Body) -> ApiResult<Response> {
    let c: admin::NewContract = json_body(body, &s.settings).await?;
    let created = admin::create_contract(&s.store, &c).await?;
    tracing::info!(contract = created.contract.id, "contract created");
    Ok(json_response(StatusCode::CREATED, &created))
}

async fn admin_extend_contract(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let e: admin::Extension = json_body(body, &s.settings).await?;
    let c = admin::extend_contract(&s.store, &id, &e).await?;
    Ok(json_response(
        StatusCode::OK,
        &admin::contract_view(c, admin::today()),
    ))
}

async fn admin_rekey_contract(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let c = admin::rekey_contract(&s.store, &id).await?;
    tracing::info!(contract = c.contract.id, "contract rekeyed");
    Ok(json_response(StatusCode::OK, &c))
}

async fn admin_revoke_contract(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let c = admin::revoke_contract(&s.store, &id).await?;
    tracing::info!(contract = c.id, "contract revoked");
    Ok(json_response(
        StatusCode::OK,
        &admin::contract_view(c, admin::today()),
    ))
}

/// `?contract=ID`: only that contract's machines.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MachineQuery {
    contract: Option<String>,
}

async fn admin_list_machines(
    State(s): State<Shared>,
    query: Result<Query<MachineQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            e.body_text(),
        )
    })?;
    Ok(json_response(
        StatusCode::OK,
        &admin::list_machines(&s.store, q.contract.as_deref()).await?,
    ))
}

async fn admin_show_machine(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        &admin::show_machine(&s.store, &id).await?,
    ))
}

async fn admin_retire_machine(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let m = admin::retire_machine(&s.store, &id).await?;
    tracing::info!(machine = m.machine.id, "machine retired");
    Ok(json_response(StatusCode::OK, &m))
}

async fn admin_list_platforms(State(s): State<Shared>) -> ApiResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        &s.store.list_platforms().await?,
    ))
}

async fn admin_set_platform(
    State(s): State<Shared>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let p: admin::PlatformInput = json_body(body, &s.settings).await?;
    Ok(json_response(
        StatusCode::OK,
        &admin::set_platform(&s.store, &id, &p).await?,
    ))
}

async fn admin_delete_platform(
    State(s): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !s.store.delete_platform(&id).await? {
        return Err(AdminError::NotFound(format!("platform {id}")).into());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn admin_list_targets(State(s): State<Shared>) -> ApiResult<Response> {
    let list: Vec<serde_json::Value> = s
        .store
        .list_targets()
        .await?
        .into_iter()
        .map(|(major, toml)| serde_json::json!({"major": major, "toml": toml}))
        .collect();
    Ok(json_response(StatusCode::OK, &list))
}

fn parse_major(major: &str) -> ApiResult<i64> {
    major.parse::<i64>().map_err(|_| {
        admin::invalid("major", format!("{major:?} is not a major version number")).into()
    })
}

/// The body is the target TOML itself.
async fn admin_set_target(
    State(s): State<Shared>,
    Path(major): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let major = parse_major(&major)?;
    let bytes = read_body(body, &s.settings).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| admin::invalid("target", "is not UTF-8"))?;
    let t = admin::set_target(&s.store, major, text).await?;
    s.reload_cache().await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({"major": major, "target": t}),
    ))
}

async fn admin_delete_target(
    State(s): State<Shared>,
    Path(major): Path<String>,
) -> ApiResult<Response> {
    let major = parse_major(&major)?;
    if !s.store.delete_target(major).await? {
        return Err(AdminError::NotFound(format!("target for major {major}")).into());
    }
    s.reload_cache().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn admin_inventory(State(s): State<Shared>) -> ApiResult<Response> {
    let opts = fleet::Options {
        age_out_days: s.settings.age_out_days,
        ..fleet::Options::default()
    };
    let inv = fleet::build(&s.store, &opts).await?;
    Ok(json_response(StatusCode::OK, &inv.inventory))
}

/// `alma-ext-server coverage --format json`, over the admin API.
async fn admin_coverage(State(s): State<Shared>) -> ApiResult<Response> {
    let (c, warnings) =
        crate::coverage::load(&s.store, s.settings.age_out_days, Utc::now().timestamp())
            .await
            .map_err(ApiError::internal)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(json_response(StatusCode::OK, &c))
}

async fn admin_licenses(State(s): State<Shared>) -> ApiResult<Response> {
    let opts = fleet::Options {
        age_out_days: s.settings.age_out_days,
        ..fleet::Options::default()
    };
    let report = fleet::live_report(&s.store, &opts).await?;
    Ok(json_response(StatusCode::OK, &report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<RegisterRequest>(br#"{"activation_key": 3}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("activation_key"));
        let e = parse_json::<RegisterRequest>(br#"{"activation_key": "x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("facts"));
        let e =
            parse_json::<RegisterRequest>(br#"{"activation_key": "x", "facts": {}}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("facts.schema_version"));
        let e = parse_json::<RegisterRequest>(b"{").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn trailing_data_is_refused() {
        let e = parse_json::<serde_json::Value>(br#"{"a": 1} garbage"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("trailing"), "{}", e.message);
        let e = parse_json::<serde_json::Value>(br#"{"a": 1}{"b": 2}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(parse_json::<serde_json::Value>(b"{\"a\": 1}\n").is_ok());
    }

    #[test]
    fn openapi_is_json() {
        let v: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        assert_eq!(v["openapi"].as_str().unwrap().chars().next(), Some('3'));
    }
}
