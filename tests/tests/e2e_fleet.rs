//! End to end on loopback: the real `alma-ext-server` and several
//! `alma-ext` agents, each with its own `--root`: a KVM host with guests,
//! its guests, a physical server and a clone; the server killed in the
//! middle of check-ins; the spool across an outage; registration over real
//! TLS with a test CA, and through an HTTPS proxy.

mod e2e_common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use e2e_common::*;

fn reg_json(root: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(root.join("var/lib/alma-ext/registration.json")).unwrap(),
    )
    .unwrap()
}

fn machine_of(root: &Path) -> String {
    reg_json(root)["machine"].as_str().unwrap().to_string()
}

fn register(server: &Server, root: &Path, key: &str, system: Option<&str>) {
    let r = root.to_str().unwrap();
    let url = server.url();
    let mut args = vec!["register", "--server", &url, "--key", key, "--root", r];
    if let Some(s) = system {
        args.extend(["--system", s]);
    }
    let o = alma_ext(&args, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

fn checkin(root: &Path) -> std::process::Output {
    alma_ext(&["checkin", "--root", root.to_str().unwrap()], &[])
}

#[test]
fn fleet_with_a_kvm_host_its_guests_a_physical_server_and_a_clone() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(&d.path().join("srv"), &["--rate-every", "0"]);
    let (_contract, key) = server.contract("virtual", 20);

    let kvm01 = d.path().join("kvm01");
    copy_tree(&kvm_host_fixture(), &kvm01);
    register(&server, &kvm01, &key, Some("kvm-cluster"));
    let web1 = d.path().join("web1");
    kvm_guest_root(
        &web1,
        "aaaa0000000000000000000000000001",
        "6a1b3c4d-0000-4000-8000-000000000001",
        "web1",
    );
    register(&server, &web1, &key, None);
    let scratch = d.path().join("scratch");
    kvm_guest_root(
        &scratch,
        "aaaa0000000000000000000000000003",
        "6a1b3c4d-0000-4000-8000-000000000003",
        "scratch",
    );
    register(&server, &scratch, &key, None);
    let p1 = d.path().join("p1");
    physical_root(
        &p1,
        "bbbb0000000000000000000000000001",
        "4c4c4544-0000-0000-0000-00000000aaaa",
        "p1",
    );
    register(&server, &p1, &key, None);

    // The credential file is 0600 and holds what the server issued; the
    // registration file is readable and holds no secret.
    use std::os::unix::fs::PermissionsExt;
    let cred = kvm01.join("var/lib/alma-ext/credential");
    assert_eq!(
        std::fs::metadata(&cred).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = std::fs::read_to_string(&cred).unwrap();
    let public = std::fs::read_to_string(kvm01.join("var/lib/alma-ext/registration.json")).unwrap();
    assert!(!public.contains(secret.trim()));

    for r in [&kvm01, &web1, &scratch, &p1] {
        let o = checkin(r);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        // No secret on the terminal either.
        assert!(!String::from_utf8_lossy(&o.stdout).contains(secret.trim()));
    }

    // A clone of web1: same credential, another machine-id.
    let clone = d.path().join("web1-clone");
    copy_tree(&web1, &clone);
    std::fs::write(
        clone.join("etc/machine-id"),
        "cccc0000000000000000000000000009\n",
    )
    .unwrap();
    let o = checkin(&clone);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_ne!(
        machine_of(&clone),
        machine_of(&web1),
        "the clone registered as itself"
    );
    assert_ne!(
        std::fs::read_to_string(clone.join("var/lib/alma-ext/credential")).unwrap(),
        std::fs::read_to_string(web1.join("var/lib/alma-ext/credential")).unwrap()
    );
    // The original keeps its identity.
    let o = checkin(&web1);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // The live inventory: the guests are mapped to the KVM host by DMI
    // UUID, and the clone counts as a machine of its own.
    let inv = server.inventory();
    let machines = inv["machines"].as_array().unwrap();
    let entry = |id: &str| {
        machines
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {inv}"))
    };
    assert_eq!(machines.len(), 5, "{inv}");
    // Inventory ids are host names (a duplicate name gets the machine id).
    assert_eq!(entry("kvm01")["type"], "physical");
    assert_eq!(entry("kvm01")["cluster"], "kvm-cluster");
    assert_eq!(entry("scratch")["type"], "virtual");
    assert_eq!(entry("scratch")["host"], "kvm01", "{inv}");
    let web1s: Vec<_> = machines
        .iter()
        .filter(|m| m["id"].as_str().unwrap().starts_with("web1"))
        .collect();
    assert_eq!(web1s.len(), 2, "web1 and its clone: {inv}");
    for (m, root) in web1s.iter().zip([&web1, &clone]) {
        assert_eq!(m["type"], "virtual");
        assert_eq!(m["host"], "kvm01", "{inv}");
        let _ = root;
    }
    let ids: Vec<&str> = web1s.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert!(
        ids.iter().any(|i| i.ends_with(&machine_of(&web1))),
        "{ids:?}"
    );
    assert!(
        ids.iter().any(|i| i.ends_with(&machine_of(&clone))),
        "{ids:?}"
    );
    assert_eq!(entry("p1")["type"], "physical");

    // Unregister: gone here and on the server.
    let o = alma_ext(&["unregister", "--root", p1.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(checkin(&p1).status.code(), Some(10));
    // A wrong key is refused (7); so is http:// to a non-loopback address (2).
    let other = d.path().join("other");
    physical_root(
        &other,
        "dddd0000000000000000000000000001",
        "4c4c4544-0000-0000-0000-00000000dddd",
        "other",
    );
    let url = server.url();
    let o = alma_ext(
        &[
            "register",
            "--server",
            &url,
            "--key",
            "aek_wrong",
            "--root",
            other.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    let o = alma_ext(
        &[
            "register",
            "--server",
            "http://192.0.2.10",
            "--key",
            &key,
            "--root",
            other.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!other.join("var/lib/alma-ext/registration.json").exists());
}

#[test]
fn server_killed_in_the_middle_of_check_ins_loses_nothing() {
    let d = tempfile::tempdir().unwrap();
    let mut server = Server::start(&d.path().join("srv"), &["--rate-every", "0"]);
    let (_c, key) = server.contract("physical", 20);
    let roots: Vec<PathBuf> = (0..4)
        .map(|i| {
            let r = d.path().join(format!("m{i}"));
            physical_root(
                &r,
                &format!("eeee000000000000000000000000000{i}"),
                &format!("4c4c4544-0000-0000-0000-00000000000{i}"),
                &format!("m{i}"),
            );
            register(&server, &r, &key, None);
            r
        })
        .collect();
    // Check-ins answered (exit 0) and spooled because the server was
    // unreachable (exit 6), counted as they happen.
    let sent = Arc::new(AtomicUsize::new(0));
    let spooled = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = roots
        .iter()
        .cloned()
        .map(|r| {
            let (sent, spooled) = (sent.clone(), spooled.clone());
            std::thread::spawn(move || {
                (0..8)
                    .map(|_| {
                        let code = checkin(&r).status.code();
                        match code {
                            Some(0) => sent.fetch_add(1, Ordering::SeqCst),
                            Some(6) => spooled.fetch_add(1, Ordering::SeqCst),
                            _ => 0,
                        };
                        code
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let running =
        |w: &[std::thread::JoinHandle<Vec<Option<i32>>>]| w.iter().any(|t| !t.is_finished());
    // Kill -9 once check-ins are being answered, while the agents go on.
    while sent.load(Ordering::SeqCst) < 4 && running(&workers) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let sent_before_kill = sent.load(Ordering::SeqCst);
    server.kill();
    // Down until an agent has found it down, then start it again.
    while spooled.load(Ordering::SeqCst) == 0 && running(&workers) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.restart();
    for w in workers {
        for code in w.join().unwrap() {
            // Sent (0) or spooled because unreachable (6): nothing else.
            assert!(code == Some(0) || code == Some(6), "{code:?}");
        }
    }
    // The kill landed while the agents were checking in: some check-ins
    // were answered before it, some found the server gone.
    assert!(
        sent_before_kill >= 4,
        "{sent_before_kill} check-ins answered before the kill"
    );
    assert!(
        spooled.load(Ordering::SeqCst) >= 1,
        "no check-in found the server down: the kill came after the agents were done"
    );
    for r in &roots {
        let o = checkin(r);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let spool = r.join("var/lib/alma-ext/spool");
        let left = std::fs::read_dir(&spool)
            .map(|d| d.filter(|e| e.as_ref().unwrap().path().is_file()).count())
            .unwrap_or(0);
        assert_eq!(left, 0, "spool of {} drained", r.display());
    }
    let inv = server.inventory();
    assert_eq!(inv["machines"].as_array().unwrap().len(), 4, "{inv}");
}

#[test]
fn spool_across_an_outage_with_separate_processes() {
    let d = tempfile::tempdir().unwrap();
    let mut server = Server::start(&d.path().join("srv"), &["--rate-every", "0"]);
    let (_c, key) = server.contract("physical", 5);
    let r = d.path().join("m");
    physical_root(
        &r,
        "ffff0000000000000000000000000001",
        "4c4c4544-0000-0000-0000-0000000000ff",
        "m",
    );
    register(&server, &r, &key, None);
    server.kill();
    for _ in 0..3 {
        let o = checkin(&r);
        assert_eq!(o.status.code(), Some(6), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("spooled"),
            "{}",
            text(&o)
        );
    }
    server.restart();
    let o = alma_ext(
        &["checkin", "--root", r.to_str().unwrap(), "--format", "json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["spooled_sent"], 3, "{v}");
}

#[test]
fn register_over_tls_with_a_test_ca_and_through_an_https_proxy() {
    let d = tempfile::tempdir().unwrap();
    let (ca, cert, key_file) = test_ca(&d.path().join("pki"));
    let server = Server::start(
        &d.path().join("srv"),
        &[
            "--rate-every",
            "0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(server.url().starts_with("https://"));
    let (_c, key) = server.contract("physical", 5);
    let r = d.path().join("m");
    physical_root(
        &r,
        "abab0000000000000000000000000001",
        "4c4c4544-0000-0000-0000-0000000000ab",
        "m",
    );
    let rs = r.to_str().unwrap();
    let url = server.url();

    // Without the CA: the certificate is not trusted, unreachable (6).
    let o = alma_ext(
        &["register", "--server", &url, "--key", &key, "--root", rs],
        &[],
    );
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .to_lowercase()
            .contains("certificate"),
        "{}",
        text(&o)
    );
    assert!(!r.join("var/lib/alma-ext/registration.json").exists());

    // With --ca-file: registered, and later check-ins keep trusting it.
    let o = alma_ext(
        &[
            "register",
            "--server",
            &url,
            "--key",
            &key,
            "--ca-file",
            ca.to_str().unwrap(),
            "--root",
            rs,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = checkin(&r);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Through an HTTPS proxy from the environment.
    let proxy = Proxy::start();
    let p = format!("http://127.0.0.1:{}", proxy.port);
    let o = alma_ext(&["checkin", "--root", rs], &[("https_proxy", &p)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = proxy.connects.lock().unwrap().clone();
    assert!(
        seen.contains(&format!("127.0.0.1:{}", server.port)),
        "{seen:?}"
    );

    // A proxy that is down: unreachable (6), and the check-in is spooled.
    let dead = alma_ext_test_support::ClosedPort::new();
    let o = alma_ext(
        &["checkin", "--root", rs],
        &[("https_proxy", &dead.url("http"))],
    );
    assert_eq!(o.status.code(), Some(6), "{}", text(&o));
}
