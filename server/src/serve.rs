//! `alma-ext-server serve`: listen on plain HTTP (behind a reverse proxy)
//! or HTTPS with rustls, until SIGTERM or SIGINT.
//!
//! No client can hold the server: headers must arrive within a timeout,
//! idle keep-alive connections are closed, and at the connection cap the
//! longest-idle connection makes room for a new one (docs/server.md).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

/// Why the TLS certificate and key could not be loaded (`serve`).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the TLS certificate {}: {source}", path.display())]
    ReadCert {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing the TLS certificate {}: {source}", path.display())]
    ParseCert {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no PEM certificate found", path.display())]
    NoCert { path: PathBuf },
    #[error("reading the TLS key {}: {source}", path.display())]
    ReadKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing the TLS key {}: {source}", path.display())]
    ParseKey {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no PEM private key found", path.display())]
    NoKey { path: PathBuf },
    #[error("TLS protocol versions: {0}")]
    Versions(rustls::Error),
    #[error("the TLS key {} does not match the certificate {}: {source}", key.display(), cert.display())]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

impl TlsError {
    /// The error in the reader's language, for the terminal.
    pub fn localized(&self) -> String {
        use crate::messages::io_reason;
        use alma_ext_i18n::t;
        match self {
            TlsError::ReadCert { path, source } => t!(
                "reading the TLS certificate {path}: {error}",
                path = path.display(),
                error = io_reason(source)
            ),
            TlsError::ParseCert { path, source } => t!(
                "parsing the TLS certificate {path}: {error}",
                path = path.display(),
                error = source
            ),
            TlsError::NoCert { path } => {
                t!("{path}: no PEM certificate found", path = path.display())
            }
            TlsError::ReadKey { path, source } => t!(
                "reading the TLS key {path}: {error}",
                path = path.display(),
                error = io_reason(source)
            ),
            TlsError::ParseKey { path, source } => t!(
                "parsing the TLS key {path}: {error}",
                path = path.display(),
                error = source
            ),
            TlsError::NoKey { path } => {
                t!("{path}: no PEM private key found", path = path.display())
            }
            TlsError::Versions(e) => t!("TLS protocol versions: {error}", error = e),
            TlsError::Mismatch { cert, key, source } => t!(
                "the TLS key {key} does not match the certificate {cert}: {error}",
                key = key.display(),
                cert = cert.display(),
                error = source
            ),
        }
    }
}

/// Load a certificate chain and private key (PEM) into a rustls config.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|source| TlsError::ReadCert {
        path: cert.to_owned(),
        source,
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::ParseCert {
            path: cert.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert {
            path: cert.to_owned(),
        });
    }
    let key_pem = std::fs::read(key).map_err(|source| TlsError::ReadKey {
        path: key.to_owned(),
        source,
    })?;
    let private_key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|source| TlsError::ParseKey {
            path: key.to_owned(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey {
            path: key.to_owned(),
        })?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsError::Versions)?
    .with_no_client_auth()
    .with_single_cert(certs, private_key)
    .map_err(|source| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// How long a client may take and how many may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Reading a request's headers (HTTP/1), from the first byte or from
    /// the end of the previous response.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// The TLS handshake.
    pub handshake_timeout: Duration,
    /// Connections open at once; beyond, the longest-idle one is closed
    /// for each new one (a new one is refused only when none is idle).
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
}

/// One open connection as the connection table sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnState {
    pub id: u64,
    /// Requests in flight.
    pub busy: usize,
    /// When it last became idle (or was accepted).
    pub idle_since: Instant,
}

/// What to do with a new connection when `conns` are open: the
/// connections to close (the longest idle first) and whether to admit
/// the new one. Pure.
pub fn admit(conns: &[ConnState], max: usize) -> (Vec<u64>, bool) {
    if conns.len() < max.max(1) {
        return (Vec::new(), true);
    }
    let excess = conns.len() + 1 - max.max(1);
    let mut idle: Vec<&ConnState> = conns.iter().filter(|c| c.busy == 0).collect();
    idle.sort_by_key(|c| (c.idle_since, c.id));
    let shed: Vec<u64> = idle.iter().take(excess).map(|c| c.id).collect();
    // Admit when at least one slot is being freed for it.
    let ok = !shed.is_empty();
    (shed, ok)
}

/// The connections idle for longer than `idle_timeout` at `now`. Pure.
pub fn expired(conns: &[ConnState], now: Instant, idle_timeout: Duration) -> Vec<u64> {
    conns
        .iter()
        .filter(|c| c.busy == 0 && now.saturating_duration_since(c.idle_since) >= idle_timeout)
        .map(|c| c.id)
        .collect()
}

struct Slot {
    state: ConnState,
    /// Told to close gracefully (after the request in flight, if any).
    close: Arc<Notify>,
}

/// The open connections.
#[derive(Default)]
struct ConnTable {
    next: u64,
    slots: HashMap<u64, Slot>,
}

#[derive(Default, Clone)]
struct Conns(Arc<Mutex<ConnTable>>);

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnTable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn states(t: &ConnTable) -> Vec<ConnState> {
        t.slots.values().map(|s| s.state).collect()
    }

    /// Register a new connection, closing the longest idle ones when at
    /// `max`. None: refused (every open connection is busy).
    fn add(&self, max: usize) -> Option<(u64, Arc<Notify>)> {
        let mut t = self.lock();
        let (shed, ok) = admit(&Self::states(&t), max);
        for id in shed {
            if let Some(s) = t.slots.remove(&id) {
                // Out of the table now: it no longer counts, and closes.
                s.close.notify_one();
            }
        }
        if !ok {
            return None;
        }
        t.next += 1;
        let id = t.next;
        let close = Arc::new(Notify::new());
        t.slots.insert(
            id,
            Slot {
                state: ConnState {
                    id,
                    busy: 0,
                    idle_since: Instant::now(),
                },
                close: close.clone(),
            },
        );
        Some((id, close))
    }

    fn remove(&self, id: u64) {
        self.lock().slots.remove(&id);
    }

    fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// A request started on `id`; the guard ends it.
    fn busy(&self, id: u64) -> BusyGuard {
        if let Some(s) = self.lock().slots.get_mut(&id) {
            s.state.busy += 1;
        }
        BusyGuard {
            conns: self.clone(),
            id,
        }
    }

    /// Close the connections idle for too long.
    fn reap(&self, idle_timeout: Duration) {
        let mut t = self.lock();
        for id in expired(&Self::states(&t), Instant::now(), idle_timeout) {
            if let Some(s) = t.slots.remove(&id) {
                s.close.notify_one();
            }
        }
    }

    /// Tell every connection to close after its request in flight.
    fn close_all(&self) {
        for s in self.lock().slots.values() {
            s.close.notify_one();
        }
    }
}

struct BusyGuard {
    conns: Conns,
    id: u64,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if let Some(s) = self.conns.lock().slots.get_mut(&self.id) {
            s.state.busy = s.state.busy.saturating_sub(1);
            s.state.idle_since = Instant::now();
        }
    }
}

/// Serve `app` on `listener` (HTTPS when `tls` is set) until a shutdown
/// signal, with the timeouts and the connection cap of `limits`.
pub async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<rustls::ServerConfig>,
    limits: ConnLimits,
) -> Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let acceptor = tls.map(|cfg| TlsAcceptor::from(Arc::new(cfg)));
    match acceptor {
        None => tracing::info!("listening on http://{addr}"),
        Some(_) => tracing::info!("listening on https://{addr}"),
    }
    let conns = Conns::default();
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let reaper = {
        let conns = conns.clone();
        let every =
            (limits.idle_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                conns.reap(limits.idle_timeout);
            }
        })
    };
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut refused_logged = false;
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (tcp, peer) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off, keep serving.
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some((id, close)) = conns.add(limits.max_connections) else {
                    if !refused_logged {
                        tracing::warn!(
                            "{} connections, all busy: refusing new ones until one ends",
                            limits.max_connections
                        );
                        refused_logged = true;
                    }
                    drop(tcp);
                    continue;
                };
                refused_logged = false;
                let _ = tcp.set_nodelay(true);
                let (app, conns, builder, acceptor) =
                    (app.clone(), conns.clone(), builder.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        None => serve_conn(&builder, tcp, app, &conns, id, close, Peer { addr: peer, tls: false }).await,
                        Some(acceptor) => {
                            let hs = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
                            let tls = tokio::select! {
                                r = hs => match r {
                                    Ok(Ok(s)) => Some(s),
                                    Ok(Err(e)) => {
                                        tracing::debug!("TLS handshake: {e}");
                                        None
                                    }
                                    Err(_) => {
                                        tracing::debug!("TLS handshake timed out");
                                        None
                                    }
                                },
                                _ = close.notified() => None,
                            };
                            if let Some(s) = tls {
                                serve_conn(&builder, s, app, &conns, id, close, Peer { addr: peer, tls: true }).await;
                            }
                        }
                    }
                    conns.remove(id);
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    reaper.abort();
    // Idle connections close now, busy ones after their request; wait (a
    // while) for them.
    conns.close_all();
    let deadline = Instant::now() + Duration::from_secs(10);
    while conns.len() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Who is on the other end of a connection: its address, and whether it
/// speaks TLS.
#[derive(Debug, Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    tls: bool,
}

/// Serve HTTP/1 or HTTP/2 on one connection until it ends or is told to
/// close.
async fn serve_conn<I>(
    builder: &hyper_util::server::conn::auto::Builder<TokioExecutor>,
    io: I,
    app: Router,
    conns: &Conns,
    id: u64,
    close: Arc<Notify>,
    peer: Peer,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let tracker = conns.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        // The console reads the peer (login rate limit) and TLS (Secure
        // cookies) from the request.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer.addr));
        if peer.tls {
            req.extensions_mut().insert(crate::console::ServedOverTls);
        }
        let guard = tracker.busy(id);
        let app = app.clone();
        async move {
            let r = tower::ServiceExt::oneshot(app, req).await;
            drop(guard);
            r
        }
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("connection: {e}");
            }
            return;
        }
        _ = close.notified() => conn.as_mut().graceful_shutdown(),
    }
    if let Err(e) = conn.await {
        tracing::debug!("connection: {e}");
    }
}

/// Raise the soft limit of open files to the hard limit: every connection
/// is a file descriptor, and the usual soft limit of 1,024 would cap the
/// clients at about that. Returns (soft before, soft now).
// rlim_t is u64 here, u32 on some 32-bit targets.
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur as u64;
    if lim.rlim_cur >= lim.rlim_max {
        return Ok((before, before));
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((before, lim.rlim_cur as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: u64, busy: usize, idle_secs_ago: u64, now: Instant) -> ConnState {
        ConnState {
            id,
            busy,
            idle_since: now - Duration::from_secs(idle_secs_ago),
        }
    }

    #[test]
    fn under_the_cap_admits_without_closing() {
        let now = Instant::now();
        assert_eq!(admit(&[c(1, 0, 5, now)], 2), (vec![], true));
    }

    #[test]
    fn at_the_cap_closes_the_longest_idle() {
        let now = Instant::now();
        let conns = [c(1, 1, 50, now), c(2, 0, 5, now), c(3, 0, 30, now)];
        assert_eq!(admit(&conns, 3), (vec![3], true));
        // Two over: the two longest idle.
        assert_eq!(admit(&conns, 2), (vec![3, 2], true));
    }

    #[test]
    fn all_busy_refuses() {
        let now = Instant::now();
        let conns = [c(1, 1, 50, now), c(2, 2, 5, now)];
        assert_eq!(admit(&conns, 2), (vec![], false));
    }

    #[test]
    fn idle_past_the_timeout_expires() {
        let now = Instant::now();
        let conns = [c(1, 0, 61, now), c(2, 1, 120, now), c(3, 0, 10, now)];
        assert_eq!(expired(&conns, now, Duration::from_secs(60)), vec![1]);
    }
}
