//! `impl Chain for Subtensor` against the stand-in node of `dojo_chain::testing`, which serves
//! finney's recorded metadata (spec 393) and checks what the client signs.

use std::time::Duration;

use dojo_chain::tlock::{self, TestBeacon};
use dojo_chain::{Network, Options, Subtensor};
use dojo_identity::Keypair;
use dojo_types::Uid;
use dojo_types::chain::{
    AxonInfo, Chain, ChainError, CommitScheme, HyperparamValue, RevealWeights, SetWeights,
    commit_hash_v2, row_matches,
};
use subxt::dynamic::Value;
use subxt::ext::scale_value::At;

use crate::node::{Fault, Node, State, arg, set, u16s, upgraded_metadata};

fn alice() -> Keypair {
    Keypair::from_uri("//Alice").unwrap()
}

fn bob() -> Keypair {
    Keypair::from_uri("//Bob").unwrap()
}

fn list(v: impl IntoIterator<Item = Value>) -> Value {
    Value::unnamed_composite(v)
}

fn nums<T: Into<u128>>(v: impl IntoIterator<Item = T>) -> Value {
    list(v.into_iter().map(|x| Value::u128(x.into())))
}

fn bools(v: impl IntoIterator<Item = bool>) -> Value {
    list(v.into_iter().map(Value::bool))
}

/// Subnet 1 with Alice (validator, serving) and Bob (miner), hyperparameters v2.
pub(crate) fn subnet(s: &mut State) {
    let keys = [alice().public(), bob().public()];
    let mut m = s.zero_inner("SubnetInfoRuntimeApi", "get_metagraph");
    set(&mut m, "netuid", Value::u128(1));
    set(&mut m, "hotkeys", list(keys.map(Value::from_bytes)));
    set(
        &mut m,
        "coldkeys",
        list([keys[1], keys[0]].map(Value::from_bytes)),
    );
    let axon = |ip: u128, port: u128| {
        Value::named_composite([
            ("block", Value::u128(50)),
            ("version", Value::u128(10_002_000)),
            ("ip", Value::u128(ip)),
            ("port", Value::u128(port)),
            ("ip_type", Value::u128(4)),
            ("protocol", Value::u128(4)),
            ("placeholder1", Value::u128(0)),
            ("placeholder2", Value::u128(0)),
        ])
    };
    set(&mut m, "axons", list([axon(0x0a00_0001, 8091), axon(0, 0)]));
    set(&mut m, "active", bools([true, false]));
    set(&mut m, "validator_permit", bools([true, false]));
    set(&mut m, "last_update", nums([90u64, 0]));
    set(&mut m, "emission", nums([5u64, 7]));
    set(&mut m, "dividends", nums([65535u16, 0]));
    set(&mut m, "incentives", nums([0u16, 65535]));
    set(&mut m, "consensus", nums([0u16, 40000]));
    set(&mut m, "block_at_registration", nums([1u64, 2]));
    set(&mut m, "alpha_stake", nums([1_000_000u64, 10]));
    set(&mut m, "tao_stake", nums([2_000_000u64, 0]));
    set(&mut m, "total_stake", nums([1_105_000u64, 10]));
    s.set_answer(
        "SubnetInfoRuntimeApi",
        "get_metagraph",
        &Value::unnamed_variant("Some", [m]),
    );
    let lite: Vec<Value> = (0..2u16)
        .map(|uid| {
            let mut n = s.zero_inner("NeuronInfoRuntimeApi", "get_neurons_lite");
            set(&mut n, "hotkey", Value::from_bytes(keys[usize::from(uid)]));
            set(&mut n, "uid", Value::u128(u128::from(uid)));
            set(
                &mut n,
                "validator_trust",
                Value::u128(if uid == 0 { 777 } else { 0 }),
            );
            n
        })
        .collect();
    s.set_answer("NeuronInfoRuntimeApi", "get_neurons_lite", &list(lite));
    let mut hp = s.zero_inner("SubnetInfoRuntimeApi", "get_subnet_hyperparams_v2");
    set(&mut hp, "tempo", Value::u128(360));
    set(&mut hp, "weights_rate_limit", Value::u128(100));
    set(&mut hp, "weights_version", Value::u128(3));
    set(&mut hp, "commit_reveal_weights_enabled", Value::bool(true));
    set(&mut hp, "commit_reveal_period", Value::u128(1));
    set(&mut hp, "max_burn", Value::u128(100_000_000_000));
    set(
        &mut hp,
        "alpha_sigmoid_steepness",
        Value::named_composite([("bits", Value::i128(1000i128 << 32))]),
    );
    s.set_answer(
        "SubnetInfoRuntimeApi",
        "get_subnet_hyperparams_v2",
        &Value::unnamed_variant("Some", [hp]),
    );
}

fn fast() -> Options {
    Options {
        call_timeout: Duration::from_millis(500),
        inclusion_timeout: Duration::from_secs(2),
        stale_after: Duration::from_millis(300),
        poll_interval: Duration::from_millis(20),
        reconnect_attempts: 3,
        backoff: Duration::from_millis(20),
        mortality: 64,
        ..Options::default()
    }
}

async fn node_and_client() -> (Node, Subtensor) {
    let node = Node::start().await;
    subnet(&mut node.state());
    let client = Subtensor::connect_with(Network::Custom(node.url.clone()), fast())
        .await
        .unwrap()
        .with_hotkey(alice())
        .with_coldkey(bob());
    (node, client)
}

fn weights(hotkey: &Keypair) -> SetWeights {
    SetWeights {
        hotkey: hotkey.ss58(),
        netuid: 1,
        uids: vec![0, 1],
        weights: vec![65535, 32768],
        version_key: 3,
    }
}

#[test]
fn fixture_is_finney_spec_393_with_the_expected_shape() {
    let md = subxt::metadata::Metadata::decode_from(crate::node::FIXTURE).unwrap();
    let c = md
        .pallet_by_name("System")
        .unwrap()
        .constant_by_name("Version")
        .unwrap();
    let v =
        subxt::ext::scale_value::scale::decode_as_type(&mut c.value(), c.ty(), md.types()).unwrap();
    let spec = v.at("spec_version").and_then(|x| x.as_u128());
    assert_eq!(spec, Some(393), "{v}");
    assert_eq!(dojo_chain::shape::check(&md), Vec::<String>::new());
}

#[tokio::test]
async fn metagraph_and_hyperparams_decode_from_finney_types() {
    let (node, client) = node_and_client().await;
    let mg = client.metagraph(1).await.unwrap();
    assert_eq!(mg.block, node.state().best);
    assert_eq!(mg.neurons.len(), 2);
    let a = &mg.neurons[0];
    assert_eq!(a.hotkey, alice().ss58());
    assert_eq!(a.coldkey, bob().ss58());
    assert_eq!(
        (a.alpha_stake, a.tao_stake, a.stake),
        (1_000_000, 2_000_000, 1_105_000)
    );
    assert!(a.validator_permit && a.active);
    assert_eq!(a.validator_trust, 777);
    assert_eq!(a.dividends, 65535);
    assert_eq!(a.last_update, 90);
    assert_eq!(a.block_at_registration, 1);
    let axon = a.axon.as_ref().unwrap();
    assert_eq!((axon.port, axon.version), (8091, 10_002_000));
    assert_eq!(axon.ipv4(), Some("10.0.0.1".parse().unwrap()));
    let b = &mg.neurons[1];
    assert_eq!(
        (b.uid, b.axon.is_none(), b.consensus),
        (Uid(1), true, 40000)
    );
    assert_eq!(mg.uid_of(&bob().ss58()), Some(Uid(1)));

    let hp = client.hyperparams(1).await.unwrap();
    assert_eq!(hp.u64("tempo"), Ok(360));
    assert_eq!(hp.u64("weights_rate_limit"), Ok(100));
    assert_eq!(hp.u64("weights_version"), Ok(3));
    assert_eq!(hp.flag("commit_reveal_weights_enabled"), Ok(true));
    assert_eq!(hp.u64("max_burn"), Ok(100_000_000_000));
    assert_eq!(
        hp.get("alpha_sigmoid_steepness"),
        Some(HyperparamValue::I16(1000))
    );
    assert_eq!(client.current_block().await, Ok(100));
}

#[tokio::test]
async fn absent_subnet_is_typed() {
    let (node, client) = node_and_client().await;
    node.state().set_answer(
        "SubnetInfoRuntimeApi",
        "get_metagraph",
        &Value::unnamed_variant("None", []),
    );
    assert_eq!(
        client.metagraph(9).await,
        Err(ChainError::SubnetNotExists(9))
    );
}

#[tokio::test]
async fn set_weights_is_a_signed_mortal_set_mechanism_weights_the_node_verifies() {
    let (node, client) = node_and_client().await;
    client.set_weights(weights(&alice())).await.unwrap();
    client.set_weights(weights(&alice())).await.unwrap();
    let s = node.state();
    assert_eq!(s.submitted.len(), 2);
    for (i, sub) in s.submitted.iter().enumerate() {
        assert!(sub.signature_ok, "signature of submission {i}");
        assert_eq!(sub.signer, alice().public());
        assert_eq!(sub.nonce, i as u64, "nonce read from the chain");
        assert_eq!(sub.mortal.map(|(period, _)| period), Some(64));
        assert_eq!(
            (sub.pallet.as_str(), sub.call.as_str()),
            ("SubtensorModule", "set_mechanism_weights")
        );
        assert_eq!(arg(sub, "netuid").as_u128(), Some(1));
        assert_eq!(arg(sub, "mecid").as_u128(), Some(0));
        assert_eq!(u16s(&arg(sub, "dests")), [0, 1]);
        assert_eq!(u16s(&arg(sub, "weights")), [65535, 32768]);
        assert_eq!(arg(sub, "version_key").as_u128(), Some(3));
    }
    assert_eq!(s.best, 102, "each submission was included in its own block");
}

#[tokio::test]
async fn commit_reveal_serve_and_register_are_signed_by_the_right_keys() {
    let (node, client) = node_and_client().await;
    // A chain that still takes hash commits says so; the fixture's default is timelocked v4.
    node.state().set_storage_value(
        "SubtensorModule",
        "CommitRevealWeightsVersion",
        &Value::u128(2),
    );
    let salt: Vec<u16> = (1..=8).collect();
    let hash = commit_hash_v2(&alice().public(), 1, &[0, 1], &[65535, 32768], &salt, 3);
    client
        .commit_weights(&alice().ss58(), 1, hash)
        .await
        .unwrap();
    client
        .reveal_weights(RevealWeights {
            hotkey: alice().ss58(),
            netuid: 1,
            uids: vec![0, 1],
            values: vec![65535, 32768],
            salt: salt.clone(),
            version_key: 3,
        })
        .await
        .unwrap();
    let axon = AxonInfo {
        block: 0,
        version: 10_002_000,
        ip: 0x0a00_0001,
        port: 8091,
        ip_type: 4,
        protocol: 4,
    };
    client.serve_axon(&alice().ss58(), 1, axon).await.unwrap();
    node.state().next_uid = 5;
    let uid = client
        .burned_register(&bob().ss58(), 1, &alice().ss58())
        .await
        .unwrap();
    assert_eq!(uid, Uid(5));
    let s = node.state();
    let calls: Vec<_> = s.submitted.iter().map(|x| x.call.as_str()).collect();
    assert_eq!(
        calls,
        [
            "commit_weights",
            "reveal_weights",
            "serve_axon",
            "burned_register"
        ]
    );
    assert!(s.submitted.iter().all(|x| x.signature_ok));
    assert_eq!(s.submitted[3].signer, bob().public(), "coldkey signs");
    assert_eq!(s.submitted[0].signer, alice().public(), "hotkey signs");
    let committed = match &arg(&s.submitted[0], "commit_hash").value {
        subxt::ext::scale_value::ValueDef::Composite(c) => c
            .values()
            .flat_map(|v| match &v.value {
                subxt::ext::scale_value::ValueDef::Composite(inner) => {
                    inner.values().map(|b| b.as_u128().unwrap() as u8).collect()
                }
                _ => vec![v.as_u128().unwrap() as u8],
            })
            .collect::<Vec<u8>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(committed, hash);
    assert_eq!(u16s(&arg(&s.submitted[1], "salt")), salt);
    assert_eq!(arg(&s.submitted[2], "port").as_u128(), Some(8091));
    assert_eq!(arg(&s.submitted[2], "ip").as_u128(), Some(0x0a00_0001));
}

#[tokio::test]
async fn signing_as_another_key_is_refused_before_submission() {
    let (node, client) = node_and_client().await;
    let err = client.set_weights(weights(&bob())).await.unwrap_err();
    assert!(matches!(err, ChainError::InvalidInput(_)), "{err}");
    let unloaded = Subtensor::connect_with(Network::Custom(node.url.clone()), fast())
        .await
        .unwrap();
    let err = unloaded.set_weights(weights(&alice())).await.unwrap_err();
    assert!(matches!(err, ChainError::InvalidInput(_)), "{err}");
    assert!(node.state().submitted.is_empty());
}

#[tokio::test]
async fn rate_limit_rejection_is_a_transient_error_and_not_resubmitted() {
    let (node, client) = node_and_client().await;
    node.state().reject_custom = Some(6);
    let err = client.set_weights(weights(&alice())).await.unwrap_err();
    assert!(
        matches!(err, ChainError::SettingWeightsTooFast { .. }),
        "{err}"
    );
    assert!(err.is_transient());
    node.state().reject_custom = Some(10);
    let err = client
        .serve_axon(&alice().ss58(), 1, AxonInfo::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChainError::HotKeyNotRegisteredInSubNet(_)),
        "{err}"
    );
    let s = node.state();
    assert_eq!(s.submitted.len(), 2, "one attempt per call, no retry");
    assert_eq!(s.best, 100, "nothing included");
}

#[tokio::test]
async fn dispatch_errors_come_back_by_name() {
    let (node, client) = node_and_client().await;
    node.state().dispatch_error = Some("NeuronNoValidatorPermit");
    assert_eq!(
        client.set_weights(weights(&alice())).await,
        Err(ChainError::NeuronNoValidatorPermit)
    );
    node.state().dispatch_error = Some("IncorrectWeightVersionKey");
    assert!(matches!(
        client.set_weights(weights(&alice())).await,
        Err(ChainError::IncorrectWeightVersionKey { .. })
    ));
}

#[tokio::test]
async fn a_hanging_node_hits_the_deadline() {
    let (node, client) = node_and_client().await;
    node.state().fault = Fault::Hang("state_call".into());
    let t = std::time::Instant::now();
    let err = client.metagraph(1).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Transport(m) if m.contains("no answer")),
        "{err}"
    );
    // One deadline, one reconnect, one more deadline.
    // Generous: it guards against waiting forever, not a speed.
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    node.state().fault = Fault::None;
    assert_eq!(client.metagraph(1).await.map(|m| m.neurons.len()), Ok(2));
}

#[tokio::test]
async fn socket_dropped_mid_subscription_is_unknown_outcome_then_reconnects_without_a_new_nonce() {
    let (node, client) = node_and_client().await;
    node.state().fault = Fault::DropOnSubmit;
    let err = client.set_weights(weights(&alice())).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Transport(m) if m.contains("not resubmitted")),
        "{err}"
    );
    assert_eq!(node.state().submitted.len(), 1);
    node.state().fault = Fault::None;
    assert_eq!(client.current_block().await, Ok(100), "reconnected");
    assert!(node.state().connections >= 2);
    // The dropped one never made it into a block, so the chain's nonce is unchanged and the
    // next attempt reuses nonce 0: at most one of the two can ever be included.
    client.set_weights(weights(&alice())).await.unwrap();
    let s = node.state();
    assert_eq!(s.submitted.len(), 2);
    assert_eq!((s.submitted[0].nonce, s.submitted[1].nonce), (0, 0));
}

#[tokio::test]
async fn runtime_upgrade_refetches_metadata_and_fails_loudly_on_shape_changes() {
    let (node, client) = node_and_client().await;
    client.metagraph(1).await.unwrap();
    assert_eq!(node.state().metadata_downloads, 1);
    {
        let mut s = node.state();
        let bytes = upgraded_metadata("set_mechanism_weights", "hotkeys");
        s.metadata = subxt::metadata::Metadata::decode_from(&bytes).unwrap();
        s.metadata_bytes = bytes;
        s.spec_version = 394;
    }
    let err = client.metagraph(1).await.unwrap_err();
    let ChainError::Decode(msg) = &err else {
        panic!("{err}")
    };
    assert!(msg.contains("spec_version 394"), "{msg}");
    assert!(
        msg.contains("call SubtensorModule.set_mechanism_weights is missing"),
        "{msg}"
    );
    assert!(
        msg.contains("get_metagraph output has no field hotkeys"),
        "{msg}"
    );
    assert_eq!(node.state().metadata_downloads, 2, "new metadata fetched");
    let err = client.set_weights(weights(&alice())).await.unwrap_err();
    assert!(matches!(err, ChainError::Decode(_)), "{err}");
    assert!(node.state().submitted.is_empty());
}

#[tokio::test]
async fn wait_for_block_sees_new_blocks_and_detects_a_stale_chain() {
    let (node, client) = node_and_client().await;
    let st = node.state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        st.lock().unwrap().best = 101;
    });
    assert_eq!(client.wait_for_block(100).await, Ok(101));
    let err = client.wait_for_block(101).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::Transport(m) if m.contains("stale")),
        "{err}"
    );
}

/// Bytes of a `Vec<u8>` argument, through the `BoundedVec` newtype around it if there is one.
fn bytes(v: &Value) -> Vec<u8> {
    use subxt::ext::scale_value::{Composite, ValueDef};
    match &v.value {
        ValueDef::Composite(Composite::Unnamed(one))
            if one.len() == 1 && matches!(one[0].value, ValueDef::Composite(_)) =>
        {
            bytes(&one[0])
        }
        _ => u16s(v).into_iter().map(|b| b as u8).collect(),
    }
}

#[tokio::test]
async fn timelocked_commit_is_a_signed_v4_commit_that_opens_with_its_rounds_signature_only() {
    let node = Node::start().await;
    subnet(&mut node.state());
    // A stand-in beacon's key instead of quicknet's, so the test can sign the (future) round.
    let beacon = TestBeacon::new(7);
    let client = Subtensor::connect_with(
        Network::Custom(node.url.clone()),
        Options {
            drand_public_key: beacon.public_key_hex(),
            ..fast()
        },
    )
    .await
    .unwrap()
    .with_hotkey(alice());
    // Nothing written: the item's default in finney's metadata, which is v4 (drand timelock).
    assert_eq!(client.commit_reveal_version().await, Ok(Some(4)));
    assert_eq!(
        client.commit_scheme(1).await,
        Ok(CommitScheme::Timelocked { version: 4 })
    );
    // A hash commit could never be revealed there: refused before anything is sent.
    let err = client
        .commit_weights(&alice().ss58(), 1, [7u8; 32])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::InvalidInput(m) if m.contains("timelocked commit-reveal v4")),
        "{err}"
    );
    assert!(node.state().submitted.is_empty());

    let block = node.state().best;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let round = client
        .commit_timelocked_weights(weights(&alice()))
        .await
        .unwrap();
    // tempo 360, reveal period 1 (the fixture subnet), 12 s blocks; a second of slack for the
    // clock reading on either side.
    let lo = tlock::reveal_round(1, 360, block, 1, now - 1.0, 12.0);
    let hi = tlock::reveal_round(1, 360, block, 1, now + 60.0, 12.0);
    assert!((lo..=hi).contains(&round), "{lo} <= {round} <= {hi}");
    let subs = node.state().submitted.clone();
    assert_eq!(subs.len(), 1);
    let sub = &subs[0];
    assert_eq!(sub.call, "commit_timelocked_mechanism_weights");
    assert!(sub.signature_ok);
    assert_eq!(sub.signer, alice().public());
    assert!(sub.mortal.is_some());
    assert_eq!(arg(sub, "netuid").as_u128(), Some(1));
    assert_eq!(arg(sub, "mecid").as_u128(), Some(0));
    assert_eq!(arg(sub, "reveal_round").as_u128(), Some(u128::from(round)));
    assert_eq!(arg(sub, "commit_reveal_version").as_u128(), Some(4));
    let commit = bytes(&arg(sub, "commit"));
    assert!(commit.len() <= tlock::MAX_COMMIT_LEN);
    let want = tlock::payload(&alice().public(), &[0, 1], &[65535, 32768], 3);
    assert_eq!(
        tlock::decrypt(&commit, &beacon.signature(round)).unwrap(),
        want
    );
    assert!(tlock::decrypt(&commit, &beacon.signature(round - 1)).is_err());

    // Hash commits accepted by the chain (v2): a timelocked commit is refused, a hash one passes
    // the check; commit-reveal off: weights are supported either way.
    node.state().set_storage_value(
        "SubtensorModule",
        "CommitRevealWeightsVersion",
        &Value::u128(2),
    );
    assert_eq!(client.commit_scheme(1).await, Ok(CommitScheme::Hash));
    assert_eq!(client.check_weights_supported(1).await, Ok(()));
    let err = client
        .commit_timelocked_weights(weights(&alice()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ChainError::InvalidInput(m) if m.contains("hash commits")),
        "{err}"
    );
    assert_eq!(node.state().submitted.len(), 1);
    node.state().set_storage_value(
        "SubtensorModule",
        "CommitRevealWeightsVersion",
        &Value::u128(4),
    );
    {
        let mut s = node.state();
        let keys = [alice().public(), bob().public()];
        let neurons: Vec<_> = keys
            .iter()
            .map(|k| crate::node::NeuronSpec {
                hotkey: *k,
                coldkey: *k,
                ..Default::default()
            })
            .collect();
        s.set_subnet(
            1,
            &neurons,
            &[("commit_reveal_weights_enabled", Value::bool(false))],
        );
    }
    assert_eq!(client.check_weights_supported(1).await, Ok(()));
}

#[tokio::test]
async fn weights_row_reads_back_what_the_chain_holds_for_the_hotkey() {
    let (node, client) = node_and_client().await;
    let pairs = |v: &[(u16, u16)]| {
        list(
            v.iter()
                .map(|(a, b)| list([Value::u128(u128::from(*a)), Value::u128(u128::from(*b))])),
        )
    };
    let set_rows = |s: &mut State, alice_row: &[(u16, u16)]| {
        let full: Vec<Value> = [
            (alice().public(), alice_row.to_vec()),
            (bob().public(), vec![]),
        ]
        .into_iter()
        .enumerate()
        .map(|(uid, (key, w))| {
            let mut n = s.zero_inner("NeuronInfoRuntimeApi", "get_neurons");
            set(&mut n, "hotkey", Value::from_bytes(key));
            set(&mut n, "uid", Value::u128(uid as u128));
            set(&mut n, "weights", pairs(&w));
            n
        })
        .collect();
        s.set_answer("NeuronInfoRuntimeApi", "get_neurons", &list(full));
    };
    set_rows(&mut node.state(), &[(1, 32768), (0, 65535)]);
    let row = client
        .weights_row(&alice().ss58(), 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row, [(1, 32768), (0, 65535)]);
    assert!(row_matches(&row, &[0, 1], &[65535, 32768]));
    assert!(!row_matches(&row, &[0, 1], &[65535, 32767]));
    // A reveal that did not land leaves the old (here: empty) row.
    set_rows(&mut node.state(), &[]);
    let row = client
        .weights_row(&alice().ss58(), 1)
        .await
        .unwrap()
        .unwrap();
    assert!(!row_matches(&row, &[0, 1], &[65535, 32768]));
    let stranger = Keypair::from_uri("//Charlie").unwrap();
    assert_eq!(client.weights_row(&stranger.ss58(), 1).await, Ok(None));
}

#[tokio::test]
async fn wss_to_a_plain_websocket_node_is_a_transport_error() {
    // The fixture node speaks plain ws; a TLS handshake against it fails (TLS is compiled in
    // through jsonrpsee's rustls, so this is a handshake failure, not a missing feature).
    let node = Node::start().await;
    let url = node.url.replace("ws://", "wss://");
    let err = Subtensor::connect_with(Network::Custom(url.clone()), fast())
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Transport(_)), "{err}");
    assert_eq!(node.state().metadata_downloads, 0);
}

#[tokio::test]
async fn weight_and_bond_rows_come_from_get_neurons_when_asked_for() {
    let (node, lite) = node_and_client().await;
    let pairs = |v: &[(u16, u16)]| {
        list(
            v.iter()
                .map(|(a, b)| list([Value::u128(u128::from(*a)), Value::u128(u128::from(*b))])),
        )
    };
    {
        let mut s = node.state();
        let full: Vec<Value> = [(0u16, 777u16, vec![(1u16, 65535u16)], vec![(1u16, 300u16)])]
            .into_iter()
            .chain([(1, 0, vec![], vec![])])
            .map(|(uid, trust, w, b)| {
                let mut n = s.zero_inner("NeuronInfoRuntimeApi", "get_neurons");
                set(&mut n, "uid", Value::u128(u128::from(uid)));
                set(&mut n, "validator_trust", Value::u128(u128::from(trust)));
                set(&mut n, "weights", pairs(&w));
                set(&mut n, "bonds", pairs(&b));
                n
            })
            .collect();
        s.set_answer("NeuronInfoRuntimeApi", "get_neurons", &list(full));
    }
    // Default: the lite call, rows left empty.
    let mg = lite.metagraph(1).await.unwrap();
    assert!(
        mg.neurons
            .iter()
            .all(|n| n.weights.is_empty() && n.bonds.is_empty())
    );
    let rows = Subtensor::connect_with(
        Network::Custom(node.url.clone()),
        Options {
            rows: true,
            ..fast()
        },
    )
    .await
    .unwrap();
    let mg = rows.metagraph(1).await.unwrap();
    assert_eq!(mg.neurons[0].weights, [(1, 65535)]);
    assert_eq!(mg.neurons[0].bonds, [(1, 300)]);
    assert_eq!(mg.neurons[0].validator_trust, 777);
    assert!(mg.neurons[1].weights.is_empty());
    assert_eq!(
        mg.neurons[0].hotkey,
        alice().ss58(),
        "the rest from get_metagraph"
    );
}
