//! The synthetic API in process on loopback, with the offline generator (and a failing test double).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use dojo_synthetic::obfuscate::reassign_ids;
use dojo_synthetic::{CodeFile, GenError, Generator, OfflineGenerator, SyntheticTask};
use dojo_synthetic_api::wire::{Envelope, GenerateQuestion, SyntheticQa};
use dojo_synthetic_api::{App, Config, serve};
use proptest::prelude::*;
use rand::SeedableRng;

struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

async fn start<G: Generator>(app: Arc<App<G>>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        serve(app, listener, async move {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    Running {
        base,
        stop: Some(tx),
        handle,
    }
}

fn config() -> Config {
    let mut c = Config::new("127.0.0.1:0".parse().expect("addr"));
    c.buffer = 4;
    c.workers = 2;
    c.wait = Duration::from_secs(10);
    c.seed = 1000;
    c.retry_delay = Duration::from_millis(20);
    c
}

fn check_payload(qa: &SyntheticQa) {
    let cids: BTreeSet<&str> = qa.responses.iter().map(|r| r.cid.as_str()).collect();
    let truth: BTreeSet<&str> = qa.ground_truth.keys().map(String::as_str).collect();
    assert_eq!(
        cids, truth,
        "ground-truth ids are exactly the completion ids"
    );
    assert_eq!(cids.len(), qa.responses.len());
    let ranks: BTreeSet<u32> = qa.ground_truth.values().copied().collect();
    assert_eq!(ranks, (0..qa.responses.len() as u32).collect());
}

#[tokio::test]
async fn serves_v1_tasks_with_matching_ground_truth() {
    let app = App::new(config(), OfflineGenerator::default(), None).expect("app");
    let srv = start(app.clone()).await;
    let http = reqwest::Client::new();
    let mut seen = BTreeSet::new();
    for _ in 0..6 {
        let r = http
            .get(format!("{}/api/synthetic-gen", srv.base))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        let env: Envelope<SyntheticQa> = r.json().await.expect("json");
        assert!(env.success && env.error.is_none());
        let qa = env.body.expect("body");
        check_payload(&qa);
        assert_eq!(qa.responses.len(), 4);
        assert!(
            qa.responses
                .iter()
                .all(|r| r.completion.files[0].content.contains("<canvas"))
        );
        assert!(seen.insert(qa.prompt.clone()), "a task is served once");
        for r in &qa.responses {
            assert!(!r.cid.is_empty() && r.cid.len() == 32);
        }
    }
    let metrics = http
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("dojo_synthetic_tasks_served_total 6"),
        "{metrics}"
    );
    assert!(metrics.contains("# TYPE dojo_synthetic_buffer_tasks gauge"));
    let health: serde_json::Value = http
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .expect("h")
        .json()
        .await
        .expect("j");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["generator"], "offline");
    srv.shutdown().await;
}

#[tokio::test]
async fn v2_question_answer_flow() {
    let app = App::new(config(), OfflineGenerator::default(), None).expect("app");
    let srv = start(app).await;
    let http = reqwest::Client::new();
    let q: GenerateQuestion = http
        .get(format!("{}/api/generate-question", srv.base))
        .send()
        .await
        .expect("q")
        .json()
        .await
        .expect("json");
    assert!(q.success && !q.prompt.is_empty() && q.qa_id != q.ans_aug_id);
    let ans: serde_json::Value = http
        .post(format!("{}/api/generate-answer", srv.base))
        .json(&serde_json::json!({"qa_id": q.qa_id}))
        .send()
        .await
        .expect("a")
        .json()
        .await
        .expect("json");
    assert_eq!(ans["answer"]["prompt"], q.prompt.as_str());
    assert_eq!(ans["answer"]["responses"].as_array().map(Vec::len), Some(1));
    let aug = http
        .get(format!("{}/api/answers/{}", srv.base, q.ans_aug_id))
        .send()
        .await
        .expect("aug");
    assert_eq!(aug.status(), 200);
    let aug: serde_json::Value = aug.json().await.expect("json");
    assert_ne!(
        aug["responses"][0]["completion"], ans["answer"]["responses"][0]["completion"],
        "the augmented answer differs"
    );
    let pop = http
        .post(format!("{}/api/pop-qa", srv.base))
        .json(&serde_json::json!({"qa_id": q.qa_id}))
        .send()
        .await
        .expect("pop");
    assert_eq!(pop.status(), 200);
    let gone = http
        .post(format!("{}/api/generate-answer", srv.base))
        .json(&serde_json::json!({"qa_id": q.qa_id}))
        .send()
        .await
        .expect("gone");
    assert_eq!(gone.status(), 404);
    let gone = http
        .get(format!("{}/api/answers/{}", srv.base, q.ans_aug_id))
        .send()
        .await
        .expect("gone");
    assert_eq!(
        gone.status(),
        404,
        "popping a question removes its augmented answer too"
    );

    let bad = http
        .post(format!("{}/api/get-question-augment", srv.base))
        .json(&serde_json::json!({"question": q.prompt, "num_augments": 0}))
        .send()
        .await
        .expect("bad");
    assert_eq!(bad.status(), 422);
    let good: serde_json::Value = http
        .post(format!("{}/api/get-question-augment", srv.base))
        .json(&serde_json::json!({"question": q.prompt, "num_augments": 2}))
        .send()
        .await
        .expect("good")
        .json()
        .await
        .expect("json");
    let augments = good["augments"].as_array().expect("augments");
    assert_eq!(augments.len(), 2);
    assert!(
        augments
            .iter()
            .all(|a| a.as_str().is_some_and(|s| s.len() < q.prompt.len()))
    );
    let order = http
        .post(format!("{}/api/order-answer", srv.base))
        .json(&serde_json::json!({"question": "Build a clock"}))
        .send()
        .await
        .expect("order");
    assert_eq!(
        order.status(),
        501,
        "offline cannot answer free-form questions"
    );
    let malformed = http
        .post(format!("{}/api/pop-qa", srv.base))
        .body("not json")
        .send()
        .await
        .expect("malformed");
    assert!(malformed.status().is_client_error());
    srv.shutdown().await;
}

#[tokio::test]
async fn buffer_survives_a_restart_and_bad_tasks_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let mut cfg = config();
    cfg.state_path = Some(path.clone());
    let app = App::new(cfg.clone(), OfflineGenerator::default(), None).expect("app");
    while app.fill_once().await {}
    assert_eq!(app.store().len(), 4);
    let prompts: Vec<String> = {
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
        raw["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .map(|t| t["prompt"].as_str().expect("prompt").to_owned())
            .collect()
    };
    assert_eq!(prompts.len(), 4);
    drop(app);

    let app = App::new(cfg.clone(), OfflineGenerator::default(), None).expect("reopen");
    assert_eq!(app.store().len(), 4, "the buffer came back");
    let first = app.take_task().await.expect("task");
    assert_eq!(first.prompt(), prompts[0]);
    assert!(!app.fill_once().await || app.store().len() <= 4);
    drop(app);

    // Tamper: point one task's ground truth at an id that no completion has.
    let mut raw: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("state")).expect("json");
    let task = &mut raw["tasks"][0];
    let gt = task["ground_truth"].as_object_mut().expect("gt");
    let k = gt.keys().next().expect("key").clone();
    let v = gt.remove(&k).expect("v");
    gt.insert("forged-id".to_owned(), v);
    let n = raw["tasks"].as_array().map(Vec::len).unwrap_or(0);
    std::fs::write(&path, serde_json::to_vec(&raw).expect("ser")).expect("write");
    let app = App::new(cfg, OfflineGenerator::default(), None).expect("reopen");
    assert_eq!(app.store().len(), n - 1, "the forged task is dropped");
    assert_eq!(
        app.metrics()
            .invalid_on_load
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn corrupt_state_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, b"{not json").expect("write");
    let mut cfg = config();
    cfg.state_path = Some(path);
    let err = App::new(cfg, OfflineGenerator::default(), None).expect_err("corrupt");
    assert!(err.to_string().contains("not valid JSON state"), "{err}");
}

/// A generator that always fails (test double).
struct Broken;

impl Generator for Broken {
    fn name(&self) -> String {
        "broken".to_owned()
    }
    async fn generate(&self, _seed: u64) -> Result<SyntheticTask, GenError> {
        Err(GenError::Unsupported("always fails".to_owned()))
    }
    async fn augment_question(
        &self,
        _q: &str,
        _n: usize,
        _s: u64,
    ) -> Result<Vec<String>, GenError> {
        Err(GenError::Unsupported("always fails".to_owned()))
    }
    async fn answer_question(&self, _q: &str, _s: u64) -> Result<CodeFile, GenError> {
        Err(GenError::Unsupported("always fails".to_owned()))
    }
}

#[tokio::test]
async fn empty_buffer_answers_503_and_counts_failures() {
    let mut cfg = config();
    cfg.wait = Duration::from_millis(300);
    let app = App::new(cfg, Broken, None).expect("app");
    let srv = start(app.clone()).await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/api/synthetic-gen", srv.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    let env: Envelope<SyntheticQa> = r.json().await.expect("json");
    assert!(!env.success && env.body.is_none());
    assert!(env.error.expect("error").contains("no task was ready"));
    let metrics = http
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("dojo_synthetic_empty_buffer_total 1"));
    assert!(
        !metrics.contains("dojo_synthetic_generation_failures_total 0"),
        "{metrics}"
    );
    srv.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn served_payload_ids_match_ground_truth(seed in any::<u64>(), salt in any::<u64>()) {
        let task = OfflineGenerator::default().task(seed).expect("task");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(salt);
        let task = reassign_ids(task, &mut rng).expect("ids");
        let qa = SyntheticQa::from(&task);
        let cids: BTreeSet<String> = qa.responses.iter().map(|r| r.cid.clone()).collect();
        let truth: BTreeSet<String> = qa.ground_truth.keys().cloned().collect();
        prop_assert_eq!(&cids, &truth);
        prop_assert_eq!(cids.len(), 4);
        let augs: BTreeSet<String> = qa.metadata.augmentations.keys().cloned().collect();
        prop_assert_eq!(augs, truth);
    }
}

#[tokio::test]
async fn obfuscated_pages_are_served_when_enabled() {
    let mut cfg = config();
    cfg.obfuscate_html = true;
    let app = App::new(cfg, OfflineGenerator::default(), None).expect("app");
    let srv = start(app).await;
    let env: Envelope<SyntheticQa> = reqwest::get(format!("{}/api/synthetic-gen", srv.base))
        .await
        .expect("r")
        .json()
        .await
        .expect("json");
    let qa = env.body.expect("body");
    check_payload(&qa);
    for r in &qa.responses {
        let page = &r.completion.files[0].content;
        assert!(page.contains("atob(") && !page.contains("<canvas id=\"stage\""));
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn non_loopback_listen_without_a_key_is_refused() {
    let mut cfg = config();
    cfg.listen = "0.0.0.0:0".parse().expect("addr");
    let err = dojo_synthetic_api::run(cfg, OfflineGenerator::default(), None, async {})
        .await
        .expect_err("an exposed listener without a key");
    let msg = err.to_string();
    assert!(
        msg.contains("refusing to listen on 0.0.0.0:0 without an API key"),
        "{msg}"
    );
    // The already-bound path (`serve`) applies the same rule.
    let app = App::new(config(), OfflineGenerator::default(), None).expect("app");
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0")
        .await
        .expect("bind");
    let err = serve(app, listener, async {})
        .await
        .expect_err("serve on 0.0.0.0 without a key");
    assert!(err.to_string().contains("without an API key"), "{err}");
}

#[tokio::test]
async fn with_a_key_only_the_right_bearer_gets_tasks() {
    let key = "s3cret-key-for-the-test-0123456789";
    let mut cfg = config();
    cfg.api_key = Some(dojo_synthetic_api::ApiKey::new(key).expect("key"));
    let app = App::new(cfg, OfflineGenerator::default(), None).expect("app");
    let srv = start(app).await;
    let http = reqwest::Client::new();
    let gen_url = format!("{}/api/synthetic-gen", srv.base);
    let missing = http.get(&gen_url).send().await.expect("r");
    assert_eq!(missing.status(), 401);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["success"], false);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("API key"))
    );
    for wrong in [
        "Bearer s3cret-key-for-the-test-012345678",
        "Bearer s3cret-key-for-the-test-0123456789x",
        "Basic s3cret-key-for-the-test-0123456789",
        "s3cret-key-for-the-test-0123456789",
    ] {
        let r = http
            .get(&gen_url)
            .header("authorization", wrong)
            .send()
            .await
            .expect("r");
        assert_eq!(r.status(), 401, "{wrong}");
    }
    for path in ["/metrics", "/api/generate-question", "/api/answers/x"] {
        let r = http
            .get(format!("{}{path}", srv.base))
            .send()
            .await
            .expect("r");
        assert_eq!(r.status(), 401, "{path} needs the key");
    }
    let r = http
        .post(format!("{}/api/pop-qa", srv.base))
        .json(&serde_json::json!({"qa_id": "x"}))
        .send()
        .await
        .expect("r");
    assert_eq!(r.status(), 401, "POST routes need the key");
    let health = http
        .get(format!("{}/healthz", srv.base))
        .send()
        .await
        .expect("h");
    assert_eq!(health.status(), 200, "/healthz stays open");
    let ok = http.get(&gen_url).bearer_auth(key).send().await.expect("r");
    assert_eq!(ok.status(), 200);
    let env: Envelope<SyntheticQa> = ok.json().await.expect("json");
    check_payload(&env.body.expect("body"));
    srv.shutdown().await;
}
