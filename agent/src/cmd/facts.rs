//! `alma-ext facts`: what this machine is, with the evidence.

use alma_ext_proto::facts::MachineType;
use alma_ext_proto::Facts;

use alma_ext_i18n::t;

use crate::cli::RootArg;
use crate::exit::{fail, CmdResult, Exit};
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
    let root =
        HostRoot::open(&args.root.root).map_err(|e| fail(Exit::Usage, format!("--root: {e}")))?;
    let collected = match facts::collect_with_warnings(&root) {
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
        let w = grouped.iter().map(|g| g.0.len()).max().unwrap_or(0);
        for (d, s, v) in grouped {
            out.push_str(&format!("  {d:<w$}  {s}: {v}\n"));
        }
    }
    out
}
