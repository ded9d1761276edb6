//! Errors the user reads in Japanese while their `Display` stays English.
//!
//! An error's `Display` is what logs, journald and `--format json` carry,
//! so it is English whatever the locale. The user reads the same error at
//! the binary's edge, rendered through the catalogue: [`Localize`] on the
//! typed error, [`Localized`] to carry it through an `anyhow` chain, and
//! [`chain`] to print the chain. A message made at run time keeps its
//! msgid and arguments ([`Message`], built with [`msg!`](crate::msg)), so
//! it can be rendered in either language later.

use std::error::Error;
use std::fmt::{self, Display};

use crate::{english, fill, tr};

/// An error whose message the user reads in their language.
pub trait Localize {
    /// The message in the current language; in English, its `Display`.
    fn localized(&self) -> String;
}

/// Implement `Display` as the English rendering of [`Localize`]: the one
/// text of each message is the `t!` (or [`msg!`](crate::msg)) in
/// `localized`.
#[macro_export]
macro_rules! display_in_english {
    ($($ty:ty),+ $(,)?) => {$(
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::english(|| $crate::Localize::localized(self)))
            }
        }
    )+};
}

/// One argument of a [`Message`]: a value as it is, or a message of its
/// own (rendered in the same language as the outer one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Text(String),
    Message(Message),
    /// Messages joined with `; `.
    List(Vec<Message>),
}

/// A message kept as its msgid and arguments: `Display` in English,
/// [`Localize::localized`] in the user's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    msgid: &'static str,
    args: Vec<(&'static str, Arg)>,
}

impl Message {
    /// Prefer [`msg!`](crate::msg): the catalogue check finds its literal.
    pub fn new(msgid: &'static str, args: Vec<(&'static str, Arg)>) -> Message {
        Message { msgid, args }
    }

    /// The English text with its `{placeholders}`.
    pub fn msgid(&self) -> &'static str {
        self.msgid
    }

    fn render(&self, template: &str) -> String {
        let values: Vec<String> = self
            .args
            .iter()
            .map(|(_, a)| match a {
                Arg::Text(s) => s.clone(),
                Arg::Message(m) => m.localized(),
                Arg::List(v) => v
                    .iter()
                    .map(Localize::localized)
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect();
        let pairs: Vec<(&str, &dyn Display)> = self
            .args
            .iter()
            .zip(&values)
            .map(|((n, _), v)| (*n, v as &dyn Display))
            .collect();
        fill(template, &pairs)
    }
}

impl Localize for Message {
    fn localized(&self) -> String {
        self.render(tr(self.msgid))
    }
}

display_in_english!(Message);

impl Error for Message {}

/// Wrapper for the argument conversion of [`msg!`](crate::msg): a nested
/// [`Message`] stays a message, anything else is its `Display`.
#[doc(hidden)]
pub struct ArgOf<'a, T: ?Sized>(pub &'a T);

#[doc(hidden)]
pub trait ArgFromMessage {
    fn arg(&self) -> Arg;
}

impl ArgFromMessage for ArgOf<'_, Message> {
    fn arg(&self) -> Arg {
        Arg::Message(self.0.clone())
    }
}

impl ArgFromMessage for ArgOf<'_, Vec<Message>> {
    fn arg(&self) -> Arg {
        Arg::List(self.0.clone())
    }
}

impl ArgFromMessage for ArgOf<'_, &Message> {
    fn arg(&self) -> Arg {
        Arg::Message((*self.0).clone())
    }
}

impl ArgFromMessage for ArgOf<'_, &Vec<Message>> {
    fn arg(&self) -> Arg {
        Arg::List((*self.0).clone())
    }
}

#[doc(hidden)]
pub trait ArgFromDisplay {
    fn arg(&self) -> Arg;
}

impl<T: Display + ?Sized> ArgFromDisplay for &ArgOf<'_, T> {
    fn arg(&self) -> Arg {
        // In English: a value that is a translated text of its own would
        // otherwise put the user's language into logs and JSON.
        Arg::Text(english(|| self.0.to_string()))
    }
}

/// A [`Message`]: `msg!("cannot read {path}: {error}", path = p.display(),
/// error = e)`. The msgid must be a literal (the catalogue check reads it
/// from the source); an argument that is itself a `Message` (or a
/// `Vec<Message>`, joined with `; `) is rendered in the outer message's
/// language.
#[macro_export]
macro_rules! msg {
    ($msgid:literal) => {
        $crate::Message::new($msgid, ::std::vec::Vec::new())
    };
    ($msgid:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::message::{ArgFromDisplay as _, ArgFromMessage as _};
        $crate::Message::new(
            $msgid,
            ::std::vec![$((stringify!($name), (&$crate::message::ArgOf(&$value)).arg())),+],
        )
    }};
}

/// Implement [`Localize`] and an English `Display` for types with a
/// `fn message(&self) -> Message`.
#[macro_export]
macro_rules! localize_via_message {
    ($($ty:ty),+ $(,)?) => {$(
        impl $crate::Localize for $ty {
            fn localized(&self) -> String {
                $crate::Localize::localized(&self.message())
            }
        }
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.message(), f)
            }
        }
    )+};
}

/// The object-safe pair [`Localized`] holds.
pub trait LocalizedError: Error + Localize + Send + Sync + 'static {}

impl<T: Error + Localize + Send + Sync + 'static> LocalizedError for T {}

/// A [`Localize`] error as one concrete type, so that the edge finds it in
/// an `anyhow` chain (`Display` and `source` are the inner error's).
pub struct Localized(Box<dyn LocalizedError>);

impl Localized {
    pub fn new(e: impl LocalizedError) -> Localized {
        Localized(Box::new(e))
    }
}

impl Localize for Localized {
    fn localized(&self) -> String {
        self.0.localized()
    }
}

impl Display for Localized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Localized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Error for Localized {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// An error chain as the user reads it, on one line (`a: b: c`, as
/// anyhow's `{:#}`): each [`Localized`] link in the current language, the
/// others as their `Display`.
pub fn chain<'a>(links: impl IntoIterator<Item = &'a (dyn Error + 'static)>) -> String {
    let mut out = String::new();
    for link in links {
        if !out.is_empty() {
            out.push_str(": ");
        }
        match link.downcast_ref::<Localized>() {
            Some(l) => out.push_str(&l.localized()),
            None => out.push_str(&link.to_string()),
        }
    }
    out
}

/// The values of `template`'s `{placeholders}` in `text`, when `text` is
/// `template` filled in (each placeholder takes the shortest text up to
/// the literal after it; the last one takes the rest): the reverse of
/// [`fill`](crate::fill), for a record kept in English and shown in the
/// user's language.
pub fn unfill<'a>(template: &'a str, text: &'a str) -> Option<Vec<(&'a str, &'a str)>> {
    let mut values = Vec::new();
    let mut rest = text;
    let mut tpl = template;
    // The literal before the first placeholder.
    let open = tpl.find('{').unwrap_or(tpl.len());
    rest = rest.strip_prefix(&tpl[..open])?;
    tpl = &tpl[open..];
    while let Some(after_open) = tpl.strip_prefix('{') {
        let close = after_open.find('}')?;
        let name = &after_open[..close];
        tpl = &after_open[close + 1..];
        let next = tpl.find('{').unwrap_or(tpl.len());
        let literal = &tpl[..next];
        let value = if next == tpl.len() {
            rest.strip_suffix(literal)?
        } else if literal.is_empty() {
            return None;
        } else {
            &rest[..rest.find(literal)?]
        };
        values.push((name, value));
        rest = &rest[value.len() + literal.len()..];
        tpl = &tpl[next..];
    }
    (rest.is_empty() && tpl.is_empty()).then_some(values)
}

/// A record kept in English (the evidence of `facts`, the error in a
/// state file) rendered in the current language: the first of `templates`
/// it fills in, through the catalogue, each value rendered the same way in
/// turn; else, for a list (`a; b` with `list = ("; ", "; ")`), each part
/// when every part is one; else None (show it as it is).
pub fn render_back(text: &str, templates: &[Message], list: (&str, &str)) -> Option<String> {
    for t in templates {
        if let Some(values) = unfill(t.msgid(), text) {
            let values: Vec<(&str, String)> = values
                .into_iter()
                .map(|(n, v)| {
                    let v = render_back(v, templates, list).unwrap_or_else(|| v.to_string());
                    (n, v)
                })
                .collect();
            let args: Vec<(&str, &dyn Display)> = values
                .iter()
                .map(|(n, v)| (*n, v as &dyn Display))
                .collect();
            return Some(fill(tr(t.msgid()), &args));
        }
    }
    let (sep, joined_by) = list;
    if !text.contains(sep) {
        return None;
    }
    let parts: Option<Vec<String>> = text
        .split(sep)
        .map(|p| render_back(p, templates, list))
        .collect();
    parts.map(|p| p.join(joined_by))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keeps_text_and_nested_messages() {
        let inner = crate::msg!("must be more than 0");
        let m = crate::msg!(
            "{file} line {line}: {key}: {message}",
            file = "/etc/x.toml",
            line = 3,
            key = "a.b",
            message = inner
        );
        assert_eq!(
            m.to_string(),
            "/etc/x.toml line 3: a.b: must be more than 0"
        );
        assert_eq!(crate::english(|| m.localized()), m.to_string());
    }

    #[test]
    fn unfill_reverses_fill() {
        assert_eq!(
            unfill(
                "{product} (EC2 bare metal instance)",
                "m5.metal (EC2 bare metal instance)"
            ),
            Some(vec![("product", "m5.metal")])
        );
        assert_eq!(
            unfill(
                "hypervisor bit {bit}, leaves {leaves}",
                "hypervisor bit 1, leaves a, b"
            ),
            Some(vec![("bit", "1"), ("leaves", "a, b")])
        );
        assert_eq!(unfill("present (docker)", "present (docker)"), Some(vec![]));
        assert_eq!(unfill("present (docker)", "present (podman)"), None);
        assert_eq!(unfill("hypervisor bit {bit}", "SMBIOS bit 1"), None);
    }

    #[test]
    fn a_message_behind_a_reference_stays_a_message() {
        let inner = crate::msg!("must be more than 0");
        let by_ref = &inner;
        let m = crate::msg!("{file}: {message}", file = "/x", message = by_ref);
        assert_eq!(
            m,
            crate::msg!("{file}: {message}", file = "/x", message = inner)
        );
        let list = vec![crate::msg!("a"), crate::msg!("b")];
        let m = crate::msg!("{message}", message = &list);
        assert_eq!(m.to_string(), "a; b");
        assert!(matches!(&m.args[0].1, Arg::List(v) if v.len() == 2));
    }
}
