//! The check-in writer: handlers hand their writes to a task that commits
//! them in batches (group commit), and answer once their batch is durable.
//! One transaction per batch instead of per check-in is what makes
//! thousands of check-ins a second possible on SQLite (one writer at a
//! time anyway) and cheap on PostgreSQL.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{CheckinWrite, MachineAuth, Store, StoreError};

const MAX_BATCH: usize = 1024;

/// Why a queued write or lookup got no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// The writer task is gone (the server is shutting down).
    #[error("the store writer has stopped")]
    WriterStopped,
    /// The lookup task is gone (the server is shutting down).
    #[error("the credential lookup has stopped")]
    LookupStopped,
    /// The batch this request was in failed (shared by every request of
    /// the batch).
    #[error(transparent)]
    Store(Arc<StoreError>),
}

type Job = (CheckinWrite, oneshot::Sender<Result<(), QueueError>>);

/// Handle to the writer tasks.
#[derive(Clone)]
pub struct Writer {
    lanes: Vec<mpsc::Sender<Job>>,
}

impl Writer {
    /// Start `lanes` writer tasks (1 for SQLite; a few for PostgreSQL,
    /// each machine always on the same lane so its writes stay ordered).
    pub fn start(store: Store, lanes: usize, metrics: Arc<Metrics>) -> Writer {
        Writer {
            lanes: spawn_lanes(lanes, |rx| run(store.clone(), rx, metrics.clone())),
        }
    }

    /// Queue a check-in and wait until it is committed.
    pub async fn write(&self, w: CheckinWrite) -> Result<(), QueueError> {
        let lane = lane_of(&w.machine, self.lanes.len());
        let (tx, rx) = oneshot::channel();
        self.lanes[lane]
            .send((w, tx))
            .await
            .map_err(|_| QueueError::WriterStopped)?;
        rx.await.map_err(|_| QueueError::WriterStopped)?
    }
}

/// Spawn `lanes` (at least one) tasks, each `task(its queue)`; their
/// queues' senders.
fn spawn_lanes<J, F, Fut>(lanes: usize, task: F) -> Vec<mpsc::Sender<J>>
where
    F: Fn(mpsc::Receiver<J>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    (0..lanes.max(1))
        .map(|_| {
            let (tx, rx) = mpsc::channel::<J>(8192);
            tokio::spawn(task(rx));
            tx
        })
        .collect()
}

fn lane_of(machine: &str, n: usize) -> usize {
    // FNV-1a: stable and cheap.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in machine.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % n as u64) as usize
}

async fn run(store: Store, mut rx: mpsc::Receiver<Job>, metrics: Arc<Metrics>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (mut batch, replies): (Vec<CheckinWrite>, Vec<_>) = jobs.drain(..).unzip();
        // Sorted by machine so that concurrent batches (several lanes or
        // replicas) lock rows in the same order.
        batch.sort_by(|a, b| a.machine.cmp(&b.machine));
        let mut result = Ok(());
        for attempt in 0..4 {
            match store.apply_checkins(&batch).await {
                Ok(()) => {
                    result = Ok(());
                    break;
                }
                Err(e) => {
                    // Deadlocks and serialization failures between
                    // replicas are transient: the whole batch is retried.
                    tracing::warn!(attempt, "check-in batch of {} failed: {e:#}", batch.len());
                    result = Err(QueueError::Store(Arc::new(e)));
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
            }
        }
        metrics.write_batches.fetch_add(1, Ordering::Relaxed);
        metrics
            .write_batch_items
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        if result.is_err() {
            metrics.write_errors.fetch_add(1, Ordering::Relaxed);
        }
        metrics.write_outcome(result.is_ok(), chrono::Utc::now().timestamp());
        for tx in replies {
            let _ = tx.send(result.clone());
        }
    }
}

type LookupJob = (
    String,
    oneshot::Sender<Result<Option<MachineAuth>, QueueError>>,
);

/// The check-in credential lookup, batched the same way: concurrent
/// check-ins wait for one query instead of one each (on PostgreSQL a
/// round trip per check-in was the larger half of its cost).
#[derive(Clone)]
pub struct Lookup {
    lanes: Vec<mpsc::Sender<LookupJob>>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl Lookup {
    /// Start `lanes` lookup tasks (each runs one query at a time).
    pub fn start(store: Store, lanes: usize) -> Lookup {
        Lookup {
            lanes: spawn_lanes(lanes, |rx| run_lookups(store.clone(), rx)),
            next: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    /// The machine holding the credential with this hash.
    pub async fn machine_by_token(
        &self,
        token_hash: String,
    ) -> Result<Option<MachineAuth>, QueueError> {
        let lane = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        let (tx, rx) = oneshot::channel();
        self.lanes[lane]
            .send((token_hash, tx))
            .await
            .map_err(|_| QueueError::LookupStopped)?;
        rx.await.map_err(|_| QueueError::LookupStopped)?
    }
}

async fn run_lookups(store: Store, mut rx: mpsc::Receiver<LookupJob>) {
    let mut jobs: Vec<LookupJob> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut hashes: Vec<String> = jobs.iter().map(|(h, _)| h.clone()).collect();
        hashes.sort_unstable();
        hashes.dedup();
        match store.machines_by_tokens(&hashes).await {
            Ok(found) => {
                let found: HashMap<String, MachineAuth> = found.into_iter().collect();
                for (h, tx) in jobs.drain(..) {
                    let _ = tx.send(Ok(found.get(&h).cloned()));
                }
            }
            Err(e) => {
                let e = QueueError::Store(Arc::new(e));
                for (_, tx) in jobs.drain(..) {
                    let _ = tx.send(Err(e.clone()));
                }
            }
        }
    }
}
