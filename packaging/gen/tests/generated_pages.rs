//! The generated files for the real `alma-ext` and `alma-ext-server` CLIs: every subcommand has a
//! page, pages and completions carry the flags a user types.

use clap::CommandFactory;

fn page<'a>(files: &'a [alma_ext_gen::GeneratedFile], name: &str) -> &'a str {
    let f = files
        .iter()
        .find(|f| f.path.to_str() == Some(name))
        .unwrap_or_else(|| {
            panic!(
                "{name} not generated; got {:?}",
                files.iter().map(|f| &f.path).collect::<Vec<_>>()
            )
        });
    std::str::from_utf8(&f.content).unwrap()
}

#[test]
fn every_subcommand_has_a_man_page() {
    let files = alma_ext_gen::man_pages(&alma_ext_agent::cli::Cli::command()).unwrap();
    for sub in [
        "facts",
        "status",
        "switch",
        "register",
        "checkin",
        "unregister",
        "security-status",
        "agent",
    ] {
        let text = page(&files, &format!("man/man1/alma-ext-{sub}.1"));
        assert!(
            text.contains(&format!(".TH alma-ext-{sub} 1")),
            "{sub}: {text}"
        );
        // The synopsis shows how a user types it, not the file name.
        // (roff escapes the hyphens: `security\-status`.)
        let typed = format!("alma\\-ext {}", sub.replace('-', "\\-"));
        assert!(text.contains(&typed), "{sub}: {text}");
        assert!(text.contains("\\-\\-root"), "{sub} page lacks --root");
    }
    assert!(
        !files
            .iter()
            .any(|f| f.path.to_str().unwrap().contains("-help")),
        "no page for `help`"
    );
    let top = page(&files, "man/man1/alma-ext.1");
    assert!(top.contains(".TH alma-ext 1"));
    assert!(
        top.contains(".SH \"EXIT STATUS\"") && top.contains("not registered"),
        "the exit codes from --help belong in the man page"
    );
}

#[test]
fn completions_know_the_subcommands_and_flags() {
    let files = alma_ext_gen::completions(&alma_ext_agent::cli::Cli::command());
    let bash = page(&files, "bash-completion/completions/alma-ext");
    assert!(
        bash.contains("complete -F") && bash.contains("alma-ext"),
        "{bash}"
    );
    assert!(bash.contains("switch") && bash.contains("--root"));
    let zsh = page(&files, "zsh/site-functions/_alma-ext");
    assert!(zsh.starts_with("#compdef alma-ext"), "{zsh}");
    assert!(zsh.contains("--root"));
}

#[test]
fn write_all_creates_the_tree_and_reports_unwritable_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let files = alma_ext_gen::all_files(&alma_ext_agent::cli::Cli::command()).unwrap();
    alma_ext_gen::write_all(dir.path(), &files).unwrap();
    assert!(dir.path().join("man/man1/alma-ext-switch.1").is_file());
    assert!(dir.path().join("zsh/site-functions/_alma-ext").is_file());

    // A file where a directory must go: the error names the path.
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, b"").unwrap();
    let err = alma_ext_gen::write_all(&blocker, &files).unwrap_err();
    assert!(format!("{err:#}").contains("blocked"), "{err:#}");
}

#[test]
fn the_server_has_pages_for_serve_and_its_admin_commands() {
    let files = alma_ext_gen::all_files(&alma_ext_server::cli::Cli::command()).unwrap();
    let serve = page(&files, "man/man1/alma-ext-server-serve.1");
    assert!(
        serve.contains("\\-\\-listen") && serve.contains("ALMA_EXT_SERVER_LISTEN"),
        "{serve}"
    );
    page(&files, "man/man1/alma-ext-server.1");
    page(&files, "bash-completion/completions/alma-ext-server");
    page(&files, "zsh/site-functions/_alma-ext-server");
}
