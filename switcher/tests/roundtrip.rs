//! Reading and writing back a repo file, unchanged, gives the same bytes.

mod common;

use alma_ext_switcher::repofile::RepoFile;
use proptest::prelude::*;

#[test]
fn fixtures_round_trip() {
    for major in ["8", "9"] {
        let d = common::fixtures().join(major).join("etc/yum.repos.d");
        for e in std::fs::read_dir(d).unwrap() {
            let b = std::fs::read(e.unwrap().path()).unwrap();
            let f = RepoFile::parse(&b);
            assert_eq!(f.to_bytes(), b);
            assert!(f.invalid_lines().is_empty());
        }
    }
}

fn repo_line() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\[[a-z0-9_-]{0,12}\\]",
        "[a-z_]{1,10}[ \t]{0,2}=[ \t]{0,2}[ -~]{0,30}",
        "[ \t]{1,3}[ -~]{0,20}",
        "[#;][ -~]{0,30}",
        "[ \t]{0,3}",
        "[ -~]{0,20}",
        "\\PC{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(RepoFile::parse(&b).to_bytes(), b);
    }

    #[test]
    fn repo_like_text_round_trips(
        lines in proptest::collection::vec((repo_line(), prop_oneof!["\n", "\r\n", "\r", ""]), 0..40)
    ) {
        let text: String = lines.iter().map(|(l, e)| format!("{l}{e}")).collect();
        let f = RepoFile::parse(text.as_bytes());
        prop_assert_eq!(f.to_bytes(), text.as_bytes());
        // Setting a value to what it is changes nothing but the value span.
        for s in f.sections() {
            if let Some(&i) = f.key_lines(&s, "enabled").last() {
                let mut g = f.clone();
                let v = String::from_utf8_lossy(&f.lines()[i].content()[match f.lines()[i].kind() {
                    alma_ext_switcher::repofile::LineKind::Key { value_at, .. } => *value_at,
                    _ => unreachable!(),
                }..]).into_owned();
                if f.full_value(i) == v && !v.contains('\u{fffd}') {
                    g.set_value(i, &v);
                    prop_assert_eq!(g.to_bytes(), text.as_bytes());
                }
            }
        }
    }
}
