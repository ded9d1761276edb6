//! The web console (docs/console.md): server-rendered pages on the API's
//! listener for licensing staff and customers, in Japanese and English.
//!
//! Every page handler takes a [`Session`]: without a live session cookie
//! the extractor answers with a redirect to `/login`, so no page can be
//! reached without one. Every state-changing form goes through
//! [`Session::form`], which refuses a body without the session's
//! `csrf_token`.

mod alerts;
pub mod i18n;
mod machine;
mod pages;
mod readiness;
pub mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use maud::{html, Markup, DOCTYPE};

use crate::api::Shared;
use crate::auth;
use crate::store::UserRow;
use i18n::Lang;
use users::Role;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "alma_console";
/// The login form's CSRF cookie (before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "alma_console_login";
/// Sessions last this long.
pub const SESSION_SECS: i64 = 12 * 3600;
/// Failed logins allowed per user name in [`FAILURE_WINDOW`] before
/// further attempts for it are refused ...
pub const MAX_FAILURES_USER: u32 = 5;
/// ... and per client address (higher: an office shares one address).
pub const MAX_FAILURES_ADDR: u32 = 20;
pub const FAILURE_WINDOW: Duration = crate::ratelimit::LOGIN_FAILURE_WINDOW;

/// A request extension `serve` adds to connections it serves over TLS:
/// cookies are then `Secure`.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

/// Failed logins per key, kept beside the API's other limits.
pub use crate::ratelimit::LoginFailures;

/// The console's routes (merged into the API router).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/machines") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/machines", get(pages::machines))
        .route("/machines.csv", get(pages::machines_csv))
        .route("/machines/:id", get(machine::machine))
        .route("/readiness", get(readiness::readiness))
        .route("/alerts", get(alerts::alerts))
        .route("/licenses", get(pages::licenses))
        .route("/licenses.csv", get(pages::licenses_csv))
        .route(
            "/contracts",
            get(pages::contracts).post(pages::create_contract),
        )
        .route("/contracts/:id/:action", post(pages::contract_action))
}

/// A logged-in user's request.
pub struct Session {
    pub user: UserRow,
    pub role: Role,
    pub lang: Lang,
    pub csrf_token: String,
}

impl Session {
    /// Contracts this user may see; None: every contract.
    pub fn visible(&self) -> Option<&[String]> {
        match self.role {
            Role::Customer => Some(&self.user.contracts),
            Role::Admin | Role::Staff => None,
        }
    }

    pub fn sees_contract(&self, id: &str) -> bool {
        self.visible().is_none_or(|v| v.iter().any(|c| c == id))
    }

    /// A state-changing form's fields, if it carries this session's
    /// `csrf_token`; else the refusal (403).
    pub fn form(&self, body: &Bytes) -> Result<HashMap<String, String>, Box<Response>> {
        let fields: HashMap<String, String> =
            serde_urlencoded::from_bytes(body).unwrap_or_default();
        match fields.get("csrf_token") {
            Some(t) if auth::digest_eq(t, &self.csrf_token) => Ok(fields),
            _ => Err(Box::new(refused(self.lang))),
        }
    }
}

fn refused(lang: Lang) -> Response {
    (
        StatusCode::FORBIDDEN,
        page(
            lang,
            None,
            lang.t("forbidden_csrf"),
            html! {
                p.error { (lang.t("forbidden_csrf")) }
            },
        ),
    )
        .into_response()
}

/// The 404 of every console page: the same whether the thing exists and
/// is someone else's, or does not exist.
pub fn not_found(lang: Lang) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            lang,
            None,
            lang.t("not_found"),
            html! {
                p { (lang.t("not_found")) }
            },
        ),
    )
        .into_response()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `?lang=` of a query string.
fn query_lang(parts: &Parts) -> Option<Lang> {
    parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|kv| {
            kv.into_iter()
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        })
}

fn header_lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::En, Lang::from_accept_language)
}

#[axum::async_trait]
impl FromRequestParts<Shared> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &Shared) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let hash = auth::sha256_hex(token);
        let now = Utc::now().timestamp();
        let session = match s.store.get_session(&hash, now).await {
            Ok(Some(x)) => x,
            Ok(None) => return Err(to_login()),
            Err(e) => {
                tracing::error!("console session lookup: {e:#}");
                return Err(StatusCode::SERVICE_UNAVAILABLE.into_response());
            }
        };
        let mut lang = Lang::parse(&session.lang).unwrap_or(Lang::En);
        if let Some(l) = query_lang(parts) {
            if l != lang {
                if let Err(e) = s.store.set_session_lang(&hash, l.as_str()).await {
                    tracing::warn!("remembering the console language: {e:#}");
                }
            }
            lang = l;
        }
        let Some(role) = Role::parse(&session.user.role) else {
            return Err(to_login());
        };
        Ok(Session {
            user: session.user,
            role,
            lang,
            csrf_token: session.csrf_token,
        })
    }
}

/// The page frame: title, navigation (when logged in), body.
pub fn page(lang: Lang, session: Option<&Session>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.as_str()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (lang.t("title")) }
                style { (maud::PreEscaped(CSS)) }
            }
            body {
                header {
                    strong { (lang.t("title")) }
                    @if let Some(s) = session {
                        nav {
                            a href="/machines" { (lang.t("machines")) }
                            a href="/licenses" { (lang.t("licenses")) }
                            a href="/contracts" { (lang.t("contracts")) }
                            a href="/readiness" { (lang.t("readiness")) }
                            a href="/alerts" { (lang.t("alerts")) }
                        }
                        span.user { (s.user.name) " (" (s.user.role) ")" }
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf_token" value=(s.csrf_token);
                            button type="submit" id="logout" { (lang.t("logout")) }
                        }
                    }
                    a.lang href={ "?lang=" (match lang { Lang::En => "ja", Lang::Ja => "en" }) } { (lang.t("language")) }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

const CSS: &str = "body{font-family:'Noto Sans CJK JP','Noto Sans',sans-serif;margin:0;color:#222}\
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1em;background:#1d3557;color:#fff}\
header a{color:#fff}nav{display:flex;gap:1em}.user{margin-left:auto}.inline{display:inline}\
main{padding:1em}table{border-collapse:collapse;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}\
th{background:#eef}td.num{text-align:right}.error{color:#b00020}.over{color:#b00020;font-weight:bold}\
form.filters{display:flex;flex-wrap:wrap;gap:.5em;margin-bottom:1em}.key{font-family:monospace;background:#ffd;padding:.5em}";

fn secure(parts_ext: &axum::http::Extensions) -> &'static str {
    if parts_ext.get::<ServedOverTls>().is_some() {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie value is ASCII")
}

fn login_page(lang: Lang, csrf: &str, error: Option<&'static str>) -> Markup {
    page(
        lang,
        None,
        lang.t("login"),
        html! {
            @if let Some(e) = error { p.error role="alert" { (lang.t(e)) } }
            form method="post" action={ "/login?lang=" (lang.as_str()) } {
                input type="hidden" name="csrf_token" value=(csrf);
                p { label { (lang.t("username")) br; input type="text" name="username" id="username" autocomplete="username" required; } }
                p { label { (lang.t("password")) br; input type="password" name="password" id="password" autocomplete="current-password" required; } }
                button type="submit" id="login" { (lang.t("login")) }
            }
        },
    )
}

/// A fresh login form and its CSRF cookie.
fn login_response(
    req: &axum::http::Extensions,
    lang: Lang,
    status: StatusCode,
    error: Option<&'static str>,
) -> Response {
    let csrf = auth::new_id("", 16);
    let mut r = (status, login_page(lang, &csrf, error)).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, secure(req)),
    );
    r
}

async fn login_form(req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    let lang = query_lang(&parts).unwrap_or_else(|| header_lang(&parts.headers));
    login_response(&parts.extensions, lang, StatusCode::OK, None)
}

async fn login(State(s): State<Shared>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let lang = query_lang(&parts).unwrap_or_else(|| header_lang(&parts.headers));
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let csrf_ok = match (
        fields.get("csrf_token"),
        cookie(&parts.headers, LOGIN_CSRF_COOKIE),
    ) {
        (Some(f), Some(c)) => !f.is_empty() && auth::digest_eq(f, c),
        _ => false,
    };
    if !csrf_ok {
        return refused(lang);
    }
    let name = fields.get("username").map(String::as_str).unwrap_or("");
    let password = fields.get("password").map(String::as_str).unwrap_or("");
    let addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let (user_key, addr_key) = (format!("user:{name}"), format!("addr:{addr}"));
    if s.login_failures.blocked(&user_key, MAX_FAILURES_USER)
        || s.login_failures.blocked(&addr_key, MAX_FAILURES_ADDR)
    {
        return login_response(
            &parts.extensions,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some("login_limited"),
        );
    }
    let user = match s.store.get_user(name).await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!("console login: {e:#}");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let hash = user
        .as_ref()
        .map_or(users::dummy_hash(), |(_, h)| h.as_str())
        .to_string();
    let pw = password.to_string();
    let ok = tokio::task::spawn_blocking(move || users::verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    let Some((user, _)) = user.filter(|_| ok) else {
        s.login_failures.fail(&user_key);
        s.login_failures.fail(&addr_key);
        tracing::info!("console: failed login for {name:?} from {addr}");
        return login_response(
            &parts.extensions,
            lang,
            StatusCode::UNAUTHORIZED,
            Some("login_failed"),
        );
    };
    s.login_failures.clear(&user_key);
    let token = auth::new_secret("acs_");
    let csrf = auth::new_id("", 16);
    let now = Utc::now().timestamp();
    if let Err(e) = s
        .store
        .insert_session(
            &auth::sha256_hex(&token),
            &user.name,
            &csrf,
            lang.as_str(),
            now + SESSION_SECS,
        )
        .await
    {
        tracing::error!("console session: {e:#}");
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    tracing::info!("console: {} logged in from {addr}", user.name);
    let mut r = Redirect::to("/machines").into_response();
    let sec = secure(&parts.extensions);
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, SESSION_SECS, sec),
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, sec),
    );
    r
}

async fn logout(
    State(s): State<Shared>,
    session: Session,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    if let Err(r) = session.form(&body) {
        return *r;
    }
    if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
        let _ = s
            .store
            .delete_session(&auth::sha256_hex(token), Utc::now().timestamp())
            .await;
    }
    let mut r = Redirect::to(&format!("/login?lang={}", session.lang.as_str())).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure(&parts.extensions)),
    );
    r
}
