//! Dynamic call payloads with subtensor's argument names (macros/dispatches.rs @14bc6f9f).
//!
//! Arguments are named composites, so the payloads keep working when the runtime re-types an
//! argument (e.g. `netuid` becoming a one-field `NetUid(u16)` composite) but fail loudly if a call
//! or an argument is renamed.

use dojo_types::chain::AxonInfo;
use subxt::dynamic::Value;
use subxt::tx::DynamicPayload;

use crate::PALLET;

/// A dynamic SubtensorModule call.
pub type Call = DynamicPayload<Value>;

fn u16s(v: &[u16]) -> Value {
    Value::unnamed_composite(v.iter().map(|x| Value::u128(u128::from(*x))))
}

fn call(name: &str, args: Vec<(&str, Value)>) -> Call {
    subxt::dynamic::tx(PALLET, name, Value::named_composite(args))
}

/// `set_weights(netuid, dests, weights, version_key)`, call index 0.
pub fn set_weights(netuid: u16, dests: &[u16], weights: &[u16], version_key: u64) -> Call {
    call(
        "set_weights",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("dests", u16s(dests)),
            ("weights", u16s(weights)),
            ("version_key", Value::u128(u128::from(version_key))),
        ],
    )
}

/// `set_mechanism_weights(netuid, mecid, dests, weights, version_key)`, call index 119: what the SDK
/// sends (mecid 0 is the main mechanism).
pub fn set_mechanism_weights(
    netuid: u16,
    mecid: u8,
    dests: &[u16],
    weights: &[u16],
    version_key: u64,
) -> Call {
    call(
        "set_mechanism_weights",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("mecid", Value::u128(u128::from(mecid))),
            ("dests", u16s(dests)),
            ("weights", u16s(weights)),
            ("version_key", Value::u128(u128::from(version_key))),
        ],
    )
}

/// `commit_weights(netuid, commit_hash)`, call index 96 (hash from `commit_hash_v2`).
pub fn commit_weights(netuid: u16, commit_hash: [u8; 32]) -> Call {
    call(
        "commit_weights",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("commit_hash", Value::from_bytes(commit_hash)),
        ],
    )
}

/// `reveal_weights(netuid, uids, values, salt, version_key)`, call index 97.
pub fn reveal_weights(
    netuid: u16,
    uids: &[u16],
    values: &[u16],
    salt: &[u16],
    version_key: u64,
) -> Call {
    call(
        "reveal_weights",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("uids", u16s(uids)),
            ("values", u16s(values)),
            ("salt", u16s(salt)),
            ("version_key", Value::u128(u128::from(version_key))),
        ],
    )
}

/// `serve_axon(netuid, version, ip, port, ip_type, protocol, 0, 0)`, call index 4.
pub fn serve_axon(netuid: u16, axon: &AxonInfo) -> Call {
    call(
        "serve_axon",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("version", Value::u128(u128::from(axon.version))),
            ("ip", Value::u128(axon.ip)),
            ("port", Value::u128(u128::from(axon.port))),
            ("ip_type", Value::u128(u128::from(axon.ip_type))),
            ("protocol", Value::u128(u128::from(axon.protocol))),
            ("placeholder1", Value::u128(0)),
            ("placeholder2", Value::u128(0)),
        ],
    )
}

/// `burned_register(netuid, hotkey)`, call index 7, signed by the coldkey.
pub fn burned_register(netuid: u16, hotkey: [u8; 32]) -> Call {
    call(
        "burned_register",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("hotkey", Value::from_bytes(hotkey)),
        ],
    )
}

/// `commit_timelocked_mechanism_weights(netuid, mecid, commit, reveal_round,
/// commit_reveal_version)`, call index 118: a drand-timelocked payload from [`crate::tlock`] that
/// the chain decrypts and applies itself once the round's pulse is on chain.
pub fn commit_timelocked_mechanism_weights(
    netuid: u16,
    mecid: u8,
    commit: &[u8],
    reveal_round: u64,
    commit_reveal_version: u16,
) -> Call {
    call(
        "commit_timelocked_mechanism_weights",
        vec![
            ("netuid", Value::u128(u128::from(netuid))),
            ("mecid", Value::u128(u128::from(mecid))),
            ("commit", Value::from_bytes(commit)),
            ("reveal_round", Value::u128(u128::from(reveal_round))),
            (
                "commit_reveal_version",
                Value::u128(u128::from(commit_reveal_version)),
            ),
        ],
    )
}
