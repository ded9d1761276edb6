//! Damaged SQLite databases are noticed: `serve` refuses them at start
//! (exit 5, each problem named) unless `--start-anyway`, and
//! `store check` runs the full check.

#[path = "api_helpers.rs"]
mod helpers;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use alma_ext_server::store::Store;
use helpers::*;

/// A stopped, checkpointed SQLite fleet of `n` machines; (dir, file, URL).
async fn fleet(n: usize) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::open(&url).await.unwrap();
    store
        .insert_contract(
            "ct-1",
            "ACME",
            "virtual",
            1000,
            "2026-01-01",
            "2026-12-31",
            false,
            "h",
            0,
        )
        .await
        .unwrap();
    store.seed_bench("ct-1", n, 0, 20000).await.unwrap();
    if let Store::Sqlite(p) = &store {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(p)
            .await
            .unwrap();
    }
    store.close().await;
    (dir, path, url)
}

/// `alma-ext-server serve` on the database: Ok(log) when it came up
/// (then stopped), Err((exit code, stderr)) when it refused.
fn serve(url: &str, extra: &[&str]) -> Result<String, (i32, String)> {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", url])
        .args(extra)
        .env("ALMA_EXT_SERVER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut log = String::new();
        loop {
            match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    log.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if log.contains("listening on ") {
                        let _ = tx.send(log.clone());
                    }
                }
            }
        }
        let _ = tx.send(log);
    });
    let log = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    if log.contains("listening on ") {
        let _ = child.kill();
        let _ = child.wait();
        return Ok(log);
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    Err((code, log))
}

fn page_size(path: &Path) -> u64 {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = [0u8; 18];
    f.read_exact(&mut h).unwrap();
    match u16::from_be_bytes([h[16], h[17]]) {
        1 => 65536,
        n => n as u64,
    }
}

/// Root page number of the b-tree `name` (table or index).
async fn root_page(url: &str, name: &str) -> u64 {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
    let (p,): (i64,) = sqlx::query_as("SELECT rootpage FROM sqlite_master WHERE name = $1")
        .bind(name)
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    p as u64
}

fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

fn store_check(url: &str) -> (i32, String, String) {
    cli(&["store", "check", "--database", url])
}

#[tokio::test]
async fn a_healthy_database_passes_both_checks() {
    let (_d, _path, url) = fleet(50).await;
    let (code, out, err) = store_check(&url);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": ok"), "{out}");
    assert!(out.contains("schema version"), "{out}");
    serve(&url, &[]).expect("a healthy database serves");
}

#[tokio::test]
async fn an_empty_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    std::fs::write(&path, b"").unwrap();
    let url = format!("sqlite://{}", path.display());
    let (code, log) = serve(&url, &[]).expect_err("an empty file must not serve");
    assert_eq!(code, 5, "{log}");
    assert!(
        log.contains("empty file") && log.contains(&path.display().to_string()),
        "{log}"
    );
    // Nothing was written into it.
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    let (code, _, err) = store_check(&url);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("empty file"), "{err}");
    // Told to, it starts (an empty fleet).
    let log = serve(&url, &["--start-anyway"]).expect("--start-anyway serves");
    assert!(log.contains("starting anyway"), "{log}");
}

#[tokio::test]
async fn a_zeroed_index_page_is_refused() {
    let (_d, path, url) = fleet(3000).await;
    // The index on the credential hashes: every check-in looks it up.
    let page = root_page(&url, "sqlite_autoindex_machines_2").await;
    let size = page_size(&path);
    overwrite(&path, (page - 1) * size, &vec![0u8; size as usize]);
    let (code, log) = serve(&url, &[]).expect_err("a zeroed index page must not serve");
    assert_eq!(code, 5, "{log}");
    assert!(log.contains("damaged"), "{log}");
    assert!(log.contains("store check"), "{log}");
    let (code, _, err) = store_check(&url);
    assert_eq!(code, 5, "{err}");
    serve(&url, &["--start-anyway"]).expect("--start-anyway serves");
}

#[tokio::test]
async fn flipped_bytes_in_a_page_header_are_refused() {
    let (_d, path, url) = fleet(3000).await;
    let page = root_page(&url, "machines").await;
    let size = page_size(&path);
    // The b-tree page header and cell pointers of the table's root page.
    let at = (page - 1) * size + if page == 1 { 100 } else { 0 };
    let mut f = std::fs::File::open(&path).unwrap();
    f.seek(SeekFrom::Start(at + 3)).unwrap();
    let mut b = [0u8; 16];
    f.read_exact(&mut b).unwrap();
    for x in &mut b {
        *x ^= 0x5a;
    }
    overwrite(&path, at + 3, &b);
    let (code, log) = serve(&url, &[]).expect_err("flipped bytes must not serve");
    assert_eq!(code, 5, "{log}");
    let (code, _, err) = store_check(&url);
    assert_eq!(code, 5, "{err}");
}

#[tokio::test]
async fn flipped_bytes_in_a_credential_hash_are_refused() {
    let (_d, path, url) = fleet(3000).await;
    // One copy of machine 1234's credential hash, in its row or its index
    // entry: the two no longer agree, and the machine is locked out.
    let hash = alma_ext_server::auth::sha256_hex(&alma_ext_server::store::bench_credential(1234));
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(hash.len())
        .position(|w| w == hash.as_bytes())
        .expect("the hash is in the file") as u64;
    overwrite(&path, at + 10, b"0000");
    let (code, log) = serve(&url, &[]).expect_err("flipped bytes must not serve");
    assert_eq!(code, 5, "{log}");
    let (code, out, err) = store_check(&url);
    assert_eq!(code, 5, "{out}{err}");
    assert!(err.contains("damaged"), "{err}");
}
