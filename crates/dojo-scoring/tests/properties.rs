//! Properties every mechanism must keep on arbitrary, including hostile, input.

use dojo_scoring::weights::{
    WeightLimits, convert_weights_and_uids_for_emit, normalize_max_weight,
    process_weights_for_netuid,
};
use dojo_scoring::{
    AbsentMiners, Answer, FeedbackTask, MechanismConfig, MovingAverage, NAMES, Response, Task,
    VoteKind, VoteTask,
};
use dojo_types::{CompletionId, Hotkey, Ranking, TaskId, Uid};
use proptest::prelude::*;

fn cid(i: usize) -> CompletionId {
    CompletionId::new(format!("c{i}")).unwrap()
}

fn hk(i: usize) -> Hotkey {
    Hotkey::new(format!("h{i}")).unwrap()
}

/// A task with `c` completions and one response per row; values may be anything, including NaN.
fn task(c: usize, rows: &[Vec<f64>], gt: &[u32], ranks: bool) -> Task {
    let responses = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let answer = if ranks {
                Answer::Ranks(
                    row.iter()
                        .enumerate()
                        .map(|(j, v)| (cid(j), v.abs() as u32 % (c as u32 + 1)))
                        .collect(),
                )
            } else {
                Answer::Scores(row.iter().enumerate().map(|(j, v)| (cid(j), *v)).collect())
            };
            Response {
                hotkey: hk(i),
                answer,
            }
        })
        .collect();
    let mut t = Task::new(TaskId::new("t").unwrap(), responses);
    t.ground_truth = Ranking::new(gt.iter().enumerate().map(|(j, r)| (cid(j), *r))).ok();
    t.feedback = Some(FeedbackTask {
        previous_score: 3.0,
        authors: (0..c)
            .map(|j| (cid(j), hk(j % rows.len().max(1))))
            .collect(),
        completion_order: (0..c).map(cid).collect(),
    });
    t.votes = Some(VoteTask {
        kind: VoteKind::Pvp,
        generators: (0..c.min(rows.len())).map(|j| (hk(j), cid(j))).collect(),
        validator_completion: None,
        negative_generator: None,
        votes: (0..rows.len()).map(|i| (hk(i), cid(i % c))).collect(),
        voters: (0..rows.len() + 2).map(hk).collect(),
    });
    t
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 0.0f64..100.0,
        1 => (1u8..6).prop_map(f64::from),
        1 => prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1e308), Just(0.0)],
    ]
}

fn shuffled_gt(c: usize) -> impl Strategy<Value = Vec<u32>> {
    Just((0..c as u32).collect::<Vec<_>>()).prop_shuffle()
}

fn case() -> impl Strategy<Value = (usize, Vec<Vec<f64>>, Vec<u32>)> {
    (2usize..6, 0usize..10).prop_flat_map(|(c, n)| {
        (
            Just(c),
            proptest::collection::vec(proptest::collection::vec(value(), c), n),
            shuffled_gt(c),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mechanisms_never_panic_and_normalise((c, rows, gt) in case(), ranks in any::<bool>()) {
        let t = task(c, &rows, &gt, ranks);
        for name in NAMES {
            let m = MechanismConfig::from_name(name).unwrap().build().unwrap();
            let Ok(out) = m.score_task(&t) else { continue };
            prop_assert!(out.scores.iter().all(|(_, v)| v.is_finite()), "{name}: non-finite score");
            prop_assert_eq!(out.scores.len() + out.rejected.len() >= t.responses.len().min(1), true);
            if *name != "dojo-v2-votes" && *name != "hfl" {
                let sum: f64 = out.scores.iter().map(|(_, v)| v).sum();
                prop_assert!(out.scores.is_empty() || (sum - 1.0).abs() < 1e-9 || sum == 0.0, "{name}: sum {sum}");
                prop_assert!(out.scores.iter().all(|(_, v)| (0.0..=1.0 + 1e-12).contains(v)), "{name}: out of [0,1]");
            }
        }
    }

    #[test]
    fn miner_order_does_not_matter((c, rows, gt) in case(), seed in any::<u64>()) {
        let t = task(c, &rows, &gt, false);
        let mut rev = t.clone();
        let n = rev.responses.len();
        if n > 1 {
            rev.responses.rotate_left((seed as usize) % n);
        }
        for name in ["dojo-v1-ground-truth", "rm-consensus"] {
            let m = MechanismConfig::from_name(name).unwrap().build().unwrap();
            match (m.score_task(&t), m.score_task(&rev)) {
                (Ok(a), Ok(b)) => {
                    for (h, v) in &a.scores {
                        let w = b.get(h.as_str()).unwrap();
                        prop_assert!((v - w).abs() < 1e-12, "{name}: {h} {v} vs {w}");
                    }
                }
                (a, b) => prop_assert_eq!(a.is_err(), b.is_err()),
            }
        }
    }

    #[test]
    fn completion_order_shown_does_not_matter((c, rows, gt) in case()) {
        // Renaming completions changes the order they sort in but not which one is which.
        let t = task(c, &rows, &gt, false);
        let mut renamed = t.clone();
        let rename = |x: &CompletionId| CompletionId::new(format!("z{}", 100 - x.as_str()[1..].parse::<i32>().unwrap())).unwrap();
        for r in &mut renamed.responses {
            if let Answer::Scores(m) = &mut r.answer {
                *m = m.iter().map(|(k, v)| (rename(k), *v)).collect();
            }
        }
        renamed.ground_truth = t.ground_truth.as_ref().map(|g| Ranking::new(g.iter().map(|(k, r)| (rename(k), r))).unwrap());
        let m = MechanismConfig::from_name("dojo-v1-ground-truth").unwrap().build().unwrap();
        if let (Ok(a), Ok(b)) = (m.score_task(&t), m.score_task(&renamed)) {
            for (h, v) in &a.scores {
                prop_assert!((v - b.get(h.as_str()).unwrap()).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn weights_pipeline_is_total(w in proptest::collection::vec(value(), 0..300), min_allowed in 0u16..20, limit in 0u16..=u16::MAX) {
        let limits = WeightLimits { min_allowed_weights: min_allowed, max_weight_limit: limit };
        if let Ok((uids, ws)) = process_weights_for_netuid(&w, limits, 0) {
            prop_assert_eq!(uids.len(), ws.len());
            prop_assert!(ws.iter().all(|v| v.is_finite() && *v >= 0.0));
            if !ws.is_empty() {
                prop_assert!((ws.iter().sum::<f64>() - 1.0).abs() < 1e-6);
            }
            let (u, v) = convert_weights_and_uids_for_emit(&uids, &ws).unwrap();
            prop_assert_eq!(u.len(), v.len());
            prop_assert!(v.iter().all(|x| *x > 0));
            if !v.is_empty() {
                prop_assert_eq!(v.iter().copied().max(), Some(u16::MAX));
            }
        }
        let _ = normalize_max_weight(&w, f64::from(limit) / 65535.0);
    }

    #[test]
    fn ema_never_panics(scores in proptest::collection::vec(0.0f64..1.0, 0..50),
                        rewards in proptest::collection::vec((0u16..60, value()), 0..60),
                        reset in any::<bool>()) {
        let mode = if reset { AbsentMiners::Reset } else { AbsentMiners::Decay };
        let ema = MovingAverage::new(0.3, mode).unwrap();
        let mut s = scores.clone();
        let r: Vec<(Uid, f64)> = rewards.into_iter().map(|(u, v)| (Uid(u), v)).collect();
        match ema.update(&mut s, &r) {
            Ok(_) => prop_assert!(s.iter().all(|v| v.is_finite())),
            Err(_) => prop_assert_eq!(s, scores),
        }
    }
}

#[test]
fn duplicate_hotkeys_are_refused() {
    let mut t = task(
        3,
        &[vec![1.0, 2.0, 3.0], vec![3.0, 2.0, 1.0]],
        &[0, 1, 2],
        false,
    );
    t.responses[1].hotkey = hk(0);
    for name in [
        "dojo-v1-ground-truth",
        "rm-consensus",
        "dojo-v0-consensus",
        "hfl",
    ] {
        let m = MechanismConfig::from_name(name).unwrap().build().unwrap();
        assert!(
            matches!(
                m.score_task(&t),
                Err(dojo_scoring::ScoringError::DuplicateHotkey { .. })
            ),
            "{name} accepted duplicate hotkeys"
        );
    }
}

#[test]
fn single_miner_ground_truth_semantics() {
    let t = task(4, &[vec![4.0, 3.0, 2.0, 1.0]], &[0, 1, 2, 3], false);
    let ones = MechanismConfig::from_name("dojo-v1-ground-truth")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(ones.score_task(&t).unwrap().get("h0"), Some(1.0));
    let legacy = MechanismConfig::DojoV1GroundTruth(dojo_scoring::GroundTruthParams {
        minmax: dojo_scoring::vector::MinMaxGuard::Nan,
        ..Default::default()
    })
    .build()
    .unwrap();
    assert!(matches!(
        legacy.score_task(&t),
        Err(dojo_scoring::ScoringError::Degenerate { .. })
    ));
}
