//! The subset of gettext's `.po` format the catalogue uses: comments, flags
//! (`#, fuzzy`), `msgctxt`, `msgid`, `msgstr`, each string possibly
//! continued on following lines. Plural forms are not used.

use std::fmt;

/// One entry of a `.po` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The English text.
    pub msgid: String,
    /// The translation; empty when not translated yet.
    pub msgstr: String,
    /// Marked `#, fuzzy`: a translator's guess, not used.
    pub fuzzy: bool,
    /// Line of the `msgid` keyword (1-based).
    pub line: usize,
}

/// A line the parser does not understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

impl std::error::Error for Error {}

#[derive(Clone, Copy, PartialEq)]
enum Field {
    None,
    Ctxt,
    Id,
    Str,
}

/// Parse a `.po` file; the header entry (empty msgid) is left out.
pub fn parse(text: &str) -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    let mut cur: Option<Entry> = None;
    let mut field = Field::None;
    let mut fuzzy = false;
    let finish = |cur: &mut Option<Entry>, entries: &mut Vec<Entry>| {
        if let Some(e) = cur.take() {
            if !e.msgid.is_empty() {
                entries.push(e);
            }
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(flags) = line.strip_prefix("#,") {
            finish(&mut cur, &mut entries);
            field = Field::None;
            fuzzy = flags.split(',').any(|f| f.trim() == "fuzzy");
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (kw, rest) = match line.split_once(char::is_whitespace) {
            Some((kw, rest)) if !line.starts_with('"') => (kw, rest.trim()),
            _ => ("", line),
        };
        let s = unquote(rest).map_err(|what| Error { line: n, what })?;
        match kw {
            "msgctxt" => {
                finish(&mut cur, &mut entries);
                field = Field::Ctxt;
            }
            "msgid" => {
                if field != Field::Ctxt {
                    finish(&mut cur, &mut entries);
                }
                cur = Some(Entry {
                    msgid: s,
                    msgstr: String::new(),
                    fuzzy,
                    line: n,
                });
                fuzzy = false;
                field = Field::Id;
            }
            "msgstr" => {
                let e = cur.as_mut().ok_or_else(|| Error {
                    line: n,
                    what: "msgstr without msgid".into(),
                })?;
                e.msgstr = s;
                field = Field::Str;
            }
            "" => match (field, cur.as_mut()) {
                (Field::Id, Some(e)) => e.msgid.push_str(&s),
                (Field::Str, Some(e)) => e.msgstr.push_str(&s),
                (Field::Ctxt, _) => {}
                _ => {
                    return Err(Error {
                        line: n,
                        what: "a string outside msgid/msgstr".into(),
                    })
                }
            },
            other => {
                return Err(Error {
                    line: n,
                    what: format!("unknown keyword {other:?}"),
                })
            }
        }
    }
    finish(&mut cur, &mut entries);
    Ok(entries)
}

/// A C-style quoted string: `"a\"b\n"`.
fn unquote(s: &str) -> Result<String, String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("expected a quoted string, found {s:?}"))?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

/// `s` as a `.po` string (one or more quoted lines, split after newlines).
pub fn quote(s: &str) -> String {
    let esc = |part: &str| {
        part.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
    };
    if !s.contains('\n') || s.trim_end_matches('\n').find('\n').is_none() {
        return format!("\"{}\"", esc(s));
    }
    let mut out = String::from("\"\"");
    for part in s.split_inclusive('\n') {
        out.push_str("\n\"");
        out.push_str(&esc(part));
        out.push('"');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_continuations_flags_and_header() {
        let text = r#"# header
msgid ""
msgstr "Content-Type: text/plain; charset=UTF-8\n"

#. a comment
#, python-brace-format
msgid "Wrote {path}."
msgstr "{path} に書き込みました。"

#, fuzzy
msgid "a"
msgstr "え"

msgid ""
"two\n"
"lines"
msgstr ""
"二\n"
"行"
"#;
        let e = parse(text).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].msgid, "Wrote {path}.");
        assert_eq!(e[0].msgstr, "{path} に書き込みました。");
        assert!(!e[0].fuzzy);
        assert!(e[1].fuzzy);
        assert_eq!(e[2].msgid, "two\nlines");
        assert_eq!(e[2].msgstr, "二\n行");
    }

    #[test]
    fn quote_round_trips() {
        for s in ["plain", "a \"q\" \\ b", "two\nlines\n", "end\n", "x\ty"] {
            let po = format!("msgid {}\nmsgstr \"x\"\n", quote(s));
            assert_eq!(parse(&po).unwrap()[0].msgid, s, "{po}");
        }
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("msgid \"a\"\nmsgstr \"b\nfoo").unwrap_err();
        assert_eq!(err.line, 2);
    }
}
