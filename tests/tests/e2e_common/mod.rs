//! Shared by the fleet end-to-end tests: the real `alma-ext-server` and
//! `alma-ext` binaries, fixture roots, a test CA, an HTTPS CONNECT proxy.
//!
//! Binaries of other packages have no `CARGO_BIN_EXE_` here, so they are
//! built once per test process with `cargo build -p <pkg> --bin <bin>` (a
//! no-op when up to date, through the workspace's test-support crate) and
//! taken from this test binary's target dir. `ALMA_EXT_BIN` /
//! `ALMA_EXT_SERVER_BIN` override the paths.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use alma_ext_test_support::server_bin;

pub fn agent_bin() -> PathBuf {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        alma_ext_test_support::cargo_bin("alma-ext-agent", "alma-ext", &[], "ALMA_EXT_BIN")
    })
    .clone()
}

/// A running `alma-ext-server serve` on a port it chose, with a SQLite
/// database in `dir`; killed on drop.
pub struct Server {
    proc: alma_ext_test_support::Server,
    pub port: u16,
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
        std::fs::create_dir_all(dir).unwrap();
        let db = format!("sqlite://{}/fleet.db", dir.display());
        let proc = alma_ext_test_support::Server::start(&server_bin(), &db, extra);
        Server {
            port: proc.port(),
            proc,
            db,
        }
    }

    /// The base URL: `http://127.0.0.1:PORT` (or https).
    pub fn url(&self) -> String {
        self.proc.base().to_string()
    }

    pub fn admin(&self, args: &[&str]) -> Output {
        let out = Command::new(server_bin())
            .args(args)
            .args(["--database", &self.db])
            .output()
            .unwrap();
        out
    }

    pub fn contract(&self, product: &str, quantity: u32) -> (String, String) {
        let out = self.admin(&[
            "contract",
            "create",
            "--customer",
            "ACME",
            "--product",
            product,
            "--quantity",
            &quantity.to_string(),
            "--starts",
            "2026-01-01",
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["id"].as_str().unwrap().to_string(),
            v["activation_key"].as_str().unwrap().to_string(),
        )
    }

    pub fn inventory(&self) -> serde_json::Value {
        let out = self.admin(&["inventory"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// Run `alma-ext` with a clean proxy environment plus `env`.
pub fn alma_ext(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(agent_bin());
    c.args(args).stdin(Stdio::null());
    for v in [
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub const OS_RELEASE_9: &str = "NAME=\"AlmaLinux\"\nVERSION=\"9.6 (Sage Margay)\"\nID=\"almalinux\"\nVERSION_ID=\"9.6\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"AlmaLinux 9.6 (Sage Margay)\"\n";

fn write(root: &Path, p: &str, t: &str) {
    let f = root.join(p);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, t).unwrap();
}

/// A physical AlmaLinux 9 server.
pub fn physical_root(root: &Path, machine_id: &str, uuid: &str, hostname: &str) {
    write(root, "etc/os-release", OS_RELEASE_9);
    write(root, "etc/machine-id", &format!("{machine_id}\n"));
    write(root, "etc/hostname", &format!("{hostname}\n"));
    write(root, "sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
    write(root, "sys/class/dmi/id/product_name", "PowerEdge R650\n");
    write(root, "sys/class/dmi/id/product_uuid", &format!("{uuid}\n"));
}

/// A KVM guest: QEMU DMI with its SMBIOS UUID.
pub fn kvm_guest_root(root: &Path, machine_id: &str, uuid: &str, hostname: &str) {
    write(root, "etc/os-release", OS_RELEASE_9);
    write(root, "etc/machine-id", &format!("{machine_id}\n"));
    write(root, "etc/hostname", &format!("{hostname}\n"));
    write(root, "sys/class/dmi/id/sys_vendor", "QEMU\n");
    write(
        root,
        "sys/class/dmi/id/product_name",
        "Standard PC (Q35 + ICH9, 2009)\n",
    );
    write(root, "sys/class/dmi/id/product_uuid", &format!("{uuid}\n"));
}

pub use alma_ext_test_support::copy_tree;

/// The KVM host fixture of the agent's tests (5 guests, 4 running).
pub fn kvm_host_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/fixtures/libvirt/kvmhost")
}

/// A test CA and a server certificate for 127.0.0.1 and localhost: (ca.pem,
/// cert.pem, key.pem) in `dir`.
pub fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        SanType,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(vec![]).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "alma-ext e2e CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".into()]).unwrap();
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let (a, b, c) = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&a, ca_cert.pem()).unwrap();
    std::fs::write(&b, cert.pem()).unwrap();
    std::fs::write(&c, key.serialize_pem()).unwrap();
    (a, b, c)
}

/// A minimal HTTP CONNECT proxy on loopback; records the targets asked for.
pub struct Proxy {
    pub port: u16,
    pub connects: Arc<Mutex<Vec<String>>>,
    pub count: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (c2, n2) = (connects.clone(), count.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(client) = s else { continue };
                let (c3, n3) = (c2.clone(), n2.clone());
                std::thread::spawn(move || {
                    let mut r = BufReader::new(client.try_clone().unwrap());
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    let mut h = String::new();
                    while r.read_line(&mut h).unwrap() > 2 {
                        h.clear();
                    }
                    let mut parts = line.split_whitespace();
                    if parts.next() != Some("CONNECT") {
                        let _ = (&client).write_all(b"HTTP/1.1 405 Only CONNECT\r\n\r\n");
                        return;
                    }
                    let target = parts.next().unwrap().to_string();
                    c3.lock().unwrap().push(target.clone());
                    n3.fetch_add(1, Ordering::SeqCst);
                    let upstream = TcpStream::connect(&target).unwrap();
                    (&client)
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .unwrap();
                    let (mut a, mut b) =
                        (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                    let t = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a, &mut b);
                        let _ = b.shutdown(std::net::Shutdown::Write);
                    });
                    let mut up = upstream;
                    let mut cl = client;
                    let mut buf = [0u8; 16384];
                    // Whatever BufReader already read belongs upstream (nothing, for CONNECT).
                    loop {
                        match up.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if cl.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = cl.shutdown(std::net::Shutdown::Write);
                    let _ = t.join();
                });
            }
        });
        Proxy {
            port,
            connects,
            count,
        }
    }
}
