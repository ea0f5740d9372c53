//! `dojo-validator run --subtensor.network ws://…` against dojo-chain's stand-in subtensor node
//! (recorded finney metadata, spec 393): the validator reads the metagraph and hyperparameters
//! through the subtensor backend, reports the node's block in /healthz, sends tasks to the two
//! miners the metagraph lists, scores them and submits a `set_mechanism_weights` extrinsic that
//! the node decodes against finney's metadata and whose sr25519 signature it verifies.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use dojo_chain::testing::{NeuronSpec, Node, Value, arg, u16s};
use dojo_chain::{Network, Subtensor};
use dojo_identity::{Keypair, Wallet};
use dojo_transport::{AxonConfig, AxonLayer, MetagraphCache, serve_miner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;
use common::PositionalMiner;

/// `GET path` on `addr`, returning status line and body (no HTTP client in this crate's deps).
async fn get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    Some(out)
}

/// Kills the validator when the test ends, failed or not (a leaked one would keep the test
/// harness's output pipe open).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_on_subtensor_reads_the_metagraph_and_submits_weights_the_node_verifies() {
    let node = Node::start().await;
    node.produce_blocks(Duration::from_millis(200));
    let alice = Keypair::from_uri("//Alice").unwrap();
    let miners: Vec<Keypair> = (1..=2)
        .map(|i| Keypair::from_uri(&format!("//Miner{i}")).unwrap())
        .collect();
    let mut ports = Vec::new();
    let cache = Arc::new(MetagraphCache::new());
    for k in &miners {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.push(listener.local_addr().unwrap().port());
        let layer = AxonLayer::new(AxonConfig::new(k.ss58()), cache.clone());
        tokio::spawn(serve_miner(
            PositionalMiner::default(),
            listener,
            layer,
            std::future::pending(),
        ));
    }
    let localhost = u128::from(u32::from(std::net::Ipv4Addr::LOCALHOST));
    let mut neurons = vec![NeuronSpec {
        hotkey: alice.public(),
        coldkey: alice.public(),
        stake: 1_000_000_000_000,
        validator_permit: true,
        ..Default::default()
    }];
    for (k, port) in miners.iter().zip(&ports) {
        neurons.push(NeuronSpec {
            hotkey: k.public(),
            coldkey: k.public(),
            axon: Some((localhost, *port)),
            ..Default::default()
        });
    }
    node.state().set_subnet(
        1,
        &neurons,
        &[
            ("tempo", Value::u128(9)),
            ("min_allowed_weights", Value::u128(1)),
            ("max_weights_limit", Value::u128(65535)),
            ("weights_rate_limit", Value::u128(5)),
            ("weights_version", Value::u128(0)),
            ("commit_reveal_weights_enabled", Value::bool(false)),
        ],
    );
    // The miners' axons learn who may call them from the same node.
    let reader = Subtensor::connect(Network::Custom(node.url.clone()))
        .await
        .unwrap();
    cache.refresh(&reader, 1).await.unwrap();

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

    let wallets = tempfile::tempdir().unwrap();
    Wallet::new(wallets.path(), "v", "default")
        .unwrap()
        .write_hotkey(&alice, false)
        .unwrap();
    let metrics: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let db = format!("sqlite://{}", wallets.path().join("v.db").display());
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
            .args(["run", "--netuid", "1", "--wallet.name", "v", "--fast"])
            .args(["--neuron.min_stake", "1000000"])
            .args(["--wallet.path", wallets.path().to_str().unwrap()])
            .args(["--subtensor.network", &node.url])
            .args(["--synthetic.url", &synthetic_url, "--database.url", &db])
            .args(["--metrics.listen", &metrics.to_string()])
            .env("RUST_LOG", "warn")
            .env_remove("BT_SUBTENSOR_NETWORK")
            .env_remove("DOJO_CHAIN_ENDPOINT")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut healthy = false;
    let weights = loop {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "validator exited early"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "no weights after 120 s (healthz seen: {healthy}); submitted: {:?}",
            node.submitted()
        );
        if !healthy && let Some(r) = get(metrics, "/healthz").await {
            // The block of a metagraph read through the subtensor backend (the node starts at 100).
            let block = r
                .split("\"metagraph_block\":")
                .nth(1)
                .and_then(|t| t.split(',').next())
                .and_then(|n| n.parse::<u64>().ok());
            healthy = r.starts_with("HTTP/1.1 200") && block.is_some_and(|b| b >= 100);
        }
        if let Some(w) = node
            .submitted()
            .into_iter()
            .find(|s| s.call == "set_mechanism_weights")
        {
            break w;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(healthy, "/healthz reported the subtensor metagraph");
    assert!(
        weights.signature_ok,
        "sr25519 signature verified by the node"
    );
    assert_eq!(weights.signer, alice.public());
    assert_eq!(weights.pallet, "SubtensorModule");
    assert_eq!(arg(&weights, "netuid").as_u128(), Some(1));
    assert_eq!(arg(&weights, "mecid").as_u128(), Some(0));
    assert_eq!(arg(&weights, "version_key").as_u128(), Some(1));
    let dests = u16s(&arg(&weights, "dests"));
    let values = u16s(&arg(&weights, "weights"));
    assert!(
        !dests.is_empty() && dests.len() == values.len(),
        "{dests:?} {values:?}"
    );
    assert!(
        dests.iter().all(|d| [1, 2].contains(d)),
        "weights go to the miners: {dests:?}"
    );
    assert_eq!(
        values.iter().max(),
        Some(&65535),
        "max-upscaled: {values:?}"
    );
    drop(child);
}

#[test]
fn unreachable_node_and_unknown_network_are_clear_errors() {
    let wallets = tempfile::tempdir().unwrap();
    Wallet::new(wallets.path(), "v", "default")
        .unwrap()
        .write_hotkey(&Keypair::from_uri("//Alice").unwrap(), false)
        .unwrap();
    let run = |network: &str| {
        Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
            .args(["run", "--wallet.name", "v", "--subtensor.network", network])
            .args(["--wallet.path", wallets.path().to_str().unwrap()])
            .args(["--database.url", "sqlite::memory:"])
            .env("RUST_LOG", "off")
            .env_remove("DOJO_CHAIN_ENDPOINT")
            .output()
            .unwrap()
    };
    let out = run(&format!("ws://127.0.0.1:{}", free_port()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("connecting to subtensor at ws://127.0.0.1:"),
        "{err}"
    );
    let out = run("mainnet-ish");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("devnet, finney, test"), "{err}");
    // The default is still the devnet, which needs its endpoint.
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["run", "--wallet.name", "v"])
        .args(["--wallet.path", wallets.path().to_str().unwrap()])
        .args(["--database.url", "sqlite::memory:"])
        .env_remove("BT_SUBTENSOR_NETWORK")
        .env_remove("DOJO_CHAIN_ENDPOINT")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--subtensor.chain_endpoint"), "{err}");
    let help = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for word in ["devnet", "finney", "test", "local", "wss://"] {
        assert!(help.contains(word), "--help explains {word}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_refuses_a_chain_that_expects_another_timelocked_commit_version() {
    let node = Node::start().await;
    let alice = Keypair::from_uri("//Alice").unwrap();
    // Commit-reveal on, and `CommitRevealWeightsVersion` 5: a payload dojo-chain does not build.
    node.state().set_storage_value(
        "SubtensorModule",
        "CommitRevealWeightsVersion",
        &Value::u128(5),
    );
    node.state().set_subnet(
        1,
        &[NeuronSpec {
            hotkey: alice.public(),
            coldkey: alice.public(),
            validator_permit: true,
            ..Default::default()
        }],
        &[
            ("tempo", Value::u128(9)),
            ("commit_reveal_weights_enabled", Value::bool(true)),
        ],
    );
    let wallets = tempfile::tempdir().unwrap();
    Wallet::new(wallets.path(), "v", "default")
        .unwrap()
        .write_hotkey(&alice, false)
        .unwrap();
    let db = format!("sqlite://{}", wallets.path().join("v.db").display());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["run", "--netuid", "1", "--wallet.name", "v", "--fast"])
        .args(["--wallet.path", wallets.path().to_str().unwrap()])
        .args(["--subtensor.network", &node.url, "--database.url", &db])
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the validator refuses at start instead of running")
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("timelocked commit-reveal v5") && err.contains("netuid 1"),
        "{err}"
    );
    assert!(node.submitted().is_empty(), "nothing signed or sent");
}
