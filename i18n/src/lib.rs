//! Japanese for `alma-ext` and `alma-ext-server`: messages, `--help` and
//! man pages.
//!
//! The language comes from `LC_ALL`, then `LC_MESSAGES`, then `LANG` (the
//! first one set and non-empty wins, as POSIX says); a value starting with
//! `ja` selects Japanese, anything else English. The catalogue is the
//! gettext file `i18n/po/ja.po` (msgid = the English text, named
//! placeholders such as `{path}`), embedded in the binary as one string, so
//! it works on machines without `glibc-langpack-ja`.
//!
//! The English path never parses or touches the catalogue: [`tr`] returns
//! its argument. Only the first Japanese lookup parses the catalogue into a
//! map. There is deliberately no static table of message pairs: every
//! `&str` in such a table is a relocation the loader writes at each start,
//! and `alma-ext facts` has an RSS budget.
//!
//! Machine interfaces do not change with the language: code that builds
//! JSON or CSV runs inside [`english`], and log lines are written in
//! English (they never go through [`tr`]).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::{self, Display, Write as _};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

pub mod clap_ja;
mod io;
pub mod message;
pub mod po;

pub use clap_ja::{localize, parse, texts};
pub use io::io_message;
pub use message::{chain, render_back, unfill, Localize, Localized, Message};

/// The language of the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English: the msgids themselves.
    En,
    /// Japanese: `po/ja.po`.
    Ja,
}

/// The Japanese catalogue, as shipped (one blob, parsed on first use).
pub const JA_PO: &str = include_str!("../po/ja.po");

/// 0: not read yet, 1: English, 2: Japanese.
static LANG: AtomicU8 = AtomicU8::new(0);

thread_local! {
    /// Depth of [`english`] calls on this thread.
    static FORCED_ENGLISH: Cell<u32> = const { Cell::new(0) };
}

/// The language the locale variables select (`LC_ALL`, `LC_MESSAGES`,
/// `LANG`: the first non-empty one).
pub fn lang_from_env(get: impl Fn(&str) -> Option<String>) -> Lang {
    let value = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .filter_map(&get)
        .find(|v| !v.is_empty());
    match value {
        Some(v) if v.starts_with("ja") => Lang::Ja,
        _ => Lang::En,
    }
}

/// Set the language for the whole process instead of reading the locale
/// variables: the man-page generator renders both; the daemon speaks
/// English to journald.
pub fn set_lang(lang: Lang) {
    LANG.store(
        match lang {
            Lang::En => 1,
            Lang::Ja => 2,
        },
        Ordering::Relaxed,
    );
}

/// The language of this process's messages.
pub fn lang() -> Lang {
    if FORCED_ENGLISH.with(Cell::get) > 0 {
        return Lang::En;
    }
    match LANG.load(Ordering::Relaxed) {
        1 => Lang::En,
        2 => Lang::Ja,
        _ => {
            let lang = lang_from_env(|k| std::env::var(k).ok());
            set_lang(lang);
            lang
        }
    }
}

/// Whether messages are Japanese.
pub fn is_japanese() -> bool {
    lang() == Lang::Ja
}

/// Run `f` with English messages on this thread: for what lands in JSON,
/// CSV or logs, which never change with the language.
pub fn english<T>(f: impl FnOnce() -> T) -> T {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED_ENGLISH.with(|c| c.set(c.get() - 1));
        }
    }
    FORCED_ENGLISH.with(|c| c.set(c.get() + 1));
    let _restore = Restore;
    f()
}

/// The result of `f` for a machine interface (JSON, CSV): computed in
/// English; when it fails under Japanese, computed again so the error the
/// user reads is Japanese (`f` must be repeatable: a read, not a change).
pub fn machine<T, E>(f: impl Fn() -> Result<T, E>) -> Result<T, E> {
    match english(&f) {
        Err(_) if is_japanese() => f(),
        r => r,
    }
}

fn catalogue() -> &'static HashMap<String, String> {
    static JA: OnceLock<HashMap<String, String>> = OnceLock::new();
    JA.get_or_init(|| {
        po::parse(JA_PO)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !e.fuzzy && !e.msgstr.is_empty())
            .map(|e| (e.msgid, e.msgstr))
            .collect()
    })
}

/// `msgid` in the current language; `msgid` itself in English or when the
/// catalogue has no entry.
pub fn tr(msgid: &'static str) -> &'static str {
    match lang() {
        Lang::En => msgid,
        Lang::Ja => lookup(msgid).unwrap_or(msgid),
    }
}

/// The Japanese entry for `msgid`, for texts built at run time (clap's).
pub fn lookup(msgid: &str) -> Option<&'static str> {
    catalogue().get(msgid).map(String::as_str)
}

/// Replace each `{name}` in `template` by its value. Other braces stay.
pub fn fill(template: &str, args: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, v)) => {
                let _ = write!(out, "{v}");
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A message in the current language: `t!("Wrote {path}.", path = p.display())`.
/// The msgid must be a string literal (the catalogue check reads them from
/// the source). Without arguments it is a `&'static str`, with arguments a
/// `String`.
#[macro_export]
macro_rules! t {
    ($msgid:literal) => {
        $crate::tr($msgid)
    };
    ($msgid:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::fill(
            $crate::tr($msgid),
            &[$((stringify!($name), &$value as &dyn ::std::fmt::Display)),+],
        )
    };
}

/// Columns `s` takes in a terminal (a Japanese character takes two).
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` padded with spaces to `columns` terminal columns (left-aligned).
pub struct Pad<'a>(pub &'a str, pub usize);

impl Display for Pad<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        for _ in width(self.0)..self.1 {
            f.write_char(' ')?;
        }
        Ok(())
    }
}

/// `s` padded on the left to `columns` terminal columns (right-aligned).
pub struct PadLeft<'a>(pub &'a str, pub usize);

impl Display for PadLeft<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in width(self.0)..self.1 {
            f.write_char(' ')?;
        }
        f.write_str(self.0)
    }
}

/// Label/value lines with the labels padded to one display width:
/// `Machine  physical`.
pub fn label_rows<L: AsRef<str>, V: Display>(rows: &[(L, V)]) -> String {
    let w = rows
        .iter()
        .map(|(k, _)| width(k.as_ref()))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{}  {v}", Pad(k.as_ref(), w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn posix_order_first_non_empty_wins() {
        assert_eq!(lang_from_env(env(&[])), Lang::En);
        assert_eq!(lang_from_env(env(&[("LANG", "ja_JP.UTF-8")])), Lang::Ja);
        assert_eq!(
            lang_from_env(env(&[("LANG", "ja_JP.UTF-8"), ("LC_MESSAGES", "C")])),
            Lang::En
        );
        assert_eq!(
            lang_from_env(env(&[("LC_ALL", ""), ("LC_MESSAGES", "ja"), ("LANG", "C")])),
            Lang::Ja
        );
        assert_eq!(
            lang_from_env(env(&[("LC_ALL", "C.UTF-8"), ("LANG", "ja_JP.UTF-8")])),
            Lang::En
        );
        assert_eq!(lang_from_env(env(&[("LANG", "en_US.UTF-8")])), Lang::En);
    }

    #[test]
    fn fill_replaces_named_placeholders_only() {
        let p = "/etc/x";
        assert_eq!(
            fill("{path}: bad {key} {other} {", &[("path", &p), ("key", &3)]),
            "/etc/x: bad 3 {other} {"
        );
    }

    #[test]
    fn pads_by_display_width() {
        assert_eq!(format!("{}|", Pad("フェーズ", 10)), "フェーズ  |");
        assert_eq!(format!("{}|", Pad("Phase", 10)), "Phase     |");
        assert_eq!(format!("{}|", PadLeft("円", 4)), "  円|");
    }

    #[test]
    fn the_catalogue_parses() {
        let entries = po::parse(JA_PO).expect("ja.po parses");
        assert!(!entries.is_empty());
    }
}
