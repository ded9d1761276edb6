//! The daemon's clock, injectable so tests run days of schedule in
//! milliseconds against a real server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Wall-clock time and sleeping until a wall-clock time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock. Sleeps in slices of at most 10 minutes, so a suspended
/// or time-jumped host catches up within one slice instead of sleeping for
/// hours on a stale monotonic deadline.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let left = t.signed_duration_since(Utc::now());
                let Ok(left) = left.to_std() else { return };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(std::time::Duration::from_secs(600))).await;
            }
        })
    }
}

/// A virtual clock for tests: sleeping jumps the time forward at once.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Move the time forward by hand.
    pub fn advance(&self, d: chrono::Duration) {
        let mut n = self.now.lock().unwrap();
        *n += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            {
                let mut n = self.now.lock().unwrap();
                if t > *n {
                    *n = t;
                }
            }
            // Let signals and other events in between, as real sleeping would.
            tokio::task::yield_now().await;
        })
    }
}
