//! Check-ins: a batch written in a handful of statements (group commit),
//! and the presence rows that count each machine once a day.

use super::engine::{Arg, BindArgs, Rows};
use super::machines::FactColumns;
use super::{Result, Store};

/// One check-in to write.
#[derive(Debug, Clone)]
pub struct CheckinWrite {
    pub machine: String,
    pub now: i64,
    pub observed_at: i64,
    pub day: i64,
    pub columns: FactColumns,
    pub switch_status: String,
    pub agent_version: Option<String>,
    /// SHA-256 of `columns.facts_json` (and of `security_json` when the
    /// check-in carries one).
    pub facts_hash: String,
    /// The check-in's `security` summary as JSON; written with the facts.
    pub security_json: Option<String>,
    /// False when the store already holds these facts (by hash): the
    /// facts are then not sent to the database.
    pub facts_changed: bool,
    /// Set when the machine has no repository password hash yet.
    pub repo_hash: Option<String>,
    /// Some when the KVM guest list changed: (hash, guest UUIDs).
    pub guests: Option<(String, Vec<String>)>,
    /// Whether to record the day's presence (false when the machine's
    /// presence row for the day exists: the lookup's `presence_day`).
    pub record_presence: bool,
    /// `--system` label of the machine, for the presence group.
    pub system_label: Option<String>,
}

/// The machine update of a check-in; reads `v` with `UPDATE_COLS`.
/// A machine id or DMI UUID the check-in lacks keeps its stored value:
/// the identity the clone check compares against is never erased.
/// `facts_hash`: the new hash when the facts were sent; else kept while it
/// still matches what the agent reported, cleared when it does not (a
/// concurrent check-in changed the facts in between), so that the next
/// check-in sends the facts again.
const SQL_UPDATE_MACHINES: &str = "UPDATE machines SET last_seen = v.now, observed_at = v.observed_at, \
     facts_hash = CASE WHEN v.facts_sent = 1 THEN v.facts_hash \
     WHEN machines.facts_hash = v.facts_hash THEN machines.facts_hash ELSE NULL END, \
     machine_id = COALESCE(v.machine_id, machines.machine_id), \
     dmi_uuid = COALESCE(v.dmi_uuid, machines.dmi_uuid), hostname = v.hostname, kind = v.kind, \
     hypervisor = v.hypervisor, hypervisor_host = v.hypervisor_host, cloud_provider = v.cloud_provider, \
     cloud_account = v.cloud_account, cloud_unit = v.cloud_unit, cluster = v.cluster, os_major = v.os_major, \
     switch_status = v.switch_status, agent_version = v.agent_version, \
     repo_hash = COALESCE(machines.repo_hash, v.repo_hash), presence_day = v.day \
     FROM v WHERE machines.id = v.id AND machines.state = 'active'";

const UPDATE_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("now", "bigint"),
    ("observed_at", "bigint"),
    ("machine_id", "text"),
    ("dmi_uuid", "text"),
    ("hostname", "text"),
    ("kind", "text"),
    ("hypervisor", "text"),
    ("hypervisor_host", "bigint"),
    ("cloud_provider", "text"),
    ("cloud_account", "text"),
    ("cloud_unit", "text"),
    ("cluster", "text"),
    ("os_major", "bigint"),
    ("switch_status", "text"),
    ("agent_version", "text"),
    ("repo_hash", "text"),
    ("facts_hash", "text"),
    ("facts_sent", "bigint"),
    ("day", "bigint"),
];

/// A batch of check-ins laid out for the few statements that write it
/// (pure: tested without a database).
struct CheckinBatch<'a> {
    /// The latest write of each machine in the batch, by machine.
    latest: std::collections::HashMap<&'a str, &'a CheckinWrite>,
    /// Writes carrying a changed KVM guest list, in batch order.
    guests: Vec<&'a CheckinWrite>,
    /// `UPDATE_COLS` rows of the latest writes.
    updates: Rows<'a>,
    /// (id, facts) of the latest writes.
    facts: Rows<'a>,
    /// (id, summary) of the latest writes whose facts or summary changed.
    security: Rows<'a>,
    /// (day, id) of the writes that record presence.
    presence: Rows<'a>,
}

impl<'a> CheckinBatch<'a> {
    fn new(batch: &'a [CheckinWrite]) -> Self {
        // A machine twice in one batch: its last check-in wins (a row can
        // be updated once per statement).
        let mut latest = std::collections::HashMap::new();
        for w in batch {
            latest.insert(w.machine.as_str(), w);
        }
        let mut updates = Rows {
            cols: UPDATE_COLS,
            rows: Vec::new(),
        };
        let mut facts = Rows {
            cols: &[("id", "text"), ("facts", "text")],
            rows: Vec::new(),
        };
        let mut security = Rows {
            cols: &[("id", "text"), ("summary", "text")],
            rows: Vec::new(),
        };
        let mut guests = Vec::new();
        for (i, w) in batch.iter().enumerate() {
            if !std::ptr::eq(latest[w.machine.as_str()], &batch[i]) {
                continue;
            }
            if w.guests.is_some() {
                guests.push(w);
            }
            let c = &w.columns;
            if w.facts_changed {
                facts.rows.push(vec![
                    Arg::Text(Some(&w.machine)),
                    Arg::Text(Some(&c.facts_json)),
                ]);
                if let Some(j) = &w.security_json {
                    security
                        .rows
                        .push(vec![Arg::Text(Some(&w.machine)), Arg::Text(Some(j))]);
                }
            }
            updates.rows.push(vec![
                Arg::Text(Some(&w.machine)),
                Arg::Int(Some(w.now)),
                Arg::Int(Some(w.observed_at)),
                Arg::Text(c.machine_id.as_deref()),
                Arg::Text(c.dmi_uuid.as_deref()),
                Arg::Text(c.hostname.as_deref()),
                Arg::Text(Some(&c.kind)),
                Arg::Text(c.hypervisor.as_deref()),
                Arg::Int(Some(c.hypervisor_host as i64)),
                Arg::Text(c.cloud_provider.as_deref()),
                Arg::Text(c.cloud_account.as_deref()),
                Arg::Text(c.cloud_unit.as_deref()),
                Arg::Text(c.cluster.as_deref()),
                Arg::Int(c.os_major),
                Arg::Text(Some(&w.switch_status)),
                Arg::Text(w.agent_version.as_deref()),
                Arg::Text(w.repo_hash.as_deref()),
                Arg::Text(Some(&w.facts_hash)),
                Arg::Int(Some(w.facts_changed as i64)),
                Arg::Int(Some(w.day)),
            ]);
        }
        let mut seen = std::collections::HashSet::new();
        let presence = Rows {
            cols: &[("day", "bigint"), ("id", "text")],
            rows: batch
                .iter()
                .filter(|w| w.record_presence && seen.insert((w.day, w.machine.as_str())))
                .map(|w| vec![Arg::Int(Some(w.day)), Arg::Text(Some(&w.machine))])
                .collect(),
        };
        CheckinBatch {
            latest,
            guests,
            updates,
            facts,
            security,
            presence,
        }
    }

    /// Writes that carry a changed KVM guest list.
    fn guest_changes(&self) -> impl Iterator<Item = &&'a CheckinWrite> {
        self.guests.iter()
    }

    /// DMI UUIDs of the guests among `firsts` (first check-ins of the day)
    /// that have no `--system` label: their group is their KVM host.
    fn unlabelled_guest_uuids(&self, firsts: &[(String, i64)]) -> Rows<'a> {
        let mut uuids: Vec<&'a str> = firsts
            .iter()
            .filter_map(|(id, _)| self.latest.get(id.as_str()))
            .filter(|w| w.columns.kind == "virtual" && w.system_label.is_none())
            .filter_map(|w| w.columns.dmi_uuid.as_deref())
            .collect();
        uuids.sort_unstable();
        uuids.dedup();
        Rows {
            cols: &[("uuid", "text")],
            rows: uuids
                .into_iter()
                .map(|u| vec![Arg::Text(Some(u))])
                .collect(),
        }
    }

    /// Guests per (day, group) among `firsts`; `hosts`: (guest DMI UUID,
    /// KVM host machine id).
    fn group_counts(&self, firsts: &[(String, i64)], hosts: &[(String, String)]) -> Rows<'static> {
        let host_of: std::collections::HashMap<&str, &str> = hosts
            .iter()
            .map(|(u, h)| (u.as_str(), h.as_str()))
            .collect();
        let mut counts: std::collections::BTreeMap<(i64, String), i64> =
            std::collections::BTreeMap::new();
        for (id, day) in firsts {
            let Some(w) = self.latest.get(id.as_str()) else {
                continue;
            };
            if w.columns.kind != "virtual" {
                continue;
            }
            // The guest's group: its --system label, else the KVM host
            // that lists its DMI UUID.
            let grp = match &w.system_label {
                Some(l) => format!("s:{l}"),
                None => match w.columns.dmi_uuid.as_deref().and_then(|u| host_of.get(u)) {
                    Some(h) => format!("h:{h}"),
                    None => continue,
                },
            };
            *counts.entry((*day, grp)).or_default() += 1;
        }
        Rows {
            cols: &[("day", "bigint"), ("grp", "text"), ("n", "bigint")],
            rows: counts
                .into_iter()
                .map(|((day, grp), n)| {
                    vec![Arg::Int(Some(day)), Arg::Owned(grp), Arg::Int(Some(n))]
                })
                .collect(),
        }
    }
}

impl Store {
    /// Write a batch of check-ins in one transaction (group commit).
    ///
    /// A handful of statements per batch, not per check-in: each reads the
    /// batch as a table (`row_statements`). Statements cost a thread hop
    /// each on SQLite and a round trip each on PostgreSQL; per-row
    /// statements capped check-ins well below the 5,000/s target. The
    /// common batch (machines already present today, facts unchanged) is
    /// a single `UPDATE` on PostgreSQL, without BEGIN and COMMIT.
    pub async fn apply_checkins(&self, batch: &[CheckinWrite]) -> Result<()> {
        let plan = CheckinBatch::new(batch);
        let update = self.row_statements(&plan.updates, SQL_UPDATE_MACHINES);
        let facts = self.row_statements(
            &plan.facts,
            "INSERT INTO machine_facts (machine_id, facts) \
             SELECT v.id, v.facts FROM v JOIN machines m ON m.id = v.id WHERE m.state = 'active' \
             ON CONFLICT (machine_id) DO UPDATE SET facts = excluded.facts \
             WHERE machine_facts.facts <> excluded.facts",
        );
        let security = self.row_statements(
            &plan.security,
            "INSERT INTO machine_security (machine_id, summary) \
             SELECT v.id, v.summary FROM v JOIN machines m ON m.id = v.id WHERE m.state = 'active' \
             ON CONFLICT (machine_id) DO UPDATE SET summary = excluded.summary \
             WHERE machine_security.summary <> excluded.summary",
        );
        let presence = self.row_statements(
            &plan.presence,
            "INSERT INTO presence (day, machine_id) SELECT day, id FROM v WHERE true \
             ON CONFLICT DO NOTHING RETURNING machine_id, day",
        );
        if let ([(sql, args)], true, true, None) = (
            update.as_slice(),
            facts.is_empty() && security.is_empty(),
            presence.is_empty(),
            plan.guest_changes().next(),
        ) {
            // The common batch on PostgreSQL: machines already seen today
            // with unchanged facts. One statement is its own transaction;
            // BEGIN and COMMIT would be two more round trips.
            on_pool!(self, |p| sqlx::query(sql)
                .bind_args(args)
                .execute(p)
                .await
                .map(|_| ()))?;
            return Ok(());
        }
        write_tx!(self, |tx| {
            for (sql, args) in update.iter().chain(&facts).chain(&security) {
                sqlx::query(sql).bind_args(args).execute(&mut *tx).await?;
            }
            for w in plan.guest_changes() {
                let Some((hash, guests)) = &w.guests else {
                    continue;
                };
                sqlx::query("DELETE FROM host_guests WHERE host_id = $1")
                    .bind(&w.machine)
                    .execute(&mut *tx)
                    .await?;
                for g in guests {
                    sqlx::query(
                        "INSERT INTO host_guests (guest_uuid, host_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    )
                    .bind(g)
                    .bind(&w.machine)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("UPDATE machines SET guests_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(&w.machine)
                    .execute(&mut *tx)
                    .await?;
            }
            // First check-ins of the day count towards the day's guests
            // of the machine's group.
            let mut firsts: Vec<(String, i64)> = Vec::new();
            for (sql, args) in &presence {
                firsts.extend(
                    sqlx::query_as::<_, (String, i64)>(sql)
                        .bind_args(args)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            let uuids = plan.unlabelled_guest_uuids(&firsts);
            let mut hosts: Vec<(String, String)> = Vec::new();
            // The guest's KVM host, when it has no --system label.
            for (sql, args) in &self.row_statements(
                &uuids,
                "SELECT g.guest_uuid, MIN(g.host_id) FROM host_guests g JOIN v ON g.guest_uuid = v.uuid \
                 GROUP BY g.guest_uuid",
            ) {
                hosts.extend(
                    sqlx::query_as::<_, (String, String)>(sql).bind_args(args)
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            let groups = plan.group_counts(&firsts, &hosts);
            for (sql, args) in &self.row_statements(
                &groups,
                "INSERT INTO group_daily (day, grp, guests) SELECT day, grp, n FROM v WHERE true \
                 ON CONFLICT (day, grp) DO UPDATE SET guests = group_daily.guests + excluded.guests",
            ) {
                sqlx::query(sql).bind_args(args).execute(&mut *tx).await?;
            }
        })?;
        Ok(())
    }

    /// Drop presence rows older than `before_day` (they only serve to
    /// count each machine once a day; the per-group counts stay).
    pub async fn prune_presence(&self, before_day: i64) -> Result<u64> {
        Ok(on_pool!(self, |p| sqlx::query(
            "DELETE FROM presence WHERE day < $1"
        )
        .bind(before_day)
        .execute(p)
        .await?
        .rows_affected()))
    }
}
