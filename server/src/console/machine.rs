//! `/machines/{id}`: one machine's fields, the facts it last reported
//! with the evidence behind each answer, its check-in days, its switch
//! state and history, and its security status.

use alma_ext_proto::api::SecuritySummary;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde_json::Value;

use super::i18n::Lang;
use super::pages::{internal, kind_text, phase_text, state_text, switch_text, when};
use super::{not_found, page, Session};
use crate::admin::{self, AdminError};
use crate::api::Shared;

/// Days of check-in history the page shows.
pub const HISTORY_DAYS: i64 = 30;

/// `(path, value)` of every scalar in `v`, depth first (arrays by index).
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&key(&i.to_string()), v, out)),
        Value::Null => {}
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

/// Consecutive days as ranges: `[(first, last)]`.
fn day_ranges(days: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == d => *last = d,
            _ => out.push((d, d)),
        }
    }
    out
}

fn day_text(day: i64) -> String {
    when(day * 86400).chars().take(10).collect()
}

/// The facts: the answers with their evidence, then every other fact.
fn facts_section(lang: Lang, facts: &Value) -> Markup {
    let evidence = facts["machine"]["evidence"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut rest = Vec::new();
    if let Value::Object(m) = facts {
        let mut m = m.clone();
        if let Some(Value::Object(machine)) = m.get_mut("machine") {
            machine.remove("evidence");
        }
        flatten("", &Value::Object(m), &mut rest);
    }
    html! {
        h3 { (lang.t("evidence")) }
        table id="evidence" {
            thead { tr { th { (lang.t("decides")) } th { (lang.t("answer")) } th { (lang.t("source")) } th { (lang.t("source_value")) } } }
            tbody {
                @for e in &evidence {
                    @let decides = e["decides"].as_str().unwrap_or("");
                    tr {
                        td { (decides) }
                        td { (answer(facts, decides)) }
                        td { code { (e["source"].as_str().unwrap_or("")) } }
                        td { (e["value"].as_str().unwrap_or("")) }
                    }
                }
            }
        }
        h3 { (lang.t("all_facts")) }
        table id="facts" {
            tbody {
                @for (k, v) in &rest { tr { th { code { (k) } } td { (v) } } }
            }
        }
    }
}

/// The machine-layer answer an evidence row decided.
fn answer(facts: &Value, decides: &str) -> String {
    match &facts["machine"][decides] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn security_section(lang: Lang, s: Option<&SecuritySummary>) -> Markup {
    let n = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    html! {
        @match s {
            None => p id="security" { (lang.t("no_security")) },
            Some(s) => table id="security" {
                tr { th { (lang.t("computed_on")) } td { (s.at) } }
                tr { th { (lang.t("installed")) } td.num { (s.installed) } }
                tr { th { (lang.t("cov_extended")) } td.num { (n(s.extended)) } }
                tr { th { (lang.t("cov_community")) } td.num { (n(s.community_only)) } }
                tr { th { (lang.t("cov_third_party")) } td.num { (n(s.third_party)) } }
                tr { th { (lang.t("cov_unavailable")) } td.num { (n(s.unavailable)) } }
                tr { th { (lang.t("pending_advisories")) } td {
                    "Critical " (s.pending.critical) ", Important " (s.pending.important)
                    ", Moderate " (s.pending.moderate) ", Low " (s.pending.low)
                } }
            },
        }
    }
}

pub async fn machine(
    State(s): State<Shared>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let lang = session.lang;
    let d = match admin::show_machine(&s.store, &id).await {
        Ok(d) if session.sees_contract(&d.view.machine.contract) => d,
        Ok(_) | Err(AdminError::NotFound(_)) => return not_found(lang),
        Err(e) => return internal(e),
    };
    let today_day = chrono::Utc::now().timestamp().div_euclid(86400);
    let window: Vec<i64> = (today_day - HISTORY_DAYS + 1..=today_day).collect();
    let store = &s.store;
    let (days, switches, security) = match tokio::try_join!(
        store.checkin_days(&id, &window),
        store.switch_history(&id),
        store.machine_security(&id),
    ) {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let security: Option<SecuritySummary> = security.and_then(|j| serde_json::from_str(&j).ok());
    let v = &d.view;
    let m = &v.machine;
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let body = html! {
        table id="machine" {
            tr { th { (lang.t("hostname")) } td { (dash(&m.hostname)) } }
            tr { th { (lang.t("machine_id")) } td { (m.id) } }
            tr { th { (lang.t("state")) } td { (state_text(lang, &m.state)) @if let Some(c) = &m.clone_of { " (" (lang.t("clone_of")) " " a href={ "/machines/" (c) } { (c) } ")" } } }
            tr { th { (lang.t("contract")) } td { (m.contract) } }
            tr { th { (lang.t("type")) } td { (kind_text(lang, &m.kind)) @if let Some(h) = &m.hypervisor { " (" (h) ")" } @if let Some(c) = &m.cloud { " / " (c) } } }
            tr { th { (lang.t("os")) } td { (dash(&m.os)) } }
            tr { th { (lang.t("phase")) } td { (phase_text(lang, v.lifecycle_phase)) } }
            tr { th { (lang.t("switch")) } td id="switch-state" { (switch_text(lang, m.switch.as_deref())) } }
            tr { th { (lang.t("system")) } td { (dash(&m.system)) } }
            tr { th { (lang.t("last_checkin")) } td { (when(m.last_checkin)) } }
            tr { th { (lang.t("history")) } td { (when(m.registered_at)) @if let Some(r) = m.retired_at { " / " (when(r)) } } }
            tr { th { (lang.t("agent")) } td { (dash(&m.agent_version)) } }
        }
        h2 { (lang.t("checkin_history")) }
        p id="checkins" {
            (lang.t("checkin_days")) ": " (days.len()) " / " (HISTORY_DAYS)
        }
        ul id="checkin-days" {
            @for (a, b) in day_ranges(&days) {
                li { (day_text(a)) @if b != a { " – " (day_text(b)) } }
            }
        }
        h2 { (lang.t("switch_history")) }
        table id="switch-history" {
            thead { tr { th { (lang.t("when")) } th { (lang.t("switch")) } } }
            tbody {
                @for (at, st) in &switches {
                    tr { td { (when(*at)) } td { (switch_text(lang, Some(st))) } }
                }
            }
        }
        h2 { (lang.t("security_status")) }
        (security_section(lang, security.as_ref()))
        h2 { (lang.t("facts")) }
        @match &d.facts {
            Some(f) => (facts_section(lang, f)),
            None => p { "-" },
        }
    };
    let title = m.hostname.clone().unwrap_or_else(|| m.id.clone());
    page(lang, Some(&session), &title, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_collapse_into_ranges() {
        assert_eq!(
            day_ranges(&[1, 2, 3, 5, 7, 8]),
            vec![(1, 3), (5, 5), (7, 8)]
        );
        assert!(day_ranges(&[]).is_empty());
    }

    #[test]
    fn facts_flatten_to_paths() {
        let mut out = Vec::new();
        flatten(
            "",
            &serde_json::json!({"a": {"b": 1, "c": [true]}, "d": null}),
            &mut out,
        );
        assert_eq!(
            out,
            vec![("a.b".into(), "1".into()), ("a.c.0".into(), "true".into())]
        );
    }
}
