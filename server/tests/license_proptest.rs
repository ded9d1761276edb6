//! Properties of the licence engine over generated inventories: any JSON
//! gives a report or an error naming a field, never a panic; and every
//! report keeps the rules' invariants.

use std::collections::HashMap;

use alma_ext_server::license::engine::report;
use alma_ext_server::license::inventory::parse_inventory;
use alma_ext_server::license::report::{LicenceOption, Report};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Small id pools so that references collide: duplicates, hosts shared by
/// platforms, VMs on VMs, groups across units.
fn pick(prefix: &'static str, n: usize) -> impl Strategy<Value = String> {
    (0..n).prop_map(move |i| format!("{prefix}{i}"))
}

fn maybe<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![2 => Just(None), 1 => s.prop_map(Some)]
}

fn cloud() -> impl Strategy<Value = Value> {
    (prop_oneof![Just("aws"), Just("azure")], pick("u", 3))
        .prop_map(|(p, u)| json!({"provider": p, "unit": u}))
}

fn count() -> impl Strategy<Value = Value> {
    // Mostly sensible, sometimes negative or huge.
    prop_oneof![
        8 => (0i64..40).prop_map(Value::from),
        1 => (-5i64..0).prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
    ]
}

fn choice() -> impl Strategy<Value = Option<Value>> {
    maybe(prop_oneof![
        Just(json!("cheapest")),
        Just(json!("per-unit")),
        Just(json!("platform")),
        Just(json!("gold")),
    ])
}

fn machine() -> impl Strategy<Value = Value> {
    (
        pick("m", 24),
        prop_oneof![10 => Just("virtual"), 5 => Just("physical"), 1 => Just("container")],
        maybe(prop_oneof![pick("h", 4), pick("m", 24)]),
        maybe(pick("p", 3)),
        maybe(cloud()),
        maybe(pick("g", 3)),
        maybe(prop_oneof![Just("active"), Just("standby")]),
    )
        .prop_map(|(id, ty, host, platform, cloud, group, role)| {
            let mut m = json!({"id": id, "type": ty});
            let o = m.as_object_mut().unwrap();
            if let Some(h) = host {
                o.insert("host".into(), h.into());
            }
            if let Some(p) = platform {
                o.insert("platform".into(), p.into());
            }
            if let Some(c) = cloud {
                o.insert("cloud".into(), c);
            }
            if let Some(g) = group {
                o.insert("autoscale_group".into(), g.into());
            }
            if let Some(r) = role {
                o.insert("role".into(), r.into());
            }
            m
        })
}

fn platform() -> impl Strategy<Value = Value> {
    (
        pick("p", 3),
        prop::collection::vec(prop_oneof![pick("h", 6), pick("m", 24)], 0..4),
        maybe(count()),
        choice(),
    )
        .prop_map(|(id, hosts, peak, choice)| {
            let mut p = json!({"id": id, "hosts": hosts});
            if let Some(n) = peak {
                p["peak_guests"] = n;
            }
            if let Some(c) = choice {
                p["choice"] = c;
            }
            p
        })
}

fn group() -> impl Strategy<Value = Value> {
    (
        pick("g", 3),
        maybe(count()),
        maybe(cloud()),
        maybe(pick("p", 3)),
    )
        .prop_map(|(id, max, cloud, platform)| {
            let mut g = json!({"id": id});
            if let Some(n) = max {
                g["max"] = n;
            }
            if let Some(c) = cloud {
                g["cloud"] = c;
            }
            if let Some(p) = platform {
                g["platform"] = p.into();
            }
            g
        })
}

fn unit() -> impl Strategy<Value = Value> {
    (cloud(), choice()).prop_map(|(mut c, choice)| {
        if let Some(ch) = choice {
            c["choice"] = ch;
        }
        c
    })
}

fn inventory() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(machine(), 0..30),
        prop::collection::vec(platform(), 0..3),
        prop::collection::vec(group(), 0..3),
        prop::collection::vec(unit(), 0..3),
    )
        .prop_map(|(machines, platforms, groups, units)| {
            json!({"version": 1, "machines": machines, "platforms": platforms,
                   "autoscale_groups": groups, "cloud_units": units})
        })
}

/// Well-formed inventories: unique ids, each host in at most one platform,
/// each VM placed in one way. None of them may be rejected.
fn valid_inventory() -> impl Strategy<Value = Value> {
    let vm = (
        0..5u8,
        pick("h", 8),
        pick("p", 3),
        cloud(),
        pick("g", 3),
        any::<bool>(),
    );
    (
        prop::collection::vec(vm, 0..40),
        0..6usize,
        prop::collection::vec(maybe(0..3usize), 8),
        prop::collection::vec((maybe(0u64..40), choice_ok()), 3),
        prop::collection::vec((maybe(0u64..40), 0..3u8, cloud(), pick("p", 3)), 3),
        prop::collection::vec((cloud(), choice_ok()), 0..3),
    )
        .prop_map(|(vms, physical, host_of, plats, groups, units)| {
            let mut machines = Vec::new();
            // Physical AlmaLinux machines are hosts h0.. (some run KVM guests).
            for i in 0..physical {
                machines.push(json!({"id": format!("h{i}"), "type": "physical"}));
            }
            for (i, (how, host, platform, cloud, group, standby)) in vms.into_iter().enumerate() {
                let mut m = json!({"id": format!("vm{i}"), "type": "virtual"});
                match how {
                    0 => m["host"] = host.into(),
                    1 => m["platform"] = platform.into(),
                    2 => m["cloud"] = cloud,
                    3 => m["autoscale_group"] = group.into(),
                    _ => {}
                }
                if standby {
                    m["role"] = "standby".into();
                }
                machines.push(m);
            }
            let platforms: Vec<Value> = plats
                .into_iter()
                .enumerate()
                .map(|(p, (peak, choice))| {
                    let hosts: Vec<String> = host_of
                        .iter()
                        .enumerate()
                        .filter(|(_, of)| **of == Some(p))
                        .map(|(h, _)| format!("h{h}"))
                        .collect();
                    let mut v = json!({"id": format!("p{p}"), "hosts": hosts, "choice": choice});
                    if let Some(n) = peak {
                        v["peak_guests"] = n.into();
                    }
                    v
                })
                .collect();
            let groups: Vec<Value> = groups
                .into_iter()
                .enumerate()
                .map(|(g, (max, where_, cloud, platform))| {
                    let mut v = json!({"id": format!("g{g}")});
                    if let Some(n) = max {
                        v["max"] = n.into();
                    }
                    match where_ {
                        0 => v["cloud"] = cloud,
                        1 => v["platform"] = platform.into(),
                        _ => {}
                    }
                    v
                })
                .collect();
            let mut seen = std::collections::HashSet::new();
            let units: Vec<Value> = units
                .into_iter()
                .filter(|(c, _)| seen.insert(c.to_string()))
                .map(|(mut c, choice)| {
                    c["choice"] = choice;
                    c
                })
                .collect();
            json!({"version": 1, "machines": machines, "platforms": platforms,
                   "autoscale_groups": groups, "cloud_units": units})
        })
}

fn choice_ok() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("cheapest")),
        Just(json!("per-unit")),
        Just(json!("platform"))
    ]
}

/// The invariants every report keeps.
fn check_report(inv: &Value, r: &Report) -> Result<(), TestCaseError> {
    // Choices declared per system; everything else is `cheapest`.
    let mut declared: HashMap<String, String> = HashMap::new();
    for p in inv["platforms"].as_array().unwrap() {
        declared.insert(
            p["id"].as_str().unwrap().to_string(),
            p["choice"].as_str().unwrap_or("cheapest").to_string(),
        );
    }
    for u in inv["cloud_units"].as_array().unwrap() {
        declared.insert(
            format!(
                "{}/{}",
                u["provider"].as_str().unwrap(),
                u["unit"].as_str().unwrap()
            ),
            u["choice"].as_str().unwrap_or("cheapest").to_string(),
        );
    }
    let (mut p, mut v, mut pl, mut cost) = (0u64, 0u64, 0u64, 0u64);
    for s in &r.systems {
        prop_assert!(!s.options.is_empty());
        prop_assert_eq!(s.options[0].choice, LicenceOption::PerUnit);
        prop_assert!(s.options.iter().any(|o| o.choice == s.chosen));
        for o in &s.options {
            prop_assert_eq!(
                o.yearly_cost_jpy,
                o.physical * 84_000 + o.r#virtual * 48_000 + o.platform * 240_000
            );
            // Rules 4 and 5: platform never mixed with per-unit.
            prop_assert!(o.platform == 0 || (o.physical == 0 && o.r#virtual == 0));
            if o.choice == LicenceOption::Platform {
                prop_assert!(s.guests >= 5, "platform offered with {} guests", s.guests);
            }
        }
        let chosen = s.chosen_option();
        let choice = declared
            .get(&s.id)
            .map(String::as_str)
            .unwrap_or("cheapest");
        if choice == "cheapest" {
            for o in &s.options {
                prop_assert!(chosen.yearly_cost_jpy <= o.yearly_cost_jpy, "{s:?}");
            }
        }
        p += chosen.physical;
        v += chosen.r#virtual;
        pl += chosen.platform;
        cost += chosen.yearly_cost_jpy;
    }
    prop_assert_eq!(
        (p, v, pl, cost),
        (
            r.total.physical,
            r.total.r#virtual,
            r.total.platform,
            r.total.yearly_cost_jpy
        )
    );
    // Every AlmaLinux machine is somewhere: physical ones as a standalone or
    // host, virtual ones among the guests (unless a peak was declared).
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_inventories_give_a_report_or_a_named_error(inv in inventory()) {
        let text = serde_json::to_string(&inv).unwrap();
        match parse_inventory(&text).and_then(|i| report(&i)) {
            Ok(r) => check_report(&inv, &r)?,
            Err(e) => {
                prop_assert!(!e.field.is_empty());
                prop_assert!(!e.reason.to_string().is_empty());
            }
        }
    }

    #[test]
    fn well_formed_inventories_are_counted_and_keep_the_invariants(inv in valid_inventory()) {
        let text = serde_json::to_string(&inv).unwrap();
        let parsed = parse_inventory(&text);
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed.err(), text);
        let r = report(&parsed.unwrap());
        prop_assert!(r.is_ok(), "{:?}\n{}", r.err(), text);
        let r = r.unwrap();
        check_report(&inv, &r)?;
        // Every physical machine is licensed somewhere: as a standalone
        // server or an AlmaLinux host of a system.
        let physical = inv["machines"].as_array().unwrap().iter()
            .filter(|m| m["type"] == "physical").count() as u64;
        let hosts: u64 = r.systems.iter().map(|s| s.almalinux_hosts).sum();
        prop_assert_eq!(hosts, physical);
        // Without declared peaks, every VM is a guest somewhere.
        if inv["platforms"].as_array().unwrap().iter().all(|p| p.get("peak_guests").is_none()) {
            let vms = inv["machines"].as_array().unwrap().iter()
                .filter(|m| m["type"] == "virtual").count() as u64;
            let guests: u64 = r.systems.iter().map(|s| s.guests).sum();
            prop_assert!(guests >= vms, "{} guests < {} VMs", guests, vms);
        }
        // The text and CSV renderings have one line per system.
        prop_assert_eq!(r.to_csv().lines().count(), r.systems.len() + 1);
        // The JSON round-trips.
        let back: alma_ext_server::license::report::Report =
            serde_json::from_str(&r.to_json()).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn machine_order_does_not_change_the_count(inv in prop_oneof![valid_inventory(), inventory()], seed in any::<u64>()) {
        let text = serde_json::to_string(&inv).unwrap();
        let mut shuffled = inv.clone();
        let ms = shuffled["machines"].as_array_mut().unwrap();
        // A cheap deterministic shuffle.
        let n = ms.len();
        let mut x = seed | 1;
        for i in (1..n).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            ms.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a = parse_inventory(&text).and_then(|i| report(&i));
        let b = parse_inventory(&serde_json::to_string(&shuffled).unwrap()).and_then(|i| report(&i));
        match (a, b) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.total, b.total);
                prop_assert_eq!(a.systems.len(), b.systems.len());
            }
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.map(|r| r.total), b.map(|r| r.total)),
        }
    }

    #[test]
    fn any_json_value_never_panics(v in arb_json()) {
        let text = serde_json::to_string(&v).unwrap();
        if let Err(e) = parse_inventory(&text).and_then(|i| report(&i)) {
            prop_assert!(!e.field.is_empty());
        }
    }

    #[test]
    fn any_text_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = parse_inventory(&text).and_then(|i| report(&i)) {
            prop_assert!(!e.field.is_empty());
        }
    }

    #[test]
    fn mangled_valid_inventories_never_panic(inv in inventory(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = serde_json::to_string(&inv).unwrap().into_bytes();
        let i = cut.index(bytes.len());
        bytes[i] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            if let Err(e) = parse_inventory(&text).and_then(|i| report(&i)) {
                prop_assert!(!e.field.is_empty());
            }
        }
    }
}

/// JSON values shaped a bit like inventories: known keys, any values.
fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("version".to_string()),
        Just("machines".to_string()),
        Just("id".to_string()),
        Just("type".to_string()),
        Just("host".to_string()),
        Just("platforms".to_string()),
        Just("hosts".to_string()),
        Just("max".to_string()),
        Just("cloud".to_string()),
        "[a-z]{1,4}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::from(1)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        prop_oneof![Just("physical"), Just("virtual"), Just("x")].prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
