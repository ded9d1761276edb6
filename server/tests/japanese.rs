//! `alma-ext-server` under `LANG=ja_JP.UTF-8` and under `LANG=C`: licence
//! tables with the vendor's words, yen as `240,000 円` and columns aligned by
//! display width; contract and machine listings; errors that keep the
//! database, id and exit code; JSON and CSV byte-identical; `--help` of
//! every subcommand.

use std::path::{Path, PathBuf};
use std::process::Output;

use alma_ext_test_support::japanese::{
    assert_japanese, assert_no_japanese, in_locale, is_japanese, stderr, stdout, C, JA,
};

fn run(lang: &str, args: &[&str]) -> Output {
    in_locale(env!("CARGO_BIN_EXE_alma-ext-server"), lang)
        .args(args)
        .env("ALMA_EXT_SERVER_LOG", "off")
        .output()
        .expect("run alma-ext-server")
}

fn inventories() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventories/examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

/// Display width: two columns per Japanese character.
fn columns(s: &str) -> usize {
    s.chars().map(|c| if is_japanese(c) { 2 } else { 1 }).sum()
}

#[test]
fn licence_tables_are_japanese_aligned_and_priced_in_yen() {
    for inv in inventories() {
        let path = inv.to_str().unwrap();
        let ja = run(JA, &["licenses", "--inventory", path]);
        let c = run(C, &["licenses", "--inventory", path]);
        assert_eq!(ja.status.code(), c.status.code(), "{path}");
        assert!(ja.status.success(), "{path}: {}", stderr(&ja));
        let text = stdout(&ja);
        assert_japanese(path, &text, &["システム", "年額 (税抜)", "合計", " 円"]);
        assert_no_japanese(path, &stdout(&c));
        // Right-aligned yen column: every row's "円" ends in the same column.
        let ends: Vec<usize> = text
            .lines()
            .filter_map(|l| {
                let i = l.find(" 円")?;
                Some(columns(&l[..i + " 円".len()]))
            })
            .collect();
        assert!(ends.len() >= 2, "{text}");
        let first_table_end = ends[0];
        let total_line = text.lines().find(|l| l.starts_with("合計")).unwrap();
        let i = total_line.find(" 円").unwrap();
        assert_eq!(
            columns(&total_line[..i + " 円".len()]),
            first_table_end,
            "the total's yen aligns with the heading row's column:\n{text}"
        );
        for format in ["json", "csv"] {
            let ja = run(JA, &["licenses", "--inventory", path, "--format", format]);
            let c = run(C, &["licenses", "--inventory", path, "--format", format]);
            assert!(ja.stdout == c.stdout, "{path} --format {format} differs");
            assert_eq!(ja.status.code(), c.status.code());
        }
    }
    // The glossary's product words appear across the examples.
    let all: String = inventories()
        .iter()
        .map(|p| stdout(&run(JA, &["licenses", "--inventory", p.to_str().unwrap()])))
        .collect();
    for term in ["物理", "仮想", "仮想基盤", "台数単位"] {
        assert!(all.contains(term), "no {term:?} in any example:\n{all}");
    }
}

#[test]
fn contracts_machines_and_errors_on_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("fleet.db").display());
    let create = run(
        JA,
        &[
            "contract",
            "create",
            "--customer",
            "Example KK",
            "--product",
            "virtual",
            "--quantity",
            "3",
            "--starts",
            "2026-01-01",
            "--create",
            "--database",
            &db,
        ],
    );
    assert!(create.status.success(), "{}", stderr(&create));
    let out = stdout(&create);
    assert!(
        out.contains("契約:") && out.contains("アクティベーションキー: aek_"),
        "{out}"
    );
    assert!(out.contains("仮想 x 3本"), "{out}");
    assert_japanese(
        "contract create",
        &stderr(&create),
        &["アクティベーションキーを保管してください"],
    );

    let list_ja = run(JA, &["contract", "list", "--database", &db]);
    let list_c = run(C, &["contract", "list", "--database", &db]);
    assert!(
        stdout(&list_ja).contains("マシン: 0 台"),
        "{}",
        stdout(&list_ja)
    );
    assert_no_japanese("contract list", &stdout(&list_c));
    for args in [
        vec!["contract", "list", "--format", "json", "--database", &db],
        vec!["machine", "list", "--format", "json", "--database", &db],
        vec!["machine", "list", "--format", "csv", "--database", &db],
        vec!["licenses", "--format", "csv", "--database", &db],
    ] {
        let ja = run(JA, &args);
        let c = run(C, &args);
        assert_eq!(ja.status.code(), Some(0), "{args:?}: {}", stderr(&ja));
        assert!(ja.stdout == c.stdout, "{args:?} differs");
    }
    let machines = run(JA, &["machine", "list", "--database", &db]);
    assert_eq!(stdout(&machines), "マシンはありません\n");
    let users = run(JA, &["user", "list", "--database", &db]);
    assert_eq!(stdout(&users), "ユーザーはいません\n");

    // Not found: exit 4, the id named.
    for (args, expect) in [
        (
            vec!["machine", "show", "m-nope", "--database", &db],
            "マシン m-nope はありません",
        ),
        (
            vec!["contract", "revoke", "ct-nope", "--database", &db],
            "契約 ct-nope はありません",
        ),
    ] {
        let ja = run(JA, &args);
        let c = run(C, &args);
        assert_eq!(ja.status.code(), Some(4), "{args:?}");
        assert_eq!(c.status.code(), Some(4), "{args:?}");
        let err = stderr(&ja);
        assert!(err.contains(expect), "{err}");
        assert!(err.starts_with("alma-ext-server: エラー: "), "{err}");
        assert_no_japanese("not found", &stderr(&c));
    }
    // A missing database: exit 3, the database named.
    let missing = format!("sqlite://{}", dir.path().join("missing.db").display());
    let ja = run(JA, &["machine", "list", "--database", &missing]);
    let c = run(C, &["machine", "list", "--database", &missing]);
    assert_eq!(ja.status.code(), Some(3));
    assert_eq!(c.status.code(), Some(3));
    let err = stderr(&ja);
    assert!(
        err.contains("missing.db") && err.contains("--create"),
        "{err}"
    );
    assert_japanese("missing database", &err, &["データベース"]);
    // An invalid field: exit 3, the field named (the engine's own reason
    // stays as the API says it).
    let args = [
        "contract",
        "create",
        "--customer",
        "X",
        "--product",
        "virtual",
        "--quantity",
        "0",
        "--database",
        &db,
    ];
    let ja = run(JA, &args);
    assert_eq!(ja.status.code(), Some(3));
    assert_eq!(run(C, &args).status.code(), Some(3));
    assert!(
        stderr(&ja).contains("quantity の値が正しくありません"),
        "{}",
        stderr(&ja)
    );
}

#[test]
fn help_of_every_subcommand_is_japanese() {
    let top = run(JA, &["--help"]);
    assert!(top.status.success());
    let text = stdout(&top);
    assert!(text.contains("使い方: alma-ext-server <COMMAND>"), "{text}");
    assert!(text.contains("終了コード:"), "{text}");
    for sub in [
        "serve",
        "contract",
        "machine",
        "platform",
        "target",
        "licenses",
        "inventory",
        "coverage",
        "lifecycle",
        "store",
        "user",
        "admin-token",
    ] {
        for flag in ["-h", "--help"] {
            let ja = run(JA, &[sub, flag]);
            let c = run(C, &[sub, flag]);
            assert!(ja.status.success() && c.status.success(), "{sub}");
            let text = stdout(&ja);
            assert!(text.contains("使い方: alma-ext-server"), "{sub}: {text}");
            for english in ["Usage:", "Options:", "Commands:", "Print help", "[default:"] {
                assert!(
                    !text.contains(english),
                    "{sub} {flag}: {english:?} in\n{text}"
                );
            }
            assert_no_japanese(sub, &stdout(&c));
        }
    }
}

/// Run under both locales: the same exit code, the same stdout, and the
/// Japanese stderr.
fn both(args: &[&str]) -> (Output, String) {
    let ja = run(JA, args);
    let c = run(C, args);
    assert_eq!(ja.status.code(), c.status.code(), "{args:?}");
    assert!(ja.stdout == c.stdout, "{args:?}: stdout differs");
    assert_no_japanese(&format!("{args:?}"), &stderr(&c));
    let err = stderr(&ja);
    assert!(
        err.starts_with("alma-ext-server: エラー: "),
        "{args:?}: {err}"
    );
    (ja, err)
}

#[test]
fn start_up_and_admin_errors_are_japanese_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let db = format!("sqlite://{}", path("fleet.db"));
    let created = run(
        C,
        &[
            "contract",
            "create",
            "--customer",
            "X",
            "--product",
            "virtual",
            "--quantity",
            "1",
            "--create",
            "--database",
            &db,
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));

    // serve, before the daemon is up: TLS files, the admin token, the
    // database, the address.
    let missing = path("missing.pem");
    let (o, err) = both(&[
        "serve",
        "--tls-cert",
        &missing,
        "--tls-key",
        &missing,
        "--database",
        &db,
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_japanese(
        "missing TLS certificate",
        &err,
        &[
            "TLS 証明書",
            &missing,
            "ファイルまたはディレクトリがありません (os error 2)",
        ],
    );
    let junk = path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let (_, err) = both(&[
        "serve",
        "--tls-cert",
        &junk,
        "--tls-key",
        &junk,
        "--database",
        &db,
    ]);
    assert_japanese("not PEM", &err, &[&junk, "PEM 形式の証明書がありません"]);
    let (o, err) = both(&["serve", "--admin-token-file", &missing, "--database", &db]);
    assert_eq!(o.status.code(), Some(3));
    assert_japanese(
        "admin token file",
        &err,
        &["管理トークンファイル", &missing],
    );
    let empty = path("empty.db");
    std::fs::write(&empty, "").unwrap();
    let (o, err) = both(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &format!("sqlite://{empty}"),
    ]);
    assert_eq!(o.status.code(), Some(5));
    assert_japanese(
        "empty database file",
        &err,
        &[&empty, "空のファイル", "--start-anyway"],
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (o, err) = both(&["serve", "--listen", &addr, "--database", &db]);
    assert_eq!(o.status.code(), Some(3));
    assert_japanese(
        "address in use",
        &err,
        &[&addr, "アドレスはすでに使われています"],
    );
    drop(taken);

    // The database URL.
    let (o, err) = both(&["contract", "list", "--database", "mysql://db.example/fleet"]);
    assert_eq!(o.status.code(), Some(5));
    assert_japanese(
        "unsupported URL",
        &err,
        &["mysql://db.example/fleet", "対応していません"],
    );
    let (_, err) = both(&[
        "store",
        "check",
        "--database",
        &format!("sqlite://{missing}"),
    ]);
    assert_japanese(
        "store check of no file",
        &err,
        &[&missing, "データベースファイルがありません"],
    );
    let check = run(JA, &["store", "check", "--database", &db]);
    assert!(check.status.success());
    assert_japanese(
        "store check",
        &stdout(&check),
        &["スキーマのバージョン", "正常です"],
    );

    // A target TOML: a syntax error names the file, line and column; a
    // bad value names the file and key.
    let target_set = |file: &str| {
        both(&[
            "target",
            "set",
            "--major",
            "9",
            "--file",
            file,
            "--database",
            &db,
        ])
    };
    let toml = path("target.toml");
    std::fs::write(&toml, "[repos.baseos]\nid = \"x\"\nname = \n").unwrap();
    let (o, err) = target_set(&toml);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        err.contains(&format!(
            "{toml} 3 行目 8 桁目: TOML の構文が正しくありません: "
        )),
        "{err}"
    );
    std::fs::write(
        &toml,
        "[repos.baseos]\nid = \"x\"\nname = \"x\"\nbaseurl = \"ftp://mirror.example/9\"\n",
    )
    .unwrap();
    let (_, err) = target_set(&toml);
    assert_japanese(
        "target value",
        &err,
        &[&toml, "repos.baseos.baseurl", "http(s) の URL"],
    );
    let (_, err) = target_set(&missing);
    assert_japanese("target file missing", &err, &[&missing, "読み込めません"]);

    // Invalid fields of admin commands: the field and the value named.
    let (o, err) = both(&[
        "platform",
        "set",
        "vc 1",
        "--hosts",
        "esx1",
        "--database",
        &db,
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert_japanese(
        "platform id",
        &err,
        &["id の値が正しくありません", "\"vc 1\""],
    );
    let (_, err) = both(&[
        "platform",
        "set",
        "vc1",
        "--hosts",
        "esx1,esx1",
        "--database",
        &db,
    ]);
    assert_japanese(
        "host twice",
        &err,
        &["hosts[1]", "esx1 が二度指定されています"],
    );
    let (_, err) = both(&[
        "user",
        "add",
        "alice",
        "--role",
        "customer",
        "--password-stdin",
        "--database",
        &db,
    ]);
    assert_japanese("short password", &err, &["password", "文字以上"]);

    // A lifecycle table that is not JSON: file, line and column.
    let json = path("lifecycle.json");
    std::fs::write(&json, "{\n  \"a\": }").unwrap();
    let (_, err) = both(&["lifecycle", "set", "--file", &json, "--database", &db]);
    assert!(
        err.contains(&format!(
            "{json} 2 行目 8 桁目: ライフサイクル表ではありません"
        )),
        "{err}"
    );

    // A lifecycle table whose dates are out of order: the release's field.
    std::fs::write(
        &json,
        r#"{"releases": [{"major": 9, "ga": "2022-05-26", "active_end": "2027-05-31", "security_end": "2032-05-31", "extended_end": "2030-01-01"}]}"#,
    )
    .unwrap();
    let (_, err) = both(&["lifecycle", "set", "--file", &json, "--database", &db]);
    assert_japanese(
        "lifecycle dates",
        &err,
        &[
            &json,
            "releases[major=9].extended_end",
            "security_end より後",
        ],
    );

    // An inventory file: the field and machine id kept.
    let inv = path("inventory.json");
    std::fs::write(
        &inv,
        r#"{"version": 1, "machines": [{"id": "db1", "type": "physical"}, {"id": "db1", "type": "physical"}]}"#,
    )
    .unwrap();
    for format in ["text", "json", "csv"] {
        let (o, err) = both(&["licenses", "--inventory", &inv, "--format", format]);
        assert_eq!(o.status.code(), Some(3));
        assert!(
            err.contains(&format!(
                "インベントリ {inv} が正しくありません: machines[1].id (マシン \"db1\")"
            )),
            "{err}"
        );
        assert_japanese("inventory error", &err, &["マシン ID が重複しています"]);
    }
}

/// Every kind of clap usage error the server's command line can cause:
/// Japanese under a Japanese locale with the argument and value as typed,
/// clap's English under `LANG=C`, exit 2 in both.
#[test]
fn every_kind_of_usage_error_is_japanese() {
    let cases: &[(&[&str], &[&str])] = &[
        // UnknownArgument, with clap's tip.
        (
            &["machine", "show", "-x"],
            &["引数 '-x' は使えません", "'-- -x' と指定してください"],
        ),
        // InvalidSubcommand, with the suggestion.
        (
            &["contract", "lst"],
            &["サブコマンド 'lst' はありません", "'list' のことですか?"],
        ),
        // InvalidValue, with the valid values and the similar one.
        (
            &["contract", "list", "--format", "jsn"],
            &[
                "値 'jsn' は指定できません",
                "[指定できる値: text, json]",
                "'json' のことですか?",
            ],
        ),
        // InvalidValue: none given.
        (
            &["contract", "list", "--format"],
            &["--format <FORMAT> には値が必要です"],
        ),
        // ValueValidation: the standard library's and chrono's reasons.
        (
            &["serve", "--listen", "nope"],
            &["--listen <ADDR> の値 'nope' が正しくありません: アドレスの形式"],
        ),
        (
            &[
                "contract",
                "create",
                "--customer",
                "X",
                "--product",
                "virtual",
                "--quantity",
                "x",
            ],
            &["--quantity <QUANTITY> の値 'x' が正しくありません: 整数ではありません"],
        ),
        (
            &[
                "contract",
                "create",
                "--customer",
                "X",
                "--product",
                "virtual",
                "--quantity",
                "1",
                "--starts",
                "2027-02-30",
            ],
            &["--starts <DATE> の値 '2027-02-30' が正しくありません: 存在しない日付です"],
        ),
        // TooManyValues: a value for a flag.
        (
            &["contract", "list", "--create=yes"],
            &["--create には値 'yes' を指定できません"],
        ),
        // ArgumentConflict: the same argument twice, and two that exclude
        // each other.
        (
            &["contract", "list", "--format", "json", "--format", "text"],
            &["引数 '--format <FORMAT>' は一度しか指定できません"],
        ),
        (
            &[
                "contract",
                "extend",
                "ct-1",
                "--until",
                "2030-01-01",
                "--years",
                "1",
            ],
            &["引数 '--until <DATE>' は --years <YEARS> と一緒には使えません"],
        ),
        // MissingRequiredArgument.
        (&["machine", "show"], &["必須の引数", "<ID>"]),
    ];
    for (args, want) in cases {
        let ja = run(JA, args);
        let c = run(C, args);
        assert_eq!(ja.status.code(), Some(2), "{args:?}");
        assert_eq!(c.status.code(), Some(2), "{args:?}");
        let (ja, c) = (stderr(&ja), stderr(&c));
        for w in *want {
            assert!(ja.contains(w), "{args:?}: {w:?} not in\n{ja}");
        }
        assert_japanese(
            &format!("{args:?}"),
            &ja,
            &["詳しくは '--help' をご覧ください。"],
        );
        assert!(!ja.contains("error:") && !ja.contains("tip:"), "{ja}");
        assert!(c.starts_with("error: "), "{c}");
        assert_no_japanese(&format!("{args:?}"), &c);
    }
    // InvalidUtf8: an argument that is not UTF-8.
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"m-\xff");
    for (lang, want) in [
        (JA, "引数に UTF-8 として正しくない文字が含まれています"),
        (C, "invalid UTF-8"),
    ] {
        let o = in_locale(env!("CARGO_BIN_EXE_alma-ext-server"), lang)
            .args(["machine", "show"])
            .arg(bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
    }
    // A subcommand group without its subcommand: the help, in Japanese.
    let o = run(JA, &["contract"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("使い方: alma-ext-server contract <COMMAND>"),
        "{}",
        stderr(&o)
    );
}

/// Every rejected inventory among the fixtures: the file, field path and
/// id as they are, the reasons (the engine's, and the JSON parser's common
/// ones with their line and column) in Japanese.
#[test]
fn inventory_errors_are_japanese() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventories/errors");
    let mut positions = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let path = path.to_str().unwrap();
        let (o, err) = both(&["licenses", "--inventory", path]);
        assert_eq!(o.status.code(), Some(3), "{path}");
        assert!(
            err.contains(&format!("インベントリ {path} が正しくありません: ")),
            "{err}"
        );
        assert_japanese(path, &err, &[]);
        if err.contains(" 行目 ") {
            positions += 1;
        }
    }
    assert!(positions >= 5, "{positions}");
}

/// The licence engine's warnings (undeclared platforms and groups, invalid
/// choices, peaks) in the text table are Japanese with the ids quoted as
/// in the file; the JSON report's warnings stay English.
#[test]
fn licence_warnings_are_japanese_in_the_table_and_english_in_json() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventories/edge");
    let mut warned = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let path = path.to_str().unwrap();
        if !path.ends_with(".json") {
            continue;
        }
        let ja = run(JA, &["licenses", "--inventory", path]);
        if !ja.status.success() {
            continue;
        }
        let text = stdout(&ja);
        assert_japanese(path, &text, &[]);
        assert_no_japanese(path, &stdout(&run(C, &["licenses", "--inventory", path])));
        if text.contains("警告:") {
            warned += 1;
        }
        let json = |lang| {
            stdout(&run(
                lang,
                &["licenses", "--inventory", path, "--format", "json"],
            ))
        };
        assert_eq!(json(JA), json(C), "{path}");
    }
    assert!(warned >= 3, "only {warned} edge fixtures warn");
}

/// Output that cannot be written (a full disk): the error in Japanese with
/// the system's reason, exit 1 in both languages.
#[test]
fn a_full_stdout_is_reported_in_japanese() {
    for (lang, want) in [
        (JA, "alma-ext-server: エラー: 標準出力に書き込めません: デバイスに空きがありません (os error 28)"),
        (C, "alma-ext-server: error: writing to stdout: No space left on device (os error 28)"),
    ] {
        let o = in_locale(env!("CARGO_BIN_EXE_alma-ext-server"), lang)
            .args(["--help"])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{lang}");
        assert!(stderr(&o).contains(want), "{lang}: {}", stderr(&o));
    }
}

/// `serve` under a Japanese locale: once it listens, its lines (journald's)
/// are English.
#[test]
fn serve_speaks_english_once_it_listens() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("fleet.db").display());
    let mut child = in_locale(env!("CARGO_BIN_EXE_alma-ext-server"), JA)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
        .env("ALMA_EXT_SERVER_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let up = line.contains("listening on http://127.0.0.1:");
        lines.push(line);
        if up {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let text = lines.join("\n");
    assert!(text.contains("listening on http://127.0.0.1:"), "{text}");
    assert_no_japanese("serve's log", &text);
}

/// A database a later server migrated: `store check` and `serve` refuse
/// it (exit 5) and say why in Japanese, naming the schema version.
#[tokio::test]
async fn a_newer_schema_is_refused_in_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db");
    let db = format!("sqlite://{}", path.display());
    let created = run(C, &["contract", "list", "--create", "--database", &db]);
    assert!(created.status.success(), "{}", stderr(&created));
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'later', TRUE, X'00', 0)",
    )
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::Connection::close(c).await.unwrap();
    // (Its notes on stdout are text too: Japanese.)
    let o = run(JA, &["store", "check", "--database", &db]);
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(
        run(C, &["store", "check", "--database", &db]).status.code(),
        Some(5)
    );
    assert_japanese(
        "store check notes",
        &stdout(&o),
        &["スキーマのバージョン 9999"],
    );
    assert_japanese(
        "store check",
        &stderr(&o),
        &[
            "は破損しています",
            "スキーマのバージョン 9999 はこのサーバーが知るものより新しいです",
        ],
    );
    let (o, err) = both(&["serve", "--listen", "127.0.0.1:0", "--database", &db]);
    assert_eq!(o.status.code(), Some(5));
    assert_japanese(
        "serve",
        &err,
        &[&db, "破損しています", "9999", "--start-anyway"],
    );
}
