//! `dojo-miner run --subtensor.network ws://…` against dojo-chain's stand-in subtensor node
//! (recorded finney metadata, spec 393): `--register` burn-registers with the wallet's coldkey and
//! the miner serves its axon with a `serve_axon` extrinsic signed by its hotkey, both decoded by
//! the node against finney's metadata with their sr25519 signatures verified.

use std::process::Stdio;
use std::time::Duration;

use dojo_chain::testing::{NeuronSpec, Node, Value, arg};
use dojo_identity::{Keypair, Wallet};
use tokio::io::{AsyncBufReadExt, BufReader};

const NETUID: u16 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_on_subtensor_registers_and_serves_its_axon_through_signed_extrinsics() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path().join("wallets");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dojo-miner"))
        .args([
            "wallet",
            "create",
            "--wallet.path",
            wallets.to_str().unwrap(),
        ])
        .args([
            "--wallet.name",
            "m",
            "--wallet.hotkey",
            "h",
            "--no-password",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wallet = Wallet::new(&wallets, "m", "h").unwrap();
    let hotkey = wallet.hotkey(None).unwrap();
    let coldkey = wallet.coldkey(None).unwrap();

    let node = Node::start().await;
    node.produce_blocks(Duration::from_millis(200));
    let alice = Keypair::from_uri("//Alice").unwrap();
    // The miner is not on the subnet yet: `--register` must burn-register it.
    node.state().set_subnet(
        NETUID,
        &[NeuronSpec {
            hotkey: alice.public(),
            coldkey: alice.public(),
            stake: 1_000_000_000_000,
            validator_permit: true,
            ..Default::default()
        }],
        &[("tempo", Value::u128(360))],
    );
    node.state().next_uid = 1;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo-miner"))
        .arg("run")
        .args(["--netuid", &NETUID.to_string()])
        .args(["--wallet.path", wallets.to_str().unwrap()])
        .args(["--wallet.name", "m", "--wallet.hotkey", "h"])
        .args([
            "--miner.data_dir",
            dir.path().join("data").to_str().unwrap(),
        ])
        .args(["--subtensor.network", &node.url, "--register"])
        .args([
            "--axon.ip",
            "127.0.0.1",
            "--axon.port",
            "0",
            "--worker.port",
            "0",
        ])
        .args(["--blacklist.min_stake", "0", "--scoring_method", "human"])
        .args(["--logging.level", "warn"])
        .env_remove("BT_SUBTENSOR_NETWORK")
        .env_remove("DOJO_COLDKEY_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(a) = line.strip_prefix("dojo-miner axon listening on ") {
                return a.parse::<std::net::SocketAddr>().unwrap();
            }
        }
        panic!("the miner exited without printing its axon address");
    };
    let axon = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("miner printed its axon address");

    let subs = node.submitted();
    let calls: Vec<&str> = subs.iter().map(|s| s.call.as_str()).collect();
    assert_eq!(calls, ["burned_register", "serve_axon"]);
    assert!(subs.iter().all(|s| s.signature_ok), "signatures verified");
    let (reg, serve) = (&subs[0], &subs[1]);
    assert_eq!(reg.signer, coldkey.public(), "the coldkey pays the burn");
    assert_eq!(arg(reg, "netuid").as_u128(), Some(u128::from(NETUID)));
    assert_eq!(serve.signer, hotkey.public(), "the hotkey serves");
    assert_eq!(arg(serve, "netuid").as_u128(), Some(u128::from(NETUID)));
    assert_eq!(arg(serve, "port").as_u128(), Some(u128::from(axon.port())));
    assert_eq!(
        arg(serve, "ip").as_u128(),
        Some(u128::from(u32::from(std::net::Ipv4Addr::LOCALHOST)))
    );
    assert_eq!(arg(serve, "ip_type").as_u128(), Some(4));
    assert!(child.try_wait().unwrap().is_none(), "still serving");
    child.kill().await.unwrap();
}
