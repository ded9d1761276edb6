//! This project's reading of repo files equals dnf's own (the real dnf,
//! through its Python API): generated files with byte-order marks, CRLF,
//! header comments, indented lines, duplicate keys and sections, every
//! spelling of a boolean, empty values and variables in ids and URLs.
//! dnf is asked once per batch of files, not once per file.

use std::fs;
use std::path::PathBuf;

use alma_ext_switcher::dnfquery::{compare, DnfReader, RealDnf};
use proptest::prelude::*;

/// A root whose dnf variables are known: `$releasever` 9, `$stream`.
fn root() -> tempfile::TempDir {
    let r = tempfile::tempdir().unwrap();
    fs::create_dir_all(r.path().join("etc/dnf/vars")).unwrap();
    fs::write(r.path().join("etc/dnf/vars/stream"), "9-stream\n").unwrap();
    fs::write(
        r.path().join("etc/os-release"),
        "ID=\"almalinux\"\nVERSION_ID=\"9.6\"\n",
    )
    .unwrap();
    r
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("baseos".to_string()),
        Just("appstream".to_string()),
        Just("BaseOS".to_string()),
        Just("extras-$basearch".to_string()),
        Just("${stream}-crb".to_string()),
        Just("$nope".to_string()),
        Just(" baseos ".to_string()),
        Just("a b".to_string()),
        "[a-z]{1,6}",
    ]
}

fn bool_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1"),
        Just("0"),
        Just("True"),
        Just("yes"),
        Just("on"),
        Just("off"),
        Just("no"),
        Just("FALSE"),
        Just(""),
        Just("maybe"),
        Just("0 # off"),
        Just("$stream"),
        Just("\"0\""),
        Just("'1'"),
    ]
    .prop_map(str::to_string)
}

fn url() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/"),
        Just("http://mirror.example/${stream}/x/"),
        Just("file:///srv/repo/$nope/"),
        Just("https://a.example/one/, https://b.example/two/"),
        Just("None"),
        Just(""),
        Just("\"https://quoted.example/\""),
        Just("\""),
    ]
    .prop_map(str::to_string)
}

fn space() -> impl Strategy<Value = String> {
    prop_oneof![Just(""), Just(" "), Just("\t"), Just("  ")].prop_map(str::to_string)
}

/// One line of a repo file (without its line ending).
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (id(), space(), prop_oneof![Just(""), Just(" # local mirror"), Just(";x"), Just(" x"), Just("x"), Just("]")])
            .prop_map(|(i, s, tail)| format!("{s}[{i}]{tail}")),
        4 => (space(), space(), bool_value()).prop_map(|(a, b, v)| format!("enabled{a}={b}{v}")),
        3 => (prop_oneof![Just("baseurl"), Just("mirrorlist"), Just("metalink")], space(), url())
            .prop_map(|(k, s, u)| format!("{k}{s}={s}{u}")),
        2 => (prop_oneof![Just(" "), Just("\t"), Just("   ")], url()).prop_map(|(s, u)| format!("{s}{u}")),
        1 => Just("name=AlmaLinux $releasever".to_string()),
        1 => Just("# baseurl=https://x/".to_string()),
        1 => Just("  # indented comment".to_string()),
        1 => Just("; comment".to_string()),
        1 => Just("".to_string()),
        1 => Just(" \t".to_string()),
        1 => Just("this line has no equals sign".to_string()),
        1 => Just("=no key".to_string()),
        1 => Just("[]".to_string()),
        1 => Just("ENABLED=0".to_string()),
    ]
}

/// A whole file: maybe a BOM, a first header most of the time, lines,
/// each with `\n` or `\r\n`, maybe no line ending at the end.
fn file() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        any::<bool>(),
        id(),
        prop::collection::vec((line(), any::<bool>()), 0..14),
        any::<bool>(),
    )
        .prop_map(|(bom, header, first, lines, last_eol)| {
            let mut b = Vec::new();
            if bom {
                b.extend_from_slice(b"\xef\xbb\xbf");
            }
            if header {
                b.extend_from_slice(format!("[{first}]\n").as_bytes());
            }
            let n = lines.len();
            for (i, (l, crlf)) in lines.into_iter().enumerate() {
                b.extend_from_slice(l.as_bytes());
                if i + 1 < n || last_eol {
                    b.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                }
            }
            b
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn reading_equals_dnfs(files in prop::collection::vec(file(), 40)) {
        let r = root();
        let dir = r.path().join("generated");
        fs::create_dir_all(&dir).unwrap();
        let paths: Vec<PathBuf> = files
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let p = dir.join(format!("f{i}.repo"));
                fs::write(&p, b).unwrap();
                p
            })
            .collect();
        let view = RealDnf::default().read(r.path(), &paths).expect("python3-dnf answers");
        prop_assert_eq!(view.parsed.len(), files.len());
        for (bytes, dnf_file) in files.iter().zip(&view.parsed) {
            if let Err(d) = compare(&dnf_file.path, bytes, dnf_file, &view.vars) {
                prop_assert!(
                    false,
                    "{d}\nfile: {:?}\ndnf: {:?}",
                    String::from_utf8_lossy(bytes),
                    dnf_file
                );
            }
        }
    }
}
