use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// A loopback port that nothing listens on, reserved for as long as the
/// value lives: a socket bound to it that never listens, so a connection
/// is refused and no other test can take the port meanwhile.
pub struct ClosedPort {
    _socket: Socket,
    addr: SocketAddr,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        s.bind(&any.into()).expect("binding 127.0.0.1:0");
        let addr = s
            .local_addr()
            .expect("the bound address")
            .as_socket()
            .expect("an IP address");
        ClosedPort { _socket: s, addr }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` (or another scheme).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        ClosedPort::new()
    }
}

/// `python3 -m http.server` serving a directory on 127.0.0.1, on the port
/// it chose itself (port 0, read back from its "Serving HTTP on" line).
/// Killed on drop.
pub struct StaticHttp {
    child: Child,
    port: u16,
}

impl StaticHttp {
    pub fn serve(dir: &Path) -> StaticHttp {
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                "0",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 (tests/run-all installs it)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let port = line
                    .split_once(" port ")
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .and_then(|p| p.parse::<u16>().ok());
                if let Some(p) = port {
                    let _ = tx.send(p);
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => StaticHttp { child, port },
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("python3 -m http.server did not report its port");
            }
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
