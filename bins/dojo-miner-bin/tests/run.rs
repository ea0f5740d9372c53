//! The real `dojo-miner` binary against a devnet served over gRPC: what it acknowledged survives
//! SIGKILL and a restart; SIGTERM stops it cleanly; `--help` explains every flag; `keys` works.

use std::process::Stdio;
use std::time::Duration;

use dojo_devnet::{Devnet, SubnetParams};
use dojo_identity::{Keypair, Wallet};
use dojo_proto::v1;
use dojo_transport::{AxonTarget, CallOutcome, Dendrite, DendriteConfig};
use tokio::io::{AsyncBufReadExt, BufReader};

const NETUID: u16 = 7;

fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_dojo-miner"))
}

struct Setup {
    dir: tempfile::TempDir,
    chain_url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Setup {
    fn store_args(&self) -> Vec<String> {
        let p = self.dir.path();
        vec![
            "--netuid".into(),
            NETUID.to_string(),
            "--wallet.path".into(),
            p.join("wallets").display().to_string(),
            "--wallet.name".into(),
            "m".into(),
            "--wallet.hotkey".into(),
            "h".into(),
            "--miner.data_dir".into(),
            p.join("data").display().to_string(),
        ]
    }
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let wallets = dir.path().join("wallets");
    let out = bin()
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
    let coldkey = Wallet::new(&wallets, "m", "h")
        .unwrap()
        .coldkey_address()
        .unwrap();
    let devnet = Devnet::in_memory();
    let owner = Keypair::from_uri("//Owner").unwrap().ss58();
    devnet
        .apply(|s| {
            s.create_subnet(NETUID, owner.clone(), None, SubnetParams::default())?;
            s.faucet(&owner, 1_000_000_000_000);
            s.faucet(&coldkey, 1_000_000_000_000);
            s.burned_register(
                &owner,
                NETUID,
                &Keypair::from_uri("//Alice").unwrap().ss58(),
            )?;
            Ok(())
        })
        .unwrap();
    devnet.advance_blocks(1).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let chain_url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(dojo_devnet::grpc::serve(devnet, listener, async {
        let _ = rx.await;
    }));
    Setup {
        dir,
        chain_url,
        _stop: tx,
    }
}

struct Running {
    child: tokio::process::Child,
    axon: std::net::SocketAddr,
    web: String,
}

async fn start(s: &Setup) -> Running {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo-miner"))
        .arg("run")
        .args(s.store_args())
        .args(["--subtensor.chain_endpoint", &s.chain_url, "--register"])
        .args([
            "--axon.ip",
            "127.0.0.1",
            "--axon.port",
            "0",
            "--worker.port",
            "0",
        ])
        .args([
            "--blacklist.min_stake",
            "0",
            "--scoring_method",
            "human",
            "--logging.level",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut axon, mut web) = (None, None);
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(a) = line.strip_prefix("dojo-miner axon listening on ") {
                axon = Some(a.parse().unwrap());
            }
            if let Some(w) = line.strip_prefix("dojo-miner worker page on ") {
                web = Some(w.trim_end_matches('/').to_owned());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("miner printed its addresses");
    Running {
        child,
        axon: axon.unwrap(),
        web: web.unwrap(),
    }
}

fn task(id: &str) -> v1::SendTaskRequest {
    let expire = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 600;
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: id.into(),
            prompt: "p".into(),
            task_type: v1::TaskType::Dialogue as i32,
            completions: ["a", "b"]
                .iter()
                .map(|c| v1::Completion {
                    completion_id: (*c).into(),
                    content: Some(v1::completion::Content::Text(format!("answer {c}"))),
                })
                .collect(),
            criteria: vec![v1::Criterion {
                kind: Some(v1::criterion::Kind::Score(v1::ScoreCriterion {
                    min: 1.0,
                    max: 100.0,
                })),
            }],
            expire_at: Some(prost_types::Timestamp {
                seconds: expire,
                nanos: 0,
            }),
            ..Default::default()
        }),
    }
}

fn target(r: &Running, s: &Setup) -> AxonTarget {
    let hotkey = Wallet::new(s.dir.path().join("wallets"), "m", "h")
        .unwrap()
        .hotkey_address()
        .unwrap();
    AxonTarget {
        addr: r.axon,
        hotkey,
    }
}

async fn fetch(d: &Dendrite, t: &AxonTarget, id: &str) -> v1::TaskResults {
    let req = v1::FetchResultsRequest { task_id: id.into() };
    match d
        .call(t, req, |mut c, r| async move { c.fetch_results(r).await })
        .await
    {
        CallOutcome::Success { response, .. } => response,
        other => panic!("fetch_results: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_tasks_and_results_survive_sigkill_and_sigterm_stops_cleanly() {
    let s = setup().await;
    let mut miner = start(&s).await;
    let alice = Dendrite::new(
        Keypair::from_uri("//Alice").unwrap(),
        DendriteConfig::default(),
    );
    let t = target(&miner, &s);
    let mut acks = Vec::new();
    for id in ["k-1", "k-2"] {
        match alice
            .call(&t, task(id), |mut c, r| async move { c.send_task(r).await })
            .await
        {
            CallOutcome::Success { response, .. } => acks.push(response.miner_task_id),
            other => panic!("send_task: {other:?}"),
        }
    }
    // An API key issued by the CLI while the miner runs (same database), then a result for k-1.
    let out = bin()
        .args(["keys", "generate", "--kind", "api"])
        .args(s.store_args())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let joined: serde_json::Value = http
        .post(format!("{}/api/v1/session", miner.web))
        .json(&serde_json::json!({ "key": secret }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!("{}/api/v1/tasks/{}/results", miner.web, acks[0]))
        .bearer_auth(joined["token"].as_str().unwrap())
        .json(&serde_json::json!({"answers": [
            {"completion_id": "a", "criterion": 0, "score": 90},
            {"completion_id": "b", "criterion": 0, "score": 10}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // SIGKILL right after the acknowledgements: no chance to flush anything.
    miner.child.start_kill().unwrap();
    miner.child.wait().await.unwrap();

    let mut miner = start(&s).await;
    let t = target(&miner, &s);
    let k1 = fetch(&alice, &t, "k-1").await;
    assert_eq!(k1.status, v1::ResultStatus::Complete as i32);
    assert_eq!(k1.results.len(), 1);
    assert_eq!(
        k1.results[0]
            .answers
            .iter()
            .map(|a| a.answer.clone())
            .collect::<Vec<_>>(),
        vec![
            Some(v1::completion_answer::Answer::Score(90.0)),
            Some(v1::completion_answer::Answer::Score(10.0))
        ]
    );
    let k2 = fetch(&alice, &t, "k-2").await;
    assert_eq!(k2.status, v1::ResultStatus::Pending as i32);
    // The resent task keeps the id it was acknowledged with before the crash.
    match alice
        .call(
            &t,
            task("k-2"),
            |mut c, r| async move { c.send_task(r).await },
        )
        .await
    {
        CallOutcome::Success { response, .. } => assert_eq!(response.miner_task_id, acks[1]),
        other => panic!("send_task: {other:?}"),
    }

    let pid = miner.child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), miner.child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

#[test]
fn help_explains_every_flag_and_keys_round_trip() {
    let out = bin().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--netuid",
        "--wallet.name",
        "--wallet.hotkey",
        "--wallet.path",
        "--subtensor.network",
        "--subtensor.chain_endpoint",
        "--axon.port",
        "--axon.external_ip",
        "--scoring_method",
        "--model_name",
        "--max_results",
        "--worker.port",
        "--blacklist.min_stake",
        "--mturk.endpoint",
        "--mturk.reward",
        "--mturk.assignments_per_hit",
        "--mturk.lifetime_secs",
    ] {
        // A flag's entry runs from its line to the next flag's.
        let lines: Vec<&str> = help.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("{flag} missing from --help"));
        let end = lines[at + 1..]
            .iter()
            .position(|l| l.trim_start().starts_with('-'))
            .map_or(lines.len(), |e| at + 1 + e);
        let entry = lines[at..end].join(" ");
        assert!(
            entry.contains("[env: "),
            "{flag} has an env fallback: {entry}"
        );
        assert!(
            entry.split_whitespace().count() > 4,
            "{flag} is explained: {entry}"
        );
    }
    assert!(
        help.contains("reward_model")
            && help.contains("llm_api")
            && help.contains("human")
            && help.contains("mturk")
    );

    let dir = tempfile::tempdir().unwrap();
    let data = ["--miner.data_dir", dir.path().to_str().unwrap()];
    let issued = bin()
        .args(["keys", "generate"])
        .args(data)
        .output()
        .unwrap();
    let issued = String::from_utf8(issued.stdout).unwrap();
    let id = issued
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(issued.contains("secret: sk-"));
    let list = String::from_utf8(
        bin()
            .args(["keys", "list"])
            .args(data)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        list.contains(&id) && list.contains("live") && !list.contains("sk-"),
        "{list}"
    );
    assert!(
        bin()
            .args(["keys", "revoke", &id])
            .args(data)
            .status()
            .unwrap()
            .success()
    );
    let again = bin()
        .args(["keys", "revoke", &id])
        .args(data)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live key"));
    let bad = bin()
        .args(["keys", "generate", "--kind", "root"])
        .args(data)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown key kind"));
}

/// Run from anywhere with no cache: the miner names the command that fills it, and with the
/// user cache linked (what `cargo xtask setup` does) it loads the model from there. The mturk
/// provider without credentials names the variable it needs.
#[test]
fn an_installed_miner_finds_the_user_cache_or_names_the_setup_command() {
    let empty = tempfile::tempdir().unwrap();
    let clean = |c: &mut std::process::Command| {
        for var in [
            "DOJO_CACHE_DIR",
            "DOJO_REWARD_MODEL_DIR",
            "ORT_DYLIB_PATH",
            "DOJO_MODEL_NAME",
            "DOJO_SCORING_METHOD",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            c.env_remove(var);
        }
        c.env("XDG_CACHE_HOME", empty.path())
            .current_dir(empty.path());
    };
    let mut c = bin();
    clean(&mut c);
    let out = c
        .args(["run", "--scoring_method", "reward_model"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("run `cargo xtask setup`"), "{err}");
    assert!(
        err.contains(&empty.path().join("dojo").display().to_string()),
        "the error says where it looked: {err}"
    );

    let mut c = bin();
    clean(&mut c);
    let out = c
        .args(["run", "--scoring_method", "mturk"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("AWS_ACCESS_KEY_ID is not set"), "{err}");

    // The user cache pointing at a filled cache (CI's, through the env `cargo xtask setup` prints).
    let Some(cache) = dojo_test_utils::require_env("DOJO_CACHE_DIR") else {
        return;
    };
    std::os::unix::fs::symlink(&cache, empty.path().join("dojo")).unwrap();
    let mut c = bin();
    clean(&mut c);
    let wallets = empty.path().join("no-wallets");
    let out = c
        .args(["run", "--scoring_method", "reward_model", "--wallet.path"])
        .arg(&wallets)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Past the model, its code-task head and the runtime: it stops at the missing wallet.
    assert!(err.contains("loaded reward model"), "{err}");
    assert!(err.contains("code tasks use the code-task head"), "{err}");
    assert!(err.contains("loading hotkey"), "{err}");
}
