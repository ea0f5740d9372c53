//! The devnet through the `Chain` port: in process, persisted, and over gRPC.

use std::time::Duration;

use dojo_devnet::grpc::{RemoteChain, serve};
use dojo_devnet::{Devnet, DevnetConfig, SubnetParams};
use dojo_types::chain::{
    AxonInfo, Chain, ChainError, HyperparamValue, RevealWeights, SetWeights, account_id,
    commit_hash_v2,
};
use dojo_types::{Hotkey, Uid};

fn hk(s: &str) -> Hotkey {
    Hotkey::new(s).unwrap()
}

fn params() -> SubnetParams {
    SubnetParams {
        tempo: 4,
        weights_rate_limit: 0,
        min_allowed_weights: 1,
        burn: 1,
        ..SubnetParams::default()
    }
}

/// Generic over the port, so the same scenario runs in process and over gRPC.
async fn validator_round<C: Chain>(chain: &C) {
    for i in 0..3 {
        let uid = chain
            .burned_register(&hk("ck"), 1, &hk(&format!("hk{i}")))
            .await
            .unwrap();
        assert_eq!(uid, Uid(i));
    }
    assert_eq!(
        chain.burned_register(&hk("ck"), 1, &hk("hk0")).await,
        Err(ChainError::HotKeyAlreadyRegisteredInSubNet)
    );
    let hp = chain.hyperparams(1).await.unwrap();
    assert_eq!(hp.flag("commit_reveal_weights_enabled"), Ok(true));
    let b = chain.current_block().await.unwrap();
    // Commit-reveal is on by default, as on subtensor.
    let sw = SetWeights {
        hotkey: hk("hk0"),
        netuid: 1,
        uids: vec![1, 2],
        weights: vec![1, 1],
        version_key: 0,
    };
    assert_eq!(
        chain.set_weights(sw).await,
        Err(ChainError::CommitRevealEnabled)
    );
    let salt = vec![7, 7];
    let hash = commit_hash_v2(&account_id(&hk("hk0")), 1, &[1, 2], &[1, 3], &salt, 0);
    chain.commit_weights(&hk("hk0"), 1, hash).await.unwrap();
    let reveal = RevealWeights {
        hotkey: hk("hk0"),
        netuid: 1,
        uids: vec![1, 2],
        values: vec![1, 3],
        salt,
        version_key: 0,
    };
    assert_eq!(
        chain.reveal_weights(reveal).await,
        Err(ChainError::RevealTooEarly)
    );
    let axon = AxonInfo {
        block: 0,
        version: 1,
        ip: 0x7f00_0001,
        port: 9000,
        ip_type: 4,
        protocol: 4,
    };
    chain.serve_axon(&hk("hk1"), 1, axon).await.unwrap();
    let m = chain.metagraph(1).await.unwrap();
    assert_eq!(m.neurons.len(), 3);
    assert_eq!(m.neurons[1].axon.as_ref().unwrap().port, 9000);
    assert!(m.block >= b);
}

async fn setup(devnet: &Devnet) {
    devnet
        .apply(|s| s.create_subnet(1, hk("owner"), None, params()))
        .unwrap();
    devnet
        .apply(|s| {
            s.faucet(&hk("ck"), 100);
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn in_process_chain_port() {
    let devnet = Devnet::in_memory();
    setup(&devnet).await;
    validator_round(&devnet).await;
    // Blocks come through wait_for_block.
    let waiter = {
        let d = devnet.clone();
        tokio::spawn(async move { d.wait_for_block(3).await })
    };
    devnet.advance_blocks(4).unwrap();
    assert_eq!(waiter.await.unwrap(), Ok(4));
}

#[tokio::test]
async fn persisted_state_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let config = DevnetConfig {
        state_dir: Some(dir.path().to_owned()),
        block_time: None,
    };
    let devnet = Devnet::open(config.clone()).unwrap();
    setup(&devnet).await;
    validator_round(&devnet).await;
    devnet.advance_blocks(9).unwrap();
    let before = devnet.export_json();
    drop(devnet);
    let again = Devnet::open(config).unwrap();
    assert_eq!(again.export_json(), before);
    assert_eq!(again.block(), 9);
    // A corrupt file is a typed error, not a panic or a silent reset.
    std::fs::write(dir.path().join("devnet-state.json"), b"{not json").unwrap();
    let err = Devnet::open(DevnetConfig {
        state_dir: Some(dir.path().to_owned()),
        block_time: None,
    })
    .unwrap_err();
    assert!(matches!(err, ChainError::Storage(_)), "{err}");
}

#[tokio::test]
async fn grpc_roundtrip_with_typed_errors() {
    let devnet = Devnet::in_memory();
    setup(&devnet).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(devnet.clone(), listener, async {
        let _ = stopped.await;
    }));
    let remote = RemoteChain::connect(&format!("http://{addr}"))
        .await
        .unwrap();
    validator_round(&remote).await;
    remote
        .set_hyperparam(1, "tempo", HyperparamValue::U16(9))
        .await
        .unwrap();
    assert_eq!(
        remote
            .set_hyperparam(1, "tempo", HyperparamValue::Bool(true))
            .await,
        Err(ChainError::InvalidHyperparam("tempo".into()))
    );
    assert_eq!(remote.hyperparams(1).await.unwrap().u64("tempo"), Ok(9));
    assert_eq!(
        remote.metagraph(1).await.unwrap(),
        devnet.read(|s| s.metagraph(1)).unwrap()
    );
    let waiter = {
        let r = remote.clone();
        tokio::spawn(async move { r.wait_for_block(1).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(remote.advance_blocks(2).await, Ok(2));
    assert_eq!(waiter.await.unwrap(), Ok(2));
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
