//! The binary on a fresh state file, offline generator, no network: it serves tasks and keeps its
//! buffer across a restart.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{BIN, client, exits_with_error, free_port, get_task, wait_healthy};

struct Child(tokio::process::Child);

async fn start(port: u16, state: &std::path::Path) -> Child {
    let child = tokio::process::Command::new(BIN)
        .args([
            "--generator",
            "offline",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--buffer.size",
            "4",
        ])
        .arg("--buffer.state")
        .arg(state)
        .args(["--seed", "7"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start binary");
    Child(child)
}

#[tokio::test]
async fn offline_binary_serves_tasks_and_restarts_with_its_buffer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json");
    let (port, base) = free_port();
    let http = client();

    let mut child = start(port, &state).await;
    wait_healthy(&http, &base).await;
    let r = get_task(&http, &base).await;
    assert_eq!(r["success"], true);
    assert_eq!(r["body"]["responses"].as_array().map(Vec::len), Some(4));
    // Let the workers refill the buffer and write it to disk, then stop the process.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = wait_healthy(&http, &base).await;
        if h["buffer"] == 4 && h["persisted"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "buffer refilled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.0.kill().await;
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state file")).expect("json");
    assert_eq!(
        saved["tasks"].as_array().map(Vec::len),
        Some(4),
        "the buffer is on disk"
    );
    let first_prompt = saved["tasks"][0]["prompt"]
        .as_str()
        .expect("prompt")
        .to_owned();

    let mut child = start(port, &state).await;
    wait_healthy(&http, &base).await;
    let r = get_task(&http, &base).await;
    assert_eq!(
        r["body"]["prompt"].as_str(),
        Some(first_prompt.as_str()),
        "the restarted service serves the saved task first"
    );
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("dojo_synthetic_tasks_served_total 1"));
    let _ = child.0.kill().await;
}

#[tokio::test]
async fn exposed_listen_without_a_key_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = exits_with_error(|c| {
        c.args(["--host", "0.0.0.0", "--port", "0", "--buffer.state", "none"])
            .env_remove("SYNTHETIC_API_KEY")
            .env_remove("SYNTHETIC_API_KEY_FILE")
            .current_dir(dir.path());
    })
    .await;
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without an API key")
            && err.contains("SYNTHETIC_API_KEY or --api.key-file"),
        "{err}"
    );

    let help = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("[default: 127.0.0.1]") && help.contains("--api.key-file"),
        "{help}"
    );
}

#[tokio::test]
async fn key_file_guards_every_route_but_healthz() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "binary-test-key-abcdefghijklmnop\n").expect("key");
    let (port, base) = free_port();
    let mut child = tokio::process::Command::new(BIN)
        .args(["--port", &port.to_string(), "--buffer.size", "2"])
        .args(["--buffer.state", "none", "--seed", "3"])
        .arg("--api.key-file")
        .arg(&key_file)
        .env_remove("SYNTHETIC_API_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start binary");
    let http = client();
    wait_healthy(&http, &base).await;
    let url = format!("{base}/api/synthetic-gen");
    let get = |token: Option<&'static str>| {
        let req = http.get(&url);
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        async move { req.send().await.expect("request") }
    };
    assert_eq!(get(None).await.status(), 401);
    let wrong = get(Some("binary-test-key-abcdefghijklmnoq")).await;
    assert_eq!(wrong.status(), 401);
    let right = get(Some("binary-test-key-abcdefghijklmnop")).await;
    assert_eq!(right.status(), 200);
    let v: serde_json::Value = right.json().await.expect("json");
    assert_eq!(v["success"], true);
    let _ = child.kill().await;
}
