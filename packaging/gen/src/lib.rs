//! Man pages and shell completions for the alma-ext RPMs, generated from the
//! same clap definitions the binaries parse, so `--help`, `man alma-ext` and
//! Tab completion never disagree.
//!
//! Rendering is pure (command in, files as bytes out); only [`write_all`]
//! touches the filesystem.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Command;
use clap_complete::Shell;

/// One generated file: its path relative to the output directory, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory, e.g. `man/man1/alma-ext.1`.
    pub path: PathBuf,
    /// The file's content.
    pub content: Vec<u8>,
}

/// Man pages (section 1) for `cmd` and, recursively, each of its
/// subcommands: `alma-ext.1`, `alma-ext-switch.1`, ... (the names man(1) and
/// a unit's `Documentation=man:alma-ext-agent(1)` look up). The synopsis of a
/// subcommand page shows how it is typed (`alma-ext switch ...`). The
/// implicit `help` subcommand and hidden ones get no page.
pub fn man_pages(cmd: &Command) -> Result<Vec<GeneratedFile>> {
    man_pages_in(cmd, "man/man1")
}

/// The same man pages in Japanese, under `man/ja/man1/` (what `man -L ja`
/// and a Japanese locale read): every text from the catalogue
/// `i18n/po/ja.po`, the section headings in Japanese.
pub fn man_pages_ja(cmd: &Command) -> Result<Vec<GeneratedFile>> {
    // The help subcommand goes before the tree is built (and localized).
    let cmd = alma_ext_i18n::localize(cmd.clone().disable_help_subcommand(true));
    let mut pages = man_pages_in(&cmd, "man/ja/man1")?;
    for page in &mut pages {
        page.content = ja_headings(&String::from_utf8_lossy(&page.content)).into_bytes();
    }
    Ok(pages)
}

/// clap_mangen's section headings in Japanese, as Japanese man pages name
/// them.
fn ja_headings(page: &str) -> String {
    const HEADINGS: [(&str, &str); 9] = [
        (".SH NAME\n", ".SH 名前\n"),
        (".SH SYNOPSIS\n", ".SH 書式\n"),
        (".SH DESCRIPTION\n", ".SH 説明\n"),
        (".SH OPTIONS\n", ".SH オプション\n"),
        (".SH SUBCOMMANDS\n", ".SH サブコマンド\n"),
        (".SH VERSION\n", ".SH バージョン\n"),
        (".SH AUTHORS\n", ".SH 作者\n"),
        (".SH \"EXIT STATUS\"\n", ".SH 終了ステータス\n"),
        (".SH \"NOTES\"\n", ".SH 注記\n"),
    ];
    let mut out = page.to_owned();
    for (en, ja) in HEADINGS {
        out = out.replace(en, ja);
    }
    out
}

fn man_pages_in(cmd: &Command, dir: &str) -> Result<Vec<GeneratedFile>> {
    // Building sets each subcommand's display name ("alma-ext-switch") and
    // bin name ("alma-ext switch"), which clap_mangen uses for file and synopsis.
    let mut cmd = cmd.clone().disable_help_subcommand(true);
    cmd.build();
    let source = format!(
        "{} {}",
        cmd.get_name(),
        cmd.get_version().unwrap_or_default()
    );
    let mut out = Vec::new();
    collect_man_pages(&cmd, &source, dir, &mut out)?;
    Ok(out)
}

fn collect_man_pages(
    cmd: &Command,
    source: &str,
    dir: &str,
    out: &mut Vec<GeneratedFile>,
) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone()).source(source.to_owned());
    let file_name = man.get_filename();
    let mut content = Vec::new();
    man.render(&mut content)
        .with_context(|| format!("rendering the man page {file_name}"))?;
    let content = match cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        Some(text) => replace_extra_section(&String::from_utf8_lossy(&content), &text.to_string())
            .into_bytes(),
        None => content,
    };
    out.push(GeneratedFile {
        path: PathBuf::from(format!("{dir}/{file_name}")),
        content,
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect_man_pages(sub, source, dir, out)?;
    }
    Ok(())
}

/// clap_mangen puts `after_long_help` in an "EXTRA" section as filled text,
/// which reflows a table such as the exit codes into a jumble. Replace it
/// with a preformatted section named after the text's first line: "Exit
/// codes:" becomes the conventional EXIT STATUS section.
fn replace_extra_section(page: &str, text: &str) -> String {
    let Some(start) = page.find(".SH EXTRA\n") else {
        return page.to_owned();
    };
    let end = page[start + 1..]
        .find("\n.SH ")
        .map(|i| start + 1 + i + 1)
        .unwrap_or(page.len());
    let (heading, body) = match text.split_once('\n') {
        Some((first, rest))
            if first.trim_end().eq_ignore_ascii_case("exit codes:")
                || first.trim_end() == "終了コード:" =>
        {
            ("EXIT STATUS", rest)
        }
        _ => ("NOTES", text),
    };
    let mut section = format!(".SH \"{heading}\"\n.nf\n");
    for line in body.lines() {
        section.push_str(&roff_escape_line(line));
        section.push('\n');
    }
    section.push_str(".fi\n");
    format!("{}{}{}", &page[..start], section, &page[end..])
}

/// Escape one line of literal text for roff: backslashes, hyphens (so they
/// render as ASCII minus and copy-paste as flags), and a leading control char.
fn roff_escape_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// Completion scripts for bash and zsh, at the paths where the distribution's
/// shells look for them once installed under `/usr/share`:
/// `bash-completion/completions/<bin>` and `zsh/site-functions/_<bin>`.
pub fn completions(cmd: &Command) -> Vec<GeneratedFile> {
    let bin = cmd.get_name().to_owned();
    [
        (Shell::Bash, format!("bash-completion/completions/{bin}")),
        (Shell::Zsh, format!("zsh/site-functions/_{bin}")),
    ]
    .into_iter()
    .map(|(shell, path)| {
        let mut cmd = cmd.clone();
        let mut content = Vec::new();
        clap_complete::generate(shell, &mut cmd, bin.clone(), &mut content);
        GeneratedFile {
            path: PathBuf::from(path),
            content,
        }
    })
    .collect()
}

/// Everything the packages ship for one program: its man pages and completions.
pub fn all_files(cmd: &Command) -> Result<Vec<GeneratedFile>> {
    let mut files = man_pages(cmd)?;
    files.extend(man_pages_ja(cmd)?);
    files.extend(completions(cmd));
    Ok(files)
}

/// Write `files` under `out_dir`, creating directories as needed.
pub fn write_all(out_dir: &Path, files: &[GeneratedFile]) -> Result<()> {
    for f in files {
        let path = out_dir.join(&f.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, &f.content).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_become_a_preformatted_exit_status_section() {
        let page = ".TH x 1\n.SH NAME\nx\n.SH EXTRA\nExit codes:\n  0 ok\n.SH VERSION\nv1\n";
        let out =
            replace_extra_section(page, "Exit codes:\n  0   success\n  2   bad --flag\n.dot\n");
        assert_eq!(
            out,
            ".TH x 1\n.SH NAME\nx\n.SH \"EXIT STATUS\"\n.nf\n  0   success\n  2   bad \\-\\-flag\n\\&.dot\n.fi\n.SH VERSION\nv1\n"
        );
    }

    #[test]
    fn other_after_help_becomes_notes_and_pages_without_extra_are_unchanged() {
        let page = ".TH x 1\n.SH EXTRA\nsee also\n";
        assert_eq!(
            replace_extra_section(page, "See also foo\\bar"),
            ".TH x 1\n.SH \"NOTES\"\n.nf\nSee also foo\\ebar\n.fi\n"
        );
        assert_eq!(
            replace_extra_section(".TH x 1\n", "Exit codes:\n"),
            ".TH x 1\n"
        );
    }

    #[test]
    fn subcommand_pages_are_named_for_man_and_hidden_ones_skipped() {
        let cmd = Command::new("tool")
            .version("1.2")
            .subcommand(
                Command::new("run")
                    .about("Run it")
                    .subcommand(Command::new("fast")),
            )
            .subcommand(Command::new("secret").hide(true));
        let names: Vec<_> = man_pages(&cmd)
            .unwrap()
            .into_iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "man/man1/tool.1",
                "man/man1/tool-run.1",
                "man/man1/tool-run-fast.1"
            ]
        );
        let files = man_pages(&cmd).unwrap();
        let run = String::from_utf8(files[1].content.clone()).unwrap();
        assert!(
            run.contains("tool run"),
            "synopsis shows how it is typed: {run}"
        );
        assert!(
            run.contains("tool 1.2"),
            "footer names the package version: {run}"
        );
    }
}
