//! `--help` in Japanese: the clap derive definitions stay as they are (the
//! English help is exactly what they say); under Japanese the built
//! `clap::Command` tree is walked and every about, help and after-help text
//! replaced by its catalogue entry, with the headings clap writes itself
//! ("Usage:", "Options:", "[default: ...]") in Japanese too.

use clap::builder::StyledStr;
use clap::{Arg, Command};

use crate::lookup;

const TEMPLATE: &str = "\
{before-help}{about-with-newline}
使い方: {usage}

{all-args}{after-help}";

/// `text` translated, or as it is when the catalogue has no entry (the
/// completeness test makes sure it has).
fn ja(text: &StyledStr) -> String {
    let s = text.to_string();
    lookup(&s).map(str::to_owned).unwrap_or(s)
}

/// Every text of `cmd` (built first) and its subcommands in Japanese.
pub fn localize(mut cmd: Command) -> Command {
    cmd.build();
    localize_built(cmd)
}

fn localize_built(mut cmd: Command) -> Command {
    if let Some(s) = cmd.get_about().map(ja) {
        cmd = cmd.about(s);
    }
    if let Some(s) = cmd.get_long_about().map(ja) {
        cmd = cmd.long_about(s);
    }
    if let Some(s) = cmd.get_before_help().map(ja) {
        cmd = cmd.before_help(s);
    }
    if let Some(s) = cmd.get_before_long_help().map(ja) {
        cmd = cmd.before_long_help(s);
    }
    if let Some(s) = cmd.get_after_help().map(ja) {
        cmd = cmd.after_help(s);
    }
    if let Some(s) = cmd.get_after_long_help().map(ja) {
        cmd = cmd.after_long_help(s);
    }
    cmd.help_template(TEMPLATE)
        .subcommand_help_heading("コマンド")
        .mut_args(localize_arg)
        .mut_subcommands(localize_built)
}

fn localize_arg(mut arg: Arg) -> Arg {
    let mut extra = Vec::new();
    let takes_value = arg.get_action().takes_values();
    if takes_value && !arg.is_hide_default_value_set() && !arg.get_default_values().is_empty() {
        let values: Vec<_> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        extra.push(format!("[既定値: {}]", values.join(", ")));
        arg = arg.hide_default_value(true);
    }
    let possible = arg.get_possible_values();
    if takes_value && !arg.is_hide_possible_values_set() && !possible.is_empty() {
        let names: Vec<_> = possible
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| p.get_name().to_owned())
            .collect();
        extra.push(format!("[指定できる値: {}]", names.join(", ")));
        arg = arg.hide_possible_values(true);
    }
    let with_extra = |text: Option<String>| -> Option<String> {
        match (text, extra.is_empty()) {
            (t, true) => t,
            (Some(t), false) => Some(format!("{t} {}", extra.join(" "))),
            (None, false) => Some(extra.join(" ")),
        }
    };
    let help = with_extra(arg.get_help().map(ja));
    let long_help = arg.get_long_help().map(ja);
    let long_help = if long_help.is_some() {
        with_extra(long_help)
    } else {
        None
    };
    if let Some(h) = help {
        arg = arg.help(h);
    }
    if let Some(h) = long_help {
        arg = arg.long_help(h);
    }
    if arg.get_help_heading().is_none() {
        let heading = if arg.is_positional() {
            "引数"
        } else {
            "オプション"
        };
        arg = arg.help_heading(heading);
    }
    arg
}

/// Parse the command line of `C` (`C::try_parse()`); only when clap has
/// something to say (`--help`, `--version`, a usage error) under Japanese,
/// parse again with the localized tree, so a command that runs never
/// builds it.
pub fn parse<C: clap::Parser>() -> Result<C, clap::Error> {
    let err = match C::try_parse() {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    if !crate::is_japanese() {
        return Err(err);
    }
    let mut cmd = localize(C::command());
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    C::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// clap's usage errors in Japanese (clap has no catalogue of its own): every
/// kind a command line can cause, from the error's context (the argument,
/// the value, the valid values, the usage line). `None` for the kinds that
/// are not usage errors (help, version, I/O while printing), which keep
/// clap's own rendering. The exit code stays clap's (2).
pub fn render_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind as K, ContextValue as V, ErrorKind};
    let one = |k| match e.get(k) {
        Some(V::String(s)) => Some(s.clone()),
        Some(V::StyledStr(s)) => Some(s.to_string()),
        Some(V::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let many = |k, sep: &str| match e.get(k) {
        Some(V::String(s)) => Some(s.clone()),
        Some(V::Strings(v)) => Some(v.join(sep)),
        Some(V::StyledStrs(v)) => Some(
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(sep),
        ),
        _ => None,
    };
    let mut out = match e.kind() {
        ErrorKind::UnknownArgument => {
            format!("エラー: 引数 '{}' は使えません", one(K::InvalidArg)?)
        }
        ErrorKind::InvalidSubcommand => format!(
            "エラー: サブコマンド '{}' はありません",
            one(K::InvalidSubcommand)?
        ),
        ErrorKind::InvalidValue if one(K::InvalidValue).is_some_and(|v| v.is_empty()) => {
            let mut m = format!("エラー: {} には値が必要です", one(K::InvalidArg)?);
            if let Some(v) = many(K::ValidValue, ", ").filter(|v| !v.is_empty()) {
                m.push_str(&format!("\n  [指定できる値: {v}]"));
            }
            m
        }
        ErrorKind::InvalidValue => {
            let mut m = format!(
                "エラー: {} に値 '{}' は指定できません",
                one(K::InvalidArg)?,
                one(K::InvalidValue)?
            );
            if let Some(v) = many(K::ValidValue, ", ").filter(|v| !v.is_empty()) {
                m.push_str(&format!("\n  [指定できる値: {v}]"));
            }
            m
        }
        ErrorKind::NoEquals => format!(
            "エラー: {} に値を指定するには等号 (=) が必要です",
            one(K::InvalidArg)?
        ),
        ErrorKind::ValueValidation => format!(
            "エラー: {} の値 '{}' が正しくありません: {}",
            one(K::InvalidArg)?,
            one(K::InvalidValue)?,
            reason_ja(std::error::Error::source(e)?)
        ),
        ErrorKind::TooManyValues => format!(
            "エラー: {} には値 '{}' を指定できません (これ以上の値は受け付けません)",
            one(K::InvalidArg)?,
            one(K::InvalidValue)?
        ),
        ErrorKind::TooFewValues => format!(
            "エラー: {} には値が {} 個以上必要ですが、{} 個しか指定されていません",
            one(K::InvalidArg)?,
            one(K::MinValues)?,
            one(K::ActualNumValues)?
        ),
        ErrorKind::WrongNumberOfValues => format!(
            "エラー: {} には値が {} 個必要ですが、{} 個指定されています",
            one(K::InvalidArg)?,
            one(K::ExpectedNumValues)?,
            one(K::ActualNumValues)?
        ),
        ErrorKind::ArgumentConflict => {
            let prior = many(K::PriorArg, ", ");
            match (one(K::InvalidArg), one(K::InvalidSubcommand)) {
                (Some(arg), _) if prior.as_deref() == Some(arg.as_str()) => {
                    format!("エラー: 引数 '{arg}' は一度しか指定できません")
                }
                (Some(arg), _) => match prior {
                    Some(p) => format!("エラー: 引数 '{arg}' は {p} と一緒には使えません"),
                    None => format!("エラー: 引数 '{arg}' はほかの引数と一緒には使えません"),
                },
                (None, Some(sub)) => match prior {
                    Some(p) => format!("エラー: サブコマンド '{sub}' は {p} と一緒には使えません"),
                    None => {
                        format!("エラー: サブコマンド '{sub}' はほかの引数と一緒には使えません")
                    }
                },
                (None, None) => return None,
            }
        }
        ErrorKind::MissingRequiredArgument => format!(
            "エラー: 次の必須の引数が指定されていません:\n  {}",
            many(K::InvalidArg, "\n  ")?
        ),
        ErrorKind::MissingSubcommand => {
            let mut m = match one(K::InvalidSubcommand) {
                Some(parent) => format!("エラー: '{parent}' にはサブコマンドを指定してください"),
                None => "エラー: サブコマンドを指定してください".to_string(),
            };
            if let Some(v) = many(K::ValidSubcommand, ", ").filter(|v| !v.is_empty()) {
                m.push_str(&format!("\n  [サブコマンド: {v}]"));
            }
            m
        }
        ErrorKind::InvalidUtf8 => {
            "エラー: 引数に UTF-8 として正しくない文字が含まれています".to_string()
        }
        // Help, version, and errors that are not the command line's.
        _ => return None,
    };
    let mut hints = Vec::new();
    let suggested = one(K::SuggestedArg)
        .or_else(|| many(K::SuggestedSubcommand, "', '"))
        .or_else(|| many(K::SuggestedValue, "', '"));
    if let Some(sugg) = suggested.filter(|s| !s.is_empty()) {
        hints.push(format!("'{sugg}' のことですか?"));
    }
    if let Some(V::StyledStrs(tips)) = e.get(K::Suggested) {
        hints.extend(tips.iter().map(|t| tip_ja(&t.to_string())));
    }
    if !hints.is_empty() {
        out.push('\n');
    }
    for h in hints {
        out.push_str(&format!("\n  ヒント: {h}"));
    }
    if let Some(usage) = one(K::Usage) {
        let usage = usage.strip_prefix("Usage:").unwrap_or(&usage).trim();
        out.push_str(&format!("\n\n使い方: {usage}"));
    }
    out.push_str("\n\n詳しくは '--help' をご覧ください。\n");
    Some(out)
}

/// Why a value did not parse, for the value parsers of the standard
/// library (numbers, addresses) and of dates (`YYYY-MM-DD`), whose reasons
/// are English; any other parser's reason (ours, already in the reader's
/// language) as it is.
fn reason_ja(source: &(dyn std::error::Error + 'static)) -> String {
    use std::num::IntErrorKind as I;
    if let Some(e) = source.downcast_ref::<std::num::ParseIntError>() {
        let why = match e.kind() {
            I::Empty => "値が空です",
            I::InvalidDigit => "整数ではありません",
            I::PosOverflow => "大きすぎます",
            I::NegOverflow => "小さすぎます",
            I::Zero => "0 は指定できません",
            _ => return e.to_string(),
        };
        return why.to_string();
    }
    if source.is::<std::num::ParseFloatError>() {
        return "数値ではありません".to_string();
    }
    if source.is::<std::net::AddrParseError>() {
        return "アドレスの形式が正しくありません (例: 0.0.0.0:8080)".to_string();
    }
    let text = source.to_string();
    // clap's ranged integers: "0 is not in 1..18446744073709551615".
    if let Some((value, range)) = text.split_once(" is not in ") {
        if !value.contains(' ') && !range.contains(' ') {
            return format!("{value} は {range} の範囲外です");
        }
    }
    let why = match text.as_str() {
        // chrono's reasons for a date that does not parse.
        "input contains invalid characters" | "premature end of input" | "trailing input" => {
            "YYYY-MM-DD 形式の日付ではありません"
        }
        "input is out of range" | "no possible date and time matching input" => {
            "存在しない日付です"
        }
        _ => return text,
    };
    why.to_string()
}

/// One of clap's tips (the `Suggested` context, English sentences around
/// the names) in Japanese; a tip of another shape as clap wrote it.
fn tip_ja(tip: &str) -> String {
    // "to pass '-x' as a value, use '-- -x'"
    if let Some((value, how)) = tip
        .strip_prefix("to pass '")
        .and_then(|r| r.split_once("' as a value, use '"))
    {
        if let Some(how) = how.strip_suffix('\'') {
            return format!("'{value}' を値として渡すには '{how}' と指定してください");
        }
    }
    // "subcommand 'list' exists; to use it, remove the '--' before it"
    if let Some(sub) = tip
        .strip_prefix("subcommand '")
        .and_then(|r| r.strip_suffix("' exists; to use it, remove the '--' before it"))
    {
        return format!("サブコマンド '{sub}' があります。使うには前の '--' を取り除いてください");
    }
    // "'list --format' exists"
    if let Some(exists) = tip.strip_suffix(" exists") {
        if exists.starts_with('\'') && exists.ends_with('\'') {
            return format!("{exists} があります");
        }
    }
    tip.to_owned()
}

/// Every text of `cmd`'s tree that [`localize`] looks up, built as the
/// binary builds it: for the catalogue check.
pub fn texts(cmd: Command) -> Vec<String> {
    fn walk(cmd: &Command, out: &mut Vec<String>) {
        let texts = [
            cmd.get_about(),
            cmd.get_long_about(),
            cmd.get_before_help(),
            cmd.get_before_long_help(),
            cmd.get_after_help(),
            cmd.get_after_long_help(),
        ];
        out.extend(texts.into_iter().flatten().map(ToString::to_string));
        for a in cmd.get_arguments() {
            out.extend(a.get_help().map(ToString::to_string));
            out.extend(a.get_long_help().map(ToString::to_string));
        }
        for s in cmd.get_subcommands() {
            walk(s, out);
        }
    }
    let mut cmd = cmd;
    cmd.build();
    let mut out = Vec::new();
    walk(&cmd, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_tips_are_japanese() {
        assert_eq!(
            tip_ja("to pass '-x' as a value, use '-- -x'"),
            "'-x' を値として渡すには '-- -x' と指定してください"
        );
        assert_eq!(
            tip_ja("subcommand 'list' exists; to use it, remove the '--' before it"),
            "サブコマンド 'list' があります。使うには前の '--' を取り除いてください"
        );
        assert_eq!(
            tip_ja("'list --format' exists"),
            "'list --format' があります"
        );
        assert_eq!(tip_ja("something else"), "something else");
    }
}
