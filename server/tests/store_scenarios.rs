//! The live count on the seed's examples, run against both stores
//! (`store_sqlite.rs`, `store_postgres.rs` include this file).
#![allow(dead_code)]

#[path = "api_helpers.rs"]
mod helpers;

pub use helpers::*;

use alma_ext_proto::facts::{CloudAccount, MachineType};
use alma_ext_server::store::Store;

struct Fleet<'a> {
    c: reqwest::Client,
    s: &'a Server,
    n: u32,
}

impl Fleet<'_> {
    /// Register a machine and check it in once; returns its credential.
    async fn machine(
        &mut self,
        key: &str,
        system: Option<&str>,
        mut f: alma_ext_proto::Facts,
    ) -> String {
        self.n += 1;
        if f.machine.machine_id.is_none() {
            f.machine.machine_id = Some(hex_id(1000 + self.n));
        }
        let (_m, cred) = register(&self.c, self.s, key, system, &f).await;
        let (st, v) = checkin(&self.c, self.s, &cred, &f).await;
        assert_eq!(st, 200, "{v}");
        cred
    }
}

fn vm(n: u32, host: &str) -> alma_ext_proto::Facts {
    facts(
        MachineType::Virtual,
        &hex_id(n),
        &uuid(n),
        &format!("{host}{n}"),
    )
}

/// Worked examples 1, 2, 4, 5 and the spec's 20-guest example, plus a
/// migration peak from history and a machine that aged out.
pub async fn seed_examples(db: &str) {
    let (c_phys, k_phys) = create_contract(db, "physical", 2);
    let (c_virt, k_virt) = create_contract(db, "virtual", 5);
    let (c_plat, k_plat) = create_contract(db, "platform", 3);
    let (code, _, err) = cli(&[
        "platform",
        "set",
        "vc-big",
        "--hosts",
        "esx1,esx2",
        "--database",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    // A host in two platforms is refused with the field named.
    let (code, _, err) = cli(&[
        "platform",
        "set",
        "vc-other",
        "--hosts",
        "esx2",
        "--database",
        db,
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("esx2"), "{err}");

    let s = Server::start(db, &["--rate-every", "0"]);
    let mut fl = Fleet {
        c: client(),
        s: &s,
        n: 0,
    };

    // 1: an HA pair of physical servers, one standby: physical × 2.
    for (i, name) in ["db1", "db2"].iter().enumerate() {
        let mut f = facts(
            MachineType::Physical,
            &hex_id(100 + i as u32),
            &uuid(100 + i as u32),
            name,
        );
        f.cluster = Some(alma_ext_proto::facts::Cluster {
            name: "db-ha".into(),
            node: Some(name.to_string()),
            nodes: vec!["db1".into(), "db2".into()],
        });
        fl.machine(&k_phys, Some("db-ha"), f).await;
    }
    // 2: three guests on VMware: virtual × 3 (history says 4 ran at once).
    for n in 200..203 {
        let mut f = vm(n, "vmw");
        f.machine.hypervisor = Some("vmware".into());
        fl.machine(&k_virt, Some("vc-a"), f).await;
    }
    // 5: three VMs in one Azure resource group: virtual × 3.
    for n in 300..303 {
        let mut f = vm(n, "az");
        f.machine.hypervisor = Some("microsoft".into());
        f.machine.cloud = Some("azure".into());
        f.cloud_account = Some(CloudAccount {
            provider: "azure".into(),
            account: Some("sub-1".into()),
            unit: Some("rg-prod".into()),
            ..CloudAccount::default()
        });
        fl.machine(&k_virt, None, f).await;
    }
    // 4: an AlmaLinux KVM host with five guests: platform × 1.
    let guests: Vec<String> = (400..405).map(uuid).collect();
    let g: Vec<&str> = guests.iter().map(String::as_str).collect();
    fl.machine(
        &k_plat,
        None,
        kvm_host(&hex_id(399), &uuid(399), "kvm1", &g),
    )
    .await;
    for n in 400..405 {
        fl.machine(&k_plat, None, vm(n, "kvmguest")).await;
    }
    // 20 guests on a declared two-host platform: platform × 2 beats virtual × 20.
    for n in 500..520 {
        fl.machine(&k_plat, Some("vc-big"), vm(n, "big")).await;
    }
    // A VM that stopped checking in 40 days ago: aged out.
    fl.machine(&k_virt, Some("vc-a"), vm(600, "old")).await;

    let store = Store::open(db).await.unwrap();
    let now = chrono::Utc::now().timestamp();
    let today = now / 86400;
    execute(
        &store,
        &format!(
            "UPDATE machines SET last_seen = {} WHERE hostname = 'old600'",
            now - 40 * 86400
        ),
    )
    .await;
    // Yesterday four vc-a guests ran at once (one has since been removed).
    execute(
        &store,
        &format!(
            "INSERT INTO group_daily (day, grp, guests) VALUES ({}, 's:vc-a', 4)",
            today - 1
        ),
    )
    .await;
    store.close().await;

    let (code, out, err) = cli(&["licenses", "--format", "json", "--database", db]);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sys = |id: &str| {
        r["fleet"]["systems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no system {id} in {}", r["fleet"]))
            .clone()
    };
    assert_eq!(sys("vc-a")["guests"], 4, "peak from history");
    assert_eq!(sys("vc-a")["chosen"], "per-unit");
    assert_eq!(sys("kvm1")["kind"], "kvm-host");
    assert_eq!(sys("kvm1")["guests"], 5);
    assert_eq!(sys("kvm1")["chosen"], "platform");
    assert_eq!(sys("vc-big")["hosts"], 2);
    assert_eq!(sys("vc-big")["chosen"], "platform");
    assert_eq!(sys("azure/rg-prod")["kind"], "cloud");
    let t = &r["fleet"]["total"];
    assert_eq!(t["physical"], 2, "{t}");
    assert_eq!(t["virtual"], 7, "{t}");
    assert_eq!(t["platform"], 3, "{t}");
    assert_eq!(r["machines"], 2 + 3 + 3 + 1 + 5 + 20);

    let usage = |id: &str| {
        r["contracts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contract"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(usage(&c_phys)["needed"], 2);
    assert_eq!(usage(&c_phys)["over_deployed"], false, "{}", usage(&c_phys));
    assert_eq!(usage(&c_virt)["needed"], 7);
    assert_eq!(usage(&c_virt)["bought"], 5);
    assert_eq!(usage(&c_virt)["over_deployed"], true);
    assert_eq!(usage(&c_plat)["needed"], 3);
    assert_eq!(usage(&c_plat)["over_deployed"], false, "{}", usage(&c_plat));

    let (code, out, _) = cli(&["licenses", "--database", db, "--fail-on-over-deployment"]);
    assert_eq!(code, 6);
    assert!(out.contains("OVER-DEPLOYED"), "{out}");
    let (code, out, _) = cli(&["licenses", "--format", "csv", "--database", db]);
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 7, "{out}");

    // The auditor's file gives the same count.
    let (code, inv, err) = cli(&["inventory", "--database", db]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "inventory.json", &inv);
    let (code, out, err) = cli(&[
        "licenses",
        "--inventory",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let replay: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(replay["total"], r["fleet"]["total"]);

    // One contract's inventory, priced as bought.
    let (code, inv, err) = cli(&["inventory", "--contract", &c_plat, "--database", db]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&inv).unwrap();
    assert_eq!(v["machines"].as_array().unwrap().len(), 26);
    let (code, _, _) = cli(&["inventory", "--contract", "ct-none", "--database", db]);
    assert_eq!(code, 4);
}

async fn execute(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        Store::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

/// Bad inventory files: the error names the field, exit code 3.
pub fn bad_inventory_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(
        dir.path(),
        "inv.json",
        r#"{"version": 1, "machines": [{"id": "a", "type": "physical"}, {"id": "a", "type": "physical"}]}"#,
    );
    let (code, _, err) = cli(&["licenses", "--inventory", p.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("inv.json"), "{err}");
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

fn columns(kind: &str, n: usize) -> alma_ext_server::store::FactColumns {
    alma_ext_server::store::FactColumns {
        machine_id: Some(format!("{n:032x}")),
        dmi_uuid: Some(format!("00000000-0000-0000-0000-{n:012x}")),
        hostname: Some(format!("b{n}")),
        kind: kind.into(),
        hypervisor: (kind == "virtual").then(|| "kvm".into()),
        facts_json: format!("{{\"n\":{n}}}"),
        os_major: Some(9),
        ..Default::default()
    }
}

fn write(id: &str, day: i64, columns: alma_ext_server::store::FactColumns) -> CheckinWrite {
    CheckinWrite {
        machine: id.into(),
        now: day * 86400 + 3600,
        observed_at: day * 86400 + 3500,
        day,
        facts_hash: format!("{:?}", columns.facts_json),
        facts_changed: true,
        security_json: None,
        columns,
        switch_status: "community".into(),
        agent_version: Some("0.1.0".into()),
        repo_hash: None,
        guests: None,
        record_presence: true,
        system_label: None,
    }
}

use alma_ext_server::store::CheckinWrite;

/// The batched check-in writes: 70 machines in one batch (statement
/// chunks of 64 + 4 + 1 + 1 on SQLite), a machine twice in a batch,
/// first-of-the-day presence feeding the per-group guest counts (by
/// `--system` label, and by the KVM host that lists the guest), and
/// later check-ins of the day not counted again.
pub async fn checkin_batches(db: &str) {
    let store = Store::open(db).await.unwrap();
    let c = alma_ext_server::admin::create_contract(
        &store,
        &alma_ext_server::admin::NewContract {
            customer: "Batch KK".into(),
            product: "virtual".into(),
            quantity: 100,
            starts: None,
            platform_updates: false,
        },
    )
    .await
    .unwrap();
    let day = 20_000;
    // b0: a KVM host; b1..b69: guests, the odd ones labelled "plat".
    for n in 0..70 {
        let kind = if n == 0 { "physical" } else { "virtual" };
        store
            .insert_machine(&alma_ext_server::store::NewMachine {
                id: format!("b{n}"),
                contract_id: c.contract.id.clone(),
                state: "active".into(),
                token_hash: Some(format!("hash-{n}")),
                repo_hash: None,
                system_label: (n % 2 == 1).then(|| "plat".into()),
                clone_of: None,
                now: 0,
                observed_at: 0,
                columns: columns(kind, n),
            })
            .await
            .unwrap();
    }
    // Registered, never checked in: no presence day yet.
    let auth = |h: &'static str| {
        let store = &store;
        async move { store.machine_by_token(h).await.unwrap().unwrap() }
    };
    assert_eq!(auth("hash-1").await.presence_day, None);
    // The host lists the even guests b2..b68.
    let mut host = write("b0", day, columns("physical", 0));
    host.columns.hypervisor_host = true;
    host.guests = Some((
        "h1".into(),
        (2..70)
            .step_by(2)
            .map(|n| format!("00000000-0000-0000-0000-{n:012x}"))
            .collect(),
    ));
    store.apply_checkins(&[host]).await.unwrap();
    assert_eq!(scalar(&store, "SELECT COUNT(*) FROM host_guests").await, 34);

    let mut batch: Vec<CheckinWrite> = (1..70)
        .map(|n| write(&format!("b{n}"), day, columns("virtual", n)))
        .collect();
    for w in &mut batch {
        let n: usize = w.machine[1..].parse().unwrap();
        w.system_label = (n % 2 == 1).then(|| "plat".into());
    }
    // b5 twice: its last check-in wins, and it counts once.
    let mut again = batch[4].clone();
    again.switch_status = "extended".into();
    again.columns.facts_json = "{\"n\":5,\"again\":true}".into();
    batch.push(again);
    store.apply_checkins(&batch).await.unwrap();

    assert_eq!(
        scalar(
            &store,
            &format!(
                "SELECT COUNT(*) FROM machines WHERE last_seen = {}",
                day * 86400 + 3600
            )
        )
        .await,
        70
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM machines WHERE switch_status = 'extended'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM machine_facts WHERE machine_id = 'b5' AND facts LIKE '%again%'"
        )
        .await,
        1
    );
    let present_on = |day: i64| format!("SELECT COUNT(*) FROM presence WHERE day = {day}");
    assert_eq!(scalar(&store, &present_on(day)).await, 70);
    let guests =
        |grp: &str| format!("SELECT guests FROM group_daily WHERE day = {day} AND grp = '{grp}'");
    assert_eq!(scalar(&store, &guests("s:plat")).await, 35);
    assert_eq!(scalar(&store, &guests("h:b0")).await, 34);

    // Later the same day: written, not counted again.
    let batch: Vec<CheckinWrite> = (1..4)
        .map(|n| {
            let mut w = write(&format!("b{n}"), day, columns("virtual", n));
            w.now += 60;
            w
        })
        .collect();
    store.apply_checkins(&batch).await.unwrap();
    assert_eq!(scalar(&store, &guests("s:plat")).await, 35);
    assert_eq!(scalar(&store, &guests("h:b0")).await, 34);
    assert_eq!(
        scalar(
            &store,
            &format!(
                "SELECT COUNT(*) FROM machines WHERE last_seen = {}",
                day * 86400 + 3660
            )
        )
        .await,
        3
    );
    // Facts the store already holds (by hash) are not sent; a hash that
    // no longer matches the stored one is cleared, so the next check-in
    // sends the facts again.
    let mut same = write("b7", day, columns("virtual", 7));
    same.facts_changed = false;
    same.columns.facts_json = "not sent".into();
    let mut stale = write("b9", day, columns("virtual", 9));
    stale.facts_changed = false;
    stale.facts_hash = "another".into();
    store.apply_checkins(&[same, stale]).await.unwrap();
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM machine_facts WHERE facts = 'not sent'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM machines WHERE id = 'b7' AND facts_hash IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT COUNT(*) FROM machines WHERE id = 'b9' AND facts_hash IS NULL"
        )
        .await,
        1
    );
    // A check-in whose presence is known to be recorded (the lookup's
    // presence day is today) and whose facts are unchanged: one
    // statement, no presence row, no count.
    assert_eq!(auth("hash-3").await.presence_day, Some(day));
    let mut quiet = write("b3", day, columns("virtual", 3));
    quiet.now += 120;
    quiet.facts_changed = false;
    quiet.record_presence = false;
    store.apply_checkins(&[quiet]).await.unwrap();
    assert_eq!(
        scalar(
            &store,
            &format!(
                "SELECT COUNT(*) FROM machines WHERE id = 'b3' AND last_seen = {}",
                day * 86400 + 3720
            )
        )
        .await,
        1
    );
    assert_eq!(scalar(&store, &present_on(day)).await, 70);
    assert_eq!(scalar(&store, &guests("s:plat")).await, 35);
    // The next day counts again.
    store
        .apply_checkins(&[write("b2", day + 1, columns("virtual", 2))])
        .await
        .unwrap();
    assert_eq!(
        scalar(
            &store,
            &format!(
                "SELECT guests FROM group_daily WHERE day = {} AND grp = 'h:b0'",
                day + 1
            )
        )
        .await,
        1
    );
    assert_eq!(auth("hash-2").await.presence_day, Some(day + 1));
    // The live count reads the machines back (COPY on PostgreSQL, one
    // JSON value on SQLite), sorted by id.
    let rows = store.fleet(0).await.unwrap();
    assert_eq!(rows.len(), 70);
    assert_eq!(rows[0].id, "b0");
    assert!(rows.windows(2).all(|w| w[0].id < w[1].id));
    assert!(rows[0].hypervisor_host);
    assert_eq!(rows[1].system_label.as_deref(), Some("plat"));
    assert_eq!(rows[1].hypervisor.as_deref(), Some("kvm"));
    store.close().await;
}
