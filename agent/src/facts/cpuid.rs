//! CPUID: the hypervisor bit (leaf 1, ECX bit 31) and the signature of every
//! hypervisor leaf from 0x40000000 up in steps of 0x100.
//!
//! CPUID is an instruction, so it only describes the host when the root is
//! `/`. Under another root it comes from `DIR/.alma-ext/cpuid`:
//!
//! ```text
//! hypervisor_bit=1
//! signature=Microsoft Hv
//! signature=KVMKVMKVM
//! ```
//!
//! Without that file CPUID is unavailable, as on non-x86 machines.

use std::fmt;

/// What CPUID said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpuid {
    /// Leaf 1 ECX bit 31: "running under a hypervisor".
    pub hypervisor_bit: bool,
    /// Signatures of the hypervisor leaves 0x40000000, 0x40000100, ... in
    /// leaf order, trailing spaces and NULs trimmed.
    pub signatures: Vec<String>,
}

/// Where the fixture file lives under a root.
pub const FIXTURE_PATH: &str = "/.alma-ext/cpuid";

/// A line of the fixture file that is not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuidFileError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CpuidFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parse `DIR/.alma-ext/cpuid`. Blank lines and `#` comments are allowed.
pub fn parse_fixture(text: &str) -> Result<Cpuid, CpuidFileError> {
    let mut bit: Option<bool> = None;
    let mut signatures = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let l = raw.trim_end_matches('\r');
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let err = |message: String| CpuidFileError { line, message };
        let (k, v) = l
            .split_once('=')
            .ok_or_else(|| err(format!("expected key=value, found {l:?}")))?;
        match k.trim() {
            "hypervisor_bit" => {
                if bit.is_some() {
                    return Err(err("hypervisor_bit given twice".into()));
                }
                bit = Some(match v.trim() {
                    "0" => false,
                    "1" => true,
                    other => {
                        return Err(err(format!(
                            "hypervisor_bit must be 0 or 1, found {other:?}"
                        )))
                    }
                });
            }
            "signature" => {
                if bit.is_none() {
                    return Err(err("hypervisor_bit=0|1 must come first".into()));
                }
                signatures.push(trim_signature(v).to_string());
            }
            other => {
                return Err(err(format!(
                    "unknown key {other:?} (expected hypervisor_bit or signature)"
                )))
            }
        }
    }
    Ok(Cpuid {
        hypervisor_bit: bit.ok_or(CpuidFileError {
            line: 1,
            message: "missing hypervisor_bit=0|1".into(),
        })?,
        signatures,
    })
}

/// Trailing spaces and NULs are padding in a 12-byte signature.
pub fn trim_signature(s: &str) -> &str {
    s.trim_end_matches([' ', '\0'])
}

/// Execute CPUID on this CPU. None on other architectures.
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub fn live() -> Option<Cpuid> {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::__cpuid;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::__cpuid;

    #[allow(unused_unsafe)]
    // SAFETY: CPUID exists on every x86_64 CPU and on every i686 CPU Rust
    // targets; it has no side effects.
    let leaf1 = unsafe { __cpuid(1) };
    let hypervisor_bit = leaf1.ecx & (1 << 31) != 0;
    let mut signatures = Vec::new();
    if hypervisor_bit {
        // Hypervisors that offer a second interface (KVM with Hyper-V
        // enlightenments, Xen with Viridian) put the native one at
        // 0x40000100 and up; 16 steps cover every known layout.
        for step in 0..16u32 {
            let leaf = 0x4000_0000 + step * 0x100;
            #[allow(unused_unsafe)]
            // SAFETY: as above; unknown leaves return data, never fault.
            let r = unsafe { __cpuid(leaf) };
            let mut bytes = Vec::with_capacity(12);
            for reg in [r.ebx, r.ecx, r.edx] {
                bytes.extend_from_slice(&reg.to_le_bytes());
            }
            let s = String::from_utf8_lossy(&bytes);
            let sig = trim_signature(&s);
            // An unused leaf returns zeros or the data of another leaf:
            // stop at the first one that is not a printable signature.
            if sig.is_empty() || !sig.chars().all(|c| (' '..='~').contains(&c)) {
                break;
            }
            signatures.push(sig.to_string());
        }
    }
    Some(Cpuid {
        hypervisor_bit,
        signatures,
    })
}

/// Execute CPUID on this CPU. None on other architectures.
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
pub fn live() -> Option<Cpuid> {
    None
}

/// systemd-detect-virt's name for a CPUID signature; None when unknown.
pub fn hypervisor_of_signature(sig: &str) -> Option<&'static str> {
    Some(match sig {
        "XenVMMXenVMM" => "xen",
        "KVMKVMKVM" => "kvm",
        "Linux KVM Hv" => "kvm",
        "TCGTCGTCGTCG" => "qemu",
        "VMwareVMware" => "vmware",
        "Microsoft Hv" => "microsoft",
        "bhyve bhyve" => "bhyve",
        "QNXQVMBSQG" => "qnx",
        "ACRNACRNACRN" => "acrn",
        "lrpepyh  vr" | "prl hyperv" => "parallels",
        "SRESRESRESRE" => "sre",
        "Apple VZ" => "apple",
        "VBoxVBoxVBox" => "oracle",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_format() {
        let c = parse_fixture("hypervisor_bit=1\nsignature=Microsoft Hv\nsignature=KVMKVMKVM   \n")
            .unwrap();
        assert!(c.hypervisor_bit);
        assert_eq!(c.signatures, vec!["Microsoft Hv", "KVMKVMKVM"]);
        let c = parse_fixture("hypervisor_bit=0\n").unwrap();
        assert!(!c.hypervisor_bit);
        assert!(c.signatures.is_empty());
    }

    #[test]
    fn fixture_errors_name_the_line() {
        let e = parse_fixture("hypervisor_bit=2\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_fixture("hypervisor_bit=1\nsig=x\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_fixture("signature=KVMKVMKVM\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(parse_fixture("").is_err());
    }

    /// CPUID on this CPU says what the kernel read from the same
    /// instruction at boot: the `hypervisor` flag of /proc/cpuinfo is leaf
    /// 1 ECX bit 31. Without the bit there are no hypervisor leaves, and
    /// every signature found is printable and trimmed.
    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    fn live_cpuid_agrees_with_the_kernel() {
        let c = live().expect("CPUID exists on every x86 CPU");
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let flags = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("flags").and_then(|r| r.split_once(':')))
            .map(|(_, f)| f.split_whitespace().collect::<Vec<_>>())
            .expect("/proc/cpuinfo of x86 has a flags line");
        assert_eq!(c.hypervisor_bit, flags.contains(&"hypervisor"), "{c:?}");
        if !c.hypervisor_bit {
            assert!(c.signatures.is_empty(), "{c:?}");
        }
        for s in &c.signatures {
            assert!(
                !s.is_empty() && s.trim_end_matches([' ', '\0']) == s,
                "{c:?}"
            );
            assert!(s.chars().all(|ch| (' '..='~').contains(&ch)), "{c:?}");
        }
    }

    #[test]
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    fn no_cpuid_on_other_architectures() {
        assert_eq!(live(), None);
    }
}
