//! The fleet as the live count and the reports read it.

use super::{Result, Store, StoreError};

/// One machine as the live count sees it.
#[derive(Debug, Clone)]
pub struct FleetRow {
    pub id: String,
    pub contract_id: String,
    pub state: String,
    pub system_label: Option<String>,
    pub hostname: Option<String>,
    pub dmi_uuid: Option<String>,
    pub kind: String,
    pub hypervisor: Option<String>,
    pub hypervisor_host: bool,
    pub cloud_provider: Option<String>,
    pub cloud_account: Option<String>,
    pub cloud_unit: Option<String>,
    pub cluster: Option<String>,
    pub last_seen: i64,
    pub clone_of: Option<String>,
}

/// `FleetRow` as the database packs it (a JSON array per row, in the
/// column order of `Store::fleet`).
#[derive(serde::Deserialize)]
struct FleetWire(
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
);

impl From<FleetWire> for FleetRow {
    fn from(w: FleetWire) -> FleetRow {
        FleetRow {
            id: w.0,
            contract_id: w.1,
            state: w.2,
            system_label: w.3,
            hostname: w.4,
            dmi_uuid: w.5,
            kind: w.6,
            hypervisor: w.7,
            hypervisor_host: w.8 != 0,
            cloud_provider: w.9,
            cloud_account: w.10,
            cloud_unit: w.11,
            cluster: w.12,
            last_seen: w.13,
            clone_of: w.14,
        }
    }
}

/// Fleet rows from PostgreSQL's COPY text format: a line per row, tab
/// between columns, `\N` for NULL, backslash escapes.
fn parse_copy_rows(text: &[u8]) -> Result<Vec<FleetRow>> {
    /// A field's text, unescaped; None for NULL.
    fn field(raw: &[u8]) -> Result<Option<String>, &'static str> {
        const NOT_UTF8: &str = "a field is not UTF-8";
        if raw == b"\\N" {
            return Ok(None);
        }
        if !raw.contains(&b'\\') {
            return std::str::from_utf8(raw)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| NOT_UTF8);
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            let c = raw[i];
            i += 1;
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = raw.get(i) else {
                return Err("a backslash at the end of a field");
            };
            i += 1;
            out.push(match e {
                b'b' => 8,
                b'f' => 12,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 11,
                b'0'..=b'7' => {
                    let mut v = (e - b'0') as u32;
                    for _ in 0..2 {
                        match raw.get(i) {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + (d - b'0') as u32;
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    v as u8
                }
                b'x' => {
                    let mut v = 0u32;
                    for _ in 0..2 {
                        match raw.get(i).and_then(|d| (*d as char).to_digit(16)) {
                            Some(d) => {
                                v = v * 16 + d;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                    v as u8
                }
                other => other,
            });
        }
        String::from_utf8(out).map(Some).map_err(|_| NOT_UTF8)
    }
    let mut rows = Vec::new();
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut cols: [&[u8]; 15] = [&[]; 15];
        let mut count = 0;
        for c in line.split(|b| *b == b'\t') {
            if count < cols.len() {
                cols[count] = c;
            }
            count += 1;
        }
        let bad = |problem: String| StoreError::CopyRow {
            line: n + 1,
            problem,
        };
        if count != cols.len() {
            return Err(bad(format!("{count} columns, expected 15")));
        }
        let text = |i: usize| field(cols[i]).map_err(|p| bad(format!("column {}: {p}", i + 1)));
        let need = |i: usize| -> Result<String> {
            text(i)?.ok_or_else(|| bad(format!("column {} is NULL", i + 1)))
        };
        let int = |i: usize| -> Result<i64> {
            need(i)?
                .parse()
                .map_err(|_| bad(format!("column {} is not a number", i + 1)))
        };
        rows.push(FleetRow {
            id: need(0)?,
            contract_id: need(1)?,
            state: need(2)?,
            system_label: text(3)?,
            hostname: text(4)?,
            dmi_uuid: text(5)?,
            kind: need(6)?,
            hypervisor: text(7)?,
            hypervisor_host: int(8)? != 0,
            cloud_provider: text(9)?,
            cloud_account: text(10)?,
            cloud_unit: text(11)?,
            cluster: text(12)?,
            last_seen: int(13)?,
            clone_of: text(14)?,
        });
    }
    Ok(rows)
}

impl Store {
    /// Machines counted by the live report: active and clone rows seen
    /// since `since` (Unix seconds).
    ///
    /// The database packs the rows into one JSON array and serde reads
    /// that: 100,000 rows decoded one by one through the driver (a thread
    /// hop and a by-name lookup per column on SQLite) took seconds; one
    /// value takes a small fraction of that on both engines.
    pub async fn fleet(&self, since: i64) -> Result<Vec<FleetRow>> {
        const COLS: &str = "id, contract_id, state, system_label, hostname, dmi_uuid, kind, hypervisor, \
             hypervisor_host, cloud_provider, cloud_account, cloud_unit, cluster, last_seen, clone_of";
        const WHERE: &str = "FROM machines WHERE state IN ('active', 'clone') AND last_seen >=";
        let mut rows: Vec<FleetRow> = match self {
            Store::Sqlite(p) => {
                let packed: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT json_group_array(json_array({COLS})) FROM (SELECT {COLS} {WHERE} $1)"
                ))
                .bind(since)
                .fetch_one(p)
                .await?;
                let wire: Vec<FleetWire> = match packed {
                    Some(p) => serde_json::from_str(&p).map_err(StoreError::FleetRows)?,
                    None => Vec::new(),
                };
                wire.into_iter().map(FleetRow::from).collect()
            }
            Store::Postgres(p) => {
                // COPY: PostgreSQL's bulk text output, an order of
                // magnitude cheaper on its side than building JSON.
                // (`since` is an integer we format: no injection.)
                use futures_util::TryStreamExt;
                use sqlx::postgres::PgPoolCopyExt;
                let mut text = Vec::with_capacity(1 << 20);
                let mut stream = p
                    .copy_out_raw(&format!("COPY (SELECT {COLS} {WHERE} {since}) TO STDOUT"))
                    .await?;
                while let Some(chunk) = stream.try_next().await? {
                    text.extend_from_slice(&chunk);
                }
                parse_copy_rows(&text)?
            }
        };
        rows.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(rows)
    }

    /// The latest security-status summary of each active machine seen
    /// since `since`: (machine, hostname, contract, summary JSON).
    pub async fn security_summaries(
        &self,
        since: i64,
    ) -> Result<Vec<(String, Option<String>, String, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT m.id, m.hostname, m.contract_id, s.summary FROM machine_security s \
             JOIN machines m ON m.id = s.machine_id \
             WHERE m.state = 'active' AND m.last_seen >= $1 ORDER BY m.id"
        )
        .bind(since)
        .fetch_all(p)
        .await)?)
    }

    /// Host → guest DMI UUIDs, from the KVM hosts' latest guest lists.
    pub async fn host_guests(&self) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT host_id, guest_uuid FROM host_guests ORDER BY host_id, guest_uuid"
        )
        .fetch_all(p)
        .await?))
    }

    /// Guests seen per day per group since `since_day`: (day, group, guests).
    pub async fn group_daily(&self, since_day: i64) -> Result<Vec<(i64, String, i64)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT day, grp, guests FROM group_daily WHERE day >= $1 ORDER BY day, grp"
        )
        .bind(since_day)
        .fetch_all(p)
        .await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_unescape_and_name_the_line() {
        let text = b"m-1\tct-1\tactive\t\\N\tweb\\t1\t\\N\tvirtual\tkvm\t0\t\\N\t\\N\t\\N\t\\N\t86400\t\\N\n\
m-2\tct-1\tclone\tplat\\\\x\th\\303\\251\tu\tphysical\t\\N\t1\taws\tacct\tunit\tha\t5\tm-1\n";
        let rows = parse_copy_rows(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "m-1");
        assert_eq!(rows[0].system_label, None);
        assert_eq!(rows[0].hostname.as_deref(), Some("web\t1"));
        assert!(!rows[0].hypervisor_host);
        assert_eq!(rows[0].last_seen, 86400);
        assert_eq!(rows[1].system_label.as_deref(), Some("plat\\x"));
        assert_eq!(rows[1].hostname.as_deref(), Some("h\u{e9}"));
        assert!(rows[1].hypervisor_host);
        assert_eq!(rows[1].clone_of.as_deref(), Some("m-1"));
        let e = parse_copy_rows(b"m-1\tct-1\n").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("2 columns"), "{e}");
        let e = parse_copy_rows(b"m\tc\ts\t\\N\t\\N\t\\N\tk\t\\N\tX\t\\N\t\\N\t\\N\t\\N\t1\t\\N\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column 9"), "{e}");
    }
}
