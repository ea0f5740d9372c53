//! Timelock interop with the real Python `bittensor-drand` 2.0.0 package, offline: both sides
//! use drand quicknet's public key and a recorded quicknet pulse.
//!
//! The package's Python API wraps the ciphertext in its SCALE `UserData{encrypted_data: Vec<u8>,
//! reveal_round: u64}`; the chain's commit is the bare `encrypted_data` (its `generate_commit`), so
//! the test wraps and unwraps.
//!
//! `DOJO_DRAND_PYTHON` points at a venv python with `bittensor-drand` installed (`cargo xtask
//! setup`). Without it the test is skipped locally but fails under `DOJO_CI=1`.

use std::path::Path;
use std::process::Command;

use dojo_chain::tlock;
use parity_scale_codec::{Decode, Encode};

/// Quicknet round 1000 (recorded in the `timelock` crate's tests, from
/// https://api.drand.sh/52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971/public/1000).
const ROUND: u64 = 1000;
const SIGNATURE: &str = "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

fn run(python: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/drand_interop.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn our_commits_open_in_bittensor_drand_and_theirs_open_here() {
    let Some(py) = dojo_test_utils::require_env("DOJO_DRAND_PYTHON") else {
        return;
    };
    let hotkey = [0xd4u8; 32];
    let payload = tlock::payload(&hotkey, &[0, 1, 2], &[65535, 32768, 1], 7);

    // Ours, opened by their decrypt_with_signature with the round's signature.
    let ours = tlock::encrypt(tlock::QUICKNET_PUBLIC_KEY, ROUND, &payload).unwrap();
    let wrapped = (ours, ROUND).encode();
    let opened = run(&py, &["decrypt", &hex::encode(&wrapped), SIGNATURE]);
    assert_eq!(opened, hex::encode(&payload));

    // Theirs (encrypt_at_round, quicknet), opened by ours.
    let theirs = hex::decode(run(&py, &["encrypt", &hex::encode(&payload), "1000"])).unwrap();
    let (theirs, round) = <(Vec<u8>, u64)>::decode(&mut theirs.as_slice()).unwrap();
    assert_eq!(round, ROUND);
    let sig = hex::decode(SIGNATURE).unwrap();
    assert_eq!(tlock::decrypt(&theirs, &sig).unwrap(), payload);

    // Neither opens with another round's signature: their package refuses ours for round 1001.
    let other = tlock::encrypt(tlock::QUICKNET_PUBLIC_KEY, ROUND + 1, &payload).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/drand_interop.py");
    let out = Command::new(&py)
        .arg(script)
        .args([
            "decrypt",
            &hex::encode((other, ROUND + 1).encode()),
            SIGNATURE,
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "round 1001 opened with round 1000's signature"
    );
}
