//! HTTPS with rustls from certificate and key files (test certificates
//! made with rcgen), and the TLS flags' error paths.

#[path = "api_helpers.rs"]
mod helpers;

use alma_ext_proto::facts::MachineType;
use helpers::*;

fn test_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let pem = ck.cert.pem();
    let cert = write_file(dir, "server.crt", &pem);
    let key = write_file(dir, "server.key", &ck.key_pair.serialize_pem());
    (cert, key, pem)
}

#[tokio::test]
async fn https_with_test_certificate() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, pem) = test_cert(dir.path());
    let (_c, activation) = create_contract(&db.url, "physical", 1);
    let s = Server::start(
        &db.url,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.base().starts_with("https://"), "{}", s.base());
    let c = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let f = facts(MachineType::Physical, &hex_id(1), &uuid(1), "tls1");
    let (_m, cred) = register(&c, &s, &activation, None, &f).await;
    assert_eq!(checkin(&c, &s, &cred, &f).await.0, 200);

    // A client that does not trust the certificate is refused.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting.get(s.url("/healthz")).send().await.is_err());
    // Plain HTTP to the TLS port gets no API answer.
    let plain = s.url("/healthz").replace("https://", "http://");
    let r = client().get(plain).send().await;
    assert!(r.map(|r| r.status() != 200).unwrap_or(true));
    // Still serving after the bad handshakes.
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200);
}

#[test]
fn tls_flag_errors() {
    let db = sqlite_db();
    let dir = tempfile::tempdir().unwrap();
    let (cert, _key, _) = test_cert(dir.path());
    let (_, other_key, _) = test_cert(&dir.path().join("..").join(dir.path().file_name().unwrap()));
    // Only one of the two flags: a usage error.
    let (code, _, err) = cli(&[
        "serve",
        "--database",
        &db.url,
        "--tls-cert",
        cert.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    // A missing file: named, exit 3.
    let (code, _, err) = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db.url,
        "--tls-cert",
        "/nonexistent/c.pem",
        "--tls-key",
        other_key.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("/nonexistent/c.pem"), "{err}");
    // A key that is not PEM.
    let junk = write_file(dir.path(), "junk.key", "not a key\n");
    let (code, _, err) = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db.url,
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("junk.key"), "{err}");
}
