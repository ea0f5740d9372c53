//! `dojo-devnet admin`: a running devnet driven only through the CLI's one-line JSON outputs.

use std::process::Command;

use dojo_devnet::grpc::RemoteChain;
use dojo_types::Hotkey;
use dojo_types::chain::{Chain, SetWeights};
use serde_json::Value;

use super::{BIN, Node};

/// Kills the devnet when the test ends, panics included, so no orphan holds the test's stderr.
struct Running(Option<Node>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            n.kill();
        }
    }
}

fn ss58(seed: u8) -> String {
    Hotkey::from_public_key(&[seed; 32], 42).to_string()
}

/// Runs `dojo-devnet admin ARGS` against `url`; `Ok(json)` on exit 0 with exactly one stdout
/// line, `Err(stderr)` on a failure exit.
fn admin(url: &str, args: &[&str]) -> Result<Value, String> {
    let out = Command::new(BIN)
        .args([
            "--logging.level",
            "warn",
            "admin",
            "--subtensor.chain_endpoint",
            url,
        ])
        .args(args)
        .output()
        .expect("run dojo-devnet admin");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1), "failure exits 1");
        assert!(
            stdout.is_empty(),
            "nothing on stdout on failure: {stdout:?}"
        );
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    Ok(serde_json::from_str(stdout.trim()).expect("stdout is JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_cli_sets_up_a_subnet_and_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = Running(Some(Node::start(dir.path(), "0")));
    let url = node.0.as_ref().expect("node").url.clone();
    let (owner, ck, miner, other, validator) = (ss58(1), ss58(2), ss58(3), ss58(5), ss58(4));

    let created = admin(
        &url,
        &[
            "create-subnet",
            "--netuid",
            "3",
            "--owner-coldkey",
            &owner,
            "--set",
            "tempo=10",
            "--set",
            "commit_reveal_weights_enabled=false",
            "--set",
            "weights_rate_limit=0",
            "--set",
            "min_allowed_weights=1",
        ],
    )
    .unwrap();
    assert_eq!(created, serde_json::json!({"netuid": 3, "created": true}));
    let again = admin(
        &url,
        &["create-subnet", "--netuid", "3", "--owner-coldkey", &owner],
    );
    assert!(again.unwrap_err().contains("--exist-ok"));
    let reuse = admin(
        &url,
        &[
            "create-subnet",
            "--netuid",
            "3",
            "--owner-coldkey",
            &owner,
            "--exist-ok",
        ],
    )
    .unwrap();
    assert_eq!(reuse["created"], false);
    let typo = admin(
        &url,
        &[
            "create-subnet",
            "--netuid",
            "4",
            "--owner-coldkey",
            &owner,
            "--set",
            "tempoo=1",
        ],
    )
    .unwrap_err();
    assert!(
        typo.contains("unknown hyperparameter") && typo.contains("immunity_period"),
        "{typo}"
    );
    assert!(
        admin(&url, &["hyperparams", "--netuid", "4"]).is_err(),
        "a bad --set creates nothing"
    );

    let hp = admin(&url, &["hyperparams", "--netuid", "3"]).unwrap();
    assert_eq!(hp["tempo"], 10);
    assert_eq!(hp["commit_reveal_weights_enabled"], false);
    let set = admin(
        &url,
        &["set-hyperparam", "--netuid", "3", "immunity_period", "7"],
    )
    .unwrap();
    assert_eq!(
        set,
        serde_json::json!({"netuid": 3, "name": "immunity_period", "value": 7})
    );
    assert_eq!(
        admin(&url, &["hyperparams", "--netuid", "3"]).unwrap()["immunity_period"],
        7
    );

    let f = admin(
        &url,
        &["faucet", "--coldkey", &ck, "--amount", "10000000000"],
    )
    .unwrap();
    assert_eq!(
        f,
        serde_json::json!({"coldkey": ck.as_str(), "amount": 10_000_000_000u64})
    );
    let r0 = admin(
        &url,
        &[
            "register",
            "--netuid",
            "3",
            "--coldkey",
            &ck,
            "--hotkey",
            &miner,
        ],
    );
    let r1 = admin(
        &url,
        &[
            "register",
            "--netuid",
            "3",
            "--coldkey",
            &ck,
            "--hotkey",
            &validator,
        ],
    );
    let r2 = admin(
        &url,
        &[
            "register",
            "--netuid",
            "3",
            "--coldkey",
            &ck,
            "--hotkey",
            &other,
        ],
    );
    assert_eq!(r0.unwrap()["uid"], 0);
    assert_eq!(r1.unwrap()["uid"], 1);
    assert_eq!(r2.unwrap()["uid"], 2);
    let st = admin(
        &url,
        &[
            "stake",
            "--netuid",
            "3",
            "--hotkey",
            &validator,
            "--amount",
            "1000000000",
        ],
    );
    assert_eq!(st.unwrap()["amount"], 1_000_000_000u64);

    let m = admin(&url, &["metagraph", "--netuid", "3"]).unwrap();
    assert_eq!(m["neurons"][1]["stake"], 1_000_000_000u64);
    assert_eq!(m["neurons"][1]["alpha_stake"], 1_000_000_000u64);
    assert_eq!(m["neurons"][0]["stake"], 0);
    // Two tempos: the first epoch hands out the permit the weights need.
    assert_eq!(
        admin(&url, &["advance", "--blocks", "22"]).unwrap()["block"],
        22
    );
    let chain = RemoteChain::connect(&url).await.unwrap();
    chain
        .set_weights(SetWeights {
            hotkey: Hotkey::new(validator.clone()).unwrap(),
            netuid: 3,
            uids: vec![0, 2],
            weights: vec![3, 1],
            version_key: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        admin(&url, &["advance", "--blocks", "22"]).unwrap()["block"],
        44
    );
    assert_eq!(admin(&url, &["block"]).unwrap()["block"], 44);

    let m = admin(&url, &["metagraph", "--netuid", "3"]).unwrap();
    assert_eq!(
        (m["netuid"].as_u64(), m["block"].as_u64()),
        (Some(3), Some(44))
    );
    let neurons = m["neurons"].as_array().unwrap();
    assert_eq!(neurons.len(), 3);
    assert_eq!(neurons[0]["hotkey"], miner.as_str());
    assert_eq!(neurons[1]["hotkey"], validator.as_str());
    assert_eq!(neurons[1]["coldkey"], ck.as_str());
    let stake = neurons[1]["stake"].as_u64().unwrap();
    assert!(stake > 1_000_000_000, "dividends were staked: {stake}");
    assert_eq!(neurons[1]["validator_permit"], true);
    assert_eq!(
        neurons[1]["weights"],
        serde_json::json!([[0, 65535], [2, 21845]])
    );
    assert_eq!(neurons[0]["axon"], Value::Null);
    for n in neurons {
        for field in ["consensus", "incentive", "dividends", "validator_trust"] {
            let x = n[field].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{field} = {x}");
        }
        assert!(n["emission"].is_u64());
    }
    let incentive = neurons[0]["incentive"].as_f64().unwrap();
    assert!(
        incentive > 0.5,
        "the weighted miner earned incentive: {incentive}"
    );
    assert!(neurons[1]["dividends"].as_f64().unwrap() > 0.5);
    drop(node);
}

#[test]
fn admin_help_lists_the_hyperparameters_and_bad_endpoints_fail() {
    let out = Command::new(BIN)
        .args(["admin", "create-subnet", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "tempo: u16",
        "commit_reveal_weights_enabled: bool",
        "weights_rate_limit: u64",
    ] {
        assert!(help.contains(name), "{name} missing from {help}");
    }
    let err = admin("http://127.0.0.1:1", &["block"]).unwrap_err();
    assert!(err.contains("connecting to the devnet"), "{err}");
}
