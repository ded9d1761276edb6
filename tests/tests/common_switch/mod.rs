//! Helpers for the `alma-ext switch` end-to-end tests: a signed package in
//! a createrepo_c repository, served by nginx on 127.0.0.1 over HTTPS with
//! basic auth and with TLS client certificates; fixture roots; the binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use alma_ext_test_support::ClosedPort;

pub const USER: &str = "customer-0042";
pub const PASSWORD: &str = "correct-horse-9";
pub const PKG: &str = "alma-ext-hello";

fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The `alma-ext` binary with the failpoints compiled in (the tests arm
/// them with `ALMA_EXT_FAILPOINT`), built once if needed.
pub fn bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        alma_ext_test_support::cargo_bin(
            "alma-ext-agent",
            "alma-ext",
            &["failpoints"],
            "ALMA_EXT_BIN",
        )
    })
    .clone()
}

pub fn fixtures() -> PathBuf {
    alma_ext_test_support::almalinux_fixtures()
}

pub use alma_ext_test_support::copy_tree;

/// Every file under `root/etc`: bytes, mode, owner, group.
pub type Snapshot = BTreeMap<PathBuf, (Vec<u8>, u32, u32, u32)>;

pub fn snapshot(root: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, m: &mut Snapshot) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd {
            let p = e.unwrap().path();
            let md = fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                walk(root, &p, m);
            } else {
                m.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    (
                        fs::read(&p).unwrap(),
                        md.mode() & 0o7777,
                        md.uid(),
                        md.gid(),
                    ),
                );
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(root, &root.join("etc"), &mut m);
    m
}

/// Everything built once per test binary: key, package, repo, certs, nginx.
pub struct World {
    pub dir: PathBuf,
    /// Armored public key of the test signing key.
    pub key: Vec<u8>,
    pub ca_pem: String,
    pub client_cert: String,
    pub client_key: String,
    pub expired_cert: String,
    pub expired_key: String,
    /// https://127.0.0.1:PORT with basic auth.
    pub basic_url: String,
    /// https://127.0.0.1:PORT requiring a client certificate.
    pub cert_url: String,
    /// A port nothing listens on.
    pub dead_url: String,
    _dead: ClosedPort,
    _nginx: NginxGuard,
}

/// nginx under a small sh that stops it (SIGTERM to the master, which
/// stops its worker) once its stdin closes: when the guard drops or,
/// since the world is a static that never drops, when the test process
/// exits, however it exits.
struct NginxGuard(Child);

impl Drop for NginxGuard {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// The sh around nginx: `$1` is the config, `$2` the prefix.
const NGINX_WATCH: &str = r#"exec 9<&0
nginx -c "$1" -p "$2" &
n=$!
{ read -r _ <&9; kill -TERM "$n"; } &
wait "$n"
"#;

pub fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(build_world)
}

fn build_world() -> World {
    let dir = tempfile::Builder::new()
        .prefix("alma-ext-switch-e2e")
        .tempdir()
        .unwrap()
        .keep();
    // GPG key in a private GNUPGHOME.
    let gnupg = dir.join("gnupg");
    fs::create_dir(&gnupg).unwrap();
    fs::set_permissions(&gnupg, fs::Permissions::from_mode(0o700)).unwrap();
    sh(Command::new("gpg")
        .env("GNUPGHOME", &gnupg)
        .args(["--batch", "--passphrase", "", "--quick-gen-key"])
        .args([
            "alma-ext test signing <signing@example.invalid>",
            "rsa2048",
            "sign",
            "never",
        ]));
    let key = sh(Command::new("gpg").env("GNUPGHOME", &gnupg).args([
        "--armor",
        "--export",
        "signing@example.invalid",
    ]))
    .stdout;

    // A tiny noarch package, built and signed.
    let top = dir.join("rpmbuild");
    fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/hello.spec");
    fs::write(
        &spec,
        format!(
            "Name: {PKG}\nVersion: 1.0\nRelease: 1\nSummary: alma-ext switch test package\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n%description\nTest package for the extended repository.\n%install\nmkdir -p %{{buildroot}}/usr/share/{PKG}\necho extended > %{{buildroot}}/usr/share/{PKG}/hello.txt\n%files\n/usr/share/{PKG}/hello.txt\n"
        ),
    )
    .unwrap();
    sh(Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .args(["--nodeps", "-bb"])
        .arg(&spec));
    let rpm = top.join(format!("RPMS/noarch/{PKG}-1.0-1.noarch.rpm"));
    sh(Command::new("rpmsign")
        .env("GNUPGHOME", &gnupg)
        .args(["--define", "__gpg /usr/bin/gpg"])
        .args(["--define", "_gpg_name alma-ext test signing"])
        .arg("--define")
        .arg(format!("_gpg_path {}", gnupg.display()))
        .arg("--addsign")
        .arg(&rpm)
        .stdin(Stdio::null()));
    let info = sh(Command::new("rpm").args(["-qpi"]).arg(&rpm)).stdout;
    assert!(
        String::from_utf8_lossy(&info).contains("Key ID"),
        "package is signed"
    );
    // Two repositories: one per replaced community repo.
    for name in ["baseos", "appstream"] {
        let repo = dir.join("www/repo").join(name);
        fs::create_dir_all(&repo).unwrap();
        fs::copy(&rpm, repo.join(rpm.file_name().unwrap())).unwrap();
        sh(Command::new("createrepo_c").arg("-q").arg(&repo));
    }

    // A repository whose repomd.xml answers but whose metadata is gone:
    // preflight passes, dnf makecache fails.
    let broken = dir.join("www/repo/broken");
    copy_tree(&dir.join("www/repo/baseos"), &broken);
    for e in fs::read_dir(broken.join("repodata")).unwrap() {
        let p = e.unwrap().path();
        if !p.ends_with("repomd.xml") {
            fs::remove_file(p).unwrap();
        }
    }

    // Certificates: a CA, the server, a client, an expired client.
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "alma-ext test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let srv_key = KeyPair::generate().unwrap();
    let mut srv = CertificateParams::new(vec!["localhost".into()]).unwrap();
    srv.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    srv.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let srv_cert = srv.signed_by(&srv_key, &ca, &ca_key).unwrap();
    let client = |expired: bool| {
        let k = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec![]).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, USER);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let c = p.signed_by(&k, &ca, &ca_key).unwrap();
        (c.pem(), k.serialize_pem())
    };
    let (client_cert, client_key) = client(false);
    let (expired_cert, expired_key) = client(true);
    let ssl = dir.join("ssl");
    fs::create_dir(&ssl).unwrap();
    fs::write(ssl.join("ca.pem"), ca.pem()).unwrap();
    fs::write(ssl.join("server.pem"), srv_cert.pem()).unwrap();
    fs::write(ssl.join("server.key"), srv_key.serialize_pem()).unwrap();
    let hash = sh(Command::new("openssl").args(["passwd", "-apr1", PASSWORD])).stdout;
    fs::write(
        dir.join("htpasswd"),
        format!("{USER}:{}", String::from_utf8_lossy(&hash).trim()),
    )
    .unwrap();

    let dead = ClosedPort::new();
    let (p_basic, p_cert, guard) = start_nginx(&dir);
    World {
        dir,
        key,
        ca_pem: ca.pem(),
        client_cert,
        client_key,
        expired_cert,
        expired_key,
        basic_url: format!("https://127.0.0.1:{p_basic}"),
        cert_url: format!("https://127.0.0.1:{p_cert}"),
        dead_url: dead.url("https"),
        _dead: dead,
        _nginx: guard,
    }
}

/// nginx on two ports of 127.0.0.1 (basic auth; client certificates).
/// The test binds both listening sockets itself (port 0) and hands them to
/// nginx as fds 3 and 4 through nginx's own inherited-socket variable
/// `NGINX="3;4;"`, the mechanism of its binary upgrade: nginx uses an
/// inherited socket whose address matches a `listen` line, so no port is
/// ever released and raced for. (nginx 1.22 crashes on inherited sockets
/// with `master_process off`, so a master runs one worker; the guard
/// stops both.) Ready when both ports accept connections.
fn start_nginx(dir: &Path) -> (u16, u16, NginxGuard) {
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::process::CommandExt;
    let basic = TcpListener::bind("127.0.0.1:0").unwrap();
    let cert = TcpListener::bind("127.0.0.1:0").unwrap();
    let (p_basic, p_cert) = (
        basic.local_addr().unwrap().port(),
        cert.local_addr().unwrap().port(),
    );
    let conf = format!(
        r#"
    user root;
    daemon off;
    master_process on;
    worker_processes 1;
    error_log {d}/nginx-error.log;
    pid {d}/nginx.pid;
    events {{ worker_connections 64; }}
    http {{
        access_log {d}/nginx-access.log;
        client_body_temp_path {d}/tmp-body;
        proxy_temp_path {d}/tmp-proxy;
        fastcgi_temp_path {d}/tmp-fastcgi;
        uwsgi_temp_path {d}/tmp-uwsgi;
        scgi_temp_path {d}/tmp-scgi;
        types {{ application/xml xml; application/x-rpm rpm; }}
        ssl_certificate {d}/ssl/server.pem;
        ssl_certificate_key {d}/ssl/server.key;
        server {{
            listen 127.0.0.1:{p_basic} ssl;
            root {d}/www;
            auth_basic "extended";
            auth_basic_user_file {d}/htpasswd;
        }}
        server {{
            listen 127.0.0.1:{p_cert} ssl;
            root {d}/www;
            ssl_client_certificate {d}/ssl/ca.pem;
            ssl_verify_client on;
        }}
    }}
    "#,
        d = dir.display()
    );
    fs::write(dir.join("nginx.conf"), conf).unwrap();
    // Copies at 10 or above (close-on-exec), so that moving them to 3 and
    // 4 in the child never overwrites the other.
    let high = |l: &TcpListener| {
        // SAFETY: fcntl on a descriptor this function owns.
        let fd = unsafe { libc::fcntl(l.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
        assert!(fd >= 10, "{}", std::io::Error::last_os_error());
        // SAFETY: fd is a new descriptor owned by nobody else.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
    };
    let (hi_basic, hi_cert) = (high(&basic), high(&cert));
    let (fd_basic, fd_cert) = (hi_basic.as_raw_fd(), hi_cert.as_raw_fd());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", NGINX_WATCH, "sh"])
        .arg(dir.join("nginx.conf"))
        .arg(dir)
        .env("NGINX", "3;4;")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only dup2, async-signal-safe, between fork and exec; the
    // copies at 3 and 4 lose close-on-exec and so reach nginx.
    unsafe {
        cmd.pre_exec(move || {
            for (from, to) in [(fd_basic, 3), (fd_cert, 4)] {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("nginx (tests/run-all installs it)");
    drop((basic, cert, hi_basic, hi_cert));
    let mut guard = NginxGuard(child);
    if let Err(e) = wait_listening(&mut guard, &[p_basic, p_cert], &dir.join("nginx-error.log")) {
        panic!("{e}");
    }
    (p_basic, p_cert, guard)
}

/// Wait until nginx accepts connections on every port, or exits.
fn wait_listening(guard: &mut NginxGuard, ports: &[u16], error_log: &Path) -> Result<(), String> {
    for &port in ports {
        loop {
            if let Ok(Some(st)) = guard.0.try_wait() {
                let mut e = String::new();
                let _ = guard.0.stderr.take().unwrap().read_to_string(&mut e);
                let log = fs::read_to_string(error_log).unwrap_or_default();
                return Err(format!("nginx exited {st}: {e}\n{log}"));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    Ok(())
}

/// How the test root talks to the repository.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    Basic,
    WrongPassword,
    ClientCert,
    ExpiredCert,
    Unreachable,
}

/// A fixture root with the key, CA and client certificate inside it, and
/// a target TOML for `access`. Returns (root, target file).
pub fn setup(major: u32, access: Access) -> (tempfile::TempDir, PathBuf) {
    let w = world();
    let root = tempfile::tempdir().unwrap();
    copy_tree(&fixtures().join(major.to_string()), root.path());
    let pki = root.path().join("etc/pki");
    fs::create_dir_all(pki.join("rpm-gpg")).unwrap();
    fs::write(pki.join("rpm-gpg/RPM-GPG-KEY-vendor-extended"), &w.key).unwrap();
    // The certificates live only inside the root, at a path of the
    // machine: the switch hands dnf --installroot their places in the root.
    let host_pki = Path::new("/etc/pki/alma-ext-test");
    let in_root = root.path().join(host_pki.strip_prefix("/").unwrap());
    fs::create_dir_all(&in_root).unwrap();
    fs::write(in_root.join("ca.pem"), &w.ca_pem).unwrap();
    let (c, k) = if access == Access::ExpiredCert {
        (&w.expired_cert, &w.expired_key)
    } else {
        (&w.client_cert, &w.client_key)
    };
    fs::write(in_root.join("client.pem"), c).unwrap();
    fs::write(in_root.join("client.key"), k).unwrap();
    let base = match access {
        Access::Basic | Access::WrongPassword => &w.basic_url,
        Access::ClientCert | Access::ExpiredCert => &w.cert_url,
        Access::Unreachable => &w.dead_url,
    };
    let auth = match access {
        Access::Basic | Access::Unreachable => format!(
            "username = \"{USER}\"\npassword = \"{PASSWORD}\"\nsslcacert = \"{p}/ca.pem\"\n",
            p = host_pki.display()
        ),
        Access::WrongPassword => format!(
            "username = \"{USER}\"\npassword = \"wrong-password\"\nsslcacert = \"{p}/ca.pem\"\n",
            p = host_pki.display()
        ),
        Access::ClientCert | Access::ExpiredCert => format!(
            "sslclientcert = \"{p}/client.pem\"\nsslclientkey = \"{p}/client.key\"\nsslcacert = \"{p}/ca.pem\"\n",
            p = host_pki.display()
        ),
    };
    let target = format!(
        r#"gpgcheck = true
gpgkey = ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-vendor-extended"]
others = "disable"

[auth]
{auth}
[repos.baseos]
id = "ext-baseos"
name = "AlmaLinux $releasever - BaseOS (extended support)"
baseurl = "{base}/repo/baseos/"

[repos.appstream]
id = "ext-appstream"
name = "AlmaLinux $releasever - AppStream (extended support)"
baseurl = "{base}/repo/appstream/"
"#
    );
    let t = root.path().join("target.toml");
    fs::write(&t, target).unwrap();
    (root, t)
}

/// Run `alma-ext` with args; stdin is /dev/null (no terminal).
pub fn alma_ext(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `dnf --installroot` in the root, limited to the root's configuration.
const TLS_FILES: [(&str, &str); 3] = [
    ("sslcacert", "ca.pem"),
    ("sslclientcert", "client.pem"),
    ("sslclientkey", "client.key"),
];

/// dnf --installroot reads TLS files on the host; the test's
/// certificates live only in the root (see `setup`): these `--setopt`s
/// point every repo at them, as the switch does for its own dnf runs.
pub fn tls_setopts(root: &Path) -> Vec<String> {
    TLS_FILES
        .iter()
        .map(|(opt, file)| {
            format!(
                "--setopt=*.{opt}={}/etc/pki/alma-ext-test/{file}",
                root.display()
            )
        })
        .collect()
}

pub fn dnf(root: &Path, major: u32, args: &[&str]) -> Output {
    let conf = root.join("var/lib/alma-ext/switch/empty-dnf.conf");
    let r = root.display();
    Command::new("dnf")
        .arg(format!("--installroot={r}"))
        .arg(format!("--releasever={major}"))
        .arg(format!("--setopt=reposdir={r}/etc/yum.repos.d"))
        .arg(format!("--setopt=varsdir={r}/etc/dnf/vars"))
        .arg(format!("--config={}", conf.display()))
        .args(tls_setopts(root))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}
