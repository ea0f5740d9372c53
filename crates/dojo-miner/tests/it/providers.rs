//! The automatic providers against the real backends `cargo xtask setup` installs: the shipped
//! ONNX reward model, and llama.cpp's OpenAI-compatible server with SmolLM2-135M.

use std::sync::Arc;
use std::time::Duration;

use dojo_llm::{JsonMode, LlmClient, LlmConfig};
use dojo_miner::provider::Provider;
use dojo_miner::provider::llm_api::LlmApiProvider;
use dojo_miner::provider::reward_model::RewardModelProvider;
use dojo_test_utils::llama::{LlamaServer, MODEL_ALIAS};
use dojo_types::task::{Answer, Completion, CompletionContent, Task, TaskType};
use dojo_types::{CompletionId, Criterion, TaskId};

fn task(prompt: &str, answers: &[&str], criteria: Vec<Criterion>) -> Task {
    Task {
        id: TaskId::new("t").unwrap(),
        previous: None,
        prompt: prompt.to_owned(),
        task_type: TaskType::Dialogue,
        completions: answers
            .iter()
            .enumerate()
            .map(|(i, a)| Completion {
                id: CompletionId::new(format!("c{i}")).unwrap(),
                content: CompletionContent::Text((*a).to_owned()),
            })
            .collect(),
        criteria,
        expire_at_unix_ms: i64::MAX,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reward_model_scores_in_range_and_prefers_the_intact_answer() {
    let Some(dir) = dojo_reward::shipped_model_dir()
        .or_else(|| dojo_test_utils::missing("the shipped reward model"))
    else {
        return;
    };
    let model = dojo_reward::OnnxRewardModel::load(&dir).expect("load the shipped model");
    let provider = RewardModelProvider::new(Arc::new(model));
    // A truncated answer: the degradation the shipped model separates on every held-out pair.
    let item = &dojo_reward::pairs::corpus()[0];
    let good = item.answer();
    let words: Vec<&str> = good.split_whitespace().collect();
    let cut = words[..words.len() / 3].join(" ");
    let t = task(
        &item.prompt,
        &[&cut, &good],
        vec![Criterion::Ranking, Criterion::score(1.0, 100.0).unwrap()],
    );
    assert_eq!(provider.check(&t), Ok(()));
    let r = provider.judge(&t).await.unwrap().unwrap();
    assert_eq!(r.answers.len(), 4);
    assert_eq!(
        r.answers[0].answer,
        Answer::Rank(1),
        "the truncated answer ranks below"
    );
    assert_eq!(r.answers[1].answer, Answer::Rank(0));
    let score = |i: usize| match &r.answers[i].answer {
        Answer::Score(s) => s.get(),
        other => panic!("{other:?}"),
    };
    for i in [2, 3] {
        assert!((1.0..=100.0).contains(&score(i)), "{}", score(i));
    }
    assert!(score(3) > score(2));
    // Free text needs a human: declined, not guessed.
    let text = task("q", &["a"], vec![Criterion::text(1, 100).unwrap()]);
    assert!(provider.check(&text).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_judge_against_a_real_llama_cpp_server() {
    let Some((python, gguf)) = LlamaServer::from_env() else {
        return;
    };
    let server = LlamaServer::start(&python, &gguf).await;
    let mut cfg = LlmConfig::for_judging(server.base(), MODEL_ALIAS);
    cfg.json_mode = JsonMode::JsonObject;
    cfg.max_attempts = 3;
    cfg.backoff_base = Duration::from_millis(50);
    let client = LlmClient::new(cfg).unwrap();
    let metrics = client.metrics();
    let provider = LlmApiProvider::new(client);
    let prompt = "What is the capital of France?";
    // Pairwise (two completions) and scoring (three).
    for answers in [
        vec!["The capital of France is Paris.", "Bananas are yellow."],
        vec![
            "Paris.",
            "The capital of France is Paris, on the Seine.",
            "I like trains.",
        ],
    ] {
        let t = task(
            prompt,
            &answers,
            vec![Criterion::score(1.0, 100.0).unwrap(), Criterion::Ranking],
        );
        match provider.judge(&t).await {
            Ok(Some(r)) => {
                assert_eq!(r.worker_id, "llm-judge");
                assert_eq!(r.answers.len(), 2 * answers.len());
                for a in &r.answers[..answers.len()] {
                    match &a.answer {
                        Answer::Score(s) => assert!((1.0..=100.0).contains(&s.get())),
                        other => panic!("{other:?}"),
                    }
                }
            }
            Ok(None) => panic!("an automatic provider always answers"),
            // A 135M model may not follow the format; then the error must say so, after retries.
            Err(e) => assert!(e.to_string().contains("gave up after 3 attempts"), "{e}"),
        }
    }
    // The v2 generator role: one page for a code-generation prompt, through its own client.
    let mut writing = LlmConfig::new(server.base(), MODEL_ALIAS);
    writing.json_mode = JsonMode::JsonObject;
    writing.max_attempts = 2;
    writing.backoff_base = Duration::from_millis(50);
    let provider = provider.with_generator(LlmClient::new(writing).unwrap(), 400);
    let g = dojo_types::task::GenerationTask {
        id: dojo_types::TaskId::new("g").unwrap(),
        prompt: "A page with a button that counts clicks.".to_owned(),
        task_type: dojo_types::task::TaskType::CodeGeneration,
        expire_at_unix_ms: i64::MAX,
    };
    assert_eq!(provider.check_generation(&g), Ok(()));
    match provider.generate(&g).await {
        Ok(Some(generated)) => {
            let dojo_types::task::CompletionContent::Code { files, .. } =
                &generated.completion.content
            else {
                panic!("not a page: {generated:?}")
            };
            assert_eq!(files[0].filename, "index.html");
            assert!(files[0].content.contains('<'));
            assert_eq!(generated.author, "llm-judge");
        }
        Ok(None) => panic!("an automatic provider always writes"),
        Err(e) => assert!(e.to_string().contains("gave up after 2 attempts"), "{e}"),
    }
    let dialogue = dojo_types::task::GenerationTask {
        task_type: dojo_types::task::TaskType::Dialogue,
        ..g
    };
    assert!(provider.check_generation(&dialogue).is_err());
    assert!(metrics.requests.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    assert!(
        metrics
            .completion_tokens
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "the server produced tokens"
    );
    server.stop().await;
}
