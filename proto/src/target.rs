//! The switch target: which extended-update repositories replace which
//! community repositories. The TOML of `alma-ext switch --target FILE`, and
//! what the server hands out per major version (with per-machine
//! credentials filled in).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to do with enabled AlmaLinux repos that nothing replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Others {
    /// Repoint them to the frozen vault of the installed minor release.
    #[default]
    Vault,
    /// Leave them as they are.
    Keep,
    /// Disable them.
    Disable,
}

/// Credentials for the extended repository.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub username: Option<String>,
    pub password: Option<String>,
    pub sslclientcert: Option<String>,
    pub sslclientkey: Option<String>,
    pub sslcacert: Option<String>,
}

impl std::fmt::Debug for Auth {
    // Never print a password, even in a debug log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("sslclientcert", &self.sslclientcert)
            .field("sslclientkey", &self.sslclientkey)
            .field("sslcacert", &self.sslcacert)
            .finish()
    }
}

/// One replacement repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoSpec {
    pub id: String,
    pub name: String,
    pub baseurl: String,
}

fn default_true() -> bool {
    true
}

/// The target of a switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default = "default_true")]
    pub gpgcheck: bool,
    #[serde(default)]
    pub gpgkey: Vec<String>,
    #[serde(default)]
    pub others: Others,
    #[serde(default)]
    pub vault_url: Option<String>,
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Keyed by the community repo id that the repo replaces.
    pub repos: BTreeMap<String, RepoSpec>,
}

impl Target {
    /// Parse the TOML form; errors name the line and key.
    pub fn from_toml(text: &str) -> Result<Target, toml::de::Error> {
        toml::from_str(text)
    }
}
