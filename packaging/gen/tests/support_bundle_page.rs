//! `alma-ext support-bundle` gets its man page from clap like every other
//! subcommand, with the flags a user types.

use clap::CommandFactory;

#[test]
fn support_bundle_has_a_man_page_with_its_flags() {
    let files = alma_ext_gen::man_pages(&alma_ext_agent::cli::Cli::command()).unwrap();
    let page = files
        .iter()
        .find(|f| f.path.to_str() == Some("man/man1/alma-ext-support-bundle.1"))
        .expect("man/man1/alma-ext-support-bundle.1 is generated");
    let text = std::str::from_utf8(&page.content).unwrap();
    assert!(text.contains(".TH alma-ext-support-bundle 1"), "{text}");
    assert!(text.contains("alma\\-ext support\\-bundle"), "{text}");
    for flag in [
        "root",
        "output",
        "obfuscate",
        "since",
        "max\\-size",
        "format",
    ] {
        assert!(
            text.contains(&format!("\\-\\-{flag}")),
            "--{flag} missing: {text}"
        );
    }
}
