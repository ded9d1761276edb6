//! The web console over real HTTP on 127.0.0.1 against the real binary, on
//! SQLite and PostgreSQL: login, sessions, CSRF, roles, escaping, the
//! language, the rate limit on failed logins, CSV exports.

#[path = "api_helpers.rs"]
mod helpers;

#[path = "support/console_helpers.rs"]
mod console;

use alma_ext_proto::facts::MachineType;
use console::*;
use helpers::*;

async fn console_on(db: &str) {
    let (a, _) = create_contract(db, "virtual", 2);
    let (b, _) = create_contract(db, "physical", 1);
    add_user(db, "alice", "admin", &[]);
    add_user(db, "sam", "staff", &[]);
    add_user(db, "cust-a", "customer", &[&a]);
    let s = Server::start(db, &[]);
    let c = client();
    let key_a = rekey(db, &a);
    let key_b = rekey(db, &b);
    let (ma, _) = register(
        &c,
        &s,
        &key_a,
        None,
        &facts(MachineType::Virtual, &hex_id(1), &uuid(1), XSS),
    )
    .await;
    let (mb, _) = register(
        &c,
        &s,
        &key_b,
        None,
        &facts(
            MachineType::Physical,
            &hex_id(2),
            &uuid(2),
            "b-host.example",
        ),
    )
    .await;

    // Without a session every page redirects to /login.
    let anon = Browser::new(&s);
    for path in [
        "/machines",
        "/machines.csv",
        &format!("/machines/{ma}"),
        "/licenses",
        "/licenses.csv",
        "/contracts",
        "/readiness",
        "/alerts",
        "/",
    ] {
        let (code, loc, _) = anon.get(path).await;
        assert_eq!(code, 303, "{path}");
        assert!(loc == "/login" || path == "/", "{path}: {loc}");
    }

    // The login form: no csrf_token, refused; wrong password, 401.
    let mut admin = Browser::new(&s);
    let csrf = admin.login_form().await;
    let (code, _, _) = admin
        .post("/login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    assert_eq!(code, 403);
    let (code, _, body) = admin
        .post(
            "/login",
            &[
                ("username", "alice"),
                ("password", "wrong password!"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(code, 401);
    assert!(
        body.contains("The user name or password is wrong."),
        "{body}"
    );
    let set_cookie = admin.login("alice").await;
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("Secure"),
        "plain HTTP: no Secure flag: {set_cookie}"
    );

    // Admin and staff see both customers' machines; the host name is text.
    for user in [&mut admin] {
        let (code, _, body) = user.get("/machines?lang=en").await;
        assert_eq!(code, 200);
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{body}"
        );
        assert!(!body.contains(XSS));
        assert!(body.contains("b-host.example"));
    }
    let mut staff = Browser::new(&s);
    staff.login("sam").await;
    let (_, _, body) = staff.get("/machines").await;
    assert!(body.contains("b-host.example") && body.contains(&ma));
    let (code, _, _) = staff.get(&format!("/machines/{mb}")).await;
    assert_eq!(code, 200);

    // A customer sees only its contract's machines and contracts; another
    // customer's machine is 404, the same as one that does not exist.
    let mut cust = Browser::new(&s);
    cust.login("cust-a").await;
    let (_, _, body) = cust.get("/machines").await;
    assert!(body.contains(&ma), "{body}");
    assert!(!body.contains(&mb) && !body.contains("b-host.example"));
    let (code, _, other) = cust.get(&format!("/machines/{mb}")).await;
    assert_eq!(code, 404);
    let (code, _, missing) = cust.get("/machines/m-0000000000000000").await;
    assert_eq!(code, 404);
    assert_eq!(other, missing, "a guessed id tells nothing");
    let (code, _, body) = cust.get(&format!("/machines/{ma}")).await;
    assert_eq!(code, 200);
    assert!(body.contains("&lt;script&gt;") && !body.contains(XSS));
    let (_, _, body) = cust.get("/contracts").await;
    assert!(body.contains(&a) && !body.contains(&b), "{body}");
    let (_, _, csv) = cust.get("/machines.csv").await;
    assert!(csv.contains(&ma) && !csv.contains(&mb), "{csv}");
    let (_, _, csv) = cust.get("/licenses.csv").await;
    assert!(!csv.contains("b-host.example"), "{csv}");
    // Changes are admin-only: 404 for the others, even with the token.
    let tok = cust.csrf().await;
    let (code, _, _) = cust
        .post(&format!("/contracts/{a}/rekey"), &[("csrf_token", &tok)])
        .await;
    assert_eq!(code, 404);
    let tok = staff.csrf().await;
    let (code, _, _) = staff
        .post(
            "/contracts",
            &[
                ("csrf_token", &tok),
                ("customer", "X"),
                ("product", "virtual"),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(code, 404);

    // Admin changes need the session's csrf_token.
    let (code, _, _) = admin
        .post(
            "/contracts",
            &[
                ("customer", "New KK"),
                ("product", "virtual"),
                ("quantity", "3"),
            ],
        )
        .await;
    assert_eq!(code, 403);
    let (code, _, _) = admin
        .post(
            "/contracts",
            &[
                ("csrf_token", "forged"),
                ("customer", "New KK"),
                ("product", "virtual"),
                ("quantity", "3"),
            ],
        )
        .await;
    assert_eq!(code, 403);
    let tok = admin.csrf().await;
    let (code, _, body) = admin
        .post(
            "/contracts",
            &[
                ("csrf_token", &tok),
                ("customer", "New <b>KK</b>"),
                ("product", "virtual"),
                ("quantity", "3"),
            ],
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        body.contains("id=\"new-key\">aek_"),
        "the new key is shown once: {body}"
    );
    assert!(body.contains("New &lt;b&gt;KK&lt;/b&gt;"));
    let (_, _, body) = admin.get("/contracts").await;
    assert!(!body.contains("aek_"), "keys are never shown again");
    let (code, _, body) = admin
        .post(&format!("/contracts/{b}/rekey"), &[("csrf_token", &tok)])
        .await;
    assert_eq!(code, 200);
    assert!(body.contains("id=\"new-key\">aek_"));
    let (code, loc, _) = admin
        .post(&format!("/contracts/{b}/extend"), &[("csrf_token", &tok)])
        .await;
    assert_eq!((code, loc.as_str()), (303, "/contracts"));
    let (code, _, _) = admin.post(&format!("/contracts/{b}/revoke"), &[]).await;
    assert_eq!(code, 403);

    // Licences: the CSV is `licenses --format csv`.
    let (code, _, web_csv) = admin.get("/licenses.csv").await;
    assert_eq!(code, 200);
    let (_, cli_csv, err) = cli(&["licenses", "--format", "csv", "--database", db]);
    assert_eq!(web_csv, cli_csv, "{err}");
    let (code, _, body) = admin.get("/licenses").await;
    assert_eq!(code, 200);
    assert!(body.contains("id=\"total\""));

    // Language: ?lang=ja, remembered in the session; Accept-Language at login.
    let (_, _, body) = admin.get("/machines?lang=ja").await;
    assert!(
        body.contains("<html lang=\"ja\">") && body.contains("ホスト名"),
        "{body}"
    );
    let (_, _, body) = admin.get("/contracts").await;
    assert!(body.contains("サポート契約"), "remembered: {body}");
    let ja = Browser::new(&s).with_accept_language("ja,en;q=0.5");
    let (_, _, body) = ja.get("/login").await;
    assert!(body.contains("ログイン"));

    // Filters, search, sort and paging are query parameters.
    let (_, _, body) = admin.get(&format!("/machines?lang=en&contract={b}")).await;
    assert!(body.contains(&mb) && !body.contains(&ma));
    let (_, _, body) = admin.get("/machines?q=b-host").await;
    assert!(body.contains(&mb) && !body.contains(&ma));
    let (_, _, body) = admin.get("/machines?type=physical").await;
    assert!(body.contains(&mb) && !body.contains(&ma));
    let (_, _, body) = admin.get("/machines?silent=1").await;
    assert!(
        body.contains("0 machines") || body.contains("0 台"),
        "{body}"
    );
    let (code, _, body) = admin.get("/machines?sort=bogus").await;
    assert_eq!(code, 400);
    assert!(body.contains("sort:"));
    let (code, _, body) = admin.get("/machines?switch=reverted").await;
    assert_eq!(code, 400);
    assert!(body.contains("switch:"));
    let (code, _, body) = admin.get("/machines?switch=failed").await;
    assert_eq!(code, 200);
    assert!(body.contains("0 machines"), "{body}");

    // Logout ends the session.
    let tok = admin.csrf().await;
    let (code, _, _) = admin.post("/logout", &[]).await;
    assert_eq!(code, 403);
    let (code, loc, _) = admin.post("/logout", &[("csrf_token", &tok)]).await;
    assert_eq!(code, 303);
    assert!(loc.starts_with("/login"));
    let (code, loc, _) = admin.get("/machines").await;
    assert_eq!((code, loc.as_str()), (303, "/login"));

    // Failed logins are limited per user name (and per address).
    let mut guesser = Browser::new(&s);
    for _ in 0..5 {
        let csrf = guesser.login_form().await;
        let (code, _, _) = guesser
            .post(
                "/login",
                &[
                    ("username", "sam"),
                    ("password", "not the password"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(code, 401);
    }
    let csrf = guesser.login_form().await;
    let (code, _, body) = guesser
        .post(
            "/login",
            &[
                ("username", "sam"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(code, 429, "{body}");
}

#[tokio::test]
async fn console_on_sqlite() {
    let db = sqlite_db();
    console_on(&db.url).await;
}

#[tokio::test]
async fn console_on_postgres() {
    let db = pg_db().await;
    console_on(&db.url).await;
}

/// Under TLS the session cookie (and the login form's) is `Secure`; the
/// failed-login limit sees the client address there too.
#[tokio::test]
async fn secure_cookies_under_tls() {
    let db = sqlite_db();
    create_contract(&db.url, "virtual", 1);
    add_user(&db.url, "alice", "admin", &[]);
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = ck.cert.pem();
    let cert = write_file(dir.path(), "server.crt", &pem);
    let key = write_file(dir.path(), "server.key", &ck.key_pair.serialize_pem());
    let s = Server::start(
        &db.url,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let trusting = || {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
    };
    let mut b = Browser::with_client(&s, trusting());
    let set_cookie = b.login("alice").await;
    assert!(
        set_cookie.contains("; Secure") && set_cookie.contains("HttpOnly"),
        "{set_cookie}"
    );
    let (code, _, _) = b.get("/machines").await;
    assert_eq!(code, 200);
    // Per address: 20 failures for different names, then refused.
    let mut guesser = Browser::with_client(&s, trusting());
    for i in 0..20 {
        let csrf = guesser.login_form().await;
        let name = format!("nobody{i}");
        let (code, _, _) = guesser
            .post(
                "/login",
                &[
                    ("username", name.as_str()),
                    ("password", "x"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(code, 401);
    }
    let csrf = guesser.login_form().await;
    let (code, _, _) = guesser
        .post(
            "/login",
            &[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(code, 429);
}

/// Paging over 55 machines: the count on a full page, on the short last
/// page, past the end, and for a search.
#[tokio::test]
async fn paging_counts() {
    let db = sqlite_db();
    let (a, _) = create_contract(&db.url, "virtual", 100);
    add_user(&db.url, "alice", "admin", &[]);
    let s = Server::start(&db.url, &[]);
    let c = client();
    let key = rekey(&db.url, &a);
    for i in 1..=55u32 {
        let host = format!("host-{i:03}");
        register(
            &c,
            &s,
            &key,
            None,
            &facts(MachineType::Virtual, &hex_id(i), &uuid(i), &host),
        )
        .await;
    }
    let mut admin = Browser::new(&s);
    admin.login("alice").await;
    let rows = |body: &str| body.matches("<td><a href=\"/machines/").count();
    for (path, count, n, pager) in [
        ("/machines?lang=en", "55 machines", 50, "1 / 2"),
        ("/machines?page=2", "55 machines", 5, "2 / 2"),
        ("/machines?page=3", "55 machines", 0, "3 / 2"),
        ("/machines?q=host-05", "6 machines", 6, "1 / 1"),
        (
            "/machines?q=host-05&sort=hostname&dir=desc&page=2",
            "6 machines",
            0,
            "2 / 1",
        ),
    ] {
        let (code, _, body) = admin.get(path).await;
        assert_eq!(code, 200, "{path}");
        assert!(body.contains(&format!(">{count}<")), "{path}: {body}");
        assert_eq!(rows(&body), n, "{path}");
        assert!(body.contains(pager), "{path}: {body}");
    }
    let (_, _, body) = admin.get("/machines?page=2").await;
    assert!(
        body.contains("host-051") && !body.contains("host-050<"),
        "{body}"
    );
}
