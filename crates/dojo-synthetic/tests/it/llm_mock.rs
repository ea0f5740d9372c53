//! The LLM client against a scripted OpenAI-compatible server on loopback (a test double): bad
//! output, HTTP errors, rate limits and slow answers are retried or rejected with a clear error and
//! counted; nothing panics or hangs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dojo_synthetic::generator::{GenError, Generator, LlmGenerator};
use dojo_synthetic::instructor::{Question, question_schema};
use dojo_synthetic::llm::{ChatMessage, JsonMode, LlmClient, LlmConfig, LlmError, Sampling};
use dojo_synthetic::{Augmentation, Seeds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn ok_content(content: &str) -> Self {
        let body = serde_json::json!({
            "id": "x", "object": "chat.completion", "model": "mock",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        });
        Self {
            status: 200,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
    fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![],
            body: body.to_owned(),
            delay: Duration::ZERO,
        }
    }
}

type Handler = Arc<dyn Fn(usize, &str) -> Reply + Send + Sync>;

/// Serves `handler(n, request_body)` for the n-th request; returns the base URL and a request counter.
pub(crate) async fn mock_server(handler: Handler) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                break;
            };
            let handler = handler.clone();
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 8192];
                let body = loop {
                    let Ok(n) = sock.read(&mut tmp).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&tmp[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break String::from_utf8_lossy(&buf[end + 4..end + 4 + len])
                                .to_string();
                        }
                    }
                };
                let n = c.fetch_add(1, Ordering::SeqCst);
                let reply = handler(n, &body);
                tokio::time::sleep(reply.delay).await;
                let mut head = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in &reply.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(reply.body.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/v1"), count)
}

fn config(base: &str) -> LlmConfig {
    let mut c = LlmConfig::new(base, "mock-model");
    c.timeout = Duration::from_secs(5);
    c.max_attempts = 3;
    c.backoff_base = Duration::from_millis(10);
    c.backoff_max = Duration::from_millis(200);
    c.max_response_bytes = 64 * 1024;
    c.json_mode = JsonMode::JsonSchema;
    c
}

const GOOD: &str = r#"{"question": "Create an interactive visualization of fish in a tank.", "requirements": ["Click feeds the fish"]}"#;

async fn ask(client: &LlmClient) -> Result<Question, LlmError> {
    let sampling = Sampling {
        temperature: 0.0,
        top_p: 1.0,
        max_tokens: 64,
        seed: Some(1),
    };
    client
        .chat_json(
            &[ChatMessage::user("q")],
            "question",
            &question_schema(),
            sampling,
            |q: &Question| q.validate(None),
        )
        .await
}

fn m(client: &LlmClient, name: &str) -> u64 {
    client
        .metrics()
        .snapshot()
        .into_iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, v)| v)
        .expect("metric")
}

#[tokio::test]
async fn valid_output_is_parsed_and_tokens_counted() {
    let (base, count) = mock_server(Arc::new(|_, body: &str| {
        // The structured-output request carries the schema.
        assert!(
            body.contains("\"json_schema\""),
            "request asks for a JSON schema: {body}"
        );
        Reply::ok_content(GOOD)
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let q = ask(&client).await.expect("parsed");
    assert_eq!(q.requirements, vec!["Click feeds the fish"]);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(m(&client, "llm_prompt_tokens_total"), 11);
    assert_eq!(m(&client, "llm_completion_tokens_total"), 7);
}

#[tokio::test]
async fn not_json_then_valid_is_retried() {
    let (base, _) = mock_server(Arc::new(|n, _: &str| {
        if n == 0 {
            Reply::ok_content("Sure! Here is your question: a fish tank.")
        } else {
            Reply::ok_content(GOOD)
        }
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    ask(&client).await.expect("second attempt parses");
    assert_eq!(m(&client, "llm_not_json_total"), 1);
    assert_eq!(m(&client, "llm_retries_total"), 1);
    assert_eq!(m(&client, "llm_successes_total"), 1);
}

#[tokio::test]
async fn wrong_shape_every_time_gives_a_clear_error() {
    let (base, count) = mock_server(Arc::new(|_, _: &str| {
        Reply::ok_content(r#"{"title": "fish", "items": 3}"#)
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let err = ask(&client).await.expect_err("never the right shape");
    assert!(
        matches!(err, LlmError::Exhausted { attempts: 3, .. }),
        "{err}"
    );
    assert!(matches!(err.root(), LlmError::WrongShape(_)), "{err}");
    assert!(err.to_string().contains("gave up after 3 attempts"));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(m(&client, "llm_wrong_shape_total"), 3);
    assert_eq!(m(&client, "llm_failures_total"), 1);
}

#[tokio::test]
async fn empty_completions_and_bad_envelopes_are_counted() {
    let (base, _) = mock_server(Arc::new(|n, _: &str| match n {
        0 => Reply::ok_content("   "),
        1 => Reply::status(200, r#"{"unexpected": true}"#),
        _ => Reply::status(
            200,
            r#"{"choices": [{"message": {"content": null}, "finish_reason": "length"}]}"#,
        ),
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let err = ask(&client).await.expect_err("no usable output");
    assert!(
        matches!(err.root(), LlmError::Empty { finish_reason: Some(r) } if r == "length"),
        "{err}"
    );
    assert_eq!(m(&client, "llm_empty_total"), 2);
    assert_eq!(m(&client, "llm_bad_envelope_total"), 1);
}

#[tokio::test]
async fn huge_outputs_are_rejected_by_size() {
    let (base, _) = mock_server(Arc::new(|_, _: &str| {
        Reply::ok_content(&"x".repeat(200 * 1024))
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let err = ask(&client).await.expect_err("too large");
    assert!(
        matches!(err.root(), LlmError::TooLarge { limit: 65536 }),
        "{err}"
    );
    assert_eq!(m(&client, "llm_too_large_total"), 3);
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_with_retry_after() {
    let (base, _) = mock_server(Arc::new(|n, _: &str| match n {
        0 => Reply::status(503, "overloaded"),
        1 => {
            let mut r = Reply::status(429, r#"{"error": "slow down"}"#);
            r.headers.push(("retry-after".into(), "0.15".into()));
            r
        }
        _ => Reply::ok_content(GOOD),
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let t = Instant::now();
    ask(&client).await.expect("third attempt succeeds");
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "Retry-After was honoured"
    );
    assert_eq!(m(&client, "llm_server_errors_total"), 1);
    assert_eq!(m(&client, "llm_rate_limited_total"), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, count) = mock_server(Arc::new(|_, _: &str| {
        Reply::status(401, r#"{"error": "bad key"}"#)
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let err = ask(&client).await.expect_err("401");
    assert!(
        matches!(err, LlmError::Rejected { status: 401, .. }),
        "{err}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn slow_servers_time_out() {
    let (base, _) = mock_server(Arc::new(|_, _: &str| {
        let mut r = Reply::ok_content(GOOD);
        r.delay = Duration::from_secs(30);
        r
    }))
    .await;
    let mut cfg = config(&base);
    cfg.timeout = Duration::from_millis(300);
    cfg.max_attempts = 2;
    let client = LlmClient::new(cfg).expect("client");
    let t = Instant::now();
    let err = ask(&client).await.expect_err("timeout");
    assert!(matches!(err.root(), LlmError::Timeout(_)), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "bounded by the timeouts"
    );
    assert_eq!(m(&client, "llm_timeouts_total"), 2);
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = LlmClient::new(config(&format!("http://{addr}/v1"))).expect("client");
    let err = ask(&client).await.expect_err("refused");
    assert!(matches!(err.root(), LlmError::Transport { .. }), "{err}");
}

/// A model that follows instructions: the LLM generator builds a full task with exact ground truth.
#[tokio::test]
async fn llm_generator_builds_a_consistent_task() {
    let (base, _) = mock_server(Arc::new(|n, body: &str| {
        let req: serde_json::Value = serde_json::from_str(body).expect("request JSON");
        let last = req["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or("").to_owned();
        if body.contains("code_answer") {
            let html = format!("<!DOCTYPE html><html><head></head><body><canvas id=\"c\"></canvas><p>answer {n}</p></body></html>");
            let js = "document.getElementById('c').addEventListener('click', function () { console.log('hit'); });";
            let files = serde_json::json!({"files": [
                {"filename": "index.html", "content": html, "language": "html"},
                {"filename": "index.js", "content": js, "language": "javascript"}
            ]});
            Reply::ok_content(&files.to_string())
        } else if last.contains("Question JSON") {
            Reply::ok_content(&serde_json::json!({"question": format!("Create a simulation of birds instead, variant {n}."), "requirements": ["Click adds a bird"]}).to_string())
        } else {
            let k: usize = last.split("List exactly ").nth(1).and_then(|s| s.split(' ').next()).and_then(|s| s.parse().ok()).unwrap_or(2);
            let reqs: Vec<String> = (0..k).map(|i| format!("Requirement number {i}")).collect();
            Reply::ok_content(&serde_json::json!({"question": "Create an interactive visualization of a fish tank.", "requirements": reqs}).to_string())
        }
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let generator = LlmGenerator::new(Seeds::embedded(), client.clone(), 256, 1024);
    for seed in 0..6 {
        let task = generator.generate(seed).await.expect("task");
        assert_eq!(task.completions().len(), 4);
        for c in task.completions() {
            assert_eq!(
                task.ground_truth().rank(c.id.as_str()),
                Some(c.augmentation.rank())
            );
            assert_eq!(
                c.augmented_prompt.is_some(),
                c.augmentation.family() == Some(dojo_synthetic::Family::Question)
            );
            if c.augmentation == Augmentation::Original {
                let html = c.index_html().expect("page");
                assert!(
                    html.contains("addEventListener('click'")
                        && html.find("<script>") < html.find("</body>")
                );
            }
        }
    }
    assert!(m(&client, "llm_successes_total") >= 12);
}

#[tokio::test]
async fn llm_generator_reports_a_garbage_model_clearly() {
    let (base, _) = mock_server(Arc::new(|_, _: &str| {
        Reply::ok_content("<html>not what you asked for</html>")
    }))
    .await;
    let client = LlmClient::new(config(&base)).expect("client");
    let generator = LlmGenerator::new(Seeds::embedded(), client, 256, 1024);
    let err = generator.generate(1).await.expect_err("garbage");
    assert!(
        matches!(&err, GenError::Llm(LlmError::Exhausted { attempts: 3, .. })),
        "{err}"
    );
}
