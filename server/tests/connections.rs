//! No client can take the server offline: idle connections by the
//! thousand, a connection cap, clients that never finish their headers.

#[path = "api_helpers.rs"]
mod helpers;

use std::time::{Duration, Instant};

use helpers::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `n` connections that never send a byte.
async fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(TcpStream::connect(addr).await.unwrap());
    }
    v
}

/// GET /healthz on a new connection; the status line.
async fn healthz(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// True when the peer closed `s` (EOF or reset) within `wait`.
async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut b = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// Start the server with systemd's default soft limit of 1,024 open
/// files (the hard limit stays): the server must raise it itself.
fn start_with_soft_nofile_1024(db: &str) -> Server {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain calls on a struct we own.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    let before = lim.rlim_cur;
    assert!(
        lim.rlim_max > 2048,
        "the hard open-files limit is too low for this test"
    );
    lim.rlim_cur = 1024;
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let s = Server::start(db, &[]);
    lim.rlim_cur = before;
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    s
}

#[tokio::test]
async fn eleven_hundred_idle_connections_do_not_lock_out_a_new_client() {
    let db = sqlite_db();
    let s = start_with_soft_nofile_1024(&db.url);
    assert!(
        s.log().contains("open files limit raised from 1024"),
        "{}",
        s.log()
    );
    let idle = idle_connections(&s.addr().to_string(), 1100).await;
    let t = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(2), healthz(&s.addr().to_string()))
        .await
        .expect("a new client was not answered within 2 s");
    assert!(status.contains(" 200 "), "{status}");
    assert!(t.elapsed() < Duration::from_secs(2));
    drop(idle);
}

#[tokio::test]
async fn at_the_cap_the_longest_idle_connection_makes_room() {
    let db = sqlite_db();
    let s = Server::start(&db.url, &["--max-connections", "50"]);
    let mut idle = idle_connections(&s.addr().to_string(), 50).await;
    // Let the server register them all, in order.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = tokio::time::timeout(Duration::from_secs(2), healthz(&s.addr().to_string()))
        .await
        .expect("a new client at the cap was not answered within 2 s");
    assert!(status.contains(" 200 "), "{status}");
    // The first (longest idle) connection was closed for it.
    assert!(
        closed_within(&mut idle[0], Duration::from_secs(5)).await,
        "the longest-idle connection is still open"
    );
}

#[tokio::test]
async fn headers_that_never_end_and_idle_keep_alive_are_cut() {
    let db = sqlite_db();
    let s = Server::start(&db.url, &["--header-timeout", "1", "--idle-timeout", "2"]);
    // Half a request, never finished.
    let mut slow = TcpStream::connect(&s.addr().to_string()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(15)).await,
        "a client that never finishes its headers keeps its connection"
    );
    // A kept-alive connection after its request.
    let mut ka = TcpStream::connect(&s.addr().to_string()).await.unwrap();
    ka.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut b = vec![0u8; 4096];
    let n = ka.read(&mut b).await.unwrap();
    assert!(String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed_within(&mut ka, Duration::from_secs(15)).await,
        "an idle keep-alive connection stays open"
    );
    // The server still answers.
    assert!(healthz(&s.addr().to_string()).await.contains(" 200 "));
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let db = sqlite_db();
    let s = Server::start(&db.url, &["--body-timeout", "1"]);
    let mut c = TcpStream::connect(&s.addr().to_string()).await.unwrap();
    c.write_all(
        b"POST /v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"activation",
    )
    .await
    .unwrap();
    let mut out = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(15), c.read(&mut out))
        .await
        .expect("no answer to a stalled body")
        .unwrap();
    let text = String::from_utf8_lossy(&out[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}
