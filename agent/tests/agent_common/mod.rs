//! Shared by the agent's integration tests: the real `alma-ext-server` on
//! loopback, fixture roots, free ports.
//!
//! The server binary belongs to another package, so `CARGO_BIN_EXE_` does
//! not name it. It is found next to this test's own binary's target dir
//! (`target/debug/alma-ext-server`) after one `cargo build -p
//! alma-ext-server` per test process, which is a no-op when it is up to
//! date; `ALMA_EXT_SERVER_BIN` overrides the path.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub fn target_dir() -> PathBuf {
    // target/debug/deps/agent_x-hash -> target/debug
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("ALMA_EXT_SERVER_BIN") {
            return PathBuf::from(p);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let st = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "alma-ext-server",
                "--bin",
                "alma-ext-server",
                "--manifest-path",
            ])
            .arg(&manifest)
            .status()
            .expect("running cargo build for the server");
        assert!(st.success(), "cargo build -p alma-ext-server failed");
        let p = target_dir().join("alma-ext-server");
        assert!(p.exists(), "{} missing", p.display());
        p
    })
    .clone()
}

pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_alma-ext"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `alma-ext-server serve`, killed on drop.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub db: String,
    pub dir: PathBuf,
    pub extra: Vec<String>,
    pub scheme: &'static str,
}

impl Server {
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut s = Server {
            child: None,
            port: free_port(),
            db: format!("sqlite://{}/fleet.db", dir.display()),
            dir: dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            scheme: if extra.contains(&"--tls-cert") {
                "https"
            } else {
                "http"
            },
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        format!("127.0.0.1:{}", self.port).parse().unwrap()
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let child = Command::new(server_bin())
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--database")
            .arg(&self.db)
            .args(&self.extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting alma-ext-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(self.addr()).is_err() {
            assert!(
                Instant::now() < deadline,
                "server did not listen; see {}/server.log",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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

/// Copy a fixture tree (recursively) into `dest`.
pub fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dest.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

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

/// Kills the child when dropped.
pub struct Reaper(pub Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Empty createrepo_c repositories `<www>/9/<name>/<arch>/os` for each of
/// `names`, served over HTTP on 127.0.0.1: dnf's verification (makecache)
/// passes against them. Returns the server (killed on drop) and its port.
pub fn serve_empty_repos(www: &Path, names: &[&str]) -> (Reaper, u16) {
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
    let port = free_port();
    let http = Reaper(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3"),
    );
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the test repository server did not start");
    (http, port)
}
