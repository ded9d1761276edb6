//! The `alma-ext agent` process: config errors, systemd notifications and
//! the watchdog, SIGHUP with a bad and a good config, SIGTERM.

mod agent_common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use agent_common::{agent_bin, alma_root};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[test]
fn invalid_config_exits_3_naming_file_line_key() {
    let d = tempfile::tempdir().unwrap();
    alma_root(d.path(), "0123456789abcdef0123456789abcdef", "u-1");
    let conf = d.path().join("etc/alma-ext/agent.toml");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, "# test\n[checkin]\ninterval = \"4x\"\n").unwrap();
    let out = Command::new(agent_bin())
        .arg("agent")
        .arg("--root")
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/etc/alma-ext/agent.toml line 3: checkin.interval:"),
        "{err}"
    );
    // A drop-in with an unknown key is named too.
    std::fs::write(&conf, "").unwrap();
    let dropin = d.path().join("etc/alma-ext/agent.d/20-site.toml");
    std::fs::create_dir_all(dropin.parent().unwrap()).unwrap();
    std::fs::write(
        &dropin,
        "[server]\nurl = \"https://ext.example.jp\"\nprxy = \"http://p:3128\"\n",
    )
    .unwrap();
    let out = Command::new(agent_bin())
        .arg("checkin")
        .arg("--root")
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/etc/alma-ext/agent.d/20-site.toml line 3, column 1: server.prxy:"),
        "{err}"
    );
}

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    // A hang guard, not a timing assertion.
    let n = sock.recv(&mut buf).expect("a notification within 60 s");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn recv_until(sock: &UnixDatagram, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let m = recv(sock);
        let done = m.lines().any(|l| l == want);
        seen.push(m);
        if done {
            return seen;
        }
        assert!(seen.len() < 1000, "no {want} in {seen:?}");
    }
}

#[test]
fn notify_watchdog_sighup_sigterm() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    alma_root(&root, "0123456789abcdef0123456789abcdef", "u-1");
    let conf = root.join("etc/alma-ext/agent.toml");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, "[log]\nlevel = \"info\"\n").unwrap();
    let sock_path = d.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let stderr = std::fs::File::create(d.path().join("stderr")).unwrap();
    let mut child = Command::new(agent_bin())
        .arg("agent")
        .arg("--root")
        .arg(&root)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "200000")
        .env_remove("WATCHDOG_PID")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32);

    let first = recv(&sock);
    assert!(first.starts_with("READY=1\nSTATUS="), "{first}");
    assert!(first.contains("not registered"), "{first}");
    // The watchdog keeps being fed.
    let mut pings = 0;
    while pings < 3 {
        if recv(&sock) == "WATCHDOG=1" {
            pings += 1;
        }
    }

    // A broken drop-in, then SIGHUP: the old config stays, the agent lives.
    let dropin = root.join("etc/alma-ext/agent.d/50-bad.toml");
    std::fs::create_dir_all(dropin.parent().unwrap()).unwrap();
    std::fs::write(&dropin, "[switch]\nauto = \"yes\"\n").unwrap();
    kill(pid, Signal::SIGHUP).unwrap();
    recv_until(&sock, "RELOADING=1");
    recv_until(&sock, "READY=1");
    assert!(child.try_wait().unwrap().is_none(), "still running");
    // Still fed after the reload.
    recv_until(&sock, "WATCHDOG=1");

    // Fixed, then SIGHUP again.
    std::fs::write(&dropin, "[switch]\nauto = true\n").unwrap();
    kill(pid, Signal::SIGHUP).unwrap();
    recv_until(&sock, "RELOADING=1");
    recv_until(&sock, "READY=1");

    kill(pid, Signal::SIGTERM).unwrap();
    recv_until(&sock, "STOPPING=1");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(0));
    let log = std::fs::read_to_string(d.path().join("stderr")).unwrap();
    assert!(
        log.contains("invalid configuration, keeping the old one: /etc/alma-ext/agent.d/50-bad.toml line 2, column 8: switch.auto:"),
        "{log}"
    );
    assert!(log.contains("configuration reloaded"), "{log}");
    // journald adds the time: no timestamps of our own.
    for line in log.lines() {
        assert!(!line.starts_with("20"), "timestamp in {line}");
    }
}
