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
    /// A status the API does not define for this (a redirect, a proxy's
    /// 407, an unknown code, a refusal without the API's error body): most
    /// likely something between the agent and the server. Nothing is
    /// dropped; try again later.
    Unexpected { status: u16, message: String },
}

impl ApiError {
    /// What failed, as a message (the server's and the transport's own
    /// words as they are).
    pub fn message(&self) -> alma_ext_i18n::Message {
        use alma_ext_i18n::msg;
        match self {
            ApiError::Unreachable(m) => msg!("server unreachable: {error}", error = m),
            ApiError::Unavailable { status, message } => msg!(
                "server unavailable (HTTP {status}): {message}",
                status = status,
                message = message
            ),
            ApiError::Refused { code, message } => msg!(
                "server refused ({code}): {message}",
                code = code,
                message = message
            ),
            ApiError::ReregisterRequired(m) => msg!(
                "the server says this machine's credential belongs to another machine (a clone): {message}; run `alma-ext register` again",
                message = m
            ),
            ApiError::Rejected {
                code,
                message,
                field: Some(fl),
            } => msg!(
                "server rejected the request ({code}) at {field}: {message}",
                code = code,
                field = fl,
                message = message
            ),
            ApiError::Rejected {
                code,
                message,
                field: None,
            } => msg!(
                "server rejected the request ({code}): {message}",
                code = code,
                message = message
            ),
            ApiError::Protocol(m) => msg!("unexpected reply from the server: {error}", error = m),
            ApiError::Unexpected { status, message } => msg!(
                "unexpected HTTP {status}: {message}",
                status = status,
                message = message
            ),
        }
    }
}

alma_ext_i18n::localize_via_message!(ApiError);

impl ApiError {
    /// The templates of every message above, the more specific first: the
    /// error of the last check-in is kept in English in
    /// `registration.json`, and `alma-ext status` shows it in the user's
    /// language with [`alma_ext_i18n::render_back`].
    pub fn recorded_templates() -> Vec<alma_ext_i18n::Message> {
        let text = String::new;
        [
            ApiError::Rejected {
                code: text(),
                message: text(),
                field: Some(text()),
            },
            ApiError::Rejected {
                code: text(),
                message: text(),
                field: None,
            },
            ApiError::ReregisterRequired(text()),
            ApiError::Unavailable {
                status: 0,
                message: text(),
            },
            ApiError::Unexpected {
                status: 0,
                message: text(),
            },
            ApiError::Refused {
                code: text(),
                message: text(),
            },
            ApiError::Protocol(text()),
            ApiError::Unreachable(text()),
        ]
        .iter()
        .map(ApiError::message)
        .collect()
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// The exit code of a command that failed this way.
    pub fn exit(&self) -> Exit {
        match self {
            ApiError::Unreachable(_)
            | ApiError::Unavailable { .. }
            | ApiError::Unexpected { .. } => Exit::Unreachable,
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
            ApiError::Unreachable(_)
                | ApiError::Unavailable { .. }
                | ApiError::Protocol(_)
                | ApiError::Unexpected { .. }
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
    /// The extra CA file, named in TLS error messages.
    ca_file: Option<PathBuf>,
    /// The proxy in use, for messages (without its password).
    proxy: Option<String>,
}

/// A non-success reply as the client saw it.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    /// `error.code` of the API's error body; None without one.
    pub code: Option<String>,
    pub message: String,
    pub field: Option<String>,
    /// The `Location` header (redirects).
    pub location: Option<String>,
}

/// What a non-success reply means (pure). Only the statuses the API
/// defines, with its error body, are refusals or rejections; anything
/// else (3xx, 407, 5xx, an unknown status, a bare 403 from a proxy) is
/// unexpected and retried, the spool kept.
pub fn classify(r: Reply, server: &str, proxy: Option<&str>) -> ApiError {
    use api::code;
    let Reply {
        status,
        code,
        message,
        field,
        location,
    } = r;
    let message = if message.is_empty() {
        format!("HTTP {status}")
    } else {
        message
    };
    let code = code.unwrap_or_default();
    match (status, code.as_str()) {
        (409, code::REREGISTER_REQUIRED) => ApiError::ReregisterRequired(message),
        (429, _) => ApiError::Unavailable { status, message },
        (401, code::UNAUTHENTICATED)
        | (
            403,
            code::FORBIDDEN
            | code::INVALID_ACTIVATION_KEY
            | code::CONTRACT_REVOKED
            | code::CONTRACT_FULL,
        ) => ApiError::Refused { code, message },
        (400 | 422, code::INVALID_REQUEST) | (413, code::PAYLOAD_TOO_LARGE) => {
            ApiError::Rejected {
                code,
                message,
                field,
            }
        }
        (500..=599, _) => ApiError::Unavailable { status, message },
        (407, _) => ApiError::Unexpected {
            status,
            message: format!(
                "the proxy {} asks for authentication (407 Proxy Authentication Required): \
                 give its user and password in server.proxy (http://user:password@host:port)",
                proxy.unwrap_or("between this machine and the server")
            ),
        },
        (300..=399, _) => ApiError::Unexpected {
            status,
            message: format!(
                "{server} answered with a redirect to {}; the agent does not follow redirects \
                 (the credential must not go elsewhere): set server.url to the server's own URL",
                location.as_deref().unwrap_or("(no Location)")
            ),
        },
        (404 | 405, _) => ApiError::Unexpected {
            status,
            message: format!("{message} (is {server} an alma-ext server?)"),
        },
        _ => ApiError::Unexpected {
            status,
            message: format!("{message} (not an answer the alma-ext API gives; a proxy or load balancer in between?)"),
        },
    }
}

/// The proxy reqwest will use for `base`: the configured one, else the
/// environment's; without a password, for messages.
fn proxy_in_use(configured: Option<&str>, base: &reqwest::Url) -> Option<String> {
    let from_env = || {
        let names: &[&str] = if base.scheme() == "https" {
            &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
        } else {
            &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        };
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
    };
    let p = configured.map(str::to_string).or_else(from_env)?;
    Some(match reqwest::Url::parse(&p) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => p,
    })
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
    use alma_ext_i18n::{msg, Localized};
    let said = |m| anyhow::Error::new(Localized::new(m));
    let pem = std::fs::read(path).map_err(|e| {
        said(msg!(
            "reading CA file {path}: {error}",
            path = path.display(),
            error = alma_ext_i18n::io_message(&e)
        ))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        said(msg!(
            "CA file {path} is not PEM certificates: {error}",
            path = path.display(),
            error = e
        ))
    })?;
    if certs.is_empty() {
        return Err(said(msg!(
            "CA file {path} holds no certificate",
            path = path.display()
        )));
    }
    Ok(certs)
}

impl Client {
    /// Build a client. Fails on a bad URL, CA file or proxy (configuration
    /// errors: exit code 3).
    pub fn new(opts: &ClientOptions) -> anyhow::Result<Client> {
        let base = check_server_url(&opts.server)
            .map_err(|m| anyhow::Error::new(alma_ext_i18n::Localized::new(m)))?;
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
        let proxy = proxy_in_use(opts.proxy.as_deref(), &base);
        Ok(Client {
            http,
            base,
            ca_file: opts.ca_file.clone(),
            proxy,
        })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut u = self.base.clone();
        let prefix = u.path().trim_end_matches('/').to_string();
        u.set_path(&format!("{prefix}{path}"));
        u
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, ApiError> {
        let resp = req.send().await.map_err(|e| {
            ApiError::Unreachable(crate::tls_hint::describe(
                &e,
                chain(&e),
                &self.base,
                self.ca_file.as_deref(),
            ))
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.unwrap_or_default();
        let body: Option<ErrorBody> = serde_json::from_str(&text).ok();
        let reply = match body {
            Some(b) => Reply {
                status: status.as_u16(),
                code: Some(b.error.code),
                message: b.error.message,
                field: b.error.field,
                location,
            },
            None => Reply {
                status: status.as_u16(),
                code: None,
                message: text
                    .chars()
                    .take(200)
                    .collect::<String>()
                    .trim()
                    .to_string(),
                field: None,
                location,
            },
        };
        Err(classify(reply, self.base.as_str(), self.proxy.as_deref()))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, code: Option<&str>) -> Reply {
        Reply {
            status,
            code: code.map(str::to_string),
            message: "m".into(),
            ..Reply::default()
        }
    }

    #[test]
    fn only_the_api_refusals_refuse() {
        let c = |s, code| {
            classify(
                reply(s, code),
                "https://ext.example/",
                Some("http://proxy:3128/"),
            )
        };
        assert!(matches!(
            c(401, Some("unauthenticated")),
            ApiError::Refused { .. }
        ));
        assert!(matches!(
            c(403, Some("contract_revoked")),
            ApiError::Refused { .. }
        ));
        assert!(matches!(
            c(422, Some("invalid_request")),
            ApiError::Rejected { .. }
        ));
        assert!(matches!(
            c(409, Some("reregister_required")),
            ApiError::ReregisterRequired(_)
        ));
        for (status, code) in [
            (302, None),
            (307, None),
            (407, None),
            (403, None),
            (401, None),
            (400, None),
            (418, Some("invalid_request")),
            (502, None),
            (503, Some("internal")),
            (429, Some("rate_limited")),
        ] {
            let e = c(status, code);
            assert!(e.retryable(), "{status}: {e:?}");
            assert_eq!(e.exit(), Exit::Unreachable, "{status}");
            assert!(
                e.to_string().contains(&status.to_string())
                    || matches!(e, ApiError::Unavailable { .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn messages_name_the_proxy_and_the_redirect() {
        let e = classify(
            reply(407, None),
            "https://ext.example/",
            Some("http://proxy:3128/"),
        );
        assert!(e.to_string().contains("http://proxy:3128/"), "{e}");
        assert!(e.to_string().contains("407"), "{e}");
        let mut r = reply(302, None);
        r.location = Some("https://elsewhere.example/v1/checkin".into());
        let e = classify(r, "https://ext.example/", None);
        assert!(e.to_string().contains("302"), "{e}");
        assert!(
            e.to_string()
                .contains("https://elsewhere.example/v1/checkin"),
            "{e}"
        );
    }

    #[test]
    fn proxy_password_is_not_shown() {
        let base = reqwest::Url::parse("https://ext.example/").unwrap();
        let p = proxy_in_use(Some("http://u:secret@proxy:3128"), &base).unwrap();
        assert!(!p.contains("secret"), "{p}");
        assert!(p.contains("proxy:3128"), "{p}");
    }
}
