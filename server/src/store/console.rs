//! Console users, their contracts and login sessions (docs/console.md),
//! and the fleet page's filtered, sorted, paged machine query.

use anyhow::Result;
use sqlx::Row;

use super::machines::{machine_from_row, MachineRow};
use super::Store;

/// A console user as stored (the password hash stays in the store).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRow {
    pub name: String,
    /// admin, staff or customer.
    pub role: String,
    /// Contracts a customer user sees (empty for admin and staff).
    pub contracts: Vec<String>,
    pub created_at: i64,
}

/// A live session and who holds it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf_token: String,
    pub lang: String,
    pub expires_at: i64,
}

/// The fleet page's query: every field optional.
#[derive(Debug, Clone, Default)]
pub struct MachineQuery {
    /// Only these contracts (a customer's); None: every contract.
    pub visible: Option<Vec<String>>,
    pub contract: Option<String>,
    /// physical, virtual, container, unknown, or `hypervisor` / `cloud`.
    pub kind: Option<String>,
    pub switch: Option<String>,
    /// Majors whose lifecycle phase matches the phase filter (computed
    /// by the caller from the lifecycle table); Some(empty): none match.
    pub majors: Option<Vec<i64>>,
    /// Last check-in before this Unix time.
    pub silent_before: Option<i64>,
    /// Only machines in these registration states (active, clone, ...).
    pub states: Option<Vec<String>>,
    /// Only machines whose switch state is one of these.
    pub switch_in: Option<Vec<String>>,
    /// Only machines not switched to the extended-update repositories.
    pub not_switched: bool,
    /// Only machines whose facts say AlmaLinux (the lifecycle table's).
    pub almalinux: bool,
    /// Substring of host name or server id.
    pub search: Option<String>,
    /// Column to sort by and direction.
    pub sort: MachineSort,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Sort columns of the fleet page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MachineSort {
    #[default]
    Hostname,
    Id,
    Kind,
    Os,
    Switch,
    LastCheckin,
    Contract,
}

impl MachineSort {
    fn column(self) -> &'static str {
        match self {
            MachineSort::Hostname => "m.hostname",
            MachineSort::Id => "m.id",
            MachineSort::Kind => "m.kind",
            MachineSort::Os => "m.os_major",
            MachineSort::Switch => "m.switch_status",
            MachineSort::LastCheckin => "m.last_seen",
            MachineSort::Contract => "m.contract_id",
        }
    }
}

/// One row of the fleet page: the machine and how it is hosted.
#[derive(Debug, Clone)]
pub struct PageMachine {
    pub machine: MachineRow,
    pub hypervisor_host: bool,
    pub cloud_unit: Option<String>,
}

/// A bind value of the machine query.
enum Bind {
    Text(String),
    Int(i64),
}

impl Store {
    /// Add a user; false when the name is taken.
    pub async fn insert_user(
        &self,
        name: &str,
        role: &str,
        password_hash: &str,
        contracts: &[String],
        now: i64,
    ) -> Result<bool> {
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "INSERT INTO console_users (name, role, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(role)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            for c in contracts {
                sqlx::query(
                    "INSERT INTO console_user_contracts (user_name, contract_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(name)
                .bind(c)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows: Vec<(String, String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT name, role, created_at FROM console_users ORDER BY name"
        )
        .fetch_all(p)
        .await?);
        let links: Vec<(String, String)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT user_name, contract_id FROM console_user_contracts ORDER BY user_name, contract_id"
        )
        .fetch_all(p)
        .await?
        });
        Ok(rows
            .into_iter()
            .map(|(name, role, created_at)| UserRow {
                contracts: links
                    .iter()
                    .filter(|(u, _)| *u == name)
                    .map(|(_, c)| c.clone())
                    .collect(),
                name,
                role,
                created_at,
            })
            .collect())
    }

    /// A user and its password hash.
    pub async fn get_user(&self, name: &str) -> Result<Option<(UserRow, String)>> {
        let row: Option<(String, String, String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT name, role, password_hash, created_at FROM console_users WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(p)
        .await?);
        let Some((name, role, hash, created_at)) = row else {
            return Ok(None);
        };
        let contracts = self.user_contracts(&name).await?;
        Ok(Some((
            UserRow {
                name,
                role,
                contracts,
                created_at,
            },
            hash,
        )))
    }

    async fn user_contracts(&self, name: &str) -> Result<Vec<String>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_scalar(
            "SELECT contract_id FROM console_user_contracts WHERE user_name = $1 ORDER BY contract_id"
        )
        .bind(name)
        .fetch_all(p)
        .await?
        }))
    }

    /// Remove a user and its sessions; false when there is none.
    pub async fn delete_user(&self, name: &str) -> Result<bool> {
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            for sql in [
                "DELETE FROM console_sessions WHERE user_name = $1",
                "DELETE FROM console_user_contracts WHERE user_name = $1",
            ] {
                sqlx::query(sql).bind(name).execute(&mut *tx).await?;
            }
            let n = sqlx::query("DELETE FROM console_users WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Set a user's password hash and end its sessions; false when there
    /// is no such user.
    pub async fn set_user_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE console_users SET password_hash = $1 WHERE name = $2")
                .bind(password_hash)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM console_sessions WHERE user_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }

    /// Store a new session (by the hash of its cookie value).
    pub async fn insert_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf_token: &str,
        lang: &str,
        expires_at: i64,
    ) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "INSERT INTO console_sessions (token_hash, user_name, csrf_token, lang, expires_at) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(token_hash)
        .bind(user)
        .bind(csrf_token)
        .bind(lang)
        .bind(expires_at)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// The session of a cookie, if it is live at `now`.
    pub async fn get_session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        let row: Option<(String, String, String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT user_name, csrf_token, lang, expires_at FROM console_sessions \
             WHERE token_hash = $1 AND expires_at > $2"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await?);
        let Some((user, csrf_token, lang, expires_at)) = row else {
            return Ok(None);
        };
        let Some((user, _)) = self.get_user(&user).await? else {
            return Ok(None);
        };
        Ok(Some(SessionRow {
            user,
            csrf_token,
            lang,
            expires_at,
        }))
    }

    /// Remember the language a session chose.
    pub async fn set_session_lang(&self, token_hash: &str, lang: &str) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "UPDATE console_sessions SET lang = $1 WHERE token_hash = $2"
        )
        .bind(lang)
        .bind(token_hash)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// End a session (and every expired one).
    pub async fn delete_session(&self, token_hash: &str, now: i64) -> Result<()> {
        on_pool!(self, |p| sqlx::query(
            "DELETE FROM console_sessions WHERE token_hash = $1 OR expires_at <= $2"
        )
        .bind(token_hash)
        .bind(now)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// One page of machines matching `q`, and how many match in all.
    pub async fn query_machines(&self, q: &MachineQuery) -> Result<(Vec<PageMachine>, i64)> {
        let (filter, binds) = self.machine_filter(q, &[]);
        let count_sql = format!("SELECT COUNT(*) FROM machines m {filter}");
        let order = format!(
            "ORDER BY {} {dir}, m.id {dir}",
            q.sort.column(),
            dir = if q.descending { "DESC" } else { "ASC" }
        );
        let page_sql = self.machine_page_select(&filter, &order, q.limit, q.offset);
        on_pool!(self, |p| {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            let mut page = sqlx::query(&page_sql);
            for b in &binds {
                match b {
                    Bind::Text(s) => {
                        count = count.bind(s.clone());
                        page = page.bind(s.clone());
                    }
                    Bind::Int(i) => {
                        count = count.bind(*i);
                        page = page.bind(*i);
                    }
                }
            }
            let rows = page
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    Ok(PageMachine {
                        machine: machine_from_row(r)?,
                        hypervisor_host: r.try_get::<i64, _>("hypervisor_host")? != 0,
                        cloud_unit: r.try_get("cloud_unit")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            // A short page that is not past the end is the last one: the
            // count follows from it without a second pass over the index
            // (a substring search's count costs as much as its page).
            let n = rows.len() as i64;
            let total = if n < q.limit && (n > 0 || q.offset == 0) {
                q.offset + n
            } else {
                count.fetch_one(p).await?
            };
            Ok((rows, total))
        })
    }

    /// The `WHERE` clause of `q` and `extra` on `machines m` (empty for no
    /// condition: SQLite counts a whole table from its b-tree only without
    /// one) and its bind values.
    fn machine_filter(&self, q: &MachineQuery, extra: &[&str]) -> (String, Vec<Bind>) {
        let mut conds: Vec<String> = extra.iter().map(|c| c.to_string()).collect();
        let mut binds: Vec<Bind> = Vec::new();
        let push = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if let Some(v) = &q.visible {
            if v.is_empty() {
                conds.push("1 = 0".into());
            } else {
                let ps: Vec<String> = v
                    .iter()
                    .map(|c| push(&mut binds, Bind::Text(c.clone())))
                    .collect();
                conds.push(format!("m.contract_id IN ({})", ps.join(", ")));
            }
        }
        if let Some(c) = &q.contract {
            let p = push(&mut binds, Bind::Text(c.clone()));
            conds.push(format!("m.contract_id = {p}"));
        }
        match q.kind.as_deref() {
            None => {}
            Some("hypervisor") => conds.push("m.hypervisor_host = 1".into()),
            Some("cloud") => conds.push("m.cloud_provider IS NOT NULL".into()),
            Some(k) => {
                let p = push(&mut binds, Bind::Text(k.to_string()));
                conds.push(format!("m.kind = {p}"));
            }
        }
        if let Some(s) = &q.switch {
            let p = push(&mut binds, Bind::Text(s.clone()));
            conds.push(format!("m.switch_status = {p}"));
        }
        if let Some(majors) = &q.majors {
            if majors.is_empty() {
                conds.push("1 = 0".into());
            } else {
                let ps: Vec<String> = majors
                    .iter()
                    .map(|m| push(&mut binds, Bind::Int(*m)))
                    .collect();
                conds.push(format!("m.os_major IN ({})", ps.join(", ")));
            }
        }
        for (list, col) in [(&q.states, "m.state"), (&q.switch_in, "m.switch_status")] {
            if let Some(v) = list {
                let ps: Vec<String> = v
                    .iter()
                    .map(|x| push(&mut binds, Bind::Text(x.clone())))
                    .collect();
                conds.push(if ps.is_empty() {
                    "1 = 0".into()
                } else {
                    format!("{col} IN ({})", ps.join(", "))
                });
            }
        }
        if q.not_switched {
            conds.push("(m.switch_status IS NULL OR m.switch_status <> 'extended')".into());
        }
        if q.almalinux {
            conds.push(self.almalinux_cond());
        }
        if let Some(t) = q.silent_before {
            let p = push(&mut binds, Bind::Int(t));
            conds.push(format!("m.last_seen < {p}"));
        }
        if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty()) {
            let pat = format!(
                "%{}%",
                s.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            let p = push(&mut binds, Bind::Text(pat));
            conds.push(format!(
                "(m.hostname LIKE {p} ESCAPE '\\' OR m.id LIKE {p} ESCAPE '\\' \
                 OR m.machine_id LIKE {p} ESCAPE '\\')"
            ));
        }
        if conds.is_empty() {
            return (String::new(), binds);
        }
        (format!("WHERE {}", conds.join(" AND ")), binds)
    }

    /// The condition "the machine's facts say AlmaLinux" on `machines m`.
    fn almalinux_cond(&self) -> String {
        format!(
            "EXISTS (SELECT 1 FROM machine_facts f WHERE f.machine_id = m.id AND {} = 'almalinux')",
            self.facts_field(&["os", "family"])
        )
    }

    /// Counted AlmaLinux machines (active and clones) of the `visible`
    /// contracts (None: all) by major version and switch state:
    /// (major, switch state, machines).
    pub async fn readiness_counts(
        &self,
        visible: Option<&[String]>,
    ) -> Result<Vec<(i64, Option<String>, i64)>> {
        let q = MachineQuery {
            visible: visible.map(<[String]>::to_vec),
            states: Some(vec!["active".into(), "clone".into()]),
            almalinux: true,
            ..MachineQuery::default()
        };
        let (filter, binds) = self.machine_filter(&q, &["m.os_major IS NOT NULL"]);
        let sql = format!(
            "SELECT m.os_major, m.switch_status, COUNT(*) FROM machines m {filter} \
             GROUP BY m.os_major, m.switch_status \
             ORDER BY m.os_major, m.switch_status"
        );
        on_pool!(self, |p| {
            let mut query = sqlx::query_as::<_, (i64, Option<String>, i64)>(&sql);
            for b in &binds {
                query = match b {
                    Bind::Text(s) => query.bind(s.clone()),
                    Bind::Int(i) => query.bind(*i),
                };
            }
            Ok(query.fetch_all(p).await?)
        })
    }

    /// The days among `days` on which machine `id` checked in (its
    /// presence rows; one index lookup per day).
    pub async fn checkin_days(&self, id: &str, days: &[i64]) -> Result<Vec<i64>> {
        if days.is_empty() {
            return Ok(Vec::new());
        }
        let ps: Vec<String> = (2..days.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT day FROM presence WHERE machine_id = $1 AND day IN ({}) ORDER BY day",
            ps.join(", ")
        );
        on_pool!(self, |p| {
            let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(id);
            for d in days {
                q = q.bind(*d);
            }
            Ok(q.fetch_all(p).await?)
        })
    }

    /// Machine `id`'s switch-state changes as check-ins reported them,
    /// newest first: (Unix time, state).
    pub async fn switch_history(&self, id: &str) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT at, status FROM machine_switch_history WHERE machine_id = $1 \
             ORDER BY at DESC, status LIMIT 200"
        )
        .bind(id)
        .fetch_all(p)
        .await?))
    }

    /// The latest security-status summaries (JSON text) of those of
    /// `ids` that reported one: (machine, summary).
    pub async fn security_of(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ps: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT machine_id, summary FROM machine_security WHERE machine_id IN ({})",
            ps.join(", ")
        );
        on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, (String, String)>(&sql);
            for id in ids {
                q = q.bind(id);
            }
            Ok(q.fetch_all(p).await?)
        })
    }

    /// Machine `id`'s latest security-status summary (JSON text).
    pub async fn machine_security(&self, id: &str) -> Result<Option<String>> {
        Ok(on_pool!(self, |p| sqlx::query_scalar(
            "SELECT summary FROM machine_security WHERE machine_id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }
}
