//! Shared by the agent's integration tests: the real `alma-ext-server` on
//! loopback (through the workspace's test-support crate), fixture roots.
//!
//! The server binary belongs to another package, so `CARGO_BIN_EXE_` does
//! not name it: one `cargo build -p alma-ext-server` per test process (a
//! no-op when it is up to date) puts it next to this test's binary;
//! `ALMA_EXT_SERVER_BIN` overrides the path.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub use alma_ext_test_support::server_bin;

pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_alma-ext"))
}

/// A running `alma-ext-server serve` on a port it chose, with a SQLite
/// database in `dir`; killed on drop.
pub struct Server {
    proc: alma_ext_test_support::Server,
    pub db: String,
}

impl std::ops::Deref for Server {
    type Target = alma_ext_test_support::Server;
    fn deref(&self) -> &Self::Target {
        &self.proc
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.proc
    }
}

impl Server {
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let db = format!("sqlite://{}/fleet.db", dir.display());
        let proc = alma_ext_test_support::Server::start(&server_bin(), &db, extra);
        Server { proc, db }
    }

    /// The base URL: `http://127.0.0.1:PORT` (or https).
    pub fn url(&self) -> String {
        self.proc.base().to_string()
    }

    /// SIGKILL: the server is gone, whatever was in flight.
    pub fn stop(&mut self) {
        self.proc.kill();
    }

    /// `contract create` and the activation key.
    pub fn contract(&self, product: &str, quantity: u32) -> String {
        let out = Command::new(server_bin())
            .args([
                "contract",
                "create",
                "--customer",
                "ACME",
                "--product",
                product,
            ])
            .args([
                "--quantity",
                &quantity.to_string(),
                "--starts",
                "2026-01-01",
                "--format",
                "json",
            ])
            .args(["--database", &self.db])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["activation_key"].as_str().unwrap().to_string()
    }

    /// GET a path over plain HTTP (for /healthz, /metrics).
    pub fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(self.addr()).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

pub const OS_RELEASE_9: &str = "NAME=\"AlmaLinux\"\nVERSION=\"9.6 (Sage Margay)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.6\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"AlmaLinux 9.6 (Sage Margay)\"\nSUPPORT_END=2032-06-01\n";

/// A minimal AlmaLinux 9 root with its own machine-id and DMI UUID.
pub fn alma_root(dir: &Path, machine_id: &str, uuid: &str) {
    let w = |p: &str, t: &str| {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, t).unwrap();
    };
    w("etc/os-release", OS_RELEASE_9);
    w("etc/machine-id", &format!("{machine_id}\n"));
    w("etc/hostname", "host1\n");
    w("sys/class/dmi/id/product_uuid", &format!("{uuid}\n"));
    w("sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
    w("sys/class/dmi/id/product_name", "PowerEdge R650\n");
}

#[allow(unused_imports)]
pub use alma_ext_test_support::copy_tree;

/// `alma-ext register` against `server` for `root`.
pub fn register(
    server: &Server,
    root: &Path,
    key: &str,
    system: Option<&str>,
) -> std::process::Output {
    let mut c = Command::new(agent_bin());
    c.args([
        "register",
        "--server",
        &server.url(),
        "--key",
        key,
        "--root",
    ])
    .arg(root);
    if let Some(s) = system {
        c.args(["--system", s]);
    }
    c.env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY");
    c.stdin(Stdio::null()).output().unwrap()
}

/// Run the daemon on `root` with the virtual `clock` until `stop` (given
/// each event and those before it) says so, then stop it and wait for it.
/// Returns the events up to and including the one that stopped it.
pub fn run_daemon(
    root: &Path,
    settings: alma_ext_agent::config::Settings,
    clock: std::sync::Arc<alma_ext_agent::daemon::ManualClock>,
    seed: u64,
    switch_exe: Option<PathBuf>,
    switch_timeout: Duration,
    mut stop: impl FnMut(&alma_ext_agent::daemon::Event, &[alma_ext_agent::daemon::Event]) -> bool,
) -> Vec<alma_ext_agent::daemon::Event> {
    use alma_ext_agent::daemon::{self, Control, Event, Notifier};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = alma_ext_agent::root::HostRoot::new(root);
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (ctl, ctl_rx) = tokio::sync::mpsc::unbounded_channel();
        let opts = daemon::Options {
            clock,
            notifier: Notifier::default(),
            events: Some(tx),
            seed: Some(seed),
            switch_timeout,
            switch_exe,
        };
        let task = tokio::spawn(daemon::run(root, settings, opts, ctl_rx));
        let mut seen = Vec::new();
        while let Some(e) = rx.recv().await {
            let done = stop(&e, &seen);
            seen.push(e);
            if done {
                break;
            }
        }
        ctl.send(Control::Stop).unwrap();
        // Drain until the daemon says it stopped.
        while let Some(e) = rx.recv().await {
            if e == Event::Stopped {
                break;
            }
        }
        task.await.unwrap().unwrap();
        seen
    })
}

/// Empty createrepo_c repositories `<www>/9/<name>/<arch>/os` for each of
/// `names`, served over HTTP on 127.0.0.1: dnf's verification (makecache)
/// passes against them. Returns the server (killed on drop).
pub fn serve_empty_repos(www: &Path, names: &[&str]) -> alma_ext_test_support::StaticHttp {
    for r in names {
        let p = www.join(format!("9/{r}/{}/os", std::env::consts::ARCH));
        std::fs::create_dir_all(&p).unwrap();
        let o = Command::new("createrepo_c")
            .arg("--quiet")
            .arg(&p)
            .output()
            .expect("createrepo_c (tests/run-all installs it)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    alma_ext_test_support::StaticHttp::serve(www)
}
