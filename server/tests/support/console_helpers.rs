//! A small cookie-keeping HTTP client for the console tests, and users.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use super::helpers::{cli, Server, BIN};

pub const PASSWORD: &str = "a long test password";
pub const XSS: &str = "<script>alert(1)</script>";

/// A CLI call with `stdin` piped in; (exit code, stdout, stderr).
pub fn cli_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("ALMA_EXT_SERVER_DATABASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `user add NAME --role ROLE [--contract ID]… --password-stdin`.
pub fn user_add(
    db: &str,
    name: &str,
    role: &str,
    contracts: &[&str],
    pw: &str,
) -> (i32, String, String) {
    let mut args = vec!["user", "add", name, "--role", role];
    for c in contracts {
        args.extend(["--contract", c]);
    }
    args.extend(["--password-stdin", "--database", db]);
    cli_stdin(&args, pw)
}

/// A user with [`PASSWORD`].
pub fn add_user(db: &str, name: &str, role: &str, contracts: &[&str]) {
    let (code, _, err) = user_add(db, name, role, contracts, &format!("{PASSWORD}\n"));
    assert_eq!(code, 0, "{err}");
}

/// A contract's new activation key.
pub fn rekey(db: &str, id: &str) -> String {
    let (code, out, err) = cli(&[
        "contract",
        "rekey",
        id,
        "--format",
        "json",
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["activation_key"].as_str().unwrap().to_string()
}

/// A browser: keeps cookies, follows no redirects.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    accept_language: Option<String>,
}

impl Browser {
    pub fn new(s: &Server) -> Browser {
        Browser::with_client(s, reqwest::Client::builder())
    }

    /// A browser on `builder`'s client (e.g. one that trusts a test
    /// certificate).
    pub fn with_client(s: &Server, builder: reqwest::ClientBuilder) -> Browser {
        Browser {
            base: s.base().to_string(),
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            accept_language: None,
        }
    }

    pub fn with_accept_language(mut self, v: &str) -> Browser {
        self.accept_language = Some(v.into());
        self
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// (status, Location, body); remembers Set-Cookie. Returns the raw
    /// Set-Cookie lines through `last_set_cookie`.
    async fn send(&mut self, r: reqwest::RequestBuilder) -> (u16, String, String, Vec<String>) {
        let mut r = r.header("cookie", self.cookie_header());
        if let Some(l) = &self.accept_language {
            r = r.header("accept-language", l);
        }
        let resp = r.send().await.unwrap();
        let code = resp.status().as_u16();
        let loc = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let set: Vec<String> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for line in &set {
            let kv = line.split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        (code, loc, resp.text().await.unwrap(), set)
    }

    pub async fn get(&self, path: &str) -> (u16, String, String) {
        let mut me = Browser {
            base: self.base.clone(),
            http: self.http.clone(),
            cookies: self.cookies.clone(),
            accept_language: self.accept_language.clone(),
        };
        let (c, l, b, _) = me.send(self.http.get(format!("{}{path}", self.base))).await;
        (c, l, b)
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let r = self.http.post(format!("{}{path}", self.base)).form(form);
        let (c, l, b, _) = self.send(r).await;
        (c, l, b)
    }

    /// GET /login: its csrf_token (and cookie).
    pub async fn login_form(&mut self) -> String {
        let (c, _, body, _) = self
            .send(self.http.get(format!("{}/login", self.base)))
            .await;
        assert_eq!(c, 200);
        hidden_csrf(&body)
    }

    /// Log in as `user`; the session's Set-Cookie line.
    pub async fn login(&mut self, user: &str) -> String {
        let csrf = self.login_form().await;
        let r = self.http.post(format!("{}/login", self.base)).form(&[
            ("username", user),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ]);
        let (c, loc, body, set) = self.send(r).await;
        assert_eq!((c, loc.as_str()), (303, "/machines"), "{body}");
        set.into_iter()
            .find(|l| l.starts_with("alma_console="))
            .expect("session cookie")
    }

    /// The session's csrf_token, from a page's forms.
    pub async fn csrf(&self) -> String {
        let (_, _, body) = self.get("/contracts").await;
        hidden_csrf(&body)
    }
}

pub fn hidden_csrf(body: &str) -> String {
    let i = body
        .find("name=\"csrf_token\" value=\"")
        .expect("csrf_token field")
        + 25;
    body[i..i + body[i..].find('"').unwrap()].to_string()
}

/// A check-in reporting the switch state `status` (community, extended,
/// interrupted, failed) and, when given, a security-status summary; the
/// HTTP status.
pub async fn checkin_with(
    c: &reqwest::Client,
    s: &Server,
    cred: &str,
    f: &alma_ext_proto::facts::Facts,
    status: &str,
    security: Option<serde_json::Value>,
) -> u16 {
    let mut body = serde_json::json!({
        "observed_at": chrono::Utc::now(),
        "facts": f,
        "switch": {"status": status},
        "agent_version": "0.1.0",
    });
    if let Some(sec) = security {
        body["security"] = sec;
    }
    c.post(s.url("/v1/checkin"))
        .bearer_auth(cred)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Make machine `id` look silent: its last check-in `secs` earlier than
/// now, as if it had stopped checking in then (the store's own row, on
/// either engine).
pub async fn backdate_checkin(db: &str, id: &str, secs: i64) {
    let at = chrono::Utc::now().timestamp() - secs;
    macro_rules! on {
        ($pool:ty) => {{
            let p = <$pool>::connect(db).await.unwrap();
            sqlx::query("UPDATE machines SET last_seen = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&p)
                .await
                .unwrap();
            p.close().await;
        }};
    }
    if db.starts_with("sqlite:") {
        on!(sqlx::SqlitePool)
    } else {
        on!(sqlx::PgPool)
    }
}

/// The same facts on AlmaLinux 8.10.
pub fn on_alma8(mut f: alma_ext_proto::facts::Facts) -> alma_ext_proto::facts::Facts {
    f.os.version_id = Some("8.10".into());
    f.os.pretty_name = Some("AlmaLinux 8.10 (Cerulean Leopard)".into());
    f.os.major = Some(8);
    f.os.minor = Some(10);
    f.os.platform_id = Some("platform:el8".into());
    f
}

/// The first day of the month `months` before this one (a contract that
/// started then ends within the next 90 days for months = 10).
pub fn months_ago(months: u32) -> String {
    use chrono::Datelike;
    let t = chrono::Utc::now().date_naive();
    let first = chrono::NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap();
    (first - chrono::Months::new(months)).to_string()
}
