//! Only the API's own refusals refuse: a redirect or a proxy asking for
//! authentication keeps every check-in in the spool, and the next good
//! answer sends them all. A registration whose credential cannot be
//! stored is withdrawn on the server. State directories get their modes
//! whatever the umask.

mod agent_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;

use agent_common::*;

/// Answer every request on `listener` with `response`, until `n` were
/// answered.
fn respond(listener: TcpListener, response: &'static str, n: usize) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming().take(n) {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 8192];
            // Headers, then the body by Content-Length.
            while let Ok(k @ 1..) = s.read(&mut buf) {
                req.extend_from_slice(&buf[..k]);
                let text = String::from_utf8_lossy(&req).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let head = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            seen.push(head);
            let _ = s.write_all(response.as_bytes());
        }
        seen
    })
}

fn agent(args: &[&str], root: &Path) -> Output {
    Command::new(agent_bin())
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn spooled(root: &Path) -> usize {
    std::fs::read_dir(root.join("var/lib/alma-ext/spool"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

fn moved_aside(root: &Path) -> usize {
    ["rejected", "corrupt"]
        .iter()
        .map(|d| {
            std::fs::read_dir(root.join("var/lib/alma-ext/spool").join(d))
                .map(|rd| rd.count())
                .unwrap_or(0)
        })
        .sum()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn redirects_and_proxy_407_keep_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_root(
        &root,
        &"ab".repeat(16),
        "4c4c4544-0042-3510-8051-b4c04f4e3232",
    );
    let mut server = Server::start(dir.path(), &["--rate-every", "0"]);
    let key = server.contract("physical", 5);
    let out = register(&server, &root, &key, None);
    assert!(out.status.success(), "{}", text(&out));

    // The server's address now answers with a redirect.
    server.stop();
    let listener = TcpListener::bind(server.addr()).unwrap();
    let redirect = respond(
        listener,
        "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/v1/checkin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        2,
    );
    for n in 1..=2 {
        let out = agent(&["checkin"], &root);
        assert_eq!(out.status.code(), Some(6), "{}", text(&out));
        let t = text(&out);
        assert!(t.contains("302"), "{t}");
        assert!(t.contains("https://elsewhere.example/v1/checkin"), "{t}");
        assert_eq!(spooled(&root), n, "{t}");
        assert_eq!(moved_aside(&root), 0, "{t}");
    }
    let seen = redirect.join().unwrap();
    assert!(
        seen.iter().all(|l| l.starts_with("POST /v1/checkin")),
        "{seen:?}"
    );

    // A proxy that wants credentials.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.local_addr().unwrap().port());
    let answered = respond(
        proxy,
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        1,
    );
    let conf = root.join("etc/alma-ext/agent.toml");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, format!("[server]\nproxy = \"{proxy_url}\"\n")).unwrap();
    let out = agent(&["checkin"], &root);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("407"), "{t}");
    assert!(t.contains(&proxy_url), "the message names the proxy: {t}");
    assert_eq!(spooled(&root), 3);
    assert_eq!(moved_aside(&root), 0);
    answered.join().unwrap();

    // The real server again, no proxy: everything goes out, in order.
    std::fs::remove_file(&conf).unwrap();
    server.restart();
    let out = agent(&["checkin", "--format", "json"], &root);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["spooled_sent"], 3, "{v}");
    assert_eq!(v["spooled_rejected"], 0, "{v}");
    assert_eq!(spooled(&root), 0);
}

#[test]
fn a_credential_that_cannot_be_stored_leaves_no_machine() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_root(
        &root,
        &"cd".repeat(16),
        "4c4c4544-0042-3510-8051-b4c04f4e3233",
    );
    // The agent's own disk is full: a small tmpfs, filled.
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let state = root.join("var/lib/alma-ext");
    std::fs::create_dir_all(&state).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&state)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: cannot mount a tmpfs on {}", state.display());
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(state.clone());
    {
        let mut f = std::fs::File::create(state.join("filler")).unwrap();
        while f.write_all(&[0u8; 4096]).is_ok() {}
    }
    let server = Server::start(dir.path(), &["--rate-every", "0"]);
    let key = server.contract("physical", 5);
    let out = register(&server, &root, &key, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("could not be stored"), "{t}");
    assert!(t.contains("withdrawn"), "{t}");
    assert!(!t.contains("Registered with"), "{t}");
    // The server counts no machine for it.
    let out = Command::new(server_bin())
        .args([
            "contract",
            "list",
            "--format",
            "json",
            "--database",
            &server.db,
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["machines"], 0, "{v}");
}

#[test]
fn state_directories_are_not_world_writable_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_root(
        &root,
        &"ef".repeat(16),
        "4c4c4544-0042-3510-8051-b4c04f4e3234",
    );
    let server = Server::start(dir.path(), &["--rate-every", "0"]);
    let key = server.contract("physical", 5);
    let run = |args: &[&str]| {
        let mut c = Command::new(agent_bin());
        c.args(args).arg("--root").arg(&root);
        // SAFETY: umask is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                nix::sys::stat::umask(nix::sys::stat::Mode::empty());
                Ok(())
            });
        }
        c.env_remove("https_proxy")
            .env_remove("http_proxy")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let url = server.url();
    let out = run(&["register", "--server", &url, "--key", &key]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&["checkin"]);
    assert!(out.status.success(), "{}", text(&out));
    let mode = |p: &str| {
        std::fs::metadata(root.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("var/lib/alma-ext"), 0o700);
    assert_eq!(mode("var/lib/alma-ext/spool"), 0o700);
    assert_eq!(mode("var/lib/alma-ext/credential"), 0o600);
    for d in ["var", "var/lib"] {
        assert_eq!(mode(d), 0o755, "{d}");
    }
}
