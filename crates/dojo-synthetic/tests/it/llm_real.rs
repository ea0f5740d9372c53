//! The LLM generator against a real OpenAI-compatible server: llama-cpp-python's server with the
//! SmolLM2-135M GGUF (installed by `cargo xtask setup`, which exports `DOJO_LLM_PYTHON` and
//! `DOJO_LLM_GGUF`). The test starts the server on a free loopback port and stops it after.
//!
//! The server constrains decoding by the JSON schema the generator sends (`JsonMode::JsonObject`),
//! so even a 135M model returns the right shape; the test requires one valid task within a bounded
//! number of tries. It never waits unboundedly: every request has a timeout and the whole test a
//! deadline.

use std::time::Duration;

use dojo_synthetic::Seeds;
use dojo_synthetic::generator::{Generator, LlmGenerator};
use dojo_synthetic::llm::{JsonMode, LlmClient, LlmConfig};

use dojo_test_utils::llama::{LlamaServer, MODEL_ALIAS};

/// Tasks tried before the test gives up; each try is a question, an answer and up to three
/// augmentations.
const MAX_TRIES: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_generator_against_llama_cpp_server() {
    let Some((python, gguf)) = LlamaServer::from_env() else {
        return;
    };
    let server = LlamaServer::start(&python, &gguf).await;
    let mut cfg = LlmConfig::new(server.base(), MODEL_ALIAS);
    cfg.timeout = Duration::from_secs(120);
    cfg.max_attempts = 3;
    cfg.backoff_base = Duration::from_millis(50);
    cfg.backoff_max = Duration::from_millis(500);
    // The server turns the schema into a grammar, so a 135M model still emits the right shape.
    cfg.json_mode = JsonMode::JsonObject;
    let client = LlmClient::new(cfg).expect("client");
    let generator = LlmGenerator::new(Seeds::embedded(), client.clone(), 200, 600);
    let mut errors = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(900), async {
        for seed in 1..=MAX_TRIES {
            match generator.generate(seed).await {
                Ok(task) => return Some((seed, task)),
                Err(e) => {
                    eprintln!("try {seed}: {e}");
                    errors.push(e.to_string());
                }
            }
        }
        None
    })
    .await;
    server.stop().await;
    let snap = client.metrics().snapshot();
    let get = |n: &str| {
        snap.iter()
            .find(|(k, _, _)| *k == n)
            .map(|(_, _, v)| *v)
            .unwrap_or(0)
    };
    eprintln!(
        "llama.cpp: {} requests, {} successes, {} retries, {} prompt + {} completion tokens",
        get("llm_requests_total"),
        get("llm_successes_total"),
        get("llm_retries_total"),
        get("llm_prompt_tokens_total"),
        get("llm_completion_tokens_total")
    );
    let outcome = outcome.expect("the LLM test finished within its deadline (no hang)");
    let (seed, task) = outcome.unwrap_or_else(|| {
        panic!("no valid task in {MAX_TRIES} tries against the real server: {errors:?}")
    });
    eprintln!(
        "llm task from try {seed}: {} chars of prompt, augmentations {:?}",
        task.prompt().len(),
        task.completions()
            .iter()
            .map(|c| c.augmentation)
            .collect::<Vec<_>>()
    );
    // A valid task: four distinct pages, one per ground-truth rank, ids matching the ranking.
    assert!(task.prompt().trim().len() >= 20);
    assert_eq!(task.completions().len(), 4);
    let mut ranks: Vec<u32> = task
        .completions()
        .iter()
        .map(|c| c.augmentation.rank())
        .collect();
    ranks.sort_unstable();
    assert_eq!(ranks, [0, 1, 2, 3]);
    for c in task.completions() {
        assert_eq!(
            task.ground_truth().rank(c.id.as_str()),
            Some(c.augmentation.rank())
        );
        assert!(c.files.iter().any(|f| !f.content.trim().is_empty()));
    }
    let pages: std::collections::BTreeSet<&str> = task
        .completions()
        .iter()
        .map(|c| c.files[0].content.as_str())
        .collect();
    assert_eq!(pages.len(), 4, "augmented pages differ from the original");
    assert!(get("llm_completion_tokens_total") > 0);
}
