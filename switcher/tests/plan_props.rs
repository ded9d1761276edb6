//! Properties of the plan over generated repo files: planning twice is a
//! no-op (a second switch changes nothing), lines other than the ones a
//! switch may touch stay byte for byte, third-party sections never change.

use std::path::PathBuf;

use alma_ext_switcher::plan::{self, InputFile, Release};
use alma_ext_switcher::repofile::{LineKind, RepoFile};
use proptest::prelude::*;

const TARGET: &str = r#"
[repos.baseos]
id = "ext-baseos"
name = "BaseOS ext"
baseurl = "https://updates.example.jp/9/BaseOS/"
[repos.appstream]
id = "ext-appstream"
name = "AppStream ext"
baseurl = "https://updates.example.jp/9/AppStream/"
"#;

fn section() -> impl Strategy<Value = Vec<String>> {
    let id = prop_oneof![
        Just("baseos"),
        Just("appstream"),
        Just("extras"),
        Just("crb"),
        Just("baseos-debug"),
        Just("epel"),
        Just("docker-ce-stable"),
        Just("main")
    ];
    let line = prop_oneof![
        prop_oneof![Just("0"), Just("1"), Just("yes"), Just("off")]
            .prop_map(|v| format!("enabled={v}")),
        Just("enabled = 1".to_string()),
        Just("mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/extras".to_string()),
        Just(
            "# baseurl=https://repo.almalinux.org/almalinux/$releasever/extras/$basearch/os/"
                .to_string()
        ),
        Just("baseurl=https://download.example.com/$releasever/".to_string()),
        Just(
            "baseurl=http://mirror.corp.example/almalinux/$releasever/CRB/$basearch/os/"
                .to_string()
        ),
        Just("  http://second.example/".to_string()),
        Just("  gpgcheck=0".to_string()),
        Just("\tenabled=1".to_string()),
        Just("name=Some name".to_string()),
        Just("gpgcheck=1".to_string()),
        Just("# a comment".to_string()),
        Just(String::new()),
    ];
    (id, proptest::collection::vec(line, 0..7)).prop_map(|(id, mut lines)| {
        lines.insert(0, format!("[{id}]"));
        lines
    })
}

fn file() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(section(), 0..4),
        prop_oneof![Just("\n"), Just("\r\n")],
        any::<bool>(),
    )
        .prop_map(|(secs, eol, last_eol)| {
            let lines: Vec<String> = secs.into_iter().flatten().collect();
            let mut s = lines.join(eol);
            if last_eol && !s.is_empty() {
                s.push_str(eol);
            }
            s.into_bytes()
        })
}

/// The lines a switch never touches: everything but enabled/mirrorlist/
/// metalink/baseurl keys and continuation lines.
fn untouchable(b: &[u8]) -> Vec<Vec<u8>> {
    let f = RepoFile::parse(b);
    let lines = f.lines();
    let blank =
        |l: &alma_ext_switcher::repofile::Line| l.content().iter().all(|b| b" \t\r".contains(b));
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| match l.kind() {
            LineKind::Key { key, .. } => {
                !["enabled", "mirrorlist", "metalink", "baseurl"].contains(&key.as_str())
            }
            // A line of white space after a key continues it with an empty
            // line (libdnf); at the end of a value it is kept as it is.
            LineKind::Continuation => {
                blank(l)
                    && lines[i + 1..]
                        .iter()
                        .take_while(|n| n.kind() == &LineKind::Continuation)
                        .all(blank)
            }
            _ => true,
        })
        .map(|(_, l)| l.content().to_vec())
        .collect()
}

fn is_subsequence(small: &[Vec<u8>], big: &[Vec<u8>]) -> bool {
    let mut it = big.iter();
    small.iter().all(|s| it.any(|b| b == s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn switch_plan_properties(files in proptest::collection::vec(file(), 1..4)) {
        let release = Release { id: "almalinux".into(), version: "9.6".into(), major: 9 };
        let target = alma_ext_proto::Target::from_toml(TARGET).unwrap();
        let input: Vec<InputFile> = files
            .iter()
            .enumerate()
            .map(|(i, b)| InputFile { path: PathBuf::from(format!("/etc/yum.repos.d/f{i}.repo")), bytes: b.clone() })
            .collect();
        let p = match plan::plan(&input, &release, &target) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        for c in &p.changes {
            let Some(before) = &c.before else { continue };
            let (b, a) = (untouchable(before), untouchable(&c.after));
            prop_assert!(is_subsequence(&b, &a), "untouchable lines changed in {}", c.path.display());
            // Files whose sections are all third-party never change.
            prop_assert!(p
                .repos
                .iter()
                .any(|d| d.file == c.path && d.origin == plan::Origin::Community));
        }
        // A second switch on the result changes nothing.
        let mut after = input.clone();
        for c in &p.changes {
            match after.iter_mut().find(|f| f.path == c.path) {
                Some(f) => f.bytes = c.after.clone(),
                None => after.push(InputFile { path: c.path.clone(), bytes: c.after.clone() }),
            }
        }
        let p2 = plan::plan(&after, &release, &target).unwrap();
        prop_assert!(p2.already_switched, "second plan changes {:?}", p2.changes.iter().map(|c| (c.path.clone(), String::from_utf8_lossy(&c.after).into_owned())).collect::<Vec<_>>());
    }
}
