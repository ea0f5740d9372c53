//! The crash-safety harness: the real `dojo-validator` binary against a devnet served over gRPC,
//! three in-process miners with deterministic answers and a deterministic synthetic source; the
//! validator is SIGKILLed at random points (seeded) at least 20 times, restarted on the same
//! database each time, then left to finish. Checked afterwards:
//!
//! * no task lost: every task the source served is stored, except at most one per kill that the
//!   killed process had fetched but not yet written (it never reached a miner); none is left
//!   uncollected or unscored;
//! * no result lost: every stored miner part has its result, accepted;
//! * no score applied twice: one per-task score per accepted result, and the final moving average
//!   equals an uninterrupted in-process run over the same tasks and the same miner answers;
//! * no weights submitted twice: the chain refused none, none is left pending, accepted sets are
//!   at least a rate limit apart, and the chain holds none newer than the last one recorded.
//!
//! Determinism: miners score each completion by a hash of its content (not of its obfuscated id
//! or position), the source serves `OfflineGenerator` tasks for seeds 0, 1, 2, … in order, and the
//! validator scores one task per pass (`--neuron.scoring_batch 1`), oldest first, so the moving
//! average is a fold over the scored tasks in creation order, however the passes were interrupted.
//!
//! The validator processes log at `warn` (`DOJO_HARNESS_LOG` overrides their `RUST_LOG`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dojo_devnet::{Devnet, DevnetConfig, SubnetParams};
use dojo_identity::{Keypair, Wallet};
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_synthetic::Generator as _;
use dojo_synthetic_api::wire::{Envelope, SyntheticQa};
use dojo_transport::{AxonConfig, AxonLayer, MetagraphCache, RateLimit, serve_miner};
use dojo_types::Hotkey;
use dojo_types::chain::{AxonInfo, Chain};
use dojo_validator::store::Store;
use prost::Message as _;
use rand::{Rng, SeedableRng};
use tonic::{Request, Response, Status};

const RATE_LIMIT: u64 = 5;
const KILLS: usize = 20;
const MINERS: u64 = 3;

/// Task id → the score given to each completion id this miner was shown.
type Answers = Arc<Mutex<BTreeMap<String, Vec<(String, f64)>>>>;

/// Scores each completion `1 + fnv(salt, content) mod 100`: a deterministic answer that depends
/// on what the completion says, not on the id or order this miner was shown.
#[derive(Clone)]
struct HashMiner {
    salt: u64,
    answers: Answers,
}

fn fnv(salt: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[tonic::async_trait]
impl Miner for HashMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let t = r
            .into_inner()
            .task
            .ok_or_else(|| Status::invalid_argument("no task"))?;
        let scores = t
            .completions
            .iter()
            .map(|c| {
                let mut body = c.clone();
                body.completion_id.clear();
                let s = 1 + fnv(self.salt, &body.encode_to_vec()) % 100;
                (c.completion_id.clone(), s as f64)
            })
            .collect();
        self.answers
            .lock()
            .unwrap()
            .insert(t.task_id.clone(), scores);
        Ok(Response::new(v1::TaskAck {
            miner_task_id: format!("m-{}", t.task_id),
        }))
    }
    async fn fetch_results(
        &self,
        r: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        let id = r.into_inner().task_id;
        let answers = self.answers.lock().unwrap();
        let scores = answers.get(&id).ok_or_else(|| Status::not_found("task"))?;
        Ok(Response::new(v1::TaskResults {
            task_id: id,
            results: vec![v1::WorkerResult {
                worker_id: "w".into(),
                answers: scores
                    .iter()
                    .map(|(c, s)| v1::CompletionAnswer {
                        completion_id: c.clone(),
                        answer: Some(v1::completion_answer::Answer::Score(*s)),
                    })
                    .collect(),
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

/// A synthetic API that serves a fixed list of tasks in order (503 once empty or closed) and
/// records what it served.
#[derive(Clone, Default)]
struct Source {
    queue: Arc<Mutex<VecDeque<SyntheticQa>>>,
    served: Arc<Mutex<Vec<SyntheticQa>>>,
    closed: Arc<AtomicBool>,
}

impl Source {
    async fn serve(&self) -> String {
        let src = self.clone();
        let app = axum::Router::new().route(
            "/api/synthetic-gen",
            axum::routing::get(move || {
                let src = src.clone();
                async move {
                    let next = if src.closed.load(Ordering::SeqCst) {
                        None
                    } else {
                        src.queue.lock().unwrap().pop_front()
                    };
                    let code = if next.is_some() { 200 } else { 503 };
                    if let Some(qa) = &next {
                        src.served.lock().unwrap().push(qa.clone());
                    }
                    let body = Envelope {
                        success: next.is_some(),
                        error: next.is_none().then(|| "no task".to_owned()),
                        body: next,
                    };
                    (
                        axum::http::StatusCode::from_u16(code).unwrap(),
                        [("content-type", "application/json")],
                        serde_json::to_string(&body).unwrap(),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }
}

/// The deterministic task sequence: the offline generator's tasks for seeds 0, 1, 2, ….
async fn tasks(n: u64) -> Vec<SyntheticQa> {
    let g = dojo_synthetic::OfflineGenerator::default();
    let mut out = Vec::new();
    let mut prompts = BTreeSet::new();
    for seed in 0.. {
        if out.len() as u64 == n {
            break;
        }
        let t = g.generate(seed).await.unwrap();
        let qa = SyntheticQa::from(&t);
        // Prompts identify tasks across the two runs, so they must be unique.
        if prompts.insert(qa.prompt.clone()) {
            out.push(qa);
        }
    }
    out
}

struct Net {
    devnet: Devnet,
    chain_url: String,
    wallets: tempfile::TempDir,
    validator: Keypair,
}

async fn network() -> Net {
    let devnet = Devnet::open(DevnetConfig {
        state_dir: None,
        block_time: Some(Duration::from_millis(50)),
    })
    .unwrap();
    let params = SubnetParams {
        tempo: 9,
        min_allowed_weights: 1,
        weights_rate_limit: RATE_LIMIT,
        commit_reveal_weights_enabled: false,
        immunity_period: 10_000,
        emission_per_block: 0,
        ..SubnetParams::default()
    };
    let owner = Hotkey::new("owner-cold").unwrap();
    devnet
        .apply(|s| {
            s.create_subnet(1, owner.clone(), None, params)?;
            s.faucet(&owner, 1 << 50);
            Ok(())
        })
        .unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let wallets = tempfile::tempdir().unwrap();
    Wallet::new(wallets.path(), "v", "default")
        .unwrap()
        .write_hotkey(&alice, false)
        .unwrap();
    devnet
        .burned_register(&owner, 1, &alice.ss58())
        .await
        .unwrap();
    devnet
        .apply(|s| s.add_stake(&alice.ss58(), 1, 1_000_000_000_000))
        .unwrap();
    let miners: Vec<Keypair> = (1..=MINERS)
        .map(|i| Keypair::from_uri(&format!("//Miner{i}")).unwrap())
        .collect();
    for k in &miners {
        devnet.burned_register(&owner, 1, &k.ss58()).await.unwrap();
    }
    let cache = Arc::new(MetagraphCache::new());
    cache.refresh(&devnet, 1).await.unwrap();
    for (i, k) in miners.iter().enumerate() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // A restart collects every task that fell due while it was down, one fetch per miner
        // each, faster than the default 20 req/s limit allows; this harness is about crashes.
        let mut axon = AxonConfig::new(k.ss58());
        axon.rate_limit = RateLimit {
            per_second: 1000.0,
            burst: 1000,
        };
        let layer = AxonLayer::new(axon, cache.clone());
        let miner = HashMiner {
            salt: i as u64 + 1,
            answers: Arc::default(),
        };
        tokio::spawn(serve_miner(miner, listener, layer, std::future::pending()));
        let ip = u128::from(u32::from(std::net::Ipv4Addr::LOCALHOST));
        devnet
            .serve_axon(
                &k.ss58(),
                1,
                AxonInfo {
                    block: 0,
                    version: 1,
                    ip,
                    port,
                    ip_type: 4,
                    protocol: 4,
                },
            )
            .await
            .unwrap();
    }
    devnet.advance_blocks(12).unwrap();
    devnet.spawn_clock();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let chain_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(dojo_devnet::grpc::serve(
        devnet.clone(),
        listener,
        std::future::pending(),
    ));
    Net {
        devnet,
        chain_url,
        wallets,
        validator: alice,
    }
}

fn spawn(net: &Net, synthetic: &str, db: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["run", "--netuid", "1", "--wallet.name", "v", "--fast"])
        .args([
            "--neuron.min_stake",
            "1000000",
            "--neuron.scoring_batch",
            "1",
        ])
        .args(["--neuron.timeout", "3"])
        .args(["--wallet.path", net.wallets.path().to_str().unwrap()])
        .args(["--subtensor.chain_endpoint", &net.chain_url])
        .args(["--synthetic.url", synthetic])
        .args(["--database.url", db])
        .env(
            "RUST_LOG",
            std::env::var("DOJO_HARNESS_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The same tasks and miners through an uninterrupted in-process validator with the binary's
/// `--fast` settings; returns its moving average by hotkey.
async fn uninterrupted(net: &Net, qas: Vec<SyntheticQa>) -> BTreeMap<String, f64> {
    let n = qas.len();
    let source = Source::default();
    source.queue.lock().unwrap().extend(qas);
    let url = source.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("ref.db").display()))
        .await
        .unwrap();
    let mut intervals = dojo_validator::service::Intervals::fast();
    intervals.task_deadline = Duration::from_millis(300);
    let config = dojo_validator::service::Config {
        netuid: 1,
        hotkey: net.validator.ss58(),
        mechanism: dojo_scoring::MechanismConfig::from_name("dojo-v1-ground-truth").unwrap(),
        alpha: 0.3,
        absent: dojo_scoring::AbsentMiners::Decay,
        intervals,
        version_key: 1,
        miner_max_stake: 1_000_000_000_000_000,
        sample_size: None,
        score_bounds: (1.0, 100.0),
        metrics_listen: None,
        event_log: None,
        wandb: None,
        scoring_batch: 1,
        probes: None,
    };
    let dendrite = dojo_transport::Dendrite::new(
        net.validator.clone(),
        dojo_transport::DendriteConfig {
            timeout: Duration::from_secs(3),
            ..Default::default()
        },
    );
    let client =
        dojo_synthetic_api::client::SyntheticClient::new(&url, None, Duration::from_secs(5))
            .unwrap();
    let v = dojo_validator::service::Validator::new(
        config,
        net.devnet.clone(),
        store.clone(),
        dendrite,
        client,
    )
    .await
    .unwrap();
    v.sync_metagraph().await.unwrap();
    v.heartbeat().await.unwrap();
    for _ in 0..n {
        v.round().await.unwrap();
        // Distinct deadlines keep the creation order the scoring order.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    assert_eq!(store.count("sent").await.unwrap() as usize, n);
    tokio::time::sleep(Duration::from_millis(400)).await;
    while v.collect().await.unwrap() > 0 {}
    while v.score().await.unwrap() > 0 {}
    assert_eq!(store.count("scored").await.unwrap() as usize, n);
    v.scores()
        .await
        .entries
        .into_iter()
        .filter_map(|(h, s)| Some((h?.to_string(), s)))
        .collect()
}

async fn harness(db: &str) {
    let net = network().await;
    let qas = tasks(60).await;
    let source = Source::default();
    source.queue.lock().unwrap().extend(qas.iter().cloned());
    let synthetic = source.serve().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let store = Store::open(db).await.unwrap();
    let mut kills = 0;
    let t0 = std::time::Instant::now();
    // At least KILLS kills and at least KILLS rounds stored, each kill at a random point of a
    // life: before the first sync, mid-round, mid-collection, mid-scoring or mid-weights.
    while kills < KILLS
        || (store.count("sent").await.unwrap()
            + store.count("collected").await.unwrap()
            + store.count("scored").await.unwrap())
            < KILLS as i64
    {
        // About 35 s on an idle 2-core machine; the bound leaves room for a loaded CI run.
        assert!(
            t0.elapsed() < Duration::from_secs(240),
            "crash phase too slow: {kills} kills"
        );
        let mut child = spawn(&net, &synthetic, db);
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..1800))).await;
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    // No new rounds from here on; the last life drains what is outstanding.
    source.closed.store(true, Ordering::SeqCst);
    let mut child = spawn(&net, &synthetic, db);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let open = store.count("sent").await.unwrap() + store.count("collected").await.unwrap();
        let pending = store.submissions(Some("pending")).await.unwrap().is_empty();
        if open == 0 && pending {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "validator exited early"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "not drained in 60 s: {open} open"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the weight scheduler act on the final average, then stop cleanly.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status}");

    // No task lost.
    let served = source.served.lock().unwrap().clone();
    let ids = store.tasks_in("scored", None, 10_000).await.unwrap();
    let mut stored = Vec::new();
    for id in &ids {
        stored.push(store.load(id).await.unwrap());
    }
    let stored_prompts: BTreeSet<&str> = stored.iter().map(|t| t.task.prompt.as_str()).collect();
    assert_eq!(stored_prompts.len(), stored.len(), "no task stored twice");
    let served_prompts: BTreeSet<&str> = served.iter().map(|q| q.prompt.as_str()).collect();
    assert!(stored_prompts.is_subset(&served_prompts));
    let dropped = served.len() - stored.len();
    assert!(
        dropped <= kills,
        "{dropped} fetched tasks never stored, more than one per kill ({kills})"
    );
    assert!(stored.len() >= KILLS, "{} rounds", stored.len());
    assert_eq!(store.count("sent").await.unwrap(), 0);
    assert_eq!(store.count("collected").await.unwrap(), 0);
    // No result lost, no score applied twice.
    for t in &stored {
        assert_eq!(t.assignments.len(), MINERS as usize, "{}", t.task.id);
        assert_eq!(t.responses.len(), MINERS as usize, "{}", t.task.id);
        assert!(
            t.responses.iter().all(|r| r.outcome == "accepted"),
            "{}: {:?} {:?}",
            t.task.id,
            t.responses,
            t.assignments
                .iter()
                .map(|a| a.send_outcome.clone())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            store.task_scores(&t.task.id).await.unwrap().len(),
            MINERS as usize
        );
    }
    // No weights submitted twice.
    let subs = store.submissions(None).await.unwrap();
    assert!(
        subs.iter()
            .all(|s| matches!(s.status.as_str(), "set" | "abandoned")),
        "refused or pending submissions: {subs:?}"
    );
    let sets: Vec<u64> = subs
        .iter()
        .filter(|s| s.status == "set")
        .map(|s| s.block)
        .collect();
    assert!(!sets.is_empty(), "weights were set");
    assert!(
        sets.windows(2).all(|w| w[1] >= w[0] + RATE_LIMIT),
        "one set per rate limit: {sets:?}"
    );
    let mg = net.devnet.metagraph(1).await.unwrap();
    let me = mg
        .neurons
        .iter()
        .find(|n| n.hotkey == net.validator.ss58())
        .unwrap();
    let last = *sets.last().unwrap();
    assert!(
        me.last_update >= last && me.last_update < last + RATE_LIMIT,
        "the chain's last weights ({}) are the last recorded set ({last})",
        me.last_update
    );
    // Final average equal to an uninterrupted run over the same tasks, in the same order.
    let by_prompt: BTreeMap<&str, &SyntheticQa> =
        served.iter().map(|q| (q.prompt.as_str(), q)).collect();
    let order: Vec<SyntheticQa> = stored
        .iter()
        .map(|t| (*by_prompt[t.task.prompt.as_str()]).clone())
        .collect();
    let crashed: BTreeMap<String, f64> = store
        .load_ema()
        .await
        .unwrap()
        .entries
        .into_iter()
        .filter_map(|(h, s)| Some((h?.to_string(), s)))
        .collect();
    let reference = uninterrupted(&net, order).await;
    assert_eq!(crashed.len(), reference.len());
    for (h, s) in &reference {
        let c = crashed[h];
        assert!(
            (c - s).abs() < 1e-12,
            "{h}: {c} after {kills} kills vs {s} uninterrupted"
        );
    }
    assert!(
        reference.values().any(|s| *s > 0.0),
        "the average moved: {reference:?}"
    );
    // `dojo-validator export` on what the harness collected: one line per ordered pair.
    let pairs: usize = stored
        .iter()
        .map(|t| t.task.completions.len() * (t.task.completions.len() - 1) / 2)
        .sum();
    let out = tempfile::tempdir().unwrap();
    for format in ["jsonl", "parquet"] {
        let st = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
            .args(["export", "--format", format, "--database.url", db])
            .arg("--out")
            .arg(out.path())
            .status()
            .unwrap();
        assert!(st.success(), "export --format {format}");
    }
    let jsonl = std::fs::read_to_string(out.path().join("train.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), pairs);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    for k in [
        "prompt",
        "chosen",
        "rejected",
        "chosen_score",
        "ground_truth",
        "miner_uids",
    ] {
        assert!(first.get(k).is_some(), "{k} in {first}");
    }
    assert!(
        std::fs::metadata(out.path().join("train.parquet"))
            .unwrap()
            .len()
            > 0
    );
    store.close().await;
    eprintln!(
        "crash harness: {kills} kills, {} tasks, {} dropped in flight, {} weight sets, {:.1} s",
        stored.len(),
        dropped,
        sets.len(),
        t0.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkilled_validator_loses_nothing_and_matches_an_uninterrupted_run_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    harness(&format!("sqlite://{}", dir.path().join("v.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkilled_validator_loses_nothing_and_matches_an_uninterrupted_run_postgres() {
    use sqlx::any::{AnyPoolOptions, install_default_drivers};
    install_default_drivers();
    let base = std::env::var("DOJO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let admin = match AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&format!("{base}/postgres"))
        .await
    {
        Ok(p) => p,
        Err(e) => {
            assert!(
                !std::env::var("DOJO_CI").is_ok_and(|v| !v.is_empty() && v != "0"),
                "PostgreSQL at {base} under DOJO_CI=1: {e}"
            );
            eprintln!("skipping: PostgreSQL at {base} ({e})");
            return;
        }
    };
    let name = format!(
        "dojo_crash_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    harness(&format!("{base}/{name}")).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}
