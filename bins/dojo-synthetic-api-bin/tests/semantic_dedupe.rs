//! Semantic dedupe with the real sentence encoder (all-MiniLM-L6-v2 on ONNX Runtime, built by
//! `cargo xtask setup` and exported as `DOJO_EMBEDDING_MODEL_DIR`): a paraphrased question that
//! MinHash lets through is caught, a different task is not, and the binary serves with the flag on.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};

use common::{BIN, client, exits_with_error, free_port, get_task, wait_healthy};

use dojo_reward::SentenceEncoder;
use dojo_synthetic::OfflineGenerator;
use dojo_synthetic::dedupe::{Deduper, Duplicate, Encoder};

/// The threshold the binary uses by default (`--dedupe.semantic-threshold`).
const THRESHOLD: f64 = 0.8;

const QUESTION: &str = "Create a single HTML page with a canvas animation of planets orbiting a sun. \
                        Clicking adds a new planet and the space bar pauses the animation.";
/// The same task in other words: few shared word 3-shingles, the same meaning.
const PARAPHRASE: &str = "Build one HTML file that animates planets circling around a star on a canvas; \
                          a click adds another planet, and pressing space pauses it.";
const DIFFERENT: &str = "Make a single-page HTML game where the player catches falling apples in a \
                         basket using the arrow keys, with a score counter.";

fn model_dir() -> Option<PathBuf> {
    dojo_test_utils::require_env("DOJO_EMBEDDING_MODEL_DIR").map(PathBuf::from)
}

#[derive(Debug)]
struct Real(SentenceEncoder);

impl Encoder for Real {
    fn embed(&self, text: &str) -> Result<Vec<f32>, String> {
        self.0.embed(text).map_err(|e| e.to_string())
    }
}

fn encoder() -> Option<Arc<dyn Encoder>> {
    static ENC: OnceLock<Option<Arc<Real>>> = OnceLock::new();
    let e = ENC.get_or_init(|| {
        let dir = model_dir()?;
        Some(Arc::new(Real(SentenceEncoder::load(&dir).unwrap_or_else(
            |e| panic!("loading {}: {e}", dir.display()),
        ))))
    });
    e.clone().map(|e| e as Arc<dyn Encoder>)
}

#[test]
fn a_paraphrased_question_is_caught_and_a_different_one_passes() {
    let Some(enc) = encoder() else { return };
    // MinHash alone: the paraphrase shares too few shingles to count as a near duplicate.
    let mut minhash_only = Deduper::new(100, 0.9);
    minhash_only.admit(QUESTION).expect("first question");
    assert_eq!(minhash_only.admit(PARAPHRASE), Ok(()), "MinHash misses it");

    let mut d = Deduper::new(100, 0.9).with_encoder(enc, THRESHOLD);
    d.admit(QUESTION).expect("first question");
    match d.admit(PARAPHRASE) {
        Err(Duplicate::Semantic { cosine }) => {
            // Caught, yet not identical: the encoder tells the two texts apart.
            assert!((THRESHOLD..0.99).contains(&cosine), "cosine {cosine}");
        }
        other => panic!("the paraphrase must be a semantic duplicate, got {other:?}"),
    }
    match d.check(DIFFERENT) {
        Ok(entry) => {
            let e = entry.embedding.expect("embedded");
            assert_eq!(
                e.len(),
                384,
                "all-MiniLM-L6-v2 embeddings have 384 dimensions"
            );
        }
        Err(dup) => panic!("a different task is not a duplicate: {dup:?}"),
    }
    assert_eq!(d.len(), 1, "the paraphrase was not remembered");
}

/// One offline task per template: different apps must pass. Tasks of one template share most of
/// their prompt (the template's text), so the offline generator is not where semantic dedupe
/// helps; the test prints how many same-template tasks it rejects (docs/synthetic.md quotes it).
#[test]
fn offline_tasks_of_different_templates_pass() {
    let Some(enc) = encoder() else { return };
    let g = OfflineGenerator::default();
    let mut d = Deduper::new(1000, 0.9).with_encoder(enc.clone(), THRESHOLD);
    let mut templates = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let task = g.task(seed).expect("task");
        if templates.insert(task.generator().to_owned())
            && let Err(dup) = d.admit(task.prompt())
        {
            panic!(
                "seed {seed} ({}) is a different app: {dup:?}",
                task.generator()
            );
        }
    }
    assert_eq!(templates.len(), 6, "all six templates were seen");

    let mut all = Deduper::new(1000, 0.9).with_encoder(enc, THRESHOLD);
    let mut rejected = 0;
    let mut max_cos: f64 = 0.0;
    for seed in 0..40 {
        if let Err(Duplicate::Semantic { cosine }) = all.admit(g.task(seed).expect("task").prompt())
        {
            rejected += 1;
            max_cos = max_cos.max(cosine);
        }
    }
    eprintln!(
        "offline seeds 0..40: {rejected} rejected as semantic duplicates at {THRESHOLD} (max cosine {max_cos:.3})"
    );
}

#[test]
fn a_reward_model_is_not_a_sentence_encoder() {
    let Some(dir) = dojo_test_utils::require_env("DOJO_REWARD_MODEL_DIR") else {
        return;
    };
    let err = SentenceEncoder::load(&dir).expect_err("no sentence_embedding output");
    assert!(
        err.to_string()
            .contains("a sentence encoder needs `sentence_embedding`"),
        "{err}"
    );
}

#[tokio::test]
async fn the_binary_serves_with_semantic_dedupe_and_refuses_a_bad_model_dir() {
    let Some(dir) = model_dir() else { return };
    let empty = tempfile::tempdir().expect("tempdir");
    let err = exits_with_error(|c| {
        c.args(["--port", "0", "--buffer.state", "none"])
            .arg("--dedupe.embedding-model")
            .arg(empty.path());
    })
    .await;
    assert!(
        err.contains("loading the embedding model") && err.contains("model.onnx not found"),
        "{err}"
    );

    let (port, base) = free_port();
    let mut child = tokio::process::Command::new(BIN)
        .args(["--port", &port.to_string(), "--buffer.size", "2"])
        .args(["--buffer.state", "none", "--seed", "11"])
        .arg("--dedupe.embedding-model")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start");
    let http = client();
    let health = wait_healthy(&http, &base).await;
    assert_eq!(health["semantic_dedupe"], true);
    let r = get_task(&http, &base).await;
    assert_eq!(r["success"], true, "{r}");
    let _ = child.kill().await;
}
