//! The columnar round of `dojo-v1-ground-truth` gives exactly the replay's (map-based) results:
//! every task score, every rejection, every degenerate task and every miner mean, bit for bit.

mod support;

use dojo_scoring::{ColumnarRound, GroundTruth, GroundTruthParams};
use dojo_validator::replay;
use serde_json::json;
use support::round::{Shape, round};

fn check(params: serde_json::Value, seed: u64) -> usize {
    let shape = Shape {
        tasks: 200,
        max_miners: 16,
        max_completions: 6,
        noisy: true,
        fixed: false,
    };
    let mut input = round("dojo-v1-ground-truth", shape, seed);
    input.params = Some(params.clone());
    let map = replay::run(&input).expect("map-based replay");
    let tasks = replay::tasks(&input).expect("tasks");
    let columnar = ColumnarRound::from_tasks(&tasks).expect("columnar round");
    let gt =
        GroundTruth::new(serde_json::from_value::<GroundTruthParams>(params).unwrap()).unwrap();
    let out = gt.score_round(&columnar);
    let name = |i: u32| columnar.hotkeys.get(i).unwrap().to_string();

    let mut compared = 0;
    assert_eq!(out.tasks.len(), map.tasks.len());
    for ((m, scored), want) in columnar.tasks.iter().zip(&out.tasks).zip(&map.tasks) {
        let rejected: Vec<(String, String)> = m
            .rejected
            .iter()
            .map(|(i, e)| (name(*i), e.to_string()))
            .collect();
        let want_rejected: Vec<(String, String)> = want
            .rejected
            .iter()
            .map(|r| (r.hotkey.clone(), r.reason.clone()))
            .collect();
        match scored {
            Ok(scores) => {
                // The replay reports rejections of scored tasks only.
                assert_eq!(rejected, want_rejected, "task {}", m.task);
                assert_eq!(want.error, None, "task {}", m.task);
                let got: Vec<(String, u64)> = m
                    .miners()
                    .iter()
                    .zip(scores)
                    .map(|(i, v)| (name(*i), v.to_bits()))
                    .collect();
                let want: Vec<(String, u64)> = want
                    .scores
                    .iter()
                    .map(|(h, v)| (h.to_string(), v.to_bits()))
                    .collect();
                assert_eq!(got, want, "task {}", m.task);
                compared += got.len();
            }
            Err(e) => assert_eq!(want.error.as_deref(), Some(e.to_string().as_str())),
        }
    }
    let means: Vec<(String, u64)> = out
        .miner_scores
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (name(i as u32), v.to_bits())))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let want: Vec<(String, u64)> = map
        .miner_scores
        .iter()
        .map(|(h, v)| (h.clone(), v.to_bits()))
        .collect();
    assert_eq!(means, want);
    compared
}

#[test]
fn columnar_round_equals_map_based_replay() {
    let mut compared = 0;
    for (i, p) in [
        json!({}),
        json!({"minmax": "nan"}),
        json!({"float32_ground_truth": false, "cubic_scaling": 0.01, "cubic_translation": 5.0}),
    ]
    .into_iter()
    .enumerate()
    {
        compared += check(p, 40 + i as u64);
    }
    assert!(compared > 1000, "only {compared} scores compared");
}

#[test]
fn duplicate_miner_in_a_matrix_is_refused() {
    let mut round = ColumnarRound::default();
    let h = round.hotkeys.intern(&dojo_types::Hotkey::new("h").unwrap());
    let mut m = dojo_scoring::ScoreMatrix::new(dojo_types::TaskId::new("t").unwrap(), 2);
    m.push_row(h, &[1.0, 0.0]).unwrap();
    m.push_row(h, &[0.0, 1.0]).unwrap();
    assert!(m.push_row(h, &[f64::NAN, 1.0]).is_err());
    assert!(m.push_row(h, &[1.0]).is_err());
    assert_eq!(m.miners().len(), 2);
    round.tasks.push(m);
    let out = GroundTruth::default().score_round(&round);
    assert!(matches!(
        out.tasks[0],
        Err(dojo_scoring::ScoringError::DuplicateHotkey { .. })
    ));
    assert_eq!(out.miner_scores, vec![None]);
}
