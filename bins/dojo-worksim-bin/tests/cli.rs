//! The binary as the devnet orchestrator runs it: the ready line on standard output, answers on a
//! (scripted) page, SIGTERM ends it with exit 0 and the final counters; bad flags are refused.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

type Stored = Arc<Mutex<Vec<Value>>>;

fn far_future() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 3_600_000
}

async fn page() -> (String, Stored) {
    let stored: Stored = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/v1/session",
            post(|| async { Json(json!({"token": "st-1", "worker_id": "w-1", "expires_at_ms": 0})) }),
        )
        .route(
            "/api/v1/tasks",
            get(|State(s): State<Stored>| async move {
                let tasks = if s.lock().unwrap().is_empty() {
                    json!([{"id": "mt-1", "role": "judge", "task_type": "code-generation", "prompt": "p",
                            "expire_at_ms": far_future(),
                            "criteria": [{"type": "score", "min": 1.0, "max": 100.0}],
                            "completions": [{"id": "c-a", "kind": "text", "content": "a"},
                                            {"id": "c-b", "kind": "text", "content": "b"}]}])
                } else {
                    json!([])
                };
                Json(json!({ "tasks": tasks }))
            }),
        )
        .route(
            "/api/v1/tasks/{id}/results",
            post(|State(s): State<Stored>, Json(body): Json<Value>| async move {
                s.lock().unwrap().push(body);
                Json(json!({"num_results": 1}))
            }),
        )
        .with_state(Arc::clone(&stored));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_ready_answers_and_stops_cleanly_on_sigterm() {
    let (url, stored) = page().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dojo-worksim"))
        .args([
            "--page",
            &url,
            "--key",
            "sk-test",
            "--population",
            "constant",
            "--poll-ms",
            "20",
        ])
        .arg("--ground-truth-log")
        .arg(dir.path().join("gt.jsonl"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ready.as_deref(),
        Some(format!("dojo-worksim ready population=lazy page={url}").as_str())
    );
    for _ in 0..500 {
        if !stored.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answers = stored.lock().unwrap()[0]["answers"]
        .as_array()
        .unwrap()
        .clone();
    answers.sort_by_key(|a| a["completion_id"].as_str().unwrap().to_owned());
    assert_eq!(
        Value::Array(answers),
        json!([{"completion_id": "c-a", "criterion": 0, "score": 51.0},
               {"completion_id": "c-b", "criterion": 0, "score": 51.0}])
    );
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("final counters"), "{stderr}");
    assert!(stderr.contains("submitted=1"), "{stderr}");
}

#[test]
fn refuses_an_unknown_population_and_a_copycat_without_a_share_dir() {
    let run = |pop: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_dojo-worksim"))
            .args([
                "--page",
                "http://127.0.0.1:9",
                "--key",
                "k",
                "--population",
                pop,
            ])
            .args(["--ground-truth-log", "/nonexistent/gt.jsonl"])
            .output()
            .unwrap()
    };
    let out = run("diligent");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown population"));
    let out = run("copycat");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --share-dir"));
    assert!(out.stdout.is_empty());
}
