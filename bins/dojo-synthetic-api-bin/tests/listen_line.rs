//! The binary on `--port 0` announces its bound address on stdout, and `--ground-truth-log`
//! records every served task by content hash.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{BIN, client, get_task};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn port_zero_prints_the_bound_address_and_logs_ground_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("truth.jsonl");
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "--generator",
            "offline",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .args([
            "--buffer.size",
            "2",
            "--buffer.state",
            "none",
            "--seed",
            "7",
        ])
        .arg("--ground-truth-log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start binary");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("the line comes before serving")
        .expect("read stdout")
        .expect("a line");
    let addr: std::net::SocketAddr = first
        .strip_prefix("dojo-synthetic-api listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .expect("a socket address");
    assert_ne!(addr.port(), 0, "the real bound port");
    let base = format!("http://{addr}");
    let http = client();
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz answers right after the line");
    assert!(health.status().is_success());

    let mut served = Vec::new();
    for _ in 0..2 {
        let r = get_task(&http, &base).await;
        assert_eq!(r["success"], true, "{r}");
        served.push(r["body"].clone());
    }
    // Each line is on disk by the time its response arrived.
    let text = std::fs::read_to_string(&log).expect("log file");
    let logged: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(logged.len(), 2);
    for (task, line) in served.iter().zip(&logged) {
        assert_eq!(line["qa_id"], task["metadata"]["task_id"]);
        assert_eq!(
            line["prompt_sha256"].as_str(),
            Some(sha256_hex(task["prompt"].as_str().expect("prompt").as_bytes()).as_str())
        );
        let responses = task["responses"].as_array().expect("responses");
        let completions = line["completions"].as_array().expect("completions");
        assert_eq!(completions.len(), responses.len());
        let mut ranks = Vec::new();
        for (r, c) in responses.iter().zip(completions) {
            let cid = r["cid"].as_str().expect("cid");
            assert_eq!(c["id"], cid);
            let content: String = r["completion"]["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| f["content"].as_str().expect("content"))
                .collect();
            assert_eq!(
                c["content_sha256"].as_str(),
                Some(sha256_hex(content.as_bytes()).as_str())
            );
            assert_eq!(c["rank"], task["ground_truth"][cid]);
            ranks.push(c["rank"].as_u64().expect("rank"));
        }
        ranks.sort_unstable();
        assert_eq!(ranks, (0..responses.len() as u64).collect::<Vec<_>>());
    }
    let _ = child.kill().await;
}
