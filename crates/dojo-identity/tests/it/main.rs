//! Interop with the real Python `bittensor-wallet` package.
//!
//! `DOJO_WALLET_PYTHON` points at a venv python with `bittensor-wallet` installed (`cargo xtask
//! setup`). Without it the test is skipped locally but fails under `DOJO_CI=1`.

use std::path::Path;
use std::process::Command;

use dojo_identity::{Keypair, Wallet, verify};

fn python() -> Option<String> {
    dojo_test_utils::require_env("DOJO_WALLET_PYTHON")
}

fn run(python: &str, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/interop.py");
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
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[test]
fn python_wallets_load_in_rust_and_rust_wallets_load_in_python() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let msg = "1700000000000000000.5Hot.5Axon.uuid.a7ffc6f8";

    // Python creates, Rust reads.
    let made = run(&py, &["create", path, "pyw", "pyh", "correct horse", msg]);
    assert_eq!(
        made["alice"],
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    );
    let w = Wallet::new(dir.path(), "pyw", "pyh").unwrap();
    let hot = w.hotkey(None).unwrap();
    assert_eq!(hot.ss58().as_str(), made["hotkey"]);
    assert_eq!(w.coldkey_address().unwrap().as_str(), made["coldkey"]);
    assert_eq!(
        w.coldkey(Some("correct horse")).unwrap().ss58().as_str(),
        made["coldkey"]
    );
    let py_sig = hex::decode(made["signature"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    assert!(
        verify(&hot.ss58(), msg.as_bytes(), &py_sig),
        "python signature must verify in rust"
    );
    assert!(!verify(&hot.ss58(), b"other", &py_sig));

    // Rust creates, Python reads (including decrypting our NaCl coldkey).
    let ours = Wallet::new(dir.path(), "rsw", "rsh").unwrap();
    let (cold, hot) = ours.create(12, Some("battery staple"), false).unwrap();
    let sig = format!("0x{}", hex::encode(hot.sign(msg.as_bytes())));
    let seen = run(
        &py,
        &["check", path, "rsw", "rsh", "battery staple", msg, &sig],
    );
    assert_eq!(seen["coldkey"].as_str().unwrap(), cold.ss58().as_str());
    assert_eq!(seen["coldkeypub"].as_str().unwrap(), cold.ss58().as_str());
    assert_eq!(seen["hotkey"].as_str().unwrap(), hot.ss58().as_str());
    assert_eq!(
        seen["verifies"], true,
        "rust signature must verify in python"
    );
    assert_eq!(seen["verifies_tampered"], false);

    // Same mnemonic, same address on both sides.
    assert_eq!(
        Keypair::from_phrase(hot.phrase().unwrap())
            .unwrap()
            .public(),
        hot.public()
    );
}
