//! The checks of the Japanese suites of both binaries
//! (`agent/tests/japanese.rs`, `server/tests/japanese.rs`): run a binary
//! under a locale, and tell Japanese text from untranslated English.

use std::path::Path;
use std::process::{Command, Output};

/// The Japanese locale the suites run under (no installed locale needed).
pub const JA: &str = "ja_JP.UTF-8";
/// The English one.
pub const C: &str = "C";

/// `bin` under `LANG=lang` alone: `LC_ALL` and `LC_MESSAGES` removed, as
/// they come first in the POSIX order.
pub fn in_locale(bin: impl AsRef<Path>, lang: &str) -> Command {
    let mut cmd = Command::new(bin.as_ref());
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("LANG", lang);
    cmd
}

/// A command's stdout as text (it must be UTF-8).
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 stdout")
}

/// A command's stderr as text (it must be UTF-8).
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 stderr")
}

/// Kana, CJK ideographs and full-width forms.
pub fn is_japanese(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{4e00}'..='\u{9fff}' | '\u{ff00}'..='\u{ffef}')
}

/// English output holds no Japanese.
pub fn assert_no_japanese(what: &str, text: &str) {
    assert!(
        !text.chars().any(is_japanese),
        "{what}: English output holds Japanese:\n{text}"
    );
}

/// Lines holding three English words in a row (lower-case letters only,
/// so commands, paths, flags, ids and dates do not count): an untranslated
/// sentence.
pub fn english_sentences(text: &str) -> Vec<&str> {
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

/// Japanese output: some Japanese, every one of `terms`, and no
/// untranslated English sentence.
pub fn assert_japanese(what: &str, text: &str, terms: &[&str]) {
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
