//! The HTTP client of the entitlement API (`proto::api`): reqwest with
//! rustls, an optional extra CA file, a proxy (`server.proxy`, else the
//! `https_proxy`/`no_proxy` environment), timeouts. The credential travels
//! only in the `Authorization: Bearer` header; redirects are not followed,
//! so it can never be replayed to another host.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alma_ext_proto::api::{
    self, CheckinRequest, CheckinResponse, ErrorBody, RegisterRequest, RegisterResponse,
};
use anyhow::Context;

use crate::config::{check_server_url, Settings};
use crate::exit::Exit;
use crate::registration::Secret;
use crate::root::HostRoot;

/// How a call failed, by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// Network, DNS, TLS, proxy or timeout: try again later.
    Unreachable(String),
    /// The server failed (5xx) or asked us to slow down (429): try later.
    Unavailable { status: u16, message: String },
    /// The server refused: bad key or credential, revoked contract.
    Refused { code: String, message: String },
    /// The credential belongs to another machine: this one is a clone and
    /// must register again.
    ReregisterRequired(String),
    /// The server rejected the request itself (400/413/422): sending it
    /// again will not help.
    Rejected {
        code: String,
        message: String,
        field: Option<String>,
    },
    /// The reply was not what the API promises.
    Protocol(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(m) => write!(f, "server unreachable: {m}"),
            ApiError::Unavailable { status, message } => write!(f, "server unavailable (HTTP {status}): {message}"),
            ApiError::Refused { code, message } => write!(f, "server refused ({code}): {message}"),
            ApiError::ReregisterRequired(m) => write!(
                f,
                "the server says this machine's credential belongs to another machine (a clone): {m}; run `alma-ext register` again"
            ),
            ApiError::Rejected { code, message, field } => match field {
                Some(fl) => write!(f, "server rejected the request ({code}) at {fl}: {message}"),
                None => write!(f, "server rejected the request ({code}): {message}"),
            },
            ApiError::Protocol(m) => write!(f, "unexpected reply from the server: {m}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// The exit code of a command that failed this way.
    pub fn exit(&self) -> Exit {
        match self {
            ApiError::Unreachable(_) | ApiError::Unavailable { .. } => Exit::Unreachable,
            ApiError::Refused { .. }
            | ApiError::ReregisterRequired(_)
            | ApiError::Rejected { .. } => Exit::Refused,
            ApiError::Protocol(_) => Exit::Failure,
        }
    }

    /// True when the same request may succeed later (spool it).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Unreachable(_) | ApiError::Unavailable { .. } | ApiError::Protocol(_)
        )
    }
}

/// Everything the client needs.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub server: String,
    /// A PEM file of CA certificates to trust besides the built-in roots,
    /// as a path on this system (already resolved under the root).
    pub ca_file: Option<PathBuf>,
    pub proxy: Option<String>,
    pub timeout: Duration,
}

impl ClientOptions {
    /// Options from the settings; the CA file is a host path under `root`.
    pub fn from_settings(settings: &Settings, root: &HostRoot, server: &str) -> Self {
        ClientOptions {
            server: server.to_string(),
            // Resolved inside the root; a path that cannot be resolved
            // (a symlink loop) is handed on as written under the root, to
            // fail there with its name.
            ca_file: settings
                .ca_file
                .as_ref()
                .map(|p| root.resolve(p).unwrap_or_else(|_| root.join(p))),
            proxy: settings.proxy.clone(),
            timeout: settings.timeout,
        }
    }
}

/// A client of one entitlement server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: reqwest::Url,
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn read_ca(path: &Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .with_context(|| format!("CA file {} is not PEM certificates", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("CA file {} holds no certificate", path.display());
    }
    Ok(certs)
}

impl Client {
    /// Build a client. Fails on a bad URL, CA file or proxy (configuration
    /// errors: exit code 3).
    pub fn new(opts: &ClientOptions) -> anyhow::Result<Client> {
        let base = check_server_url(&opts.server).map_err(anyhow::Error::msg)?;
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(base.scheme() == "https")
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(opts.timeout.min(Duration::from_secs(15)))
            .timeout(opts.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("alma-ext/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &opts.ca_file {
            for c in read_ca(ca)? {
                b = b.add_root_certificate(c);
            }
        }
        if let Some(p) = &opts.proxy {
            b = b.proxy(reqwest::Proxy::all(p).with_context(|| format!("proxy `{p}`"))?);
        }
        let http = b.build().context("building the HTTP client")?;
        Ok(Client { http, base })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut u = self.base.clone();
        let prefix = u.path().trim_end_matches('/').to_string();
        u.set_path(&format!("{prefix}{path}"));
        u
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let resp = req
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(chain(&e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
        let (code, message, field) = match body {
            Some(b) => (b.error.code, b.error.message, b.error.field),
            None => (
                String::new(),
                text.chars()
                    .take(200)
                    .collect::<String>()
                    .trim()
                    .to_string(),
                None,
            ),
        };
        let message = if message.is_empty() {
            status.to_string()
        } else {
            message
        };
        let s = status.as_u16();
        Err(match code.as_str() {
            api::code::REREGISTER_REQUIRED => ApiError::ReregisterRequired(message),
            api::code::RATE_LIMITED => ApiError::Unavailable { status: s, message },
            api::code::INVALID_ACTIVATION_KEY
            | api::code::CONTRACT_REVOKED
            | api::code::CONTRACT_FULL
            | api::code::UNAUTHENTICATED
            | api::code::FORBIDDEN => ApiError::Refused { code, message },
            api::code::INVALID_REQUEST | api::code::PAYLOAD_TOO_LARGE => ApiError::Rejected {
                code,
                message,
                field,
            },
            _ if s == 401 || s == 403 => ApiError::Refused {
                code: if code.is_empty() {
                    format!("http_{s}")
                } else {
                    code
                },
                message,
            },
            _ if s == 429 || s >= 500 => ApiError::Unavailable { status: s, message },
            // 404 or 405: most likely not an alma-ext server at this URL.
            _ if s == 404 || s == 405 => ApiError::Unavailable {
                status: s,
                message: format!("{message} (is {} an alma-ext server?)", self.base),
            },
            _ => ApiError::Rejected {
                code: if code.is_empty() {
                    format!("http_{s}")
                } else {
                    code
                },
                message,
                field,
            },
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(resp: reqwest::Response) -> Result<T, ApiError> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ApiError::Unreachable(chain(&e)))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Protocol(e.to_string()))
    }

    /// `POST /v1/register` with an activation key.
    pub async fn register(&self, req: &RegisterRequest) -> Result<RegisterResponse, ApiError> {
        let r = self
            .send(self.http.post(self.url(api::PATH_REGISTER)).json(req))
            .await?;
        Self::json(r).await
    }

    /// `POST /v1/register` of a clone: no activation key, the credential it
    /// copied as Bearer. The server gives the clone its own identity.
    pub async fn reregister(
        &self,
        credential: &Secret,
        req: &RegisterRequest,
    ) -> Result<RegisterResponse, ApiError> {
        let r = self
            .send(
                self.http
                    .post(self.url(api::PATH_REGISTER))
                    .bearer_auth(credential.expose())
                    .json(req),
            )
            .await?;
        Self::json(r).await
    }

    /// `POST /v1/checkin`.
    pub async fn checkin(
        &self,
        credential: &Secret,
        req: &CheckinRequest,
    ) -> Result<CheckinResponse, ApiError> {
        let r = self
            .send(
                self.http
                    .post(self.url(api::PATH_CHECKIN))
                    .bearer_auth(credential.expose())
                    .json(req),
            )
            .await?;
        Self::json(r).await
    }

    /// `POST /v1/unregister`.
    pub async fn unregister(&self, credential: &Secret) -> Result<(), ApiError> {
        self.send(
            self.http
                .post(self.url(api::PATH_UNREGISTER))
                .bearer_auth(credential.expose()),
        )
        .await?;
        Ok(())
    }
}
