//! The TLS and URL mistakes an administrator makes, against the real
//! `alma-ext-server` with real TLS (rcgen certificates): each gives a
//! sentence that says what is wrong and what to do, with exit code 6.

mod agent_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use agent_common::{agent_bin, alma_root, Server};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};

const KEY: &str = "aek_0000000000000000000000000000000000000000000";

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca() -> Ca {
    named_ca("alma-ext test CA")
}

fn named_ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![]).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(rcgen::DnType::CommonName, name);
    let cert = p.self_signed(&key).unwrap();
    Ca { cert, key }
}

/// A server certificate signed by `ca` for `names` (IP addresses as IP
/// SANs), optionally expired.
fn leaf(ca: &Ca, names: &[&str], expired: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec![]).unwrap();
    for n in names {
        p.subject_alt_names.push(match n.parse() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().unwrap()),
        });
    }
    if expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A TLS server with this certificate and key.
fn tls_server(dir: &Path, name: &str, cert: &str, key: &str) -> Server {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("cert.pem"), cert).unwrap();
    std::fs::write(d.join("key.pem"), key).unwrap();
    let c = d.join("cert.pem").to_string_lossy().into_owned();
    let k = d.join("key.pem").to_string_lossy().into_owned();
    Server::start(&d, &["--tls-cert", &c, "--tls-key", &k])
}

/// A TLS server with a certificate for `names` signed by a new CA, and
/// that CA's file (`DIR/ca.pem`).
fn signed_server(dir: &Path, names: &[&str], expired: bool) -> (Server, PathBuf) {
    let ca = ca();
    let (cert, key) = leaf(&ca, names, expired);
    let s = tls_server(dir, "srv", &cert, &key);
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.cert.pem()).unwrap();
    (s, ca_file)
}

fn root(dir: &Path) -> PathBuf {
    let r = dir.join("root");
    if !r.exists() {
        alma_root(
            &r,
            "0123456789abcdef0123456789abcdef",
            "4c4c4544-0000-1111-2222-333344445555",
        );
    }
    r
}

/// `alma-ext register --server url [--ca-file ca]`.
fn register(dir: &Path, url: &str, ca_file: Option<&Path>) -> Output {
    let mut c = Command::new(agent_bin());
    c.args(["register", "--server", url, "--key", KEY, "--root"])
        .arg(root(dir));
    if let Some(f) = ca_file {
        c.arg("--ca-file").arg(f);
    }
    c.env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Exit 6 and a message that holds every one of `words`.
fn assert_says(o: &Output, words: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{err}");
    for w in words {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
}

#[test]
fn ca_certificate_used_as_the_server_certificate() {
    let d = tempfile::tempdir().unwrap();
    // The usual `openssl req -x509` recipe: one self-signed CA certificate
    // served as the server's own.
    let ca = ca();
    let s = tls_server(d.path(), "srv", &ca.cert.pem(), &ca.key.serialize_pem());
    let ca_file = d.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert.pem()).unwrap();
    let o = register(d.path(), &s.url(), Some(&ca_file));
    assert_says(
        &o,
        &[
            "presents a CA certificate as its own",
            "signed by that CA",
            "subjectAltName",
        ],
    );
}

#[test]
fn unknown_ca_names_ca_file() {
    let d = tempfile::tempdir().unwrap();
    let (s, _) = signed_server(d.path(), &["127.0.0.1"], false);
    let o = register(d.path(), &s.url(), None);
    assert_says(&o, &["does not trust", "--ca-file"]);
    // With the wrong CA file, the message names it: another CA, and a
    // CA made again with the same name (the signature does not verify).
    for (file, name) in [
        ("other-ca.pem", "another CA"),
        ("remade-ca.pem", "alma-ext test CA"),
    ] {
        let other = d.path().join(file);
        std::fs::write(&other, named_ca(name).cert.pem()).unwrap();
        let o = register(d.path(), &s.url(), Some(&other));
        assert_says(&o, &[file, "--ca-file"]);
    }
}

#[test]
fn name_mismatch() {
    let d = tempfile::tempdir().unwrap();
    let (s, ca_file) = signed_server(d.path(), &["entitlement.example.com"], false);
    let o = register(d.path(), &s.url(), Some(&ca_file));
    assert_says(&o, &["not valid for 127.0.0.1", "subjectAltName"]);
}

#[test]
fn expired_certificate() {
    let d = tempfile::tempdir().unwrap();
    let (s, ca_file) = signed_server(d.path(), &["127.0.0.1"], true);
    let o = register(d.path(), &s.url(), Some(&ca_file));
    assert_says(&o, &["has expired", "renew"]);
}

#[test]
fn plain_http_server_given_without_a_scheme() {
    let d = tempfile::tempdir().unwrap();
    let s = Server::start(d.path(), &[]);
    // https:// is assumed; the server speaks plain HTTP.
    let o = register(d.path(), &format!("127.0.0.1:{}", s.port()), None);
    assert_says(
        &o,
        &[
            "answered in plain HTTP",
            &format!("http://127.0.0.1:{}", s.port()),
        ],
    );
}

#[test]
fn http_spoken_to_a_tls_port() {
    let d = tempfile::tempdir().unwrap();
    let (s, _) = signed_server(d.path(), &["127.0.0.1"], false);
    let o = register(d.path(), &format!("http://127.0.0.1:{}", s.port()), None);
    assert_says(
        &o,
        &["speaks TLS", &format!("https://127.0.0.1:{}", s.port())],
    );
}
