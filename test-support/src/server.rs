use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// A running `alma-ext-server serve`, killed on drop.
///
/// It listens on a port it chose itself (`--listen 127.0.0.1:0`) and
/// reports it in its `listening on <url>` log line, which is read back
/// here; a restart listens again on that same address. Its log (stdout and
/// stderr) is kept in memory for failure messages.
pub struct Server {
    bin: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    base: String,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// `BIN serve --listen 127.0.0.1:0 --database DB EXTRA...`
    pub fn start(bin: &Path, db: &str, extra: &[&str]) -> Server {
        Server::start_on(bin, "127.0.0.1:0", db, extra)
    }

    /// `BIN serve --listen LISTEN --database DB EXTRA...`
    pub fn start_on(bin: &Path, listen: &str, db: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--database".to_string(), db.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = Arc::new(Mutex::new(String::new()));
        let (child, base) = spawn(bin, listen, &args, &log);
        let addr = addr_of(&base);
        Server {
            bin: bin.to_path_buf(),
            args,
            child: Some(child),
            base,
            addr,
            log,
        }
    }

    /// Kill the server if it runs and start it again on the same address
    /// with the same arguments.
    pub fn restart(&mut self) {
        self.kill();
        let (child, base) = spawn(&self.bin, &self.addr.to_string(), &self.args, &self.log);
        assert_eq!(
            base,
            self.base,
            "the restarted server listens elsewhere; log:\n{}",
            self.log()
        );
        self.child = Some(child);
    }

    /// SIGKILL and wait: no graceful shutdown, whatever was in flight.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: a graceful stop; the exit code (-1: a signal).
    pub fn stop(&mut self) -> i32 {
        let Some(mut c) = self.child.take() else {
            return -1;
        };
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        c.wait().unwrap().code().unwrap_or(-1)
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `http://127.0.0.1:PORT` or `https://...`, as the server logged it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The base URL followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Everything the server logged so far, over all its runs.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn addr_of(base: &str) -> SocketAddr {
    let hostport = base.split_once("://").map_or(base, |(_, h)| h);
    hostport.parse().unwrap_or_else(|e| {
        panic!("the server logged an address {base:?} that does not parse: {e}")
    })
}

/// Start the server and wait for its `listening on <url>` line.
fn spawn(bin: &Path, listen: &str, args: &[String], log: &Arc<Mutex<String>>) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", listen])
        .args(args)
        .env("ALMA_EXT_SERVER_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let (tx, rx) = mpsc::channel();
    for out in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (tx, log) = (tx.clone(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.find("listening on ") {
                    let _ = tx.send(line[i + "listening on ".len()..].trim().to_string());
                }
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    drop(tx);
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(base) => (child, base),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            // Let the readers take the last lines.
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "{} serve --listen {listen} did not report listening; log:\n{}",
                bin.display(),
                log.lock().unwrap()
            );
        }
    }
}
