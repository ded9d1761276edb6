//! This project's reading of repo files equals dnf's own (the real dnf,
//! through its Python API): generated files with byte-order marks, CRLF,
//! header comments, indented lines, duplicate keys and sections, every
//! spelling of a boolean, empty values and variables in ids and URLs.
//! dnf is asked once per batch of files, not once per file.

use std::fs;
use std::path::PathBuf;

mod common;

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

const COMMUNITY: &str = "[baseos]\nname=AlmaLinux $releasever - BaseOS\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos\nenabled=1\n\n[appstream]\nname=AlmaLinux $releasever - AppStream\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/appstream\nenabled=1\n\n[extras]\nname=AlmaLinux $releasever - Extras\nmirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/extras\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/extras/$basearch/os/\nenabled=1\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Whatever else the machine has, once the plan is written dnf reads
    /// exactly the plan's enabled set (replaced repos off, new repos on,
    /// the rest as before) and the vault repoints' URLs; or the switch
    /// refuses before any change.
    #[test]
    fn after_a_switch_dnf_reads_the_plan(extra in prop::collection::vec(file(), 0..4)) {
        use alma_ext_switcher::plan::{self, Action, Release};
        let r = root();
        let dir = r.path().join("etc/yum.repos.d");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("almalinux-base.repo"), COMMUNITY).unwrap();
        for (i, b) in extra.iter().enumerate() {
            fs::write(dir.join(format!("f{i}.repo")), b).unwrap();
        }
        let files = alma_ext_switcher::apply::read_repo_files(r.path()).unwrap();
        let dnf = RealDnf::default();
        let before = dnf.read(r.path(), &[]).unwrap();
        let release = Release { id: "almalinux".into(), version: "9.6".into(), major: 9 };
        let t = common::target(common::TARGET);
        let Ok(p) = plan::plan(&files, &release, &t) else { return Ok(()) };
        if plan::judge(&files, &p, &t, &before).is_err() {
            return Ok(()); // refused before any change
        }
        for c in &p.changes {
            fs::write(r.path().join(c.path.strip_prefix("/").unwrap()), &c.after).unwrap();
        }
        let after = dnf.read(r.path(), &[]).unwrap();
        prop_assert_eq!(after.enabled_ids(), plan::intended_enabled(&p, &before));
        for d in &p.repos {
            if let Action::Vault { url } = &d.action {
                let want = alma_ext_switcher::preflight::substitute(url, &after.vars);
                prop_assert_eq!(&after.repo(&d.id).unwrap().baseurl, &vec![want]);
            }
        }
    }
}

/// The judge's answer for the community repos plus one more repo file
/// `f0.repo` holding `extra`, with dnf's `$basearch` on this machine:
/// the plan must be refused.
fn refused_with(extra: &str) -> (alma_ext_switcher::plan::PlanError, String) {
    use alma_ext_switcher::plan::{self, Release};
    let r = root();
    let dir = r.path().join("etc/yum.repos.d");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("almalinux-base.repo"), COMMUNITY).unwrap();
    fs::write(dir.join("f0.repo"), extra).unwrap();
    let files = alma_ext_switcher::apply::read_repo_files(r.path()).unwrap();
    let before = RealDnf::default().read(r.path(), &[]).unwrap();
    let release = Release {
        id: "almalinux".into(),
        version: "9.6".into(),
        major: 9,
    };
    let t = common::target(common::TARGET);
    let p = plan::plan(&files, &release, &t).unwrap();
    let err = plan::judge(&files, &p, &t, &before).unwrap_err();
    (err, before.basearch.clone().unwrap())
}

/// Found by `after_a_switch_dnf_reads_the_plan`: a community section whose
/// name holds a variable (`[extras-$basearch]`) is `extras-x86_64` to dnf.
/// The switch would repoint it and then look for `extras-$basearch` in
/// dnf's reading: the judge refuses before any change, naming the file,
/// the section and dnf's id.
#[test]
fn a_section_name_dnf_substitutes_is_refused_before_any_change() {
    use alma_ext_switcher::plan::PlanError;
    let (err, arch) = refused_with(
        "[extras-$basearch]\nbaseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/\n",
    );
    match &err {
        PlanError::SubstitutedId { section, id, file } => {
            assert_eq!(section, "extras-$basearch");
            assert_eq!(id, &format!("extras-{arch}"));
            assert_eq!(file, std::path::Path::new("/etc/yum.repos.d/f0.repo"));
        }
        other => panic!("{other}"),
    }
    assert!(err.is_machine());
    assert!(
        err.to_string()
            .contains("/etc/yum.repos.d/f0.repo: the section [extras-$basearch]"),
        "{err}"
    );
}

/// Found by the same property: a community section dnf does not load at
/// all (`[$nope]`: "Bad id for repo") would be repointed and then missed
/// in dnf's reading; the judge refuses before any change.
#[test]
fn a_section_dnf_does_not_load_is_refused_before_any_change() {
    use alma_ext_switcher::plan::PlanError;
    let (err, _) = refused_with(
        "[$nope]\nbaseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/\n",
    );
    assert!(
        matches!(&err, PlanError::NotLoaded { section, .. } if section == "$nope"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("/etc/yum.repos.d/f0.repo: dnf does not load the section [$nope]"),
        "{err}"
    );
}

/// Without dnf's interpreter, or without its dnf module, the error names
/// what failed.
#[test]
fn missing_python_or_dnf_is_named() {
    use alma_ext_switcher::dnfquery::DnfQueryError;
    use std::os::unix::fs::PermissionsExt;
    let r = root();
    let none = RealDnf {
        python: Some("/nonexistent/python3".into()),
        ..RealDnf::default()
    };
    let e = none.read(r.path(), &[]).unwrap_err();
    assert!(matches!(e, DnfQueryError::NoPython { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/python3"), "{e}");

    // dnf's own interpreter without its site packages: no dnf module.
    let real = RealDnf::default().interpreter();
    let wrapper = r.path().join("python-without-dnf");
    fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec {} -S \"$@\"\n", real.display()),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let bare = RealDnf {
        python: Some(wrapper.clone()),
        ..RealDnf::default()
    };
    let e = bare.read(r.path(), &[]).unwrap_err();
    assert!(matches!(e, DnfQueryError::NoDnf { .. }), "{e}");
    assert!(
        e.to_string().contains("python3-dnf is not installed")
            && e.to_string().contains(&wrapper.display().to_string()),
        "{e}"
    );
}
