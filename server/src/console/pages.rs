//! The console's pages: fleet, machine, licences, contracts. Filtering,
//! sorting and paging of the fleet happen in SQL.

use std::collections::HashMap;

use alma_ext_proto::api::SecuritySummary;
use alma_ext_proto::lifecycle::{LifecycleTable, Phase};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup};

use super::i18n::Lang;
use super::users::Role;
use super::{not_found, page, Session};
use crate::admin::{self, AdminError, MachineView};
use crate::api::Shared;
use crate::fleet::{self, LiveReport};
use crate::license::report::group_thousands;
use crate::store::{MachineQuery, MachineSort, PageMachine, Store};

/// Rows per fleet page.
pub const PAGE_SIZE: i64 = 50;

pub(super) type Params = Query<HashMap<String, String>>;

pub(super) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("console: {e:#}");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg).into_response()
}

pub(super) fn when(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub(super) fn param<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(|s| s.trim()).filter(|s| !s.is_empty())
}

const PHASES: [Phase; 6] = [
    Phase::Prerelease,
    Phase::Full,
    Phase::Security,
    Phase::Extended,
    Phase::Ended,
    Phase::None,
];
const KINDS: [&str; 6] = [
    "physical",
    "virtual",
    "hypervisor",
    "cloud",
    "container",
    "unknown",
];
/// The switch states check-ins report (`alma_ext_proto::api::SwitchStatus`).
pub(super) const SWITCH_STATES: [&str; 4] = ["community", "extended", "interrupted", "failed"];
const SORTS: [(&str, MachineSort); 7] = [
    ("hostname", MachineSort::Hostname),
    ("id", MachineSort::Id),
    ("type", MachineSort::Kind),
    ("os", MachineSort::Os),
    ("switch", MachineSort::Switch),
    ("last_checkin", MachineSort::LastCheckin),
    ("contract", MachineSort::Contract),
];

/// The store query of the fleet page's parameters (unknown values are a
/// 400 naming the parameter).
async fn machine_query(
    store: &Store,
    session: &Session,
    p: &HashMap<String, String>,
) -> Result<MachineQuery, Response> {
    let mut q = MachineQuery {
        visible: session.visible().map(<[String]>::to_vec),
        contract: param(p, "contract").map(String::from),
        search: param(p, "q").map(String::from),
        limit: PAGE_SIZE,
        ..MachineQuery::default()
    };
    if let Some(k) = param(p, "type") {
        if !KINDS.contains(&k) {
            return Err(bad_request(format!("type: unknown machine type {k:?}")));
        }
        q.kind = Some(k.to_string());
    }
    if let Some(sw) = param(p, "switch") {
        if !SWITCH_STATES.contains(&sw) {
            return Err(bad_request(format!("switch: unknown switch state {sw:?}")));
        }
        q.switch = Some(sw.to_string());
    }
    if let Some(ph) = param(p, "phase") {
        let Some(phase) = PHASES.iter().find(|x| x.as_str() == ph) else {
            return Err(bad_request(format!(
                "phase: unknown lifecycle phase {ph:?}"
            )));
        };
        let table = admin::lifecycle_table(store).await.map_err(internal)?;
        let today = admin::today();
        q.majors = Some(
            table
                .releases
                .iter()
                .filter(|r| r.phase_on(today) == *phase)
                .map(|r| i64::from(r.major))
                .collect(),
        );
    }
    if let Some(d) = param(p, "silent") {
        let days: i64 = d
            .parse()
            .ok()
            .filter(|d| (0..=36500).contains(d))
            .ok_or_else(|| bad_request(format!("silent: {d:?} is not a number of days")))?;
        q.silent_before = Some(Utc::now().timestamp() - days * 86400);
    }
    if let Some(s) = param(p, "sort") {
        q.sort = SORTS
            .iter()
            .find(|(k, _)| *k == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| bad_request(format!("sort: unknown column {s:?}")))?;
    }
    q.descending = param(p, "dir") == Some("desc");
    if let Some(n) = param(p, "page") {
        let n: i64 = n
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad_request(format!("page: {n:?} is not a page number")))?;
        q.offset = (n - 1).saturating_mul(PAGE_SIZE);
    }
    Ok(q)
}

pub(super) fn type_label(lang: Lang, m: &PageMachine) -> String {
    let base = if m.hypervisor_host {
        lang.t("hypervisor")
    } else {
        kind_text(lang, &m.machine.kind)
    };
    match (&m.machine.cloud, &m.cloud_unit) {
        (Some(c), Some(u)) => format!("{base} / {c} {u}"),
        (Some(c), None) => format!("{base} / {c}"),
        _ => base.to_string(),
    }
}

pub(super) fn kind_text(lang: Lang, k: &str) -> &'static str {
    match k {
        "physical" => lang.t("physical"),
        "virtual" => lang.t("virtual"),
        "container" => lang.t("container"),
        "platform" => lang.t("platform"),
        _ => lang.t("unknown"),
    }
}

/// A machine's registration state (the stored word when unknown).
pub(super) fn state_text(lang: Lang, s: &str) -> String {
    known_text(lang, &["active", "clone", "unregistered", "retired"], s)
}

/// The text of `s` when it is one of `known`, else `s` itself.
fn known_text(lang: Lang, known: &[&'static str], s: &str) -> String {
    known
        .iter()
        .find(|k| **k == s)
        .map_or_else(|| s.to_string(), |k| lang.t(k).to_string())
}

pub(super) fn phase_text(lang: Lang, p: Phase) -> &'static str {
    lang.t(p.as_str())
}

pub(super) fn switch_text(lang: Lang, s: Option<&str>) -> String {
    match s {
        // "extended" is also a lifecycle phase: the switch state's text is "switched".
        Some("extended") => lang.t("switched").to_string(),
        Some(s) => known_text(lang, &SWITCH_STATES, s),
        None => "-".into(),
    }
}

/// Pending advisories: the total, then Critical and Important.
fn pending_text(s: &SecuritySummary) -> String {
    let p = &s.pending;
    let total = p.critical + p.important + p.moderate + p.low;
    format!(
        "{total} (Critical {}, Important {})",
        p.critical, p.important
    )
}

/// Installed packages the extended-update repository carries, of all
/// installed (`-` when no target was known).
fn coverage_text(s: &SecuritySummary) -> String {
    match s.extended {
        Some(e) if s.installed > 0 => format!(
            "{e} / {} ({}%)",
            s.installed,
            u64::from(e) * 100 / u64::from(s.installed)
        ),
        Some(e) => format!("{e} / {}", s.installed),
        None => "-".into(),
    }
}

/// A link to the fleet page with `p` changed by `set`.
fn link(p: &HashMap<String, String>, set: &[(&str, String)]) -> String {
    let mut kv: Vec<(String, String)> = p
        .iter()
        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k) && k.as_str() != "lang")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kv.extend(set.iter().map(|(k, v)| (k.to_string(), v.clone())));
    kv.sort();
    format!(
        "/machines?{}",
        serde_urlencoded::to_string(&kv).unwrap_or_default()
    )
}

/// The query of `p`, its rows (all of them with `every_page`), how many
/// match, and the lifecycle table.
async fn fleet_rows(
    store: &Store,
    session: &Session,
    p: &HashMap<String, String>,
    every_page: bool,
) -> Result<(MachineQuery, Vec<PageMachine>, i64, LifecycleTable), Response> {
    let mut q = machine_query(store, session, p).await?;
    if every_page {
        q.limit = i64::from(i32::MAX);
        q.offset = 0;
    }
    let (rows, total) = store.query_machines(&q).await.map_err(internal)?;
    let table = admin::lifecycle_table(store).await.map_err(internal)?;
    Ok((q, rows, total, table))
}

pub async fn machines(State(s): State<Shared>, session: Session, Query(p): Params) -> Response {
    let lang = session.lang;
    let (q, rows, total, table) = match fleet_rows(&s.store, &session, &p, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ids: Vec<String> = rows.iter().map(|r| r.machine.id.clone()).collect();
    let security: HashMap<String, SecuritySummary> = match s.store.security_of(&ids).await {
        Ok(v) => v
            .into_iter()
            .filter_map(|(id, j)| Some((id, serde_json::from_str(&j).ok()?)))
            .collect(),
        Err(e) => return internal(e),
    };
    let today = admin::today();
    let page_no = q.offset / PAGE_SIZE + 1;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let sel = |k: &str, v: &str| param(&p, k) == Some(v);
    let csv = format!(
        "/machines.csv?{}",
        serde_urlencoded::to_string(
            p.iter()
                .filter(|(k, _)| !["page", "lang"].contains(&k.as_str()))
                .collect::<Vec<_>>()
        )
        .unwrap_or_default()
    );
    let body = html! {
        form.filters method="get" action="/machines" {
            input type="search" name="q" id="q" placeholder=(lang.t("search")) value=[param(&p, "q")];
            label { (lang.t("contract")) " " input type="text" name="contract" id="contract" size="14" value=[param(&p, "contract")]; }
            label { (lang.t("type")) " " select name="type" id="type" {
                option value="" { (lang.t("all")) }
                @for k in KINDS { option value=(k) selected[sel("type", k)] { (match k { "hypervisor" | "cloud" => lang.t(k), k => kind_text(lang, k) }) } }
            } }
            label { (lang.t("phase")) " " select name="phase" id="phase" {
                option value="" { (lang.t("all")) }
                @for ph in PHASES { option value=(ph.as_str()) selected[sel("phase", ph.as_str())] { (phase_text(lang, ph)) } }
            } }
            label { (lang.t("switch")) " " select name="switch" id="switch" {
                option value="" { (lang.t("all")) }
                @for sw in SWITCH_STATES { option value=(sw) selected[sel("switch", sw)] { (switch_text(lang, Some(sw))) } }
            } }
            label { (lang.t("silent_days")) " " input type="number" min="0" name="silent" id="silent" size="4" value=[param(&p, "silent")]; }
            @if let Some(sort) = param(&p, "sort") { input type="hidden" name="sort" value=(sort); }
            @if let Some(dir) = param(&p, "dir") { input type="hidden" name="dir" value=(dir); }
            button type="submit" id="filter" { (lang.t("filter")) }
            a href=(csv) id="csv" { (lang.t("csv")) }
        }
        p id="count" { (total) " " (lang.t("machines_count")) }
        table id="machines" {
            thead { tr {
                @for (key, col) in [("hostname", "hostname"), ("id", "machine_id"), ("type", "type"), ("os", "os")] {
                    th { a href=(link(&p, &[("sort", key.to_string()), ("dir", if sel("sort", key) && !sel("dir", "desc") { "desc".into() } else { "asc".into() }), ("page", "1".into())])) { (lang.t(col)) } }
                }
                th { (lang.t("phase")) }
                @for (key, col) in [("switch", "switch"), ("last_checkin", "last_checkin"), ("contract", "contract")] {
                    th { a href=(link(&p, &[("sort", key.to_string()), ("dir", if sel("sort", key) && !sel("dir", "desc") { "desc".into() } else { "asc".into() }), ("page", "1".into())])) { (lang.t(col)) } }
                }
                th { (lang.t("system")) }
                th { (lang.t("state")) }
                @if !security.is_empty() {
                    th { (lang.t("pending_advisories")) }
                    th { (lang.t("extended_coverage")) }
                }
            } }
            tbody {
                @for r in &rows {
                    @let m = &r.machine;
                    tr {
                        td { (m.hostname.as_deref().unwrap_or("-")) }
                        td { a href={ "/machines/" (m.id) } { (m.id) } }
                        td { (type_label(lang, r)) }
                        td { (m.os.as_deref().unwrap_or("-")) }
                        td { (phase_text(lang, admin::machine_phase(&table, m.os_family.as_deref(), m.os_major, today))) }
                        td { (switch_text(lang, m.switch.as_deref())) }
                        td { (when(m.last_checkin)) }
                        td { (m.contract) }
                        td { (m.system.as_deref().unwrap_or("-")) }
                        td { (state_text(lang, &m.state)) }
                        @if !security.is_empty() {
                            @let sec = security.get(&m.id);
                            td.pending { (sec.map_or_else(|| "-".into(), pending_text)) }
                            td.coverage { (sec.map_or_else(|| "-".into(), coverage_text)) }
                        }
                    }
                }
            }
        }
        p.pager {
            @if page_no > 1 { a href=(link(&p, &[("page", (page_no - 1).to_string())])) id="prev" { (lang.t("prev")) } " " }
            (page_no) " / " (pages)
            @if page_no < pages { " " a href=(link(&p, &[("page", (page_no + 1).to_string())])) id="next" { (lang.t("next")) } }
        }
    };
    page(lang, Some(&session), lang.t("machines"), body).into_response()
}

/// A compact table of machines (the readiness and alert lists).
pub(super) fn machine_table(
    lang: Lang,
    id: &str,
    rows: &[PageMachine],
    table: &LifecycleTable,
) -> Markup {
    let today = admin::today();
    html! {
        table id=(id) {
            thead { tr {
                th { (lang.t("hostname")) } th { (lang.t("machine_id")) } th { (lang.t("contract")) } th { (lang.t("os")) }
                th { (lang.t("phase")) } th { (lang.t("switch")) } th { (lang.t("last_checkin")) } th { (lang.t("state")) }
            } }
            tbody {
                @for r in rows {
                    @let m = &r.machine;
                    tr {
                        td { (m.hostname.as_deref().unwrap_or("-")) }
                        td { a href={ "/machines/" (m.id) } { (m.id) } }
                        td { (m.contract) }
                        td { (m.os.as_deref().unwrap_or("-")) }
                        td { (phase_text(lang, admin::machine_phase(table, m.os_family.as_deref(), m.os_major, today))) }
                        td { (switch_text(lang, m.switch.as_deref())) }
                        td { (when(m.last_checkin)) }
                        td { (state_text(lang, &m.state)) }
                    }
                }
            }
        }
    }
}

fn csv_response(name: &str, text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response()
}

/// The filtered machines (every page) as `machine list --format csv`.
pub async fn machines_csv(State(s): State<Shared>, session: Session, Query(p): Params) -> Response {
    let (_, rows, _, table) = match fleet_rows(&s.store, &session, &p, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let today = admin::today();
    let views: Vec<MachineView> = rows
        .into_iter()
        .map(|r| admin::machine_view(r.machine, &table, today))
        .collect();
    csv_response("machines.csv", crate::render::machines_csv(&views))
}

/// The live report this session may see: the whole fleet for admin and
/// staff; a customer's own contracts' machines only.
pub(super) async fn report_for(store: &Store, session: &Session) -> fleet::Result<LiveReport> {
    let opts = fleet::Options::default();
    let Some(visible) = session.visible() else {
        return fleet::live_report(store, &opts).await;
    };
    let mut data = fleet::load(store, &opts).await?;
    data.machines.retain(|m| visible.contains(&m.contract_id));
    let contracts: Vec<_> = store
        .list_contracts()
        .await?
        .into_iter()
        .filter(|c| visible.contains(&c.id))
        .collect();
    fleet::report_from(&data, &contracts, &opts)
}

fn yen(n: u64) -> String {
    format!("{} 円", group_thousands(n))
}

pub async fn licenses(State(s): State<Shared>, session: Session) -> Response {
    let lang = session.lang;
    let r = match report_for(&s.store, &session).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let cost = |sys: &crate::license::report::SystemReport, c| {
        sys.options
            .iter()
            .find(|o| o.choice == c)
            .map(|o| yen(o.yearly_cost_jpy))
            .unwrap_or_else(|| "-".into())
    };
    use crate::license::report::LicenceOption;
    let body = html! {
        h2 { (lang.t("per_system")) }
        table id="systems" {
            thead { tr {
                th { (lang.t("system")) } th { (lang.t("kind")) } th { (lang.t("hosts")) } th { (lang.t("guests")) }
                th { (lang.t("chosen")) } th { (lang.t("physical")) } th { (lang.t("virtual")) } th { (lang.t("platform")) }
                th { (lang.t("per_unit_cost")) } th { (lang.t("platform_cost")) } th { (lang.t("yearly_cost")) }
            } }
            tbody {
                @for sys in &r.fleet.systems {
                    @let o = sys.chosen_option();
                    tr {
                        td { (sys.id) } td { (sys.kind.as_str()) } td.num { (sys.hosts) } td.num { (sys.guests) }
                        td { (sys.chosen.as_str()) } td.num { (o.physical) } td.num { (o.r#virtual) } td.num { (o.platform) }
                        td.num { (cost(sys, LicenceOption::PerUnit)) } td.num { (cost(sys, LicenceOption::Platform)) }
                        td.num { (yen(o.yearly_cost_jpy)) }
                    }
                }
                tr {
                    th colspan="5" { (lang.t("total")) }
                    td.num { (r.fleet.total.physical) } td.num { (r.fleet.total.r#virtual) } td.num { (r.fleet.total.platform) }
                    td {} td {} td.num id="total" { (yen(r.fleet.total.yearly_cost_jpy)) }
                }
            }
        }
        p { a href="/licenses.csv" id="licenses-csv" { (lang.t("csv")) } }
        h2 { (lang.t("per_contract")) }
        table id="usage" {
            thead { tr {
                th { (lang.t("contract")) } th { (lang.t("customer")) } th { (lang.t("product")) } th { (lang.t("status")) }
                th { (lang.t("machines_registered")) } th { (lang.t("bought")) } th { (lang.t("needed")) } th { (lang.t("deployment")) }
            } }
            tbody {
                @for c in &r.contracts {
                    tr {
                        td { (c.contract) } td { (c.customer) } td { (kind_text(lang, &c.product)) }
                        td { (lang.t(status_key(c.status))) }
                        td.num { (c.machines) } td.num { (c.bought) } td.num { (c.needed) }
                        @if c.over_deployed { td.over { (lang.t("over_deployed")) } }
                        @else if c.needed < c.bought { td { (lang.t("under_deployed")) } }
                        @else { td { (lang.t("ok")) } }
                    }
                }
            }
        }
    };
    page(lang, Some(&session), lang.t("licenses"), body).into_response()
}

/// The rows of `licenses --format csv`, for this session's machines.
pub async fn licenses_csv(State(s): State<Shared>, session: Session) -> Response {
    match report_for(&s.store, &session).await {
        Ok(r) => csv_response("licenses.csv", crate::engine_link::live_csv(&r)),
        Err(e) => internal(e),
    }
}

pub(super) fn status_key(s: alma_ext_proto::api::EntitlementStatus) -> &'static str {
    match serde_json::to_value(s)
        .ok()
        .as_ref()
        .and_then(|v| v.as_str())
    {
        Some("active") => "active",
        Some("pending") => "pending",
        Some("expired") => "expired",
        Some("revoked") => "revoked",
        _ => "unknown",
    }
}

fn contracts_page(
    session: &Session,
    list: &[admin::ContractView],
    new_key: Option<(&str, &str)>,
) -> Markup {
    let lang = session.lang;
    let admin = session.role == Role::Admin;
    let body = html! {
        @if let Some((id, key)) = new_key {
            p { (lang.t("new_key")) " " (id) }
            p.key id="new-key" { (key) }
        }
        table id="contracts" {
            thead { tr {
                th { (lang.t("contract")) } th { (lang.t("customer")) } th { (lang.t("product")) } th { (lang.t("quantity")) }
                th { (lang.t("starts")) } th { (lang.t("ends")) } th { (lang.t("status")) } th { (lang.t("machines_registered")) }
                @if admin { th {} }
            } }
            tbody {
                @for v in list {
                    @let c = &v.contract;
                    tr {
                        td { (c.id) } td { (c.customer) } td { (kind_text(lang, &c.product)) } td.num { (c.quantity) }
                        td { (c.starts) } td { (c.ends) } td { (lang.t(status_key(v.status))) } td.num { (c.machines) }
                        @if admin { td {
                            @for action in ["extend", "rekey", "revoke"] {
                                form.inline method="post" action={ "/contracts/" (c.id) "/" (action) } {
                                    input type="hidden" name="csrf_token" value=(session.csrf_token);
                                    button type="submit" { (lang.t(action)) }
                                }
                            }
                        } }
                    }
                }
            }
        }
        @if admin {
            h2 { (lang.t("create")) }
            form method="post" action="/contracts" id="create-contract" {
                input type="hidden" name="csrf_token" value=(session.csrf_token);
                label { (lang.t("customer")) " " input type="text" name="customer" required; } " "
                label { (lang.t("product")) " " select name="product" {
                    @for p in admin::PRODUCTS { option value=(p) { (kind_text(lang, p)) } }
                } } " "
                label { (lang.t("quantity")) " " input type="number" name="quantity" min="1" value="1" required; } " "
                label { (lang.t("starts")) " " input type="date" name="starts"; } " "
                button type="submit" { (lang.t("create")) }
            }
        }
    };
    page(lang, Some(session), lang.t("contracts"), body)
}

pub(super) async fn visible_contracts(
    store: &Store,
    session: &Session,
) -> Result<Vec<admin::ContractView>, Response> {
    let all = admin::list_contracts(store).await.map_err(internal)?;
    Ok(all
        .into_iter()
        .filter(|v| session.sees_contract(&v.contract.id))
        .collect())
}

pub async fn contracts(State(s): State<Shared>, session: Session) -> Response {
    match visible_contracts(&s.store, &session).await {
        Ok(list) => contracts_page(&session, &list, None).into_response(),
        Err(r) => r,
    }
}

fn admin_error(lang: Lang, e: AdminError) -> Response {
    match e {
        AdminError::Invalid(i) => bad_request(format!("{}: {}", i.field, i.why)),
        AdminError::NoContract(_) | AdminError::NotFound(_) => not_found(lang),
        AdminError::Store(e) => internal(e),
    }
}

pub async fn create_contract(State(s): State<Shared>, session: Session, body: Bytes) -> Response {
    if session.role != Role::Admin {
        return not_found(session.lang);
    }
    let f = match session.form(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let quantity = match f.get("quantity").and_then(|q| q.trim().parse::<i64>().ok()) {
        Some(q) => q,
        None => return bad_request("quantity: not a number".into()),
    };
    let starts = match f.get("starts").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => return bad_request(format!("starts: {d:?} is not a date (YYYY-MM-DD)")),
        },
    };
    let new = admin::NewContract {
        customer: f.get("customer").cloned().unwrap_or_default(),
        product: f.get("product").cloned().unwrap_or_default(),
        quantity,
        starts,
        platform_updates: false,
    };
    let created = match admin::create_contract(&s.store, &new).await {
        Ok(c) => c,
        Err(e) => return admin_error(session.lang, e),
    };
    show_new_key(&s.store, &session, &created).await
}

async fn show_new_key(store: &Store, session: &Session, c: &admin::CreatedContract) -> Response {
    match visible_contracts(store, session).await {
        Ok(list) => {
            let mut r = contracts_page(session, &list, Some((&c.contract.id, &c.activation_key)))
                .into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            r
        }
        Err(r) => r,
    }
}

pub async fn contract_action(
    State(s): State<Shared>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if session.role != Role::Admin {
        return not_found(session.lang);
    }
    if let Err(r) = session.form(&body) {
        return *r;
    }
    let lang = session.lang;
    match action.as_str() {
        "extend" => {
            let ext = admin::Extension {
                until: None,
                years: Some(1),
            };
            match admin::extend_contract(&s.store, &id, &ext).await {
                Ok(_) => Redirect::to("/contracts").into_response(),
                Err(e) => admin_error(lang, e),
            }
        }
        "revoke" => match admin::revoke_contract(&s.store, &id).await {
            Ok(_) => Redirect::to("/contracts").into_response(),
            Err(e) => admin_error(lang, e),
        },
        "rekey" => match admin::rekey_contract(&s.store, &id).await {
            Ok(c) => show_new_key(&s.store, &session, &c).await,
            Err(e) => admin_error(lang, e),
        },
        _ => not_found(lang),
    }
}
