//! When to check in next: pure functions of the settings, the time and a
//! random number generator.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// First retry after a failure; doubled per consecutive failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(60);

/// The schedule's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub splay: Duration,
    pub max_backoff: Duration,
    /// What the server asked for; used only when longer than `interval`.
    pub server_interval: Option<Duration>,
    /// Consecutive failures.
    pub failures: u32,
}

fn rand_upto<R: Rng>(rng: &mut R, max: Duration) -> Duration {
    if max.is_zero() {
        Duration::ZERO
    } else {
        Duration::from_millis(rng.gen_range(0..=max.as_millis() as u64))
    }
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1))
}

impl Schedule {
    pub fn new(interval: Duration, splay: Duration, max_backoff: Duration) -> Self {
        Schedule {
            interval,
            splay,
            max_backoff,
            server_interval: None,
            failures: 0,
        }
    }

    /// The interval in force: the server may lengthen it, never shorten it.
    pub fn effective_interval(&self) -> Duration {
        match self.server_interval {
            Some(s) if s > self.interval => s.min(Duration::from_secs(30 * 86400)),
            _ => self.interval,
        }
    }

    /// At start: when the last check-in is recent, keep its rhythm; else
    /// soon, but splayed, so a fleet rebooted at once does not check in at
    /// once.
    pub fn first<R: Rng>(
        &self,
        now: DateTime<Utc>,
        last: Option<DateTime<Utc>>,
        rng: &mut R,
    ) -> DateTime<Utc> {
        let soon = add(
            now,
            rand_upto(rng, self.splay.min(Duration::from_secs(300))),
        );
        match last {
            Some(l) if l <= now => {
                let due = add(l, self.effective_interval());
                if due > now {
                    add(due, rand_upto(rng, self.splay))
                } else {
                    soon
                }
            }
            _ => soon,
        }
    }

    /// After a successful check-in.
    pub fn after_success<R: Rng>(&mut self, now: DateTime<Utc>, rng: &mut R) -> DateTime<Utc> {
        self.failures = 0;
        add(now, self.effective_interval() + rand_upto(rng, self.splay))
    }

    /// The backoff ceiling for the current failure count (before jitter).
    pub fn backoff(&self) -> Duration {
        let exp = self.failures.saturating_sub(1).min(20);
        BACKOFF_BASE
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .min(self.effective_interval())
    }

    /// After a failed check-in: exponential backoff, capped, with "equal
    /// jitter" (half fixed, half random) so retries of a fleet spread out.
    pub fn after_failure<R: Rng>(&mut self, now: DateTime<Utc>, rng: &mut R) -> DateTime<Utc> {
        self.failures = self.failures.saturating_add(1);
        let b = self.backoff();
        add(now, b / 2 + rand_upto(rng, b / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn success_within_interval_and_splay() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut s = Schedule::new(
            Duration::from_secs(14400),
            Duration::from_secs(1800),
            Duration::from_secs(3600),
        );
        for _ in 0..1000 {
            let n = s.after_success(t0(), &mut rng);
            let d = (n - t0()).num_seconds();
            assert!((14400..=16200).contains(&d), "{d}");
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut s = Schedule::new(
            Duration::from_secs(14400),
            Duration::ZERO,
            Duration::from_secs(3600),
        );
        let mut ceilings = vec![];
        for _ in 0..10 {
            let n = s.after_failure(t0(), &mut rng);
            let b = s.backoff();
            let d = (n - t0()).to_std().unwrap();
            assert!(d >= b / 2 && d <= b);
            ceilings.push(b.as_secs());
        }
        assert_eq!(
            ceilings,
            vec![60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]
        );
        s.after_success(t0(), &mut rng);
        assert_eq!(s.failures, 0);
    }

    #[test]
    fn server_can_only_lengthen() {
        let mut s = Schedule::new(
            Duration::from_secs(14400),
            Duration::ZERO,
            Duration::from_secs(3600),
        );
        s.server_interval = Some(Duration::from_secs(60));
        assert_eq!(s.effective_interval(), Duration::from_secs(14400));
        s.server_interval = Some(Duration::from_secs(86400));
        assert_eq!(s.effective_interval(), Duration::from_secs(86400));
    }

    #[test]
    fn first_keeps_rhythm() {
        let mut rng = StdRng::seed_from_u64(3);
        let s = Schedule::new(
            Duration::from_secs(14400),
            Duration::ZERO,
            Duration::from_secs(3600),
        );
        let last = t0() - chrono::Duration::hours(1);
        assert_eq!(
            s.first(t0(), Some(last), &mut rng),
            t0() + chrono::Duration::hours(3)
        );
        let last = t0() - chrono::Duration::hours(5);
        assert_eq!(s.first(t0(), Some(last), &mut rng), t0());
    }
}
