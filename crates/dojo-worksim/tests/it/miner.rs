//! The whole path: a real in-process miner (devnet chain, signed axon, human provider, worker
//! page over HTTP, SQLite), a validator's dendrite sending the task, the simulator answering on
//! the page, and the validator fetching the stored result.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use dojo_devnet::{Devnet, SubnetParams};
use dojo_identity::Keypair;
use dojo_miner::provider::HumanProvider;
use dojo_miner::store::KeyKind;
use dojo_miner::web::WebConfig;
use dojo_miner::{Identity, MinerConfig, RunningMiner, Store, TaskLimits};
use dojo_proto::v1;
use dojo_transport::{AxonTarget, Dendrite, DendriteConfig};
use dojo_types::Hotkey;
use dojo_worksim::{Config, CounterSnapshot, Population, Simulator};
use tokio_util::sync::CancellationToken;

use crate::fixtures::{append, content, gt_path, truth_line};

const NETUID: u16 = 7;

fn key(uri: &str) -> Keypair {
    Keypair::from_uri(uri).unwrap()
}

/// A devnet with subnet 7, a funded owner coldkey and the registered validator `//Alice`.
fn devnet() -> (Devnet, Hotkey) {
    let devnet = Devnet::in_memory();
    let owner = key("//Owner").ss58();
    devnet
        .apply(|s| {
            s.create_subnet(NETUID, owner.clone(), None, SubnetParams::default())?;
            s.faucet(&owner, 1_000_000_000_000);
            s.burned_register(&owner, NETUID, &key("//Alice").ss58())?;
            Ok(())
        })
        .unwrap();
    devnet.advance_blocks(1).unwrap();
    (devnet, owner)
}

fn config(web: std::net::SocketAddr) -> MinerConfig {
    MinerConfig {
        netuid: NETUID,
        axon_bind: "127.0.0.1:0".parse().unwrap(),
        external_ip: None,
        external_port: None,
        register: true,
        min_stake: 0.0,
        require_validator_permit: false,
        rate_limit: dojo_transport::RateLimit {
            per_second: 1000.0,
            burst: 1000,
        },
        metagraph_refresh: Duration::from_secs(1),
        sweep_interval: Duration::from_secs(3600),
        retention: Duration::from_secs(3600),
        limits: TaskLimits::default(),
        judge_concurrency: 2,
        web: Some(WebConfig::new(web)),
        version: "0.1.0-test".to_owned(),
        version_as_int: 10,
    }
}

/// A miner with the human provider over the database at `db`, its page at `web`.
async fn start_miner(
    devnet: &Devnet,
    owner: &Hotkey,
    db: &Path,
    web: std::net::SocketAddr,
    max_results: u32,
) -> (RunningMiner, Store) {
    let store = Store::open(db).await.unwrap();
    let running = dojo_miner::start(
        config(web),
        Arc::new(devnet.clone()),
        Identity {
            hotkey: key("//Miner"),
            coldkey: owner.clone(),
        },
        store.clone(),
        Arc::new(HumanProvider { max_results }),
    )
    .await
    .unwrap();
    (running, store)
}

fn target(m: &RunningMiner) -> AxonTarget {
    AxonTarget {
        addr: m.axon_addr,
        hotkey: key("//Miner").ss58(),
    }
}

fn dendrite() -> Dendrite {
    Dendrite::new(
        key("//Alice"),
        DendriteConfig {
            timeout: Duration::from_secs(20),
            ..DendriteConfig::default()
        },
    )
}

/// Task `id` with completions `content(order[k])` under ids `v-k`, criteria score 1..100 and
/// ranking.
fn send_request(id: &str, order: &[usize], expire_in: Duration) -> v1::SendTaskRequest {
    let expire = dojo_miner::grpc::now_ms() + i64::try_from(expire_in.as_millis()).unwrap();
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: id.to_owned(),
            prompt: "Build a page with a bouncing ball".to_owned(),
            task_type: v1::TaskType::CodeGeneration as i32,
            completions: order
                .iter()
                .enumerate()
                .map(|(k, &i)| v1::Completion {
                    completion_id: format!("v-{k}"),
                    content: Some(v1::completion::Content::Text(content(i))),
                })
                .collect(),
            criteria: vec![
                v1::Criterion {
                    kind: Some(v1::criterion::Kind::Score(v1::ScoreCriterion {
                        min: 1.0,
                        max: 100.0,
                    })),
                },
                v1::Criterion {
                    kind: Some(v1::criterion::Kind::Ranking(v1::RankingCriterion {})),
                },
            ],
            expire_at: Some(prost_types::Timestamp {
                seconds: expire / 1000,
                nanos: i32::try_from((expire % 1000) * 1_000_000).unwrap(),
            }),
            ..Default::default()
        }),
    }
}

async fn send(d: &Dendrite, t: &AxonTarget, req: v1::SendTaskRequest) -> v1::TaskAck {
    match d
        .call(t, req, |mut c, r| async move { c.send_task(r).await })
        .await
    {
        dojo_transport::CallOutcome::Success { response, .. } => response,
        other => panic!("send_task: {}", other.kind()),
    }
}

/// Fetches until the task is complete (at most 60 s: CI machines are shared).
async fn results(d: &Dendrite, t: &AxonTarget, id: &str) -> v1::TaskResults {
    let mut last = None;
    for _ in 0..600 {
        let req = v1::FetchResultsRequest {
            task_id: id.to_owned(),
        };
        let r = match d
            .call(t, req, |mut c, r| async move { c.fetch_results(r).await })
            .await
        {
            dojo_transport::CallOutcome::Success { response, .. } => response,
            other => panic!("fetch_results: {}", other.kind()),
        };
        if r.status == v1::ResultStatus::Complete as i32 {
            return r;
        }
        last = Some((r.status, r.results.len()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} never completed: (status, results) {last:?}");
}

/// Per content index: (score, rank) of one worker's result.
fn by_content(r: &v1::WorkerResult, order: &[usize]) -> Vec<(f64, u32)> {
    let mut out = vec![(f64::NAN, u32::MAX); order.len()];
    for a in &r.answers {
        let k: usize = a.completion_id.strip_prefix("v-").unwrap().parse().unwrap();
        let e = &mut out[order[k]];
        match a.answer {
            Some(v1::completion_answer::Answer::Score(s)) => e.0 = s,
            Some(v1::completion_answer::Answer::Rank(x)) => e.1 = x,
            ref other => panic!("unexpected answer {other:?}"),
        }
    }
    out
}

fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

struct RunningSim {
    sim: Arc<Simulator>,
    cancel: CancellationToken,
    handle: tokio::task::JoinHandle<CounterSnapshot>,
}

/// Simulator and miner logs, shown for a failing test.
fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_test_writer()
        .try_init();
}

async fn start_sim(config: Config) -> RunningSim {
    let sim = Arc::new(Simulator::new(config).unwrap());
    let cancel = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let handle = tokio::spawn(Arc::clone(&sim).run(cancel.clone(), move || {
        let _ = tx.send(());
    }));
    tokio::time::timeout(Duration::from_secs(20), rx)
        .await
        .expect("simulator ready")
        .unwrap();
    RunningSim {
        sim,
        cancel,
        handle,
    }
}

impl RunningSim {
    async fn stop(self) -> CounterSnapshot {
        self.cancel.cancel();
        self.handle.await.unwrap()
    }
}

/// Completion i has true rank TRUTH[i]; the validator shows them in ORDER.
const TRUTH: [u32; 4] = [1, 3, 0, 2];
const ORDER: [usize; 4] = [2, 0, 3, 1];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_noise_zero_through_a_real_miner_stores_the_ground_truth_order() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let (devnet, owner) = devnet();
    let (m, store) = start_miner(
        &devnet,
        &owner,
        &dir.path().join("m.sqlite"),
        free_port(),
        1,
    )
    .await;
    let web = format!("http://{}", m.web_addr.unwrap());
    let (alice, t) = (dendrite(), target(&m));
    let ack = send(
        &alice,
        &t,
        send_request("t-1", &ORDER, Duration::from_secs(120)),
    )
    .await;
    assert!(ack.miner_task_id.starts_with("mt-"));
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let key = dojo_miner::keys::generate(&store, KeyKind::Api, dojo_miner::grpc::now_ms())
        .await
        .unwrap();

    let mut c = Config::new(&web, &key.secret, Population::Honest, gt_path(&dir));
    c.poll = Duration::from_millis(50);
    let sim = start_sim(c).await;
    let r = results(&alice, &t, "t-1").await;
    assert_eq!(r.results.len(), 1);
    let got = by_content(&r.results[0], &ORDER);
    for (i, (score, rank)) in got.iter().enumerate() {
        assert_eq!(*rank, TRUTH[i], "completion {i}: stored rank");
        let want = (1.0 + (1.0 - f64::from(TRUTH[i]) / 3.0) * 99.0).round();
        assert_eq!(*score, want, "completion {i}: stored score");
    }
    let counters = sim.stop().await;
    assert_eq!(
        (
            counters.seen,
            counters.submitted,
            counters.lazy_fallback,
            counters.copied
        ),
        (1, 1, 0, 0)
    );
    assert_eq!(counters.errors, 0);
    m.shutdown();
    m.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copycat_copies_the_honest_answer_and_both_survive_a_miner_restart() {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    let db = dir.path().join("m.sqlite");
    let web_addr = free_port();
    let (devnet, owner) = devnet();
    let (m, store) = start_miner(&devnet, &owner, &db, web_addr, 2).await;
    let web = format!("http://{web_addr}");
    let (alice, t) = (dendrite(), target(&m));
    append(&gt_path(&dir), &truth_line("qa-1", &TRUTH));
    let key = dojo_miner::keys::generate(&store, KeyKind::Subscription, dojo_miner::grpc::now_ms())
        .await
        .unwrap();

    let mut honest = Config::new(&web, &key.secret, Population::Honest, gt_path(&dir));
    honest.poll = Duration::from_millis(50);
    honest.noise = 0.4;
    honest.seed = 5;
    honest.share_dir = Some(share.clone());
    let mut copycat = honest.clone();
    copycat.population = Population::Copycat;
    let honest = start_sim(honest).await;
    let copycat = start_sim(copycat).await;

    send(
        &alice,
        &t,
        send_request("t-1", &ORDER, Duration::from_secs(120)),
    )
    .await;
    let r = results(&alice, &t, "t-1").await;
    assert_eq!(r.results.len(), 2);
    let a = by_content(&r.results[0], &ORDER);
    let b = by_content(&r.results[1], &ORDER);
    assert_eq!(a, b, "the copycat's result is the honest one");

    // The orchestrator kills miners on purpose: the simulators keep polling and carry on.
    m.shutdown();
    m.wait().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (m, _store) = start_miner(&devnet, &owner, &db, web_addr, 2).await;
    let t = target(&m);
    let order2 = [1, 3, 0, 2];
    send(
        &alice,
        &t,
        send_request("t-2", &order2, Duration::from_secs(120)),
    )
    .await;
    let r = results(&alice, &t, "t-2").await;
    assert_eq!(r.results.len(), 2);
    assert_eq!(
        by_content(&r.results[0], &order2),
        by_content(&r.results[1], &order2)
    );

    let (hc, cc) = (honest.sim.counters(), copycat.sim.counters());
    assert_eq!((hc.submitted, cc.submitted, cc.copied), (2, 2, 2));
    assert!(hc.errors + cc.errors > 0, "the restart was seen as errors");
    honest.stop().await;
    copycat.stop().await;
    m.shutdown();
    m.wait().await.unwrap();
}
