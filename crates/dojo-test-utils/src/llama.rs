//! The real llama.cpp OpenAI-compatible server that `cargo xtask setup` installs
//! (`DOJO_LLM_PYTHON`, `DOJO_LLM_GGUF`), started on a free loopback port for one test.

use std::process::Stdio;
use std::time::{Duration, Instant};

/// The model alias the server answers to.
pub const MODEL_ALIAS: &str = "smollm2";

/// A running `llama_cpp.server`; killed on [`LlamaServer::stop`] or when dropped.
#[derive(Debug)]
pub struct LlamaServer {
    child: tokio::process::Child,
    base: String,
}

impl LlamaServer {
    /// The server for `DOJO_LLM_PYTHON` and `DOJO_LLM_GGUF`, or `None` (skipped locally, a failure
    /// under CI) when setup has not exported them.
    #[track_caller]
    pub fn from_env() -> Option<(String, String)> {
        Some((
            crate::require_env("DOJO_LLM_PYTHON")?,
            crate::require_env("DOJO_LLM_GGUF")?,
        ))
    }

    /// Starts the server with `python`'s `llama_cpp.server` on `gguf` and waits (at most 90 s)
    /// until it lists its models.
    pub async fn start(python: &str, gguf: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = tokio::process::Command::new(python)
            .args(["-m", "llama_cpp.server", "--model", gguf])
            .args(["--model_alias", MODEL_ALIAS, "--host", "127.0.0.1"])
            .args([
                "--port",
                &port.to_string(),
                "--n_ctx",
                "2048",
                "--verbose",
                "false",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start llama_cpp.server");
        let base = format!("http://127.0.0.1:{port}/v1");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = http.get(format!("{base}/models")).send().await
                && r.status().is_success()
            {
                return Self { child, base };
            }
            assert!(
                Instant::now() < deadline,
                "llama_cpp.server did not come up within 90 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The OpenAI-compatible base URL (`http://127.0.0.1:PORT/v1`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Kills the server and waits for it to exit.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
