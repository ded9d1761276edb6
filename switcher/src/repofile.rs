//! A lossless reader and writer of dnf repo files (`/etc/yum.repos.d/*.repo`).
//!
//! The file is kept as its original lines, each with its own line ending,
//! so writing an unchanged file gives back the same bytes: comments, order,
//! whitespace, CRLF, continuation lines, unknown keys and invalid bytes all
//! survive. Edits touch single lines, the way `dnf config-manager
//! --set-disabled` rewrites only the `enabled=` line.
//!
//! Syntax as dnf 4 (libdnf) reads it: `[id]` starts a section; `key=value`
//! (keys case-sensitive, no inline comments); a line starting with `#` or `;`
//! is a comment; an indented line continues the previous value (an error
//! when no key precedes it); a line without `=` makes dnf skip the file.

/// What a line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Empty or only whitespace.
    Blank,
    /// `# ...` or `; ...`.
    Comment,
    /// `[id]`.
    Section { id: String },
    /// `key=value`; `value_at` is the byte offset where the value starts.
    Key { key: String, value_at: usize },
    /// An indented line continuing the previous key's value.
    Continuation,
    /// Anything else: dnf refuses the whole file.
    Invalid,
}

/// One line with its own line ending (`\n`, `\r\n` or none at end of file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    raw: Vec<u8>,
    kind: LineKind,
}

impl Line {
    /// The bytes of the line, line ending included.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn kind(&self) -> &LineKind {
        &self.kind
    }

    /// The line without its line ending.
    pub fn content(&self) -> &[u8] {
        let n = self.raw.len() - eol_len(&self.raw);
        &self.raw[..n]
    }

    /// The line ending bytes (may be empty on the last line).
    pub fn eol(&self) -> &[u8] {
        &self.raw[self.raw.len() - eol_len(&self.raw)..]
    }

    /// The trimmed value of a `Key` line or the text of a continuation,
    /// as libdnf cuts it.
    pub fn value(&self) -> String {
        // libdnf splits lines on `\n` only: a `\r` before it is part of
        // the line, trimmed as white space.
        let line = self.raw.strip_suffix(b"\n").unwrap_or(&self.raw);
        let v = match &self.kind {
            LineKind::Key { value_at, .. } => {
                let start = (*value_at).min(line.len());
                let start = start
                    + line[start..]
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                // `end` is at least the `=`. Only `\r` after spaces: libdnf
                // keeps the rest of the line (its substr length wraps).
                let end = line.iter().rposition(|&b| !is_ws(b)).map_or(0, |e| e + 1);
                if end >= start {
                    &line[start..end]
                } else {
                    &line[start..]
                }
            }
            LineKind::Continuation => trim_ws(line),
            _ => &[][..],
        };
        String::from_utf8_lossy(v).into_owned()
    }
}

/// `v` without libdnf's white space at either end.
fn trim_ws(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|&b| !is_ws(b)).unwrap_or(v.len());
    let end = v.iter().rposition(|&b| !is_ws(b)).map_or(start, |e| e + 1);
    &v[start..end.max(start)]
}

fn eol_len(raw: &[u8]) -> usize {
    if raw.ends_with(b"\r\n") {
        2
    } else if raw.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// libdnf's white space: a line is blank, indented or trimmed by these only.
fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// The UTF-8 byte-order mark libdnf drops from the first line.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// A parsed repo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    lines: Vec<Line>,
}

/// A view of one `[id]` section: the header line and the lines up to the
/// next header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub id: String,
    /// Index of the `[id]` line.
    pub header: usize,
    /// One past the last line of the section.
    pub end: usize,
}

impl RepoFile {
    /// Parse bytes; never fails (invalid lines are kept and marked).
    pub fn parse(bytes: &[u8]) -> RepoFile {
        let mut lines = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let end = match bytes[start..].iter().position(|&b| b == b'\n') {
                Some(i) => start + i + 1,
                None => bytes.len(),
            };
            lines.push(bytes[start..end].to_vec());
            start = end;
        }
        let mut out: Vec<Line> = Vec::with_capacity(lines.len());
        for (n, raw) in lines.into_iter().enumerate() {
            let prev = out.last().map(|l| &l.kind);
            let kind = classify(&raw, prev, n == 0);
            out.push(Line { raw, kind });
        }
        RepoFile { lines: out }
    }

    /// The exact bytes of the file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.lines.iter().map(|l| l.raw.len()).sum());
        for l in &self.lines {
            v.extend_from_slice(&l.raw);
        }
        v
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Line numbers (1-based) of lines dnf cannot parse; when not empty dnf
    /// ignores the whole file.
    pub fn invalid_lines(&self) -> Vec<usize> {
        let mut v = Vec::new();
        let mut in_section = false;
        for (i, l) in self.lines.iter().enumerate() {
            match l.kind {
                LineKind::Invalid => v.push(i + 1),
                LineKind::Section { .. } => in_section = true,
                // A key before any section has nowhere to go.
                LineKind::Key { .. } if !in_section => v.push(i + 1),
                _ => {}
            }
        }
        v
    }

    /// Every `[id]` section in file order (an id may appear twice: dnf
    /// merges them).
    pub fn sections(&self) -> Vec<Section> {
        let mut v: Vec<Section> = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            if let LineKind::Section { id } = &l.kind {
                if let Some(last) = v.last_mut() {
                    last.end = i;
                }
                v.push(Section {
                    id: id.clone(),
                    header: i,
                    end: self.lines.len(),
                });
            }
        }
        v
    }

    /// Indices of the `key=` lines of `key` in a section, in order.
    pub fn key_lines(&self, s: &Section, key: &str) -> Vec<usize> {
        (s.header + 1..s.end)
            .filter(|&i| matches!(&self.lines[i].kind, LineKind::Key { key: k, .. } if k == key))
            .collect()
    }

    /// The value of `key` in the section (the last one wins, as in dnf),
    /// continuation lines joined with a newline.
    pub fn get(&self, s: &Section, key: &str) -> Option<String> {
        let i = *self.key_lines(s, key).last()?;
        Some(self.full_value(i))
    }

    /// The value of the key line at `i` with its continuation lines.
    pub fn full_value(&self, i: usize) -> String {
        let mut parts = vec![self.lines[i].value()];
        let mut j = i + 1;
        while j < self.lines.len() && self.lines[j].kind == LineKind::Continuation {
            parts.push(self.lines[j].value());
            j += 1;
        }
        let v = parts.join("\n");
        // libdnf's trimValue: trailing empty lines go, unless the value is
        // nothing but line breaks (an empty value continued by two blank
        // lines reads "\n\n" in dnf 4.14), then one pair of matching quotes
        // around the whole value.
        let v = match v.trim_end_matches('\n') {
            "" => v.as_str(),
            trimmed => trimmed,
        };
        let b = v.as_bytes();
        if b.len() > 1 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
            return v[1..v.len() - 1].to_string();
        }
        v.to_string()
    }

    /// The text of comment lines in the section, without the comment mark.
    pub fn comments(&self, s: &Section) -> Vec<String> {
        (s.header + 1..s.end)
            .filter(|&i| self.lines[i].kind == LineKind::Comment)
            .map(|i| {
                let c = String::from_utf8_lossy(self.lines[i].content()).into_owned();
                c.trim_start()
                    .trim_start_matches(['#', ';'])
                    .trim()
                    .to_string()
            })
            .collect()
    }

    /// Replace the value of the key line at `i` (and drop its continuation
    /// lines), keeping the key, the spacing around `=` and the line ending.
    pub fn set_value(&mut self, i: usize, value: &str) {
        let (key, value_at) = match &self.lines[i].kind {
            LineKind::Key { key, value_at } => (key.clone(), *value_at),
            _ => panic!("set_value on a line that is not key=value"),
        };
        let content = self.lines[i].content();
        // Keep one space after `=` when the original had one.
        let mut raw = content[..value_at].to_vec();
        raw.extend_from_slice(value.as_bytes());
        raw.extend_from_slice(self.lines[i].eol());
        self.lines[i] = Line {
            raw,
            kind: LineKind::Key { key, value_at },
        };
        let end = self.value_end(i);
        self.lines.drain(i + 1..end);
    }

    /// One past the last continuation line of the key at `i` that holds
    /// text: lines of white space after it are kept as they are (libdnf
    /// drops the empty lines they add at the end of a value).
    fn value_end(&self, i: usize) -> usize {
        let mut end = i + 1;
        let mut j = i + 1;
        while j < self.lines.len() && self.lines[j].kind == LineKind::Continuation {
            j += 1;
            if !trim_ws(self.lines[j - 1].content()).is_empty() {
                end = j;
            }
        }
        end
    }

    /// Turn the line at `i` into a comment by prefixing `#`.
    pub fn comment_out(&mut self, i: usize) {
        let mut raw = b"#".to_vec();
        raw.extend_from_slice(&self.lines[i].raw);
        self.lines[i] = Line {
            raw,
            kind: LineKind::Comment,
        };
        let end = self.value_end(i);
        for j in i + 1..end {
            let mut raw = b"#".to_vec();
            raw.extend_from_slice(&self.lines[j].raw);
            self.lines[j] = Line {
                raw,
                kind: LineKind::Comment,
            };
        }
        // Lines of white space left below a comment read as blank lines.
        let mut j = end;
        while j < self.lines.len() && self.lines[j].kind == LineKind::Continuation {
            self.lines[j].kind = LineKind::Blank;
            j += 1;
        }
    }

    /// The line ending this file uses most (`\n` when it has none).
    pub fn eol_style(&self) -> &'static [u8] {
        let crlf = self.lines.iter().filter(|l| l.eol() == b"\r\n").count();
        let lf = self.lines.iter().filter(|l| l.eol() == b"\n").count();
        if crlf > lf {
            b"\r\n"
        } else {
            b"\n"
        }
    }

    /// Insert `key=value` as a new line after line `i`, with the file's
    /// line ending.
    pub fn insert_key_after(&mut self, i: usize, key: &str, value: &str) {
        let eol = self.eol_style();
        // A last line without a line ending needs one before the new line.
        let mut j = i;
        // Skip the continuation lines of line i, and indented keys right
        // after it: below a new key they would read as its continuation.
        while j + 1 < self.lines.len()
            && (self.lines[j + 1].kind == LineKind::Continuation
                || (matches!(self.lines[j + 1].kind, LineKind::Key { .. })
                    && self.lines[j + 1].raw.first().is_some_and(|&b| is_ws(b))))
        {
            j += 1;
        }
        if self.lines[j].eol().is_empty() {
            self.lines[j].raw.extend_from_slice(eol);
        }
        let mut raw = format!("{key}={value}").into_bytes();
        raw.extend_from_slice(eol);
        self.lines.insert(
            j + 1,
            Line {
                raw,
                kind: LineKind::Key {
                    key: key.to_string(),
                    value_at: key.len() + 1,
                },
            },
        );
    }

    /// The last line that belongs to the section's content (its last
    /// key, continuation or comment line; the header when it has none):
    /// new keys go after it, before the blank lines that separate sections.
    pub fn last_content_line(&self, s: &Section) -> usize {
        let mut last = s.header;
        for i in s.header + 1..s.end {
            if matches!(
                self.lines[i].kind,
                LineKind::Key { .. } | LineKind::Continuation
            ) {
                last = i;
            }
        }
        last
    }
}

fn classify(raw: &[u8], prev: Option<&LineKind>, first_line: bool) -> LineKind {
    let content = &raw[..raw.len() - eol_len(raw)];
    // libdnf drops a byte-order mark from the first line only.
    let skip = if first_line && content.starts_with(BOM) {
        BOM.len()
    } else {
        0
    };
    let line = &content[skip..];
    // A comment starts in the first column; `  # text` is not one.
    if matches!(line.first(), Some(b'#' | b';')) {
        return LineKind::Comment;
    }
    let Some(first) = line.iter().position(|&b| !is_ws(b)) else {
        // Only white space: an empty line ends a value, but a line of
        // spaces, tabs or `\r` (a blank line of a CRLF file) continues it
        // with an empty line, as libdnf reads it.
        let with_cr = raw.strip_suffix(b"\n").unwrap_or(raw);
        let continues = with_cr.len() > skip
            && matches!(prev, Some(LineKind::Key { .. } | LineKind::Continuation));
        return if continues {
            LineKind::Continuation
        } else {
            LineKind::Blank
        };
    };
    if line[first] == b'[' {
        // A header, indented or not: `[id]`, then only white space or a
        // comment; libdnf never looks at the last character of the line.
        let Some(close) = line[first + 1..].iter().position(|&b| b == b']') else {
            return LineKind::Invalid;
        };
        let close = first + 1 + close;
        if close == first + 1 {
            return LineKind::Invalid;
        }
        let last = line.iter().rposition(|&b| !is_ws(b)).unwrap_or(close);
        for &b in &line[(close + 1).min(last)..last] {
            if b == b'#' || b == b';' {
                break;
            }
            if !is_ws(b) {
                return LineKind::Invalid;
            }
        }
        // Not trimmed: dnf takes `[ x ]` as the id " x " (and rejects it).
        let id = String::from_utf8_lossy(&line[first + 1..close]).into_owned();
        return LineKind::Section { id };
    }
    // An indented line, even `  # text`, continues the previous key's
    // value, and is an error (dnf skips the file) when no key line
    // precedes it directly.
    if first > 0 {
        return if matches!(prev, Some(LineKind::Key { .. } | LineKind::Continuation)) {
            LineKind::Continuation
        } else {
            LineKind::Invalid
        };
    }
    if let Some(eq) = line.iter().position(|&b| b == b'=') {
        if eq == 0 {
            return LineKind::Invalid;
        }
        let key_end = line[..eq]
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |e| e + 1);
        let key = String::from_utf8_lossy(&line[..key_end]).into_owned();
        let mut value_at = eq + 1;
        while value_at < line.len() && (line[value_at] == b' ' || line[value_at] == b'\t') {
            value_at += 1;
        }
        return LineKind::Key {
            key,
            value_at: skip + value_at,
        };
    }
    LineKind::Invalid
}

/// dnf's booleans: `1/yes/true/on` and `0/no/false/off`; anything else is
/// None (dnf rejects it).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_continuation_round_trip() {
        let t = b"[a]\r\nbaseurl=http://x/\r\n  http://y/\r\nenabled = 1\r\n";
        let mut f = RepoFile::parse(t);
        assert_eq!(f.to_bytes(), t);
        let s = &f.sections()[0];
        assert_eq!(f.get(s, "baseurl").unwrap(), "http://x/\nhttp://y/");
        let i = f.key_lines(s, "enabled")[0];
        f.set_value(i, "0");
        assert_eq!(
            f.to_bytes(),
            b"[a]\r\nbaseurl=http://x/\r\n  http://y/\r\nenabled = 0\r\n"
        );
    }

    #[test]
    fn insert_after_last_line_without_eol() {
        let mut f = RepoFile::parse(b"[a]\nname=x");
        let s = f.sections()[0].clone();
        let last = f.last_content_line(&s);
        f.insert_key_after(last, "enabled", "0");
        assert_eq!(f.to_bytes(), b"[a]\nname=x\nenabled=0\n");
    }

    #[test]
    fn indented_lines_follow_libdnf() {
        // Checked against dnf 4.14: an indented comment after a key is part
        // of the value; indented lines after a comment, a blank line or a
        // header make dnf skip the file.
        let f = RepoFile::parse(b"[t]\nbaseurl=a\n  # c\nname=x\n");
        assert_eq!(f.lines()[2].kind(), &LineKind::Continuation);
        assert!(f.invalid_lines().is_empty());
        for bad in [
            &b"[t]\nname=x\n# c\n  more\n"[..],
            b"[t]\nname=x\n\n  gpgcheck=0\n",
            b"[t]\n  name=x\n",
            b"  # c\n[t]\n",
        ] {
            assert!(!RepoFile::parse(bad).invalid_lines().is_empty());
        }
        // A whitespace-only line is blank.
        assert!(RepoFile::parse(b"[t]\nbaseurl=a\n   \nname=x\n")
            .invalid_lines()
            .is_empty());
    }

    #[test]
    fn invalid_line_is_reported() {
        let f = RepoFile::parse(b"[a]\nname=x\nthis is junk\n");
        assert_eq!(f.invalid_lines(), vec![3]);
    }
}
