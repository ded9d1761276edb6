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

/// chromedriver on a port of its own choosing (`--port=0`): it says which
/// in "ChromeDriver was started successfully on port N." on stdout, so no
/// port is released and raced for.
async fn start_driver(c: &reqwest::Client) -> Driver {
    use std::io::BufRead;
    let mut child = Command::new("chromedriver")
        .args(["--port=0", "--allowed-ips=127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver) must be installed");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the port, then drains the rest so chromedriver never blocks.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let port = line
                .strip_prefix("ChromeDriver was started successfully on port ")
                .and_then(|p| p.trim_end_matches('.').parse::<u16>().ok());
            if let Some(p) = port {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(p);
                }
            }
        }
    });
    let Ok(port) = rx.recv_timeout(Duration::from_secs(20)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromedriver did not say which port it listens on within 20 s");
    };
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
            // Tall enough that a screenshot shows a whole page.
            "--window-size=1400,1800",
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

    /// The rendered text of the element `css` picks.
    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// How many elements `css` picks.
    async fn count(&self, css: &str) -> usize {
        self.cmd(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .unwrap()
        .len()
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

/// The seeded fleet: contract A (virtual, 3 bought) with a switched
/// AlmaLinux 9 machine (host name `<script>…`), an AlmaLinux 8 machine
/// whose switch failed and a silent AlmaLinux 8 one; contract B
/// (physical, 1 bought, 2 needed: under-licensed) with two AlmaLinux 9
/// machines and a clone of the first; contract C ending within 90 days.
struct Fleet {
    a: String,
    b: String,
    c: String,
    /// Server ids: [switched (A), failed (A), silent (A), db4 (B), db5 (B)].
    ids: Vec<String>,
}

async fn seed(db: &str, s: &Server, c: &reqwest::Client) -> Fleet {
    let (a, _) = create_contract(db, "virtual", 3);
    let (b, _) = create_contract(db, "physical", 1);
    let starts = months_ago(10);
    let (code, out, err) = cli(&[
        "contract",
        "create",
        "--customer",
        "Soon Ends KK",
        "--product",
        "virtual",
        "--quantity",
        "5",
        "--starts",
        &starts,
        "--format",
        "json",
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    let c_id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (key_a, key_b) = (rekey(db, &a), rekey(db, &b));
    let security = json!({
        "at": "2026-11-29", "installed": 420, "extended": 401, "community_only": 12,
        "third_party": 7, "unavailable": 0,
        "pending": {"Critical": 1, "Important": 2, "Moderate": 0, "Low": 3}
    });
    let machines = [
        (
            MachineType::Virtual,
            &key_a,
            XSS.to_string(),
            false,
            "extended",
        ),
        (
            MachineType::Virtual,
            &key_a,
            "web2.example.co.jp".into(),
            true,
            "failed",
        ),
        (
            MachineType::Virtual,
            &key_a,
            "web3.example.co.jp".into(),
            true,
            "community",
        ),
        (
            MachineType::Physical,
            &key_b,
            "db4.example.co.jp".into(),
            false,
            "community",
        ),
        (
            MachineType::Physical,
            &key_b,
            "db5.example.co.jp".into(),
            false,
            "community",
        ),
    ];
    let mut ids = Vec::new();
    let mut creds = Vec::new();
    for (i, (kind, key, host, alma8, status)) in machines.iter().enumerate() {
        let n = i as u32 + 1;
        let mut f = facts(*kind, &hex_id(n), &uuid(n), host);
        if *alma8 {
            f = on_alma8(f);
        }
        let (id, cred) = register(c, s, key, None, &f).await;
        // The first machine: community, then switched, with a security status.
        if i == 0 {
            assert_eq!(checkin_with(c, s, &cred, &f, "community", None).await, 200);
        }
        let sec = (i == 0).then(|| security.clone());
        assert_eq!(checkin_with(c, s, &cred, &f, status, sec).await, 200);
        ids.push(id);
        creds.push((cred, f));
    }
    // A clone of db4: its credential with another machine id.
    let (cred4, f4) = &creds[3];
    let mut clone = f4.clone();
    clone.machine.machine_id = Some(hex_id(99));
    clone.machine.hostname = Some("db4-copy.example.co.jp".into());
    assert_eq!(
        checkin_with(c, s, cred4, &clone, "community", None).await,
        409
    );
    // web3 has not checked in for two days.
    backdate_checkin(db, &ids[2], 2 * 86400).await;
    Fleet { a, b, c: c_id, ids }
}

async fn browse(db: &str, engine: &str) {
    let s = Server::start(db, &[]);
    let c = client();
    let fleet = seed(db, &s, &c).await;
    let ids = &fleet.ids;
    add_user(db, "alice", "admin", &[]);
    add_user(db, "cust-a", "customer", &[&fleet.a]);

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
    assert!(src.contains("6 machines"), "{src}");
    assert!(src.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // The switched machine reported its security status: pending
    // advisories and extended coverage on its row.
    assert_eq!(br.text("td.pending").await, "6 (Critical 1, Important 2)");
    assert_eq!(br.text("td.coverage").await, "401 / 420 (95%)");

    // Filter and search with the form.
    br.type_into("#q", "db4").await;
    br.click("#filter").await;
    br.url_with("q=db4").await;
    let src = br.source().await;
    assert!(src.contains("2 machines") && src.contains(&ids[3]), "{src}");

    // Readiness: the seeded fleet's numbers, the chart, the list.
    br.go(&s.url("/readiness?lang=en")).await;
    let row = |major: u32, col: &str| format!("#major-{major} .{col}");
    for (major, want) in [(8, ["2", "0", "1", "1"]), (9, ["4", "1", "3", "0"])] {
        for (col, n) in ["total", "switched", "not-yet", "failed"].iter().zip(want) {
            assert_eq!(
                br.text(&row(major, col)).await,
                n,
                "AlmaLinux {major} {col}"
            );
        }
    }
    assert!(br.text(&row(8, "days")).await.contains("(2029-06-01)"));
    assert!(
        br.count("svg#phase-chart rect[data-phase]").await > 24,
        "the chart has bars"
    );
    assert!(br.text("#chart-caption").await.contains("projection"));
    assert_eq!(br.text("#not-ready-count").await, "5 machines");
    assert_eq!(br.count("#not-ready tbody tr").await, 5);
    let list = br.text("#not-ready").await;
    assert!(list.contains(&ids[1]) && !list.contains(&ids[0]), "{list}");

    // Alerts: silent, clone, failed switch, expiring contract, under-licensed.
    br.go(&s.url("/alerts?lang=en")).await;
    assert_eq!(br.text("#silent-count").await, "1");
    assert!(br.text("#silent").await.contains("web3.example.co.jp"));
    assert_eq!(br.text("#clones-count").await, "1");
    assert!(br.text("#clones").await.contains("db4-copy.example.co.jp"));
    assert_eq!(br.text("#failed-count").await, "1");
    assert!(br
        .text("#failed-switches")
        .await
        .contains("web2.example.co.jp"));
    assert_eq!(br.text("#expiring-count").await, "1");
    assert!(br.text("#expiring").await.contains(&fleet.c));
    assert_eq!(br.text("#under-count").await, "1");
    let under = br.text("#under-licensed").await;
    assert!(
        under.contains(&fleet.b) && !under.contains(&fleet.a),
        "{under}"
    );

    // The machine page: switch history, check-ins, security status, evidence.
    br.go(&s.url(&format!("/machines/{}?lang=en", ids[0])))
        .await;
    assert_eq!(br.text("#switch-state").await, "switched");
    let hist = br.text("#switch-history").await;
    assert!(
        hist.contains("switched") && hist.contains("community"),
        "{hist}"
    );
    assert_eq!(br.count("#switch-history tbody tr").await, 2);
    assert!(br.text("#checkins").await.ends_with("1 / 30"));
    let sec = br.text("#security").await;
    assert!(sec.contains("420") && sec.contains("Critical 1"), "{sec}");
    assert!(br.text("#facts").await.contains("os.pretty_name"));

    // Every page in both languages.
    for lang in ["en", "ja"] {
        for (name, path) in [
            ("machines", "/machines".to_string()),
            ("machine", format!("/machines/{}", ids[0])),
            ("licenses", "/licenses".to_string()),
            ("contracts", "/contracts".to_string()),
            ("readiness", "/readiness".to_string()),
            ("alerts", "/alerts".to_string()),
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
    assert!(br.source().await.contains("アラート"));
    // The language is remembered; the link switches it.
    br.go(&s.url("/machines")).await;
    assert!(br.source().await.contains("ホスト名"));
    br.click("a.lang").await;
    br.url_with("lang=en").await;
    assert!(br.source().await.contains("Host name"));
    // The navigation reaches the new pages.
    br.click("nav a[href='/readiness']").await;
    br.url_with("/readiness").await;
    br.click("nav a[href='/alerts']").await;
    br.url_with("/alerts").await;

    // Log out.
    br.click("#logout").await;
    br.url_with("/login").await;
    br.go(&s.url("/machines")).await;
    assert!(br.current().await.ends_with("/login"));

    // A customer sees its own contract's readiness and alerts only.
    br.go(&s.url("/login?lang=en")).await;
    br.type_into("#username", "cust-a").await;
    br.type_into("#password", PASSWORD).await;
    br.click("#login").await;
    br.url_with("/machines").await;
    br.go(&s.url("/readiness")).await;
    for (major, want) in [(8, ["2", "0", "1", "1"]), (9, ["1", "1", "0", "0"])] {
        for (col, n) in ["total", "switched", "not-yet", "failed"].iter().zip(want) {
            assert_eq!(
                br.text(&row(major, col)).await,
                n,
                "customer: AlmaLinux {major} {col}"
            );
        }
    }
    assert!(!br.source().await.contains("db4.example.co.jp"));
    br.go(&s.url("/alerts")).await;
    for (id, n) in [
        ("silent-count", "1"),
        ("clones-count", "0"),
        ("failed-count", "1"),
        ("expiring-count", "0"),
        ("under-count", "0"),
    ] {
        assert_eq!(br.text(&format!("#{id}")).await, n, "customer: {id}");
    }
    let src = br.source().await;
    assert!(
        !src.contains("db4") && !src.contains(&fleet.b) && !src.contains(&fleet.c),
        "{src}"
    );
    br.go(&s.url(&format!("/machines/{}", ids[3]))).await;
    assert!(br.source().await.contains("Not found."));
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
