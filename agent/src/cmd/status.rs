//! `alma-ext status`: where this release stands in its lifecycle, what to
//! do now, and the registration and switch state.

use alma_ext_i18n::t;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use alma_ext_proto::api::{Entitlement, SwitchState, SwitchStatus};
use alma_ext_proto::facts::Os;

use crate::cli::RootArg;
use crate::exit::{CmdResult, Exit, ExitContext};
use crate::lifecycle::{self, LifecycleStatus, Progress};
use crate::output::{print_json, Format};
use crate::root::HostRoot;

/// Arguments of `alma-ext status`.
///
/// Shows the lifecycle phase of this machine's AlmaLinux major version
/// (full, security, extended, ended, or none for Kitten and other
/// distributions), the dates of each phase, the days to the next boundary,
/// and what to do now. The dates come from the built-in table, overridden
/// by /etc/alma-ext/lifecycle.toml when present.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  alma-ext status                          today
  alma-ext status --at 2032-06-01          what it will be on that day
  alma-ext status --format json | jq -r .lifecycle.phase")]
pub struct Args {
    #[command(flatten)]
    pub root: RootArg,
    /// Answer for this day (YYYY-MM-DD) instead of today, for planning.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day)]
    pub at: Option<NaiveDate>,
    /// Output format: text (a short summary) or json (for scripts).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|e| format!("{s:?} is not a date in the form YYYY-MM-DD ({e})"))
}

/// The OS part of the status JSON.
#[derive(Debug, Serialize)]
pub struct StatusOs {
    pub id: Option<String>,
    pub pretty_name: Option<String>,
    pub version_id: Option<String>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub family: String,
    pub supported: bool,
    pub support_end: Option<String>,
}

/// The registration part of the status JSON (never the credential).
#[derive(Debug, Serialize)]
pub struct StatusRegistration {
    pub registered: bool,
    pub server: Option<String>,
    pub machine: Option<String>,
    pub system: Option<String>,
    /// The entitlement as the server last said it.
    pub entitlement: Option<Entitlement>,
    /// The last check-in the server accepted.
    pub last_checkin: Option<DateTime<Utc>>,
    /// The error of the last check-in attempt, if it failed.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Set when access to the extended-update repository is lost (or never
    /// given while dnf reads it): why and what to do.
    pub access_lost: Option<crate::access::AccessLost>,
}

/// The switch part of the status JSON.
#[derive(Debug, Serialize)]
pub struct StatusSwitch {
    #[serde(flatten)]
    pub state: SwitchState,
    /// One line for people: "community repositories", ...
    pub description: String,
}

/// `alma-ext status --format json`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The day the answer is for.
    pub at: NaiveDate,
    pub hostname: Option<String>,
    pub os: StatusOs,
    pub lifecycle: LifecycleStatus,
    pub registration: StatusRegistration,
    pub switch: StatusSwitch,
    pub warnings: Vec<String>,
}

/// An error recorded in English in a state file, in the user's language
/// where it is one of `templates` (the words it quotes as they are): the
/// switcher's messages for `state.json`
/// (`alma_ext_switcher::apply::recorded_error_templates`), the client's
/// for the last check-in in `registration.json`
/// (`ApiError::recorded_templates`).
fn recorded(e: &str, templates: fn() -> Vec<alma_ext_i18n::Message>) -> String {
    if !alma_ext_i18n::is_japanese() {
        return e.to_string();
    }
    alma_ext_i18n::render_back(e, &templates(), ("; ", "; ")).unwrap_or_else(|| e.to_string())
}

fn switch_description(s: &SwitchState) -> String {
    match s.status {
        SwitchStatus::Community => t!("community repositories").into(),
        SwitchStatus::Extended => t!("extended-update repository").into(),
        SwitchStatus::Interrupted => {
            t!("interrupted switch: run alma-ext switch again to finish or roll back").into()
        }
        SwitchStatus::Failed => match &s.error {
            Some(e) => t!(
                "community repositories (last switch failed and was rolled back: {error})",
                error = recorded(e, alma_ext_switcher::apply::recorded_error_templates)
            ),
            None => t!("community repositories (last switch failed and was rolled back)").into(),
        },
    }
}

pub fn run(args: Args) -> CmdResult {
    let root = HostRoot::open(&args.root.root).map_err(|e| {
        crate::exit::fail_localized(
            Exit::Usage,
            alma_ext_i18n::msg!("--root: {error}", error = crate::root::error_message(&e)),
        )
    })?;
    let at = args.at.unwrap_or_else(|| chrono::Local::now().date_naive());
    // The JSON never changes with the language.
    let status = match args.format {
        Format::Json => alma_ext_i18n::machine(|| compute(&root, at))?,
        Format::Text => compute(&root, at)?,
    };
    for w in &status.warnings {
        alma_ext_stdio::errln!(
            "{}",
            alma_ext_i18n::t!("alma-ext: warning: {warning}", warning = w)
        );
    }
    match args.format {
        Format::Json => print_json(&status)?,
        Format::Text => alma_ext_stdio::out!("{}", render_text(&status)),
    }
    Ok(Exit::Ok)
}

/// Everything `status` shows, for the host under `root` on `at`.
pub fn compute(root: &HostRoot, at: NaiveDate) -> Result<Status, crate::exit::Failed> {
    let crate::facts::os::OsRead {
        os,
        path: os_path,
        problems,
        unreadable,
    } = crate::facts::os::read(root);
    let mut warnings = unreadable;
    if let Some(p) = &os_path {
        for pr in problems {
            warnings.push(t!(
                "{path} {problem} (line ignored)",
                path = root.join(p).display(),
                problem = pr
            ));
        }
    } else {
        warnings.push(t!(
            "no os-release under {root} (looked at /etc/os-release and /usr/lib/os-release)",
            root = root.path().display()
        ));
    }
    let (table, source) =
        lifecycle::load_table(root).map_err(|e| crate::exit::fail_localized(Exit::Config, e))?;
    let registration = crate::registration::load(root).exit(Exit::Config)?;
    let switch = alma_ext_switcher::state::load(root.path())
        .map_err(|e| anyhow::anyhow!(t!("reading the switch state: {error}", error = e)))
        .exit(Exit::Config)?;
    let progress = Progress {
        registered: registration.is_some(),
        switched: switch.status == SwitchStatus::Extended,
    };
    let (mut lifecycle, more) = lifecycle::status(&os, &table, &source.description, at, progress);
    warnings.extend(more);
    let access_lost = crate::access::assess(registration.as_ref(), switch.status, at);
    if let Some(lost) = &access_lost {
        // Never "nothing to do" while dnf points at a repository this
        // machine may no longer use.
        lifecycle.advice = t!(
            "access to the extended-update repository is lost ({reason}): {what_to_do}",
            reason = lost.reason,
            what_to_do = lost.what_to_do
        );
    }
    let hostname = crate::facts::hostname(root);
    Ok(Status {
        at,
        hostname,
        os: status_os(&os),
        lifecycle,
        registration: match registration {
            Some(r) => StatusRegistration {
                registered: true,
                server: Some(r.server),
                machine: Some(r.machine),
                system: r.system,
                entitlement: r.entitlement,
                last_checkin: r.last_checkin,
                last_error: r.last_error,
                last_error_at: r.last_error_at,
                access_lost,
            },
            None => StatusRegistration {
                registered: false,
                server: None,
                machine: None,
                system: None,
                entitlement: None,
                last_checkin: None,
                last_error: None,
                last_error_at: None,
                access_lost,
            },
        },
        switch: StatusSwitch {
            description: switch_description(&switch),
            state: switch,
        },
        warnings,
    })
}

fn status_os(os: &Os) -> StatusOs {
    StatusOs {
        id: os.id.clone(),
        pretty_name: os.pretty_name.clone(),
        version_id: os.version_id.clone(),
        major: os.major,
        minor: os.minor,
        family: os.family.clone(),
        supported: os.supported,
        support_end: os.support_end.clone(),
    }
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "-".into())
}

/// The text summary.
pub fn render_text(s: &Status) -> String {
    let l = &s.lifecycle;
    let mut rows: Vec<(&str, String)> = Vec::new();
    let os_name =
        s.os.pretty_name
            .clone()
            .unwrap_or_else(|| s.os.id.clone().unwrap_or_else(|| t!("unknown").into()));
    rows.push(("OS", os_name));
    let phase = match l.phase.as_str() {
        "full" => t!("full support (bug and security fixes)"),
        "security" => t!("security support (security fixes only)"),
        "extended" => t!("extended support (vendor's extended-update repository)"),
        "ended" => t!("ended (no more updates)"),
        "prerelease" => t!("not yet released"),
        _ => t!("none (no lifecycle for this release)"),
    };
    rows.push((
        t!("Phase"),
        t!(
            "{phase} - {meaning} on {date}",
            phase = l.phase,
            meaning = phase,
            date = s.at
        ),
    ));
    if let (Some(np), Some(nb), Some(days)) =
        (l.next_phase, l.next_boundary, l.days_to_next_boundary)
    {
        rows.push((
            t!("Next"),
            t!(
                "{phase} from {date} (in {days} days)",
                phase = np,
                date = nb,
                days = days
            ),
        ));
    }
    if l.major.is_some() && l.ga.is_some() {
        rows.push((
            t!("Full support"),
            t!("{from} to {to}", from = date(l.ga), to = date(l.active_end)),
        ));
        rows.push((
            t!("Security support"),
            t!("to {date}", date = date(l.security_end)),
        ));
        rows.push((
            t!("Extended support"),
            t!(
                "{from} to {to}",
                from = date(l.extended_start),
                to = date(l.extended_end)
            ),
        ));
    }
    if let Some(se) = &l.support_end {
        rows.push((
            "SUPPORT_END",
            if se.agrees {
                t!("{date} (os-release)", date = se.value)
            } else {
                t!(
                    "{date} (os-release) - disagrees with the table",
                    date = se.value
                )
            },
        ));
    }
    let reg = &s.registration;
    rows.push((
        t!("Registration"),
        if reg.registered {
            let mut v = t!(
                "registered with {server} as {machine}",
                server = reg.server.as_deref().unwrap_or("?"),
                machine = reg.machine.as_deref().unwrap_or("?")
            );
            if let Some(e) = &reg.entitlement {
                v.push_str(&t!(
                    ", contract {contract} {span}",
                    contract = e.contract,
                    span = crate::cmd::register::contract_span(e)
                ));
            }
            v
        } else {
            t!("not registered").into()
        },
    ));
    if reg.registered {
        let t = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        rows.push((
            t!("Last check-in"),
            reg.last_checkin
                .as_ref()
                .map(t)
                .unwrap_or_else(|| t!("never").into()),
        ));
        if let Some(e) = &reg.last_error {
            let when = reg.last_error_at.as_ref().map(t).unwrap_or_default();
            let e = recorded(e, crate::client::ApiError::recorded_templates);
            rows.push((t!("Last error"), format!("{when} {e}").trim().to_string()));
        }
    }
    if let Some(lost) = &reg.access_lost {
        rows.push((
            t!("Access"),
            t!(
                "LOST to the extended-update repository: {reason}",
                reason = lost.reason
            ),
        ));
    }
    rows.push((t!("Repositories"), s.switch.description.clone()));
    rows.push((t!("Do now"), l.advice.clone()));
    alma_ext_i18n::label_rows(&rows)
}
