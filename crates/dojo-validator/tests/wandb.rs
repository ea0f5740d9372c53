//! The wandb uploader against a fake `wandb` package (tests/fixtures/fake_wandb, put first on
//! `PYTHONPATH`) that records every call in a file: no network, no real wandb. Needs `python3`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dojo_validator::metrics::Metrics;
use dojo_validator::wandb::{Options, Wandb, WandbError};
use serde_json::{Value, json};

fn fixture(name: &str) -> OsString {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .into_os_string()
}

fn options(pythonpath: &str, record: &Path) -> Options {
    Options {
        project: "dojo-test".into(),
        entity: Some("team".into()),
        run_name: Some("v-1".into()),
        python: PathBuf::from("python3"),
        env: vec![
            ("PYTHONPATH".into(), fixture(pythonpath)),
            ("FAKE_WANDB_RECORD".into(), record.into()),
        ],
        run_config: json!({"netuid": 52, "hotkey": "5Alice", "mechanism": "dojo-v1-ground-truth", "version": "0.0.0"}),
        queue: 64,
    }
}

fn event(task: &str, rewards: &[f64]) -> Value {
    json!({
        "name": "dojo_task",
        "task_id": task,
        "uids": [1, 2],
        "completions": ["a", "b"],
        "rewards": rewards,
        "best": "c1",
        "step_length": null,
        "_timestamp": 1.5,
    })
}

fn calls(record: &Path) -> Vec<Value> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn records_reach_wandb_as_one_log_call_each() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls.jsonl");
    let metrics = Metrics::default();
    let (w, uploader) = Wandb::start(options("fake_wandb", &record)).await.unwrap();
    w.log(
        &[event("t1", &[0.25, 0.75]), event("t2", &[1.0, 0.0])],
        17,
        &metrics,
    );
    drop(w);
    let status = uploader.finish(Duration::from_secs(60)).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let calls = calls(&record);
    assert_eq!(calls.len(), 4, "{calls:#?}");
    assert_eq!(
        calls[0],
        json!({
            "call": "init",
            "project": "dojo-test",
            "entity": "team",
            "name": "v-1",
            "config": {"netuid": 52, "hotkey": "5Alice", "mechanism": "dojo-v1-ground-truth", "version": "0.0.0"},
        })
    );
    // Scalars and reward statistics only; lists and wandb's own underscore keys stay out.
    assert_eq!(
        calls[1],
        json!({
            "call": "log",
            "step": 0,
            "data": {
                "name": "dojo_task",
                "task_id": "t1",
                "best": "c1",
                "block": 17,
                "rewards_mean": 0.5,
                "rewards_min": 0.25,
                "rewards_max": 0.75,
            },
        })
    );
    assert_eq!(calls[2]["step"], 1);
    assert_eq!(calls[2]["data"]["task_id"], "t2");
    assert_eq!(calls[2]["data"]["rewards_max"], 1.0);
    assert_eq!(calls[3], json!({"call": "finish"}));
    assert_eq!(metrics.total("dojo_wandb_dropped_total"), 0.0);
}

#[tokio::test]
async fn missing_wandb_package_fails_the_start_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls.jsonl");
    let err = Wandb::start(options("no_wandb", &record))
        .await
        .expect_err("wandb is hidden");
    assert!(matches!(err, WandbError::Missing { .. }), "{err:?}");
    let msg = err.to_string();
    for want in [
        "not importable by python3",
        "hidden by the test fixture",
        "pip install wandb",
        "drop --wandb.project",
    ] {
        assert!(msg.contains(want), "{want:?} not in {msg:?}");
    }
    assert!(!record.exists(), "no run was started");
}

#[tokio::test]
async fn missing_interpreter_fails_the_start_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options("fake_wandb", &dir.path().join("calls.jsonl"));
    opts.python = dir.path().join("no-such-python");
    let err = Wandb::start(opts).await.expect_err("no interpreter");
    assert!(matches!(err, WandbError::Spawn { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-python") && msg.contains("pip install wandb"),
        "{msg}"
    );
}

/// The test runtime is single-threaded, so the uploader task cannot drain the queue while one
/// `log` call runs: a queue of 2 takes 2 records of 5 and drops 3.
#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls.jsonl");
    let metrics = Metrics::default();
    let mut opts = options("fake_wandb", &record);
    opts.queue = 2;
    let (w, uploader) = Wandb::start(opts).await.unwrap();
    let events: Vec<Value> = (0..5).map(|i| event(&format!("t{i}"), &[0.5])).collect();
    w.log(&events, 1, &metrics);
    assert_eq!(
        metrics.get("dojo_wandb_dropped_total", &[("reason", "full")]),
        3.0
    );
    drop(w);
    uploader.finish(Duration::from_secs(60)).await;
    let logged: Vec<Value> = calls(&record)
        .into_iter()
        .filter(|c| c["call"] == "log")
        .map(|c| c["data"]["task_id"].clone())
        .collect();
    assert_eq!(logged, [json!("t0"), json!("t1")]);
}

/// Log lines of this thread (the test runtime is single-threaded, so the uploader's too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// wandb failing (here its init, as with no API key) ends the child: that is logged once at WARN
/// with the exit status and the end of its stderr, and the sender keeps working, counting what it
/// can no longer upload.
#[tokio::test]
async fn a_dead_uploader_never_blocks_the_sender() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish(),
    );
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("calls.jsonl");
    let metrics = Metrics::default();
    let mut opts = options("fake_wandb", &record);
    opts.env.push(("FAKE_WANDB_FAIL_INIT".into(), "1".into()));
    let (w, uploader) = Wandb::start(opts).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while metrics.get("dojo_wandb_dropped_total", &[("reason", "closed")]) == 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "uploader never seen gone"
        );
        w.log(&[event("t", &[0.5])], 1, &metrics);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = uploader.finish(Duration::from_secs(10)).await;
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    assert!(calls(&record).iter().all(|c| c["call"] != "log"));
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warns: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warns.len(), 1, "{logs}");
    for want in [
        "wandb uploader exited",
        "exit status: 1",
        "fake wandb: init refused",
    ] {
        assert!(warns[0].contains(want), "{want:?} not in {logs}");
    }
}
