//! The `dojo-devnet` binary: gRPC serving, crash safety under SIGKILL, and the epoch subcommand.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod admin;

use dojo_devnet::grpc::RemoteChain;
use dojo_types::Hotkey;
use dojo_types::chain::{Chain, ChainError, HyperparamValue, SetWeights};

const BIN: &str = env!("CARGO_BIN_EXE_dojo-devnet");

struct Node {
    child: Child,
    url: String,
}

impl Node {
    fn start(state_dir: &std::path::Path, block_time: &str) -> Node {
        let mut child = Command::new(BIN)
            .args([
                "--port",
                "0",
                "--block-time",
                block_time,
                "--logging.level",
                "warn",
                "--state-dir",
            ])
            .arg(state_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dojo-devnet");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read address line");
        let addr = line.trim().rsplit(' ').next().expect("address").to_owned();
        assert!(
            line.contains("listening on"),
            "unexpected first line {line:?}"
        );
        Node {
            child,
            url: format!("http://{addr}"),
        }
    }

    /// SIGKILL: no shutdown path runs, so only what was already durable survives.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

fn hk(s: &str) -> Hotkey {
    Hotkey::new(s).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_resumes_identical_state() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), "0");
    let chain = RemoteChain::connect(&node.url).await.unwrap();
    chain.create_subnet(1, &hk("owner"), None).await.unwrap();
    for (name, value) in [
        (
            "commit_reveal_weights_enabled",
            HyperparamValue::Bool(false),
        ),
        ("weights_rate_limit", HyperparamValue::U64(0)),
        ("min_allowed_weights", HyperparamValue::U16(1)),
        ("tempo", HyperparamValue::U16(5)),
    ] {
        chain.set_hyperparam(1, name, value).await.unwrap();
    }
    for i in 0..4 {
        let ck = hk(&format!("ck{i}"));
        chain.faucet(&ck, 1_000_000_000).await.unwrap();
        let uid = chain
            .burned_register(&ck, 1, &hk(&format!("hk{i}")))
            .await
            .unwrap();
        assert_eq!(uid.0, i);
        let amount = if i == 3 { 1_000_000_000 } else { 1_000 };
        chain
            .add_stake(&hk(&format!("hk{i}")), 1, amount)
            .await
            .unwrap();
    }
    chain.advance_blocks(6).await.unwrap(); // One epoch hands out permits.
    let set = SetWeights {
        hotkey: hk("hk3"),
        netuid: 1,
        uids: vec![0, 1],
        weights: vec![1, 3],
        version_key: 0,
    };
    chain.set_weights(set.clone()).await.unwrap();
    // A typed chain error crosses the wire intact.
    let mut bad = set.clone();
    bad.uids = vec![0, 0];
    assert_eq!(chain.set_weights(bad).await, Err(ChainError::DuplicateUids));
    chain.advance_blocks(7).await.unwrap();
    let before = chain.export_state().await.unwrap();
    let meta_before = chain.metagraph(1).await.unwrap();
    assert_eq!(meta_before.block, 13);
    assert!(
        meta_before.neurons[0].incentive > 0,
        "epoch paid the weighted miner"
    );
    node.kill();

    let node = Node::start(dir.path(), "0");
    let chain = RemoteChain::connect(&node.url).await.unwrap();
    assert_eq!(chain.export_state().await.unwrap(), before);
    assert_eq!(chain.metagraph(1).await.unwrap(), meta_before);
    assert_eq!(chain.current_block().await.unwrap(), 13);
    assert_eq!(chain.hyperparams(1).await.unwrap().u64("tempo"), Ok(5));
    node.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_clock_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(dir.path(), "20ms");
    let chain = RemoteChain::connect(&node.url).await.unwrap();
    let b = tokio::time::timeout(Duration::from_secs(20), chain.wait_for_block(5))
        .await
        .unwrap()
        .unwrap();
    assert!(b > 5);
    node.kill();
    let node = Node::start(dir.path(), "0");
    let chain = RemoteChain::connect(&node.url).await.unwrap();
    assert!(
        chain.current_block().await.unwrap() > 5,
        "blocks produced before the kill were persisted"
    );
    node.kill();
}

#[test]
fn epoch_subcommand_prints_json() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/yuma-epoch-input.json"
    );
    let out = Command::new(BIN)
        .args(["epoch", "--input", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["emission"],
        serde_json::json!([250000000u64, 250000000u64, 250000000u64, 250000000u64])
    );
    assert_eq!(v["dividends"][0], 32767);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"block": NaN}"#).unwrap();
    let out = Command::new(BIN)
        .args(["epoch", "--input"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad epoch snapshot"));
}
