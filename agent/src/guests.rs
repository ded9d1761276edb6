//! KVM guests of this host without hypervisor credentials: the libvirt XML
//! under `/run/libvirt/qemu` (running domains, with their state) and
//! `/etc/libvirt/qemu` (persistent definitions), and the `qemu-kvm`
//! processes in `/proc/*/cmdline` (`-uuid`, `-name guest=`), all read under
//! the host root. No `virsh`: it hangs when libvirtd is down, and reading the
//! files gives the same answer without a daemon.
//!
//! Also the Hyper-V KVP pool, where Hyper-V publishes the physical host's
//! name to its guests.

use std::collections::BTreeMap;

use alma_ext_proto::facts::Guest;

use crate::root::{HostRoot, DEFAULT_LIMIT};

const RUN_DIR: &str = "/run/libvirt/qemu";
const ETC_DIR: &str = "/etc/libvirt/qemu";
const KVP_POOL: &str = "/var/lib/hyperv/.kvp_pool_3";

/// One libvirt XML file, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub uuid: String,
    pub name: Option<String>,
    /// `<domstatus state=...>` for status files.
    pub state: Option<String>,
}

/// Parse a libvirt domain XML (`<domain>`) or status XML (`<domstatus>`
/// wrapping a `<domain>`). Pure.
pub fn parse_domain_xml(text: &str) -> Result<Domain, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
    let root = doc.root_element();
    let (dom, state) = match root.tag_name().name() {
        "domain" => (root, None),
        "domstatus" => {
            let d = root
                .children()
                .find(|n| n.has_tag_name("domain"))
                .ok_or("<domstatus> without <domain>")?;
            (d, root.attribute("state").map(str::to_string))
        }
        other => return Err(format!("root element <{other}> is not <domain>")),
    };
    let text_of = |tag: &str| {
        dom.children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let uuid = text_of("uuid").ok_or("no <uuid>")?.to_ascii_lowercase();
    Ok(Domain {
        uuid,
        name: text_of("name"),
        state,
    })
}

/// A QEMU/KVM binary: `qemu-kvm`, `qemu-system-*`, `kvm`, by any path.
fn is_qemu_binary(exe: &str) -> bool {
    let base = exe.rsplit('/').next().unwrap_or(exe);
    base == "qemu-kvm" || base.starts_with("qemu-system-") || base == "kvm"
}

/// A qemu process: its `-uuid` and `-name guest=`. Pure; None when the
/// command line is not a qemu guest.
pub fn parse_qemu_cmdline(cmdline: &[u8]) -> Option<(String, Option<String>)> {
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if !is_qemu_binary(args.first()?) {
        return None;
    }
    let mut uuid = None;
    let mut name = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "-uuid" => uuid = it.next().map(|u| u.to_ascii_lowercase()),
            "-name" => {
                if let Some(v) = it.next() {
                    // `guest=NAME,debug-threads=on` or a bare `NAME`; ",," escapes a comma.
                    let first = v.replace(",,", "\u{0}");
                    let part = first.split(',').next().unwrap_or("");
                    let n = part
                        .strip_prefix("guest=")
                        .unwrap_or(part)
                        .replace('\u{0}', ",");
                    if !n.is_empty() {
                        name = Some(n);
                    }
                }
            }
            _ => {}
        }
    }
    Some((uuid?, name))
}

fn libvirt_state(s: Option<&str>) -> String {
    match s {
        Some("running") | Some("blocked") => "running",
        Some("paused") | Some("pmsuspended") => "paused",
        Some("shutoff") | Some("shutdown") | Some("crashed") => "shut-off",
        _ => "running",
    }
    .to_string()
}

fn xml_files(root: &HostRoot, dir: &str) -> Vec<(String, String)> {
    let Ok(Some(names)) = root.read_dir_names(dir) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|n| n.ends_with(".xml"))
        .filter_map(|name| {
            let text = root.read_to_string(format!("{dir}/{name}")).ok()??;
            Some((name, text))
        })
        .collect()
}

fn qemu_processes(root: &HostRoot) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut path = String::new();
    let _ = root.for_each_name("/proc", |pid| {
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        // /proc/PID/exe names the binary without touching the process's
        // memory (reading cmdline waits on a busy process's mm lock, and a
        // build machine has hundreds of them): only qemu and kvm binaries
        // have their command line read. No link in a fixture tree, or no
        // permission: read the command line.
        path.clear();
        path.push_str("/proc/");
        path.push_str(pid);
        path.push_str("/exe");
        match root.read_link(&path) {
            Ok(Some(exe)) => {
                let exe = exe.to_string_lossy();
                let exe = exe.strip_suffix(" (deleted)").unwrap_or(&exe);
                if !is_qemu_binary(exe) {
                    return;
                }
            }
            // On the live system no `exe` is a kernel thread (or a process
            // that just ended): no guest, and its command line is empty.
            Ok(None) if root.is_system() => return,
            _ => {}
        }
        path.truncate(path.len() - "exe".len());
        path.push_str("cmdline");
        if let Ok(Some(cmd)) = root.read_bounded(&path, DEFAULT_LIMIT) {
            if let Some(g) = parse_qemu_cmdline(&cmd) {
                out.push(g);
            }
        }
    });
    out.sort();
    out
}

/// The guests of the host under `root`, sorted by UUID. A guest in
/// `/run` is running (or paused) and, without an `/etc` definition,
/// transient; one only in `/etc` is shut off; a qemu process without any
/// XML (libvirt not in charge) is running and transient. Unparsable files
/// are skipped with a debug log: a broken XML must not hide the others.
pub fn collect(root: &HostRoot) -> Vec<Guest> {
    let mut by_uuid: BTreeMap<String, Guest> = BTreeMap::new();
    let mut persistent = std::collections::BTreeSet::new();
    for (file, text) in xml_files(root, ETC_DIR) {
        match parse_domain_xml(&text) {
            Ok(d) => {
                persistent.insert(d.uuid.clone());
                by_uuid.insert(
                    d.uuid.clone(),
                    Guest {
                        uuid: d.uuid,
                        name: d.name,
                        state: "shut-off".into(),
                        transient: false,
                    },
                );
            }
            Err(e) => tracing::debug!("skipping {ETC_DIR}/{file}: {e}"),
        }
    }
    for (file, text) in xml_files(root, RUN_DIR) {
        match parse_domain_xml(&text) {
            Ok(d) => {
                let g = by_uuid.entry(d.uuid.clone()).or_insert(Guest {
                    uuid: d.uuid.clone(),
                    name: None,
                    state: String::new(),
                    transient: true,
                });
                if d.name.is_some() {
                    g.name = d.name;
                }
                g.state = libvirt_state(d.state.as_deref());
                g.transient = !persistent.contains(&d.uuid);
            }
            Err(e) => tracing::debug!("skipping {RUN_DIR}/{file}: {e}"),
        }
    }
    for (uuid, name) in qemu_processes(root) {
        let g = by_uuid.entry(uuid.clone()).or_insert(Guest {
            uuid: uuid.clone(),
            name: name.clone(),
            state: "running".into(),
            transient: !persistent.contains(&uuid),
        });
        // A process is proof that the guest runs, whatever a stale file says.
        if g.state == "shut-off" {
            g.state = "running".into();
        }
        if g.name.is_none() {
            g.name = name;
        }
    }
    by_uuid.into_values().collect()
}

/// Number of running (or paused: they hold their licence) guests.
pub fn running_count(guests: &[Guest]) -> usize {
    guests
        .iter()
        .filter(|g| g.state == "running" || g.state == "paused")
        .count()
}

/// Hyper-V KVP pool records: 512-byte key, 2048-byte value, NUL padded.
/// Pure; the value of `key` if present.
pub fn kvp_lookup(pool: &[u8], key: &str) -> Option<String> {
    const K: usize = 512;
    const V: usize = 2048;
    let field = |b: &[u8]| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).trim().to_string()
    };
    pool.chunks_exact(K + V).find_map(|rec| {
        (field(&rec[..K]) == key)
            .then(|| field(&rec[K..]))
            .filter(|v| !v.is_empty())
    })
}

/// The physical host name that Hyper-V publishes to this guest.
pub fn hyperv_host(root: &HostRoot) -> Option<String> {
    let pool = root.read_bounded(KVP_POOL, 16 << 20).ok()??;
    kvp_lookup(&pool, "PhysicalHostNameFullyQualified")
        .or_else(|| kvp_lookup(&pool, "PhysicalHostName"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline() {
        let c = b"/usr/libexec/qemu-kvm\0-name\0guest=web1,debug-threads=on\0-uuid\0AAAA-1\0";
        assert_eq!(
            parse_qemu_cmdline(c),
            Some(("aaaa-1".into(), Some("web1".into())))
        );
        assert_eq!(parse_qemu_cmdline(b"/usr/bin/bash\0-uuid\0x\0"), None);
        let c = b"qemu-system-x86_64\0-name\0plain\0-uuid\0u\0";
        assert_eq!(
            parse_qemu_cmdline(c),
            Some(("u".into(), Some("plain".into())))
        );
        assert_eq!(parse_qemu_cmdline(b"qemu-kvm\0-name\0x\0"), None);
    }

    #[test]
    fn kvp() {
        let mut pool = vec![0u8; 2 * 2560];
        pool[..8].copy_from_slice(b"HostName");
        pool[512..516].copy_from_slice(b"vm-a");
        let k = b"PhysicalHostNameFullyQualified";
        pool[2560..2560 + k.len()].copy_from_slice(k);
        pool[2560 + 512..2560 + 512 + 14].copy_from_slice(b"hv01.corp.test");
        assert_eq!(
            kvp_lookup(&pool, "PhysicalHostNameFullyQualified").as_deref(),
            Some("hv01.corp.test")
        );
        assert_eq!(kvp_lookup(&pool, "Nope"), None);
    }

    #[test]
    fn xml() {
        let d = parse_domain_xml(
            "<domstatus state='paused' reason='user' pid='1'><domain type='kvm'><name>a</name><uuid>ABC</uuid></domain></domstatus>",
        )
        .unwrap();
        assert_eq!(d.uuid, "abc");
        assert_eq!(d.state.as_deref(), Some("paused"));
        assert!(parse_domain_xml("<domain><name>x</name></domain>").is_err());
        assert!(parse_domain_xml("<domain").is_err());
    }
}
