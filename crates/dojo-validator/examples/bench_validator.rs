//! Validator capacity bench (run by `cargo xtask bench-validator`): a store with N collected tasks,
//! each sent to M miners who all answered, then a full scoring pass over all of them (in batches
//! of the binary's default size, one moving-average step per batch) in a fresh process, so the
//! peak RSS it reports is the validator's and not the filler's. Prints one JSON object.
//!
//! `bench_validator [--tasks 10000] [--miners 256] [--batch 512] [--database-url URL]`

#![allow(clippy::print_stdout)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dojo_identity::Keypair;
use dojo_scoring::{AbsentMiners, Answer, CompletionMap, MechanismConfig};
use dojo_types::task::{Completion, CompletionContent, Task, TaskType};
use dojo_types::{CompletionId, Criterion, Hotkey, Ranking, TaskId, Uid};
use dojo_validator::scores::ScoreBook;
use dojo_validator::service::{Config, Intervals, Validator};
use dojo_validator::store::{Collected, Store};
use dojo_validator::view::MinerView;
use rand::{Rng, SeedableRng};

struct Args {
    tasks: usize,
    miners: usize,
    batch: usize,
    url: Option<String>,
    score_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        tasks: 10_000,
        miners: 256,
        batch: 512,
        url: None,
        score_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--tasks" => a.tasks = val().parse().expect("--tasks"),
            "--miners" => a.miners = val().parse().expect("--miners"),
            "--batch" => a.batch = val().parse().expect("--batch"),
            "--database-url" => a.url = Some(val()),
            "--score-only" => a.score_only = true,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn hotkey(i: usize) -> Hotkey {
    Hotkey::new(format!("5Miner{i:0>42}")).unwrap()
}

/// VmHWM (peak resident set) of this process, MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_owned();
            l.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A task like the synthetic API's: four ~2 KB pages.
fn task(n: usize, rng: &mut impl Rng) -> (Task, Ranking) {
    let ids: Vec<CompletionId> = (0..4)
        .map(|i| CompletionId::new(format!("t{n}-c{i}")).unwrap())
        .collect();
    let page: String = (0..2048)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    let task = Task {
        id: TaskId::new(format!("bench-{n:06}")).unwrap(),
        previous: None,
        prompt: format!("build page {n}"),
        task_type: TaskType::CodeGeneration,
        completions: ids
            .iter()
            .map(|c| Completion {
                id: c.clone(),
                content: CompletionContent::Text(format!("<html>{c}{page}</html>")),
            })
            .collect(),
        criteria: vec![Criterion::MultiScore {
            options: ids.iter().map(|c| c.to_string()).collect(),
            min: 1.0,
            max: 100.0,
        }],
        expire_at_unix_ms: n as i64,
    };
    let truth = Ranking::new(ids.into_iter().enumerate().map(|(i, c)| (c, i as u32))).unwrap();
    (task, truth)
}

async fn fill(store: &Store, a: &Args) -> f64 {
    let start = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let hotkeys: Vec<Hotkey> = (0..a.miners).map(hotkey).collect();
    let book = ScoreBook {
        entries: hotkeys.iter().map(|h| (Some(h.clone()), 0.0)).collect(),
    };
    store.save_ema(&book).await.unwrap();
    for n in 0..a.tasks {
        let (t, truth) = task(n, &mut rng);
        let parts: Vec<(Hotkey, Uid, MinerView)> = hotkeys
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), Uid(i as u16), MinerView::random(&t, &mut rng)))
            .collect();
        store.insert_round(&t, &truth, &parts, 0).await.unwrap();
        let collected: Vec<Collected> = hotkeys
            .iter()
            .map(|h| Collected {
                hotkey: h.clone(),
                outcome: "accepted".into(),
                reason: None,
                answer: Some(Answer::Scores(
                    t.completions
                        .iter()
                        .map(|c| (c.id.clone(), f64::from(rng.random_range(1..=100u8))))
                        .collect::<CompletionMap<f64>>(),
                )),
            })
            .collect();
        store.record_collection(&t.id, &collected, 0).await.unwrap();
    }
    start.elapsed().as_secs_f64()
}

async fn score(url: &str, a: &Args) -> serde_json::Value {
    let store = Store::open(url).await.unwrap();
    let rss_before = peak_rss_mib();
    let me = Keypair::from_uri("//Alice").unwrap();
    let devnet = dojo_devnet::Devnet::open(dojo_devnet::DevnetConfig {
        state_dir: None,
        block_time: None,
    })
    .unwrap();
    let config = Config {
        netuid: 1,
        hotkey: me.ss58(),
        mechanism: MechanismConfig::from_name("dojo-v1-ground-truth").unwrap(),
        alpha: 0.3,
        absent: AbsentMiners::Decay,
        intervals: Intervals::spec(),
        version_key: 1,
        miner_max_stake: u64::MAX,
        sample_size: None,
        score_bounds: (1.0, 100.0),
        metrics_listen: None,
        event_log: None,
        wandb: None,
        scoring_batch: a.batch,
        probes: None,
    };
    let dendrite = dojo_transport::Dendrite::new(me, dojo_transport::DendriteConfig::default());
    let client = dojo_synthetic_api::client::SyntheticClient::new(
        "http://127.0.0.1:9",
        None,
        Duration::from_secs(1),
    )
    .unwrap();
    let v = Arc::new(
        Validator::new(config, devnet, store.clone(), dendrite, client)
            .await
            .unwrap(),
    );
    let start = Instant::now();
    let mut passes = 0;
    let mut scored = 0;
    let mut slowest = 0f64;
    loop {
        let t = Instant::now();
        let n = v.score().await.unwrap();
        if n == 0 {
            break;
        }
        slowest = slowest.max(t.elapsed().as_secs_f64());
        passes += 1;
        scored += n;
    }
    let total = start.elapsed().as_secs_f64();
    assert_eq!(scored, a.tasks, "every task scored");
    let book = v.scores().await;
    assert!(book.scores().iter().any(|s| *s > 0.0), "the average moved");
    serde_json::json!({
        "scored": scored,
        "passes": passes,
        "full_pass_seconds": total,
        "slowest_batch_seconds": slowest,
        "peak_rss_mib": peak_rss_mib(),
        "rss_at_open_mib": rss_before,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    if a.score_only {
        let url = a.url.clone().expect("--score-only needs --database-url");
        println!("{}", score(&url, &a).await);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = a
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = Store::open(&url).await.unwrap();
    let fill_seconds = fill(&store, &a).await;
    store.close().await;
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--score-only", "--database-url", &url])
        .args(["--tasks", &a.tasks.to_string()])
        .args(["--miners", &a.miners.to_string()])
        .args(["--batch", &a.batch.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scoring process: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["tasks"] = a.tasks.into();
    v["miners"] = a.miners.into();
    v["batch"] = a.batch.into();
    v["fill_seconds"] = fill_seconds.into();
    v["database"] = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
    .into();
    println!("{v}");
}
