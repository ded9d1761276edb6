//! `alma-ext-server licenses --inventory FILE --format text|json|csv`: the
//! real binary on the fixtures, and `license::cli::run_file` directly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alma_ext_server::license::cli::{run_file, Format};
use alma_ext_server::license::engine::report;
use alma_ext_server::license::inventory::parse_inventory;
use alma_ext_server::license::report::Report;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventories")
}

fn all_fixtures(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

fn licenses(file: &Path, format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alma-ext-server"))
        .args(["licenses", "--inventory"])
        .arg(file)
        .args(["--format", format])
        .env_remove("ALMA_EXT_SERVER_DATABASE")
        .output()
        .unwrap()
}

fn library_report(file: &Path) -> Report {
    report(&parse_inventory(&std::fs::read_to_string(file).unwrap()).unwrap()).unwrap()
}

#[test]
fn json_from_the_binary_equals_the_engine_report() {
    for dir in ["examples", "edge"] {
        for f in all_fixtures(dir) {
            let out = licenses(&f, "json");
            assert!(
                out.status.success(),
                "{}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let got: Report = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(got, library_report(&f), "{}", f.display());
        }
    }
}

#[test]
fn text_is_an_aligned_table_with_total_and_warnings() {
    let f = fixtures().join("edge/platform-choice-too-few-guests.json");
    let out = licenses(&f, "text");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SYSTEM"), "{text}");
    // Right-aligned yen column: every row ends it at the same place.
    let end = lines[0].find("YEARLY JPY").unwrap() + "YEARLY JPY".len();
    for row in &lines[1..3] {
        assert_eq!(&row[end - 7..end], "144,000", "{text}");
    }
    assert!(lines[2].starts_with("TOTAL"), "{text}");
    assert!(
        text.contains("\nwarnings:\n  - platform \"small\""),
        "{text}"
    );

    let out = licenses(&fixtures().join("edge/spec-sample.json"), "text");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1,116,000"), "{text}");
    assert!(text.contains("vcenter-tokyo  platform"), "{text}");
}

#[test]
fn text_is_the_default_format() {
    let f = fixtures().join("examples/01-ha-pair-physical.json");
    let out = Command::new(env!("CARGO_BIN_EXE_alma-ext-server"))
        .args(["licenses", "--inventory"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        run_file(&f, Format::Text).unwrap()
    );
}

#[test]
fn csv_has_one_row_per_system() {
    for f in all_fixtures("examples") {
        let out = licenses(&f, "csv");
        assert!(out.status.success());
        let csv = String::from_utf8(out.stdout).unwrap();
        let r = library_report(&f);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), r.systems.len() + 1, "{csv}");
        assert!(rows[0].starts_with("system,kind,hosts,guests,"));
        for (row, s) in rows[1..].iter().zip(&r.systems) {
            let cells: Vec<&str> = row.split(',').collect();
            assert_eq!(cells.len(), 12, "{row}");
            assert_eq!(cells[0], s.id);
            assert_eq!(cells[5], s.chosen.as_str());
            assert_eq!(cells[9], s.chosen_option().yearly_cost_jpy.to_string());
        }
    }
}

#[test]
fn csv_quotes_ids_and_defuses_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("inv.json");
    std::fs::write(
        &f,
        r#"{"version":1,"machines":[
            {"id":"a,b \"x\"","type":"physical"},
            {"id":"=HYPERLINK(\"http://evil\")","type":"physical"}]}"#,
    )
    .unwrap();
    let csv = run_file(&f, Format::Csv).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(
        rows[1].starts_with("\"a,b \"\"x\"\"\",standalone,"),
        "{csv}"
    );
    assert!(rows[2].starts_with("\"'=HYPERLINK("), "{csv}");
}

#[test]
fn bad_inventories_fail_with_file_field_and_machine_on_stderr() {
    for f in all_fixtures("errors") {
        for format in ["text", "json", "csv"] {
            let out = licenses(&f, format);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(3), "{}: {err}", f.display());
            assert!(out.stdout.is_empty(), "{}", f.display());
            assert!(err.contains(&*f.to_string_lossy()), "{err}");
        }
    }
    let out = licenses(&fixtures().join("errors/duplicate-machine-id.json"), "json");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("machines[2].id (machine \"db1\"): duplicate machine id"),
        "{err}"
    );
    let out = licenses(&fixtures().join("errors/negative-max.json"), "text");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("autoscale_groups[0].max (autoscale group \"web\"): must be 0 or more"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let out = licenses(Path::new("/nonexistent/inventory.json"), "text");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/inventory.json"), "{err}");
    let e = run_file(Path::new("/nonexistent/inventory.json"), Format::Json).unwrap_err();
    assert!(format!("{e:#}").contains("cannot read inventory"), "{e:#}");
}

#[test]
fn run_file_renders_every_format() {
    let f = fixtures().join("edge/twenty-guests-two-hosts.json");
    let r = library_report(&f);
    assert_eq!(run_file(&f, Format::Json).unwrap(), r.to_json());
    assert_eq!(run_file(&f, Format::Text).unwrap(), r.to_text());
    assert_eq!(run_file(&f, Format::Csv).unwrap(), r.to_csv());
}
