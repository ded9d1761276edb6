//! `/alerts`: what needs someone's attention: machines silent for longer
//! than the check-in interval allows, clones, failed switches, contracts
//! that end within 90 days, and contracts whose machines need more
//! licences than were bought.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use maud::html;

use super::pages::{internal, kind_text, machine_table, report_for, status_key, visible_contracts};
use super::{page, Session};
use crate::admin;
use crate::api::Shared;
use crate::store::{MachineQuery, MachineSort};

/// A machine is silent when its last check-in is older than this many
/// check-in intervals (one missed check-in is not yet an alert).
pub const SILENT_INTERVALS: i64 = 3;
/// Contracts ending within this many days are listed.
pub const EXPIRING_DAYS: i64 = 90;
/// Rows per machine list.
pub const ALERT_ROWS: i64 = 200;

pub async fn alerts(State(s): State<Shared>, session: Session) -> Response {
    let lang = session.lang;
    let store = &s.store;
    let today = admin::today();
    let interval = i64::try_from(s.settings.checkin_interval_secs).unwrap_or(i64::MAX / 4);
    let silent_secs = interval.saturating_mul(SILENT_INTERVALS);
    let base = MachineQuery {
        visible: session.visible().map(<[String]>::to_vec),
        limit: ALERT_ROWS,
        ..MachineQuery::default()
    };
    let silent = MachineQuery {
        states: Some(vec!["active".into()]),
        silent_before: Some(Utc::now().timestamp() - silent_secs),
        sort: MachineSort::LastCheckin,
        ..base.clone()
    };
    let clones = MachineQuery {
        states: Some(vec!["clone".into()]),
        ..base.clone()
    };
    let failed = MachineQuery {
        states: Some(vec!["active".into(), "clone".into()]),
        switch_in: Some(vec!["failed".into(), "interrupted".into()]),
        ..base
    };
    let lists = tokio::try_join!(
        store.query_machines(&silent),
        store.query_machines(&clones),
        store.query_machines(&failed),
        async {
            admin::lifecycle_table(store)
                .await
                .map_err(anyhow::Error::from)
        },
        async {
            report_for(store, &session)
                .await
                .map_err(anyhow::Error::from)
        },
    );
    let ((silent, n_silent), (clones, n_clones), (failed, n_failed), table, report) = match lists {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let contracts = match visible_contracts(store, &session).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let horizon = today + chrono::Days::new(EXPIRING_DAYS as u64);
    let expiring: Vec<_> = contracts
        .iter()
        .filter(|v| v.contract.revoked_at.is_none())
        .filter(|v| {
            NaiveDate::parse_from_str(&v.contract.ends, "%Y-%m-%d")
                .is_ok_and(|e| e >= today && e <= horizon)
        })
        .collect();
    let under: Vec<_> = report
        .contracts
        .iter()
        .filter(|c| c.over_deployed)
        .collect();
    let hours = silent_secs as f64 / 3600.0;
    let body = html! {
        h2 { (lang.t("alert_silent")) " (" span id="silent-count" { (n_silent) } ")" }
        p { (lang.t("alert_silent_rule")) " " (format!("{hours:.0}")) " " (lang.t("hours")) }
        (machine_table(lang, "silent", &silent, &table))
        h2 { (lang.t("alert_clones")) " (" span id="clones-count" { (n_clones) } ")" }
        (machine_table(lang, "clones", &clones, &table))
        h2 { (lang.t("alert_failed")) " (" span id="failed-count" { (n_failed) } ")" }
        (machine_table(lang, "failed-switches", &failed, &table))
        h2 { (lang.t("alert_expiring")) " (" span id="expiring-count" { (expiring.len()) } ")" }
        table id="expiring" {
            thead { tr {
                th { (lang.t("contract")) } th { (lang.t("customer")) } th { (lang.t("product")) }
                th { (lang.t("ends")) } th { (lang.t("days_left")) } th { (lang.t("status")) }
            } }
            tbody {
                @for v in &expiring {
                    @let c = &v.contract;
                    tr {
                        td { (c.id) } td { (c.customer) } td { (kind_text(lang, &c.product)) } td { (c.ends) }
                        td.num { (NaiveDate::parse_from_str(&c.ends, "%Y-%m-%d").map(|e| (e - today).num_days()).unwrap_or(0)) }
                        td { (lang.t(status_key(v.status))) }
                    }
                }
            }
        }
        h2 { (lang.t("alert_under")) " (" span id="under-count" { (under.len()) } ")" }
        table id="under-licensed" {
            thead { tr {
                th { (lang.t("contract")) } th { (lang.t("customer")) } th { (lang.t("product")) }
                th { (lang.t("bought")) } th { (lang.t("needed")) } th { (lang.t("shortfall")) }
            } }
            tbody {
                @for c in &under {
                    tr {
                        td { (c.contract) } td { (c.customer) } td { (kind_text(lang, &c.product)) }
                        td.num { (c.bought) } td.num { (c.needed) } td.num.over { (c.needed.saturating_sub(c.bought)) }
                    }
                }
            }
        }
    };
    page(lang, Some(&session), lang.t("alerts"), body).into_response()
}
