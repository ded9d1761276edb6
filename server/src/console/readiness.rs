//! `/readiness`: per major version, the days to the start of the extended
//! support period, machines switched / not yet / failed, a chart of the
//! machines by lifecycle phase month by month (an SVG drawn here), and the
//! machines that are not ready.

use std::collections::BTreeMap;

use alma_ext_proto::lifecycle::{LifecycleTable, Phase};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate};
use maud::{html, Markup};

use super::i18n::Lang;
use super::pages::{internal, machine_table, phase_text};
use super::{page, Session};
use crate::admin;
use crate::api::Shared;
use crate::store::{MachineQuery, MachineSort};

/// Majors the page always shows (those with machines are added).
pub const MAJORS: [i64; 2] = [8, 9];
/// Rows of the not-ready list.
pub const NOT_READY_ROWS: i64 = 200;

/// One major version's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MajorReadiness {
    pub major: i64,
    /// First day of the extended period (None: not in the lifecycle table).
    pub extended_start: Option<NaiveDate>,
    pub phase: Phase,
    pub switched: i64,
    pub not_yet: i64,
    /// Failed or interrupted switches.
    pub failed: i64,
}

impl MajorReadiness {
    pub fn machines(&self) -> i64 {
        self.switched + self.not_yet + self.failed
    }
}

/// Readiness per major from `(major, switch state, machines)` counts.
pub fn by_major(
    table: &LifecycleTable,
    counts: &[(i64, Option<String>, i64)],
    today: NaiveDate,
) -> Vec<MajorReadiness> {
    let mut majors: BTreeMap<i64, MajorReadiness> = BTreeMap::new();
    let release = |m: i64| u32::try_from(m).ok().and_then(|m| table.release(m));
    let entry = |m: i64| -> MajorReadiness {
        MajorReadiness {
            major: m,
            extended_start: release(m).map(|r| r.extended_start()),
            phase: release(m).map_or(Phase::None, |r| r.phase_on(today)),
            switched: 0,
            not_yet: 0,
            failed: 0,
        }
    };
    for m in MAJORS {
        majors.insert(m, entry(m));
    }
    for (m, status, n) in counts {
        let r = majors.entry(*m).or_insert_with(|| entry(*m));
        match status.as_deref() {
            Some("extended") => r.switched += n,
            Some("failed") | Some("interrupted") => r.failed += n,
            _ => r.not_yet += n,
        }
    }
    majors.into_values().collect()
}

/// The first day of each month from `start`'s month, `months` of them.
fn months_from(start: NaiveDate, months: u32) -> Vec<NaiveDate> {
    let first = start.with_day(1).unwrap_or(start);
    (0..months)
        .filter_map(|i| first.checked_add_months(chrono::Months::new(i)))
        .collect()
}

const CHART_PHASES: [(Phase, &str); 6] = [
    (Phase::Prerelease, "#b0bec5"),
    (Phase::Full, "#2e7d32"),
    (Phase::Security, "#f9a825"),
    (Phase::Extended, "#1565c0"),
    (Phase::Ended, "#b71c1c"),
    (Phase::None, "#757575"),
];

/// Months the chart spans: to two years past the last extended start
/// among the majors with machines, 2 to 15 years.
fn chart_months(majors: &[MajorReadiness], today: NaiveDate) -> u32 {
    let last = majors
        .iter()
        .filter(|m| m.machines() > 0)
        .filter_map(|m| m.extended_start)
        .max()
        .unwrap_or(today);
    let months = (last.year() - today.year()) * 12 + last.month() as i32 - today.month() as i32;
    (months + 25).clamp(24, 180) as u32
}

/// Machines per phase on each month's first day: `(month, [(phase, n)])`.
pub fn projection(
    table: &LifecycleTable,
    majors: &[MajorReadiness],
    months: &[NaiveDate],
) -> Vec<(NaiveDate, Vec<(Phase, i64)>)> {
    months
        .iter()
        .map(|&day| {
            let mut per: Vec<(Phase, i64)> = CHART_PHASES.iter().map(|(p, _)| (*p, 0)).collect();
            for m in majors {
                let phase = u32::try_from(m.major)
                    .ok()
                    .and_then(|x| table.release(x))
                    .map_or(Phase::None, |r| r.phase_on(day));
                if let Some(slot) = per.iter_mut().find(|(p, _)| *p == phase) {
                    slot.1 += m.machines();
                }
            }
            (day, per)
        })
        .collect()
}

/// The non-empty segments of one stacked bar: (phase, from, to).
fn stack(per: &[(Phase, i64)]) -> Vec<(Phase, i64, i64)> {
    let mut acc = 0;
    per.iter()
        .filter(|(_, n)| *n > 0)
        .map(|&(p, n)| {
            acc += n;
            (p, acc - n, acc)
        })
        .collect()
}

/// The stacked-bar chart of `projection`, as inline SVG.
fn chart(lang: Lang, proj: &[(NaiveDate, Vec<(Phase, i64)>)]) -> Markup {
    const W: f64 = 960.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 60.0;
    const BOTTOM: f64 = 40.0;
    const TOP: f64 = 30.0;
    let plot_w = W - LEFT - 10.0;
    let plot_h = H - TOP - BOTTOM;
    let max = proj
        .iter()
        .map(|(_, per)| per.iter().map(|(_, n)| n).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar = plot_w / proj.len().max(1) as f64;
    let y = |n: i64| TOP + plot_h - plot_h * n as f64 / max as f64;
    let color = |p: Phase| {
        CHART_PHASES
            .iter()
            .find(|(x, _)| *x == p)
            .map_or("#000", |(_, c)| c)
    };
    html! {
        svg id="phase-chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="phase-chart-title"
            width=(W) height=(H) viewBox={ "0 0 " (W) " " (H) } {
            title id="phase-chart-title" { (lang.t("chart_title")) }
            line x1=(LEFT) y1=(TOP + plot_h) x2=(W - 10.0) y2=(TOP + plot_h) stroke="#333" {}
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(TOP + plot_h) stroke="#333" {}
            text x=(LEFT - 6.0) y=(TOP + plot_h) text-anchor="end" font-size="12" { "0" }
            text x=(LEFT - 6.0) y=(TOP + 10.0) text-anchor="end" font-size="12" { (max) }
            @for (i, (day, per)) in proj.iter().enumerate() {
                @let x = LEFT + bar * i as f64;
                g {
                    title { (day.format("%Y-%m")) ": " @for (p, n) in per.iter().filter(|(_, n)| *n > 0) { (phase_text(lang, *p)) " " (n) "; " } }
                    @for (p, lo, hi) in stack(per) {
                        rect x=(format!("{x:.1}")) y=(format!("{:.1}", y(hi))) width=(format!("{:.2}", (bar - 0.5).max(0.5)))
                            height=(format!("{:.1}", y(lo) - y(hi))) fill=(color(p)) data-phase=(p.as_str()) {}
                    }
                }
                @if day.month() == 1 || (i == 0 && day.month() <= 9) {
                    text x=(format!("{x:.1}")) y=(TOP + plot_h + 16.0) font-size="11" { (day.year()) }
                }
            }
            @for (i, (p, c)) in CHART_PHASES.iter().enumerate() {
                rect x=(LEFT + 150.0 * i as f64) y="6" width="12" height="12" fill=(c) {}
                text x=(LEFT + 16.0 + 150.0 * i as f64) y="16" font-size="12" { (phase_text(lang, *p)) }
            }
        }
    }
}

fn days_to(lang: Lang, start: Option<NaiveDate>, today: NaiveDate) -> String {
    match start {
        None => "-".into(),
        Some(s) => {
            let d = (s - today).num_days();
            if d > 0 {
                format!("{d} {} ({s})", lang.t("days"))
            } else {
                format!("{} ({s})", lang.t("extended_started"))
            }
        }
    }
}

pub async fn readiness(State(s): State<Shared>, session: Session) -> Response {
    let lang = session.lang;
    let store = &s.store;
    let today = admin::today();
    let table = match admin::lifecycle_table(store).await {
        Ok(t) => t,
        Err(e) => return internal(e),
    };
    let counts = match store.readiness_counts(session.visible()).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let majors = by_major(&table, &counts, today);
    let q = MachineQuery {
        visible: session.visible().map(<[String]>::to_vec),
        states: Some(vec!["active".into(), "clone".into()]),
        almalinux: true,
        not_switched: true,
        majors: Some(majors.iter().map(|m| m.major).collect()),
        sort: MachineSort::Os,
        limit: NOT_READY_ROWS,
        ..MachineQuery::default()
    };
    let (rows, not_ready) = match store.query_machines(&q).await {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let months = months_from(today, chart_months(&majors, today));
    let proj = projection(&table, &majors, &months);
    let (first, last) = (
        months.first().copied().unwrap_or(today),
        months.last().copied().unwrap_or(today),
    );
    let body = html! {
        table id="readiness" {
            thead { tr {
                th { (lang.t("major")) } th { (lang.t("phase")) } th { (lang.t("extended_start")) }
                th { (lang.t("machines_registered")) } th { (lang.t("switched")) } th { (lang.t("not_yet")) } th { (lang.t("failed")) }
            } }
            tbody {
                @for m in &majors {
                    tr id={ "major-" (m.major) } {
                        td { "AlmaLinux " (m.major) }
                        td { (phase_text(lang, m.phase)) }
                        td.days { (days_to(lang, m.extended_start, today)) }
                        td.num.total { (m.machines()) }
                        td.num.switched { (m.switched) }
                        td.num.not-yet { (m.not_yet) }
                        td.num.failed { (m.failed) }
                    }
                }
            }
        }
        figure {
            (chart(lang, &proj))
            figcaption id="chart-caption" {
                (lang.t("chart_caption_1")) " (" (first.format("%Y-%m")) " – " (last.format("%Y-%m")) ")" (lang.t("sentence_end"))
                (lang.t("chart_caption_2"))
            }
        }
        h2 { (lang.t("not_ready")) }
        p id="not-ready-count" { (not_ready) " " (lang.t("machines_count")) }
        (machine_table(lang, "not-ready", &rows, &table))
        @if not_ready > rows.len() as i64 {
            p { (lang.t("more_rows")) " " (not_ready - rows.len() as i64) }
        }
    };
    page(lang, Some(&session), lang.t("readiness"), body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn counts_split_by_switch_state() {
        let t = LifecycleTable::builtin();
        let counts = vec![
            (8, None, 2),
            (8, Some("community".into()), 1),
            (8, Some("extended".into()), 3),
            (8, Some("interrupted".into()), 1),
            (9, Some("failed".into()), 4),
            (10, Some("community".into()), 5),
        ];
        let r = by_major(&t, &counts, ymd(2026, 11, 30));
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].switched, r[0].not_yet, r[0].failed), (3, 3, 1));
        assert_eq!(r[0].extended_start, Some(ymd(2029, 6, 1)));
        assert_eq!((r[1].major, r[1].failed, r[1].machines()), (9, 4, 4));
        assert_eq!((r[2].major, r[2].not_yet), (10, 5));
    }

    #[test]
    fn projection_moves_machines_through_phases() {
        let t = LifecycleTable::builtin();
        let majors = by_major(&t, &[(8, None, 2), (9, None, 1)], ymd(2026, 11, 30));
        let months = months_from(ymd(2029, 5, 17), 2);
        assert_eq!(months, vec![ymd(2029, 5, 1), ymd(2029, 6, 1)]);
        let p = projection(&t, &majors, &months);
        let n = |i: usize, ph: Phase| p[i].1.iter().find(|(x, _)| *x == ph).unwrap().1;
        assert_eq!((n(0, Phase::Security), n(0, Phase::Extended)), (3, 0));
        assert_eq!((n(1, Phase::Security), n(1, Phase::Extended)), (1, 2));
    }
}
