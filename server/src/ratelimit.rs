//! Per-machine check-in rate limit: a token bucket per machine, kept in
//! this process's memory. With N replicas behind a load balancer that
//! spreads one machine's requests, a machine gets at most N times the
//! budget: the limit exists to stop a runaway agent from flooding the
//! server, not to meter, so per-replica is enough (docs/server.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    /// Check-ins allowed in a burst.
    burst: f64,
    /// Tokens regained per second.
    per_sec: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `burst` check-ins at once, then one per `every_secs` seconds.
    /// `every_secs == 0` turns the limit off.
    pub fn new(burst: u32, every_secs: f64) -> Self {
        RateLimiter {
            burst: burst.max(1) as f64,
            per_sec: if every_secs <= 0.0 {
                f64::INFINITY
            } else {
                1.0 / every_secs
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one token for `machine`; Err(seconds to wait) when empty.
    pub fn check(&self, machine: &str) -> Result<(), u64> {
        if self.per_sec.is_infinite() {
            return Ok(());
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 1_000_000 {
            // Bounded memory: forget full buckets.
            let (burst, rate) = (self.burst, self.per_sec);
            b.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let e = b.entry(machine.to_string()).or_insert((self.burst, now));
        let tokens = (e.0 + now.duration_since(e.1).as_secs_f64() * self.per_sec).min(self.burst);
        if tokens >= 1.0 {
            *e = (tokens - 1.0, now);
            Ok(())
        } else {
            *e = (tokens, now);
            Err(((1.0 - tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// How long failed console logins count (`console::FAILURE_WINDOW`).
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed logins per key (`user:NAME`, `addr:IP`), in this process.
#[derive(Default)]
pub struct LoginFailures {
    map: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginFailures {
    /// Whether `key` has used up its failures in the current window.
    pub fn blocked(&self, key: &str, max: u32) -> bool {
        let m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.get(key)
            .is_some_and(|(n, at)| *n >= max && at.elapsed() < LOGIN_FAILURE_WINDOW)
    }

    pub fn fail(&self, key: &str) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 100_000 {
            m.retain(|_, (_, at)| at.elapsed() < LOGIN_FAILURE_WINDOW);
        }
        let e = m.entry(key.to_string()).or_insert((0, Instant::now()));
        if e.1.elapsed() >= LOGIN_FAILURE_WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    pub fn clear(&self, key: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let r = RateLimiter::new(2, 60.0);
        assert!(r.check("a").is_ok());
        assert!(r.check("a").is_ok());
        let wait = r.check("a").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(r.check("b").is_ok());
    }

    #[test]
    fn zero_is_off() {
        let r = RateLimiter::new(1, 0.0);
        for _ in 0..100 {
            assert!(r.check("a").is_ok());
        }
    }
}
