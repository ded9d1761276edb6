//! `alma-ext facts` on every architecture AlmaLinux runs on: one fixture
//! root per kind of machine (agent/tests/fixtures/hosts), built from the
//! platforms' public documentation (systemd-detect-virt's and virt-what's
//! signals, the SMBIOS specification, the kernel's /proc formats). Each row
//! asserts what a user checks: type, hypervisor, cloud, container, arch,
//! and that an evidence line backs every answer.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(case)
}

fn facts(case: &str) -> (Value, String) {
    let root = fixture(case);
    assert!(root.is_dir(), "fixture {case} missing");
    let out = Command::new(env!("CARGO_BIN_EXE_alma-ext"))
        .args(["facts", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .expect("run alma-ext");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{case}: {stderr}");
    (
        serde_json::from_slice(&out.stdout).expect("facts prints JSON"),
        stderr,
    )
}

/// (case, type, hypervisor, cloud, container, arch, a piece of the
/// evidence that must be shown).
type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const A64: Option<&str> = Some("aarch64");
const PPC: Option<&str> = Some("ppc64le");
const S390: Option<&str> = Some("s390x");
const X86: Option<&str> = Some("x86_64");

fn check(rows: &[Row]) {
    let mut failures = Vec::new();
    for &(case, kind, hypervisor, cloud, container, arch, shown) in rows {
        let (v, _) = facts(case);
        let m = &v["machine"];
        let s = |k: &str| m[k].as_str().map(String::from);
        let got = (
            s("type").unwrap_or_default(),
            s("hypervisor"),
            s("cloud"),
            s("container"),
            v["hardware"]["arch"].as_str().map(String::from),
        );
        let want = (
            kind.to_string(),
            hypervisor.map(String::from),
            cloud.map(String::from),
            container.map(String::from),
            arch.map(String::from),
        );
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}\n  {m}", case));
            continue;
        }
        let evidence = m["evidence"].as_array().expect("evidence array");
        for k in ["type", "hypervisor", "cloud", "container"] {
            let needed = k == "type" || !m[k].is_null();
            if needed && !evidence.iter().any(|e| e["decides"] == k) {
                failures.push(format!("{}: no evidence for {k}: {m}", case));
            }
        }
        if !m["evidence"].to_string().contains(shown) {
            failures.push(format!(
                "{}: evidence does not mention {:?}: {}",
                case, shown, m["evidence"]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[rustfmt::skip]
fn aarch64_without_cpuid() {
    check(&[
        // A cloud VM named by DMI: the vendor table, on every architecture.
        ("aarch64-alibaba-ecs", "virtual", Some("kvm"), Some("alibaba"), None, A64, "SMBIOS virtual machine bit 1"),
        ("aarch64-alibaba-ecs-nosmbios", "virtual", Some("kvm"), Some("alibaba"), None, A64, "Alibaba Cloud ECS"),
        ("aarch64-aws-graviton", "virtual", Some("amazon"), Some("aws"), None, A64, "SMBIOS virtual machine bit 1"),
        ("aarch64-oci-a1", "virtual", Some("kvm"), Some("oci"), None, A64, "KVM Virtual Machine"),
        ("aarch64-vmware", "virtual", Some("vmware"), None, None, A64, "VMware"),
        // Physical needs positive evidence.
        ("aarch64-hpe-rl300", "physical", None, None, None, A64, "SMBIOS virtual machine bit 0"),
        ("aarch64-ampere-nosmbios", "physical", None, None, None, A64, "bare-metal product"),
        ("aarch64-unknown-board", "unknown", None, None, None, A64, "not enough to say physical"),
        ("aarch64-rpi-dt", "unknown", None, None, None, A64, "device tree"),
    ]);
}

#[test]
#[rustfmt::skip]
fn aarch64_device_tree_only_guests() {
    check(&[
        ("aarch64-qemu-virt-fwcfg", "virtual", Some("qemu"), None, None, A64, "fw-cfg"),
        ("aarch64-firecracker", "virtual", Some("vm-other"), None, None, A64, "linux,dummy-virt"),
        ("aarch64-kvm-dt-hypervisor", "virtual", Some("kvm"), None, None, A64, "linux,kvm"),
    ]);
}

#[test]
#[rustfmt::skip]
fn ec2_metal_inside_the_product_name() {
    check(&[
        ("aarch64-aws-metal-24xl", "physical", None, Some("aws"), None, A64, "m8g.metal-24xl (EC2 bare metal instance)"),
        ("aws-metal-smbios-clear", "physical", None, Some("aws"), None, X86, "SMBIOS virtual machine bit 0"),
    ]);
}

#[test]
#[rustfmt::skip]
fn ppc64le() {
    check(&[
        ("ppc64le-kvm-pseries", "virtual", Some("kvm"), None, None, PPC, "qemu,pseries"),
        ("ppc64le-kvm-cpuinfo-only", "virtual", Some("kvm"), None, None, PPC, "emulated by qemu"),
        ("ppc64le-powervm-shared", "virtual", Some("powervm"), None, None, PPC, "shared processors"),
        ("ppc64le-powervm-dedicated", "virtual", Some("powervm"), None, None, PPC, "dedicated processors"),
        ("powervm-lpar", "virtual", Some("powervm"), None, None, PPC, "HMC-managed"),
        ("ppc64le-powernv", "physical", None, None, None, PPC, "PowerNV"),
    ]);
    let (v, _) = facts("ppc64le-powernv");
    assert_eq!(v["hardware"]["cpu_model"], "POWER8E (raw), altivec supported");
    assert_eq!(v["hardware"]["cpu_threads"], 8);
}

#[test]
#[rustfmt::skip]
fn s390x() {
    check(&[
        ("zvm", "virtual", Some("zvm"), None, None, S390, "z/VM"),
        ("s390x-kvm", "virtual", Some("kvm"), None, None, S390, "KVM/Linux"),
        ("s390x-lpar", "physical", None, None, None, S390, "LPAR Name:            LP12"),
        ("s390x-no-sysinfo", "unknown", None, None, None, S390, "no CPUID"),
    ]);
}

#[test]
#[rustfmt::skip]
fn containers_name_themselves() {
    check(&[
        ("nspawn-environ", "physical", None, None, Some("systemd-nspawn"), X86, "container=systemd-nspawn"),
        ("aarch64-nspawn-manager", "virtual", Some("kvm"), None, Some("systemd-nspawn"), A64, "/run/host/container-manager"),
        ("systemd-nspawn", "virtual", Some("vmware"), None, Some("systemd-nspawn"), X86, "/run/systemd/container"),
        ("oci-containerenv", "virtual", Some("kvm"), None, Some("podman"), X86, "/run/.containerenv"),
        ("container-unknown-manager", "virtual", Some("kvm"), None, Some("container-other"), X86, "bubblewrap-x"),
    ]);
}

#[test]
#[rustfmt::skip]
fn x86_edge_cases() {
    check(&[
        ("nutanix-ahv-hv-only", "virtual", Some("kvm"), None, None, X86, "AHV"),
        // A short type-0 entry does not make a Nitro VM physical.
        ("aws-nitro-smbios-short", "virtual", Some("amazon"), Some("aws"), None, X86, "Amazon EC2"),
        ("xen-dangling-link", "virtual", Some("kvm"), None, None, X86, "KVMKVMKVM"),
        ("xen-looping-link", "virtual", Some("kvm"), None, None, X86, "KVMKVMKVM"),
        ("rhv-guest", "virtual", Some("kvm"), None, None, X86, "Red Hat"),
    ]);
}

#[test]
#[rustfmt::skip]
fn short_smbios_entry_has_no_vm_bit() {
    // 0x12 bytes: the byte at 0x13 is a string, not the extension byte.
    check(&[("aarch64-smbios-short", "unknown", None, None, None, A64, "not enough to say physical")]);
}
