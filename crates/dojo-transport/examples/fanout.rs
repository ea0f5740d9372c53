//! Fan-out benchmark: one validator sends one signed task to N miner axons on loopback.
//!
//! `cargo xtask bench-fanout --miners 256 [--rounds 20] [--json]` runs this in release mode. Each
//! axon is a full `serve_miner` stack (signature, nonce, blacklist, priority gate) on its own port,
//! served by tasks of one multi-threaded runtime. After one warm-up round (connections opened),
//! every round broadcasts one task to all miners; the figures are per-call round trips over all
//! rounds and per-round wall time.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dojo_identity::Keypair;
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_transport::{
    AxonConfig, AxonLayer, AxonTarget, CallerInfo, Dendrite, DendriteConfig, MetagraphCache,
    serve_miner,
};
use dojo_types::Uid;
use tonic::{Request, Response, Status};

#[derive(Clone, Copy)]
struct AckMiner;

#[tonic::async_trait]
impl Miner for AckMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let id = r.into_inner().task.map(|t| t.task_id).unwrap_or_default();
        Ok(Response::new(v1::TaskAck {
            miner_task_id: format!("m-{id}"),
        }))
    }
    async fn fetch_results(
        &self,
        _: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        Err(Status::unimplemented("bench"))
    }
    async fn send_score_feedback(
        &self,
        _: Request<v1::ScoreFeedback>,
    ) -> Result<Response<v1::FeedbackAck>, Status> {
        Ok(Response::new(v1::FeedbackAck {}))
    }
    async fn heartbeat(
        &self,
        _: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatAck>, Status> {
        Ok(Response::new(v1::HeartbeatAck {
            ack: true,
            ..Default::default()
        }))
    }
    async fn rank_completions(
        &self,
        _: Request<v1::RankingRequest>,
    ) -> Result<Response<v1::RankingResult>, Status> {
        Err(Status::unimplemented("bench"))
    }
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn task(round: usize) -> v1::SendTaskRequest {
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: format!("bench-{round}"),
            prompt: "Write a function that reverses a linked list.".to_owned(),
            task_type: v1::TaskType::CodeGeneration as i32,
            completions: (0..4)
                .map(|i| v1::Completion {
                    completion_id: format!("c{i}"),
                    content: Some(v1::completion::Content::Text("x".repeat(512))),
                })
                .collect(),
            criteria: vec![v1::Criterion {
                kind: Some(v1::criterion::Kind::Score(v1::ScoreCriterion {
                    min: 1.0,
                    max: 100.0,
                })),
            }],
            expire_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let miners = arg(&args, "--miners", 256);
    let rounds = arg(&args, "--rounds", 20).max(1);
    let json = args.iter().any(|a| a == "--json");

    let validator = Keypair::from_uri("//BenchValidator")?;
    let cache = Arc::new(MetagraphCache::new());
    cache.replace(
        1,
        [(
            validator.ss58(),
            CallerInfo {
                uid: Uid(0),
                stake: 1e6,
                validator_permit: true,
            },
        )],
    );

    let mut targets = Vec::with_capacity(miners);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for i in 0..miners {
        let key = Keypair::from_uri(&format!("//BenchMiner{i}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        targets.push(AxonTarget {
            addr: listener.local_addr()?,
            hotkey: key.ss58(),
        });
        let layer = AxonLayer::new(AxonConfig::new(key.ss58()), cache.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _ = serve_miner(AckMiner, listener, layer, async move {
                let _ = stop.changed().await;
            })
            .await;
        });
    }

    let dendrite = Dendrite::new(
        validator,
        DendriteConfig {
            timeout: Duration::from_secs(5),
            ..DendriteConfig::default()
        },
    );
    let send = |mut c: dojo_proto::v1::miner_client::MinerClient<tonic::transport::Channel>, r| async move {
        c.send_task(r).await
    };
    let warm = dendrite.broadcast(&targets, task(0), send).await;
    let warm_ok = warm.iter().filter(|o| o.success().is_some()).count();

    let mut per_call = Vec::with_capacity(miners * rounds);
    let mut per_round = Vec::with_capacity(rounds);
    let mut failures = 0usize;
    let start = Instant::now();
    for round in 1..=rounds {
        let t = Instant::now();
        let out = dendrite.broadcast(&targets, task(round), send).await;
        per_round.push(t.elapsed().as_secs_f64() * 1e3);
        for o in &out {
            match o.success() {
                Some(_) => per_call.push(o.elapsed().as_secs_f64() * 1e3),
                None => failures += 1,
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);

    per_call.sort_by(f64::total_cmp);
    per_round.sort_by(f64::total_cmp);
    let ok = per_call.len();
    let rps = ok as f64 / wall;
    let (p50, p99, max) = (
        pct(&per_call, 50.0),
        pct(&per_call, 99.0),
        per_call.last().copied().unwrap_or(f64::NAN),
    );
    let (r50, r99) = (pct(&per_round, 50.0), pct(&per_round, 99.0));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if json {
        let v = serde_json::json!({
            "impl": "dojo-rust-grpc",
            "miners": miners,
            "rounds": rounds,
            "cores": cores,
            "warmup_ok": warm_ok,
            "ok": ok,
            "failures": failures,
            "call_ms": {"p50": p50, "p99": p99, "max": max},
            "round_ms": {"p50": r50, "p99": r99},
            "requests_per_s": rps,
            // The target is on the round: the validator waits for all its miners.
            "target_round_p99_ms": 25.0,
            "meets_target": r99 < 25.0,
        });
        println!("{v}");
    } else {
        println!(
            "fan-out: 1 validator -> {miners} miner axons on loopback, {rounds} rounds, {cores} cores"
        );
        println!(
            "  ok {ok} / {}, failures {failures} (warm-up ok {warm_ok})",
            miners * rounds
        );
        println!("  per call round trip  p50 {p50:.2} ms  p99 {p99:.2} ms  max {max:.2} ms");
        let verdict = if r99 < 25.0 { "met" } else { "NOT met" };
        println!(
            "  per round (all {miners}) p50 {r50:.2} ms  p99 {r99:.2} ms  (target round p99 < 25 ms: {verdict})"
        );
        println!("  throughput {rps:.0} requests/s");
    }
    Ok(())
}
