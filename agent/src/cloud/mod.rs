//! Cloud account facts from the instance metadata service of the cloud the
//! local facts detected: what the count needs (account, resource unit,
//! region, instance id, whether the image is an official AlmaLinux one).
//!
//! One module per provider, each a function of an HTTP client and a base
//! URL from the config (tests point it at 127.0.0.1). Short timeouts, no
//! proxy (the services are link-local), results cached on disk; a service
//! that is absent or slow costs at most a few seconds and never fails a
//! check-in.

pub mod aws;
pub mod azure;
pub mod gcp;
pub mod oracle;

use std::time::Duration;

use alma_ext_proto::facts::CloudAccount;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::CloudSettings;
use crate::registration::write_atomic;
use crate::root::HostRoot;

/// Cached answer, as a host path.
pub const CACHE_FILE: &str = "/var/lib/alma-ext/cloud-account.json";

/// The providers this module can ask, by the name facts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Aws,
    Azure,
    Gcp,
    Oracle,
}

impl Provider {
    /// From `facts.machine.cloud`.
    pub fn from_cloud(cloud: &str) -> Option<Provider> {
        match cloud.to_ascii_lowercase().as_str() {
            "aws" | "amazon" | "ec2" => Some(Provider::Aws),
            "azure" | "microsoft" => Some(Provider::Azure),
            "gcp" | "google" | "gce" => Some(Provider::Gcp),
            "oci" | "oracle" => Some(Provider::Oracle),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
            Provider::Oracle => "oci",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Cache {
    fetched_at: DateTime<Utc>,
    account: CloudAccount,
}

fn read_cache(root: &HostRoot) -> Option<Cache> {
    let text = root.read_to_string(CACHE_FILE).ok()??;
    serde_json::from_str(&text).ok()
}

/// The metadata-service client: no proxy, short timeouts.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client always builds")
}

/// Ask the provider once. Errors are short strings for the debug log.
pub async fn fetch(provider: Provider, settings: &CloudSettings) -> Result<CloudAccount, String> {
    let c = http_client(settings.timeout);
    match provider {
        Provider::Aws => aws::fetch(&c, &settings.aws_endpoint).await,
        Provider::Azure => azure::fetch(&c, &settings.azure_endpoint).await,
        Provider::Gcp => gcp::fetch(&c, &settings.gcp_endpoint).await,
        Provider::Oracle => oracle::fetch(&c, &settings.oracle_endpoint).await,
    }
}

/// The cloud account of this instance, for check-in: from the cache when
/// fresh, else from the metadata service, else a stale cache, else None.
/// Bounded in time whatever the service does.
pub async fn account(
    root: &HostRoot,
    settings: &CloudSettings,
    cloud: Option<&str>,
    now: DateTime<Utc>,
) -> Option<CloudAccount> {
    if !settings.enabled {
        return None;
    }
    let provider = Provider::from_cloud(cloud?)?;
    let cached = read_cache(root).filter(|c| c.account.provider == provider.name());
    if let Some(c) = &cached {
        let age = now.signed_duration_since(c.fetched_at);
        if age >= chrono::Duration::zero()
            && age
                .to_std()
                .map(|a| a < settings.cache_ttl)
                .unwrap_or(false)
        {
            return Some(c.account.clone());
        }
    }
    // Several requests per provider (token, document): bound the whole.
    let budget = settings.timeout * 3;
    match tokio::time::timeout(budget, fetch(provider, settings)).await {
        Ok(Ok(account)) => {
            let cache = Cache {
                fetched_at: now,
                account: account.clone(),
            };
            if let Ok(text) = serde_json::to_string_pretty(&cache) {
                let written = root
                    .resolve(CACHE_FILE)
                    .and_then(|p| write_atomic(&p, text.as_bytes(), 0o644));
                if let Err(e) = written {
                    tracing::debug!("cannot cache cloud account in {CACHE_FILE}: {e}");
                }
            }
            Some(account)
        }
        Ok(Err(e)) => {
            tracing::info!("{} metadata service: {e}", provider.name());
            cached.map(|c| c.account)
        }
        Err(_) => {
            tracing::info!(
                "{} metadata service did not answer within {budget:?}",
                provider.name()
            );
            cached.map(|c| c.account)
        }
    }
}

/// GET a URL with headers, as text; non-2xx is an error.
pub(crate) async fn get_text(
    c: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<String, String> {
    let mut r = c.get(url);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let resp = r.send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    resp.text().await.map_err(|e| e.to_string())
}
