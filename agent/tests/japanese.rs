//! `alma-ext` under `LANG=ja_JP.UTF-8` and under `LANG=C`: Japanese text
//! with the vendor's terms and no untranslated English sentence, English
//! with no Japanese, JSON byte-identical, errors that still name file, line
//! and key, the same exit codes, and `--help` of every subcommand.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alma_ext_test_support::japanese::{
    assert_japanese, assert_no_japanese, in_locale, stderr, stdout, C, JA,
};

const SUBCOMMANDS: [&str; 9] = [
    "facts",
    "status",
    "switch",
    "register",
    "checkin",
    "unregister",
    "security-status",
    "agent",
    "support-bundle",
];

fn run(lang: &str, args: &[&str]) -> Output {
    in_locale(env!("CARGO_BIN_EXE_alma-ext"), lang)
        .args(args)
        .output()
        .expect("run alma-ext")
}

fn host(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(case)
}

fn alma(major: &str) -> PathBuf {
    alma_ext_test_support::almalinux_root(major)
}

#[test]
fn facts_text_is_japanese_with_the_vendors_words() {
    for (case, term, evidence) in [
        ("bare-metal", "物理", "cpuid: ハイパーバイザービット 0"),
        (
            "kvm",
            "仮想 (kvm)",
            "種別、ハイパーバイザー  cpuid: ハイパーバイザービット 1、リーフ 0x40000000=\"KVMKVMKVM\"",
        ),
        ("azure", "仮想", "/sys/class/dmi/id/product_name: Virtual Machine"),
        (
            "empty",
            "不明",
            "種別  (none): 調べられる CPUID、DMI、デバイスツリー、/proc/sysinfo、/proc/xen がありません",
        ),
        (
            "aws-metal",
            "物理",
            "/sys/class/dmi/id/product_name: m5.metal (EC2 のベアメタルインスタンス)",
        ),
        ("docker-on-kvm", "docker", "/.dockerenv: あります (docker)"),
    ] {
        let root = host(case);
        let ja = run(JA, &["facts", "--root", root.to_str().unwrap()]);
        assert!(ja.status.success(), "{case}: {}", stderr(&ja));
        let text = stdout(&ja);
        // The evidence too: the detection's templates in Japanese, the
        // paths and what the host said as they are.
        assert_japanese(
            &format!("facts {case}"),
            &text,
            &[term, "マシン", "ホスト名", "メモリー", "マシン ID", "根拠", evidence],
        );
        let c = run(C, &["facts", "--root", root.to_str().unwrap()]);
        assert_eq!(c.status.code(), ja.status.code());
        assert_no_japanese(case, &stdout(&c));
        assert_no_japanese(case, &stderr(&c));
    }
}

#[test]
fn status_text_is_japanese_in_every_phase() {
    for (major, at, terms) in [
        (
            "9",
            "2026-11-30",
            &[
                "フルサポート",
                "セキュリティサポート",
                "延長サポート期間",
                "次の作業",
            ][..],
        ),
        ("9", "2030-01-01", &["セキュリティサポート", "登録状態"][..]),
        ("8", "2030-01-01", &["延長サポート期間", "リポジトリ"][..]),
        ("8", "2040-01-01", &["終了"][..]),
        ("9", "2020-01-01", &["未リリース"][..]),
    ] {
        let root = alma(major);
        let args = ["status", "--root", root.to_str().unwrap(), "--at", at];
        let ja = run(JA, &args);
        assert!(ja.status.success(), "{major} {at}: {}", stderr(&ja));
        assert_japanese(
            &format!("status {major} {at}"),
            &stdout(&ja),
            &[&["フェーズ", "登録状態", "次の作業"][..], terms].concat(),
        );
        let c = run(C, &args);
        assert!(c.status.success());
        assert_no_japanese("status", &stdout(&c));
        assert!(stdout(&c).contains("Do now"), "{}", stdout(&c));
    }
}

#[test]
fn json_is_byte_identical_in_both_languages() {
    let mut cases: Vec<Vec<String>> = Vec::new();
    for major in ["8", "9"] {
        let root = alma(major).display().to_string();
        cases.push(vec![
            "facts".into(),
            "--format".into(),
            "json".into(),
            "--root".into(),
            root.clone(),
        ]);
        for at in ["2026-11-30", "2030-01-01", "2040-01-01"] {
            cases.push(vec![
                "status".into(),
                "--format".into(),
                "json".into(),
                "--root".into(),
                root.clone(),
                "--at".into(),
                at.into(),
            ]);
        }
    }
    for case in ["bare-metal", "kvm", "azure", "lifecycle-invalid"] {
        let root = host(case).display().to_string();
        cases.push(vec![
            "facts".into(),
            "--format".into(),
            "json".into(),
            "--root".into(),
            root.clone(),
        ]);
        cases.push(vec![
            "status".into(),
            "--format".into(),
            "json".into(),
            "--root".into(),
            root,
            "--at".into(),
            "2030-01-01".into(),
        ]);
    }
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ja = run(JA, &args);
        let c = run(C, &args);
        assert_eq!(ja.status.code(), c.status.code(), "{args:?}");
        assert!(
            ja.stdout == c.stdout,
            "{args:?}: JSON differs:\n--- C ---\n{}\n--- ja ---\n{}",
            stdout(&c),
            stdout(&ja)
        );
    }
}

/// A copy of the AlmaLinux 9 fixture root with `text` as its agent.toml.
fn root_with_agent_toml(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_ext_test_support::copy_tree(&alma("9"), &root);
    std::fs::create_dir_all(root.join("etc/alma-ext")).unwrap();
    std::fs::write(root.join("etc/alma-ext/agent.toml"), text).unwrap();
    (dir, root)
}

#[test]
fn config_errors_name_file_line_and_key_in_japanese() {
    let (_dir, root) = root_with_agent_toml(
        "[server]\nurl = \"https://ext.example.com\"\n[checkin]\ninterval = \"1s\"\n",
    );
    let args = ["checkin", "--root", root.to_str().unwrap()];
    let ja = run(JA, &args);
    let c = run(C, &args);
    assert_eq!(ja.status.code(), Some(3));
    assert_eq!(c.status.code(), Some(3));
    let err = stderr(&ja);
    assert!(
        err.contains("/etc/alma-ext/agent.toml 4 行目: checkin.interval: 1m から 7d のあいだでなければなりません"),
        "{err}"
    );
    assert!(err.starts_with("alma-ext: エラー: "), "{err}");
    assert_japanese("config error", &err, &[]);
    let err = stderr(&c);
    assert_eq!(
        err,
        "alma-ext: error: /etc/alma-ext/agent.toml line 4: checkin.interval: must be between 1m and 7d\n"
    );
}

#[test]
fn not_registered_errors_keep_their_exit_codes() {
    let root = alma("9");
    for args in [
        vec!["checkin", "--root", root.to_str().unwrap()],
        vec!["unregister", "--root", root.to_str().unwrap()],
    ] {
        let ja = run(JA, &args);
        let c = run(C, &args);
        assert_eq!(ja.status.code(), Some(10), "{args:?}");
        assert_eq!(c.status.code(), Some(10), "{args:?}");
        let err = stderr(&ja);
        assert!(err.contains("登録されていません"), "{err}");
        assert_japanese(&format!("{args:?}"), &err, &[]);
        assert_no_japanese("not registered", &stderr(&c));
    }
}

#[test]
fn help_of_every_subcommand_is_japanese() {
    for flag in ["-h", "--help"] {
        let top = run(JA, &[flag]);
        assert!(top.status.success());
        let text = stdout(&top);
        assert!(text.contains("使い方: alma-ext <COMMAND>"), "{text}");
        assert!(
            text.contains("コマンド:") && text.contains("オプション:"),
            "{text}"
        );
        assert!(
            text.contains("リポジトリの切替") || text.contains("切り替えます"),
            "{text}"
        );
        for sub in SUBCOMMANDS {
            let ja = run(JA, &[sub, flag]);
            let c = run(C, &[sub, flag]);
            assert!(ja.status.success() && c.status.success(), "{sub} {flag}");
            let text = stdout(&ja);
            assert!(
                text.contains(&format!("使い方: alma-ext {sub}")),
                "{sub}: {text}"
            );
            for english in [
                "Usage:",
                "Options:",
                "Print help",
                "[default:",
                "[possible values:",
            ] {
                assert!(
                    !text.contains(english),
                    "{sub} {flag}: {english:?} in\n{text}"
                );
            }
            assert!(text.contains("ヘルプを表示します"), "{sub}: {text}");
            assert_no_japanese(sub, &stdout(&c));
            assert!(stdout(&c).contains("Usage: alma-ext"), "{sub}");
        }
    }
}

#[test]
fn posix_order_of_the_locale_variables() {
    let root = alma("9");
    let args = [
        "status",
        "--root",
        root.to_str().unwrap(),
        "--at",
        "2026-11-30",
    ];
    let with = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_alma-ext"));
        cmd.args(args)
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANG");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        stdout(&cmd.output().unwrap())
    };
    assert!(with(&[]).contains("Phase"));
    assert!(with(&[("LANG", "ja_JP.UTF-8")]).contains("フェーズ"));
    assert!(with(&[("LANG", "ja_JP.UTF-8"), ("LC_MESSAGES", "C")]).contains("Phase"));
    assert!(with(&[("LANG", "C"), ("LC_MESSAGES", "ja_JP.eucJP")]).contains("フェーズ"));
    assert!(with(&[("LANG", "ja_JP.UTF-8"), ("LC_ALL", "en_US.UTF-8")]).contains("Phase"));
    assert!(with(&[("LC_ALL", ""), ("LANG", "ja")]).contains("フェーズ"));
}

#[test]
fn security_status_text_is_japanese_and_its_json_identical() {
    // dnf writes its cache and rpm database under the root: a copy.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_ext_test_support::copy_tree(&alma("9"), &root);
    // An empty rpm database: security-status refuses a root without one.
    let init = std::process::Command::new("rpm")
        .arg("--root")
        .arg(&root)
        .args(["--dbpath", "/var/lib/rpm", "--initdb"])
        .output()
        .expect("rpm (tests/run-all installs it)");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let args = [
        "security-status",
        "--offline",
        "--root",
        root.to_str().unwrap(),
    ];
    let ja = run(JA, &args);
    let c = run(C, &args);
    // No target known: exit 10 in both languages, the rest printed.
    assert_eq!(ja.status.code(), Some(10));
    assert_eq!(c.status.code(), Some(10));
    let text = stdout(&ja);
    // dnf's own reason for a repository it could not load is quoted as dnf
    // says it.
    let ours: String = text
        .lines()
        .filter(|l| !l.starts_with("読み込めませんでした: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_japanese(
        "security-status",
        &ours,
        &[
            "未適用のセキュリティアドバイザリー",
            "コミュニティのセキュリティサポート",
        ],
    );
    assert_japanese(
        "security-status error",
        &stderr(&ja),
        &["切替先がありません"],
    );
    assert_no_japanese("security-status", &stdout(&c));
    let json = [&args[..], &["--format", "json"]].concat();
    let (ja, c) = (run(JA, &json), run(C, &json));
    assert_eq!(ja.status.code(), c.status.code());
    let strip_time = |o: &Output| {
        stdout(o)
            .lines()
            .filter(|l| !l.contains("\"generated_at\"") && !l.contains("\"at\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip_time(&ja), strip_time(&c));
}

/// clap's usage errors: Japanese under a Japanese locale, naming the
/// argument and value as typed; exit 2 in both languages; English as clap
/// writes it under `LANG=C`.
#[test]
fn usage_errors_are_japanese_with_the_same_exit_code() {
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--bogus"],
            &["引数 '--bogus' は使えません", "使い方: alma-ext"],
        ),
        (
            &["facts", "--format", "xml"],
            &["'xml' は指定できません", "[指定できる値: text, json]"],
        ),
        (&["register"], &["必須の引数", "--key <KEY>"]),
        (
            &["regster"],
            &["サブコマンド 'regster' はありません", "'register'"],
        ),
        (&["facts", "--root"], &["--root <DIR> には値が必要です"]),
    ];
    for (args, want) in cases {
        let ja = run(JA, args);
        let c = run(C, args);
        assert_eq!(ja.status.code(), Some(2), "{args:?}");
        assert_eq!(c.status.code(), Some(2), "{args:?}");
        let (ja, c) = (stderr(&ja), stderr(&c));
        for w in want {
            assert!(ja.contains(w), "{args:?}: {w:?} not in\n{ja}");
        }
        assert!(ja.contains("詳しくは '--help' をご覧ください。"), "{ja}");
        assert!(!ja.contains("error:"), "English left in\n{ja}");
        assert!(c.starts_with("error: "), "{c}");
        assert!(
            !c.chars().any(|ch| ch > '\u{2E7F}'),
            "Japanese in English\n{c}"
        );
    }
}

/// The rarer kinds of clap usage errors `alma-ext` can meet: a value for a
/// flag, an argument given twice, a value out of range or not a number,
/// an argument that is not UTF-8. Exit 2 in both languages.
#[test]
fn rarer_usage_errors_are_japanese_too() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["switch", "--revert=yes"],
            "--revert には値 'yes' を指定できません",
        ),
        (
            &["facts", "--format", "json", "--format", "text"],
            "引数 '--format <FORMAT>' は一度しか指定できません",
        ),
        (
            &["support-bundle", "--max-size", "0"],
            "の値 '0' が正しくありません: 0 は 1..",
        ),
        (
            &["support-bundle", "--since", "x"],
            "--since <DAYS> の値 'x' が正しくありません: 整数ではありません",
        ),
        (
            &["unregister", "--revert", "--keep-repos"],
            "と一緒には使えません",
        ),
    ];
    for (args, want) in cases {
        let ja = run(JA, args);
        let c = run(C, args);
        assert_eq!(ja.status.code(), Some(2), "{args:?}");
        assert_eq!(c.status.code(), Some(2), "{args:?}");
        let (ja, c) = (stderr(&ja), stderr(&c));
        assert!(ja.contains(want), "{args:?}: {want:?} not in\n{ja}");
        assert!(!ja.contains("error:"), "English left in\n{ja}");
        assert!(c.starts_with("error: "), "{c}");
    }
    use std::os::unix::ffi::OsStrExt;
    let o = in_locale(env!("CARGO_BIN_EXE_alma-ext"), JA)
        .args(["register", "--server", "https://ext.example", "--key"])
        .arg(std::ffi::OsStr::from_bytes(b"k-\xff"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("UTF-8 として正しくない文字"),
        "{}",
        stderr(&o)
    );
}

/// A failing `switch --format json` prints the same bytes under both
/// locales (its `error` is English, as in logs); the text output under a
/// Japanese locale is Japanese and still names the file, line, column, key
/// and path. Cases: a TOML error in the target file, a target value the
/// plan refuses, a preflight check that fails (a missing key file).
#[test]
fn failing_switch_json_is_identical_and_its_text_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_ext_test_support::copy_tree(&alma("9"), &root);
    let target = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let repo = "[repos.baseos]\nid = \"ext-baseos\"\nname = \"Extended BaseOS\"\n\
                baseurl = \"http://127.0.0.1:9/ext/baseos\"\n";
    let cases: [(String, i32, &[&str]); 3] = [
        (
            target("syntax.toml", &format!("{repo}replaces = \"baseos\"\n")),
            3,
            &[
                "syntax.toml 5 行目 1 桁: repos.baseos.replaces: TOML の構文が正しくありません: ",
                "unknown field `replaces`",
            ],
        ),
        (
            target("value.toml", &repo.replace("ext-baseos", "ext baseos")),
            3,
            &["切替先 repos.baseos: id は英字"],
        ),
        (
            target(
                "key.toml",
                &format!("gpgkey = [\"file:///etc/pki/rpm-gpg/RPM-GPG-KEY-missing\"]\n{repo}"),
            ),
            4,
            &[
                "事前確認: gpgkey file:///etc/pki/rpm-gpg/RPM-GPG-KEY-missing: ",
                "RPM-GPG-KEY-missing を読み込めません: ファイルまたはディレクトリがありません",
                "何も変更していません",
            ],
        ),
    ];
    for (file, code, words) in cases {
        let args = [
            "switch",
            "--root",
            root.to_str().unwrap(),
            "--target",
            &file,
            "--yes",
        ];
        let json = [&args[..], &["--format", "json"]].concat();
        let (ja, c) = (run(JA, &json), run(C, &json));
        assert_eq!(ja.status.code(), Some(code), "{file}: {}", stderr(&ja));
        assert_eq!(c.status.code(), Some(code), "{file}: {}", stderr(&c));
        assert!(
            ja.stdout == c.stdout,
            "{file}: JSON differs:\n--- C ---\n{}\n--- ja ---\n{}",
            stdout(&c),
            stdout(&ja)
        );
        let report: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
        assert_eq!(report["result"], "failed", "{report}");
        assert_eq!(report["exit_code"], code, "{report}");
        assert_no_japanese(&file, report["error"].as_str().unwrap());

        let ja = run(JA, &args);
        assert_eq!(ja.status.code(), Some(code));
        let err = stderr(&ja);
        assert!(err.starts_with("alma-ext: エラー: "), "{err}");
        for w in words {
            assert!(err.contains(w), "{file}: {w:?} not in\n{err}");
        }
        // The toml crate's own detail is quoted as it is.
        let ours = err.split("unknown field").next().unwrap();
        assert_japanese(&file, ours, &[]);
        assert_no_japanese(&file, &stderr(&run(C, &args)));
    }
}

/// A TOML syntax error in agent.toml: file, line and column framed in
/// Japanese, the toml crate's own detail quoted as it is; English names
/// the same place.
#[test]
fn toml_syntax_errors_are_framed_in_japanese() {
    let (_dir, root) =
        root_with_agent_toml("[server]\nurl = \"https://ext.example.com\"\ntimeout = = 3\n");
    let args = ["checkin", "--root", root.to_str().unwrap()];
    let (ja, c) = (run(JA, &args), run(C, &args));
    assert_eq!(ja.status.code(), Some(3));
    assert_eq!(c.status.code(), Some(3));
    let err = stderr(&ja);
    assert!(
        err.starts_with(
            "alma-ext: エラー: /etc/alma-ext/agent.toml 3 行目 11 桁: server.timeout: \
             TOML の構文が正しくありません: "
        ),
        "{err}"
    );
    let english = stderr(&c);
    assert!(
        english.starts_with(
            "alma-ext: error: /etc/alma-ext/agent.toml line 3, column 11: server.timeout: \
             invalid TOML: "
        ),
        "{english}"
    );
    // The detail after the framing is the toml crate's, the same in both.
    let detail = |s: &str| s.rsplit_once(": ").map(|(_, d)| d.to_string());
    assert_eq!(detail(&err), detail(&english));
}

/// Errors the agent raises itself, under a Japanese locale: Japanese, the
/// same exit code as in English, paths and the system's error number as
/// they are.
#[test]
fn agent_raised_errors_are_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_ext_test_support::copy_tree(&alma("9"), &root);
    std::fs::create_dir_all(root.join("etc/alma-ext")).unwrap();
    std::fs::write(
        root.join("etc/alma-ext/lifecycle.toml"),
        "[[releases]]\nmajor = 9\nmajor = 9\n",
    )
    .unwrap();
    let missing = dir.path().join("missing");
    let (root, missing) = (root.to_str().unwrap(), missing.to_str().unwrap());
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["facts", "--root", missing],
            2,
            "を開けません: ファイルまたはディレクトリがありません (os error 2)",
        ),
        (
            &["status", "--root", root],
            3,
            "lifecycle.toml 3 行目 1 桁: releases.major: TOML の構文が正しくありません: ",
        ),
        (
            &["security-status", "--root", root, "--target", missing],
            3,
            "切替先ファイル",
        ),
        (
            &[
                "register",
                "--root",
                root,
                "--server",
                "http://ext.example.com",
                "--key",
                "k",
            ],
            2,
            "ループバックアドレス",
        ),
        (
            &["switch", "--root", root],
            4,
            "切替先がありません: --target FILE を指定するか",
        ),
    ];
    for (args, code, words) in cases {
        let (ja, c) = (run(JA, args), run(C, args));
        assert_eq!(ja.status.code(), Some(code), "{args:?}: {}", stderr(&ja));
        assert_eq!(c.status.code(), Some(code), "{args:?}: {}", stderr(&c));
        let err = stderr(&ja);
        assert!(err.contains(words), "{args:?}: {words:?} not in\n{err}");
        // The toml crate's detail after the framing is its own.
        let ours = err.split("TOML の構文が正しくありません: ").next().unwrap();
        assert_japanese(&format!("{args:?}"), ours, &[]);
        assert_no_japanese(&format!("{args:?}"), &stderr(&c));
    }
}

/// A line os-release cannot hold: the warning is Japanese in text, naming
/// the file and line; with `--format json` it stays English (and the JSON
/// identical).
#[test]
fn os_release_warnings_are_japanese_in_text_only() {
    let root = host("osrelease-escapes");
    let text = run(JA, &["facts", "--root", root.to_str().unwrap()]);
    let err = stderr(&text);
    assert!(
        err.contains("etc/os-release 6 行目: 代入ではありません")
            && err.contains("(この行は無視しました)"),
        "{err}"
    );
    let json = [
        "facts",
        "--format",
        "json",
        "--root",
        root.to_str().unwrap(),
    ];
    let (ja, c) = (run(JA, &json), run(C, &json));
    assert!(ja.stdout == c.stdout);
    assert!(
        stderr(&ja).contains("line 6: not an assignment"),
        "{}",
        stderr(&ja)
    );
}

/// The error a failed switch recorded in its state file (English, as the
/// JSON carries it) is shown in Japanese by `status`, dnf's own words
/// quoted as they are.
#[test]
fn a_recorded_switch_error_is_shown_in_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_ext_test_support::copy_tree(&alma("9"), &root);
    let state = root.join("var/lib/alma-ext/switch");
    std::fs::create_dir_all(&state).unwrap();
    let error = "dnf could not use the new repositories: dnf makecache --repo ext-baseos \
                 failed (exit status: 1): Errors during downloading metadata for repository \
                 'ext-baseos'";
    std::fs::write(
        state.join("state.json"),
        serde_json::json!({"status": "failed", "since": "2026-11-30T00:00:00Z",
                           "repos": [], "error": error})
        .to_string(),
    )
    .unwrap();
    let args = [
        "status",
        "--root",
        root.to_str().unwrap(),
        "--at",
        "2026-11-30",
    ];
    let text = stdout(&run(JA, &args));
    assert!(
        text.contains(
            "前回の切替は失敗し、切り戻しました: dnf が新しいリポジトリを使えませんでした: \
             dnf makecache --repo ext-baseos が失敗しました (exit status: 1): Errors during"
        ),
        "{text}"
    );
    let json = [&args[..], &["--format", "json"]].concat();
    let (ja, c) = (run(JA, &json), run(C, &json));
    assert!(ja.stdout == c.stdout);
    assert!(stdout(&c).contains(error));
}

/// The error of the last check-in is kept in English in
/// `registration.json` (and in the JSON); `status` shows it in Japanese
/// where it is one of the agent's messages, the transport's words as they
/// are.
#[test]
fn the_last_check_in_error_is_shown_in_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    alma_ext_test_support::copy_tree(&alma("9"), &root);
    let state = root.join("var/lib/alma-ext");
    std::fs::create_dir_all(&state).unwrap();
    let cases = [
        (
            "server unreachable: error sending request for url \
             (https://127.0.0.1:9/v1/checkin): tcp connect error: Connection refused (os error 111)",
            "サーバーに接続できません: error sending request for url \
             (https://127.0.0.1:9/v1/checkin): tcp connect error",
        ),
        (
            "server refused (contract_revoked): the contract was revoked",
            "(contract_revoked): the contract was revoked",
        ),
    ];
    for (error, want) in cases {
        std::fs::write(
            state.join("registration.json"),
            serde_json::json!({
                "server": "https://127.0.0.1:9", "machine": "m-1",
                "last_error": error, "last_error_at": "2026-11-29T03:00:00Z"
            })
            .to_string(),
        )
        .unwrap();
        let args = [
            "status",
            "--root",
            root.to_str().unwrap(),
            "--at",
            "2026-11-30",
        ];
        let (ja, c) = (stdout(&run(JA, &args)), stdout(&run(C, &args)));
        assert!(ja.contains(want), "{want:?} not in\n{ja}");
        assert!(!ja.contains("server "), "English left in\n{ja}");
        assert!(c.contains(error), "{c}");
        let json = [&args[..], &["--format", "json"]].concat();
        let (ja, c) = (run(JA, &json), run(C, &json));
        assert!(ja.stdout == c.stdout);
        assert!(stdout(&c).contains(error));
    }
}
