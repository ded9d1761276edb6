//! `alma-ext-server serve`: listen on plain HTTP (behind a reverse proxy)
//! or HTTPS with rustls, until SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Load a certificate chain and private key (PEM) into a rustls config.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig> {
    let cert_pem = std::fs::read(cert)
        .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing the TLS certificate {}", cert.display()))?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate found", cert.display());
    }
    let key_pem =
        std::fs::read(key).with_context(|| format!("reading the TLS key {}", key.display()))?;
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .with_context(|| format!("parsing the TLS key {}", key.display()))?
        .with_context(|| format!("{}: no PEM private key found", key.display()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the TLS key does not match the certificate")?;
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

/// Serve `app` on `listener` until a shutdown signal.
pub async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<rustls::ServerConfig>,
) -> Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    match tls {
        None => {
            tracing::info!("listening on http://{addr}");
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving HTTP")
        }
        Some(cfg) => {
            tracing::info!("listening on https://{addr}");
            let acceptor = TlsAcceptor::from(Arc::new(cfg));
            let shutdown = shutdown_signal();
            tokio::pin!(shutdown);
            let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
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
                        let _ = tcp.set_nodelay(true);
                        let acceptor = acceptor.clone();
                        let app = app.clone();
                        let done = done_tx.clone();
                        tokio::spawn(async move {
                            let _done = done;
                            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!("TLS handshake: {e}");
                                    return;
                                }
                                Err(_) => return,
                            };
                            // The console reads the peer (login rate limit)
                            // and TLS (Secure cookies) from the request.
                            let app = tower::ServiceExt::map_request(
                                app,
                                move |mut r: axum::http::Request<hyper::body::Incoming>| {
                                    r.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                                    r.extensions_mut().insert(crate::console::ServedOverTls);
                                    r
                                },
                            );
                            let svc = hyper_util::service::TowerToHyperService::new(app);
                            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc).await {
                                tracing::debug!("connection: {e}");
                            }
                        });
                    }
                    _ = &mut shutdown => break,
                }
            }
            drop(listener);
            drop(done_tx);
            // Connections in flight hold a sender; wait (a while) until
            // they are gone. Idle keep-alive connections are cut after.
            let _ = tokio::time::timeout(Duration::from_secs(5), done_rx.recv()).await;
            Ok(())
        }
    }
}
