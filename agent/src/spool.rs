//! The offline spool: check-ins that could not be sent, one JSON file each
//! under `/var/lib/alma-ext/spool/` in the root, named by sequence number so
//! they are sent in the order they were taken. Files are written atomically,
//! so the spool survives a restart or a crash; a file that does not parse is
//! moved to `spool/corrupt/` and the reason is logged.
//!
//! The spool is bounded in count and bytes. When it is full, it thins
//! itself where the entries are densest and, of two neighbours, keeps the
//! one with more running guests: the peak of concurrent guests, which is
//! what the licence count needs, survives an outage of any length.

use std::path::{Path, PathBuf};

use alma_ext_proto::api::CheckinRequest;
use chrono::{DateTime, Utc};

use crate::config::SpoolLimits;
use crate::guests::running_count;
use crate::registration::write_atomic;
use crate::root::HostRoot;

/// The spool directory, as a host path.
pub const SPOOL_DIR: &str = "/var/lib/alma-ext/spool";

/// One spooled check-in.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub seq: u64,
    pub size: u64,
    pub request: CheckinRequest,
}

/// What the thinning needs to know of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub observed_at: DateTime<Utc>,
    pub running_guests: usize,
    pub size: u64,
}

/// Which entries to drop so the rest fit `limits`. Pure. Repeatedly takes
/// the two neighbours closest in time and drops the one with fewer running
/// guests (the older one on a tie), so the series thins evenly and every
/// local peak, hence the overall peak, is kept. Returns indices, ascending.
pub fn plan_drop(items: &[Summary], limits: SpoolLimits) -> Vec<usize> {
    let mut alive: Vec<usize> = (0..items.len()).collect();
    let mut count = items.len();
    let mut bytes: u64 = items.iter().map(|s| s.size).sum();
    let mut dropped = Vec::new();
    while (count > limits.max_count || bytes > limits.max_bytes) && alive.len() > 1 {
        let mut best = 0;
        let mut best_gap = i64::MAX;
        for w in 0..alive.len() - 1 {
            let gap = (items[alive[w + 1]].observed_at - items[alive[w]].observed_at)
                .num_milliseconds()
                .abs();
            if gap < best_gap {
                best_gap = gap;
                best = w;
            }
        }
        let (a, b) = (alive[best], alive[best + 1]);
        let drop_pos = if items[b].running_guests < items[a].running_guests {
            best + 1
        } else {
            best
        };
        let d = alive.remove(drop_pos);
        count -= 1;
        bytes -= items[d].size;
        dropped.push(d);
    }
    dropped.sort_unstable();
    dropped
}

/// The spool of one host root.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
}

fn seq_of(name: &str) -> Option<u64> {
    name.strip_suffix(".json")?.parse().ok()
}

impl Spool {
    pub fn new(root: &HostRoot, limits: SpoolLimits) -> Spool {
        Spool {
            // Resolved inside the root. It fails only on a symlink loop or
            // a directory this user may not search, where the lexical path
            // fails the same way.
            dir: root
                .resolve(SPOOL_DIR)
                .unwrap_or_else(|_| root.join(SPOOL_DIR)),
            limits,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn names(&self) -> Vec<(u64, PathBuf)> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut v: Vec<(u64, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                seq_of(&name).map(|s| (s, e.path()))
            })
            .collect();
        v.sort();
        v
    }

    /// Number of spooled check-ins (files, corrupt or not).
    pub fn len(&self) -> usize {
        self.names().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Move a file to `corrupt/` (or `rejected/`) and log why.
    pub fn move_aside(&self, path: &Path, folder: &str, reason: &str) {
        let dest_dir = self.dir.join(folder);
        let _ = crate::registration::create_dirs(&dest_dir);
        let dest = dest_dir.join(path.file_name().unwrap_or_default());
        match std::fs::rename(path, &dest) {
            Ok(()) => tracing::warn!(
                "spool file {} {reason}; moved to {}",
                path.display(),
                dest.display()
            ),
            Err(e) => {
                tracing::warn!(
                    "spool file {} {reason}; cannot move it aside ({e}), removing it",
                    path.display()
                );
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// The spooled check-ins, oldest first. Corrupt files are moved aside.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for (seq, path) in self.names() {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    self.move_aside(&path, "corrupt", &format!("cannot be read ({e})"));
                    continue;
                }
            };
            match serde_json::from_slice::<CheckinRequest>(&bytes) {
                Ok(request) => out.push(Entry {
                    path,
                    seq,
                    size: bytes.len() as u64,
                    request,
                }),
                Err(e) => self.move_aside(&path, "corrupt", &format!("is corrupt ({e})")),
            }
        }
        out
    }

    /// Add a check-in at the end, then thin the spool to its limits.
    pub fn push(&self, req: &CheckinRequest) -> std::io::Result<()> {
        let next = self.names().last().map(|(s, _)| s + 1).unwrap_or(1);
        let path = self.dir.join(format!("{next:010}.json"));
        let bytes = serde_json::to_vec(req).map_err(std::io::Error::other)?;
        // 0600: facts name the machine; nothing for other users.
        write_atomic(&path, &bytes, 0o600)?;
        self.enforce_limits();
        Ok(())
    }

    fn enforce_limits(&self) {
        let entries = self.entries();
        let summaries: Vec<Summary> = entries
            .iter()
            .map(|e| Summary {
                observed_at: e.request.observed_at,
                running_guests: running_count(&e.request.facts.guests),
                size: e.size,
            })
            .collect();
        // The newest entry is the check-in being sent: never thin it away.
        let Some((newest, older)) = summaries.split_last() else {
            return;
        };
        let limits = SpoolLimits {
            max_count: self.limits.max_count.saturating_sub(1).max(1),
            max_bytes: self.limits.max_bytes.saturating_sub(newest.size),
        };
        let drop = plan_drop(older, limits);
        if !drop.is_empty() {
            tracing::info!(
                "spool full ({} check-ins): dropping {} while keeping the guest peaks",
                entries.len(),
                drop.len()
            );
        }
        for i in drop {
            let _ = std::fs::remove_file(&entries[i].path);
        }
    }

    /// Remove a sent entry.
    pub fn remove(&self, e: &Entry) {
        let _ = std::fs::remove_file(&e.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(min: i64, guests: usize) -> Summary {
        Summary {
            observed_at: DateTime::from_timestamp(min * 60, 0).unwrap(),
            running_guests: guests,
            size: 100,
        }
    }

    #[test]
    fn keeps_peak() {
        let items: Vec<Summary> = (0..10)
            .map(|i| s(i * 240, if i == 3 { 9 } else { 1 }))
            .collect();
        let drop = plan_drop(
            &items,
            SpoolLimits {
                max_count: 3,
                max_bytes: u64::MAX,
            },
        );
        assert_eq!(drop.len(), 7);
        assert!(!drop.contains(&3));
    }

    #[test]
    fn bytes_bound() {
        let items: Vec<Summary> = (0..10).map(|i| s(i * 240, 1)).collect();
        let drop = plan_drop(
            &items,
            SpoolLimits {
                max_count: 100,
                max_bytes: 450,
            },
        );
        assert_eq!(drop.len(), 6);
    }

    proptest! {
        #[test]
        fn peak_always_survives(gs in proptest::collection::vec(0usize..50, 2..60), max in 2usize..20) {
            let items: Vec<Summary> = gs.iter().enumerate().map(|(i, g)| s(i as i64 * 240, *g)).collect();
            let drop = plan_drop(&items, SpoolLimits { max_count: max, max_bytes: u64::MAX });
            let kept: Vec<&Summary> = items.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, x)| x).collect();
            prop_assert!(kept.len() <= max);
            let peak = gs.iter().max().unwrap();
            prop_assert_eq!(kept.iter().map(|x| x.running_guests).max().unwrap(), *peak);
        }
    }
}
