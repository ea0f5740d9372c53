//! Offline checks of the subtensor backend: call data against the byte vectors of spec
//! chain-and-wire.md §1.1, encoded by subxt's `OfflineClient` against a V14 metadata fixture built
//! here from Rust types that mirror SubtensorModule's call signatures (macros/dispatches.rs
//! @14bc6f9f); the commit hash vector; endpoint resolution; error mapping.

mod live;
mod subtensor;
mod tlock;

use dojo_chain::testing as node;

use std::marker::PhantomData;

use dojo_chain::calls;
use dojo_chain::errors::{CallKind, from_custom_code, from_module_error};
use dojo_chain::{Network, PALLET};
use dojo_types::Hotkey;
use dojo_types::chain::{AxonInfo, ChainError, account_id, commit_hash_v2};
use parity_scale_codec::{Compact, Encode};
use scale_info::{TypeInfo, meta_type};
use subxt::config::substrate::SpecVersionForRange;
use subxt::ext::frame_metadata::v14::{
    ExtrinsicMetadata, PalletCallMetadata, PalletMetadata, RuntimeMetadataV14,
};
use subxt::{OfflineClient, PolkadotConfig};

/// `NetUid` is a transparent `u16` in metadata; `MechId` a transparent `u8`.
#[allow(dead_code, non_camel_case_types)]
#[derive(TypeInfo, Encode)]
enum Call {
    #[codec(index = 0)]
    set_weights {
        netuid: u16,
        dests: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    },
    #[codec(index = 4)]
    serve_axon {
        netuid: u16,
        version: u32,
        ip: u128,
        port: u16,
        ip_type: u8,
        protocol: u8,
        placeholder1: u8,
        placeholder2: u8,
    },
    #[codec(index = 7)]
    burned_register { netuid: u16, hotkey: AccountId32 },
    #[codec(index = 96)]
    commit_weights { netuid: u16, commit_hash: H256 },
    #[codec(index = 97)]
    reveal_weights {
        netuid: u16,
        uids: Vec<u16>,
        values: Vec<u16>,
        salt: Vec<u16>,
        version_key: u64,
    },
    #[codec(index = 118)]
    commit_timelocked_mechanism_weights {
        netuid: u16,
        mecid: u8,
        commit: Vec<u8>,
        reveal_round: u64,
        commit_reveal_version: u16,
    },
    #[codec(index = 119)]
    set_mechanism_weights {
        netuid: u16,
        mecid: u8,
        dests: Vec<u16>,
        weights: Vec<u16>,
        version_key: u64,
    },
}

#[derive(TypeInfo, Encode)]
struct AccountId32([u8; 32]);

#[derive(TypeInfo, Encode)]
struct H256([u8; 32]);

#[allow(dead_code)]
#[derive(TypeInfo)]
enum RuntimeCall {
    #[codec(index = 7)]
    SubtensorModule(Call),
}

#[allow(dead_code)]
#[derive(TypeInfo)]
enum RuntimeEvent {
    #[codec(index = 0)]
    System,
}

#[allow(dead_code)]
#[derive(TypeInfo)]
enum MultiAddress {
    #[codec(index = 0)]
    Id(AccountId32),
}

#[allow(dead_code)]
#[derive(TypeInfo)]
enum MultiSignature {
    #[codec(index = 1)]
    Sr25519([u8; 64]),
}

#[allow(dead_code)]
#[derive(TypeInfo)]
struct UncheckedExtrinsic<Address, Call, Signature, Extra>(
    PhantomData<(Address, Call, Signature, Extra)>,
);

#[allow(dead_code)]
#[derive(TypeInfo)]
struct Runtime {
    call: RuntimeCall,
    event: RuntimeEvent,
}

fn offline() -> OfflineClient<PolkadotConfig> {
    let pallet = PalletMetadata {
        name: PALLET,
        storage: None,
        calls: Some(PalletCallMetadata {
            ty: meta_type::<Call>(),
        }),
        event: None,
        constants: vec![],
        error: None,
        index: 7,
    };
    let extrinsic = ExtrinsicMetadata {
        ty: meta_type::<UncheckedExtrinsic<MultiAddress, RuntimeCall, MultiSignature, ()>>(),
        version: 4,
        signed_extensions: vec![],
    };
    let v14 = RuntimeMetadataV14::new(vec![pallet], extrinsic, meta_type::<Runtime>());
    let metadata = subxt::metadata::Metadata::from_v14(v14).expect("fixture metadata converts");
    let config = PolkadotConfig::builder()
        .set_metadata_for_spec_versions([(425, metadata.arc())])
        .set_spec_version_for_block_ranges([SpecVersionForRange {
            block_range: 0..u64::MAX,
            spec_version: 425,
            transaction_version: 1,
        }])
        .build();
    OfflineClient::new_with_config(config)
}

fn encode(call: &calls::Call) -> String {
    let client = offline();
    let at = client.at_block(1u64).unwrap();
    hex(&at.tx().call_data(call).unwrap())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn set_weights_call_data_vector() {
    // Spec §1.1: 07 00 0100 08 0000 0100 08 ffff 0080 0000000000000000.
    assert_eq!(
        encode(&calls::set_weights(1, &[0, 1], &[65535, 32768], 0)),
        "07000100080000010008ffff00800000000000000000"
    );
}

#[test]
fn set_mechanism_weights_call_data_vector() {
    // Spec §1.1: 07 77 0100 00 08 0000 0100 08 ffff 0080 0000000000000000.
    assert_eq!(
        encode(&calls::set_mechanism_weights(
            1,
            0,
            &[0, 1],
            &[65535, 32768],
            0
        )),
        "0777010000080000010008ffff00800000000000000000"
    );
}

#[test]
fn other_calls_match_scale_of_the_signature() {
    let alice = Hotkey::new("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap();
    let pk = account_id(&alice);
    let salt: Vec<u16> = (1..=8).collect();
    let hash = commit_hash_v2(&pk, 1, &[0, 1], &[65535, 32768], &salt, 0);
    let expect = |c: Call| hex(&[vec![7u8], c.encode()].concat());
    assert_eq!(
        encode(&calls::commit_weights(1, hash)),
        expect(Call::commit_weights {
            netuid: 1,
            commit_hash: H256(hash)
        })
    );
    assert_eq!(
        encode(&calls::reveal_weights(
            1,
            &[0, 1],
            &[65535, 32768],
            &salt,
            0
        )),
        expect(Call::reveal_weights {
            netuid: 1,
            uids: vec![0, 1],
            values: vec![65535, 32768],
            salt: salt.clone(),
            version_key: 0
        })
    );
    assert_eq!(
        encode(&calls::burned_register(1, pk)),
        format!(
            "07070100{}",
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        )
    );
    let axon = AxonInfo {
        block: 0,
        version: 10_002_000,
        ip: 0x0a00_0001,
        port: 8091,
        ip_type: 4,
        protocol: 4,
    };
    assert_eq!(
        encode(&calls::serve_axon(1, &axon)),
        expect(Call::serve_axon {
            netuid: 1,
            version: 10_002_000,
            ip: 0x0a00_0001,
            port: 8091,
            ip_type: 4,
            protocol: 4,
            placeholder1: 0,
            placeholder2: 0
        })
    );
    assert_eq!(
        encode(&calls::commit_timelocked_mechanism_weights(
            1,
            0,
            &[9, 8, 7],
            12_345,
            4
        )),
        expect(Call::commit_timelocked_mechanism_weights {
            netuid: 1,
            mecid: 0,
            commit: vec![9, 8, 7],
            reveal_round: 12_345,
            commit_reveal_version: 4
        })
    );
    // Compact lengths for a long vector (> 63 entries) go through the same path.
    let uids: Vec<u16> = (0..100).collect();
    let mut want = vec![7u8, 0, 1, 0];
    Compact(100u32).encode_to(&mut want);
    want.extend(uids.iter().flat_map(|u| u.to_le_bytes()));
    Compact(100u32).encode_to(&mut want);
    want.extend(uids.iter().flat_map(|u| u.to_le_bytes()));
    want.extend(5u64.to_le_bytes());
    assert_eq!(encode(&calls::set_weights(1, &uids, &uids, 5)), hex(&want));
}

#[test]
fn unknown_call_is_an_error_not_a_panic() {
    let bogus = subxt::dynamic::tx(
        PALLET,
        "no_such_call",
        subxt::dynamic::Value::named_composite(Vec::<(String, _)>::new()),
    );
    let client = offline();
    assert!(
        client
            .at_block(1u64)
            .unwrap()
            .tx()
            .call_data(&bogus)
            .is_err()
    );
    // Wrong argument shape: a missing field.
    let short = subxt::dynamic::tx(
        PALLET,
        "set_weights",
        subxt::dynamic::Value::named_composite([("netuid", subxt::dynamic::Value::u128(1))]),
    );
    assert!(
        client
            .at_block(1u64)
            .unwrap()
            .tx()
            .call_data(&short)
            .is_err()
    );
}

#[test]
fn commit_hash_vector() {
    let alice = Hotkey::new("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap();
    let salt: Vec<u16> = (1..=8).collect();
    assert_eq!(
        hex(&commit_hash_v2(
            &account_id(&alice),
            1,
            &[0, 1],
            &[65535, 32768],
            &salt,
            0
        )),
        "15d1d763685dfce22d8650296059d5767f0932787b33a80c31d996c3d36b6eef"
    );
}

#[test]
fn network_resolution() {
    let p = |s: &str| s.parse::<Network>();
    assert_eq!(
        p("finney").unwrap().endpoint(),
        "wss://entrypoint-finney.opentensor.ai:443"
    );
    assert_eq!(
        p("test").unwrap().endpoint(),
        "wss://test.finney.opentensor.ai:443"
    );
    assert_eq!(
        p("archive").unwrap().endpoint(),
        "wss://archive.chain.opentensor.ai:443"
    );
    assert_eq!(p("local").unwrap().endpoint(), "ws://127.0.0.1:9944");
    assert!(p("local").unwrap().is_insecure());
    assert_eq!(
        p("ws://10.0.0.2:9944").unwrap(),
        Network::Custom("ws://10.0.0.2:9944".into())
    );
    assert!(!p("wss://node.example:443").unwrap().is_insecure());
    assert!(p("http://x").is_err());
    assert!(p("").is_err());
    assert!(p("ws://").is_err());
}

#[test]
fn pool_and_dispatch_errors_are_typed() {
    assert!(matches!(
        from_custom_code(6, CallKind::SetWeights),
        ChainError::SettingWeightsTooFast { .. }
    ));
    assert_eq!(
        from_custom_code(6, CallKind::CommitWeights),
        ChainError::CommittingWeightsTooFast
    );
    assert_eq!(
        from_custom_code(12, CallKind::ServeAxon),
        ChainError::ServingRateLimitExceeded
    );
    assert_eq!(
        from_custom_code(1, CallKind::SetWeights),
        ChainError::NotEnoughStakeToSetWeights
    );
    assert_eq!(
        from_custom_code(18, CallKind::SetWeights),
        ChainError::InputLengthsUnequal
    );
    assert_eq!(
        from_custom_code(200, CallKind::SetWeights),
        ChainError::InvalidTransactionCustom(200)
    );
    assert_eq!(
        from_module_error("NeuronNoValidatorPermit"),
        ChainError::NeuronNoValidatorPermit
    );
    assert_eq!(
        from_module_error("WeightVecLengthIsLow"),
        ChainError::WeightVecLengthIsLow
    );
    assert_eq!(
        from_module_error("CommitRevealEnabled"),
        ChainError::CommitRevealEnabled
    );
    assert_eq!(
        from_module_error("RevealTooEarly"),
        ChainError::RevealTooEarly
    );
    assert!(matches!(
        from_module_error("IncorrectWeightVersionKey"),
        ChainError::IncorrectWeightVersionKey { .. }
    ));
    assert_eq!(
        from_module_error("SomethingNew"),
        ChainError::Dispatch("SomethingNew".into())
    );
    assert!(from_custom_code(6, CallKind::SetWeights).is_transient());
}

#[tokio::test]
async fn connecting_to_nothing_is_a_transport_error() {
    // Port 9 on loopback (discard) has no websocket server; no network beyond loopback is used.
    let err = dojo_chain::Subtensor::connect(Network::Custom("ws://127.0.0.1:9".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Transport(_)), "{err}");
}
