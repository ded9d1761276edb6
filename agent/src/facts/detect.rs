//! What the machine is, as a pure function of what was read ([`Probe`]).
//!
//! The machine layer follows systemd-detect-virt's order and names, with
//! the traps that cost customers money fixed:
//! 1. Xen: `/proc/xen` or `/sys/hypervisor/type` = xen. dom0 (XENFEAT_dom0 or
//!    `control_d`) is a hypervisor host, not a guest.
//! 2. DMI vendors that hide behind another CPUID signature: VirtualBox
//!    (often shows `KVMKVMKVM`), Xen, Amazon EC2 (Nitro is KVM inside),
//!    Parallels, Google.
//! 3. CPUID: every hypervisor leaf, the first one that is not `Microsoft Hv`
//!    wins (KVM and Xen with Hyper-V enlightenments put their own leaf at
//!    0x40000100).
//! 4. The rest of DMI, the SMBIOS "virtual machine" bit, `/sys/hypervisor`,
//!    the device tree (aarch64, ppc64le), `/proc/sysinfo` (s390x).
//!
//! On x86, when CPUID says "no hypervisor", a DMI vendor that also makes
//! real hardware (Oracle, Microsoft, Amazon, Google, Nutanix, Alibaba, ...)
//! is not trusted: Oracle servers, Surface laptops and AWS `.metal`
//! instances are physical machines.

use alma_ext_proto::facts::{Dmi, Evidence, MachineType};

use super::cpuid::{hypervisor_of_signature, Cpuid};

/// Azure's fixed chassis asset tag; on-premises Hyper-V has another one.
pub const AZURE_ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";

const DMI_DIR: &str = "/sys/class/dmi/id";

/// Everything detection looks at, read from one root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// CPUID, when available (x86 on `/`, or the fixture file).
    pub cpuid: Option<Cpuid>,
    pub dmi: Dmi,
    /// SMBIOS BIOS characteristics extension "virtual machine" bit from
    /// /sys/firmware/dmi/entries/0-0/raw; None when unreadable.
    pub smbios_vm_bit: Option<bool>,
    /// /proc/xen exists.
    pub proc_xen: bool,
    /// /proc/xen/capabilities.
    pub xen_capabilities: Option<String>,
    /// /sys/hypervisor/properties/features (hex).
    pub xen_features: Option<String>,
    /// /sys/hypervisor/type.
    pub sys_hypervisor_type: Option<String>,
    /// /sys/hypervisor/uuid.
    pub sys_hypervisor_uuid: Option<String>,
    /// /proc/device-tree exists.
    pub device_tree: bool,
    /// /proc/device-tree/hypervisor/compatible.
    pub dt_hypervisor_compatible: Option<String>,
    /// /proc/device-tree/ibm,partition-name.
    pub dt_ibm_partition_name: Option<String>,
    /// /proc/device-tree/hmc-managed? exists.
    pub dt_hmc_managed: bool,
    /// /proc/device-tree/chosen/qemu,graphic-width exists.
    pub dt_qemu_graphic_width: bool,
    /// A /proc/device-tree entry named *fw-cfg*.
    pub dt_fw_cfg: bool,
    /// /proc/device-tree/compatible (a NUL-separated list).
    pub dt_compatible: Option<String>,
    /// /proc/device-tree/ibm,opal exists (PowerNV: OPAL firmware on the
    /// hardware).
    pub dt_opal: bool,
    /// /proc/sysinfo (s390x).
    pub s390_sysinfo: Option<String>,
    /// ppc64: `platform`, `model` and `machine` of /proc/cpuinfo
    /// (`pSeries`, `IBM pSeries (emulated by qemu)`; `PowerNV`).
    pub ppc: PpcCpuinfo,
    /// ppc64: `shared_processor_mode` of /proc/ppc64/lparcfg.
    pub lpar_shared: Option<bool>,
    /// /proc/cpuinfo vendor_id.
    pub cpu_vendor: Option<String>,
    /// libvirt/QEMU domain definitions exist (/etc/libvirt/qemu/*.xml or
    /// /run/libvirt/qemu/*.xml).
    pub libvirt_domains: bool,
    pub container: ContainerProbe,
}

/// What /proc/cpuinfo says about a POWER platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PpcCpuinfo {
    pub platform: Option<String>,
    pub model: Option<String>,
    pub machine: Option<String>,
}

/// The SMBIOS "virtual machine" bit of a type-0 (BIOS information) entry,
/// /sys/firmware/dmi/entries/0-0/raw: BIOS characteristics extension byte
/// 2 (offset 0x13), bit 4. None when the entry is too short to hold it: the
/// formatted area must be at least 20 bytes long (byte 1) and that much
/// must have been read.
pub fn smbios_vm_bit(raw: &[u8]) -> Option<bool> {
    if raw.len() < 20 || raw[1] < 20 {
        return None;
    }
    Some(raw[0x13] & (1 << 4) != 0)
}

/// Container markers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerProbe {
    /// /proc/vz exists.
    pub proc_vz: bool,
    /// /proc/bc exists (an OpenVZ host has both).
    pub proc_bc: bool,
    /// /proc/sys/kernel/osrelease.
    pub kernel_osrelease: Option<String>,
    /// /run/host/container-manager.
    pub run_host_container_manager: Option<String>,
    /// /run/systemd/container.
    pub run_systemd_container: Option<String>,
    /// `container=` in /proc/1/environ.
    pub pid1_environ_container: Option<String>,
    /// /run/.containerenv exists.
    pub containerenv: bool,
    /// /.dockerenv exists.
    pub dockerenv: bool,
    /// /proc/1/cgroup.
    pub pid1_cgroup: Option<String>,
}

/// The machine layer and the container layer, with evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub kind: MachineType,
    pub hypervisor: Option<String>,
    pub cloud: Option<String>,
    pub container: Option<String>,
    pub hypervisor_host: bool,
    pub evidence: Vec<Evidence>,
}

fn ev(decides: &str, source: impl Into<String>, value: impl Into<String>) -> Evidence {
    Evidence {
        decides: decides.to_string(),
        source: source.into(),
        value: value.into(),
    }
}

fn dmi_path(field: &str) -> String {
    format!("{DMI_DIR}/{field}")
}

/// A DMI string that names a hypervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DmiHit {
    hypervisor: &'static str,
    field: &'static str,
    value: String,
    /// The vendor also makes real hardware (or sells bare-metal machines
    /// under the same name): believe it only with the CPUID hypervisor bit
    /// or, without CPUID, unless the SMBIOS VM bit is clear or the product
    /// is a known bare-metal one.
    hardware_vendor: bool,
}

impl DmiHit {
    fn evidence(&self, decides: &str) -> Evidence {
        ev(decides, dmi_path(self.field), self.value.clone())
    }
}

/// DMI strings of virtual hardware, matched as a prefix of product_name,
/// sys_vendor, board_vendor, bios_vendor and product_version in that order
/// (the product first, so "KVM" wins over "QEMU"): systemd-detect-virt's
/// vendor table, virt-what's DMI checks (oVirt, RHV, Nutanix AHV, Alibaba
/// Cloud) and the clouds whose DMI names their virtual machines. The flag
/// says the name also stands for real hardware.
const DMI_TABLE: &[(&str, &str, bool)] = &[
    // systemd-detect-virt
    ("KVM", "kvm", false),
    ("OpenStack", "kvm", false),
    ("KubeVirt", "kvm", false),
    ("Amazon EC2", "amazon", true),
    ("QEMU", "qemu", false),
    ("VMware", "vmware", false),
    ("VMW", "vmware", false),
    ("innotek GmbH", "oracle", false),
    ("VirtualBox", "oracle", false),
    ("Oracle Corporation", "oracle", true),
    ("Xen", "xen", false),
    ("Bochs", "bochs", false),
    ("Parallels", "parallels", false),
    ("BHYVE", "bhyve", false),
    ("Hyper-V", "microsoft", false),
    ("Apple Virtualization", "apple", false),
    ("Google Compute Engine", "google", true),
    // virt-what
    ("oVirt", "kvm", false),
    ("RHEV Hypervisor", "kvm", false),
    ("Red Hat", "kvm", false),
    ("AHV", "kvm", false),
    // Alibaba Cloud names its bare-metal (EBM) instances the same way.
    ("Alibaba Cloud", "kvm", true),
    // Clouds whose DMI names their virtual machines (their bare-metal
    // offers report the board maker).
    ("DigitalOcean", "kvm", false),
    ("Hetzner", "kvm", false),
    ("Vultr", "kvm", false),
    ("Linode", "kvm", false),
    ("Akamai", "kvm", false),
    ("Tencent Cloud", "kvm", false),
    ("Scaleway", "kvm", false),
    ("UpCloud", "kvm", false),
    ("Exoscale", "kvm", false),
    ("Huawei Cloud", "kvm", false),
];

/// Products that are real hardware, whatever their vendor also sells:
/// (sys_vendor prefix, product_name prefix). Positive evidence of a
/// physical machine where CPUID is unavailable (aarch64, ppc64le, s390x).
const BARE_METAL_PRODUCTS: &[(&str, &str)] = &[
    ("Nutanix", "NX-"),
    ("Oracle Corporation", "ORACLE SERVER"),
    ("Oracle Corporation", "SUN FIRE"),
    ("HPE", "ProLiant RL"),
    ("Ampere", "Mt."),
    ("Huawei", "TaiShan"),
    ("Supermicro", "ARS-"),
    ("Lenovo", "ThinkSystem HR"),
    ("GIGABYTE", "R272-P"),
    ("GIGABYTE", "R152-P"),
];

/// EC2 bare metal: `.metal` at the end of the product name or followed by
/// a size (`m8g.metal-24xl`).
fn ec2_metal(product: &str) -> bool {
    product
        .match_indices(".metal")
        .any(|(i, m)| matches!(product.as_bytes().get(i + m.len()), None | Some(b'-')))
}

/// A known bare-metal product, as evidence.
fn bare_metal_product(d: &Dmi) -> Option<Evidence> {
    let vendor = d.sys_vendor.as_deref().unwrap_or_default();
    let product = d.product_name.as_deref()?;
    if vendor.starts_with("Amazon EC2") && ec2_metal(product) {
        return Some(ev(
            "type",
            dmi_path("product_name"),
            format!("{product} (EC2 bare metal instance)"),
        ));
    }
    BARE_METAL_PRODUCTS
        .iter()
        .any(|(v, p)| vendor.starts_with(v) && product.starts_with(p))
        .then(|| {
            ev(
                "type",
                dmi_path("product_name"),
                format!("{product} (sys_vendor {vendor}: a bare-metal product)"),
            )
        })
}

fn dmi_fields(d: &Dmi) -> [(&'static str, Option<&str>); 5] {
    [
        ("product_name", d.product_name.as_deref()),
        ("sys_vendor", d.sys_vendor.as_deref()),
        ("board_vendor", d.board_vendor.as_deref()),
        ("bios_vendor", d.bios_vendor.as_deref()),
        ("product_version", d.product_version.as_deref()),
    ]
}

fn dmi_hit(d: &Dmi) -> Option<DmiHit> {
    // Hyper-V and Azure: "Microsoft Corporation" / "Virtual Machine". The
    // vendor alone also matches Surface laptops.
    if d.sys_vendor.as_deref() == Some("Microsoft Corporation")
        && d.product_name.as_deref() == Some("Virtual Machine")
    {
        return Some(DmiHit {
            hypervisor: "microsoft",
            field: "product_name",
            value: "Virtual Machine (sys_vendor Microsoft Corporation)".into(),
            hardware_vendor: true,
        });
    }
    // Hitachi Virtage logical partitions (virt-what).
    if d.sys_vendor
        .as_deref()
        .is_some_and(|v| v.starts_with("HITACHI"))
        && d.product_name
            .as_deref()
            .is_some_and(|p| p.contains(" LPAR"))
    {
        return Some(DmiHit {
            hypervisor: "vm-other",
            field: "product_name",
            value: format!(
                "{} (Hitachi Virtage LPAR)",
                d.product_name.as_deref().unwrap_or_default()
            ),
            hardware_vendor: false,
        });
    }
    for (field, value) in dmi_fields(d) {
        let Some(value) = value else { continue };
        for (prefix, hv, hw) in DMI_TABLE {
            if value.starts_with(prefix) {
                return Some(DmiHit {
                    hypervisor: hv,
                    field,
                    value: value.to_string(),
                    hardware_vendor: *hw,
                });
            }
        }
    }
    None
}

/// The cloud, from local data only.
fn detect_cloud(p: &Probe, evidence: &mut Vec<Evidence>) -> Option<String> {
    let d = &p.dmi;
    let mut hit = |cloud: &str, source: String, value: &str| {
        evidence.push(ev("cloud", source, value));
        Some(cloud.to_string())
    };
    let eq = |v: &Option<String>, s: &str| v.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(s));
    let starts = |v: &Option<String>, s: &str| {
        v.as_deref()
            .is_some_and(|x| x.to_ascii_lowercase().starts_with(&s.to_ascii_lowercase()))
    };
    if let Some(tag) = d.chassis_asset_tag.as_deref() {
        if tag == AZURE_ASSET_TAG {
            return hit("azure", dmi_path("chassis_asset_tag"), tag);
        }
        if tag == "OracleCloud.com" {
            return hit("oci", dmi_path("chassis_asset_tag"), tag);
        }
        if tag.eq_ignore_ascii_case("HUAWEICLOUD") {
            return hit("huawei", dmi_path("chassis_asset_tag"), tag);
        }
        if tag.eq_ignore_ascii_case("ibmcloud") {
            return hit("ibm", dmi_path("chassis_asset_tag"), tag);
        }
        if tag == "Amazon EC2" {
            return hit("aws", dmi_path("chassis_asset_tag"), tag);
        }
    }
    for (field, value) in [
        ("sys_vendor", &d.sys_vendor),
        ("bios_vendor", &d.bios_vendor),
        ("board_vendor", &d.board_vendor),
    ] {
        if eq(value, "Amazon EC2") {
            return hit("aws", dmi_path(field), value.as_deref().unwrap_or_default());
        }
    }
    // Xen-based EC2 instances: "4.11.amazon" and an ec2 UUID.
    if let Some(u) = p.sys_hypervisor_uuid.as_deref() {
        if u.to_ascii_lowercase().starts_with("ec2") {
            return hit("aws", "/sys/hypervisor/uuid".into(), u);
        }
    }
    if let Some(v) = d.bios_version.as_deref() {
        if v.to_ascii_lowercase().ends_with(".amazon") {
            return hit("aws", dmi_path("bios_version"), v);
        }
    }
    if eq(&d.product_name, "Google Compute Engine") || eq(&d.sys_vendor, "Google") {
        let (f, v) = if d.product_name.is_some() {
            ("product_name", d.product_name.as_deref())
        } else {
            ("sys_vendor", d.sys_vendor.as_deref())
        };
        return hit("gcp", dmi_path(f), v.unwrap_or_default());
    }
    if starts(&d.sys_vendor, "Alibaba Cloud") || starts(&d.product_name, "Alibaba Cloud") {
        return hit(
            "alibaba",
            dmi_path("sys_vendor"),
            d.sys_vendor.as_deref().unwrap_or("Alibaba Cloud"),
        );
    }
    if starts(&d.product_name, "OpenStack") {
        return hit(
            "openstack",
            dmi_path("product_name"),
            d.product_name.as_deref().unwrap_or_default(),
        );
    }
    if starts(&d.sys_vendor, "OpenStack") {
        return hit(
            "openstack",
            dmi_path("sys_vendor"),
            d.sys_vendor.as_deref().unwrap_or_default(),
        );
    }
    const VENDORS: &[(&str, &str)] = &[
        ("DigitalOcean", "digitalocean"),
        ("Hetzner", "hetzner"),
        ("Vultr", "vultr"),
        ("Linode", "linode"),
        ("Akamai", "linode"),
        ("Tencent Cloud", "tencent"),
        ("Scaleway", "scaleway"),
        ("UpCloud", "upcloud"),
        ("Exoscale", "exoscale"),
        ("OVH", "ovhcloud"),
        ("Huawei Cloud", "huawei"),
    ];
    for (field, value) in [
        ("sys_vendor", &d.sys_vendor),
        ("product_name", &d.product_name),
    ] {
        for (prefix, cloud) in VENDORS {
            if starts(value, prefix) {
                return hit(cloud, dmi_path(field), value.as_deref().unwrap_or_default());
            }
        }
    }
    None
}

fn xen_dom0(p: &Probe) -> Option<Evidence> {
    // XENFEAT_dom0 is bit 11 of the feature map.
    if let Some(f) = p.xen_features.as_deref() {
        if let Ok(bits) = u64::from_str_radix(f.trim().trim_start_matches("0x"), 16) {
            if bits & (1 << 11) != 0 {
                return Some(ev(
                    "hypervisor_host",
                    "/sys/hypervisor/properties/features",
                    format!("{f} (XENFEAT_dom0 set: Xen dom0)"),
                ));
            }
            return None;
        }
    }
    if let Some(c) = p.xen_capabilities.as_deref() {
        if c.contains("control_d") {
            return Some(ev(
                "hypervisor_host",
                "/proc/xen/capabilities",
                format!("{c} (Xen dom0)"),
            ));
        }
    }
    None
}

fn detect_container(c: &ContainerProbe, evidence: &mut Vec<Evidence>) -> Option<String> {
    if c.proc_vz && !c.proc_bc {
        evidence.push(ev("container", "/proc/vz", "present without /proc/bc"));
        return Some("openvz".into());
    }
    if let Some(o) = c.kernel_osrelease.as_deref() {
        if o.contains("Microsoft") || o.contains("microsoft") || o.contains("WSL") {
            evidence.push(ev("container", "/proc/sys/kernel/osrelease", o));
            return Some("wsl".into());
        }
    }
    // The name the container manager gives, in systemd's order. A name
    // this table does not know is remembered, and reported as
    // container-other only if the files below name nothing better; `oci`
    // names a format, not a manager.
    let named = [
        ("/run/host/container-manager", &c.run_host_container_manager),
        ("/run/systemd/container", &c.run_systemd_container),
        ("/proc/1/environ", &c.pid1_environ_container),
    ];
    let mut unnamed: Option<Evidence> = None;
    for (source, value) in named {
        let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let shown = if source == "/proc/1/environ" {
            format!("container={v}")
        } else {
            v.to_string()
        };
        let name = match v {
            "lxc" | "lxc-libvirt" | "systemd-nspawn" | "docker" | "podman" | "rkt" | "wsl"
            | "proot" | "pouch" | "openvz" | "crio" => v,
            "libpod" => "podman",
            "cri-o" => "crio",
            "incus" | "lxd" => "lxc",
            _ => {
                unnamed.get_or_insert(ev("container", source, shown));
                continue;
            }
        };
        evidence.push(ev("container", source, shown));
        return Some(name.to_string());
    }
    if c.containerenv {
        evidence.push(ev("container", "/run/.containerenv", "present (podman)"));
        return Some("podman".into());
    }
    if c.dockerenv {
        evidence.push(ev("container", "/.dockerenv", "present (docker)"));
        return Some("docker".into());
    }
    if let Some(cg) = c.pid1_cgroup.as_deref() {
        let found = cg.lines().find_map(|l| {
            let path = l.splitn(3, ':').nth(2)?;
            if path.contains("crio-") {
                Some(("crio", l))
            } else if path.contains("libpod") {
                Some(("podman", l))
            } else if path.contains("/docker/") || path.contains("docker-") {
                Some(("docker", l))
            } else if path.contains("/lxc/") || path.contains("lxc.payload") {
                Some(("lxc", l))
            } else if path.contains("/systemd-nspawn@") {
                Some(("systemd-nspawn", l))
            } else if path.contains("/kubepods") {
                Some(("container-other", l))
            } else {
                None
            }
        });
        if let Some((name, line)) = found {
            evidence.push(ev("container", "/proc/1/cgroup", line));
            return Some(name.into());
        }
    }
    let e = unnamed?;
    evidence.push(e);
    Some("container-other".into())
}

/// Decide the machine layer, the cloud and the container layer.
pub fn detect(p: &Probe) -> Answer {
    let mut evidence = Vec::new();
    let (kind, hypervisor, mut hypervisor_host) = detect_machine(p, &mut evidence);
    let cloud = detect_cloud(p, &mut evidence);
    let container = detect_container(&p.container, &mut evidence);
    if !hypervisor_host && kind == MachineType::Physical && p.libvirt_domains {
        evidence.push(ev(
            "hypervisor_host",
            "/etc/libvirt/qemu",
            "libvirt domain definitions present (KVM host)",
        ));
        hypervisor_host = true;
    }
    Answer {
        kind,
        hypervisor: hypervisor.map(str::to_string),
        cloud,
        container,
        hypervisor_host,
        evidence,
    }
}

fn virtual_(evidence: &mut Vec<Evidence>, hv: &'static str, why: Evidence) -> MachineLayer {
    let mut type_ev = why.clone();
    type_ev.decides = "type".into();
    evidence.push(type_ev);
    let mut hv_ev = why;
    hv_ev.decides = "hypervisor".into();
    evidence.push(hv_ev);
    (MachineType::Virtual, Some(hv), false)
}

const SMBIOS_TYPE0: &str = "/sys/firmware/dmi/entries/0-0/raw";

fn cpuid_ev(c: &Cpuid) -> String {
    if c.signatures.is_empty() {
        format!("hypervisor bit {}", u8::from(c.hypervisor_bit))
    } else {
        let leaves: Vec<String> = c
            .signatures
            .iter()
            .enumerate()
            .map(|(i, s)| format!("0x{:08x}={s:?}", 0x4000_0000u32 + 0x100 * i as u32))
            .collect();
        format!(
            "hypervisor bit {}, leaves {}",
            u8::from(c.hypervisor_bit),
            leaves.join(" ")
        )
    }
}

fn smbios_ev(decides: &str, bit: bool) -> Evidence {
    ev(
        decides,
        SMBIOS_TYPE0,
        format!("SMBIOS virtual machine bit {}", u8::from(bit)),
    )
}

type MachineLayer = (MachineType, Option<&'static str>, bool);

fn physical(evidence: &mut Vec<Evidence>, why: Evidence) -> MachineLayer {
    evidence.push(why);
    (MachineType::Physical, None, false)
}

/// A DMI vendor hit, weighed against what else says "hardware".
fn believe_dmi(p: &Probe, h: &DmiHit, evidence: &mut Vec<Evidence>) -> MachineLayer {
    if !h.hardware_vendor {
        return virtual_(evidence, h.hypervisor, h.evidence(""));
    }
    match p.cpuid.as_ref() {
        // On x86 the hypervisor bit decides for a vendor of real hardware.
        Some(c) if !c.hypervisor_bit => physical(
            evidence,
            ev(
                "type",
                "cpuid",
                format!(
                    "{}: DMI {}={:?} is a vendor of real hardware too, not trusted without the hypervisor bit",
                    cpuid_ev(c),
                    h.field,
                    h.value
                ),
            ),
        ),
        Some(_) => virtual_(evidence, h.hypervisor, h.evidence("")),
        // No CPUID (aarch64): the SMBIOS bit, then the product name.
        None => match p.smbios_vm_bit {
            Some(false) => physical(evidence, smbios_ev("type", false)),
            Some(true) => {
                let mut e = h.evidence("");
                e.value = format!("{} (SMBIOS virtual machine bit 1)", e.value);
                virtual_(evidence, h.hypervisor, e)
            }
            None => match bare_metal_product(&p.dmi) {
                Some(e) => physical(evidence, e),
                None => {
                    let mut e = h.evidence("");
                    e.value = format!(
                        "{} (the vendor's virtual machine product; no CPUID, SMBIOS bit unreadable)",
                        e.value
                    );
                    virtual_(evidence, h.hypervisor, e)
                }
            },
        },
    }
}

fn detect_machine(p: &Probe, evidence: &mut Vec<Evidence>) -> MachineLayer {
    let cpuid = p.cpuid.as_ref();

    // 1. Xen.
    let xen = p.proc_xen || p.sys_hypervisor_type.as_deref() == Some("xen");
    let dom0 = if xen { xen_dom0(p) } else { None };
    if let Some(dom0_ev) = dom0 {
        // A dom0 may itself be nested in another hypervisor: only a non-Xen
        // CPUID signature says so.
        if let Some(c) = cpuid.filter(|c| c.hypervisor_bit) {
            if let Some(hv) = c
                .signatures
                .iter()
                .filter_map(|s| hypervisor_of_signature(s))
                .find(|h| *h != "xen" && *h != "microsoft")
            {
                evidence.push(dom0_ev);
                let (k, h, _) = virtual_(evidence, hv, ev("", "cpuid", cpuid_ev(c)));
                return (k, h, true);
            }
        }
        let mut t = dom0_ev.clone();
        t.decides = "type".into();
        t.value = format!("{} - the Xen control domain runs on the hardware", t.value);
        evidence.push(t);
        evidence.push(dom0_ev);
        return (MachineType::Physical, None, true);
    }

    // 2. DMI vendors that run on top of another hypervisor's CPUID.
    let hit = dmi_hit(&p.dmi);
    if let Some(h) = &hit {
        if h.hypervisor == "amazon" {
            // Nitro VM or bare metal: the SMBIOS bit, else the product
            // name, else CPUID (as systemd-detect-virt does).
            return match p.smbios_vm_bit {
                Some(true) => virtual_(evidence, "amazon", smbios_ev("", true)),
                Some(false) => physical(evidence, smbios_ev("type", false)),
                None => match bare_metal_product(&p.dmi) {
                    Some(e) => physical(evidence, e),
                    None => believe_dmi(p, h, evidence),
                },
            };
        }
        if matches!(h.hypervisor, "oracle" | "xen" | "parallels" | "google") {
            return believe_dmi(p, h, evidence);
        }
    }

    // Xen domU (PV guests have no DMI and may have no hypervisor bit).
    if xen {
        let source = if p.proc_xen {
            "/proc/xen"
        } else {
            "/sys/hypervisor/type"
        };
        let value = if p.proc_xen {
            "present, not the control domain (Xen domU)"
        } else {
            "xen (Xen domU)"
        };
        return virtual_(evidence, "xen", ev("", source, value));
    }

    // 3. CPUID.
    let mut tentative: Option<(&'static str, Evidence)> = None;
    if let Some(c) = cpuid {
        if c.hypervisor_bit {
            let named: Vec<&'static str> = c
                .signatures
                .iter()
                .filter_map(|s| hypervisor_of_signature(s))
                .collect();
            if let Some(hv) = named.iter().copied().find(|h| *h != "microsoft") {
                return virtual_(evidence, hv, ev("", "cpuid", cpuid_ev(c)));
            }
            // `Microsoft Hv` alone: QEMU/KVM (and Nutanix AHV) can also
            // show only that, so DMI may still name the real hypervisor.
            let guess = if named.contains(&"microsoft") {
                "microsoft"
            } else {
                "vm-other"
            };
            tentative = Some((guess, ev("", "cpuid", cpuid_ev(c))));
        }
    }

    // 4. The rest of DMI.
    if let Some(h) = &hit {
        return believe_dmi(p, h, evidence);
    }
    if tentative.is_none() && p.smbios_vm_bit == Some(true) {
        tentative = Some(("vm-other", smbios_ev("", true)));
    }

    // /sys/hypervisor/type other than xen.
    if let Some(t) = p.sys_hypervisor_type.as_deref() {
        return virtual_(evidence, "vm-other", ev("", "/sys/hypervisor/type", t));
    }

    // Device tree (aarch64, ppc64le).
    if let Some(compat) = p.dt_hypervisor_compatible.as_deref() {
        let hv = if compat == "linux,kvm" {
            "kvm"
        } else if compat.contains("xen") {
            "xen"
        } else if compat.contains("vmware") {
            "vmware"
        } else {
            "vm-other"
        };
        return virtual_(
            evidence,
            hv,
            ev("", "/proc/device-tree/hypervisor/compatible", compat),
        );
    }
    let compatible: Vec<&str> = p
        .dt_compatible
        .as_deref()
        .map(|c| c.split('\0').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let dt_compat_ev = || ev("", "/proc/device-tree/compatible", compatible.join(" "));
    if compatible.contains(&"qemu,pseries") {
        // QEMU's pSeries machine: KVM on POWER (PowerKVM, KVM-HV).
        return virtual_(evidence, "kvm", dt_compat_ev());
    }
    if p.device_tree {
        if let Some(part) = p.dt_ibm_partition_name.as_deref() {
            if p.dt_hmc_managed && !p.dt_qemu_graphic_width {
                return virtual_(
                    evidence,
                    "powervm",
                    ev(
                        "",
                        "/proc/device-tree/ibm,partition-name",
                        format!("{part} (HMC-managed PowerVM LPAR)"),
                    ),
                );
            }
        }
        if p.dt_fw_cfg {
            return virtual_(
                evidence,
                "qemu",
                ev("", "/proc/device-tree", "fw-cfg node (QEMU)"),
            );
        }
        if compatible.iter().any(|c| c.contains("qemu")) {
            return virtual_(evidence, "qemu", dt_compat_ev());
        }
        if compatible.contains(&"linux,dummy-virt") {
            // QEMU `virt` without firmware tables, Firecracker, crosvm.
            let mut e = dt_compat_ev();
            e.value = format!("{} (a virtual board, no firmware)", e.value);
            return virtual_(evidence, "vm-other", e);
        }
    }

    // ppc64: /proc/cpuinfo names the platform.
    let ppc = &p.ppc;
    if ppc.platform.as_deref() == Some("pSeries") {
        let desc = [ppc.model.as_deref(), ppc.machine.as_deref()];
        let emulated = desc
            .iter()
            .flatten()
            .find(|d| d.contains("emulated by qemu"));
        if let Some(d) = emulated {
            return virtual_(
                evidence,
                "kvm",
                ev("", "/proc/cpuinfo", format!("platform pSeries, {d}")),
            );
        }
        let mode = match p.lpar_shared {
            Some(true) => ", shared processors",
            Some(false) => ", dedicated processors",
            None => "",
        };
        return virtual_(
            evidence,
            "powervm",
            ev(
                "",
                "/proc/cpuinfo",
                format!(
                    "platform pSeries, model {} (PowerVM LPAR{mode})",
                    desc.iter().flatten().next().unwrap_or(&"?")
                ),
            ),
        );
    }

    // /proc/sysinfo (s390x).
    if let Some(si) = p.s390_sysinfo.as_deref() {
        let cp = si.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "VM00 Control Program").then(|| v.trim().to_string())
        });
        if let Some(cp) = cp {
            let hv = if cp.starts_with("z/VM") { "zvm" } else { "kvm" };
            return virtual_(
                evidence,
                hv,
                ev("", "/proc/sysinfo", format!("VM00 Control Program: {cp}")),
            );
        }
    }

    if p.cpu_vendor.as_deref() == Some("User Mode Linux") {
        return virtual_(
            evidence,
            "uml",
            ev("", "/proc/cpuinfo", "vendor_id User Mode Linux"),
        );
    }

    if let Some((hv, why)) = tentative {
        return virtual_(evidence, hv, why);
    }

    // No hypervisor anywhere. Physical only with positive evidence.
    if let Some(c) = cpuid {
        return physical(evidence, ev("type", "cpuid", cpuid_ev(c)));
    }
    if p.smbios_vm_bit == Some(false) {
        return physical(evidence, smbios_ev("type", false));
    }
    if let Some(e) = bare_metal_product(&p.dmi) {
        return physical(evidence, e);
    }
    if ppc.platform.as_deref() == Some("PowerNV") {
        return physical(
            evidence,
            ev(
                "type",
                "/proc/cpuinfo",
                "platform PowerNV (OPAL firmware on the hardware)",
            ),
        );
    }
    if p.dt_opal || compatible.contains(&"ibm,powernv") {
        let (source, value) = if p.dt_opal {
            (
                "/proc/device-tree/ibm,opal",
                "present (PowerNV, OPAL firmware)".to_string(),
            )
        } else {
            (
                "/proc/device-tree/compatible",
                format!("{} (PowerNV)", compatible.join(" ")),
            )
        };
        return physical(evidence, ev("type", source, value));
    }
    if let Some(si) = p.s390_sysinfo.as_deref() {
        let line = |k: &str| si.lines().find(|l| l.starts_with(k));
        if let Some(lpar) = line("LPAR Name").or_else(|| line("LPAR Number")) {
            return physical(
                evidence,
                ev(
                    "type",
                    "/proc/sysinfo",
                    format!("{} (LPAR, no VM levels)", lpar.trim()),
                ),
            );
        }
    }
    let looked: Vec<&str> = [
        (!p.dmi_is_empty()).then_some("DMI without a hypervisor vendor"),
        p.device_tree
            .then_some("a device tree without hypervisor node"),
        p.s390_sysinfo
            .is_some()
            .then_some("/proc/sysinfo without LPAR or VM levels"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let value = if looked.is_empty() {
        "no CPUID, DMI, device tree, /proc/sysinfo or /proc/xen to look at".to_string()
    } else {
        format!(
            "{}; no CPUID, no SMBIOS virtual machine bit, no known bare-metal product: not enough to say physical",
            looked.join(", ")
        )
    };
    evidence.push(ev("type", "(none)", value));
    (MachineType::Unknown, None, false)
}

impl Probe {
    fn dmi_is_empty(&self) -> bool {
        dmi_fields(&self.dmi).iter().all(|(_, v)| v.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpuid(bit: bool, sigs: &[&str]) -> Option<Cpuid> {
        Some(Cpuid {
            hypervisor_bit: bit,
            signatures: sigs.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn dmi(vendor: &str, product: &str) -> Dmi {
        Dmi {
            sys_vendor: Some(vendor.into()),
            product_name: Some(product.into()),
            ..Dmi::default()
        }
    }

    fn run(p: Probe) -> (MachineType, Option<String>, Option<String>) {
        let a = detect(&p);
        assert!(!a.evidence.is_empty(), "evidence for every answer");
        (a.kind, a.hypervisor, a.cloud)
    }

    #[test]
    fn hyperv_looking_laptop_without_hypervisor_bit_is_physical() {
        let p = Probe {
            cpuid: cpuid(false, &[]),
            dmi: dmi("Microsoft Corporation", "Virtual Machine"),
            ..Probe::default()
        };
        assert_eq!(run(p).0, MachineType::Physical);
    }

    #[test]
    fn hyperv_dmi_with_bit_is_microsoft() {
        let p = Probe {
            cpuid: cpuid(true, &["Microsoft Hv"]),
            dmi: dmi("Microsoft Corporation", "Virtual Machine"),
            ..Probe::default()
        };
        assert_eq!(
            run(p),
            (MachineType::Virtual, Some("microsoft".into()), None)
        );
    }

    #[test]
    fn hyperv_enlightened_kvm() {
        let p = Probe {
            cpuid: cpuid(true, &["Microsoft Hv", "KVMKVMKVM"]),
            dmi: dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)"),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("kvm"));
        // Only the Hyper-V leaf, but DMI says QEMU: not Microsoft.
        let p = Probe {
            cpuid: cpuid(true, &["Microsoft Hv"]),
            dmi: dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)"),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("qemu"));
    }

    #[test]
    fn virtualbox_with_kvm_signature_is_oracle() {
        let p = Probe {
            cpuid: cpuid(true, &["KVMKVMKVM"]),
            dmi: dmi("innotek GmbH", "VirtualBox"),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("oracle"));
        // VirtualBox with paravirtualization "none": no bit, still a VM.
        let p = Probe {
            cpuid: cpuid(false, &[]),
            dmi: dmi("innotek GmbH", "VirtualBox"),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("oracle"));
    }

    #[test]
    fn oracle_server_is_physical() {
        let p = Probe {
            cpuid: cpuid(false, &[]),
            dmi: dmi("Oracle Corporation", "ORACLE SERVER X9-2"),
            ..Probe::default()
        };
        assert_eq!(run(p), (MachineType::Physical, None, None));
    }

    #[test]
    fn aws_metal_vs_nitro() {
        let metal = Probe {
            cpuid: cpuid(false, &[]),
            dmi: dmi("Amazon EC2", "m5.metal"),
            ..Probe::default()
        };
        assert_eq!(
            run(metal),
            (MachineType::Physical, None, Some("aws".into()))
        );
        // aarch64 metal: no CPUID, the product name decides.
        let graviton = Probe {
            dmi: dmi("Amazon EC2", "c6g.metal"),
            ..Probe::default()
        };
        assert_eq!(run(graviton).0, MachineType::Physical);
        let nitro = Probe {
            cpuid: cpuid(true, &["KVMKVMKVM"]),
            dmi: dmi("Amazon EC2", "m5.large"),
            ..Probe::default()
        };
        assert_eq!(
            run(nitro),
            (
                MachineType::Virtual,
                Some("amazon".into()),
                Some("aws".into())
            )
        );
    }

    #[test]
    fn nutanix_hardware_vs_ahv() {
        let hw = Probe {
            cpuid: cpuid(false, &[]),
            dmi: dmi("Nutanix", "NX-3170-G8"),
            ..Probe::default()
        };
        assert_eq!(run(hw).0, MachineType::Physical);
        let ahv = Probe {
            cpuid: cpuid(true, &["KVMKVMKVM"]),
            dmi: dmi("Nutanix", "AHV"),
            ..Probe::default()
        };
        assert_eq!(run(ahv).1.as_deref(), Some("kvm"));
    }

    #[test]
    fn xen_dom0_is_a_host() {
        let p = Probe {
            proc_xen: true,
            xen_capabilities: Some("control_d".into()),
            sys_hypervisor_type: Some("xen".into()),
            xen_features: Some("00000c01".into()),
            cpuid: cpuid(false, &[]),
            ..Probe::default()
        };
        let a = detect(&p);
        assert_eq!(a.kind, MachineType::Physical);
        assert!(a.hypervisor_host);
        assert_eq!(a.hypervisor, None);
    }

    #[test]
    fn xen_features_without_dom0_bit_is_domu() {
        let p = Probe {
            proc_xen: true,
            xen_capabilities: Some(String::new()),
            sys_hypervisor_type: Some("xen".into()),
            xen_features: Some("00000705".into()),
            ..Probe::default()
        };
        let a = detect(&p);
        assert_eq!(a.kind, MachineType::Virtual);
        assert_eq!(a.hypervisor.as_deref(), Some("xen"));
        assert!(!a.hypervisor_host);
    }

    #[test]
    fn azure_vs_onprem_hyperv() {
        let mut d = dmi("Microsoft Corporation", "Virtual Machine");
        d.chassis_asset_tag = Some(AZURE_ASSET_TAG.into());
        let p = Probe {
            cpuid: cpuid(true, &["Microsoft Hv"]),
            dmi: d.clone(),
            ..Probe::default()
        };
        assert_eq!(run(p).2.as_deref(), Some("azure"));
        d.chassis_asset_tag = Some("3574-2218-0173-4271-6521-9461-44".into());
        let p = Probe {
            cpuid: cpuid(true, &["Microsoft Hv"]),
            dmi: d,
            ..Probe::default()
        };
        assert_eq!(run(p).2, None);
    }

    #[test]
    fn smbios_vm_bit_needs_a_long_enough_entry() {
        let mut raw = vec![0u8; 0x18];
        raw[1] = 0x18;
        raw[0x13] = 0x1c;
        assert_eq!(smbios_vm_bit(&raw), Some(true));
        raw[0x13] = 0x0c;
        assert_eq!(smbios_vm_bit(&raw), Some(false));
        // The entry says it is 0x12 bytes long: byte 0x13 is a string.
        raw[1] = 0x12;
        raw[0x13] = 0x1c;
        assert_eq!(smbios_vm_bit(&raw), None);
        assert_eq!(smbios_vm_bit(&raw[..19]), None);
        assert_eq!(smbios_vm_bit(&[]), None);
    }

    #[test]
    fn ec2_metal_names() {
        for (name, metal) in [
            ("m5.metal", true),
            ("m8g.metal-24xl", true),
            ("c7i.metal-48xl", true),
            ("m5.large", false),
            ("x.metalic", false),
            ("m5.metal.x", false),
        ] {
            assert_eq!(ec2_metal(name), metal, "{name}");
        }
    }

    #[test]
    fn without_cpuid_physical_needs_positive_evidence() {
        let board = dmi("Example Systems", "EX-1000");
        let p = Probe {
            dmi: board.clone(),
            ..Probe::default()
        };
        assert_eq!(run(p).0, MachineType::Unknown);
        let p = Probe {
            dmi: board,
            smbios_vm_bit: Some(false),
            ..Probe::default()
        };
        assert_eq!(run(p).0, MachineType::Physical);
        let p = Probe {
            dmi: dmi("Alibaba Cloud", "Alibaba Cloud ECS"),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("kvm"));
        let p = Probe {
            dmi: dmi("Alibaba Cloud", "Alibaba Cloud ECS"),
            smbios_vm_bit: Some(false),
            ..Probe::default()
        };
        assert_eq!(run(p).0, MachineType::Physical);
    }

    #[test]
    fn nothing_to_look_at_is_unknown() {
        assert_eq!(run(Probe::default()).0, MachineType::Unknown);
    }

    #[test]
    fn s390x() {
        let zvm = Probe {
            s390_sysinfo: Some("LPAR Name:           LP01\nVM00 Name:            LINUX01\nVM00 Control Program: z/VM    7.3.0\n".into()),
            ..Probe::default()
        };
        assert_eq!(run(zvm).1.as_deref(), Some("zvm"));
        let kvm = Probe {
            s390_sysinfo: Some("VM00 Control Program: KVM/Linux\n".into()),
            ..Probe::default()
        };
        assert_eq!(run(kvm).1.as_deref(), Some("kvm"));
        let lpar = Probe {
            s390_sysinfo: Some("LPAR Name:           LP01\n".into()),
            ..Probe::default()
        };
        assert_eq!(run(lpar).0, MachineType::Physical);
    }

    #[test]
    fn aarch64_device_tree_and_clouds() {
        let p = Probe {
            device_tree: true,
            dt_hypervisor_compatible: Some("linux,kvm".into()),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("kvm"));
        let p = Probe {
            device_tree: true,
            dt_fw_cfg: true,
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("qemu"));
        // A device tree that names no hypervisor is no proof of hardware.
        let p = Probe {
            device_tree: true,
            ..Probe::default()
        };
        assert_eq!(run(p).0, MachineType::Unknown);
        let p = Probe {
            device_tree: true,
            dt_compatible: Some("linux,dummy-virt".into()),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("vm-other"));
        let cloud = |vendor: &str, product: &str| {
            run(Probe {
                cpuid: cpuid(true, &["KVMKVMKVM"]),
                dmi: dmi(vendor, product),
                ..Probe::default()
            })
        };
        assert_eq!(
            cloud("Alibaba Cloud", "Alibaba Cloud ECS"),
            (
                MachineType::Virtual,
                Some("kvm".into()),
                Some("alibaba".into())
            )
        );
        assert_eq!(
            cloud("OpenStack Foundation", "OpenStack Nova").2.as_deref(),
            Some("openstack")
        );
        assert_eq!(
            cloud("DigitalOcean", "Droplet").2.as_deref(),
            Some("digitalocean")
        );
        assert_eq!(cloud("Hetzner", "vServer").2.as_deref(), Some("hetzner"));
        let mut d = dmi("QEMU", "Standard PC (i440FX + PIIX, 1996)");
        d.chassis_asset_tag = Some("OracleCloud.com".into());
        let oci = run(Probe {
            cpuid: cpuid(true, &["KVMKVMKVM"]),
            dmi: d,
            ..Probe::default()
        });
        assert_eq!(oci.2.as_deref(), Some("oci"));
    }

    #[test]
    fn smbios_vm_bit_and_unknown_signature() {
        let p = Probe {
            cpuid: cpuid(true, &["NewHypervsr"]),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("vm-other"));
        let p = Probe {
            dmi: dmi("Some Vendor", "Some Box"),
            smbios_vm_bit: Some(true),
            ..Probe::default()
        };
        assert_eq!(run(p).1.as_deref(), Some("vm-other"));
    }

    #[test]
    fn containers() {
        let mut c = ContainerProbe {
            pid1_environ_container: Some("podman".into()),
            ..ContainerProbe::default()
        };
        let mut e = vec![];
        assert_eq!(detect_container(&c, &mut e).as_deref(), Some("podman"));
        c.pid1_environ_container = None;
        c.pid1_cgroup = Some("0::/system.slice/crio-4f1c.scope\n".into());
        assert_eq!(detect_container(&c, &mut e).as_deref(), Some("crio"));
        c.kernel_osrelease = Some("5.15.153.1-microsoft-standard-WSL2".into());
        assert_eq!(detect_container(&c, &mut e).as_deref(), Some("wsl"));
        let c = ContainerProbe {
            run_systemd_container: Some("something-new".into()),
            ..ContainerProbe::default()
        };
        assert_eq!(
            detect_container(&c, &mut e).as_deref(),
            Some("container-other")
        );
        let c = ContainerProbe {
            proc_vz: true,
            proc_bc: true,
            ..ContainerProbe::default()
        };
        assert_eq!(detect_container(&c, &mut e), None);
    }
}
