//! `alma-ext register`: register this machine with the entitlement server
//! and keep the per-machine credential in a 0600 file.

use alma_ext_i18n::{t, Localize};
use std::path::PathBuf;

use alma_ext_proto::api::RegisterRequest;
use serde::Serialize;

use crate::cli::RootArg;
use crate::client::{Client, ClientOptions};
use crate::config::{self, check_server_url, normalize_server_url};
use crate::daemon::{checkin, logging};
use crate::exit::{fail, CmdResult, Exit, ExitContext};
use crate::output::{print_json, Format};
use crate::registration::{self, Registration, Secret};
use crate::root::HostRoot;

/// Arguments of `alma-ext register`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The entitlement server, e.g. https://ext.example.com (https:// is
    /// assumed; http:// only to 127.0.0.1, [::1] or localhost). Default:
    /// `server.url` of /etc/alma-ext/agent.toml.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The activation key of the contract (from the vendor). Also read from
    /// $ALMA_EXT_ACTIVATION_KEY, which keeps it out of `ps`.
    #[arg(
        long,
        value_name = "KEY",
        env = "ALMA_EXT_ACTIVATION_KEY",
        hide_env_values = true
    )]
    pub key: String,
    /// The admin's label for the platform or cluster this machine belongs
    /// to (e.g. the vCenter or Proxmox cluster name). Default:
    /// `system.label` of the config.
    #[arg(long, value_name = "NAME")]
    pub system: Option<String>,
    /// Trust the CA certificates in this PEM file for the server (besides
    /// the built-in roots). Default: `server.ca_file` of the config.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Register again even when this machine is already registered.
    #[arg(long)]
    pub force: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub root: RootArg,
}

#[derive(Serialize)]
struct Output<'a> {
    server: &'a str,
    machine: &'a str,
    system: Option<&'a str>,
    entitlement: &'a alma_ext_proto::api::Entitlement,
    checkin_interval_secs: u64,
    /// True when the server sent the switch target: `alma-ext switch` can
    /// run now.
    target: bool,
}

/// The entitlement status as a word for people.
pub(crate) fn status_word(s: alma_ext_proto::api::EntitlementStatus) -> &'static str {
    use alma_ext_proto::api::EntitlementStatus::*;
    match s {
        Active => t!("active"),
        Pending => t!("pending"),
        Expired => t!("expired"),
        Revoked => t!("revoked"),
    }
}

/// The contract's status with the date that matters: "pending from
/// 2027-01-01", "active until 2027-12-31", "expired on ...".
pub(crate) fn contract_span(e: &alma_ext_proto::api::Entitlement) -> String {
    use alma_ext_proto::api::EntitlementStatus::*;
    match e.status {
        Pending => t!(
            "pending from {starts} (until {ends})",
            starts = e.starts,
            ends = e.ends
        ),
        Active => t!("active until {date}", date = e.ends),
        Expired => t!("ended on {date}", date = e.ends),
        Revoked => t!("revoked").to_string(),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, crate::exit::Failed> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .exit(Exit::Failure)
}

pub fn run(args: Args) -> CmdResult {
    let root = HostRoot::new(&args.root.root);
    let mut settings =
        config::load(&root).map_err(|e| crate::exit::fail_localized(Exit::Config, e))?;
    logging::init(&settings.log_level);
    let server = args
        .server
        .clone()
        .or_else(|| settings.server_url.clone())
        .ok_or_else(|| {
            fail(
                Exit::Usage,
                t!("no server: give --server URL (or set server.url in /etc/alma-ext/agent.toml)"),
            )
        })?;
    let server = normalize_server_url(&server);
    check_server_url(&server).map_err(|m| {
        crate::exit::fail_localized(
            Exit::Usage,
            alma_ext_i18n::msg!("--server: {problem}", problem = m),
        )
    })?;
    if args.key.trim().is_empty() {
        return Err(fail(Exit::Usage, t!("--key: the activation key is empty")));
    }
    let existing = registration::load(&root).exit(Exit::Failure)?;
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
    if let Some(r) = &existing {
        let clone = r.machine_id.is_some() && r.machine_id != facts.machine.machine_id
            || r.uuid.is_some() && r.uuid != facts.machine.uuid;
        if !args.force && !clone {
            return Err(fail(
                Exit::Failure,
                t!(
                    "already registered with {server} as machine {machine}; use --force to register again",
                    server = r.server,
                    machine = r.machine
                ),
            ));
        }
    }
    let mut opts = ClientOptions::from_settings(&settings, &root, &server);
    if let Some(ca) = &args.ca_file {
        opts.ca_file = Some(ca.clone());
        settings.ca_file = None;
    }
    let client = Client::new(&opts).exit(Exit::Config)?;
    let system = args.system.clone().or(settings.system.clone());
    let req = RegisterRequest {
        activation_key: args.key.trim().to_string(),
        system: system.clone(),
        facts: facts.clone(),
    };
    let resp = rt
        .block_on(client.register(&req))
        .map_err(|e| crate::exit::fail_localized(e.exit(), e))?;
    let reg = Registration {
        server: server.clone(),
        machine: resp.machine.clone(),
        system: system.clone(),
        entitlement: Some(resp.entitlement.clone()),
        // What `alma-ext switch` needs, so it works right away.
        target: resp.target.clone(),
        last_checkin: Some(now),
        credential: Some(Secret::new(resp.credential.clone())),
        registered_at: Some(now),
        machine_id: facts.machine.machine_id.clone(),
        uuid: facts.machine.uuid.clone(),
        checkin_interval_secs: Some(resp.checkin_interval_secs),
        last_error: None,
        last_error_at: None,
        refusal: None,
        reported_switch: None,
    };
    // Only a stored credential makes a registration: when it cannot be
    // kept, withdraw the machine on the server so that no machine counts
    // there that this one cannot check in as.
    if let Err(e) = registration::save(&root, &reg) {
        let withdrawn = rt.block_on(client.unregister(&Secret::new(resp.credential.clone())));
        let what = match withdrawn {
            Ok(()) => t!("the registration was withdrawn on the server").to_string(),
            Err(w) => t!(
                "withdrawing it on the server failed too ({error}); an admin can see machine {machine} with `alma-ext-server inventory`",
                error = w.localized(),
                machine = resp.machine
            ),
        };
        return Err(fail(
            Exit::Failure,
            t!(
                "registered as machine {machine}, but the credential could not be stored ({error}); {what}",
                machine = resp.machine,
                error = format!("{e:#}"),
                what = what
            ),
        ));
    }
    // A --ca-file given here must serve later check-ins too.
    if let Some(ca) = &args.ca_file {
        let abs = std::fs::canonicalize(ca).unwrap_or(ca.clone());
        let dropin = format!(
            "# Written by `alma-ext register --ca-file`.\n[server]\nca_file = {}\n",
            toml::Value::String(abs.to_string_lossy().into_owned())
        );
        let path = root
            .resolve("/etc/alma-ext/agent.d/00-register-ca.toml")
            .exit(Exit::Failure)?;
        if root.is_system() || abs.starts_with(root.path()) {
            let host_path = abs
                .strip_prefix(root.path())
                .map(|p| PathBuf::from("/").join(p))
                .unwrap_or(abs);
            let dropin = format!(
                "# Written by `alma-ext register --ca-file`.\n[server]\nca_file = {}\n",
                toml::Value::String(host_path.to_string_lossy().into_owned())
            );
            registration::write_atomic(&path, dropin.as_bytes(), 0o644).exit(Exit::Failure)?;
        } else {
            // The CA lives outside the root: copy it in, so the root is self-contained.
            let dest = "/etc/alma-ext/ca.pem";
            let pem = std::fs::read(ca).exit(Exit::Config)?;
            let dest_path = root.resolve(dest).exit(Exit::Failure)?;
            registration::write_atomic(&dest_path, &pem, 0o644).exit(Exit::Failure)?;
            let _ = dropin;
            let dropin = format!(
                "# Written by `alma-ext register --ca-file`.\n[server]\nca_file = \"{dest}\"\n"
            );
            registration::write_atomic(&path, dropin.as_bytes(), 0o644).exit(Exit::Failure)?;
        }
    }
    match args.format {
        Format::Json => print_json(&Output {
            server: &server,
            machine: &resp.machine,
            system: system.as_deref(),
            entitlement: &resp.entitlement,
            checkin_interval_secs: resp.checkin_interval_secs,
            target: resp.target.is_some(),
        })?,
        Format::Text => {
            let e = &resp.entitlement;
            alma_ext_stdio::outln!(
                "{}",
                t!(
                    "Registered with {server} as machine {machine}.",
                    server = server,
                    machine = resp.machine
                )
            );
            alma_ext_stdio::outln!(
                "{}",
                t!(
                    "Contract {contract} ({customer}), product {product}, {status} from {starts} to {ends}.",
                    contract = e.contract,
                    customer = e.customer,
                    product = e.product,
                    status = status_word(e.status),
                    starts = e.starts,
                    ends = e.ends
                )
            );
            if resp.target.is_some() {
                alma_ext_stdio::outln!("{}", t!("The extended-update repository is ready: `alma-ext switch --dry-run` shows the switch, `alma-ext switch` makes it."));
            }
        }
    }
    Ok(Exit::Ok)
}
