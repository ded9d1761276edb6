//! The console in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver with plain HTTP calls, against
//! the real server with a seeded fleet on SQLite and PostgreSQL: log in,
//! filter, search, switch language, export CSV, log out. Screenshots of
//! every page in both languages go to `target/console-screenshots/`.
//! Chromium reaches nothing but 127.0.0.1.

#[path = "api_helpers.rs"]
mod helpers;

#[path = "support/console_helpers.rs"]
mod console;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alma_ext_proto::facts::MachineType;
use base64::Engine;
use console::*;
use helpers::*;
use serde_json::{json, Value};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 for chromedriver.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver(c: &reqwest::Client) -> Driver {
    let port = free_port();
    let mut child = Command::new("chromedriver")
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver) must be installed");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(r) = c.get(format!("{base}/status")).send().await {
            if r.status().is_success() {
                return Driver {
                    child,
                    base,
                    _profile: tempfile::tempdir().unwrap(),
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not start on {base}");
}

/// One browser session.
struct Browser<'a> {
    c: &'a reqwest::Client,
    url: String,
}

impl<'a> Browser<'a> {
    async fn open(c: &'a reqwest::Client, d: &Driver) -> Browser<'a> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1400,900",
            "--lang=en-US",
            // Nothing but 127.0.0.1: every other name fails to resolve.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", d._profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let v: Value = c
            .post(format!("{}/session", d.base))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new WebDriver session: {v}"));
        Browser {
            c,
            url: format!("{}/session/{id}", d.base),
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.c.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let v: Value = r.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "WebDriver {path}: {v}");
        v["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn current(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The URL once it contains `part` (a click's navigation may still
    /// be under way when the click returns).
    async fn url_with(&self, part: &str) -> String {
        for _ in 0..100 {
            let u = self.current().await;
            if u.contains(part) {
                return u;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the browser never reached a URL with {part}: {}",
            self.current().await
        )
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().unwrap().to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn close(self) {
        let _ = self.c.delete(&self.url).send().await;
    }
}

fn screenshot_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("console-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn browse(db: &str, engine: &str) {
    let (a, _) = create_contract(db, "virtual", 2);
    let (b, _) = create_contract(db, "physical", 1);
    add_user(db, "alice", "admin", &[]);
    let s = Server::start(db, &[]);
    let c = client();
    let (key_a, key_b) = (rekey(db, &a), rekey(db, &b));
    let mut ids = Vec::new();
    for i in 1..=4u32 {
        let (kind, key, host) = if i % 2 == 0 {
            (
                MachineType::Physical,
                &key_b,
                format!("db{i}.example.co.jp"),
            )
        } else {
            (
                MachineType::Virtual,
                &key_a,
                format!("web{i}.example.co.jp"),
            )
        };
        let host = if i == 1 { XSS.to_string() } else { host };
        let (id, _) = register(&c, &s, key, None, &facts(kind, &hex_id(i), &uuid(i), &host)).await;
        ids.push(id);
    }

    let d = start_driver(&c).await;
    let br = Browser::open(&c, &d).await;
    let dir = screenshot_dir();

    // Log in.
    br.go(&s.url("/machines")).await;
    assert!(
        br.current().await.ends_with("/login"),
        "redirected to the login form"
    );
    br.go(&s.url("/login?lang=en")).await;
    br.type_into("#username", "alice").await;
    br.type_into("#password", PASSWORD).await;
    br.click("#login").await;
    br.url_with("/machines").await;
    let src = br.source().await;
    assert!(src.contains("4 machines"), "{src}");
    assert!(src.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // Filter and search with the form.
    br.type_into("#q", "db4").await;
    br.click("#filter").await;
    br.url_with("q=db4").await;
    let src = br.source().await;
    assert!(src.contains("1 machines") && src.contains(&ids[3]), "{src}");

    // Every page in both languages.
    for lang in ["en", "ja"] {
        for (name, path) in [
            ("machines", "/machines".to_string()),
            ("machine", format!("/machines/{}", ids[0])),
            ("licenses", "/licenses".to_string()),
            ("contracts", "/contracts".to_string()),
        ] {
            br.go(&s.url(&format!("{path}?lang={lang}"))).await;
            let src = br.source().await;
            assert!(
                src.contains(&format!("<html lang=\"{lang}\">")),
                "{name}: {src}"
            );
            br.screenshot(&dir, &format!("{engine}-{name}-{lang}"))
                .await;
        }
    }
    // The language is remembered; the link switches it.
    br.go(&s.url("/machines")).await;
    assert!(br.source().await.contains("ホスト名"));
    br.click("a.lang").await;
    br.url_with("lang=en").await;
    assert!(br.source().await.contains("Host name"));

    // Log out.
    br.click("#logout").await;
    br.url_with("/login").await;
    br.go(&s.url("/machines")).await;
    assert!(br.current().await.ends_with("/login"));
    br.close().await;
}

#[tokio::test]
async fn chromium_on_sqlite() {
    let db = sqlite_db();
    browse(&db.url, "sqlite").await;
}

#[tokio::test]
async fn chromium_on_postgres() {
    let db = pg_db().await;
    browse(&db.url, "postgres").await;
}
