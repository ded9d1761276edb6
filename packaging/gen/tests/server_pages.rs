//! The `alma-ext-server` man pages: an EXIT STATUS section with every code,
//! from the same table as `--help`, and pages for the licensing staff's
//! `machine` commands.

use clap::CommandFactory;

#[test]
fn the_server_man_page_has_exit_status() {
    let files = alma_ext_gen::man_pages(&alma_ext_server::cli::Cli::command()).unwrap();
    let top = files
        .iter()
        .find(|f| f.path.to_str() == Some("man/man1/alma-ext-server.1"))
        .expect("alma-ext-server.1");
    let text = String::from_utf8(top.content.clone()).unwrap();
    let section = text
        .split(".SH \"EXIT STATUS\"\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no EXIT STATUS section: {text}"));
    for (code, meaning) in alma_ext_server::exit::Exit::TABLE {
        let line = format!("  {code:<3} {}", meaning.replace('-', "\\-"));
        assert!(
            section.contains(&line),
            "{line:?} missing from EXIT STATUS: {section}"
        );
    }
    for sub in [
        "machine-list",
        "machine-show",
        "machine-retire",
        "contract-rekey",
    ] {
        let name = format!("man/man1/alma-ext-server-{sub}.1");
        assert!(
            files.iter().any(|f| f.path.to_str() == Some(name.as_str())),
            "{name} not generated"
        );
    }
}
