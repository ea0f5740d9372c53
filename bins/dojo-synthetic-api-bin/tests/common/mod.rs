//! Helpers shared by the binary's integration tests.

#![allow(dead_code)]

use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_dojo-synthetic-api");

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A loopback port free a moment ago, and its base URL.
pub(crate) fn free_port() -> (u16, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    (port, format!("http://127.0.0.1:{port}"))
}

pub(crate) async fn wait_healthy(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return r.json().await.expect("health json");
        }
        assert!(Instant::now() < deadline, "binary did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the binary with the arguments `setup` adds, expects it to exit unsuccessfully within 60 s
/// (not to start serving), and returns its standard error.
pub(crate) async fn exits_with_error(setup: impl FnOnce(&mut tokio::process::Command)) -> String {
    let mut cmd = tokio::process::Command::new(BIN);
    setup(&mut cmd);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.kill_on_drop(true).output())
        .await
        .expect("the binary exits instead of serving")
        .expect("run binary");
    assert!(!out.status.success(), "the binary must fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `GET /api/synthetic-gen` without a key, as JSON.
pub(crate) async fn get_task(http: &reqwest::Client, base: &str) -> serde_json::Value {
    http.get(format!("{base}/api/synthetic-gen"))
        .send()
        .await
        .expect("gen")
        .json()
        .await
        .expect("json")
}
