//! `alma-ext checkin`: one check-in with the entitlement server.

use alma_ext_i18n::t;
use serde::Serialize;

use crate::cli::RootArg;
use crate::client::ApiError;
use crate::cmd::register::{contract_span, runtime};
use crate::config;
use crate::daemon::{checkin, logging};
use crate::exit::{fail, CmdResult, Exit, ExitContext};
use crate::output::{print_json, Format};
use crate::registration;
use crate::root::HostRoot;
use alma_ext_i18n::Localize;

/// Arguments of `alma-ext checkin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub root: RootArg,
}

#[derive(Serialize)]
struct Output<'a> {
    machine: &'a str,
    entitlement: &'a alma_ext_proto::api::Entitlement,
    target: bool,
    checkin_interval_secs: u64,
    spooled_sent: usize,
    spooled_rejected: usize,
}

pub fn run(args: Args) -> CmdResult {
    let root = HostRoot::new(&args.root.root);
    let settings = config::load(&root).map_err(|e| crate::exit::fail_localized(Exit::Config, e))?;
    logging::init(&settings.log_level);
    let mut reg = registration::load(&root)
        .exit(Exit::Failure)?
        .ok_or_else(|| {
            fail(
                Exit::NotRegistered,
                t!("not registered: run `alma-ext register --server URL --key KEY` first"),
            )
        })?;
    let rt = runtime()?;
    let now = chrono::Utc::now();
    let facts = rt
        .block_on(checkin::collect_facts(&root, &settings, now, true))
        .map_err(|e| {
            fail(
                Exit::Failure,
                t!("collecting facts: {error}", error = format!("{e:#}")),
            )
        })?;
    let req = checkin::build_request(&root, facts, now);
    let switch = req.switch.status;
    let sent = rt
        .block_on(checkin::send(&root, &settings, &mut reg, req))
        .map_err(|e| match e {
            checkin::CheckinError::Api(a @ ApiError::Refused { .. }) => {
                // Say what it means for dnf, and what to do.
                let today = chrono::Local::now().date_naive();
                match crate::access::assess(Some(&reg), switch, today) {
                    Some(lost) => fail(
                        a.exit(),
                        t!(
                            "{error}\naccess to the extended-update repository is lost: {reason}\nwhat to do: {what_to_do}",
                            error = a.localized(),
                            reason = lost.reason,
                            what_to_do = lost.what_to_do
                        ),
                    ),
                    None => fail(a.exit(), a.localized()),
                }
            }
            checkin::CheckinError::Api(a) => {
                let spooled = if a.retryable() {
                    t!(" (the check-in is spooled and will be sent later)")
                } else {
                    ""
                };
                fail(a.exit(), format!("{}{spooled}", a.localized()))
            }
            checkin::CheckinError::Config(m) => fail(Exit::Config, m),
            checkin::CheckinError::Local(m) => fail(Exit::Failure, m),
        })?;
    let r = &sent.response;
    match args.format {
        Format::Json => print_json(&Output {
            machine: &reg.machine,
            entitlement: &r.entitlement,
            target: r.target.is_some(),
            checkin_interval_secs: r.checkin_interval_secs,
            spooled_sent: sent.backlog_sent,
            spooled_rejected: sent.rejected,
        })?,
        Format::Text => {
            let e = &r.entitlement;
            alma_ext_stdio::outln!(
                "{}",
                t!(
                    "Checked in with {server} as machine {machine}: contract {contract} {span}.",
                    server = reg.server,
                    machine = reg.machine,
                    contract = e.contract,
                    span = contract_span(e)
                )
            );
            if sent.backlog_sent > 0 {
                alma_ext_stdio::outln!(
                    "{}",
                    t!("Sent {count} spooled check-ins.", count = sent.backlog_sent)
                );
            }
            if sent.rejected > 0 {
                alma_ext_stdio::outln!(
                    "{}",
                    t!(
                        "{count} spooled check-ins were rejected by the server and moved to {dir}/rejected.",
                        count = sent.rejected,
                        dir = crate::spool::SPOOL_DIR
                    )
                );
            }
        }
    }
    Ok(Exit::Ok)
}
