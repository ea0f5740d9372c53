//! Smoke test of the `wallet` subcommand through the real binary.

use std::process::Command;

fn miner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dojo-miner"))
}

#[test]
fn wallet_create_then_show() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let out = miner()
        .args([
            "wallet",
            "create",
            "--wallet.path",
            path,
            "--wallet.name",
            "w",
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
    let created = String::from_utf8(out.stdout).unwrap();
    let cold = created
        .lines()
        .find_map(|l| l.strip_prefix("coldkey 5"))
        .map(|s| format!("5{s}"))
        .unwrap();

    let out = miner()
        .args([
            "wallet",
            "show",
            "--wallet.path",
            path,
            "--wallet.name",
            "w",
            "--wallet.hotkey",
            "h",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("name: w"), "{shown}");
    assert!(shown.contains(&format!("coldkey: {cold}")), "{shown}");
    let hot = shown
        .lines()
        .find_map(|l| l.strip_prefix("hotkey: h "))
        .unwrap();
    assert_eq!(hot.len(), 48);

    // Without a password choice, create refuses instead of writing an unencrypted coldkey.
    let out = miner()
        .args([
            "wallet",
            "create",
            "--wallet.path",
            path,
            "--wallet.name",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Showing a wallet that does not exist is an error naming the file.
    let out = miner()
        .args([
            "wallet",
            "show",
            "--wallet.path",
            path,
            "--wallet.name",
            "nope",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
