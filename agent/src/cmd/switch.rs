//! `alma-ext switch`: repoint dnf from AlmaLinux's community repositories
//! to the extended-update repositories, or back with `--revert`.
//!
//! The work is in the `alma_ext_switcher` crate; this module reads the
//! target, asks for confirmation, prints the plan and maps failures to exit
//! codes.

use alma_ext_i18n::{msg, t, Localize, Message};
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use alma_ext_i18n::io_message;
use alma_ext_proto::api::SwitchState;
use alma_ext_proto::Target;
use alma_ext_switcher::apply::{
    read_release, read_repo_files, Applier, ApplyError, Failpoint, Outcome, Recovery,
};
use alma_ext_switcher::dnfquery::{DnfReader, DnfView, RealDnf};
use alma_ext_switcher::journal::{Lock, Op, Store};
use alma_ext_switcher::plan::{self, Action, Origin, Plan, PlanError};
use alma_ext_switcher::preflight::{self, FailureClass, HttpProbe, RepoProbe};
use alma_ext_switcher::system::{self, RealTools};
use serde::Serialize;

use crate::cli::RootArg;
use crate::exit::{fail_localized, CmdResult, Exit, Failed};
use crate::output::{print_json, Format};
use crate::root::HostRoot;

const SWITCH_HELP: &str = "\
What it does: checks first (AlmaLinux 8/9, no dnf or rpm running, every new
repository answers repodata/repomd.xml with the credentials, the key is a valid
public key), shows the plan and asks, then disables each replaced repo in place
(only its enabled= line), repoints the other enabled AlmaLinux repos to the
vault (others = \"vault\"), writes /etc/yum.repos.d/alma-ext-extended.repo
(mode 0600 when it holds credentials), imports the key with rpm and verifies
with dnf: it asks dnf which repos it reads before planning and after
writing (they must match the plan), then runs `dnf makecache` on every repo it
enables or repoints. Any failure restores the exact old bytes. A journal in
/var/lib/alma-ext/switch/ lets the next run finish or roll back a switch that
was killed. Third-party repos (EPEL, docker-ce, in-house) are never touched.

Examples:
  alma-ext switch --dry-run                 # plan and diff, change nothing
  alma-ext switch --target ext.toml --yes   # air-gapped site, own mirror
  alma-ext switch --revert --yes            # back to the community repos

Exit codes of switch:
  0  switched, already switched, reverted, nothing to revert
  3  invalid target file (file, line and key named)
  4  preflight failed or not eligible (bad key, expired certificate, no target,
     HTTP 404, dnf reads a repo file differently, nothing to switch, a target
     key that is no repo id, read-only or full filesystem, revert or recovery
     refused because a file was edited): nothing changed
  5  dnf does not read the written files as planned or cannot fetch a new or
     repointed repo: rolled back, exactly as before
  6  a repository is unreachable (DNS, connection, TLS, proxy): nothing changed
  7  a repository refused the credentials (HTTP 401/403): nothing changed
  8  no terminal and no --yes, or not confirmed
  9  another switch, dnf or rpm transaction is running
See docs/switch.md for the target format and the journal.";

/// Arguments of `alma-ext switch`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = SWITCH_HELP)]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
    /// The switch target as a TOML file (air-gapped sites with their own
    /// mirror). Default: the target the entitlement server gave at the last
    /// check-in.
    #[arg(long, value_name = "FILE", conflicts_with = "revert")]
    pub target: Option<PathBuf>,
    /// Show the plan and a unified diff of every file that would change;
    /// change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when there is no terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Output format: text for people, json (plan and result) for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Restore the community configuration byte for byte and remove what
    /// the switch added (the rpm key stays imported).
    #[arg(long)]
    pub revert: bool,
    /// Finish an interrupted switch or revert even when a repo file was
    /// edited since it began: the edit is overwritten, its bytes are kept
    /// as <file>.alma-ext-edited.
    #[arg(long)]
    pub force_recovery: bool,
}

/// One file's diff in the JSON output.
#[derive(Debug, Serialize)]
struct FileDiff {
    path: PathBuf,
    diff: String,
}

/// The JSON document `--format json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    operation: &'static str,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered: Option<Recovery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a Plan>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    diffs: Vec<FileDiff>,
    /// switched, already-switched, reverted, not-switched, planned,
    /// failed, rolled-back, not-confirmed.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<u8>,
    state: Option<SwitchState>,
}

/// Set once a failure's JSON report is printed (it carries the plan).
static REPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn run(args: Args) -> CmdResult {
    let result = run_inner(&args);
    if let Err(f) = &result {
        // With --format json every failure is a JSON report, also the ones
        // found before there is a plan (target, lock, dnf's reading).
        if args.format == Format::Json && !REPORTED.load(std::sync::atomic::Ordering::Relaxed) {
            let mut report = Report {
                operation: if args.revert { "revert" } else { "switch" },
                dry_run: args.dry_run,
                recovered: None,
                plan: None,
                diffs: vec![],
                result: "failed",
                error: None,
                exit_code: None,
                state: None,
            };
            let root = std::fs::canonicalize(&args.root.root).unwrap_or_default();
            fill_failure(&mut report, f, &root);
            let _ = print_json(&report);
        }
    }
    result
}

fn run_inner(args: &Args) -> CmdResult {
    // dnf --installroot and rpm --root need an absolute path.
    let root = std::fs::canonicalize(&args.root.root).map_err(|e| {
        fail_localized(
            Exit::Preflight,
            msg!(
                "--root {dir}: {error}",
                dir = args.root.root.display(),
                error = io_message(&e)
            ),
        )
    })?;
    if args.revert {
        run_revert(args, &root)
    } else {
        run_switch(args, &root)
    }
}

/// A `--target` file: unreadable (exit 3, the system's reason) or not a
/// target (exit 3, file, line, column and key).
pub fn read_target_file(f: &Path) -> Result<Target, Failed> {
    let text = std::fs::read_to_string(f).map_err(|e| {
        fail_localized(
            Exit::Config,
            msg!(
                "cannot read the target file {file}: {error}",
                file = f.display(),
                error = io_message(&e)
            ),
        )
    })?;
    Target::from_toml(&text)
        .map_err(|e| fail_localized(Exit::Config, crate::config::ConfigError::toml(f, &text, &e)))
}

fn load_target(args: &Args, root: &Path) -> Result<Target, Failed> {
    if let Some(f) = &args.target {
        return read_target_file(f);
    }
    let reg = crate::registration::load(&HostRoot::new(root)).map_err(|e| crate::exit::Failed {
        exit: Exit::Config,
        error: e,
    })?;
    match reg.and_then(|r| r.target) {
        Some(t) => Ok(t),
        None => Err(fail_localized(
            Exit::Preflight,
            msg!("no target: pass --target FILE or register with `alma-ext register`"),
        )),
    }
}

/// Take the switch lock and check that no dnf or rpm is running.
fn lock(store: &Store, root: &Path) -> Result<Lock, Failed> {
    let lock = Lock::try_acquire(store)
        .map_err(|e| {
            fail_localized(
                Exit::Failure,
                msg!(
                    "cannot take the switch lock: {error}",
                    error = io_message(&e)
                ),
            )
        })?
        .ok_or_else(|| {
            fail_localized(
                Exit::Busy,
                msg!(
                    "another alma-ext switch is running (lock {dir}/lock)",
                    dir = store.dir().display()
                ),
            )
        })?;
    check_package_lock(root)?;
    Ok(lock)
}

fn check_package_lock(root: &Path) -> Result<(), Failed> {
    let rpm = RealTools::default().rpm;
    let dbpaths = system::rpm_dbpaths(root, &rpm);
    let holder = system::package_lock_holder(root, &dbpaths)
        .map_err(|e| fail_localized(Exit::Failure, io_message(&e)))?;
    if let Some(who) = holder {
        return Err(fail_localized(
            Exit::Busy,
            msg!(
                "{holder}; wait for it to finish and run again",
                holder = who
            ),
        ));
    }
    Ok(())
}

fn map_apply_error(e: ApplyError) -> Failed {
    let exit = match &e {
        ApplyError::NothingChanged(_) | ApplyError::Refused(_) => Exit::Preflight,
        ApplyError::RolledBack(_) => Exit::RolledBack,
        ApplyError::Interrupted(..) => Exit::Failure,
    };
    fail_localized(exit, e)
}

/// Ask on the terminal; refuse without one.
fn confirm(args: &Args, question: &str) -> Result<(), Failed> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail_localized(
            Exit::NotConfirmed,
            msg!("no terminal to ask for confirmation: run again with --yes"),
        ));
    }
    alma_ext_stdio::errout!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| fail_localized(Exit::NotConfirmed, io_message(&e)))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "はい" => Ok(()),
        _ => Err(fail_localized(
            Exit::NotConfirmed,
            msg!("not confirmed: nothing was changed"),
        )),
    }
}

fn report_recovery(args: &Args, r: &Option<Recovery>) {
    if let (Some(r), Format::Text) = (r, args.format) {
        let started = r.started.format("%Y-%m-%d %H:%M:%S UTC");
        let line = match (r.op, r.rolled_back) {
            (Op::Switch, true) => t!(
                "Found an interrupted switch from {started}: rolled back.",
                started = started
            ),
            (Op::Switch, false) => t!(
                "Found an interrupted switch from {started}: completed.",
                started = started
            ),
            (Op::Revert, true) => t!(
                "Found an interrupted revert from {started}: rolled back.",
                started = started
            ),
            (Op::Revert, false) => t!(
                "Found an interrupted revert from {started}: completed.",
                started = started
            ),
        };
        alma_ext_stdio::outln!("{line}");
    }
}

/// Print a JSON report; a failure after it prints no second one.
fn print_report(report: &Report<'_>) -> Result<(), Failed> {
    REPORTED.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(print_json(report)?)
}

/// The failure's fields of a JSON report: `error` is the English chain,
/// whatever the locale (scripts see the same bytes).
fn fill_failure(report: &mut Report<'_>, f: &Failed, root: &Path) {
    report.result = match f.exit {
        Exit::RolledBack => "rolled-back",
        Exit::NotConfirmed => "not-confirmed",
        _ => "failed",
    };
    report.error = Some(f.to_string());
    report.exit_code = Some(f.exit.code());
    report.state = alma_ext_switcher::state::load(root).ok();
}

/// Print the JSON report of a failure, then return the failure.
fn json_fail(args: &Args, mut report: Report<'_>, f: Failed, root: &Path) -> Failed {
    if args.format == Format::Json {
        fill_failure(&mut report, &f, root);
        let _ = print_report(&report);
    }
    f
}

fn run_switch(args: &Args, root: &Path) -> CmdResult {
    let store = Store::new(root);
    let target = load_target(args, root)?;
    let release = read_release(root)
        .map_err(|e| fail_localized(Exit::Failure, io_message(&e)))?
        .ok_or_else(|| {
            fail_localized(
                Exit::Preflight,
                msg!(
                    "{dir}: no /etc/os-release: not an AlmaLinux root",
                    dir = root.display()
                ),
            )
        })?;
    let tools = RealTools::default();
    let mut applier = Applier::new(root, &tools, Failpoint::from_env());
    applier.force_recovery = args.force_recovery;

    let mut _lock = None;
    let mut recovered = None;
    if args.dry_run {
        if store.journal_path().exists() {
            return Err(fail_localized(
                Exit::Preflight,
                msg!("an interrupted switch or revert is pending: run `alma-ext switch` (or --revert) without --dry-run to finish it"),
            ));
        }
    } else {
        _lock = Some(lock(&store, root)?);
        recovered = applier.recover(Op::Switch).map_err(map_apply_error)?;
        report_recovery(args, &recovered);
    }

    preflight::check_links(root).map_err(|e| preflight_failed(Exit::Preflight, e.message()))?;
    let files = read_repo_files(root).map_err(|e| fail_localized(Exit::Failure, io_message(&e)))?;
    // dnf is the judge: what it reads, with the root's own configuration,
    // variables and reposdirs.
    let dnf = RealDnf::default();
    let view = dnf
        .read(root, &[])
        .map_err(|e| preflight_failed(Exit::Preflight, e.message()))?;
    let plan_failed = |e: PlanError| match e {
        PlanError::Divergence(_) | PlanError::Unsupported { .. } => {
            fail_localized(Exit::Preflight, e)
        }
        e if e.is_machine() => fail_localized(
            Exit::Preflight,
            msg!("{error}; nothing was changed", error = e.message()),
        ),
        e => fail_localized(Exit::Config, e),
    };
    let mut plan = plan::plan(&files, &release, &target).map_err(plan_failed)?;
    plan::judge(&files, &plan, &target, &view).map_err(plan_failed)?;
    if !plan.already_switched {
        // Vault directories are checked before anything changes; a repo
        // the vault lacks stays as it is, with a warning.
        let missing = vault_missing(root, &plan, &view);
        if !missing.is_empty() {
            plan = plan::plan_with(&files, &release, &target, &missing).map_err(plan_failed)?;
            plan::judge(&files, &plan, &target, &view).map_err(plan_failed)?;
        }
    }
    let applier = applier.with_judge(&dnf, view.clone());
    let mut report = Report {
        operation: "switch",
        dry_run: args.dry_run,
        recovered: recovered.clone(),
        plan: Some(&plan),
        diffs: vec![],
        result: "planned",
        error: None,
        exit_code: None,
        state: None,
    };

    if plan.already_switched {
        if !args.dry_run {
            applier.apply(&plan).map_err(map_apply_error)?;
        }
        report.result = "already-switched";
        report.state = alma_ext_switcher::state::load(root).ok();
        match args.format {
            Format::Json => print_report(&report)?,
            Format::Text => alma_ext_stdio::outln!(
                "{}",
                t!(
                    "Already switched: AlmaLinux {version} uses the extended-update repositories ({repos}). Nothing to change.",
                    version = plan.release.version,
                    repos = plan
                        .new_repos
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            ),
        }
        return Ok(Exit::Ok);
    }

    // Preflight: nothing has changed yet.
    if let Err(f) = run_preflight(root, &target, &view) {
        return Err(json_fail(args, report, f, root));
    }

    if args.dry_run {
        report.diffs = plan
            .changes
            .iter()
            .map(|c| FileDiff {
                path: c.path.clone(),
                diff: plan::unified_diff(c),
            })
            .collect();
        match args.format {
            Format::Json => print_report(&report)?,
            Format::Text => {
                print_plan(&plan);
                alma_ext_stdio::outln!();
                for d in &report.diffs {
                    alma_ext_stdio::out!("{}", d.diff);
                }
                alma_ext_stdio::outln!("\n{}", t!("Dry run: nothing was changed."));
            }
        }
        return Ok(Exit::Ok);
    }

    if args.format == Format::Text {
        print_plan(&plan);
    }
    if let Err(f) = confirm(args, t!("Switch to the extended-update repositories?")) {
        return Err(json_fail(args, report, f, root));
    }
    match applier.apply(&plan) {
        Ok(outcome) => {
            report.result = match outcome {
                Outcome::Switched => "switched",
                _ => "already-switched",
            };
            report.state = alma_ext_switcher::state::load(root).ok();
            match args.format {
                Format::Json => print_report(&report)?,
                Format::Text => {
                    alma_ext_stdio::outln!(
                        "\n{}",
                        t!(
                            "Switched: dnf now uses {repos} (verified with dnf makecache). Undo with `alma-ext switch --revert`.",
                            repos = plan
                                .new_repos
                                .iter()
                                .filter(|r| r.enabled)
                                .map(|r| r.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    );
                }
            }
            Ok(Exit::Ok)
        }
        Err(e) => Err(json_fail(args, report, map_apply_error(e), root)),
    }
}

/// The repos the plan repoints to the vault whose vault directory does
/// not answer `repodata/repomd.xml` (the machine's own variables).
fn vault_missing(root: &Path, plan: &Plan, view: &DnfView) -> BTreeSet<String> {
    let Ok(probe) = HttpProbe::new(root, None) else {
        return BTreeSet::new();
    };
    plan.repos
        .iter()
        .filter_map(|d| match &d.action {
            Action::Vault { url } => {
                let url = preflight::repomd_url(&preflight::substitute(url, &view.vars));
                match probe.probe(&url) {
                    Ok(200) => None,
                    _ => Some(d.id.clone()),
                }
            }
            _ => None,
        })
        .collect()
}

/// A preflight check failed: nothing was changed.
fn preflight_failed(exit: Exit, why: Message) -> Failed {
    fail_localized(
        exit,
        msg!("preflight: {error}; nothing was changed", error = why),
    )
}

fn run_preflight(root: &Path, target: &Target, view: &DnfView) -> Result<(), Failed> {
    let to_exit = |e: preflight::PreflightError| {
        let exit = match e.class {
            FailureClass::Unreachable => Exit::Unreachable,
            FailureClass::Refused => Exit::Refused,
            FailureClass::Failed => Exit::Preflight,
        };
        preflight_failed(exit, e.message)
    };
    preflight::check_local(root, target, chrono::Utc::now()).map_err(to_exit)?;
    let probe = HttpProbe::new(root, target.auth.as_ref()).map_err(to_exit)?;
    preflight::check_repos(target, &view.vars, &probe).map_err(to_exit)?;
    Ok(())
}

fn print_plan(plan: &Plan) {
    alma_ext_stdio::outln!(
        "{}",
        t!(
            "AlmaLinux {version}: switch to the extended-update repositories",
            version = plan.release.version
        )
    );
    let section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            alma_ext_stdio::outln!("\n{title}");
            for l in lines {
                alma_ext_stdio::outln!("  {l}");
            }
        }
    };
    let by = |f: fn(&Action) -> bool| plan.repos.iter().filter(move |d| f(&d.action));
    section(
        t!("Replaced (disabled in place: only the enabled= line changes):"),
        by(|a| matches!(a, Action::Replace { .. }))
            .map(|d| match &d.action {
                Action::Replace { by } => {
                    format!("{:<22} -> {:<22} {}", d.id, by, d.file.display())
                }
                _ => unreachable!(),
            })
            .collect(),
    );
    section(
        &t!(
            "Repointed to the vault of AlmaLinux {version} (nothing replaces them):",
            version = plan.release.version
        ),
        by(|a| matches!(a, Action::Vault { .. }))
            .map(|d| match &d.action {
                Action::Vault { url } => format!("{:<22} -> {url}", d.id),
                _ => unreachable!(),
            })
            .collect(),
    );
    section(
        t!("Disabled (others = \"disable\"):"),
        by(|a| matches!(a, Action::Disable))
            .map(|d| format!("{:<22} {}", d.id, d.file.display()))
            .collect(),
    );
    section(
        t!("Kept enabled as they are:"),
        by(|a| matches!(a, Action::Keep { .. }))
            .map(|d| match &d.action {
                Action::Keep { reason } => format!("{:<22} {}", d.id, reason.localized()),
                _ => unreachable!(),
            })
            .collect(),
    );
    let secret = plan
        .changes
        .iter()
        .any(|c| c.path == Path::new(plan::EXTENDED_REPO_FILE) && c.secret);
    section(
        &if secret {
            t!(
                "Added in {path} (mode 0600: it holds the credentials):",
                path = plan::EXTENDED_REPO_FILE
            )
        } else {
            t!("Added in {path}:", path = plan::EXTENDED_REPO_FILE)
        },
        plan.new_repos
            .iter()
            .map(|r| {
                format!(
                    "{:<22} {} {}{}",
                    r.id,
                    enabled_word(r.enabled),
                    r.baseurl,
                    if r.enabled {
                        String::new()
                    } else {
                        t!(" (as {repo} was)", repo = r.replaces)
                    }
                )
            })
            .collect(),
    );
    section(
        t!("Not covered by extended support (third-party, untouched):"),
        plan.repos
            .iter()
            .filter(|d| d.origin == Origin::ThirdParty && matches!(d.action, Action::Untouched))
            .map(|d| {
                format!(
                    "{:<22} {} {}",
                    d.id,
                    enabled_word(d.enabled),
                    d.file.display()
                )
            })
            .collect(),
    );
    section(
        t!("Ignored by dnf (a line it cannot parse), untouched:"),
        by(|a| matches!(a, Action::IgnoredByDnf { .. }))
            .map(|d| format!("{:<22} {}", d.id, d.file.display()))
            .collect(),
    );
    let already: Vec<&str> = by(|a| matches!(a, Action::AlreadyDisabled | Action::AlreadyDone))
        .map(|d| d.id.as_str())
        .collect();
    if !already.is_empty() {
        alma_ext_stdio::outln!(
            "\n{}",
            t!(
                "Already disabled or done, untouched: {count} community repos",
                count = already.len()
            )
        );
    }
    if !plan.gpgkeys.is_empty() {
        section(
            t!("Keys imported into the rpm database:"),
            plan.gpgkeys.clone(),
        );
    }
    section(
        t!("Files written (atomically; exact backups in /var/lib/alma-ext/switch/):"),
        plan.changes
            .iter()
            .map(|c| {
                format!(
                    "{}{}",
                    c.path.display(),
                    if c.is_new() { t!(" (new)") } else { "" }
                )
            })
            .collect(),
    );
    section(
        t!("Warnings:"),
        plan.warnings.iter().map(Localize::localized).collect(),
    );
}

/// "enabled" or "disabled", padded to one display width.
fn enabled_word(enabled: bool) -> String {
    let word = if enabled {
        t!("enabled")
    } else {
        t!("disabled")
    };
    let w = alma_ext_i18n::width(t!("enabled")).max(alma_ext_i18n::width(t!("disabled")));
    alma_ext_i18n::Pad(word, w).to_string()
}

fn run_revert(args: &Args, root: &Path) -> CmdResult {
    let store = Store::new(root);
    let tools = RealTools::default();
    let mut applier = Applier::new(root, &tools, Failpoint::from_env());
    applier.force_recovery = args.force_recovery;
    let mut _lock = None;
    let mut recovered = None;
    if args.dry_run {
        if store.journal_path().exists() {
            return Err(fail_localized(
                Exit::Preflight,
                msg!("an interrupted switch or revert is pending: run `alma-ext switch --revert` without --dry-run to finish it"),
            ));
        }
    } else {
        _lock = Some(lock(&store, root)?);
        recovered = applier.recover(Op::Revert).map_err(map_apply_error)?;
        report_recovery(args, &recovered);
    }
    let mut report = Report {
        operation: "revert",
        dry_run: args.dry_run,
        recovered: recovered.clone(),
        plan: None,
        diffs: vec![],
        result: "planned",
        error: None,
        exit_code: None,
        state: None,
    };
    let j = match applier.revert_plan() {
        Ok(Some(j)) => j,
        Ok(None) => {
            report.result = if recovered.is_some() {
                "reverted"
            } else {
                "not-switched"
            };
            report.state = alma_ext_switcher::state::load(root).ok();
            match args.format {
                Format::Json => print_report(&report)?,
                Format::Text => alma_ext_stdio::outln!(
                    "{}",
                    t!("Not switched: the community configuration is in place. Nothing to revert.")
                ),
            }
            return Ok(Exit::Ok);
        }
        Err(e) => return Err(json_fail(args, report, map_apply_error(e), root)),
    };
    for f in &j.files {
        let cur = f.before.as_ref().and_then(|b| b.bytes().ok());
        let after = f.after.as_ref().and_then(|b| b.bytes().ok());
        let change = plan::FileChange {
            path: f.path.clone(),
            before: cur,
            after: after.clone().unwrap_or_default(),
            new_mode: 0o644,
            secret: f.path == Path::new(plan::EXTENDED_REPO_FILE),
        };
        let mut diff = plan::unified_diff(&change);
        if after.is_none() {
            diff = diff.replace(&format!("+++ b{}", f.path.display()), "+++ /dev/null");
        }
        report.diffs.push(FileDiff {
            path: f.path.clone(),
            diff,
        });
    }
    if args.format == Format::Text {
        alma_ext_stdio::outln!(
            "{}",
            t!("Revert: restore the community configuration byte for byte")
        );
        for f in &j.files {
            let (remove, restore) = (t!("remove"), t!("restore"));
            let w = alma_ext_i18n::width(remove).max(alma_ext_i18n::width(restore));
            alma_ext_stdio::outln!(
                "  {} {}",
                alma_ext_i18n::Pad(if f.after.is_none() { remove } else { restore }, w),
                f.path.display()
            );
        }
        alma_ext_stdio::outln!("  {}", t!("(the rpm key stays imported)"));
    }
    if args.dry_run {
        match args.format {
            Format::Json => print_report(&report)?,
            Format::Text => {
                alma_ext_stdio::outln!();
                for d in &report.diffs {
                    alma_ext_stdio::out!("{}", d.diff);
                }
                alma_ext_stdio::outln!("\n{}", t!("Dry run: nothing was changed."));
            }
        }
        return Ok(Exit::Ok);
    }
    report.diffs.clear();
    if let Err(f) = confirm(args, t!("Revert to the community repositories?")) {
        return Err(json_fail(args, report, f, root));
    }
    match applier.revert() {
        Ok(o) => {
            report.result = match o {
                Outcome::Reverted => "reverted",
                _ => "not-switched",
            };
            report.state = alma_ext_switcher::state::load(root).ok();
            match args.format {
                Format::Json => print_report(&report)?,
                Format::Text => {
                    alma_ext_stdio::outln!(
                        "\n{}",
                        t!("Reverted: dnf uses the community repositories again.")
                    )
                }
            }
            Ok(Exit::Ok)
        }
        Err(e) => Err(json_fail(args, report, map_apply_error(e), root)),
    }
}
