//! Shared by the server's integration tests (`#[path]`-included): real
//! databases, the real binary on 127.0.0.1, an HTTP client, sample facts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alma_ext_proto::facts::{Dmi, Facts, Guest, Hardware, Machine, MachineType, Os};
use chrono::{Datelike, NaiveDate, Utc};

pub const BIN: &str = env!("CARGO_BIN_EXE_alma-ext-server");

/// A fresh, empty database for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fleet.db", dir.path().display());
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// The PostgreSQL the test runner started. Missing: a failure, never a
/// silent pass.
pub fn pg_base_url() -> String {
    std::env::var("ALMA_EXT_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "ALMA_EXT_TEST_DATABASE_URL is not set: the PostgreSQL tests need a real server; \
             run them through tests/run-all (it starts one), or export the variable yourself"
        )
    })
}

/// A new database `t_<random>` on the test PostgreSQL.
pub async fn pg_db() -> TestDb {
    use sqlx::Connection;
    let base = pg_base_url();
    let name = format!("t_{}", alma_ext_server::auth::new_id("", 8));
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("connecting to {base}: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database name");
    TestDb {
        url: format!("{prefix}/{name}"),
        _dir: None,
    }
}

/// Run a CLI subcommand of the real binary; (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("ALMA_EXT_SERVER_DATABASE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// First day of this month: a contract that is active today.
pub fn this_month() -> String {
    let t = Utc::now().date_naive();
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
        .unwrap()
        .to_string()
}

/// Create a contract through the CLI; (contract id, activation key).
pub fn create_contract(db: &str, product: &str, quantity: u32) -> (String, String) {
    let q = quantity.to_string();
    let starts = this_month();
    let (code, out, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "ACME 株式会社",
        "--product",
        product,
        "--quantity",
        &q,
        "--starts",
        &starts,
        "--format",
        "json",
        "--create",
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "contract create: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        v["id"].as_str().unwrap().to_string(),
        v["activation_key"].as_str().unwrap().to_string(),
    )
}

/// A running `alma-ext-server serve` of this package's binary, on the
/// port it chose itself (see `alma_ext_test_support::Server`).
pub struct Server(alma_ext_test_support::Server);

impl std::ops::Deref for Server {
    type Target = alma_ext_test_support::Server;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Server {
    pub fn start(db: &str, extra: &[&str]) -> Server {
        Server(alma_ext_test_support::Server::start(
            Path::new(BIN),
            db,
            extra,
        ))
    }

    pub fn start_on(db: &str, listen: &str, extra: &[&str]) -> Server {
        Server(alma_ext_test_support::Server::start_on(
            Path::new(BIN),
            listen,
            db,
            extra,
        ))
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Sample facts of an AlmaLinux 9 machine.
pub fn facts(kind: MachineType, machine_id: &str, uuid: &str, hostname: &str) -> Facts {
    Facts {
        schema_version: 1,
        machine: Machine {
            kind,
            hypervisor: if kind == MachineType::Virtual {
                Some("kvm".into())
            } else {
                None
            },
            cloud: None,
            container: None,
            hypervisor_host: false,
            uuid: Some(uuid.into()),
            machine_id: Some(machine_id.into()),
            hostname: Some(hostname.into()),
            evidence: vec![],
        },
        os: Os {
            id: Some("almalinux".into()),
            name: Some("AlmaLinux".into()),
            pretty_name: Some("AlmaLinux 9.6 (Sage Margay)".into()),
            version_id: Some("9.6".into()),
            major: Some(9),
            minor: Some(6),
            family: "almalinux".into(),
            supported: true,
            support_end: None,
            platform_id: Some("platform:el9".into()),
        },
        hardware: Hardware {
            arch: Some("x86_64".into()),
            dmi: Dmi {
                product_uuid: Some(uuid.into()),
                ..Dmi::default()
            },
            ..Hardware::default()
        },
        guests: vec![],
        cluster: None,
        hyperv_host: None,
        cloud_account: None,
    }
}

/// A KVM host listing `guests` (DMI UUIDs), all running.
pub fn kvm_host(machine_id: &str, uuid: &str, hostname: &str, guests: &[&str]) -> Facts {
    let mut f = facts(MachineType::Physical, machine_id, uuid, hostname);
    f.machine.hypervisor_host = true;
    f.guests = guests
        .iter()
        .map(|g| Guest {
            uuid: g.to_string(),
            name: None,
            state: "running".into(),
            transient: false,
        })
        .collect();
    f
}

pub fn hex_id(n: u32) -> String {
    format!("{n:032x}")
}

pub fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

pub fn checkin_body(f: &Facts) -> serde_json::Value {
    serde_json::json!({
        "observed_at": Utc::now(),
        "facts": f,
        "switch": {"status": "community"},
        "agent_version": "0.1.0",
    })
}

pub fn register_body(key: &str, system: Option<&str>, f: &Facts) -> serde_json::Value {
    serde_json::json!({"activation_key": key, "system": system, "facts": f})
}

/// Register through the API; (machine id, credential).
pub async fn register(
    c: &reqwest::Client,
    s: &Server,
    key: &str,
    system: Option<&str>,
    f: &Facts,
) -> (String, String) {
    let r = c
        .post(s.url("/v1/register"))
        .json(&register_body(key, system, f))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 201, "register: {v}");
    (
        v["machine"].as_str().unwrap().to_string(),
        v["credential"].as_str().unwrap().to_string(),
    )
}

pub async fn checkin(
    c: &reqwest::Client,
    s: &Server,
    cred: &str,
    f: &Facts,
) -> (u16, serde_json::Value) {
    let r = c
        .post(s.url("/v1/checkin"))
        .bearer_auth(cred)
        .json(&checkin_body(f))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

pub const TARGET_TOML: &str = r#"
gpgcheck = true
gpgkey = ["https://repo.example.invalid/RPM-GPG-KEY-ext"]
[repos.baseos]
id = "ext-baseos"
name = "Extended BaseOS"
baseurl = "https://repo.example.invalid/9/BaseOS/$basearch/os/"
[repos.appstream]
id = "ext-appstream"
name = "Extended AppStream"
baseurl = "https://repo.example.invalid/9/AppStream/$basearch/os/"
"#;

pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Write a new admin token with `alma-ext-server admin-token` into `dir`:
/// (the token file's path, for `--admin-token-file`, and the token).
pub fn admin_token(dir: &std::path::Path) -> (String, String) {
    let path = dir.join("admin.token");
    let (code, _, err) = cli(&["admin-token", "--output", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
    (path.to_str().unwrap().to_string(), token)
}
