//! Throughput of the offline generator and of the synthetic API under a loopback load.
//!
//! Run with `cargo xtask bench-synthetic` (release build). Prints tasks/s of (a) the offline
//! generator called directly, (b) the API serving `GET /api/synthetic-gen` to concurrent clients
//! while its workers generate, once with the buffer in memory (`--buffer.state none`) and once with
//! a state file rewritten on every change (the binary's default), and the ratios, all measured in
//! the same process.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dojo_synthetic::OfflineGenerator;
use dojo_synthetic_api::{App, Config, serve};

fn arg(name: &str, default: u64) -> u64 {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let n = arg("--tasks", 3000);
    let secs = arg("--secs", 10);
    let clients = arg("--clients", 8);

    let g = OfflineGenerator::default();
    let t = Instant::now();
    let mut bytes = 0usize;
    for seed in 0..n {
        let task = g.task(seed).expect("offline task");
        bytes += task
            .completions()
            .iter()
            .map(|c| c.files[0].content.len())
            .sum::<usize>();
    }
    let gen_secs = t.elapsed().as_secs_f64();
    let gen_rate = n as f64 / gen_secs;
    println!(
        "offline generator: {n} tasks in {gen_secs:.2} s = {gen_rate:.0} tasks/s (1 thread), {:.1} KiB of HTML per task",
        bytes as f64 / n as f64 / 1024.0
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let memory = api_rate(None, secs, clients).await;
    let persisted = api_rate(Some(dir.path().join("state.json")), secs, clients).await;
    println!(
        "ratio API (state in memory) / direct generator: {:.2}",
        memory / gen_rate
    );
    println!(
        "ratio API (state file) / direct generator: {:.2}",
        persisted / gen_rate
    );
    println!(
        "ratio API state file / in memory: {:.2}",
        persisted / memory
    );
}

/// Serves `GET /api/synthetic-gen` to `clients` loopback clients for `secs` seconds and returns
/// tasks/s; `state` is the state file rewritten on every change, `None` keeps the buffer in memory.
async fn api_rate(state: Option<std::path::PathBuf>, secs: u64, clients: u64) -> f64 {
    let mode = if state.is_some() {
        "state file"
    } else {
        "state in memory"
    };
    let mut cfg = Config::new("127.0.0.1:0".parse().expect("addr"));
    cfg.buffer = 64;
    cfg.workers = 2;
    cfg.wait = Duration::from_secs(30);
    cfg.seed = 1_000_000;
    cfg.state_path = state;
    let app = App::new(cfg, OfflineGenerator::default(), None).expect("app");
    while app.fill_once().await {}
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(app, listener, async move {
        let _ = rx.await;
    }));

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (ok, failed, lat, base) = (ok.clone(), failed.clone(), lat.clone(), base.clone());
        handles.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match http.get(format!("{base}/api/synthetic-gen")).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                        lat.lock()
                            .expect("lat")
                            .push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = tx.send(());
    let _ = server.await;
    let served = ok.load(Ordering::Relaxed);
    let api_rate = served as f64 / elapsed;
    let mut l = lat.lock().expect("lat").clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "synthetic API ({mode}): {served} tasks served to {clients} loopback clients in {elapsed:.1} s = {api_rate:.0} tasks/s \
         ({} failed), latency p50 {:.1} ms p99 {:.1} ms",
        failed.load(Ordering::Relaxed),
        pct(0.5),
        pct(0.99)
    );
    api_rate
}
