//! `alma-ext-server` under `LANG=ja_JP.UTF-8` and under `LANG=C`: licence
//! tables with the vendor's words, yen as `240,000 円` and columns aligned by
//! display width; contract and machine listings; errors that keep the
//! database, id and exit code; JSON and CSV byte-identical; `--help` of
//! every subcommand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const JA: &str = "ja_JP.UTF-8";
const C: &str = "C";

fn run(lang: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alma-ext-server"))
        .args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", lang)
        .env("ALMA_EXT_SERVER_LOG", "off")
        .output()
        .expect("run alma-ext-server")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 stderr")
}

fn is_japanese(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
}

fn assert_no_japanese(what: &str, text: &str) {
    assert!(
        !text.chars().any(is_japanese),
        "{what}: English output holds Japanese:\n{text}"
    );
}

/// Lines with three lower-case English words in a row.
fn english_sentences(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| {
            let mut run = 0;
            line.split_whitespace().any(|w| {
                let w = w.trim_matches(|c: char| ",;:.()".contains(c));
                if w.len() >= 2 && w.chars().all(|c| c.is_ascii_lowercase()) {
                    run += 1;
                } else {
                    run = 0;
                }
                run >= 3
            })
        })
        .collect()
}

fn assert_japanese(what: &str, text: &str, terms: &[&str]) {
    assert!(
        text.chars().any(is_japanese),
        "{what}: no Japanese:\n{text}"
    );
    for t in terms {
        assert!(text.contains(t), "{what}: lacks {t:?}:\n{text}");
    }
    let english = english_sentences(text);
    assert!(
        english.is_empty(),
        "{what}: untranslated English:\n{}\n--- in ---\n{text}",
        english.join("\n")
    );
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
