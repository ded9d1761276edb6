//! Benchmark seeding (feature `bench`: benches/server.sh's load
//! generator and tests that need a large fleet; not in release builds).

use super::machines::SQL_SET_FACTS;
use super::{Result, Store};

impl Store {
    /// Bulk-load synthetic machines for the benchmark: credentials are
    /// `bench_credential(i)`, machine ids `bench-m-<i>`.
    pub async fn seed_bench(
        &self,
        contract_id: &str,
        n: usize,
        days: i64,
        today: i64,
    ) -> Result<()> {
        use crate::auth::sha256_hex;
        let chunk = 500;
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                for i in start..end {
                    let facts = bench_facts(i);
                    let kind = if i.is_multiple_of(5) {
                        "physical"
                    } else {
                        "virtual"
                    };
                    let cloud = kind == "virtual" && i % 10 == 1;
                    let label = if kind == "virtual" && !cloud {
                        Some(format!("plat-{}", i % 200))
                    } else {
                        None
                    };
                    let (provider, unit) = if cloud {
                        (Some("azure"), Some(format!("rg-{}", i % 50)))
                    } else {
                        (None, None)
                    };
                    sqlx::query(
                        "INSERT INTO machines (id, contract_id, state, token_hash, system_label, machine_id, dmi_uuid, \
                         hostname, kind, hypervisor_host, registered_at, last_seen, observed_at, cloud_provider, cloud_unit, \
                         facts_hash, presence_day) \
                         VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, 0, $9, $9, $9, $10, $11, $12, $13)",
                    )
                    .bind(format!("bench-m-{i}"))
                    .bind(contract_id)
                    .bind(sha256_hex(&bench_credential(i)))
                    .bind(&label)
                    .bind(format!("{:032x}", i))
                    .bind(format!("00000000-0000-0000-0000-{:012x}", i))
                    .bind(format!("host{i}"))
                    .bind(kind)
                    .bind(today * 86400)
                    .bind(provider)
                    .bind(&unit)
                    .bind(sha256_hex(&facts))
                    // Today's presence row is written below.
                    .bind((days > 0).then_some(today))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(SQL_SET_FACTS)
                        .bind(format!("bench-m-{i}"))
                        .bind(&facts)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            })?;
        }
        // History: every machine seen every day of the window.
        for d in 0..days {
            let day = today - d;
            on_pool!(self, |p| {
                sqlx::query(
                "INSERT INTO presence (day, machine_id) SELECT $1, id FROM machines WHERE true ON CONFLICT DO NOTHING"
            )
            .bind(day)
            .execute(p)
            .await
            .map(|_| ())
            })?;
            on_pool!(self, |p| {
                let mut tx = p.begin().await?;
                for g in 0..200 {
                    let guests = (n / 250) as i64 + (d % 3);
                    sqlx::query(
                        "INSERT INTO group_daily (day, grp, guests) VALUES ($1, $2, $3) \
                         ON CONFLICT (day, grp) DO UPDATE SET guests = excluded.guests",
                    )
                    .bind(day)
                    .bind(format!("s:plat-{g}"))
                    .bind(guests)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await
            })?;
        }
        Ok(())
    }

    /// For the benchmark: forget that any machine checked in on `day`, so
    /// that each one's next check-in is its first of the day (presence
    /// row, per-group count).
    pub async fn bench_new_day(&self, day: i64) -> Result<()> {
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE machines SET presence_day = NULL")
                .execute(&mut *tx)
                .await?;
            for table in ["presence", "group_daily"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE day = $1"))
                    .bind(day)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }
}

/// The facts JSON of synthetic machine `i` (about 1.8 KB, like a real
/// agent's): one in five physical, the rest KVM guests, one in ten of
/// those in an Azure resource group.
pub fn bench_facts(i: usize) -> String {
    let kind = if i.is_multiple_of(5) {
        "physical"
    } else {
        "virtual"
    };
    let hyp = if kind == "virtual" { "\"kvm\"" } else { "null" };
    let cloud = if kind == "virtual" && i % 10 == 1 {
        format!(
            r#","cloud_account":{{"provider":"azure","account":"sub-1","unit":"rg-{}","region":"japaneast","instance_id":"i-{i}","official_image":true,"image":"almalinux-9"}}"#,
            i % 50
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"schema_version":1,"machine":{{"type":"{kind}","hypervisor":{hyp},"cloud":null,"container":null,"hypervisor_host":false,"uuid":"00000000-0000-0000-0000-{i:012x}","machine_id":"{i:032x}","hostname":"host{i}","evidence":[{{"decides":"type","source":"/sys/class/dmi/id/sys_vendor","value":"QEMU"}},{{"decides":"hypervisor","source":"cpuid","value":"KVMKVMKVM"}}]}},"os":{{"id":"almalinux","name":"AlmaLinux","pretty_name":"AlmaLinux 9.6 (Sage Margay)","version_id":"9.6","major":9,"minor":6,"family":"almalinux","supported":true,"support_end":"2032-05-31","platform_id":"platform:el9"}},"hardware":{{"arch":"x86_64","cpu_model":"Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz","cpu_sockets":2,"cpu_cores":32,"cpu_threads":64,"memory_bytes":274877906944,"dmi":{{"sys_vendor":"QEMU","product_name":"Standard PC (Q35 + ICH9, 2009)","product_version":"pc-q35-8.2","product_serial":null,"product_uuid":"00000000-0000-0000-0000-{i:012x}","board_vendor":null,"bios_vendor":"SeaBIOS","bios_version":"1.16.3","chassis_asset_tag":null}}}},"guests":[]{cloud}}}"#
    )
}

/// The credential of synthetic machine `i` of `seed_bench`.
pub fn bench_credential(i: usize) -> String {
    format!("aec_bench{i:038}")
}
