//! The Japanese catalogue `i18n/po/ja.po` is complete: every message the
//! code passes to `t!(...)` or `msg!(...)` and every `--help` text of both binaries has a
//! non-empty Japanese entry with the same `{placeholders}`, and the
//! catalogue holds no entry that nothing uses. A failure names each
//! missing entry (as a `.po` stanza to paste and translate) and each unused
//! one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use alma_ext_i18n::po;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The crates whose code prints messages (and the one file of the
/// catalogue's own crate that does: the rest of it holds examples).
const SOURCE_DIRS: &[&str] = &[
    "agent/src",
    "server/src",
    "switcher/src",
    "stdio/src",
    "proto/src",
    "i18n/src/io.rs",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The string literal at the start of `s` (after `"`), unescaped, and the
/// rest after its closing quote.
fn rust_literal(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\\' => out.push('\\'),
                '\n' => {
                    // A continuation: the newline and leading whitespace go.
                    let rest = &s[i + 2..];
                    let skip = rest.len() - rest.trim_start().len();
                    for _ in 0..skip {
                        chars.next();
                    }
                }
                other => panic!("unsupported escape \\{other} in a t!() literal"),
            },
            c => out.push(c),
        }
    }
    None
}

/// The macros whose first argument is a msgid: `t!` (a text now) and
/// `msg!` (an `alma_ext_i18n::Message`, rendered later in either language).
const MSGID_MACROS: &[&str] = &["t!(", "msg!("];

/// Every msgid passed to `t!(...)` or `msg!(...)` in the source, with where
/// it is used.
fn msgids_in_code() -> BTreeMap<String, String> {
    let root = workspace();
    let mut files = Vec::new();
    for d in SOURCE_DIRS {
        rust_files(&root.join(d), &mut files);
    }
    let mut out = BTreeMap::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for mac in MSGID_MACROS {
            let mut rest = text.as_str();
            while let Some(i) = rest.find(mac) {
                let before = rest[..i].chars().last();
                rest = &rest[i + mac.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let Some(lit) = rest.trim_start().strip_prefix('"') else {
                    continue;
                };
                let (msgid, after) = rust_literal(lit).expect("closed literal");
                let line = text[..text.len() - after.len()].lines().count();
                let rel = f.strip_prefix(&root).unwrap().display().to_string();
                out.entry(msgid).or_insert(format!("{rel}:{line}"));
                rest = after;
            }
        }
    }
    out
}

fn placeholders(s: &str) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find('}') {
            let name = &rest[..close];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_message_has_a_japanese_entry_and_none_is_unused() {
    let mut used = msgids_in_code();
    let helps = alma_ext_i18n::texts(alma_ext_agent::cli::Cli::command())
        .into_iter()
        .map(|t| (t, "alma-ext --help".to_owned()))
        .chain(
            alma_ext_i18n::texts(alma_ext_server::cli::Cli::command())
                .into_iter()
                .map(|t| (t, "alma-ext-server --help".to_owned())),
        );
    for (t, w) in helps {
        used.entry(t).or_insert(w);
    }
    let entries = po::parse(alma_ext_i18n::JA_PO).expect("i18n/po/ja.po parses");
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &entries {
        if !seen.insert(e.msgid.as_str()) {
            problems.push(format!("ja.po:{}: duplicate msgid {:?}", e.line, e.msgid));
        }
        if !used.contains_key(&e.msgid) {
            problems.push(format!(
                "ja.po:{}: unused entry (nothing prints it) {:?}",
                e.line, e.msgid
            ));
            continue;
        }
        if e.msgstr.is_empty() || e.fuzzy {
            problems.push(format!(
                "ja.po:{}: not translated (empty or fuzzy) {:?}",
                e.line, e.msgid
            ));
        } else if placeholders(&e.msgid) != placeholders(&e.msgstr) {
            problems.push(format!(
                "ja.po:{}: placeholders differ: {:?} vs {:?}",
                e.line,
                placeholders(&e.msgid),
                placeholders(&e.msgstr)
            ));
        }
    }
    let mut missing = String::new();
    for (msgid, at) in &used {
        if !seen.contains(msgid.as_str()) {
            problems.push(format!("missing in ja.po (used at {at}): {msgid:?}"));
            missing.push_str(&format!(
                "#: {at}\nmsgid {}\nmsgstr \"\"\n\n",
                po::quote(msgid)
            ));
        }
    }
    if let Ok(path) = std::env::var("ALMA_EXT_PO_MISSING") {
        fs::write(path, &missing).unwrap();
    }
    assert!(
        problems.is_empty(),
        "{} catalogue problems:\n{}\n\nmissing entries to translate:\n{missing}",
        problems.len(),
        problems.join("\n")
    );
}
