//! systemd notifications (`sd_notify`): READY=1, WATCHDOG=1, STATUS=,
//! STOPPING=1, RELOADING=1, over the datagram socket in `$NOTIFY_SOCKET`.
//! No libsystemd: the protocol is one datagram.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

/// Where to send notifications; a no-op without `$NOTIFY_SOCKET`.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    socket: Option<PathBuf>,
    /// Half of `$WATCHDOG_USEC`: how often to ping.
    pub watchdog_every: Option<Duration>,
}

impl Notifier {
    /// From the environment systemd gives a `Type=notify` service.
    pub fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET").map(PathBuf::from);
        let watchdog_pid_ok = match std::env::var("WATCHDOG_PID") {
            Ok(p) => p.trim() == std::process::id().to_string(),
            Err(_) => true,
        };
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.trim().parse::<u64>().ok())
            .filter(|u| *u > 0 && watchdog_pid_ok)
            .map(|u| Duration::from_micros(u / 2));
        Notifier {
            socket,
            watchdog_every,
        }
    }

    /// A notifier to an explicit socket (tests).
    pub fn to_socket(socket: PathBuf, watchdog_every: Option<Duration>) -> Self {
        Notifier {
            socket: Some(socket),
            watchdog_every,
        }
    }

    /// Send one message; failures are logged at debug only: systemd being
    /// gone must never stop the agent.
    pub fn send(&self, msg: &str) {
        let Some(path) = &self.socket else { return };
        let sock = match UnixDatagram::unbound() {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!("sd_notify: {e}");
                return;
            }
        };
        let r = if let Some(abs) = path.to_str().and_then(|p| p.strip_prefix('@')) {
            // Abstract namespace socket.
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(abs.as_bytes())
                .and_then(|a| sock.send_to_addr(msg.as_bytes(), &a))
        } else {
            sock.send_to(msg.as_bytes(), path)
        };
        if let Err(e) = r {
            tracing::debug!("sd_notify to {}: {e}", path.display());
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}
