//! Load generator for benches/server.sh.
//!
//! - `loadgen seed --database URL --machines N --days D`: N registered
//!   machines (credentials `store::bench_credential(i)`) with D days of
//!   check-in history.
//! - `loadgen checkin --url http://127.0.0.1:PORT --machines N --seconds S
//!   --concurrency C`: check-ins over keep-alive HTTP/1.1 connections, one
//!   per task; prints check-ins/s and latency percentiles as JSON.
//! - `loadgen report --database URL --runs R`: times the live licence
//!   report in process; prints the timings as JSON.
//! - `loadgen new-day --database URL`: no machine has checked in today
//!   yet, so the next check-in of each is its first of the day (the
//!   costlier kind: it also writes presence and per-group counts).

use std::time::{Duration, Instant};

use alma_ext_server::store::{bench_credential, bench_facts, Store};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn body(i: usize, now: &str) -> String {
    format!(
        r#"{{"observed_at":"{now}","facts":{},"lifecycle_phase":"full","switch":{{"status":"community","since":null,"repos":[],"error":null}},"agent_version":"0.1.0"}}"#,
        bench_facts(i)
    )
}

async fn checkin(url: String, machines: usize, seconds: u64, concurrency: usize) {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let now = chrono::Utc::now().to_rfc3339();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (addr, next, now) = (addr.clone(), next.clone(), now.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            let stream = tokio::net::TcpStream::connect(&addr)
                .await
                .expect("connect");
            stream.set_nodelay(true).ok();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % machines;
                let req = hyper::Request::post("/v1/checkin")
                    .header("host", &addr)
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {}", bench_credential(i)))
                    .body(Full::new(Bytes::from(body(i, &now))))
                    .unwrap();
                let t = Instant::now();
                let res = match send.send_request(req).await {
                    Ok(r) => r,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                };
                let status = res.status();
                let _ = res.into_body().collect().await;
                lat.push(t.elapsed().as_micros() as u32);
                if status != 200 {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let start = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let secs = start.elapsed().as_secs_f64().max(seconds as f64);
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{}",
        serde_json::json!({
            "requests": all.len(),
            "errors": errors,
            "seconds": secs,
            "checkins_per_sec": (all.len() as f64 - errors as f64) / secs,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "concurrency": concurrency,
        })
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_default();
    let machines: usize = arg(&args, "--machines", "100000").parse().unwrap();
    match mode.as_str() {
        "seed" => {
            let store = Store::open(&arg(&args, "--database", "")).await.unwrap();
            let days: i64 = arg(&args, "--days", "30").parse().unwrap();
            let c = alma_ext_server::admin::create_contract(
                &store,
                &alma_ext_server::admin::NewContract {
                    customer: "Bench KK".into(),
                    product: "virtual".into(),
                    quantity: machines as i64,
                    starts: Some(chrono::Utc::now().date_naive() - chrono::Days::new(10)),
                    platform_updates: false,
                },
            )
            .await
            .unwrap();
            let t = Instant::now();
            let today = chrono::Utc::now().timestamp() / 86400;
            store
                .seed_bench(&c.contract.id, machines, days, today)
                .await
                .unwrap();
            eprintln!(
                "seeded {machines} machines, {days} days in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            store.close().await;
        }
        "checkin" => {
            checkin(
                arg(&args, "--url", "http://127.0.0.1:8080"),
                machines,
                arg(&args, "--seconds", "10").parse().unwrap(),
                arg(&args, "--concurrency", "64").parse().unwrap(),
            )
            .await
        }
        "new-day" => {
            let store = Store::open(&arg(&args, "--database", "")).await.unwrap();
            let today = chrono::Utc::now().timestamp() / 86400;
            store.bench_new_day(today).await.unwrap();
            store.close().await;
        }
        "report" => {
            let store = Store::open(&arg(&args, "--database", "")).await.unwrap();
            let runs: usize = arg(&args, "--runs", "5").parse().unwrap();
            let opts = alma_ext_server::fleet::Options::default();
            let mut times = Vec::new();
            let mut machines = 0;
            for _ in 0..runs {
                let t = Instant::now();
                let r = alma_ext_server::fleet::live_report(&store, &opts)
                    .await
                    .unwrap();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                machines = r.machines;
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            // Where the time goes: reading the store, and the pure part
            // (inventories and the engine) on the data read.
            let t = Instant::now();
            let data = alma_ext_server::fleet::load(&store, &opts).await.unwrap();
            let load_ms = t.elapsed().as_secs_f64() * 1000.0;
            let contracts = store.list_contracts().await.unwrap();
            let t = Instant::now();
            let _ = alma_ext_server::fleet::report_from(&data, &contracts, &opts).unwrap();
            let compute_ms = t.elapsed().as_secs_f64() * 1000.0;
            println!(
                "{}",
                serde_json::json!({"machines": machines, "runs": runs, "min_ms": times[0], "median_ms": times[times.len() / 2], "max_ms": times[times.len() - 1], "load_ms": load_ms, "compute_ms": compute_ms})
            );
        }
        _ => {
            eprintln!("usage: loadgen seed|checkin|report|new-day [--database URL] [--url URL] [--machines N] [--days D] [--seconds S] [--concurrency C] [--runs R]");
            std::process::exit(2);
        }
    }
}
