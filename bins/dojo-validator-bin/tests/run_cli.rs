//! `dojo-validator run` as a process against a devnet served over gRPC: it sets weights, survives
//! SIGKILLs at random points (restarted on the same SQLite database each time, nothing lost and
//! nothing scored twice), and stops cleanly on SIGTERM.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use dojo_devnet::{Devnet, DevnetConfig, SubnetParams};
use dojo_identity::{Keypair, Wallet};
use dojo_transport::{AxonConfig, AxonLayer, MetagraphCache, serve_miner};
use dojo_types::Hotkey;
use dojo_types::chain::{AxonInfo, Chain};
use dojo_validator::store::Store;

mod common;
use common::PositionalMiner;

struct Setup {
    devnet: Devnet,
    chain_url: String,
    synthetic_url: String,
    wallets: tempfile::TempDir,
    validator: Hotkey,
}

async fn setup() -> Setup {
    let devnet = Devnet::open(DevnetConfig {
        state_dir: None,
        block_time: Some(Duration::from_millis(50)),
    })
    .unwrap();
    let params = SubnetParams {
        tempo: 9,
        min_allowed_weights: 1,
        weights_rate_limit: 5,
        commit_reveal_weights_enabled: false,
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
    let cache = Arc::new(MetagraphCache::new());
    let miners: Vec<Keypair> = (1..=2)
        .map(|i| Keypair::from_uri(&format!("//Miner{i}")).unwrap())
        .collect();
    for k in &miners {
        devnet.burned_register(&owner, 1, &k.ss58()).await.unwrap();
    }
    cache.refresh(&devnet, 1).await.unwrap();
    for k in &miners {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let layer = AxonLayer::new(AxonConfig::new(k.ss58()), cache.clone());
        tokio::spawn(serve_miner(
            PositionalMiner::default(),
            listener,
            layer,
            std::future::pending(),
        ));
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
    let mut c = dojo_synthetic_api::Config::new("127.0.0.1:0".parse().unwrap());
    c.buffer = 4;
    c.workers = 1;
    c.wait = Duration::from_millis(200);
    let app =
        dojo_synthetic_api::App::new(c, dojo_synthetic::OfflineGenerator::default(), None).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let synthetic_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(dojo_synthetic_api::serve(
        app,
        listener,
        std::future::pending(),
    ));
    Setup {
        devnet,
        chain_url,
        synthetic_url,
        wallets,
        validator: alice.ss58(),
    }
}

fn spawn(s: &Setup, db: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args([
            "run",
            "--netuid",
            "1",
            "--wallet.name",
            "v",
            "--fast",
            "--neuron.min_stake",
            "1000000",
        ])
        .args(["--wallet.path", s.wallets.path().to_str().unwrap()])
        .args([
            "--subtensor.chain_endpoint",
            &s.chain_url,
            "--synthetic.url",
            &s.synthetic_url,
        ])
        .args(["--database.url", db])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

async fn weights_of(s: &Setup) -> Vec<(u16, u16)> {
    let mg = s.devnet.metagraph(1).await.unwrap();
    mg.neurons
        .iter()
        .find(|n| n.hotkey == s.validator)
        .unwrap()
        .weights
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_survives_sigkill_sets_weights_and_stops_on_sigterm() {
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    // SIGKILL at a few points in the first seconds, restarting on the same database each time.
    for wait_ms in [900u64, 2300, 1600, 3100] {
        let mut child = spawn(&s, &db);
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let mut child = spawn(&s, &db);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let store = Store::open(&db).await.unwrap();
    loop {
        let scored = store.count("scored").await.unwrap();
        if scored >= 2 && !weights_of(&s).await.is_empty() {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "validator exited early"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no weights after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stop_deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if tokio::time::Instant::now() > stop_deadline {
            child.kill().unwrap();
            panic!("no exit within 30 s of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    // Nothing scored twice (task_scores' key would refuse it) and every scored task kept every miner's result.
    for id in store.tasks_in("scored", None, 10_000).await.unwrap() {
        let t = store.load(&id).await.unwrap();
        assert_eq!(t.responses.len(), t.assignments.len(), "task {id}");
    }
    let subs = store.submissions(None).await.unwrap();
    assert!(subs.iter().any(|s| s.status == "set"));
    let blocks: Vec<u64> = subs
        .iter()
        .filter(|s| s.status == "set")
        .map(|s| s.block)
        .collect();
    assert!(
        blocks.windows(2).all(|w| w[1] >= w[0] + 5),
        "one set per rate limit: {blocks:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_port_zero_is_announced_on_stdout() {
    use std::io::{BufRead, BufReader, Read, Write};
    let s = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("v.db").display());
    /// Kills the validator when the test ends, panics included.
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
            .args(["run", "--netuid", "1", "--wallet.name", "v", "--fast"])
            .args(["--wallet.path", s.wallets.path().to_str().unwrap()])
            .args(["--subtensor.chain_endpoint", &s.chain_url])
            .args(["--synthetic.url", &s.synthetic_url])
            .args(["--database.url", &db, "--metrics.listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(60), line)
        .await
        .expect("the metrics line within 60 s")
        .unwrap()
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("dojo-validator metrics on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    let addr = url
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .expect("http://ADDR/metrics");
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    assert_ne!(addr.port(), 0);
    let body = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        conn.read_to_string(&mut body).unwrap();
        body
    })
    .await
    .unwrap();
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(body.contains("dojo_"), "{body}");
    drop(child);
}
