//! The Rust pipeline (tokenizers + ort) equals the Python one (tokenizers + onnxruntime) on the
//! same model and inputs: identical token ids, embeddings within 1e-5, and scores within 1e-4 of
//! the head applied to Python's embeddings (or of Python's logits, for a graph with its own head).

use std::io::Write;
use std::process::{Command, Stdio};

use dojo_reward::features::{self, SideFeature, SideValues};
use dojo_reward::{RewardInput, RewardModel};

use crate::model;

const TOL: f64 = 1e-5;

fn python() -> Option<String> {
    dojo_test_utils::require_env("DOJO_REWARD_PYTHON")
}

fn as_i64_rows(v: &serde_json::Value) -> Vec<Vec<i64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect()
        })
        .collect()
}

fn as_f64_rows(v: &serde_json::Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn rust_equals_python_onnxruntime() {
    let Some(m) = model() else { return };
    let Some(py) = python() else { return };
    let long = "the quick brown fox jumps over the lazy dog ".repeat(80);
    let pairs: Vec<(&str, &str)> = vec![
        (
            "What is the capital of France?",
            "Paris is the capital of France.",
        ),
        (
            "Explain recursion.",
            "Recursion is when a function calls itself on a smaller input until a base case.",
        ),
        ("", ""),
        (
            "Écris un haïku sur l'automne.",
            "Feuilles rousses — le vent 🍂 emporte l'été.",
        ),
        (&long, "Short answer."),
        ("Summarise this.", &long),
    ];
    let singles: Vec<&str> = pairs.iter().flat_map(|(p, c)| [*p, *c]).collect();
    let req = serde_json::json!({
        "model_dir": m.dir(),
        "max_length": m.config().max_length,
        "pairs": pairs.iter().map(|(p, c)| [p, c]).collect::<Vec<_>>(),
        "singles": singles,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/reference.py");
    let mut child = Command::new(&py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawning python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "reference.py failed");
    let py_out: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let inputs: Vec<RewardInput<'_>> = pairs.iter().map(|(p, c)| RewardInput::new(p, c)).collect();
    let enc = m.encode(&inputs).unwrap();
    let py_ids = as_i64_rows(&py_out["input_ids"]);
    let rust_ids: Vec<Vec<i64>> = enc.input_ids.chunks(enc.seq).map(<[i64]>::to_vec).collect();
    assert_eq!(rust_ids, py_ids, "token ids differ");
    assert_eq!(
        enc.attention_mask
            .chunks(enc.seq)
            .map(<[i64]>::to_vec)
            .collect::<Vec<_>>(),
        as_i64_rows(&py_out["attention_mask"])
    );
    assert_eq!(
        enc.token_type_ids
            .chunks(enc.seq)
            .map(<[i64]>::to_vec)
            .collect::<Vec<_>>(),
        as_i64_rows(&py_out["token_type_ids"])
    );
    assert_eq!(
        enc.seq,
        m.config().max_length,
        "the long inputs are truncated to max_length"
    );

    let scores = m.score_batch(&inputs).unwrap();
    let emb = m.embed_batch(&inputs).unwrap();
    let py_emb = as_f64_rows(&py_out["embedding"]);
    // What the score should be from Python's side of the pipeline.
    let py_scores: Vec<f64> = match m.head() {
        None => py_out["logits"]
            .as_array()
            .expect("a graph without a head in reward.json must output logits")
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect(),
        Some(head) => {
            let dims = m.config().sentence_dims.unwrap_or(0);
            let single = as_f64_rows(&py_out["single_embedding"]);
            assert_eq!(single.len(), 2 * pairs.len());
            pairs
                .iter()
                .enumerate()
                .map(|(i, (p, c))| {
                    let mut x: Vec<f32> = py_emb[i].iter().map(|v| *v as f32).collect();
                    let unit =
                        |r: &Vec<f64>| r[..dims].iter().map(|v| *v as f32).collect::<Vec<_>>();
                    // The dictionary lookup and the refusal rule are Rust's alone: the graph is
                    // what this test compares.
                    let mut v = SideValues {
                        relevance: features::cosine(
                            &unit(&single[2 * i]),
                            &unit(&single[2 * i + 1]),
                        ),
                        knowledge: if head.side.contains(&SideFeature::Knowledge) {
                            m.knowledge_base().unwrap().support(p, c)
                        } else {
                            0.0
                        },
                        ..SideValues::default()
                    };
                    v.add_checks(p, c);
                    x.extend(head.side.iter().map(|f| f.value(&v)));
                    f64::from(head.score(&x))
                })
                .collect()
        }
    };
    assert_eq!(scores.len(), py_scores.len());
    for (i, (r, p)) in scores.iter().zip(&py_scores).enumerate() {
        assert!(
            (f64::from(*r) - p).abs() <= 1e-4 * p.abs().max(1.0),
            "score {i}: rust {r} python {p}"
        );
    }
    assert_eq!(emb.len(), py_emb.len());
    let mut worst = 0.0_f64;
    for (r, p) in emb.iter().zip(&py_emb) {
        assert_eq!(r.len(), p.len());
        for (a, b) in r.iter().zip(p) {
            worst = worst.max((f64::from(*a) - b).abs());
        }
    }
    assert!(worst <= TOL, "embedding differs by {worst}");
}
