//! Whole validator runs: in-process devnet with a block clock, the synthetic API with the offline
//! generator, and test-double miners behind real axons. Rounds complete, bad miners are refused
//! with counted reasons, and weights land in the devnet's metagraph, with commit-reveal on and off.

use std::sync::Arc;
use std::time::Duration;

use dojo_devnet::{Devnet, DevnetConfig, SubnetParams};
use dojo_identity::Keypair;
use dojo_scoring::{AbsentMiners, MechanismConfig};
use dojo_synthetic::OfflineGenerator;
use dojo_synthetic_api::client::SyntheticClient;
use dojo_transport::{Dendrite, DendriteConfig, MetagraphCache};
use dojo_types::Hotkey;
use dojo_types::chain::{AxonInfo, Chain};
use dojo_validator::service::{self, Config, Intervals, Validator};
use dojo_validator::store::Store;
use dojo_validator::wandb::{self, Wandb};

use crate::miners::{Policy, TestMiner};

const NETUID: u16 = 1;

fn intervals() -> Intervals {
    Intervals {
        metagraph: Duration::from_millis(300),
        heartbeat: Duration::from_millis(300),
        round: Duration::from_millis(400),
        task_deadline: Duration::from_millis(600),
        collect: Duration::from_millis(150),
        scoring: Duration::from_millis(500),
        weights: Duration::from_millis(100),
    }
}

pub(crate) struct Net {
    pub(crate) devnet: Devnet,
    pub(crate) validator: Keypair,
    pub(crate) miners: Vec<(Keypair, Policy)>,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
    _clock: Option<tokio::task::JoinHandle<()>>,
    pub(crate) synthetic: String,
    _synthetic_stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_synthetic() -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut c = dojo_synthetic_api::Config::new("127.0.0.1:0".parse().unwrap());
    c.buffer = 4;
    c.workers = 1;
    c.wait = Duration::from_millis(200);
    c.retry_delay = Duration::from_millis(20);
    let app = dojo_synthetic_api::App::new(c, OfflineGenerator::default(), None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = dojo_synthetic_api::serve(app, listener, async move {
            let _ = rx.await;
        })
        .await;
    });
    (base, tx)
}

pub(crate) async fn network(commit_reveal: bool, store: &Store) -> Net {
    network_with(commit_reveal, store, |_| {}).await
}

pub(crate) async fn network_with(
    commit_reveal: bool,
    store: &Store,
    tweak: impl FnOnce(&mut SubnetParams),
) -> Net {
    let devnet = Devnet::open(DevnetConfig {
        state_dir: None,
        block_time: Some(Duration::from_millis(50)),
    })
    .unwrap();
    let params = SubnetParams {
        tempo: 9,
        min_allowed_weights: 1,
        weights_rate_limit: 5,
        commit_reveal_weights_enabled: commit_reveal,
        commit_reveal_period: 1,
        immunity_period: 10_000,
        emission_per_block: 0,
        ..SubnetParams::default()
    };
    let mut params = params;
    tweak(&mut params);
    let owner = Hotkey::new("owner-cold").unwrap();
    let validator = Keypair::from_uri("//Alice").unwrap();
    let vhot = validator.ss58();
    devnet
        .apply(|s| {
            s.create_subnet(NETUID, owner.clone(), None, params)?;
            s.faucet(&owner, 1 << 50);
            Ok(())
        })
        .unwrap();
    devnet.burned_register(&owner, NETUID, &vhot).await.unwrap();
    devnet
        .apply(|s| s.add_stake(&vhot, NETUID, 1_000_000_000_000))
        .unwrap();
    let m: Vec<Keypair> = (1..=5)
        .map(|i| Keypair::from_uri(&format!("//Miner{i}")).unwrap())
        .collect();
    let policies = vec![
        Policy::Truthful,
        Policy::Reversed,
        Policy::OutOfRange,
        Policy::Copy(m[0].ss58()),
        Policy::Decline,
    ];
    for k in &m {
        devnet
            .burned_register(&owner, NETUID, &k.ss58())
            .await
            .unwrap();
    }
    let cache = Arc::new(MetagraphCache::new());
    cache.refresh(&devnet, NETUID).await.unwrap();
    let mut stops = Vec::new();
    for (k, p) in m.iter().zip(&policies) {
        let miner = TestMiner {
            hotkey: k.ss58(),
            policy: p.clone(),
            store: store.clone(),
        };
        let (addr, stop) = crate::miners::serve(k, miner, cache.clone()).await;
        stops.push(stop);
        let std::net::SocketAddr::V4(v4) = addr else {
            panic!()
        };
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
    devnet.advance_blocks(12).unwrap();
    let clock = devnet.spawn_clock();
    let (synthetic, synthetic_stop) = start_synthetic().await;
    Net {
        devnet,
        validator,
        miners: m.into_iter().zip(policies).collect(),
        _stops: stops,
        _clock: clock,
        synthetic,
        _synthetic_stop: synthetic_stop,
    }
}

/// A validator on `net` with `cfg`, signing as the network's validator key.
pub(crate) async fn validator_on(net: &Net, store: Store, cfg: Config) -> Arc<Validator<Devnet>> {
    let dendrite = Dendrite::new(
        net.validator.clone(),
        DendriteConfig {
            timeout: Duration::from_secs(3),
            ..DendriteConfig::default()
        },
    );
    let client = SyntheticClient::new(&net.synthetic, None, Duration::from_secs(5)).unwrap();
    Arc::new(
        Validator::new(cfg, net.devnet.clone(), store, dendrite, client)
            .await
            .unwrap(),
    )
}

pub(crate) fn config(
    hotkey: Hotkey,
    listen: Option<std::net::SocketAddr>,
    events: Option<std::path::PathBuf>,
) -> Config {
    Config {
        netuid: NETUID,
        hotkey,
        mechanism: MechanismConfig::from_name("dojo-v1-ground-truth").unwrap(),
        alpha: 0.3,
        absent: AbsentMiners::Decay,
        intervals: intervals(),
        version_key: 1,
        miner_max_stake: u64::MAX,
        sample_size: None,
        score_bounds: (1.0, 100.0),
        metrics_listen: listen,
        event_log: events,
        wandb: None,
        scoring_batch: 256,
        probes: None,
    }
}

pub(crate) async fn wait_for(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn full_run(commit_reveal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let store = Store::open(&url).await.unwrap();
    let net = network(commit_reveal, &store).await;
    // With commit-reveal the records go to both the event log and wandb, without only to wandb
    // (a fake package recording its calls, tests/fixtures/fake_wandb).
    let events = commit_reveal.then(|| dir.path().join("events.jsonl"));
    let record = dir.path().join("wandb.jsonl");
    let (wandb, uploader) = Wandb::start(wandb::Options {
        project: "dojo-it".into(),
        entity: None,
        run_name: None,
        python: "python3".into(),
        env: vec![
            (
                "PYTHONPATH".into(),
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/fake_wandb").into(),
            ),
            ("FAKE_WANDB_RECORD".into(), record.clone().into()),
        ],
        run_config: serde_json::json!({"netuid": NETUID}),
        queue: 4096,
    })
    .await
    .unwrap();
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = probe.local_addr().unwrap();
    drop(probe);
    let mut cfg = config(net.validator.ss58(), Some(listen), events.clone());
    cfg.wandb = Some(wandb);
    let v = validator_on(&net, store.clone(), cfg).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(service::run(v.clone(), async move {
        let _ = rx.await;
    }));
    let landed = if commit_reveal { "reveal" } else { "set" };
    wait_for("weights on chain", 90, async || {
        v.metrics.get("dojo_weights_set_total", &[("kind", landed)]) >= 1.0
            && v.metrics.total("dojo_tasks_scored_total") >= 2.0
    })
    .await;
    if commit_reveal {
        assert!(
            v.metrics
                .get("dojo_weights_set_total", &[("kind", "commit")])
                >= 1.0
        );
    }
    assert_eq!(
        v.metrics.total("dojo_weight_errors_total"),
        0.0,
        "no submission refused: {}",
        v.metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("dojo_weight_errors_total"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    // Bad miners were refused, each with its reason.
    assert!(
        v.metrics
            .get("dojo_rejections_total", &[("reason", "out_of_range")])
            >= 1.0
    );
    assert!(
        v.metrics
            .get("dojo_rejections_total", &[("reason", "unknown_completion")])
            >= 1.0
    );
    assert!(
        v.metrics
            .get("dojo_responses_total", &[("outcome", "accepted")])
            >= 2.0
    );
    assert!(
        v.metrics
            .get("dojo_tasks_sent_total", &[("outcome", "declined")])
            >= 1.0
    );
    assert!(
        v.metrics
            .get("dojo_responses_total", &[("outcome", "declined")])
            >= 1.0
    );

    // The weights are in the devnet's metagraph, ordered like the miners' honesty.
    let mg = net.devnet.metagraph(NETUID).await.unwrap();
    let me = mg
        .neurons
        .iter()
        .find(|n| n.hotkey == net.validator.ss58())
        .unwrap();
    assert!(!me.weights.is_empty(), "weights stored on chain");
    let uid_of = |k: &Keypair| mg.uid_of(&k.ss58()).unwrap().0;
    let w = |uid: u16| {
        me.weights
            .iter()
            .find(|(u, _)| *u == uid)
            .map_or(0, |(_, w)| *w)
    };
    let (truthful, reversed) = (uid_of(&net.miners[0].0), uid_of(&net.miners[1].0));
    assert!(
        w(truthful) > w(reversed),
        "truthful {} > reversed {}: {:?}",
        w(truthful),
        w(reversed),
        me.weights
    );
    let scores = v.scores().await.scores();
    assert!(
        scores[usize::from(uid_of(&net.miners[2].0))] == 0.0,
        "out-of-range miner never scored"
    );
    assert!(
        scores[usize::from(uid_of(&net.miners[3].0))] == 0.0,
        "copier never scored"
    );

    // Monitoring: /metrics and /healthz answer, and the event log has one line per scored task.
    let http = reqwest::Client::new();
    let text = http
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("dojo_rounds_total{outcome=\"sent\"}"),
        "{text}"
    );
    assert!(text.contains("# TYPE dojo_weights_set_total counter"));
    // Per-miner gauges for the devnet orchestrator: the moving average and the mean task score,
    // labelled by uid and hotkey, and the block weights last landed at.
    let gauge = |series: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"));
        line[series.len() + 1..].parse().unwrap()
    };
    let truthful_hk = net.miners[0].0.ss58();
    let t_uid = uid_of(&net.miners[0].0);
    let series = |name: &str| format!("{name}{{uid=\"{t_uid}\",hotkey=\"{truthful_hk}\"}}");
    assert!(
        gauge(&series("dojo_miner_ema")) > 0.0,
        "truthful miner's average is published"
    );
    assert!(gauge(&series("dojo_miner_task_score")) > 0.0);
    // Values: read while no scoring pass lands in between (the tasks-scored counter is unchanged).
    let labels = [
        ("uid", t_uid.to_string()),
        ("hotkey", truthful_hk.to_string()),
    ];
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut checked = false;
    for _ in 0..20 {
        let before = v.metrics.total("dojo_tasks_scored_total");
        let ema_now = v.scores().await.scores()[usize::from(t_uid)];
        let ema_gauge = v.metrics.gauge("dojo_miner_ema", &labels).unwrap();
        let mean = v.metrics.gauge("dojo_miner_task_score", &labels).unwrap();
        let (mut sum, mut n) = (0.0, 0u32);
        for id in store.tasks_in("scored", None, 10_000).await.unwrap() {
            if let Some(s) = store.task_scores(&id).await.unwrap().get(&truthful_hk) {
                sum += s;
                n += 1;
            }
        }
        // A pass commits to the store before it bumps the counter: give one in flight time to finish.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if v.metrics.total("dojo_tasks_scored_total") != before {
            continue;
        }
        assert_eq!(ema_gauge, ema_now, "gauge is the moving average");
        assert!(n > 0);
        assert!(
            (mean - sum / f64::from(n)).abs() < 1e-9,
            "mean task score {mean} = {} over {n} tasks",
            sum / f64::from(n)
        );
        checked = true;
        break;
    }
    assert!(checked, "scoring never paused long enough to compare");
    assert!(
        text.contains(&format!(
            "dojo_miner_ema{{uid=\"{}\",hotkey=\"{}\"}}",
            uid_of(&net.miners[1].0),
            net.miners[1].0.ss58()
        )),
        "every miner has a series"
    );
    assert!(
        gauge("dojo_weights_last_block") > 0.0,
        "weights block published"
    );
    let health = http
        .get(format!("http://{listen}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    tx.send(()).unwrap();
    let r = tokio::time::timeout(Duration::from_secs(20), handle)
        .await
        .expect("graceful shutdown");
    r.unwrap().unwrap();
    let scored = v.metrics.total("dojo_tasks_scored_total");
    assert_eq!(v.metrics.total("dojo_wandb_dropped_total"), 0.0);
    // The validator holds the last sender: dropping it ends the wandb run.
    drop(v);
    let status = uploader.finish(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let calls: Vec<serde_json::Value> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls[0]["call"], "init");
    assert_eq!(calls[0]["project"], "dojo-it");
    let logged: Vec<&serde_json::Value> = calls.iter().filter(|c| c["call"] == "log").collect();
    assert_eq!(logged.len() as f64, scored, "one wandb.log per scored task");
    for field in ["task_id", "block", "rewards_mean"] {
        assert!(
            logged[0]["data"].get(field).is_some(),
            "wandb log has {field}: {}",
            logged[0]
        );
    }
    assert_eq!(calls.last().unwrap()["call"], "finish");
    if let Some(events) = events {
        let lines = std::fs::read_to_string(&events).unwrap();
        let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
        for field in ["prompt", "uids", "completions", "rewards", "block"] {
            assert!(first.get(field).is_some(), "event has {field}: {first}");
        }
        assert_eq!(lines.lines().count() as f64, scored);
        let ids: Vec<serde_json::Value> = lines
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["task_id"].clone())
            .collect();
        let wandb_ids: Vec<serde_json::Value> = logged
            .iter()
            .map(|c| c["data"]["task_id"].clone())
            .collect();
        assert_eq!(ids, wandb_ids, "the same records in the same order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rounds_complete_and_weights_land_with_commit_reveal() {
    full_run(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rounds_complete_and_weights_land_without_commit_reveal() {
    full_run(false).await;
}

/// The client's key must be the one the service checks: a keyed synthetic API serves the client that
/// holds the key and refuses one that holds another, or none.
#[tokio::test]
async fn the_synthetic_client_authenticates_to_a_keyed_api() {
    let key = "validator-side-key-0123456789abcdef";
    let mut c = dojo_synthetic_api::Config::new("127.0.0.1:0".parse().unwrap());
    c.buffer = 2;
    c.workers = 1;
    c.api_key = Some(dojo_synthetic_api::ApiKey::new(key).unwrap());
    let app = dojo_synthetic_api::App::new(c, OfflineGenerator::default(), None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = dojo_synthetic_api::serve(app, listener, async move {
            let _ = rx.await;
        })
        .await;
    });
    for wrong in [None, Some("validator-side-key-0123456789abcdeX".to_owned())] {
        let client = SyntheticClient::new(&base, wrong.clone(), Duration::from_secs(5)).unwrap();
        match client.fetch().await {
            Err(dojo_synthetic_api::client::ClientError::Status { status: 401, .. }) => {}
            other => panic!("key {wrong:?}: expected 401, got {other:?}"),
        }
    }
    let client = SyntheticClient::new(&base, Some(key.to_owned()), Duration::from_secs(5)).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match client.fetch().await {
            Ok(dojo_synthetic_api::client::Fetched::Task(_)) => break,
            Ok(dojo_synthetic_api::client::Fetched::NotReady { .. })
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("with the right key: {other:?}"),
        }
    }
    let _ = tx.send(());
}
