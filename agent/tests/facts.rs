//! `alma-ext facts` against fixture roots: the real binary, `--root`,
//! `--format json`, asserting what a user checks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_alma-ext")
}

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(case)
}

fn shared_alma(major: &str) -> PathBuf {
    alma_ext_test_support::almalinux_root(major)
}

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run alma-ext")
}

fn facts_json(root: &Path) -> Value {
    let out = run(&[
        "facts",
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "facts failed for {}: {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("facts prints JSON")
}

/// The machine layer of a fixture: (type, hypervisor, cloud, container).
fn machine(
    case: &str,
) -> (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Value,
) {
    let v = facts_json(&fixture(case));
    assert_eq!(v["schema_version"], 1);
    let m = &v["machine"];
    let s = |k: &str| m[k].as_str().map(String::from);
    let evidence = m["evidence"].as_array().expect("evidence array");
    // Every answer has evidence saying why.
    assert!(
        evidence.iter().any(|e| e["decides"] == "type"),
        "{case}: no evidence for type: {m}"
    );
    for k in ["hypervisor", "cloud", "container"] {
        if !m[k].is_null() {
            assert!(
                evidence.iter().any(|e| e["decides"] == k),
                "{case}: no evidence for {k}: {m}"
            );
        }
    }
    (
        s("type").unwrap(),
        s("hypervisor"),
        s("cloud"),
        s("container"),
        v,
    )
}

fn check(
    case: &str,
    kind: &str,
    hv: Option<&str>,
    cloud: Option<&str>,
    container: Option<&str>,
) -> Value {
    let (k, h, c, ct, v) = machine(case);
    assert_eq!(
        (k.as_str(), h.as_deref(), c.as_deref(), ct.as_deref()),
        (kind, hv, cloud, container),
        "{case}: {}",
        v["machine"]
    );
    v
}

#[test]
fn bare_metal() {
    let v = check("bare-metal", "physical", None, None, None);
    let h = &v["hardware"];
    assert_eq!(h["cpu_sockets"], 2);
    assert_eq!(h["cpu_cores"], 8);
    assert_eq!(h["cpu_threads"], 16);
    assert_eq!(h["memory_bytes"], 263_563_904u64 * 1024);
    assert_eq!(h["dmi"]["sys_vendor"], "Dell Inc.");
    assert_eq!(
        h["dmi"]["product_version"],
        Value::Null,
        "'Not Specified'-style placeholders are dropped"
    );
    assert_eq!(v["machine"]["uuid"], "4c4c4544-004b-5a10-8038-b4c04f584c33");
    assert_eq!(v["machine"]["hostname"], "db1.example.jp");
    assert_eq!(v["machine"]["hypervisor_host"], false);
    assert_eq!(v["machine"]["machine_id"].as_str().unwrap().len(), 32);
}

#[test]
fn kvm() {
    let v = check("kvm", "virtual", Some("kvm"), None, None);
    let ev = &v["machine"]["evidence"];
    assert!(ev.to_string().contains("KVMKVMKVM"), "{ev}");
}

#[test]
fn qemu_without_kvm() {
    check("qemu-tcg", "virtual", Some("qemu"), None, None);
}

#[test]
fn vmware() {
    check("vmware", "virtual", Some("vmware"), None, None);
}

#[test]
fn hyperv_on_premises_is_not_azure() {
    check("hyperv-onprem", "virtual", Some("microsoft"), None, None);
}

#[test]
fn azure_by_chassis_asset_tag() {
    let v = check("azure", "virtual", Some("microsoft"), Some("azure"), None);
    assert!(v["machine"]["evidence"]
        .to_string()
        .contains("7783-7084-3265-9085-8269-3286-77"));
}

#[test]
fn aws_nitro_is_a_vm() {
    check("aws-nitro", "virtual", Some("amazon"), Some("aws"), None);
}

#[test]
fn aws_metal_is_physical() {
    let v = check("aws-metal", "physical", None, Some("aws"), None);
    assert!(v["machine"]["evidence"].to_string().contains("m5.metal"));
}

#[test]
fn aws_xen() {
    check("aws-xen", "virtual", Some("xen"), Some("aws"), None);
}

#[test]
fn gce() {
    check("gce", "virtual", Some("google"), Some("gcp"), None);
}

#[test]
fn oracle_cloud_vm() {
    check("oci", "virtual", Some("kvm"), Some("oci"), None);
}

#[test]
fn xen_pv_domu_without_dmi_or_cpuid_bit() {
    let v = check("xen-pv-domu", "virtual", Some("xen"), None, None);
    assert_eq!(v["machine"]["hypervisor_host"], false);
    // No DMI: the UUID comes from /sys/hypervisor.
    assert_eq!(v["machine"]["uuid"], "8d1f5c3a-7b2e-4e9f-a1c0-3b5d7e9f1a2c");
}

#[test]
fn xen_dom0_is_a_host_not_a_guest() {
    let v = check("xen-dom0", "physical", None, None, None);
    assert_eq!(v["machine"]["hypervisor_host"], true);
    assert!(v["machine"]["evidence"].to_string().contains("dom0"));
}

#[test]
fn virtualbox_showing_kvm_signature() {
    check("virtualbox", "virtual", Some("oracle"), None, None);
}

#[test]
fn oracle_server_on_bare_metal() {
    let v = check("oracle-bare-metal", "physical", None, None, None);
    assert!(v["machine"]["evidence"]
        .to_string()
        .contains("not trusted without the hypervisor bit"));
}

#[test]
fn nutanix_ahv_guest() {
    check("nutanix-ahv", "virtual", Some("kvm"), None, None);
}

#[test]
fn nutanix_hardware_is_physical() {
    check("nutanix-hardware", "physical", None, None, None);
}

#[test]
fn kvm_with_hyperv_enlightenments() {
    check("kvm-hyperv-enlightened", "virtual", Some("kvm"), None, None);
}

#[test]
fn laptop_with_microsoft_dmi_is_physical() {
    check("laptop-surface", "physical", None, None, None);
}

#[test]
fn powervm_lpar() {
    let v = check("powervm-lpar", "virtual", Some("powervm"), None, None);
    assert_eq!(v["hardware"]["arch"], "ppc64le");
    assert_eq!(v["hardware"]["cpu_threads"], 8);
    assert_eq!(v["machine"]["uuid"], "2f9c1e7a-5b3d-4c8e-9a1f-6d2e4b7c8a90");
}

#[test]
fn zvm() {
    let v = check("zvm", "virtual", Some("zvm"), None, None);
    assert_eq!(v["hardware"]["arch"], "s390x");
    assert_eq!(v["hardware"]["cpu_threads"], 2);
}

#[test]
fn docker_on_kvm_reports_both_layers() {
    let v = check(
        "docker-on-kvm",
        "virtual",
        Some("kvm"),
        None,
        Some("docker"),
    );
    // No /etc/machine-id in the image: absent, never the real host's.
    assert_eq!(v["machine"]["machine_id"], Value::Null);
}

#[test]
fn podman_on_physical() {
    check("podman", "physical", None, None, Some("podman"));
}

#[test]
fn lxc() {
    check("lxc", "physical", None, None, Some("lxc"));
}

#[test]
fn systemd_nspawn_on_vmware() {
    check(
        "systemd-nspawn",
        "virtual",
        Some("vmware"),
        None,
        Some("systemd-nspawn"),
    );
}

#[test]
fn wsl() {
    check("wsl", "virtual", Some("microsoft"), None, Some("wsl"));
}

#[test]
fn empty_root_is_unknown_and_never_reads_the_host() {
    let v = check("empty", "unknown", None, None, None);
    let m = &v["machine"];
    assert_eq!(m["hostname"], Value::Null);
    assert_eq!(m["machine_id"], Value::Null);
    assert_eq!(m["uuid"], Value::Null);
    assert_eq!(v["os"]["family"], "other");
    assert_eq!(v["hardware"]["arch"], Value::Null);
    assert_eq!(v["hardware"]["memory_bytes"], Value::Null);
    assert_eq!(v["guests"], Value::Array(vec![]));
}

#[test]
fn os_versions() {
    let os = |case: &str| facts_json(&fixture(case))["os"].clone();
    let a10 = os("os-alma10");
    assert_eq!(
        (a10["major"].clone(), a10["minor"].clone()),
        (10.into(), 0.into())
    );
    assert_eq!(a10["family"], "almalinux");
    assert_eq!(a10["supported"], true);
    let k = os("os-kitten");
    assert_eq!(k["family"], "almalinux-kitten");
    assert_eq!(k["major"], 10);
    assert_eq!(k["minor"], Value::Null);
    assert_eq!(k["supported"], false);
    let d = os("os-debian");
    assert_eq!(d["family"], "other");
    assert_eq!(d["id"], "debian");
    assert_eq!(d["supported"], false);
    let a8 = os("os-alma8");
    assert_eq!(a8["major"], 8);
}

#[test]
fn shared_almalinux_roots() {
    for (major, minor, end) in [("8", 10, "2029-06-01"), ("9", 6, "2032-06-01")] {
        let v = facts_json(&shared_alma(major));
        assert_eq!(v["os"]["major"], major.parse::<u32>().unwrap());
        assert_eq!(v["os"]["minor"], minor);
        assert_eq!(v["os"]["family"], "almalinux");
        assert_eq!(v["os"]["supported"], true);
        assert_eq!(v["os"]["support_end"], end);
        assert_eq!(v["os"]["platform_id"], format!("platform:el{major}"));
        // Only os-release and repo files: nothing says what the machine is.
        assert_eq!(v["machine"]["type"], "unknown");
    }
}

#[test]
fn os_release_escapes_are_unescaped_and_bad_lines_warned() {
    let root = fixture("osrelease-escapes");
    let out = run(&[
        "facts",
        "--root",
        root.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["os"]["pretty_name"],
        "AlmaLinux 9.6 (Sage \"Margay\") $HOME"
    );
    assert_eq!(v["os"]["version_id"], "9.6");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("etc/os-release line 6"), "{err}");
}

#[test]
fn text_output_is_a_short_aligned_summary() {
    let root = fixture("aws-metal");
    let out = run(&["facts", "--root", root.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Machine "), "{text}");
    assert!(lines[0].ends_with("physical"), "{text}");
    assert!(text.contains("Cloud       aws"), "{text}");
    assert!(text.contains("2 sockets, 8 cores, 16 threads"), "{text}");
    // Values start in the same column.
    let col = |prefix: &str| {
        let l = lines.iter().find(|l| l.starts_with(prefix)).unwrap();
        l.len() - l[prefix.len()..].trim_start().len()
    };
    assert_eq!(col("Machine "), col("Cloud"));
    assert_eq!(col("Machine "), col("Machine ID"));
    assert!(lines.len() <= 20, "{text}");
}

#[test]
fn invalid_cpuid_fixture_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".alma-ext")).unwrap();
    std::fs::write(
        dir.path().join(".alma-ext/cpuid"),
        "hypervisor_bit=1\nsignature=KVMKVMKVM\nleaf=7\n",
    )
    .unwrap();
    let out = run(&["facts", "--root", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(".alma-ext/cpuid line 3"), "{err}");
}

#[test]
fn missing_root_is_a_usage_error() {
    let out = run(&["facts", "--root", "/nonexistent/alma-ext-root"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["facts", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_explains_the_cpuid_fixture() {
    let out = run(&["facts", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".alma-ext/cpuid"), "{text}");
    assert!(text.contains("--format"), "{text}");
}

#[test]
fn kvm_host_with_guests_is_a_hypervisor_host() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libvirt/kvmhost");
    let v = facts_json(&root);
    assert_eq!(v["machine"]["type"], "physical");
    assert_eq!(v["machine"]["hypervisor_host"], true);
    assert!(v["machine"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["decides"] == "hypervisor_host"));
    assert!(!v["guests"].as_array().unwrap().is_empty());
}
