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

/// clap's usage errors in Japanese (clap has no catalogue of its own): the
/// kinds a user meets, from the error's context (the argument, the value,
/// the valid values, the usage line). `None` for any other kind, which
/// keeps clap's English. The exit code stays clap's (2).
pub fn render_error(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind as K, ContextValue as V, ErrorKind};
    let one = |k| match e.get(k) {
        Some(V::String(s)) => Some(s.clone()),
        Some(V::StyledStr(s)) => Some(s.to_string()),
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
            format!("エラー: {} には値が必要です", one(K::InvalidArg)?)
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
        ErrorKind::ValueValidation => format!(
            "エラー: {} の値 '{}' が正しくありません: {}",
            one(K::InvalidArg)?,
            one(K::InvalidValue)?,
            std::error::Error::source(e)?
        ),
        ErrorKind::MissingRequiredArgument => format!(
            "エラー: 次の必須の引数が指定されていません:\n  {}",
            many(K::InvalidArg, "\n  ")?
        ),
        ErrorKind::ArgumentConflict => format!(
            "エラー: 引数 '{}' は {} と一緒には使えません",
            one(K::InvalidArg)?,
            many(K::PriorArg, ", ")?
        ),
        ErrorKind::MissingSubcommand => "エラー: サブコマンドを指定してください".to_string(),
        _ => return None,
    };
    let suggested = one(K::SuggestedArg).or_else(|| many(K::SuggestedSubcommand, "', '"));
    if let Some(sugg) = suggested {
        out.push_str(&format!("\n\n  ヒント: '{sugg}' のことですか?"));
    }
    if let Some(usage) = one(K::Usage) {
        let usage = usage.strip_prefix("Usage:").unwrap_or(&usage).trim();
        out.push_str(&format!("\n\n使い方: {usage}"));
    }
    out.push_str("\n\n詳しくは '--help' をご覧ください。\n");
    Some(out)
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
