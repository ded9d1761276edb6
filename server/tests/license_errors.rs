//! Bad inventories: each error names the field path and the machine (or
//! platform, group) id, never panics, and says what is wrong.

use std::path::PathBuf;

use alma_ext_server::license::engine::report;
use alma_ext_server::license::inventory::{parse_inventory, ErrorKind, InventoryError};

fn load(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventories/errors")
        .join(format!("{name}.json"));
    std::fs::read_to_string(p).unwrap()
}

/// Parse and count; the error, whichever step found it.
fn error_of(name: &str) -> InventoryError {
    let text = load(name);
    match parse_inventory(&text) {
        Err(e) => e,
        Ok(inv) => match report(&inv) {
            Err(e) => e,
            Ok(r) => panic!("{name}: expected an error, got {}", r.to_text()),
        },
    }
}

fn check(name: &str, kind: ErrorKind, field: &str, id: Option<&str>, says: &str) {
    let e = error_of(name);
    assert_eq!(e.kind, kind, "{name}: {e}");
    assert_eq!(e.field, field, "{name}: {e}");
    assert_eq!(e.id.as_deref(), id, "{name}: {e}");
    let shown = e.to_string();
    assert!(shown.contains(says), "{name}: {shown:?} lacks {says:?}");
    assert!(shown.starts_with(field), "{name}: {shown:?}");
}

#[test]
fn duplicate_machine_id() {
    check(
        "duplicate-machine-id",
        ErrorKind::Duplicate,
        "machines[2].id",
        Some("db1"),
        "first used by machines[0]",
    );
}

#[test]
fn unknown_machine_type() {
    check(
        "unknown-type",
        ErrorKind::Schema,
        "machines[1].type",
        Some("box7"),
        "unknown variant `container`",
    );
}

#[test]
fn a_vm_whose_host_is_in_two_platforms() {
    check(
        "host-in-two-platforms",
        ErrorKind::HostInTwoPlatforms,
        "machines[0].host",
        Some("vm1"),
        "host \"esx1\" is in two platforms, \"a\" (platforms[0].hosts[0]) and \"b\" (platforms[1].hosts[1])",
    );
}

#[test]
fn a_vm_naming_another_platform_than_its_host() {
    check(
        "vm-platform-vs-host-platform",
        ErrorKind::HostInTwoPlatforms,
        "machines[0].platform",
        Some("vm1"),
        "its host \"esx1\" is in platform \"a\"",
    );
}

#[test]
fn negative_autoscale_max() {
    check(
        "negative-max",
        ErrorKind::Schema,
        "autoscale_groups[0].max",
        Some("web"),
        "must be 0 or more, got -3",
    );
}

#[test]
fn negative_peak_guests() {
    check(
        "negative-peak-guests",
        ErrorKind::Schema,
        "platforms[0].peak_guests",
        Some("p"),
        "must be 0 or more, got -1",
    );
}

#[test]
fn unknown_field() {
    check(
        "unknown-field",
        ErrorKind::Schema,
        "machines[1].hots",
        Some("vm1"),
        "unknown field `hots`",
    );
}

#[test]
fn a_future_version_is_reported_as_such_not_as_its_unknown_fields() {
    check(
        "wrong-version",
        ErrorKind::Version,
        "version",
        None,
        "unsupported inventory version 2",
    );
}

#[test]
fn missing_type() {
    check(
        "missing-type",
        ErrorKind::Schema,
        "machines[1].type",
        Some("vm9"),
        "missing field `type`",
    );
}

#[test]
fn missing_version() {
    check(
        "missing-version",
        ErrorKind::Schema,
        "version",
        None,
        "missing field `version`",
    );
}

#[test]
fn a_physical_machine_with_a_host() {
    check(
        "physical-with-host",
        ErrorKind::Conflict,
        "machines[0].host",
        Some("db1"),
        "only a virtual machine runs on a host",
    );
}

#[test]
fn a_vm_whose_host_is_a_vm() {
    check(
        "vm-host-is-vm",
        ErrorKind::WrongType,
        "machines[1].host",
        Some("vm2"),
        "host \"vm1\" is a virtual machine",
    );
}

#[test]
fn a_group_in_a_cloud_and_a_platform() {
    check(
        "group-cloud-and-platform",
        ErrorKind::Conflict,
        "autoscale_groups[0].platform",
        Some("web"),
        "not both",
    );
}

#[test]
fn a_vm_in_another_cloud_unit_than_its_group() {
    check(
        "vm-cloud-vs-group-cloud",
        ErrorKind::Conflict,
        "machines[0].autoscale_group",
        Some("web-1"),
        "sits in cloud unit azure/rg-a",
    );
}

#[test]
fn an_empty_machine_id() {
    check(
        "empty-id",
        ErrorKind::EmptyId,
        "machines[0].id",
        Some(""),
        "must not be empty",
    );
}

#[test]
fn duplicate_platform() {
    check(
        "duplicate-platform",
        ErrorKind::Duplicate,
        "platforms[1].id",
        Some("p"),
        "duplicate platform id",
    );
}

#[test]
fn unknown_choice() {
    check(
        "bad-choice",
        ErrorKind::Schema,
        "cloud_units[0].choice",
        Some("aws/1"),
        "unknown variant `platinum`",
    );
}

#[test]
fn a_vm_both_on_a_host_and_in_a_cloud_unit() {
    check(
        "vm-cloud-and-host",
        ErrorKind::Conflict,
        "machines[0].host",
        Some("vm1"),
        "not both",
    );
}

#[test]
fn a_syntax_error_gives_line_and_column() {
    let e = error_of("syntax");
    assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    assert!(e.to_string().contains("line 3"), "{e}");
}

#[test]
fn trailing_text_and_non_objects_are_rejected() {
    for (text, kind) in [
        ("{\"version\":1} {}", ErrorKind::Syntax),
        ("[]", ErrorKind::Schema),
        ("", ErrorKind::Syntax),
        ("{\"version\":1,\"machines\":{}}", ErrorKind::Schema),
        ("{\"version\":-1}", ErrorKind::Schema),
        (
            "{\"version\":1,\"machines\":[{\"id\":7,\"type\":\"physical\"}]}",
            ErrorKind::Schema,
        ),
    ] {
        let e = parse_inventory(text).expect_err(text);
        assert_eq!(e.kind, kind, "{text}: {e}");
        assert!(!e.field.is_empty(), "{text}: {e}");
    }
}

#[test]
fn the_engine_checks_inventories_built_in_code_too() {
    // The server builds inventories without parsing JSON: the engine must
    // reject what the parser would.
    use alma_ext_server::license::inventory::{Inventory, MachineEntry, MachineType};
    let mut inv = Inventory::default();
    inv.machines
        .push(MachineEntry::new("a", MachineType::Physical));
    inv.machines
        .push(MachineEntry::new("a", MachineType::Virtual));
    let e = report(&inv).unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_str()),
        (ErrorKind::Duplicate, "machines[1].id")
    );
    inv.machines.pop();
    inv.version = 3;
    assert_eq!(report(&inv).unwrap_err().kind, ErrorKind::Version);
}

/// Found by `mangled_valid_inventories_never_panic`: an unknown key that
/// is the empty string (`{"": 1}`) has an empty path; the error names the
/// document, not an empty field.
#[test]
fn an_empty_unknown_key_names_the_document() {
    let e = parse_inventory(r#"{"version": 1, "machines": [], "": 1}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Schema, "{e}");
    assert_eq!(e.field, "(document)", "{e}");
    assert!(e.to_string().contains("unknown field ``"), "{e}");
}
