//! `alma-ext facts`: what this machine is, with the evidence.

use alma_ext_proto::facts::MachineType;
use alma_ext_proto::Facts;

use alma_ext_i18n::t;

use crate::cli::RootArg;
use crate::exit::{CmdResult, Exit};
use crate::facts::{self, InvalidFile};
use crate::output::{print_json, Format};
use crate::root::HostRoot;

/// Arguments of `alma-ext facts`.
///
/// Reads DMI, CPUID, /proc/xen, /sys/hypervisor, the device tree,
/// /proc/sysinfo, container markers, os-release, /proc/cpuinfo and
/// /proc/meminfo. Never touches the network. The JSON is a stable schema
/// (schema_version 1, see docs/facts.md).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Under --root DIR, CPUID is read from DIR/.alma-ext/cpuid when it exists
(lines: hypervisor_bit=0|1, then signature=<leaf signature> per hypervisor
leaf); otherwise CPUID is unavailable. Nothing outside DIR is read.

Examples:
  alma-ext facts                        summary for people
  alma-ext facts --format json | jq .machine
  alma-ext facts --root /mnt/image      an image or fixture tree")]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
    /// Output format: text (a short summary) or json (the stable schema).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(args: Args) -> CmdResult {
    let root = HostRoot::open(&args.root.root).map_err(|e| {
        crate::exit::fail_localized(
            Exit::Usage,
            alma_ext_i18n::msg!("--root: {error}", error = crate::root::error_message(&e)),
        )
    })?;
    // JSON and its warnings in English whatever the locale; an error
    // (computed again) in the user's language.
    let collect = || facts::collect_with_warnings(&root);
    let collected = match args.format {
        Format::Json => alma_ext_i18n::machine(collect),
        Format::Text => collect(),
    };
    let collected = match collected {
        Ok(c) => c,
        Err(e) if e.downcast_ref::<InvalidFile>().is_some() => {
            return Err(crate::exit::Failed {
                exit: Exit::Config,
                error: e,
            })
        }
        Err(e) => return Err(e.context("collecting facts").into()),
    };
    for w in &collected.warnings {
        alma_ext_stdio::errln!(
            "{}",
            alma_ext_i18n::t!("alma-ext: warning: {warning}", warning = w)
        );
    }
    match args.format {
        Format::Json => print_json(&collected.facts)?,
        Format::Text => alma_ext_stdio::out!("{}", render_text(&collected.facts)),
    }
    Ok(Exit::Ok)
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// Bytes as GiB with one decimal.
pub fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The text summary: one aligned line per answer, then the evidence.
pub fn render_text(f: &Facts) -> String {
    let m = &f.machine;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let kind = match m.kind {
        MachineType::Physical => t!("physical"),
        MachineType::Virtual => t!("virtual"),
        MachineType::Unknown => t!("unknown"),
    };
    let machine = match (&m.hypervisor, m.hypervisor_host) {
        (Some(h), true) => t!(
            "{kind} ({hypervisor}), hypervisor host",
            kind = kind,
            hypervisor = h
        ),
        (Some(h), false) => format!("{kind} ({h})"),
        (None, true) => t!("{kind}, hypervisor host", kind = kind),
        (None, false) => kind.to_string(),
    };
    rows.push((t!("Machine"), machine));
    rows.push((t!("Cloud"), or_dash(m.cloud.as_deref()).to_string()));
    rows.push((t!("Container"), or_dash(m.container.as_deref()).to_string()));
    rows.push((t!("Hostname"), or_dash(m.hostname.as_deref()).to_string()));
    let os = &f.os;
    let support = match os.family.as_str() {
        "almalinux" if os.supported => t!("covered release"),
        "almalinux" => t!("release not covered"),
        "almalinux-kitten" => t!("Kitten, not covered"),
        _ => t!("not AlmaLinux"),
    };
    rows.push((
        "OS",
        format!("{} [{support}]", crate::facts::os::display_name(os)),
    ));
    let d = &f.hardware.dmi;
    let model = [d.sys_vendor.as_deref(), d.product_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !model.is_empty() {
        rows.push((t!("Model"), model));
    }
    let h = &f.hardware;
    let mut cpu = Vec::new();
    if let Some(s) = h.cpu_sockets {
        cpu.push(if s == 1 {
            t!("1 socket").to_string()
        } else {
            t!("{count} sockets", count = s)
        });
    }
    if let Some(c) = h.cpu_cores {
        cpu.push(if c == 1 {
            t!("1 core").to_string()
        } else {
            t!("{count} cores", count = c)
        });
    }
    if let Some(n) = h.cpu_threads {
        cpu.push(if n == 1 {
            t!("1 thread").to_string()
        } else {
            t!("{count} threads", count = n)
        });
    }
    let mut cpu_line = if cpu.is_empty() {
        "-".to_string()
    } else {
        cpu.join(t!(", "))
    };
    if let Some(a) = &h.arch {
        cpu_line = format!("{cpu_line} ({a})");
    }
    rows.push(("CPU", cpu_line));
    rows.push((
        t!("Memory"),
        h.memory_bytes.map(gib).unwrap_or_else(|| "-".into()),
    ));
    rows.push(("UUID", or_dash(m.uuid.as_deref()).to_string()));
    rows.push((
        t!("Machine ID"),
        or_dash(m.machine_id.as_deref()).to_string(),
    ));
    if !f.guests.is_empty() {
        rows.push((t!("Guests"), f.guests.len().to_string()));
    }

    let mut out = alma_ext_i18n::label_rows(&rows);
    if !m.evidence.is_empty() {
        out.push_str(t!("Evidence"));
        out.push('\n');
        // One line per source: "type, hypervisor  cpuid: ...".
        let mut grouped: Vec<(String, &str, &str)> = Vec::new();
        for e in &m.evidence {
            match grouped.last_mut() {
                Some((d, s, v)) if *s == e.source && *v == e.value => {
                    d.push_str(", ");
                    d.push_str(&e.decides);
                }
                _ => grouped.push((e.decides.clone(), &e.source, &e.value)),
            }
        }
        if alma_ext_i18n::is_japanese() {
            // The record in the user's words; paths and what the host said
            // as they are (the JSON keeps the English record).
            let rows: Vec<(String, String)> = grouped
                .iter()
                .map(|(d, s, v)| {
                    (
                        evidence_ja::decides(d),
                        format!("{s}: {}", evidence_ja::value(v)),
                    )
                })
                .collect();
            for l in alma_ext_i18n::label_rows(&rows).lines() {
                out.push_str("  ");
                out.push_str(l);
                out.push('\n');
            }
            return out;
        }
        let w = grouped.iter().map(|g| g.0.len()).max().unwrap_or(0);
        for (d, s, v) in grouped {
            out.push_str(&format!("  {d:<w$}  {s}: {v}\n"));
        }
    }
    out
}

/// The evidence lines under a Japanese locale: each English template the
/// detection writes, found again in the record and rendered through the
/// catalogue. Runs only under Japanese (the English path prints the record
/// as it is).
mod evidence_ja {
    use alma_ext_i18n::{msg, Message};

    /// "type, hypervisor" as the answers' names.
    pub fn decides(d: &str) -> String {
        d.split(", ")
            .map(|w| match w {
                "type" => alma_ext_i18n::t!("type"),
                "hypervisor" => alma_ext_i18n::t!("hypervisor"),
                "cloud" => alma_ext_i18n::t!("cloud"),
                "container" => alma_ext_i18n::t!("container"),
                "hypervisor_host" => alma_ext_i18n::t!("hypervisor host"),
                "uuid" => "UUID",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(alma_ext_i18n::t!(", "))
    }

    /// The templates of `agent/src/facts/` (detect.rs, mod.rs: keep them in
    /// step), the more
    /// specific first: a value that fills one in is shown through its
    /// Japanese entry, its parts translated in turn.
    fn templates() -> [Message; 28] {
        [
            msg!("{count} KVM guest(s) found"),
            msg!("{cpuid}: DMI {field}={value} is a vendor of real hardware too, not trusted without the hypervisor bit"),
            msg!("hypervisor bit {bit}, leaves {leaves}"),
            msg!("hypervisor bit {bit}"),
            msg!("SMBIOS virtual machine bit {bit}"),
            msg!("{product} (EC2 bare metal instance)"),
            msg!("{product} (sys_vendor {vendor}: a bare-metal product)"),
            msg!("{features} (XENFEAT_dom0 set: Xen dom0)"),
            msg!("{value} - the Xen control domain runs on the hardware"),
            msg!("present without /proc/bc"),
            msg!("present (PowerNV, OPAL firmware)"),
            msg!("present ({engine})"),
            msg!("present, not the control domain (Xen domU)"),
            msg!("libvirt domain definitions present (KVM host)"),
            msg!("{value} (SMBIOS virtual machine bit 1)"),
            msg!("{value} (the vendor's virtual machine product; no CPUID, SMBIOS bit unreadable)"),
            msg!("{part} (HMC-managed PowerVM LPAR)"),
            msg!("fw-cfg node (QEMU)"),
            msg!("{value} (a virtual board, no firmware)"),
            msg!("platform pSeries, model {model} (PowerVM LPAR, shared processors)"),
            msg!("platform pSeries, model {model} (PowerVM LPAR, dedicated processors)"),
            msg!("platform PowerNV (OPAL firmware on the hardware)"),
            msg!("{lpar} (LPAR, no VM levels)"),
            msg!("no CPUID, DMI, device tree, /proc/sysinfo or /proc/xen to look at"),
            msg!("{looked}; no CPUID, no SMBIOS virtual machine bit, no known bare-metal product: not enough to say physical"),
            msg!("DMI without a hypervisor vendor"),
            msg!("a device tree without hypervisor node"),
            msg!("/proc/sysinfo without LPAR or VM levels"),
        ]
    }

    /// `v` in Japanese where it is one of the templates (or a list of
    /// them); as it is otherwise.
    pub fn value(v: &str) -> String {
        alma_ext_i18n::render_back(v, &templates(), (", ", alma_ext_i18n::t!(", ")))
            .unwrap_or_else(|| v.to_string())
    }
}
