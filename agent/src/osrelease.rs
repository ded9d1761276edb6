//! `/etc/os-release` parsed by its specification (os-release(5)): shell-style
//! `KEY=VALUE` assignments, values in double quotes (backslash escapes `\"`,
//! `\\`, `` \` ``, `\$`), single quotes (literal) or unquoted (a backslash
//! quotes the next character); `#` comments; later assignments win.
//!
//! Pure: no I/O. A bad line never stops the parse: it is skipped and
//! reported in [`OsRelease::problems`] with its line number, the way systemd
//! itself reads the file.

use std::collections::BTreeMap;
use std::fmt;

/// The parsed file: every valid assignment plus what was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// KEY -> unquoted, unescaped value. The last assignment of a key wins.
    pub fields: BTreeMap<String, String>,
    /// Lines that were skipped, with the reason.
    pub problems: Vec<Problem>,
}

/// One skipped line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number where the bad assignment starts.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&alma_ext_i18n::t!(
            "line {line}: {message}",
            line = self.line,
            message = self.message
        ))
    }
}

impl OsRelease {
    /// The value of `key`, if assigned.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The value of `key`, None when absent or empty.
    pub fn get_nonempty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

fn is_key_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parse the text of an os-release file. Never fails and never panics:
/// invalid assignments are skipped and listed in `problems`.
pub fn parse(text: &str) -> OsRelease {
    let chars: Vec<char> = text.chars().collect();
    let mut out = OsRelease::default();
    let mut i = 0;
    let mut line = 1;
    let n = chars.len();

    // Skip to the end of the current line (consuming the newline).
    let skip_line = |i: &mut usize, line: &mut usize| {
        while *i < n && chars[*i] != '\n' {
            *i += 1;
        }
        if *i < n {
            *i += 1;
            *line += 1;
        }
    };

    while i < n {
        // Leading blanks.
        while i < n && (chars[i] == ' ' || chars[i] == '\t' || chars[i] == '\r') {
            i += 1;
        }
        if i >= n {
            break;
        }
        if chars[i] == '\n' {
            i += 1;
            line += 1;
            continue;
        }
        if chars[i] == '#' {
            skip_line(&mut i, &mut line);
            continue;
        }
        let start_line = line;
        // Key.
        if !is_key_start(chars[i]) {
            out.problems.push(Problem {
                line: start_line,
                message: alma_ext_i18n::t!("expected KEY=VALUE (a key starts with a letter or _)")
                    .into(),
            });
            skip_line(&mut i, &mut line);
            continue;
        }
        let kstart = i;
        while i < n && is_key_char(chars[i]) {
            i += 1;
        }
        let key: String = chars[kstart..i].iter().collect();
        if i >= n || chars[i] != '=' {
            out.problems.push(Problem {
                line: start_line,
                message: alma_ext_i18n::t!(
                    "not an assignment (expected {key}=VALUE with no space before '=')",
                    key = key
                ),
            });
            skip_line(&mut i, &mut line);
            continue;
        }
        i += 1;
        // Value: a shell word made of unquoted, "double" and 'single' parts.
        let mut value = String::new();
        let mut error: Option<String> = None;
        loop {
            if i >= n {
                break;
            }
            let c = chars[i];
            match c {
                '\n' => break,
                ' ' | '\t' | '\r' => {
                    // End of the word; only blanks or a comment may follow.
                    while i < n && (chars[i] == ' ' || chars[i] == '\t' || chars[i] == '\r') {
                        i += 1;
                    }
                    if i < n && chars[i] != '\n' && chars[i] != '#' {
                        error = Some(alma_ext_i18n::t!(
                            "{key}: unquoted space in the value (quote it: {key}=\"...\")",
                            key = key
                        ));
                    }
                    break;
                }
                '"' => {
                    i += 1;
                    let mut closed = false;
                    while i < n {
                        let d = chars[i];
                        if d == '"' {
                            closed = true;
                            i += 1;
                            break;
                        }
                        if d == '\\' && i + 1 < n {
                            let e = chars[i + 1];
                            match e {
                                '"' | '\\' | '`' | '$' => {
                                    value.push(e);
                                    i += 2;
                                }
                                '\n' => {
                                    // Line continuation.
                                    i += 2;
                                    line += 1;
                                }
                                _ => {
                                    value.push('\\');
                                    i += 1;
                                }
                            }
                            continue;
                        }
                        if d == '\n' {
                            line += 1;
                        }
                        value.push(d);
                        i += 1;
                    }
                    if !closed {
                        error = Some(alma_ext_i18n::t!(
                            "{key}: unterminated double quote",
                            key = key
                        ));
                        break;
                    }
                }
                '\'' => {
                    i += 1;
                    let mut closed = false;
                    while i < n {
                        let d = chars[i];
                        i += 1;
                        if d == '\'' {
                            closed = true;
                            break;
                        }
                        if d == '\n' {
                            line += 1;
                        }
                        value.push(d);
                    }
                    if !closed {
                        error = Some(alma_ext_i18n::t!(
                            "{key}: unterminated single quote",
                            key = key
                        ));
                        break;
                    }
                }
                '\\' => {
                    if i + 1 < n {
                        let e = chars[i + 1];
                        if e == '\n' {
                            line += 1;
                        } else {
                            value.push(e);
                        }
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                '`' | '$' | ';' | '|' | '&' | '<' | '>' | '(' | ')' => {
                    error = Some(alma_ext_i18n::t!(
                        "{key}: shell special character '{char}' must be quoted or escaped",
                        key = key,
                        char = c
                    ));
                    break;
                }
                _ => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        match error {
            Some(message) => {
                out.problems.push(Problem {
                    line: start_line,
                    message,
                });
                // An unterminated quote consumed the rest of the text.
                if i < n {
                    skip_line(&mut i, &mut line);
                }
            }
            None => {
                out.fields.insert(key, value);
                if i < n {
                    skip_line(&mut i, &mut line);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quotes_and_escapes() {
        let o = parse(concat!(
            "NAME=\"AlmaLinux\"\n",
            "# comment\n",
            "\n",
            "VERSION_ID='9.6'\n",
            "PRETTY_NAME=\"Alma \\\"Quoted\\\" \\$x \\\\ \\n\"\n",
            "ID=almalinux\n",
            "SUPPORT_END=2032-06-01 # trailing comment\n",
            "ESC=a\\ b\n",
        ));
        assert_eq!(o.get("NAME"), Some("AlmaLinux"));
        assert_eq!(o.get("VERSION_ID"), Some("9.6"));
        assert_eq!(o.get("PRETTY_NAME"), Some("Alma \"Quoted\" $x \\ \\n"));
        assert_eq!(o.get("ID"), Some("almalinux"));
        assert_eq!(o.get("SUPPORT_END"), Some("2032-06-01"));
        assert_eq!(o.get("ESC"), Some("a b"));
        assert!(o.problems.is_empty(), "{:?}", o.problems);
    }

    #[test]
    fn bad_lines_are_reported_with_line_numbers() {
        let o = parse("NAME=\"x\"\nthis is junk\nID=a b\nGOOD=1\nOPEN=\"never closed\n");
        assert_eq!(o.get("NAME"), Some("x"));
        assert_eq!(o.get("GOOD"), Some("1"));
        assert_eq!(o.get("ID"), None);
        let lines: Vec<usize> = o.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![2, 3, 5]);
    }

    #[test]
    fn last_assignment_wins_and_crlf() {
        let o = parse("ID=a\r\nID=\"b\"\r\n");
        assert_eq!(o.get("ID"), Some("b"));
        assert!(o.problems.is_empty());
    }

    #[test]
    fn multiline_quoted_value_counts_lines() {
        let o = parse("A=\"one\ntwo\"\nB=junk junk\n");
        assert_eq!(o.get("A"), Some("one\ntwo"));
        assert_eq!(o.problems[0].line, 3);
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let o = parse(&s);
            for p in &o.problems {
                prop_assert!(p.line >= 1 && p.line <= s.matches('\n').count() + 1);
            }
        }

        #[test]
        fn never_panics_on_os_release_like_text(
            lines in proptest::collection::vec(
                "[A-Z_]{0,6}=?(\"|'|\\\\)?[ a-z0-9.\"'\\\\$#`]{0,12}(\"|')?", 0..12)
        ) {
            let text = lines.join("\n");
            let o = parse(&text);
            // Every field is a valid key that the text assigns.
            for k in o.fields.keys() {
                prop_assert!(k.starts_with(is_key_start) && k.chars().all(is_key_char), "{k:?}");
                prop_assert!(text.contains(&format!("{k}=")), "{k:?} in {text:?}");
            }
            // One problem per skipped line, in order, each on a real line.
            let last = text.matches('\n').count() + 1;
            for w in o.problems.windows(2) {
                prop_assert!(w[0].line < w[1].line, "{:?}", o.problems);
            }
            for p in &o.problems {
                prop_assert!(p.line >= 1 && p.line <= last);
            }
            // A line `KEY=word` (letters and digits only) that is the only
            // assignment of KEY in a text without quotes or backslashes
            // gives exactly that value.
            if !text.contains(['"', '\'', '\\']) {
                for l in text.lines() {
                    if let Some((k, v)) = l.split_once('=') {
                        let simple = !k.is_empty()
                            && k.starts_with(is_key_start)
                            && k.chars().all(is_key_char)
                            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
                        let once = text.lines().filter(|x| x.starts_with(&format!("{k}="))).count() == 1;
                        if simple && once {
                            prop_assert_eq!(o.get(k), Some(v), "{}", text);
                        }
                    }
                }
            }
        }

        #[test]
        fn double_quoted_roundtrip(v in "[ -~]{0,40}") {
            let mut quoted = String::from("K=\"");
            for c in v.chars() {
                if matches!(c, '"' | '\\' | '`' | '$') {
                    quoted.push('\\');
                }
                quoted.push(c);
            }
            quoted.push('"');
            let o = parse(&quoted);
            prop_assert_eq!(o.get("K"), Some(v.as_str()));
        }
    }
}
