//! `alma-ext agent`: the long-running agent. One tokio current-thread
//! runtime, one task: a loop that sleeps until the next thing to do (a
//! check-in, a look at the counted facts, a watchdog ping, a signal).
//!
//! - Check-ins every `checkin.interval` plus a random splay; after a
//!   failure, exponential backoff with jitter, capped. The server may
//!   lengthen the interval.
//! - Every `checkin.facts_poll`, the counted facts are compared with the
//!   last check-in's: a change (host, type, switch, more running guests)
//!   checks in at once.
//! - Daily end-of-life warning; the automatic switch when configured.
//! - systemd: READY=1 when started, WATCHDOG=1 at half of WATCHDOG_USEC,
//!   STATUS= with the last and next check-in.
//! - Control: reload (SIGHUP; an invalid new config keeps the old one) and
//!   stop (SIGTERM; a check-in in flight gets a few seconds, then is
//!   abandoned: it is already spooled).

pub mod checkin;
pub mod clock;
pub mod eol;
pub mod logging;
pub mod notify;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use alma_ext_proto::api::{CheckinRequest, SwitchStatus};
use alma_ext_proto::facts::MachineType;
use chrono::{DateTime, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::mpsc;

use crate::client::ApiError;
use crate::config::{self, Settings};
use crate::registration::{self, Registration};
use crate::root::HostRoot;

pub use clock::{Clock, ManualClock, SystemClock};
pub use notify::Notifier;
pub use schedule::Schedule;

/// What the daemon is told from outside (signals, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Re-read the configuration (SIGHUP).
    Reload,
    /// Stop (SIGTERM, SIGINT).
    Stop,
}

/// What the daemon did, for tests and the status line.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    },
    /// A check-in went out; `next` is the next one planned.
    CheckinOk {
        at: DateTime<Utc>,
        next: DateTime<Utc>,
        backlog_sent: usize,
    },
    /// A check-in failed; `retryable` failures are spooled and retried
    /// after a backoff.
    CheckinFailed {
        at: DateTime<Utc>,
        next: DateTime<Utc>,
        error: String,
        retryable: bool,
    },
    /// The counted facts changed: check in now.
    FactsChanged {
        at: DateTime<Utc>,
        what: String,
    },
    /// A reload: `error` is set when the new config was invalid and the old
    /// one was kept.
    Reloaded {
        error: Option<String>,
    },
    /// The daily end-of-life warning.
    Warning {
        at: DateTime<Utc>,
        message: String,
    },
    /// The automatic switch ran.
    Switched {
        at: DateTime<Utc>,
        error: Option<String>,
    },
    Stopped,
}

/// How the daemon is wired: clock, notifier, event sink, randomness.
pub struct Options {
    pub clock: Arc<dyn Clock>,
    pub notifier: Notifier,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Fixed seed for reproducible splay and jitter (tests).
    pub seed: Option<u64>,
    /// Longest run of the automatic switch before it is killed.
    pub switch_timeout: Duration,
    /// The `alma-ext` binary the automatic switch runs (default: this
    /// executable; tests that embed the daemon point it at the real one).
    pub switch_exe: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clock: Arc::new(SystemClock),
            notifier: Notifier::from_env(),
            events: None,
            seed: None,
            switch_timeout: Duration::from_secs(3600),
            switch_exe: None,
        }
    }
}

/// The facts whose change makes the agent check in at once. Pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub kind: MachineType,
    pub hypervisor: Option<String>,
    pub cloud: Option<String>,
    pub uuid: Option<String>,
    pub machine_id: Option<String>,
    pub hyperv_host: Option<String>,
    pub cluster: Option<String>,
    pub major: Option<u32>,
    pub switch: SwitchStatus,
    pub running_guests: usize,
}

impl Counted {
    pub fn of(req: &CheckinRequest) -> Counted {
        let f = &req.facts;
        Counted {
            kind: f.machine.kind,
            hypervisor: f.machine.hypervisor.clone(),
            cloud: f.machine.cloud.clone(),
            uuid: f.machine.uuid.clone(),
            machine_id: f.machine.machine_id.clone(),
            hyperv_host: f.hyperv_host.clone(),
            cluster: f.cluster.as_ref().map(|c| c.name.clone()),
            major: f.os.major,
            switch: req.switch.status,
            running_guests: crate::guests::running_count(&f.guests),
        }
    }

    /// What changed from `old` that the count cares about, if anything.
    /// Fewer running guests does not count: the peak is what matters.
    pub fn change_from(&self, old: &Counted) -> Option<String> {
        let mut what = Vec::new();
        if self.kind != old.kind || self.hypervisor != old.hypervisor || self.cloud != old.cloud {
            what.push("machine type");
        }
        if self.uuid != old.uuid || self.machine_id != old.machine_id {
            what.push("machine identity");
        }
        if self.hyperv_host != old.hyperv_host {
            what.push("host (migrated)");
        }
        if self.cluster != old.cluster {
            what.push("cluster");
        }
        if self.major != old.major {
            what.push("major version");
        }
        if self.switch != old.switch {
            what.push("switch state");
        }
        if self.running_guests > old.running_guests {
            what.push("running guests");
        }
        (!what.is_empty()).then(|| what.join(", "))
    }
}

struct State {
    root: HostRoot,
    settings: Settings,
    opts: Options,
    rng: StdRng,
    sched: Schedule,
    due: Option<DateTime<Utc>>,
    next_poll: DateTime<Utc>,
    counted: Option<Counted>,
    last_warning: Option<NaiveDate>,
    last_switch_attempt: Option<NaiveDate>,
    /// The switch state already seen to differ from what the server was
    /// last told, so a failing check-in does not bypass the backoff.
    switch_noticed: Option<SwitchStatus>,
    status_line: String,
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
}

impl State {
    /// False when the event receiver is gone (a test is done).
    fn emit(&self, e: Event) -> bool {
        match &self.opts.events {
            Some(tx) => tx.send(e).is_ok(),
            None => true,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.opts.clock.now()
    }

    fn registration(&self) -> Option<Registration> {
        match registration::load(&self.root) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e:#}");
                None
            }
        }
    }

    fn apply_settings(&mut self) {
        self.sched.interval = self.settings.interval;
        self.sched.splay = self.settings.splay;
        self.sched.max_backoff = self.settings.max_backoff;
    }

    fn reload(&mut self) -> Event {
        self.opts.notifier.send("RELOADING=1");
        let ev = match config::load(&self.root) {
            Ok(s) => {
                tracing::info!("configuration reloaded");
                self.settings = s;
                self.apply_settings();
                Event::Reloaded { error: None }
            }
            Err(e) => {
                tracing::error!("invalid configuration, keeping the old one: {e}");
                Event::Reloaded {
                    error: Some(e.to_string()),
                }
            }
        };
        self.opts
            .notifier
            .send(&format!("READY=1\nSTATUS={}", self.status_line));
        ev
    }

    fn set_status(&mut self, s: String) {
        self.opts.notifier.status(&s);
        self.status_line = s;
    }

    /// Look at the counted facts, the end of life and the auto switch.
    async fn poll(&mut self, now: DateTime<Utc>) -> bool {
        let reg = self.registration();
        if reg.is_some() && self.due.is_none() {
            // Registered since we started.
            self.due = Some(now);
        }
        if reg.is_none() {
            self.due = None;
        }
        let Ok(mut facts) = crate::facts::collect(&self.root) else {
            return true;
        };
        checkin::fill_local(&self.root, &mut facts);
        let req = checkin::build_request(&self.root, facts, now);
        let counted = Counted::of(&req);
        let mut changed = match (&self.counted, &reg) {
            (Some(old), Some(_)) => counted.change_from(old),
            _ => None,
        };
        // The switch state against what the last acknowledged check-in
        // reported: also catches a switch made while the agent was not
        // running.
        if let Some(r) = &reg {
            let told = r.reported_switch.unwrap_or_default();
            let current = req.switch.status;
            if current != told && self.switch_noticed != Some(current) {
                self.switch_noticed = Some(current);
                if !changed
                    .as_deref()
                    .is_some_and(|w| w.contains("switch state"))
                {
                    tracing::info!(
                        "the switch state is {} but the server was last told {}",
                        switch_word(current),
                        switch_word(told)
                    );
                    changed = Some(match changed {
                        Some(w) => format!("{w}, switch state"),
                        None => "switch state".to_string(),
                    });
                }
            }
        }
        if let (Some(what), Some(_)) = (changed, &reg) {
            tracing::info!("counted facts changed ({what}): checking in now");
            self.due = Some(now);
            if !self.emit(Event::FactsChanged { at: now, what }) {
                return false;
            }
        }
        // The local day, as the admin sees it.
        let local = now.with_timezone(&chrono::Local);
        let today = local.date_naive();
        if self.last_warning != Some(today) {
            let switched = req.switch.status == SwitchStatus::Extended;
            if let Some(msg) = eol::notice(
                &checkin::lifecycle_table(&self.root),
                req.facts
                    .os
                    .major
                    .filter(|_| req.facts.os.family == "almalinux"),
                switched,
                self.settings.switch.lead_time,
                today,
            ) {
                tracing::warn!("{msg}");
                self.last_warning = Some(today);
                if !self.emit(Event::Warning {
                    at: now,
                    message: msg,
                }) {
                    return false;
                }
            }
        }
        let phase = req.lifecycle_phase.unwrap_or(alma_ext_proto::Phase::None);
        if eol::auto_switch_due(
            &self.settings.switch,
            reg.as_ref(),
            phase,
            req.switch.status,
            today,
            local.time(),
            self.last_switch_attempt,
        ) {
            self.last_switch_attempt = Some(today);
            tracing::warn!("the extended period has started: running the automatic switch");
            let r = eol::run_switch(
                self.opts.switch_exe.as_deref(),
                self.root.path(),
                self.opts.switch_timeout,
            )
            .await;
            match &r {
                Ok(()) => tracing::warn!("automatic switch done"),
                Err(e) => tracing::error!("automatic switch failed, nothing was changed: {e}"),
            }
            // The switch state changed either way: report it now.
            self.due = Some(now);
            if !self.emit(Event::Switched {
                at: now,
                error: r.err(),
            }) {
                return false;
            }
        }
        true
    }

    async fn checkin(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<checkin::Sent, (checkin::CheckinError, bool)> {
        let Some(mut reg) = self.registration() else {
            return Err((checkin::CheckinError::Local("not registered".into()), false));
        };
        let facts = checkin::collect_facts(&self.root, &self.settings, now, true)
            .await
            .map_err(|e| {
                (
                    checkin::CheckinError::Local(format!("collecting facts: {e:#}")),
                    true,
                )
            })?;
        let req = checkin::build_request(&self.root, facts, now);
        let counted = Counted::of(&req);
        tracing::info!(
            "checking in with {} as machine {} (switch state {})",
            reg.server,
            reg.machine,
            switch_word(req.switch.status)
        );
        let spool = crate::spool::Spool::new(&self.root, self.settings.spool);
        let before = spool.len();
        let r = checkin::send(&self.root, &self.settings, &mut reg, req).await;
        if r.is_err() && spool.len() < before {
            // The backlog is draining (a rate limit stopped it): retry soon,
            // not after a growing backoff.
            self.sched.failures = 0;
        }
        self.counted = Some(counted);
        r.map_err(|e| {
            let retryable = match &e {
                checkin::CheckinError::Api(a) => a.retryable(),
                checkin::CheckinError::Config(_) => true,
                checkin::CheckinError::Local(_) => true,
            };
            (e, retryable)
        })
    }
}

/// Run the daemon until `control` says stop (or closes).
pub async fn run(
    root: HostRoot,
    settings: Settings,
    opts: Options,
    mut control: mpsc::UnboundedReceiver<Control>,
) -> anyhow::Result<()> {
    let rng = match opts.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let now = opts.clock.now();
    let mut st = State {
        sched: Schedule::new(settings.interval, settings.splay, settings.max_backoff),
        next_poll: add(now, settings.facts_poll),
        root,
        settings,
        opts,
        rng,
        due: None,
        counted: None,
        last_warning: None,
        last_switch_attempt: None,
        switch_noticed: None,
        status_line: String::new(),
    };
    let reg = st.registration();
    if let Some(r) = &reg {
        st.sched.server_interval = r.checkin_interval_secs.map(Duration::from_secs);
        st.due = Some(st.sched.first(now, r.last_checkin, &mut st.rng));
    }
    let status = match (&reg, st.due) {
        (Some(_), Some(d)) => format!(
            "registered; next check-in at {}",
            d.format("%Y-%m-%d %H:%M UTC")
        ),
        _ => "not registered; run `alma-ext register`".to_string(),
    };
    tracing::info!(
        "alma-ext agent {} started on {}: {status}; counted facts looked at every {}, check-ins every {} (+ up to {} splay)",
        env!("CARGO_PKG_VERSION"),
        st.root.path().display(),
        human(st.settings.facts_poll),
        human(st.sched.interval),
        human(st.sched.splay)
    );
    st.opts.notifier.ready(&status);
    st.status_line = status;
    if !st.emit(Event::Started {
        at: now,
        next: st.due,
    }) {
        return Ok(());
    }
    // The first look at the facts (and the warning) right away.
    if !st.poll(now).await {
        return Ok(());
    }
    let mut watchdog = st.opts.notifier.watchdog_every.map(|d| {
        let mut i = tokio::time::interval(d);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    loop {
        let wake = match st.due {
            Some(d) => d.min(st.next_poll),
            None => st.next_poll,
        };
        let clock = st.opts.clock.clone();
        tokio::select! {
            _ = clock.sleep_until(wake) => {}
            c = control.recv() => match c {
                Some(Control::Reload) => {
                    let ev = st.reload();
                    if !st.emit(ev) { break; }
                    continue;
                }
                Some(Control::Stop) | None => break,
            },
            _ = tick(&mut watchdog) => {
                st.opts.notifier.watchdog();
                continue;
            }
        }
        let now = st.now();
        if now >= st.next_poll {
            st.next_poll = add(now, st.settings.facts_poll);
            if !st.poll(now).await {
                break;
            }
        }
        if st.due.is_some_and(|d| now >= d) {
            let mut stop = false;
            let notifier = st.opts.notifier.clone();
            let result = {
                let fut = st.checkin(now);
                tokio::pin!(fut);
                loop {
                    tokio::select! {
                        r = &mut fut => break Some(r),
                        c = control.recv() => match c {
                            Some(Control::Reload) => {
                                // Applied after this check-in.
                                tracing::info!("reload requested during a check-in: after it");
                            }
                            Some(Control::Stop) | None => {
                                stop = true;
                                // A few seconds to finish; the request is spooled anyway.
                                break tokio::time::timeout(Duration::from_secs(5), &mut fut).await.ok();
                            }
                        },
                        _ = tick(&mut watchdog) => notifier.watchdog(),
                    }
                }
            };
            if stop {
                if result.is_none() {
                    tracing::info!("stopping: check-in abandoned, it is spooled");
                }
                break;
            }
            let Some(result) = result else { break };
            let now = st.now();
            let ev = match result {
                Ok(sent) => {
                    st.sched.server_interval = checkin::server_interval(&sent.response);
                    let next = st.sched.after_success(now, &mut st.rng);
                    st.due = Some(next);
                    let e = &sent.response.entitlement;
                    tracing::info!(
                        "checked in: contract {} {}{}; next check-in at {}",
                        e.contract,
                        crate::cmd::register::contract_span(e),
                        if sent.response.target.is_some() {
                            ", extended-update repository available"
                        } else {
                            ""
                        },
                        next.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                    st.set_status(format!(
                        "last check-in {} ok; next at {}",
                        now.format("%Y-%m-%d %H:%M UTC"),
                        next.format("%Y-%m-%d %H:%M UTC")
                    ));
                    Event::CheckinOk {
                        at: now,
                        next,
                        backlog_sent: sent.backlog_sent,
                    }
                }
                Err((e, retryable)) => {
                    let next = if retryable {
                        st.sched.after_failure(now, &mut st.rng)
                    } else {
                        // Refused: retrying sooner will not help.
                        st.sched.failures = 0;
                        st.sched.after_success(now, &mut st.rng)
                    };
                    if matches!(
                        &e,
                        checkin::CheckinError::Api(ApiError::ReregisterRequired(_))
                    ) {
                        tracing::error!("{e}");
                    } else if retryable {
                        tracing::warn!(
                            "check-in failed, spooled; retrying in about {:?}: {e}",
                            st.sched.backoff()
                        );
                    } else {
                        tracing::error!("check-in refused: {e}");
                        let switch = alma_ext_switcher::state::load(st.root.path())
                            .map(|s| s.status)
                            .unwrap_or_default();
                        let today = now.with_timezone(&chrono::Local).date_naive();
                        if let Some(lost) = st
                            .registration()
                            .as_ref()
                            .and_then(|r| crate::access::assess(Some(r), switch, today))
                        {
                            tracing::error!(
                                "access to the extended-update repository is lost ({}): {}",
                                lost.reason,
                                lost.what_to_do
                            );
                        }
                    }
                    if st.registration().is_none() {
                        st.due = None;
                    } else {
                        st.due = Some(next);
                    }
                    st.set_status(format!(
                        "last check-in {} failed; next at {}",
                        now.format("%Y-%m-%d %H:%M UTC"),
                        next.format("%Y-%m-%d %H:%M UTC")
                    ));
                    Event::CheckinFailed {
                        at: now,
                        next,
                        error: e.to_string(),
                        retryable,
                    }
                }
            };
            if !st.emit(ev) {
                break;
            }
        }
    }
    st.opts.notifier.send("STOPPING=1");
    st.emit(Event::Stopped);
    Ok(())
}

/// `4h`, `30m`, `1h30m`, `45s`: a duration as the config writes it.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    for (v, u) in [(h, "h"), (m, "m"), (sec, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

fn switch_word(s: SwitchStatus) -> &'static str {
    match s {
        SwitchStatus::Community => "community",
        SwitchStatus::Extended => "extended",
        SwitchStatus::Interrupted => "interrupted",
        SwitchStatus::Failed => "failed",
    }
}

async fn tick(i: &mut Option<tokio::time::Interval>) {
    match i {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> Counted {
        Counted {
            kind: MachineType::Virtual,
            hypervisor: Some("kvm".into()),
            cloud: None,
            uuid: Some("u".into()),
            machine_id: Some("m".into()),
            hyperv_host: None,
            cluster: None,
            major: Some(9),
            switch: SwitchStatus::Community,
            running_guests: 3,
        }
    }

    #[test]
    fn counted_changes() {
        let old = c();
        assert_eq!(c().change_from(&old), None);
        let mut n = c();
        n.running_guests = 2;
        assert_eq!(n.change_from(&old), None);
        n.running_guests = 4;
        assert_eq!(n.change_from(&old).as_deref(), Some("running guests"));
        let mut n = c();
        n.hyperv_host = Some("hv2".into());
        assert_eq!(n.change_from(&old).as_deref(), Some("host (migrated)"));
        let mut n = c();
        n.switch = SwitchStatus::Extended;
        assert!(n.change_from(&old).is_some());
    }
}
