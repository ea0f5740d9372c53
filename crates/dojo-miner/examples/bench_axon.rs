//! Measures the miner in one process: resident memory idle and with N stored tasks, and how many
//! tasks per second it acknowledges through the signed axon (every task signed by a dendrite,
//! verified, decoded, checked and committed to SQLite with `synchronous = FULL` before the
//! acknowledgement). The dendrite runs in the same process, so the RSS figures include it.
//!
//! `cargo run --release -p dojo-miner --example bench_axon -- [TASKS] [VALIDATORS]`
//! (defaults 10000 and 8). Each validator sends its share one task after another: the axon
//! refuses a nonce older than the newest it accepted from that dendrite, so one dendrite's
//! requests must not overtake each other. Prints one JSON object.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dojo_devnet::{Devnet, SubnetParams};
use dojo_identity::Keypair;
use dojo_miner::provider::HumanProvider;
use dojo_miner::web::WebConfig;
use dojo_miner::{Identity, MinerConfig, Store, TaskLimits};
use dojo_proto::v1;
use dojo_transport::{AxonTarget, CallOutcome, Dendrite, DendriteConfig, RateLimit};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn task(i: usize) -> v1::SendTaskRequest {
    let expire = dojo_miner::grpc::now_ms() / 1000 + 3600;
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: format!("bench-{i}"),
            prompt: "Build a single-file page with a bouncing ball".into(),
            task_type: v1::TaskType::CodeGeneration as i32,
            completions: (0..4)
                .map(|c| v1::Completion {
                    completion_id: format!("c{c}"),
                    content: Some(v1::completion::Content::Code(v1::CodeAnswer {
                        files: vec![v1::CodeFile {
                            filename: "index.html".into(),
                            content: format!(
                                "<!doctype html><canvas id=c></canvas><script>/* {c} */{}</script>",
                                "x=1;".repeat(400)
                            ),
                            language: "html".into(),
                        }],
                        installation_commands: String::new(),
                    })),
                })
                .collect(),
            criteria: vec![v1::Criterion {
                kind: Some(v1::criterion::Kind::MultiScore(v1::MultiScoreCriterion {
                    options: (0..4).map(|c| format!("c{c}")).collect(),
                    min: 1.0,
                    max: 100.0,
                })),
            }],
            expire_at: Some(prost_types::Timestamp {
                seconds: expire,
                nanos: 0,
            }),
            ..Default::default()
        }),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8).max(1);
    let devnet = Devnet::in_memory();
    let owner = Keypair::from_uri("//Owner").unwrap().ss58();
    let validators: Vec<Keypair> = (0..conc)
        .map(|i| Keypair::from_uri(&format!("//Validator{i}")).unwrap())
        .collect();
    devnet
        .apply(|s| {
            s.create_subnet(1, owner.clone(), None, SubnetParams::default())?;
            s.faucet(&owner, 1_000_000_000_000);
            for v in &validators {
                s.burned_register(&owner, 1, &v.ss58())?;
            }
            Ok(())
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.sqlite")).await.unwrap();
    let config = MinerConfig {
        netuid: 1,
        axon_bind: "127.0.0.1:0".parse().unwrap(),
        external_ip: None,
        external_port: None,
        register: true,
        min_stake: 0.0,
        require_validator_permit: false,
        rate_limit: RateLimit {
            per_second: 1e6,
            burst: 1_000_000,
        },
        metagraph_refresh: Duration::from_secs(60),
        sweep_interval: Duration::from_secs(3600),
        retention: Duration::from_secs(3600),
        limits: TaskLimits {
            max_open_tasks: u64::MAX,
            ..TaskLimits::default()
        },
        judge_concurrency: 1,
        web: Some(WebConfig::new("127.0.0.1:0".parse().unwrap())),
        version: "bench".into(),
        version_as_int: 0,
    };
    let miner_key = Keypair::from_uri("//Miner").unwrap();
    let target_hotkey = miner_key.ss58();
    let running = dojo_miner::start(
        config,
        Arc::new(devnet),
        Identity {
            hotkey: miner_key,
            coldkey: owner,
        },
        store.clone(),
        Arc::new(HumanProvider { max_results: 1 }),
    )
    .await
    .unwrap();
    let target = AxonTarget {
        addr: running.axon_addr,
        hotkey: target_hotkey,
    };
    let dendrites: Vec<Dendrite> = validators
        .into_iter()
        .map(|v| Dendrite::new(v, DendriteConfig::default()))
        .collect();
    // One call each to open the connections before measuring.
    for d in &dendrites {
        let warm = d
            .call(&target, v1::HeartbeatRequest {}, |mut c, r| async move {
                c.heartbeat(r).await
            })
            .await;
        assert!(warm.success().is_some(), "{}", warm.kind());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_mib();
    let start = Instant::now();
    let failures: usize = futures::future::join_all(dendrites.iter().enumerate().map(|(k, d)| {
        let t = target.clone();
        async move {
            let mut failed = 0;
            for i in (k..n).step_by(conc) {
                match d
                    .call(&t, task(i), |mut c, r| async move { c.send_task(r).await })
                    .await
                {
                    CallOutcome::Success { response, .. } if !response.miner_task_id.is_empty() => {
                    }
                    other => {
                        if failed == 0 {
                            eprintln!("first failure: {other:?}");
                        }
                        failed += 1;
                    }
                }
            }
            failed
        }
    }))
    .await
    .into_iter()
    .sum();
    let secs = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let loaded = rss_mib();
    let stored = store.count_tasks().await.unwrap();
    let out = serde_json::json!({
        "tasks": n,
        "validators": conc,
        "failures": failures,
        "stored": stored,
        "seconds": secs,
        "tasks_per_second": n as f64 / secs,
        "rss_idle_mib": idle,
        "rss_with_tasks_mib": loaded,
        "db_bytes": std::fs::metadata(dir.path().join("bench.sqlite")).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(dir.path().join("bench.sqlite-wal")).map(|m| m.len()).unwrap_or(0),
    });
    #[allow(clippy::print_stdout)]
    {
        println!("{out}");
    }
    running.shutdown();
    running.wait().await.unwrap();
}
