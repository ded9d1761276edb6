//! `alma-ext support-bundle`: one file for the vendor's support desk, with
//! every secret removed.

use std::path::PathBuf;

use serde::Serialize;

use crate::bundle::{self, Options};
use crate::cli::RootArg;
use crate::exit::{fail, CmdResult, Exit, ExitContext};
use crate::output::{print_json, Format};

/// Arguments of `alma-ext support-bundle`.
///
/// Writes one .tar.gz for the vendor's support desk: the agent's facts and
/// status, os-release, the agent configuration and registration, the switch
/// journal and state, the repo files, dnf.conf and dnf vars, the installed
/// packages, the last 20 dnf transactions, the tails of the dnf logs, the
/// journal of the alma-ext units, uname, df and SELinux, with a manifest of
/// what was collected or left out and why. Passwords, proxy credentials,
/// Authorization values, activation keys and the machine credential are
/// replaced by ******** in every file; the credential file, private keys and
/// spooled check-ins are never included. The bundle is created mode 0600.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  alma-ext support-bundle                      write /var/tmp/alma-ext-support-<host>-<time>.tar.gz
  alma-ext support-bundle --obfuscate          host names, addresses, machine id, UUIDs, serials too
  alma-ext support-bundle --output case-1234.tar.gz --since 30
  alma-ext support-bundle --format json | jq -r .path")]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
    /// Write the bundle to FILE (a path on this machine, not under --root)
    /// instead of /var/tmp/alma-ext-support-<hostname>-<UTC time>.tar.gz in
    /// the root. FILE must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also replace host names, IPv4 and IPv6 addresses, the machine id, DMI
    /// UUIDs and serial numbers with stable placeholders (host-1, 192.0.2.1,
    /// ...); the mapping is written next to the bundle (mode 0600) and never
    /// into it.
    #[arg(long)]
    pub obfuscate: bool,
    /// Days of the alma-ext units' journal to include.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub since: u32,
    /// Size limit of the bundle's contents in MiB; what does not fit is cut
    /// (logs keep their newest lines) and the manifest says so.
    #[arg(long, value_name = "MIB", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_size: u64,
    /// Output format: text (the bundle's path) or json (path, files,
    /// redacted, errors).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    path: &'a std::path::Path,
    files: &'a [String],
    redacted: u64,
    errors: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    mapping: Option<&'a std::path::Path>,
}

pub fn run(args: Args) -> CmdResult {
    let dir = &args.root.root;
    if !dir.is_dir() {
        return Err(fail(
            Exit::Usage,
            format!("--root {}: not a directory", dir.display()),
        ));
    }
    let root = hostroot::Root::open(dir).exit(Exit::Usage)?;
    let opts = Options {
        output: args.output,
        obfuscate: args.obfuscate,
        since_days: args.since,
        max_bytes: args.max_size.saturating_mul(1 << 20),
        command_line: std::env::args().collect(),
        now: chrono::Utc::now(),
    };
    let out = bundle::create(&root, &opts).exit(Exit::Failure)?;
    match args.format {
        Format::Json => print_json(&JsonOut {
            path: &out.path,
            files: &out.files,
            redacted: out.redacted,
            errors: &out.errors,
            mapping: out.mapping.as_deref(),
        })?,
        Format::Text => {
            alma_ext_stdio::outln!("{}", out.path.display());
            alma_ext_stdio::errln!(
                "{}",
                alma_ext_i18n::t!(
                    "alma-ext: {files} files, {redacted} values redacted; see manifest.json in the bundle for what was left out",
                    files = out.files.len(),
                    redacted = out.redacted
                )
            );
            for e in &out.errors {
                alma_ext_stdio::errln!(
                    "{}",
                    alma_ext_i18n::t!("alma-ext: warning: {warning}", warning = e)
                );
            }
        }
    }
    if let Some(m) = &out.mapping {
        alma_ext_stdio::errln!(
            "{}",
            alma_ext_i18n::t!(
                "alma-ext: obfuscation map (keep it on this machine, do not send it): {path}",
                path = m.display()
            )
        );
    }
    Ok(Exit::Ok)
}
