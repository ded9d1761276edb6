//! The Japanese man pages: one beside each English page, under
//! `man/ja/man1/`, with Japanese headings and texts from the catalogue.

use clap::CommandFactory;

#[test]
fn every_english_page_has_a_japanese_twin() {
    for cmd in [
        alma_ext_agent::cli::Cli::command(),
        alma_ext_server::cli::Cli::command(),
    ] {
        let en = alma_ext_gen::man_pages(&cmd).unwrap();
        let ja = alma_ext_gen::man_pages_ja(&cmd).unwrap();
        let names = |pages: &[alma_ext_gen::GeneratedFile]| -> Vec<String> {
            pages
                .iter()
                .map(|p| p.path.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(&en), names(&ja));
        for page in &ja {
            assert!(
                page.path.starts_with("man/ja/man1"),
                "{}",
                page.path.display()
            );
            let text = String::from_utf8(page.content.clone()).unwrap();
            for heading in [".SH 名前\n", ".SH 書式\n", ".SH 説明\n"] {
                assert!(
                    text.contains(heading),
                    "{}: no {heading:?}",
                    page.path.display()
                );
            }
            for english in [
                ".SH NAME",
                ".SH SYNOPSIS",
                ".SH OPTIONS",
                "[default:",
                "Print help",
            ] {
                assert!(
                    !text.contains(english),
                    "{}: {english:?}",
                    page.path.display()
                );
            }
        }
    }
    let agent = alma_ext_gen::man_pages_ja(&alma_ext_agent::cli::Cli::command()).unwrap();
    let top = String::from_utf8(agent[0].content.clone()).unwrap();
    assert!(top.contains(".SH 終了ステータス\n"), "{top}");
    assert!(
        top.contains("延長アップデートサポート専用のリポジトリ"),
        "{top}"
    );
}
