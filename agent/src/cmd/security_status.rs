//! `alma-ext security-status`: which installed packages the extended-update
//! repositories keep fixing, and which advisories are pending.
//!
//! The classification is [`crate::security::classify`]; this module reads
//! the target, asks dnf, prints, and maps the outcome to exit codes.

use alma_ext_i18n::{msg, t};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alma_ext_i18n::io_message;
use alma_ext_proto::lifecycle::Release as Dates;
use alma_ext_proto::Target;
use alma_ext_switcher::plan::Release;

use crate::cli::RootArg;
use crate::exit::{fail, fail_localized, CmdResult, Exit, ExitContext, Failed};
use crate::output::{print_json, Format};
use crate::root::HostRoot;
use crate::security::{self, query, Report};

const HELP: &str = "\
Installed packages come from the root's rpm database; the repositories and
their advisories (updateinfo) from dnf itself (python3-dnf, the root as its
installroot): the enabled repositories plus the target's extended-update
repositories, with the machine's repository credentials, whether or not the
machine has switched. Each installed package gets one coverage:
  extended        an extended-update repository carries a package of that name
  community_only  only AlmaLinux's community repositories carry it
  third_party     only other repositories carry it (EPEL, vendors)
  unavailable     no enabled repository carries it
Pending advisories are those dnf would list with `dnf updateinfo list`.

Exit codes of security-status:
  0   done
  3   invalid target file (file, line and key named)
  6   a repository could not be loaded (without --offline); the rest is printed
  10  no target known and none given: coverage not computed; the rest is printed
See docs/security-status.md for the JSON document.";

/// Arguments of `alma-ext security-status`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = HELP)]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
    /// The switch target as a TOML file (its extended-update repositories
    /// are added to dnf's). Default: the target the entitlement server
    /// gave at the last check-in.
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,
    /// Use dnf's cache only; reach no repository.
    #[arg(long)]
    pub offline: bool,
    /// Output format: text for people, json (the package and advisory
    /// lists) for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn load_target(args: &Args, root: &Path) -> Result<Option<Target>, Failed> {
    if let Some(f) = &args.target {
        return crate::cmd::switch::read_target_file(f).map(Some);
    }
    Ok(registered_target(root))
}

/// The target the entitlement server gave at the last check-in; an
/// unreadable registration is no target (the rest is still useful).
pub fn registered_target(root: &Path) -> Option<Target> {
    crate::registration::load(&HostRoot::new(root))
        .ok()
        .flatten()
        .and_then(|r| r.target)
}

/// What `security-status` finds for a root: the report, the release and
/// its lifecycle dates. The support bundle calls it in-process.
pub struct Computed {
    pub report: Report,
    pub release: Release,
    pub dates: Option<Dates>,
}

/// Ask dnf about the root `root_dir` (absolute) with the target's
/// extended-update repositories added, and classify what is installed.
pub fn compute(
    root_dir: &Path,
    target: Option<&Target>,
    offline: bool,
) -> Result<Computed, Failed> {
    let root = hostroot::Root::open(root_dir).exit(Exit::Failure)?;
    let release = root
        .read_string("/etc/os-release", hostroot::DEFAULT_LIMIT)
        .exit(Exit::Failure)?
        .and_then(|t| Release::from_os_release(&t))
        .ok_or_else(|| {
            fail_localized(
                Exit::Failure,
                msg!(
                    "{dir}: no usable /etc/os-release (ID and VERSION_ID): not an AlmaLinux root",
                    dir = root_dir.display()
                ),
            )
        })?;
    let (table, _) = crate::lifecycle::load_table(&HostRoot::new(root_dir))
        .map_err(|e| fail_localized(Exit::Config, e))?;
    let dates = table.release(release.major).cloned();

    let dbpath = query::dbpath(&root).ok_or_else(|| {
        fail_localized(
            Exit::Failure,
            msg!(
                "{dir}: no rpm database in the root (looked in {looked}): security-status reads \
                 what is installed from it, and nothing is created there",
                dir = root_dir.display(),
                looked = query::dbpaths_looked()
            ),
        )
    })?;
    let resolve = |p: &str| root.resolve(p).unwrap_or_else(|_| root.join(p));
    let config_file = Some(resolve("/etc/dnf/dnf.conf")).filter(|p| p.is_file());
    let input = query::QueryInput {
        root: root_dir.to_path_buf(),
        dbpath,
        releasever: release.major,
        offline,
        config_file,
        extra_repos: target
            .map(|t| query::extra_repos(t, resolve))
            .unwrap_or_default(),
    };
    let view = query::run(&input).exit(Exit::Failure)?;
    let extended: Option<BTreeSet<String>> =
        target.map(|t| t.repos.values().map(|r| r.id.clone()).collect());
    let switched = alma_ext_switcher::state::load(root_dir)
        .map(|s| s.status == alma_ext_proto::api::SwitchStatus::Extended)
        .unwrap_or(false);
    let report = security::classify(
        &view,
        release.major,
        extended.as_ref(),
        chrono::Utc::now().date_naive(),
        switched,
    );
    Ok(Computed {
        report,
        release,
        dates,
    })
}

pub fn run(args: Args) -> CmdResult {
    // dnf needs an absolute installroot.
    let root_dir = std::fs::canonicalize(&args.root.root).map_err(|e| {
        fail_localized(
            Exit::Failure,
            msg!(
                "--root {dir}: {error}",
                dir = args.root.root.display(),
                error = io_message(&e)
            ),
        )
    })?;
    let target = load_target(&args, &root_dir)?;
    let Computed {
        report,
        release,
        dates,
    } = compute(&root_dir, target.as_ref(), args.offline)?;

    match args.format {
        Format::Json => print_json(&report)?,
        Format::Text => print_text(&report, &release, dates.as_ref()),
    }

    let failed: Vec<&security::RepoStatus> = report.repos.iter().filter(|r| !r.loaded).collect();
    if !failed.is_empty() && !args.offline {
        return Err(fail(
            Exit::Unreachable,
            t!(
                "dnf could not load {repos}: their packages and advisories are missing above",
                repos = failed
                    .iter()
                    .map(|r| format!("{} ({})", r.id, r.error.as_deref().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if target.is_none() {
        return Err(fail(
            Exit::NotRegistered,
            t!("no target: coverage not computed; pass --target FILE or register with `alma-ext register`"),
        ));
    }
    if failed.is_empty() {
        // For the check-in; a root that cannot be written (an image, a
        // user without rights) just keeps no summary.
        if let Ok(root) = hostroot::Root::open(&root_dir) {
            let _ = security::state::save(&root, &report.checkin_summary(true));
        }
    }
    Ok(Exit::Ok)
}

fn packages(n: u32) -> String {
    if n == 1 {
        t!("1 package").to_string()
    } else {
        t!("{count} packages", count = n)
    }
}

fn print_text(r: &Report, release: &Release, dates: Option<&Dates>) {
    let s = &r.summary;
    let sec_end = dates.map(|d| d.security_end.to_string());
    let ext_end = dates.map(|d| d.extended_end().to_string());
    let installed = if s.installed == 1 {
        t!("1 installed package").to_string()
    } else {
        t!("{count} installed packages", count = s.installed)
    };
    let switched = if r.switched {
        t!("switched to the extended-update repositories")
    } else {
        t!("not switched")
    };
    let dates_text = match (&sec_end, &ext_end) {
        (Some(a), Some(b)) => t!(
            "; community security support ends {security_end}, extended updates run until {extended_end}",
            security_end = a,
            extended_end = b
        ),
        _ => String::new(),
    };
    alma_ext_stdio::outln!(
        "AlmaLinux {}: {installed} ({switched}){dates_text}",
        release.version
    );
    match s.extended {
        Some(ext) => {
            let continues = match &ext_end {
                Some(d) => t!(
                    "{packages} in the extended-update repositories: fixes continue until {date}",
                    packages = packages(ext),
                    date = d
                ),
                None => t!(
                    "{packages} in the extended-update repositories: fixes continue",
                    packages = packages(ext)
                ),
            };
            let community = packages(s.community_only.unwrap_or(0));
            let ends = match &sec_end {
                Some(d) => t!(
                    "{packages} only in the community repositories: no fixes after {date}",
                    packages = community,
                    date = d
                ),
                None => t!(
                    "{packages} only in the community repositories: no fixes after the community's security support ends",
                    packages = community
                ),
            };
            alma_ext_stdio::outln!("  {continues}");
            alma_ext_stdio::outln!("  {ends}");
            alma_ext_stdio::outln!(
                "  {}",
                t!(
                    "{packages} only in third-party repositories: fixes only as their vendors publish them",
                    packages = packages(s.third_party.unwrap_or(0))
                )
            );
            alma_ext_stdio::outln!(
                "  {}",
                t!(
                    "{packages} in no enabled repository: no fixes from any repository",
                    packages = packages(s.unavailable.unwrap_or(0))
                )
            );
        }
        None => alma_ext_stdio::outln!(
            "  {}",
            t!("Coverage unknown: no target (pass --target FILE or register with `alma-ext register`)")
        ),
    }
    let b = &r.advisories.by_severity;
    let security = r
        .advisories
        .pending
        .iter()
        .filter(|p| p.kind == "security")
        .count() as u32;
    let others = r.advisories.pending.len() as u32 - security;
    alma_ext_stdio::outln!();
    if security == 0 {
        alma_ext_stdio::outln!("{}", t!("No pending security advisories."));
    } else {
        let unknown = security - (b.critical + b.important + b.moderate + b.low);
        alma_ext_stdio::outln!(
            "{}",
            t!(
                "Pending security advisories: {count} ({critical} Critical, {important} Important, {moderate} Moderate, {low} Low{unknown})",
                count = security,
                critical = b.critical,
                important = b.important,
                moderate = b.moderate,
                low = b.low,
                unknown = if unknown > 0 {
                    t!(", {count} without severity", count = unknown)
                } else {
                    String::new()
                }
            )
        );
        alma_ext_stdio::outln!("  {}", t!("Install them with: dnf upgrade --security"));
    }
    if others > 0 {
        alma_ext_stdio::outln!(
            "{}",
            t!(
                "Other pending advisories (bug fixes, enhancements): {count}; install with: dnf upgrade",
                count = others
            )
        );
    }
    for repo in r.repos.iter().filter(|x| !x.loaded) {
        alma_ext_stdio::outln!(
            "{}",
            t!(
                "Not loaded: repository {repo}: {error}",
                repo = repo.id,
                error = repo.error.as_deref().unwrap_or("?")
            )
        );
    }
    alma_ext_stdio::outln!(
        "\n{}",
        t!("The package and advisory lists: alma-ext security-status --format json")
    );
}
