//! The facts schema: what `alma-ext facts --format json` prints and what the
//! agent sends at check-in. Public and stable: `schema_version` 1.

use serde::{Deserialize, Serialize};

/// Version of the facts JSON schema documented in `docs/facts.md`.
pub const FACTS_SCHEMA_VERSION: u32 = 1;

/// Everything the agent knows about one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub schema_version: u32,
    pub machine: Machine,
    pub os: Os,
    pub hardware: Hardware,
    /// Guests of a KVM host (empty elsewhere).
    #[serde(default)]
    pub guests: Vec<Guest>,
    /// Pacemaker/corosync membership, when this machine is a cluster node.
    #[serde(default)]
    pub cluster: Option<Cluster>,
    /// Physical host name published by Hyper-V in the KVP pool.
    #[serde(default)]
    pub hyperv_host: Option<String>,
    /// Cloud account facts from the metadata service (agent only; `facts`
    /// never touches the network).
    #[serde(default)]
    pub cloud_account: Option<CloudAccount>,
}

/// physical, virtual, or unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MachineType {
    Physical,
    Virtual,
    Unknown,
}

/// The machine layer and the container layer: separate answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    #[serde(rename = "type")]
    pub kind: MachineType,
    /// systemd-detect-virt's names: kvm, qemu, vmware, microsoft, xen,
    /// oracle, parallels, bhyve, powervm, zvm, amazon, google, ..., vm-other.
    pub hypervisor: Option<String>,
    /// aws, azure, gcp, oci, alibaba, openstack, ...
    pub cloud: Option<String>,
    /// docker, podman, lxc, systemd-nspawn, wsl, openvz, crio, container-other.
    pub container: Option<String>,
    /// True when this machine runs guests of its own (KVM host, Xen dom0).
    pub hypervisor_host: bool,
    /// DMI product UUID, lower case: the key that matches a guest to its host.
    pub uuid: Option<String>,
    /// /etc/machine-id.
    pub machine_id: Option<String>,
    pub hostname: Option<String>,
    /// What decided each answer, in the order the rules were applied.
    pub evidence: Vec<Evidence>,
}

/// One piece of evidence: which field it decided, from which source, and
/// what the source said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The answer this evidence decided: type, hypervisor, cloud, container,
    /// hypervisor_host.
    pub decides: String,
    /// Where it came from: a path such as /sys/class/dmi/id/sys_vendor, or
    /// `cpuid`.
    pub source: String,
    /// What the source said.
    pub value: String,
}

/// /etc/os-release, interpreted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Os {
    /// ID, e.g. `almalinux`.
    pub id: Option<String>,
    pub name: Option<String>,
    pub pretty_name: Option<String>,
    pub version_id: Option<String>,
    /// Major version from VERSION_ID.
    pub major: Option<u32>,
    /// Minor version from VERSION_ID; None for Kitten (`VERSION_ID="10"`).
    pub minor: Option<u32>,
    /// almalinux, almalinux-kitten, or other.
    pub family: String,
    /// AlmaLinux 8/9/10 with a minor release: a release the vendor covers.
    pub supported: bool,
    /// SUPPORT_END from os-release.
    pub support_end: Option<String>,
    pub platform_id: Option<String>,
}

/// DMI, CPU and memory.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Hardware {
    /// uname machine: x86_64, aarch64, ppc64le, s390x.
    pub arch: Option<String>,
    pub cpu_model: Option<String>,
    pub cpu_sockets: Option<u32>,
    pub cpu_cores: Option<u32>,
    pub cpu_threads: Option<u32>,
    pub memory_bytes: Option<u64>,
    pub dmi: Dmi,
}

/// /sys/class/dmi/id, trimmed; None when absent or empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dmi {
    pub sys_vendor: Option<String>,
    pub product_name: Option<String>,
    pub product_version: Option<String>,
    pub product_serial: Option<String>,
    pub product_uuid: Option<String>,
    pub board_vendor: Option<String>,
    pub bios_vendor: Option<String>,
    pub bios_version: Option<String>,
    pub chassis_asset_tag: Option<String>,
}

/// A guest of a KVM host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    /// SMBIOS UUID given to the guest, lower case.
    pub uuid: String,
    pub name: Option<String>,
    /// running, shut-off, paused, unknown.
    pub state: String,
    /// Defined only under /run (no persistent XML).
    #[serde(default)]
    pub transient: bool,
}

/// HA cluster membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub node: Option<String>,
    #[serde(default)]
    pub nodes: Vec<String>,
}

/// What a cloud's metadata service says about the account that pays.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloudAccount {
    pub provider: String,
    /// AWS account, Azure subscription, GCP project, OCI tenancy.
    pub account: Option<String>,
    /// The resource-management unit that `platform` counts: Azure resource
    /// group, GCP project, AWS account, OCI compartment.
    pub unit: Option<String>,
    pub region: Option<String>,
    pub instance_id: Option<String>,
    /// True when the image is an official AlmaLinux image.
    pub official_image: Option<bool>,
    pub image: Option<String>,
}
