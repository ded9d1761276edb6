//! Host facts: what the machine is. Detection is a pure function of what
//! was read ([`detect::Probe`]), and reading goes through a [`HostRoot`].
//! Nothing here touches the network; a file missing under a fixture root is
//! absent, never read from the real host.

pub mod cpuid;
pub mod cpuinfo;
pub mod detect;
pub mod os;

use std::fmt;

use alma_ext_proto::facts::{Dmi, Hardware, Machine, FACTS_SCHEMA_VERSION};
use alma_ext_proto::Facts;

use crate::root::HostRoot;

/// An input file that is present but wrong; `alma-ext facts` exits 3.
#[derive(Debug)]
pub struct InvalidFile {
    /// Path as seen on the host (under the root).
    pub path: String,
    /// 0 when the file as a whole could not be read.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for InvalidFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // The whole file: the message names it already.
            return write!(f, "{}", self.message);
        }
        f.write_str(&alma_ext_i18n::t!(
            "{file} line {line}: {message}",
            file = self.path,
            line = self.line,
            message = self.message
        ))
    }
}

impl std::error::Error for InvalidFile {}

/// Facts plus what the reader should be told about the input.
#[derive(Debug, Clone)]
pub struct Collected {
    pub facts: Facts,
    /// Problems that did not stop detection (os-release syntax, ...), each
    /// naming file and line.
    pub warnings: Vec<String>,
}

/// Collect the facts of the host under `root`. Never touches the network.
pub fn collect(root: &HostRoot) -> anyhow::Result<Facts> {
    Ok(collect_with_warnings(root)?.facts)
}

/// [`collect`], keeping the warnings for the command line.
pub fn collect_with_warnings(root: &HostRoot) -> anyhow::Result<Collected> {
    let os::OsRead {
        os,
        path: os_path,
        problems,
        unreadable,
    } = os::read(root);
    let mut warnings = unreadable;
    if let Some(p) = &os_path {
        for pr in problems {
            warnings.push(alma_ext_i18n::t!(
                "{path} {problem} (line ignored)",
                path = root.join(p).display(),
                problem = pr
            ));
        }
    }

    let mut rd = Reader {
        root,
        warnings: Vec::new(),
    };
    let (probe, cpu) = read_probe(&mut rd)?;
    warnings.append(&mut rd.warnings);
    let answer = detect::detect(&probe);

    let mut evidence = answer.evidence;
    let uuid = machine_uuid(root, &probe, &mut evidence);
    let machine_id = root.read_trimmed("/etc/machine-id").and_then(|m| {
        let valid = m.len() == 32 && m.chars().all(|c| c.is_ascii_hexdigit());
        if !valid {
            warnings.push(format!(
                "{}: not a 32-hex-digit machine id, ignored",
                root.join("/etc/machine-id").display()
            ));
        }
        valid.then(|| m.to_ascii_lowercase())
    });

    // Files only, under the root (agent/src/guests.rs).
    let guests = crate::guests::collect(root);
    let mut hypervisor_host = answer.hypervisor_host;
    if !hypervisor_host && !guests.is_empty() {
        evidence.push(alma_ext_proto::facts::Evidence {
            decides: "hypervisor_host".into(),
            source: "guests".into(),
            value: format!("{} KVM guest(s) found", guests.len()),
        });
        hypervisor_host = true;
    }
    let machine = Machine {
        kind: answer.kind,
        hypervisor: answer.hypervisor,
        cloud: answer.cloud,
        container: answer.container,
        hypervisor_host,
        uuid,
        machine_id,
        hostname: hostname(root),
        evidence,
    };
    let hardware = Hardware {
        arch: arch(root, &cpu, &probe),
        cpu_model: cpu.model.clone(),
        cpu_sockets: cpu.topology.sockets,
        cpu_cores: cpu.topology.cores,
        cpu_threads: cpu.topology.threads,
        memory_bytes: root
            .read_to_string("/proc/meminfo")
            .ok()
            .flatten()
            .and_then(|t| cpuinfo::parse_meminfo_total(&t)),
        dmi: probe.dmi.clone(),
    };
    Ok(Collected {
        facts: Facts {
            schema_version: FACTS_SCHEMA_VERSION,
            machine,
            os,
            hardware,
            // Files only, under the root (agent/src/cluster.rs).
            guests,
            cluster: crate::cluster::collect(root),
            hyperv_host: crate::guests::hyperv_host(root),
            cloud_account: None,
        },
        warnings,
    })
}

/// CPU facts read alongside the probe.
struct CpuFacts {
    model: Option<String>,
    arch_hint: Option<&'static str>,
    topology: cpuinfo::Topology,
}

/// Reads for detection: a file that is absent or not readable by this user
/// is absent; one that is there but cannot be read as a bounded regular
/// file (a FIFO, a device, a directory, too large, a symlink loop) is
/// skipped with a warning naming it.
struct Reader<'a> {
    root: &'a HostRoot,
    warnings: Vec<String>,
}

impl Reader<'_> {
    fn skipped(&mut self, e: std::io::Error) {
        if e.kind() != std::io::ErrorKind::PermissionDenied {
            self.warnings.push(e.to_string());
        }
    }

    fn bytes(&mut self, abs: &str, limit: u64) -> Option<Vec<u8>> {
        self.root.read_bounded(abs, limit).unwrap_or_else(|e| {
            self.skipped(e);
            None
        })
    }

    fn text(&mut self, abs: &str) -> Option<String> {
        self.root.read_to_string(abs).unwrap_or_else(|e| {
            self.skipped(e);
            None
        })
    }

    /// A small sysfs/procfs attribute, trimmed; None when empty.
    fn attr(&mut self, abs: &str) -> Option<String> {
        crate::root::trimmed(self.text(abs)?)
    }

    fn names(&mut self, abs: &str) -> Vec<String> {
        self.root
            .read_dir_names(abs)
            .unwrap_or_else(|e| {
                self.skipped(e);
                None
            })
            .unwrap_or_default()
    }
}

fn read_probe(rd: &mut Reader<'_>) -> anyhow::Result<(detect::Probe, CpuFacts)> {
    let root = rd.root;
    let mut dmi_field = |f: &str| {
        rd.attr(&format!("/sys/class/dmi/id/{f}"))
            // Firmware placeholders say nothing.
            .filter(|v| {
                !matches!(
                    v.as_str(),
                    "To be filled by O.E.M." | "Default string" | "Not Specified" | "None"
                )
            })
    };
    let dmi = Dmi {
        sys_vendor: dmi_field("sys_vendor"),
        product_name: dmi_field("product_name"),
        product_version: dmi_field("product_version"),
        product_serial: dmi_field("product_serial"),
        product_uuid: dmi_field("product_uuid"),
        board_vendor: dmi_field("board_vendor"),
        bios_vendor: dmi_field("bios_vendor"),
        bios_version: dmi_field("bios_version"),
        chassis_asset_tag: dmi_field("chassis_asset_tag"),
    };

    let cpuid = if root.is_system() {
        cpuid::live()
    } else {
        let path = root.join(cpuid::FIXTURE_PATH).display().to_string();
        let text = root
            .read_to_string(cpuid::FIXTURE_PATH)
            .map_err(|e| InvalidFile {
                path: path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
        match text {
            Some(text) => Some(cpuid::parse_fixture(&text).map_err(|e| InvalidFile {
                path,
                line: e.line,
                message: e.message,
            })?),
            None => None,
        }
    };

    // SMBIOS type 0 is a few dozen bytes; 4 KiB is generous.
    let smbios_vm_bit = rd
        .bytes("/sys/firmware/dmi/entries/0-0/raw", 4096)
        .and_then(|raw| detect::smbios_vm_bit(&raw));

    let dt = "/proc/device-tree";
    let device_tree = root.is_dir(dt);
    let dt_fw_cfg = device_tree && rd.names(dt).iter().any(|n| n.contains("fw-cfg"));

    let environ_container = rd.text("/proc/1/environ").and_then(|env| {
        env.split('\0')
            .find_map(|kv| kv.strip_prefix("container=").map(str::to_string))
    });

    let cpuinfo_text = rd.text("/proc/cpuinfo").unwrap_or_default();
    let info = cpuinfo::parse_cpuinfo(&cpuinfo_text);
    let sysfs = sysfs_topology(rd);
    let topology = cpuinfo::topology(&info, &sysfs);

    let lpar_shared = rd.text("/proc/ppc64/lparcfg").and_then(|t| {
        t.lines()
            .find_map(|l| match l.trim().strip_prefix("shared_processor_mode=")? {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            })
    });

    let proc_xen = root.is_dir("/proc/xen");
    let probe = detect::Probe {
        cpuid,
        dmi,
        smbios_vm_bit,
        proc_xen,
        xen_capabilities: if proc_xen {
            rd.text("/proc/xen/capabilities")
                .map(|s| s.trim().to_string())
        } else {
            None
        },
        xen_features: rd.attr("/sys/hypervisor/properties/features"),
        sys_hypervisor_type: rd.attr("/sys/hypervisor/type"),
        sys_hypervisor_uuid: rd.attr("/sys/hypervisor/uuid"),
        device_tree,
        dt_hypervisor_compatible: rd.attr("/proc/device-tree/hypervisor/compatible"),
        dt_ibm_partition_name: rd.attr("/proc/device-tree/ibm,partition-name"),
        dt_hmc_managed: root.exists("/proc/device-tree/hmc-managed?"),
        dt_qemu_graphic_width: root.exists("/proc/device-tree/chosen/qemu,graphic-width"),
        dt_fw_cfg,
        dt_compatible: rd.attr("/proc/device-tree/compatible"),
        dt_opal: root.exists("/proc/device-tree/ibm,opal"),
        s390_sysinfo: rd.text("/proc/sysinfo"),
        ppc: detect::PpcCpuinfo {
            platform: info.ppc_platform.clone(),
            model: info.ppc_model.clone(),
            machine: info.ppc_machine.clone(),
        },
        lpar_shared,
        cpu_vendor: info.vendor_id.clone(),
        libvirt_domains: has_xml(rd, "/etc/libvirt/qemu") || has_xml(rd, "/run/libvirt/qemu"),
        container: detect::ContainerProbe {
            proc_vz: root.exists("/proc/vz"),
            proc_bc: root.exists("/proc/bc"),
            kernel_osrelease: rd.attr("/proc/sys/kernel/osrelease"),
            run_host_container_manager: rd.attr("/run/host/container-manager"),
            run_systemd_container: rd.attr("/run/systemd/container"),
            pid1_environ_container: environ_container,
            containerenv: root.exists("/run/.containerenv"),
            dockerenv: root.exists("/.dockerenv"),
            pid1_cgroup: rd.text("/proc/1/cgroup"),
        },
    };
    let cpu = CpuFacts {
        model: info.model.clone(),
        arch_hint: info.arch_hint,
        topology,
    };
    Ok((probe, cpu))
}

fn has_xml(rd: &mut Reader<'_>, dir: &str) -> bool {
    rd.names(dir).iter().any(|n| n.ends_with(".xml"))
}

/// Topology of every present CPU from sysfs.
fn sysfs_topology(rd: &mut Reader<'_>) -> Vec<cpuinfo::SysfsCpu> {
    let base = "/sys/devices/system/cpu";
    let mut out = Vec::new();
    for name in rd.names(base) {
        let Some(n) = name.strip_prefix("cpu") else {
            continue;
        };
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut read = |f: &str| {
            rd.attr(&format!("{base}/{name}/topology/{f}"))
                .and_then(|v| v.parse::<i64>().ok())
        };
        let package = read("physical_package_id");
        let core = read("core_id");
        // A CPU directory without topology (offline CPU) is not counted.
        if package.is_some() || core.is_some() {
            out.push(cpuinfo::SysfsCpu { package, core });
        }
    }
    out
}

fn machine_uuid(
    root: &HostRoot,
    probe: &detect::Probe,
    evidence: &mut Vec<alma_ext_proto::facts::Evidence>,
) -> Option<String> {
    let mut src = |source: &str, v: &str| {
        evidence.push(alma_ext_proto::facts::Evidence {
            decides: "uuid".into(),
            source: source.into(),
            value: v.into(),
        });
        Some(v.to_ascii_lowercase())
    };
    if let Some(u) = probe.dmi.product_uuid.as_deref() {
        return src("/sys/class/dmi/id/product_uuid", u);
    }
    if let Some(u) = probe.sys_hypervisor_uuid.as_deref() {
        return src("/sys/hypervisor/uuid", u);
    }
    if let Some(u) = root.read_trimmed("/proc/device-tree/ibm,partition-uuid") {
        return src("/proc/device-tree/ibm,partition-uuid", &u);
    }
    if let Some(u) = root.read_trimmed("/proc/device-tree/vm,uuid") {
        return src("/proc/device-tree/vm,uuid", &u);
    }
    None
}

/// The hostname: /etc/hostname, else /proc/sys/kernel/hostname, under the root.
pub fn hostname(root: &HostRoot) -> Option<String> {
    if let Some(text) = root.read_to_string("/etc/hostname").ok().flatten() {
        let h = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .find(|l| !l.is_empty());
        if let Some(h) = h {
            return Some(h.to_string());
        }
    }
    root.read_trimmed("/proc/sys/kernel/hostname")
}

fn arch(root: &HostRoot, cpu: &CpuFacts, probe: &detect::Probe) -> Option<String> {
    if root.is_system() {
        if let Ok(u) = nix::sys::utsname::uname() {
            return Some(u.machine().to_string_lossy().into_owned());
        }
    }
    if let Some(a) = cpu.arch_hint {
        return Some(a.to_string());
    }
    if probe.cpuid.is_some() {
        return Some("x86_64".into());
    }
    if probe.s390_sysinfo.is_some() {
        return Some("s390x".into());
    }
    None
}
