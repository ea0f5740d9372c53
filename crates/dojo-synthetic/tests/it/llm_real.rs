//! The LLM generator against a real OpenAI-compatible server: llama-cpp-python's server with the
//! SmolLM2-135M GGUF (installed by `cargo xtask setup`, which exports `DOJO_LLM_PYTHON` and
//! `DOJO_LLM_GGUF`). The test starts the server on a free loopback port and stops it after.
//!
//! A 135M model may or may not follow the schema: the test accepts a parsed, consistent task or a
//! clear `Exhausted` error after the configured retries, and checks that the server really
//! produced tokens. It never waits unboundedly: every request has a timeout and the whole test a
//! deadline.

use std::process::Stdio;
use std::time::{Duration, Instant};

use dojo_synthetic::generator::{GenError, Generator, LlmGenerator};
use dojo_synthetic::llm::{JsonMode, LlmClient, LlmConfig, LlmError};
use dojo_synthetic::seeds::Seed;
use dojo_synthetic::{Seeds, Topic};

use crate::require_env;

struct Server {
    child: tokio::process::Child,
}

impl Server {
    async fn start(python: &str, gguf: &str) -> (Self, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let child = tokio::process::Command::new(python)
            .args([
                "-m",
                "llama_cpp.server",
                "--model",
                gguf,
                "--model_alias",
                "smollm2",
                "--host",
                "127.0.0.1",
            ])
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
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(r) = http.get(format!("{base}/models")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "llama_cpp.server did not come up within 90 s"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        (Self { child }, base)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn acceptable_failure(e: &LlmError) -> bool {
    matches!(e, LlmError::Exhausted { .. })
        && matches!(
            e.root(),
            LlmError::NotJson { .. }
                | LlmError::WrongShape(_)
                | LlmError::Empty { .. }
                | LlmError::TooLarge { .. }
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_generator_against_llama_cpp_server() {
    let Some(python) = require_env("DOJO_LLM_PYTHON") else {
        return;
    };
    let Some(gguf) = require_env("DOJO_LLM_GGUF") else {
        return;
    };
    let (server, base) = Server::start(&python, &gguf).await;
    let outcome = tokio::time::timeout(Duration::from_secs(420), async {
        let mut cfg = LlmConfig::new(&base, "smollm2");
        cfg.timeout = Duration::from_secs(120);
        cfg.max_attempts = 2;
        cfg.backoff_base = Duration::from_millis(50);
        cfg.backoff_max = Duration::from_millis(500);
        cfg.json_mode = JsonMode::JsonObject;
        let client = LlmClient::new(cfg).expect("client");
        let generator = LlmGenerator::new(Seeds::embedded(), client.clone(), 200, 400);

        // One Instructor call: schema-constrained decoding usually yields a parseable question.
        let seed = Seed {
            topic: Topic::Animation,
            persona: "a retired astronomer".to_owned(),
            requirements: 2,
        };
        match generator
            .instructor()
            .question(&Seeds::embedded(), &seed, 7)
            .await
        {
            Ok(q) => q
                .validate(Some(2))
                .expect("a parsed question passed validation"),
            Err(e) => assert!(acceptable_failure(&e), "unexpected error kind: {e}"),
        }
        // A whole task.
        match generator.generate(11).await {
            Ok(task) => {
                assert_eq!(task.completions().len(), 4);
                for c in task.completions() {
                    assert_eq!(
                        task.ground_truth().rank(c.id.as_str()),
                        Some(c.augmentation.rank())
                    );
                }
                eprintln!("llm task parsed: {} chars of prompt", task.prompt().len());
            }
            Err(GenError::Llm(e)) => {
                assert!(acceptable_failure(&e), "unexpected error kind: {e}");
                eprintln!("small model gave a clear error: {e}");
            }
            Err(e) => panic!("unexpected generator error: {e}"),
        }
        client
    })
    .await;
    server.stop().await;
    let client = outcome.expect("the LLM test finished within its deadline (no hang)");
    let snap = client.metrics().snapshot();
    let get = |n: &str| {
        snap.iter()
            .find(|(k, _, _)| *k == n)
            .map(|(_, _, v)| *v)
            .unwrap_or(0)
    };
    assert!(get("llm_requests_total") >= 2);
    assert!(
        get("llm_completion_tokens_total") > 0,
        "the real server generated tokens"
    );
    eprintln!(
        "llama.cpp: {} requests, {} successes, {} retries, {} prompt + {} completion tokens",
        get("llm_requests_total"),
        get("llm_successes_total"),
        get("llm_retries_total"),
        get("llm_prompt_tokens_total"),
        get("llm_completion_tokens_total")
    );
}
