//! One validator round end to end at 256 miners: a task from the synthetic API (offline generator)
//! sent to every miner through the signed fan-out, the answers fetched after the deadline and
//! bridged into scoring, the scoring pass with its moving-average step, and weights set on the
//! devnet. Everything but the miners is the product: the real devnet, the validator service on
//! SQLite, real axons and signatures. The miners are doubles that score the completions they were
//! shown, so the figure is the validator's work and the transport's, not a miner's.
//!
//! `cargo bench -p dojo-benches --bench round` (`DOJO_BENCH_MINERS=N` for another count).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dojo_devnet::{Devnet, DevnetConfig, SubnetParams};
use dojo_identity::Keypair;
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_scoring::{AbsentMiners, MechanismConfig};
use dojo_synthetic::OfflineGenerator;
use dojo_synthetic_api::client::SyntheticClient;
use dojo_transport::{
    AxonConfig, AxonLayer, Dendrite, DendriteConfig, MetagraphCache, RateLimit, serve_miner,
};
use dojo_types::chain::{AxonInfo, Chain};
use dojo_validator::service::{Config, Intervals, Validator};
use dojo_validator::store::Store;
use tonic::{Request, Response, Status};

const NETUID: u16 = 1;

fn score_of(miner: usize, id: &str) -> f64 {
    let h = id
        .bytes()
        .fold(miner as u64 ^ 0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    1.0 + (h % 99) as f64
}

/// Scores every completion it was shown by a hash of its id, so different miners disagree a
/// little and scoring has real work; remembers the ids per task to answer the fetch.
struct BenchMiner {
    index: usize,
    seen: Mutex<HashMap<String, Vec<String>>>,
}

#[tonic::async_trait]
impl Miner for BenchMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let task = r.into_inner().task.unwrap_or_default();
        let ids = task
            .completions
            .iter()
            .map(|c| c.completion_id.clone())
            .collect();
        let mut seen = self.seen.lock().unwrap();
        // Only the rounds in flight are kept: a bench of many rounds must not grow without end.
        if seen.len() > 64 {
            seen.clear();
        }
        seen.insert(task.task_id.clone(), ids);
        Ok(Response::new(v1::TaskAck {
            miner_task_id: format!("m-{}", task.task_id),
        }))
    }
    async fn fetch_results(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        let id = r.into_inner().task_id;
        let ids = self
            .seen
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .ok_or_else(|| Status::not_found("no such task"))?;
        let answers = ids
            .iter()
            .map(|c| v1::CompletionAnswer {
                completion_id: c.clone(),
                answer: Some(v1::completion_answer::Answer::Score(score_of(
                    self.index, c,
                ))),
            })
            .collect();
        Ok(Response::new(v1::TaskResults {
            task_id: id,
            results: vec![v1::WorkerResult {
                worker_id: "w1".into(),
                answers,
            }],
            status: v1::ResultStatus::Complete.into(),
        }))
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
        r: Request<v1::RankingRequest>,
    ) -> Result<Response<v1::RankingResult>, Status> {
        Ok(Response::new(v1::RankingResult {
            request_id: r.into_inner().request_id,
            scores: vec![],
        }))
    }
}

struct Net {
    devnet: Devnet,
    validator: Validator<Devnet>,
    _dir: tempfile::TempDir,
}

async fn synthetic() -> String {
    let mut c = dojo_synthetic_api::Config::new("127.0.0.1:0".parse().unwrap());
    // Tasks are made ahead of the rounds, so the bench does not time the generator.
    c.buffer = 32;
    c.workers = 1;
    let app = dojo_synthetic_api::App::new(c, OfflineGenerator::default(), None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = dojo_synthetic_api::serve(app, listener, std::future::pending()).await;
    });
    base
}

async fn network(miners: usize) -> Net {
    let devnet = Devnet::open(DevnetConfig {
        state_dir: None,
        block_time: None,
    })
    .unwrap();
    let params = SubnetParams {
        tempo: 99,
        max_allowed_uids: u16::try_from(miners + 1).unwrap().max(256),
        min_allowed_weights: 1,
        weights_rate_limit: 1,
        commit_reveal_weights_enabled: false,
        immunity_period: 10_000,
        emission_per_block: 0,
        ..SubnetParams::default()
    };
    let owner = dojo_types::Hotkey::new("owner-cold").unwrap();
    let validator = Keypair::from_uri("//Alice").unwrap();
    devnet
        .apply(|s| {
            s.create_subnet(NETUID, owner.clone(), None, params)?;
            s.faucet(&owner, 1 << 60);
            Ok(())
        })
        .unwrap();
    devnet
        .burned_register(&owner, NETUID, &validator.ss58())
        .await
        .unwrap();
    devnet
        .apply(|s| s.add_stake(&validator.ss58(), NETUID, 1_000_000_000_000))
        .unwrap();
    let keys: Vec<Keypair> = (0..miners)
        .map(|i| Keypair::from_uri(&format!("//RoundMiner{i}")).unwrap())
        .collect();
    for k in &keys {
        devnet
            .burned_register(&owner, NETUID, &k.ss58())
            .await
            .unwrap();
    }
    let cache = Arc::new(MetagraphCache::new());
    cache.refresh(&devnet, NETUID).await.unwrap();
    for (i, k) in keys.iter().enumerate() {
        let mut config = AxonConfig::new(k.ss58());
        // The validator calls every axon a few times per measured round, faster than the
        // default per-caller limit allows; the bench measures the round, not the limiter.
        config.rate_limit = RateLimit {
            per_second: 10_000.0,
            burst: 10_000,
        };
        let layer = AxonLayer::new(config, cache.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let std::net::SocketAddr::V4(v4) = listener.local_addr().unwrap() else {
            panic!("loopback is IPv4")
        };
        let miner = BenchMiner {
            index: i,
            seen: Mutex::default(),
        };
        tokio::spawn(async move {
            let _ = serve_miner(miner, listener, layer, std::future::pending()).await;
        });
        devnet
            .serve_axon(
                &k.ss58(),
                NETUID,
                AxonInfo {
                    block: 0,
                    version: 1,
                    ip: u128::from(u32::from(*v4.ip())),
                    port: v4.port(),
                    ip_type: 4,
                    protocol: 4,
                },
            )
            .await
            .unwrap();
    }
    // One epoch gives the staked validator its permit.
    devnet.advance_blocks(101).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::open(&url).await.unwrap();
    let config = Config {
        netuid: NETUID,
        hotkey: validator.ss58(),
        mechanism: MechanismConfig::from_name("dojo-v1-ground-truth").unwrap(),
        alpha: 0.3,
        absent: AbsentMiners::Decay,
        intervals: Intervals {
            // Collection is called right after the round: the deadline has to be past by then.
            task_deadline: Duration::from_millis(1),
            ..Intervals::fast()
        },
        version_key: 1,
        miner_max_stake: u64::MAX,
        sample_size: None,
        score_bounds: (1.0, 100.0),
        metrics_listen: None,
        event_log: None,
        wandb: None,
        scoring_batch: 256,
        probes: None,
    };
    let dendrite = Dendrite::new(
        validator,
        DendriteConfig {
            timeout: Duration::from_secs(10),
            ..DendriteConfig::default()
        },
    );
    let client = SyntheticClient::new(&synthetic().await, None, Duration::from_secs(10)).unwrap();
    let v = Validator::new(config, devnet.clone(), store, dendrite, client)
        .await
        .unwrap();
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    Net {
        devnet,
        validator: v,
        _dir: dir,
    }
}

/// One round: send, collect, score (with the moving average), set weights. Panics unless every
/// step did its work, so a broken step cannot pass as a fast one.
async fn round(net: &Net, miners: usize) {
    let v = &net.validator;
    let accepted = || {
        v.metrics
            .get("dojo_responses_total", &[("outcome", "accepted")])
    };
    let accepted_before = accepted();
    v.round().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(v.collect().await.unwrap(), 1, "one task collected");
    assert_eq!(v.score().await.unwrap(), 1, "one task scored");
    let before = v.metrics.get("dojo_weights_set_total", &[("kind", "set")]);
    // The weights rate limit is one block.
    net.devnet.advance_blocks(1).unwrap();
    v.weights_step().await.unwrap();
    assert_eq!(
        v.metrics.get("dojo_weights_set_total", &[("kind", "set")]),
        before + 1.0,
        "weights set"
    );
    assert_eq!(
        accepted() - accepted_before,
        miners as f64,
        "every miner's answer accepted"
    );
}

/// Miners in the measured round: 256, or `DOJO_BENCH_MINERS`.
fn miners() -> usize {
    std::env::var("DOJO_BENCH_MINERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn bench(c: &mut Criterion) {
    let miners = miners();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let net = rt.block_on(network(miners));
    // A warm-up round opens the connections, as a running validator's are.
    rt.block_on(round(&net, miners));
    let mut g = c.benchmark_group("validator_round");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function(format!("miners{miners}"), |b| {
        b.iter(|| rt.block_on(round(&net, miners)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
