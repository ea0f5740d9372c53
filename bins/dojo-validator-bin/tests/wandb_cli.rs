//! `dojo-validator run --wandb.project` refuses to start, with what to do, when the wandb Python
//! package cannot be imported (here a fixture on PYTHONPATH shadows any installed one).

use std::path::Path;
use std::process::Command;

use dojo_identity::{Keypair, Wallet};

#[test]
fn run_without_the_wandb_package_fails_fast_with_what_to_do() {
    let wallets = tempfile::tempdir().unwrap();
    Wallet::new(wallets.path(), "v", "default")
        .unwrap()
        .write_hotkey(&Keypair::from_uri("//Alice").unwrap(), false)
        .unwrap();
    let hidden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/dojo-validator/tests/fixtures/no_wandb");
    let db = format!("sqlite://{}", wallets.path().join("v.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["run", "--wallet.name", "v", "--wandb.project", "dojo-test"])
        .args(["--wallet.path", wallets.path().to_str().unwrap()])
        .args(["--database.url", &db])
        .env("PYTHONPATH", &hidden)
        .env_remove("DOJO_WANDB_PYTHON")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("wandb Python package is not importable by python3")
            && stderr.contains("pip install wandb")
            && stderr.contains("drop --wandb.project"),
        "{stderr}"
    );
}
