//! CPU topology from `/proc/cpuinfo` and the sysfs topology files, and
//! memory from `/proc/meminfo`. The counts are those of the machine, not the
//! cgroup- or affinity-limited count a process sees.
//!
//! The parsers are pure and never panic on any input.

use std::collections::BTreeSet;

/// One `processor` block of /proc/cpuinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processor {
    pub physical_id: Option<u32>,
    pub core_id: Option<u32>,
    /// `cpu cores`: cores per socket (x86).
    pub cpu_cores: Option<u32>,
}

/// What /proc/cpuinfo says, per architecture's spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuInfo {
    pub processors: Vec<Processor>,
    /// `model name` (x86, some aarch64), `cpu` (ppc64le).
    pub model: Option<String>,
    /// `vendor_id` (x86: GenuineIntel, AuthenticAMD; s390x: IBM/S390;
    /// User Mode Linux).
    pub vendor_id: Option<String>,
    /// s390x prints `# processors : N` instead of one block per CPU.
    pub s390_processors: Option<u32>,
    /// Architecture inferred from the shape of the file.
    pub arch_hint: Option<&'static str>,
    /// ppc64: `platform` (`pSeries`, `PowerNV`), `model` and `machine`
    /// (`IBM pSeries (emulated by qemu)`, `IBM,9009-22A`).
    pub ppc_platform: Option<String>,
    pub ppc_model: Option<String>,
    pub ppc_machine: Option<String>,
}

/// Parse the text of /proc/cpuinfo.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut cur: Option<Processor> = None;
    let mut saw_implementer = false;
    let mut saw_ppc_cpu = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim();
        let v = v.trim();
        let num = || v.parse::<u32>().ok();
        match k {
            "processor" => {
                if let Some(p) = cur.take() {
                    info.processors.push(p);
                }
                // s390x: "processor 0: version = ..." has a key with a
                // number in it, handled by the default arm.
                cur = Some(Processor::default());
            }
            "physical id" => {
                if let Some(p) = cur.as_mut() {
                    p.physical_id = num();
                }
            }
            "core id" => {
                if let Some(p) = cur.as_mut() {
                    p.core_id = num();
                }
            }
            "cpu cores" => {
                if let Some(p) = cur.as_mut() {
                    p.cpu_cores = num();
                }
            }
            "model name" if info.model.is_none() && !v.is_empty() => {
                info.model = Some(v.to_string());
            }
            "cpu" => {
                // ppc64le: "cpu : POWER9 (architected), altivec supported",
                // "cpu : POWER8E (raw), altivec supported".
                saw_ppc_cpu |= v.starts_with("POWER");
                if info.model.is_none() && !v.is_empty() {
                    info.model = Some(v.to_string());
                }
            }
            "vendor_id" if info.vendor_id.is_none() && !v.is_empty() => {
                info.vendor_id = Some(v.to_string());
            }
            "# processors" => info.s390_processors = num(),
            "platform" if info.ppc_platform.is_none() && !v.is_empty() => {
                info.ppc_platform = Some(v.to_string());
            }
            // x86 has a numeric `model`; POWER names the machine.
            "model" if info.ppc_model.is_none() && v.parse::<u64>().is_err() && !v.is_empty() => {
                info.ppc_model = Some(v.to_string());
            }
            "machine" if info.ppc_machine.is_none() && !v.is_empty() => {
                info.ppc_machine = Some(v.to_string());
            }
            "CPU implementer" => saw_implementer = true,
            _ => {}
        }
    }
    if let Some(p) = cur.take() {
        info.processors.push(p);
    }
    info.arch_hint = match info.vendor_id.as_deref() {
        Some(
            "GenuineIntel" | "AuthenticAMD" | "HygonGenuine" | "CentaurHauls" | "  Shanghai  ",
        ) => Some("x86_64"),
        Some("IBM/S390") => Some("s390x"),
        _ if saw_implementer => Some("aarch64"),
        _ if saw_ppc_cpu => Some("ppc64le"),
        _ => None,
    };
    info
}

/// One CPU's sysfs topology (`/sys/devices/system/cpu/cpuN/topology`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SysfsCpu {
    pub package: Option<i64>,
    pub core: Option<i64>,
}

/// Sockets, cores and threads of the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Topology {
    pub sockets: Option<u32>,
    pub cores: Option<u32>,
    pub threads: Option<u32>,
    /// Where the numbers came from: `sysfs` or `cpuinfo`.
    pub source: &'static str,
}

fn count<T: Ord>(set: BTreeSet<T>) -> Option<u32> {
    (!set.is_empty()).then(|| u32::try_from(set.len()).unwrap_or(u32::MAX))
}

/// Combine sysfs (preferred: present on every architecture) with
/// /proc/cpuinfo (x86 `physical id`/`core id`, s390x `# processors`).
pub fn topology(info: &CpuInfo, sysfs: &[SysfsCpu]) -> Topology {
    // sysfs reports -1 for unknown ids (some VMs, s390x books).
    let known = |v: Option<i64>| v.filter(|x| *x >= 0);
    if !sysfs.is_empty() {
        let threads = u32::try_from(sysfs.len()).ok();
        let packages: BTreeSet<i64> = sysfs.iter().filter_map(|c| known(c.package)).collect();
        let cores: BTreeSet<(i64, i64)> = sysfs
            .iter()
            .filter_map(|c| Some((known(c.package)?, known(c.core)?)))
            .collect();
        return Topology {
            sockets: count(packages),
            cores: count(cores),
            threads,
            source: "sysfs",
        };
    }
    let threads = if info.processors.is_empty() {
        info.s390_processors
    } else {
        u32::try_from(info.processors.len()).ok()
    };
    let packages: BTreeSet<u32> = info
        .processors
        .iter()
        .filter_map(|p| p.physical_id)
        .collect();
    let cores: BTreeSet<(u32, u32)> = info
        .processors
        .iter()
        .filter_map(|p| Some((p.physical_id?, p.core_id?)))
        .collect();
    Topology {
        sockets: count(packages),
        cores: count(cores),
        threads,
        source: "cpuinfo",
    }
}

/// MemTotal from /proc/meminfo, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("MemTotal:") {
            let mut it = rest.split_whitespace();
            let n: u64 = it.next()?.parse().ok()?;
            let mult = match it.next() {
                Some("kB") | Some("KB") | Some("kb") => 1024,
                None => 1,
                Some(_) => return None,
            };
            return n.checked_mul(mult);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TWO_SOCKETS: &str = "\
processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
physical id\t: 0
core id\t\t: 0
cpu cores\t: 2

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz
physical id\t: 0
core id\t\t: 1
cpu cores\t: 2

processor\t: 2
physical id\t: 1
core id\t\t: 0

processor\t: 3
physical id\t: 1
core id\t\t: 0
";

    #[test]
    fn x86_topology_from_cpuinfo() {
        let i = parse_cpuinfo(TWO_SOCKETS);
        assert_eq!(i.arch_hint, Some("x86_64"));
        assert_eq!(
            i.model.as_deref(),
            Some("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
        );
        let t = topology(&i, &[]);
        assert_eq!((t.sockets, t.cores, t.threads), (Some(2), Some(3), Some(4)));
    }

    #[test]
    fn sysfs_wins() {
        let i = parse_cpuinfo(TWO_SOCKETS);
        let s = [
            SysfsCpu {
                package: Some(0),
                core: Some(0),
            },
            SysfsCpu {
                package: Some(0),
                core: Some(0),
            },
        ];
        let t = topology(&i, &s);
        assert_eq!((t.sockets, t.cores, t.threads), (Some(1), Some(1), Some(2)));
        assert_eq!(t.source, "sysfs");
    }

    #[test]
    fn s390x_and_ppc() {
        let i = parse_cpuinfo("vendor_id       : IBM/S390\n# processors    : 4\n");
        assert_eq!(i.arch_hint, Some("s390x"));
        assert_eq!(topology(&i, &[]).threads, Some(4));
        let p = parse_cpuinfo("processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\n");
        assert_eq!(p.arch_hint, Some("ppc64le"));
    }

    #[test]
    fn meminfo() {
        assert_eq!(
            parse_meminfo_total("MemTotal:       16318480 kB\nMemFree: 1 kB\n"),
            Some(16318480 * 1024)
        );
        assert_eq!(parse_meminfo_total("MemTotal: lots\n"), None);
        assert_eq!(
            parse_meminfo_total("MemTotal: 99999999999999999999 kB\n"),
            None
        );
    }

    proptest! {
        #[test]
        fn cpuinfo_never_panics(s in any::<String>()) {
            let i = parse_cpuinfo(&s);
            // One processor per `processor :` line, whatever else is there.
            let blocks = s
                .lines()
                .filter(|l| l.split_once(':').is_some_and(|(k, _)| k.trim() == "processor"))
                .count();
            prop_assert_eq!(i.processors.len(), blocks);
            let t = topology(&i, &[]);
            prop_assert_eq!(t.source, "cpuinfo");
            if blocks > 0 {
                prop_assert_eq!(t.threads, u32::try_from(blocks).ok());
            }
            if let (Some(c), Some(th)) = (t.cores, t.threads) {
                prop_assert!(c <= th);
            }
            if let (Some(so), Some(c)) = (t.sockets, t.cores) {
                prop_assert!(so <= c);
            }
            // MemTotal only from a `MemTotal:` line.
            if parse_meminfo_total(&s).is_some() {
                prop_assert!(s.lines().any(|l| l.starts_with("MemTotal:")));
            }
        }

        #[test]
        fn cpuinfo_like_text_never_panics(
            lines in proptest::collection::vec(
                "(processor|physical id|core id|cpu cores|model name|vendor_id|# processors|cpu)[ \t]*:?[ \t]*[-0-9a-zA-Z/ ]{0,12}", 0..40)
        ) {
            let i = parse_cpuinfo(&lines.join("\n"));
            let t = topology(&i, &[]);
            if let (Some(c), Some(th)) = (t.cores, t.threads) {
                prop_assert!(c <= th);
            }
        }
    }
}
