//! Prometheus counters, written out by hand in the text format: a few
//! atomics do not justify a metrics crate.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters of one server process.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub checkins: AtomicU64,
    pub registrations: AtomicU64,
    pub clones: AtomicU64,
    pub rate_limited: AtomicU64,
    pub repo_auth_allowed: AtomicU64,
    pub repo_auth_denied: AtomicU64,
    pub write_batches: AtomicU64,
    pub write_batch_items: AtomicU64,
    pub write_errors: AtomicU64,
    /// Unix time of the last failed write to the store (a full disk, a
    /// lost database); 0 once a write succeeded since.
    write_failed_at: AtomicI64,
}

/// Seconds after a failed write during which `/healthz` reports the
/// store unhealthy without probing: real writes decide while they come.
pub const WRITE_FAILURE_HOLD_SECS: i64 = 10;

/// What `/healthz` makes of the store's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteHealth {
    /// No write failed since the last one that succeeded.
    Ok,
    /// A write failed moments ago: unhealthy.
    Failing,
    /// A write failed a while ago and none came since: probe.
    Probe(i64),
}

impl Metrics {
    /// A write to the store failed (at `now`) or succeeded.
    pub fn write_outcome(&self, ok: bool, now: i64) {
        self.write_failed_at
            .store(if ok { 0 } else { now.max(1) }, Ordering::Relaxed);
    }

    /// The store's write health at `now`.
    pub fn write_health(&self, now: i64) -> WriteHealth {
        match self.write_failed_at.load(Ordering::Relaxed) {
            0 => WriteHealth::Ok,
            t if now - t < WRITE_FAILURE_HOLD_SECS => WriteHealth::Failing,
            t => WriteHealth::Probe(t),
        }
    }

    /// A probe write succeeded: clear the failure seen at `t`, unless a
    /// newer one came meanwhile.
    pub fn probe_ok(&self, t: i64) {
        let _ = self
            .write_failed_at
            .compare_exchange(t, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((route, status)).or_default() += 1;
    }

    /// The exposition text; `machines` are gauges read from the store.
    pub fn render(&self, machines: &[(String, i64)]) -> String {
        let mut s = String::new();
        let c = |v: &AtomicU64| v.load(Ordering::Relaxed);
        s.push_str("# HELP alma_ext_http_requests_total HTTP requests by route and status.\n");
        s.push_str("# TYPE alma_ext_http_requests_total counter\n");
        for ((route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                s,
                "alma_ext_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let counters: [(&str, &str, u64); 9] = [
            (
                "alma_ext_checkins_total",
                "Check-ins accepted.",
                c(&self.checkins),
            ),
            (
                "alma_ext_registrations_total",
                "Machines registered.",
                c(&self.registrations),
            ),
            (
                "alma_ext_clones_detected_total",
                "Check-ins refused because the credential came from a clone.",
                c(&self.clones),
            ),
            (
                "alma_ext_rate_limited_total",
                "Check-ins refused by the per-machine rate limit.",
                c(&self.rate_limited),
            ),
            (
                "alma_ext_repo_auth_allowed_total",
                "Repository requests let in.",
                c(&self.repo_auth_allowed),
            ),
            (
                "alma_ext_repo_auth_denied_total",
                "Repository requests refused.",
                c(&self.repo_auth_denied),
            ),
            (
                "alma_ext_store_write_batches_total",
                "Check-in write transactions.",
                c(&self.write_batches),
            ),
            (
                "alma_ext_store_write_batch_items_total",
                "Check-ins written in those transactions.",
                c(&self.write_batch_items),
            ),
            (
                "alma_ext_store_write_errors_total",
                "Check-in write transactions that failed.",
                c(&self.write_errors),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP alma_ext_store_writes_failing 1 while writes to the store fail.\n\
             # TYPE alma_ext_store_writes_failing gauge\nalma_ext_store_writes_failing {}",
            (self.write_failed_at.load(Ordering::Relaxed) != 0) as u8
        );
        s.push_str("# HELP alma_ext_machines Machines in the store by state.\n# TYPE alma_ext_machines gauge\n");
        for (state, n) in machines {
            let _ = writeln!(s, "alma_ext_machines{{state=\"{state}\"}} {n}");
        }
        s
    }
}
