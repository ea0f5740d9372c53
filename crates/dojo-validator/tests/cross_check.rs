//! Cross-check of every mechanism against the Python reference (numpy/scipy/scikit-learn/pingouin)
//! on a few hundred random tasks each, to 1e-9.
//!
//! The reference interpreter comes from `DOJO_SCORING_PYTHON` (installed by `cargo xtask setup`).
//! Without it the test is skipped, except under `DOJO_CI=1`, where that is a failure.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use dojo_validator::replay::{self, ReplayInput, ReplayOutput};
use serde_json::json;
use support::round::{Shape, round};

fn python() -> Option<String> {
    dojo_test_utils::require_env("DOJO_SCORING_PYTHON")
}

fn reference(python: &str, input: &ReplayInput) -> ReplayOutput {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dojo-scoring/tests/python/reference.py"
    );
    let mut child = Command::new(python)
        .args([script, "score"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python reference");
    let body = serde_json::to_vec(input).unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python reference failed");
    serde_json::from_slice(&out.stdout).expect("reference output")
}

fn compare(name: &str, rust: &ReplayOutput, py: &ReplayOutput) -> usize {
    assert_eq!(rust.tasks.len(), py.tasks.len(), "{name}: task count");
    let mut checked = 0;
    for (r, p) in rust.tasks.iter().zip(&py.tasks) {
        assert_eq!(r.task_id, p.task_id);
        assert_eq!(
            r.error.is_some(),
            p.error.is_some(),
            "{name} {}: error {:?} vs {:?}",
            r.task_id,
            r.error,
            p.error
        );
        let (rs, ps): (BTreeMap<_, _>, BTreeMap<_, _>) = (
            r.scores.iter().cloned().collect(),
            p.scores.iter().cloned().collect(),
        );
        assert_eq!(
            rs.keys().collect::<Vec<_>>(),
            ps.keys().collect::<Vec<_>>(),
            "{name} {}: scored hotkeys differ",
            r.task_id
        );
        for (h, v) in &rs {
            let w = ps[h];
            assert!(
                (v - w).abs() <= 1e-9,
                "{name} {} {h}: rust {v} python {w}",
                r.task_id
            );
            checked += 1;
        }
    }
    for (h, v) in &rust.miner_scores {
        let w = py.miner_scores[h];
        assert!(
            (v - w).abs() <= 1e-9,
            "{name} miner {h}: rust {v} python {w}"
        );
    }
    checked
}

fn check(mechanism: &str, params: &[serde_json::Value], seed: u64) {
    let Some(py) = python() else { return };
    // pingouin's ICC is slow (an ANOVA per rater), so HFL rounds are smaller; they still compare
    // several hundred scores.
    let tasks = if mechanism == "hfl" { 60 } else { 300 };
    let shape = Shape {
        tasks,
        max_miners: 12,
        max_completions: 6,
        noisy: true,
        fixed: false,
    };
    for (i, p) in params.iter().enumerate() {
        let mut input = round(mechanism, shape, seed + i as u64);
        input.params = Some(p.clone());
        let rust = replay::run(&input).expect("rust replay");
        let reference = reference(&py, &input);
        let n = compare(mechanism, &rust, &reference);
        assert!(n >= 150, "{mechanism}: only {n} scores compared");
    }
}

#[test]
fn ground_truth_matches_reference() {
    check(
        "dojo-v1-ground-truth",
        &[
            json!({}),
            json!({"minmax": "nan"}),
            json!({"float32_ground_truth": false, "cubic_scaling": 0.01, "cubic_translation": 5.0}),
        ],
        1,
    );
}

#[test]
fn v0_consensus_matches_reference() {
    check(
        "dojo-v0-consensus",
        &[json!({}), json!({"ground_truth_weight": 0.4})],
        10,
    );
}

#[test]
fn rm_consensus_matches_reference() {
    check(
        "rm-consensus",
        &[
            json!({}),
            json!({"normalise": "softmax", "rho_multiplier": {"h1": 1.2}, "accuracy": {"h0": 0.5, "h1": 0.75}}),
        ],
        20,
    );
}

#[test]
fn hfl_matches_reference() {
    check(
        "hfl",
        &[json!({}), json!({"jitter": false, "tf_weight": 0.5})],
        30,
    );
}

#[test]
fn votes_match_reference() {
    check(
        "dojo-v2-votes",
        &[
            json!({}),
            json!({"trap_penalty": -1.0, "active_hotkeys": ["h0", "h2", "h4"]}),
        ],
        40,
    );
}
