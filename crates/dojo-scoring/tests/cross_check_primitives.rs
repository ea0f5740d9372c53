//! Cross-check of the statistics primitives against scipy, scikit-learn and pingouin on a few hundred
//! random cases each, to 1e-9. Skipped without `DOJO_SCORING_PYTHON`, failing instead under `DOJO_CI=1`.

use std::io::Write;
use std::process::{Command, Stdio};

use dojo_scoring::stats::{KappaWeights, cohen_kappa, icc, kendall_tau_b, spearman};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

fn python() -> Option<String> {
    dojo_test_utils::require_env("DOJO_SCORING_PYTHON")
}

fn reference(python: &str, cases: &[Value]) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/reference.py");
    let mut child = Command::new(python)
        .args([script, "prims"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python reference");
    let body = serde_json::to_vec(&json!({ "cases": cases })).unwrap();
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python reference failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["results"].as_array().unwrap().clone()
}

fn vector(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    // Half the cases use small integers so ties (and constant vectors) are common.
    if rng.random_bool(0.5) {
        (0..n).map(|_| f64::from(rng.random_range(0..4))).collect()
    } else {
        (0..n).map(|_| rng.random_range(-100.0..100.0)).collect()
    }
}

fn close(name: &str, i: usize, rust: Option<f64>, py: &Value) {
    match (rust, py.as_f64()) {
        (None, None) => {}
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= 1e-9,
            "{name} case {i}: rust {a} python {b}"
        ),
        (a, _) => panic!("{name} case {i}: rust {a:?} python {py}"),
    }
}

/// What a case is called and how to check the reference's answer for it.
type Check = (String, Box<dyn Fn(&Value)>);

#[test]
fn primitives_match_reference() {
    let Some(py) = python() else { return };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut cases = Vec::new();
    let mut expected: Vec<Check> = Vec::new();
    for i in 0..300 {
        let n = rng.random_range(2..12);
        let (x, y) = (vector(&mut rng, n), vector(&mut rng, n));
        let (s, k) = (spearman(&x, &y).unwrap(), kendall_tau_b(&x, &y).unwrap());
        cases.push(json!({"op": "spearman", "x": x, "y": y}));
        expected.push((
            "spearman".into(),
            Box::new(move |v| close("spearman", i, s, v)),
        ));
        cases.push(json!({"op": "kendall", "x": x, "y": y}));
        expected.push((
            "kendall".into(),
            Box::new(move |v| close("kendall", i, k, v)),
        ));
        let lx: Vec<f64> = (0..n).map(|_| f64::from(rng.random_range(1..6))).collect();
        let ly: Vec<f64> = (0..n).map(|_| f64::from(rng.random_range(1..6))).collect();
        for (w, name) in [
            (KappaWeights::Unweighted, "unweighted"),
            (KappaWeights::Linear, "linear"),
            (KappaWeights::Quadratic, "quadratic"),
        ] {
            let kv = cohen_kappa(&lx, &ly, w).unwrap();
            cases.push(json!({"op": "kappa", "x": lx, "y": ly, "weights": name}));
            expected.push((
                format!("kappa-{name}"),
                Box::new(move |v| close("kappa", i, kv, v)),
            ));
        }
    }
    for i in 0..200 {
        let (n, k) = (rng.random_range(3..9), rng.random_range(2..5));
        let m: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..k).map(|_| rng.random_range(0.0..10.0)).collect())
            .collect();
        let rows: Vec<&[f64]> = m.iter().map(|r| r.as_slice()).collect();
        let t = icc(&rows).unwrap();
        cases.push(json!({"op": "icc", "matrix": m}));
        expected.push((
            "icc".into(),
            Box::new(move |v| {
                for (key, val) in [
                    ("ICC1", t.icc1),
                    ("ICC2", t.icc2),
                    ("ICC3", t.icc3),
                    ("ICC1k", t.icc1k),
                    ("ICC2k", t.icc2k),
                    ("ICC3k", t.icc3k),
                ] {
                    close(key, i, val, &v[key]);
                }
            }),
        ));
    }
    let results = reference(&py, &cases);
    assert_eq!(results.len(), expected.len());
    for ((_, check), v) in expected.iter().zip(&results) {
        check(v);
    }
}
