//! Not a test: the in-process half of `benches/license.sh`. Times the
//! phases of a licence count on the inventory named by
//! `ALMA_EXT_BENCH_INVENTORY` and prints a markdown table. Ignored by
//! default; the script runs it with `--ignored --nocapture` in release.

use std::time::{Duration, Instant};

use alma_ext_server::license::engine::report;
use alma_ext_server::license::inventory::{parse_inventory, Inventory};

fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        times.push(t.elapsed());
        last = Some(v);
    }
    times.sort();
    (times[runs / 2], last.unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[test]
#[ignore = "benchmark, run by benches/license.sh"]
fn license_engine_phases() {
    let Ok(path) = std::env::var("ALMA_EXT_BENCH_INVENTORY") else {
        eprintln!("set ALMA_EXT_BENCH_INVENTORY to an inventory file");
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let runs = 11;
    let (value, _) = median(runs, || {
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    });
    let (typed, _) = median(runs, || serde_json::from_str::<Inventory>(&text).unwrap());
    let (parse, inv) = median(runs, || parse_inventory(&text).unwrap());
    let (engine, r) = median(runs, || report(&inv).unwrap());
    let (json, _) = median(runs, || r.to_json());
    let (text_out, _) = median(runs, || r.to_text());
    // libtest prints "test name ... " without a newline before our output.
    println!();
    println!("| phase (median of {runs}) | ms |");
    println!("|---|---|");
    println!(
        "| serde_json to an untyped `Value` (peer: generic JSON tree) | {} |",
        ms(value)
    );
    println!(
        "| serde_json to the typed `Inventory`, no field paths (floor: reading the input at all) | {} |",
        ms(typed)
    );
    println!(
        "| `parse_inventory` (typed, field paths for errors) | {} |",
        ms(parse)
    );
    println!(
        "| **`engine::report` (the licence engine)** | **{}** |",
        ms(engine)
    );
    println!("| render JSON report | {} |", ms(json));
    println!("| render text report | {} |", ms(text_out));
    println!();
    println!(
        "Inventory: {} machines, {} platforms, {} autoscale groups, {} cloud units -> {} systems, {} warnings; total {} JPY/year.",
        inv.machines.len(),
        inv.platforms.len(),
        inv.autoscale_groups.len(),
        inv.cloud_units.len(),
        r.systems.len(),
        r.warnings.len(),
        r.total.yearly_cost_jpy
    );
}
