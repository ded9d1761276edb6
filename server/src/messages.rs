//! What the terminal shows for the server's typed errors, in the reader's
//! language. The error types keep an English `Display` (logs, journald and
//! the API's JSON read it); the CLI edge renders them through the
//! catalogue with their `localized` methods, one entry per message. File
//! names, lines, keys, URLs and ids stay as they are.

/// The operating system's reasons, shared with `alma-ext`.
pub use alma_ext_stdio::io_reason;

/// An error that reached the binary's edge, in the reader's language: a
/// typed error of the server (the store's, TLS, the licence engine's)
/// through its `localized`;
/// anything else (messages the CLI already wrote through the catalogue) as
/// its chain says it.
pub fn failure(e: &anyhow::Error) -> String {
    if let Some(s) = e.downcast_ref::<crate::store::StoreError>() {
        return s.localized();
    }
    if let Some(s) = e.downcast_ref::<crate::store::OpenError>() {
        return s.localized();
    }
    if let Some(s) = e.downcast_ref::<crate::serve::TlsError>() {
        return s.localized();
    }
    if let Some(s) = e.downcast_ref::<crate::license::inventory::InventoryError>() {
        return s.localized();
    }
    format!("{e:#}")
}

/// A lifecycle table's release that does not validate, in the reader's
/// language: the field path as it is.
pub fn invalid_release(e: &alma_ext_proto::lifecycle::InvalidRelease) -> String {
    use alma_ext_i18n::t;
    use alma_ext_proto::lifecycle::{ReleaseProblem, FIRST_DATE, LAST_DATE};
    let reason = match &e.problem {
        ReleaseProblem::OutsideDates(d) => t!(
            "{date} is outside {first} .. {last}",
            date = d,
            first = FIRST_DATE,
            last = LAST_DATE
        ),
        ReleaseProblem::Order => t!("dates must satisfy ga <= active_end <= security_end").into(),
        ReleaseProblem::EndsBeforeSecurityEnd => t!("must be after security_end").into(),
    };
    t!(
        "{field}: {message}",
        field = format!("releases[major={}].{}", e.major, e.field),
        message = reason
    )
}

/// What `serde_json` says is wrong, without the position it appends
/// (` at line 3 column 5`): the caller names the line and column itself.
pub fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&at).unwrap_or(&text).to_owned()
}

/// A reason `serde` or `serde_json` gives (the shapes they use, such as
/// ``missing field `type` at line 3 column 5``) in the reader's language:
/// under Japanese the common shapes in Japanese with the names, values and
/// position kept; any other shape, and English, as it is.
pub fn serde_reason(text: &str) -> String {
    use alma_ext_i18n::t;
    if !alma_ext_i18n::is_japanese() {
        return text.to_owned();
    }
    if let Some(body) = text.strip_suffix(" (text after the inventory object)") {
        return t!(
            "{reason} (text after the inventory object)",
            reason = serde_reason(body)
        );
    }
    let (body, at) = match text.rsplit_once(" at line ") {
        Some((body, pos)) => match pos.split_once(" column ") {
            Some((l, c)) if l.parse::<u64>().is_ok() && c.parse::<u64>().is_ok() => {
                (body, Some((l, c)))
            }
            _ => (text, None),
        },
        None => (text, None),
    };
    let said = serde_body(body).unwrap_or_else(|| body.to_owned());
    match at {
        Some((line, column)) => t!(
            "{reason} (line {line}, column {column})",
            reason = said,
            line = line,
            column = column
        ),
        None => said,
    }
}

/// `expected one of `a`, `b``, `` `a` or `b` ``: the names as a list.
fn expected_list(s: &str) -> String {
    let s = s.strip_prefix("expected ").unwrap_or(s);
    let s = s.strip_prefix("one of ").unwrap_or(s);
    s.replace(" or ", ", ")
}

fn serde_body(body: &str) -> Option<String> {
    use alma_ext_i18n::t;
    if let Some(field) = body.strip_prefix("missing field ") {
        return Some(t!("missing field {field}", field = field));
    }
    if let Some(field) = body.strip_prefix("duplicate field ") {
        return Some(t!("duplicate field {field}", field = field));
    }
    if let Some(rest) = body.strip_prefix("unknown field ") {
        let (field, expected) = rest.split_once(", ")?;
        if expected == "there are no fields" {
            return Some(t!("unknown field {field}", field = field));
        }
        return Some(t!(
            "unknown field {field}; expected {expected}",
            field = field,
            expected = expected_list(expected)
        ));
    }
    if let Some(rest) = body.strip_prefix("unknown variant ") {
        let (value, expected) = rest.split_once(", ")?;
        return Some(t!(
            "unknown value {value}; expected {expected}",
            value = value,
            expected = expected_list(expected)
        ));
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = body.strip_prefix(prefix) {
            let (found, expected) = rest.rsplit_once(", expected ")?;
            return Some(t!(
                "{found} is given where {expected} is expected",
                found = found,
                expected = expected
            ));
        }
    }
    if let Some(value) = body.strip_prefix("must be 0 or more, got ") {
        return Some(t!("must be 0 or more, got {value}", value = value));
    }
    if let Some((value, max)) = body.split_once(" is more than the largest accepted count ") {
        return Some(t!(
            "{value} is more than the largest accepted count {max}",
            value = value,
            max = max
        ));
    }
    Some(match body {
        "expected value" => t!("expected value").into(),
        "trailing characters" => t!("trailing characters").into(),
        "key must be a string" => t!("key must be a string").into(),
        "invalid number" => t!("invalid number").into(),
        _ if body.starts_with("EOF while parsing") => t!("the text ends too early").into(),
        _ => {
            let what = body.strip_prefix("expected ")?;
            t!("expected {what}", what = what.replace(" or ", " または "))
        }
    })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_reaching_the_edge_are_rendered_once() {
        let e = anyhow::Error::from(crate::store::StoreError::NoFile("/x/fleet.db".into()));
        assert_eq!(
            alma_ext_i18n::english(|| failure(&e)),
            "no database file at /x/fleet.db"
        );
        let e = anyhow::anyhow!("already said").context("outer");
        assert_eq!(failure(&e), "outer: already said");
    }

    #[test]
    fn json_reasons_leave_the_position_to_the_caller() {
        let e = serde_json::from_str::<serde_json::Value>("{\n  \"a\": }").unwrap_err();
        assert_eq!((e.line(), e.column()), (2, 8));
        assert_eq!(json_reason(&e), "expected value");
    }

    #[test]
    fn serde_reasons_keep_names_values_and_position() {
        assert_eq!(
            alma_ext_i18n::english(|| serde_reason("missing field `type` at line 3 column 5")),
            "missing field `type` at line 3 column 5"
        );
        assert_eq!(
            expected_list("expected one of `a`, `b`, `c`"),
            "`a`, `b`, `c`"
        );
        assert_eq!(
            expected_list("expected `physical` or `virtual`"),
            "`physical`, `virtual`"
        );
        assert_eq!(
            serde_body("unknown variant `container`, expected `physical` or `virtual`"),
            Some(alma_ext_i18n::t!(
                "unknown value {value}; expected {expected}",
                value = "`container`",
                expected = "`physical`, `virtual`"
            ))
        );
        assert_eq!(serde_body("something new"), None);
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_column("a = 1\nbb = x\n", 0), (1, 1));
        assert_eq!(line_column("a = 1\nbb = x\n", 11), (2, 6));
        assert_eq!(line_column("日本 = x", 7), (1, 4));
        assert_eq!(line_column("a", 99), (1, 2));
    }
}
