//! The 12 worked examples of the vendor's service description
//! (`licensing.md`) and the edge cases of its rules, each an inventory
//! fixture under `tests/fixtures/inventories/` with its expected count.

use std::path::PathBuf;

use alma_ext_server::license::engine::report;
use alma_ext_server::license::inventory::parse_inventory;
use alma_ext_server::license::report::{LicenceOption, Report, SystemKind, SystemReport};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventories")
        .join(rel)
}

fn run(rel: &str) -> Report {
    let text = std::fs::read_to_string(fixture(rel)).unwrap();
    let inv = parse_inventory(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    report(&inv).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Total (physical, virtual, platform) and yearly cost.
fn totals(r: &Report) -> (u64, u64, u64, u64) {
    let t = &r.total;
    (t.physical, t.r#virtual, t.platform, t.yearly_cost_jpy)
}

fn system<'a>(r: &'a Report, id: &str) -> &'a SystemReport {
    r.systems
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no system {id} in {:#?}", r.systems))
}

fn cost(p: u64, v: u64, pl: u64) -> u64 {
    p * 84_000 + v * 48_000 + pl * 240_000
}

fn assert_counts(rel: &str, physical: u64, r#virtual: u64, platform: u64) -> Report {
    let r = run(rel);
    assert_eq!(
        totals(&r),
        (
            physical,
            r#virtual,
            platform,
            cost(physical, r#virtual, platform)
        ),
        "{rel}: {}",
        r.to_text()
    );
    r
}

// --- The 12 worked examples -------------------------------------------

#[test]
fn example_01_ha_pair_counts_the_standby() {
    let r = assert_counts("examples/01-ha-pair-physical.json", 2, 0, 0);
    assert!(r.systems.iter().all(|s| s.kind == SystemKind::Standalone));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn example_02_three_guests_on_vmware() {
    let r = assert_counts("examples/02-three-guests-on-vmware.json", 0, 3, 0);
    let s = system(&r, "esx1");
    assert_eq!(s.kind, SystemKind::Platform);
    assert_eq!((s.hosts, s.guests), (1, 3));
    // Fewer than 5 guests: platform is not even an option.
    assert_eq!(s.options.len(), 1);
}

#[test]
fn example_03_four_guests_over_several_hypervisors() {
    let r = assert_counts(
        "examples/03-four-guests-over-several-hypervisors.json",
        0,
        4,
        0,
    );
    assert_eq!(r.systems.len(), 3);
}

#[test]
fn example_04_five_guests_on_one_host_platform() {
    let r = assert_counts("examples/04-five-guests-on-one-host-platform.json", 0, 0, 1);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn example_05_three_vms_in_public_cloud() {
    let r = assert_counts("examples/05-three-vms-in-public-cloud.json", 0, 3, 0);
    let s = system(&r, "aws/123456789012");
    assert_eq!(s.kind, SystemKind::Cloud);
}

#[test]
fn example_06_two_resource_groups_platform_chosen() {
    let r = assert_counts(
        "examples/06-two-resource-groups-platform-chosen.json",
        0,
        0,
        2,
    );
    for id in ["azure/rg-a", "azure/rg-b"] {
        let s = system(&r, id);
        assert_eq!(s.chosen, LicenceOption::Platform);
        assert_eq!(s.chosen_option().platform, 1, "a cloud unit counts once");
    }
}

#[test]
fn example_07_vm_cluster_counts_the_standby_guest() {
    assert_counts("examples/07-vm-cluster-with-standby.json", 0, 2, 0);
}

#[test]
fn example_08_two_guests_and_one_physical() {
    let r = assert_counts("examples/08-two-guests-and-one-physical.json", 1, 2, 0);
    assert_eq!(system(&r, "db1").kind, SystemKind::Standalone);
}

#[test]
fn example_09_migrating_guests_count_their_peak_not_the_hosts() {
    let r = assert_counts("examples/09-migrating-guests-peak-two.json", 0, 2, 0);
    let s = system(&r, "vsphere");
    assert_eq!((s.hosts, s.guests), (3, 2));
}

#[test]
fn example_10_platform_chosen_counts_every_host() {
    let r = assert_counts("examples/10-platform-chosen-two-hosts.json", 0, 0, 2);
    // The customer chose platform though per-unit would be cheaper.
    let s = system(&r, "vsphere");
    assert_eq!(s.options[0].yearly_cost_jpy, 6 * 48_000);
    assert_eq!(s.chosen, LicenceOption::Platform);
}

#[test]
fn example_11_autoscale_counts_the_declared_max() {
    let r = assert_counts("examples/11-autoscale-max-four.json", 0, 4, 0);
    let s = system(&r, "aws/123456789012");
    let g = &s.autoscale_groups[0];
    assert_eq!((g.max, g.observed, g.counted), (Some(4), 2, 4));
}

#[test]
fn example_12_autoscale_platform_one_per_resource_group() {
    // The seed prints "仮想 x 2本" here; its heading and rule 8 say
    // platform (licensing.md notes the misprint).
    assert_counts(
        "examples/12-autoscale-platform-two-resource-groups.json",
        0,
        0,
        2,
    );
}

// --- Edge cases of the rules -------------------------------------------

#[test]
fn kvm_host_with_4_guests_needs_physical_and_virtual() {
    let r = assert_counts("edge/kvm-host-4-guests.json", 1, 4, 0);
    let s = system(&r, "kvm1");
    assert_eq!(s.kind, SystemKind::KvmHost);
    assert_eq!((s.hosts, s.guests, s.almalinux_hosts), (1, 4, 1));
    assert_eq!(s.options.len(), 1, "platform needs 5 guests (rule 5)");
    assert_eq!(r.systems.len(), 1, "the KVM host is not also standalone");
}

#[test]
fn kvm_host_with_5_guests_platform_replaces_physical_and_virtual() {
    let r = assert_counts("edge/kvm-host-5-guests.json", 0, 0, 1);
    let s = system(&r, "kvm1");
    assert_eq!(s.kind, SystemKind::KvmHost);
    assert_eq!(s.options[0].yearly_cost_jpy, 84_000 + 5 * 48_000);
    assert_eq!(s.options[1].yearly_cost_jpy, 240_000);
}

#[test]
fn twenty_guests_on_two_hosts_recommend_platform() {
    let r = assert_counts("edge/twenty-guests-two-hosts.json", 0, 0, 2);
    let s = system(&r, "vcenter");
    assert_eq!(s.options[0].yearly_cost_jpy, 960_000);
    assert_eq!(s.options[1].yearly_cost_jpy, 480_000);
}

#[test]
fn a_tie_goes_to_per_unit() {
    // 10 × 48,000 = 2 × 240,000.
    let r = assert_counts("edge/tie-prefers-per-unit.json", 0, 10, 0);
    let s = system(&r, "vcenter");
    assert_eq!(s.options[0].yearly_cost_jpy, s.options[1].yearly_cost_jpy);
    assert_eq!(s.chosen, LicenceOption::PerUnit);
    // 5 guests on one host: 240,000 either way.
    assert_counts("edge/five-guests-one-host-tie.json", 0, 5, 0);
    assert_counts("edge/six-guests-one-host.json", 0, 0, 1);
}

#[test]
fn platform_choice_with_fewer_than_5_guests_is_a_warning_priced_per_unit() {
    let r = assert_counts("edge/platform-choice-too-few-guests.json", 0, 3, 0);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].to_string().contains("\"small\""),
        "{}",
        r.warnings[0]
    );
    assert!(
        r.warnings[0].to_string().contains("5 or more"),
        "{}",
        r.warnings[0]
    );
}

#[test]
fn platform_choice_with_no_known_hosts_is_a_warning_priced_per_unit() {
    let r = assert_counts("edge/platform-choice-no-known-hosts.json", 0, 8, 0);
    let s = system(&r, "nohosts");
    assert_eq!(s.hosts, 0);
    assert_eq!(s.options.len(), 1);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.to_string().contains("no physical hosts are known")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn an_undeclared_platform_is_priced_per_unit_with_a_warning() {
    let r = assert_counts("edge/undeclared-platform.json", 0, 6, 0);
    assert!(
        r.warnings.iter().any(
            |w| w.to_string().contains("\"vc-typo\"") && w.to_string().contains("not declared")
        ),
        "{:?}",
        r.warnings
    );
}

#[test]
fn a_per_unit_choice_is_honoured_even_when_dearer() {
    let r = assert_counts("edge/per-unit-choice-honoured.json", 0, 20, 0);
    assert!(r.warnings.is_empty());
}

#[test]
fn almalinux_hosts_of_a_platform_need_no_physical_under_platform() {
    // kvm1, kvm2 are AlmaLinux hosts, kvm3 is not in machines; 12 guests:
    // 2 × 84,000 + 12 × 48,000 = 744,000 > 3 × 240,000.
    let r = assert_counts("edge/almalinux-hosts-in-platform.json", 0, 0, 3);
    let s = system(&r, "kvm-cluster");
    assert_eq!((s.hosts, s.almalinux_hosts, s.guests), (3, 2, 12));
    assert_eq!(s.options[0].physical, 2);
    assert_eq!(r.systems.len(), 1, "hosts are not also standalone systems");
}

#[test]
fn almalinux_hosts_of_a_small_platform_need_physical() {
    let r = assert_counts("edge/almalinux-hosts-in-platform-few-guests.json", 2, 2, 0);
    assert_eq!(r.systems.len(), 1);
}

#[test]
fn platform_and_per_unit_are_never_mixed_in_one_system() {
    for rel in [
        "edge/almalinux-hosts-in-platform.json",
        "edge/kvm-host-5-guests.json",
        "edge/spec-sample.json",
        "examples/12-autoscale-platform-two-resource-groups.json",
    ] {
        for s in &run(rel).systems {
            for o in &s.options {
                assert!(
                    o.platform == 0 || (o.physical == 0 && o.r#virtual == 0),
                    "{rel}: {s:?}"
                );
            }
        }
    }
}

#[test]
fn autoscale_observed_above_max_counts_observed_and_warns() {
    let r = assert_counts("edge/autoscale-observed-above-max.json", 0, 0, 1);
    let s = system(&r, "gcp/shop-prod");
    let g = &s.autoscale_groups[0];
    assert_eq!((g.max, g.observed, g.counted), (Some(4), 6, 6));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.to_string().contains("more than its declared max 4")));
}

#[test]
fn an_undeclared_autoscale_group_counts_its_vms_and_warns() {
    let r = assert_counts("edge/autoscale-undeclared-group.json", 0, 3, 0);
    let g = &system(&r, "gcp/shop-prod").autoscale_groups[0];
    assert_eq!((g.max, g.observed, g.counted), (None, 3, 3));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.to_string().contains("not declared in autoscale_groups")));
}

#[test]
fn an_autoscale_group_without_placement_follows_its_vms() {
    // max 10 in azure/rg-web: platform × 1 beats virtual × 10.
    let r = assert_counts("edge/autoscale-group-placed-by-vms.json", 0, 0, 1);
    assert_eq!(r.systems.len(), 1);
    assert_eq!(system(&r, "azure/rg-web").guests, 10);
}

#[test]
fn an_autoscale_group_in_a_platform_counts_its_max_there() {
    let r = assert_counts("edge/autoscale-in-platform.json", 0, 0, 2);
    assert_eq!(system(&r, "openstack").guests, 30);
}

#[test]
fn a_cloud_unit_under_platform_counts_once_however_many_vms() {
    let r = assert_counts("edge/cloud-unit-many-vms.json", 0, 0, 1);
    assert_eq!(system(&r, "gcp/proj-1").guests, 30);
}

#[test]
fn vms_without_placement_are_unassigned_and_virtual_only() {
    let r = assert_counts("edge/unassigned-vms.json", 1, 7, 0);
    let s = system(&r, "unassigned");
    assert_eq!(s.kind, SystemKind::Unassigned);
    assert_eq!(s.options.len(), 1);
    assert_eq!(system(&r, "lonely").kind, SystemKind::Standalone);
}

#[test]
fn a_vm_host_missing_from_its_platform_is_counted_as_a_host() {
    let r = assert_counts("edge/vm-host-added-to-platform.json", 0, 0, 3);
    assert_eq!(system(&r, "vcenter").hosts, 3);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.to_string().contains("\"esx9\"")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn an_empty_inventory_costs_nothing() {
    let r = assert_counts("edge/empty.json", 0, 0, 0);
    assert!(r.systems.is_empty());
}

#[test]
fn the_spec_sample_prices_vcenter_tokyo_as_the_spec_shows() {
    let r = run("edge/spec-sample.json");
    let got = serde_json::to_value(system(&r, "vcenter-tokyo")).unwrap();
    let want: serde_json::Value = serde_json::from_str(
        r#"{"id": "vcenter-tokyo", "kind": "platform", "hosts": 3, "guests": 12,
     "options": [
       {"choice": "per-unit", "physical": 0, "virtual": 12, "platform": 0, "yearly_cost_jpy": 576000},
       {"choice": "platform", "physical": 0, "virtual": 0, "platform": 3, "yearly_cost_jpy": 720000}
     ],
     "chosen": "per-unit"}"#,
    )
    .unwrap();
    // Every field of the spec's example, with the same value.
    for (k, v) in want.as_object().unwrap() {
        assert_eq!(&got[k], v, "field {k}");
    }
    // kvm1 runs vm-a: a KVM host with one guest.
    let kvm = system(&r, "kvm1");
    assert_eq!(kvm.kind, SystemKind::KvmHost);
    assert_eq!(kvm.chosen_option().physical, 1);
    // rg-prod: vm-c plus group web (max 4, one VM seen) = 5 guests.
    assert_eq!(system(&r, "azure/rg-prod").guests, 5);
    // db1, db2 standalone.
    assert_eq!(system(&r, "db2").kind, SystemKind::Standalone);
    // Report JSON top level has exactly the spec's keys.
    let top = serde_json::to_value(&r).unwrap();
    let mut keys: Vec<&str> = top
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["systems", "total", "version", "warnings"]);
    assert_eq!(top["version"], 1);
}
