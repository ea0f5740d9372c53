//! Properties every mechanism must keep on arbitrary, including hostile, input.

use dojo_scoring::weights::{
    WeightLimits, convert_weights_and_uids_for_emit, normalize_max_weight,
    process_weights_for_netuid,
};
use dojo_scoring::{
    AbsentMiners, Answer, FeedbackTask, MechanismConfig, MovingAverage, NAMES, Response, Task,
    VoteKind, VoteTask, WeightError,
};
use dojo_types::{CompletionId, Hotkey, Ranking, TaskId, Uid};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::collections::BTreeSet;

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

/// Runs `test` over `cases` generated values; `test` returns whether the case reached the assertion
/// the property is about. Fails if fewer than `min_fraction` of the cases did, so a property cannot
/// pass by skipping its inputs.
fn counted<S: Strategy>(
    name: &str,
    cases: u32,
    min_fraction: f64,
    strategy: S,
    test: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) {
    use std::cell::Cell;
    let (ran, reached) = (Cell::new(0u32), Cell::new(0u32));
    let config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&strategy, |v| {
        ran.set(ran.get() + 1);
        if test(v)? {
            reached.set(reached.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let (ran, reached) = (ran.get(), reached.get());
    eprintln!("{name}: {reached} of {ran} cases reached the assertion");
    assert!(
        f64::from(reached) >= min_fraction * f64::from(ran),
        "{name}: only {reached} of {ran} cases reached the assertion"
    );
}

/// Hotkeys of the responses a mechanism must score or reject: those with a usable answer.
fn usable(t: &Task, ranks_wanted: bool, c: usize) -> BTreeSet<Hotkey> {
    t.responses
        .iter()
        .filter(|r| match (&r.answer, ranks_wanted) {
            (Answer::Scores(m), false) => m.values().all(|v| v.is_finite()),
            (Answer::Ranks(m), true) => {
                let mut v: Vec<u32> = m.values().copied().collect();
                v.sort_unstable();
                v == (0..c as u32).collect::<Vec<_>>()
            }
            _ => false,
        })
        .map(|r| r.hotkey.clone())
        .collect()
}

#[test]
fn every_response_is_scored_or_rejected() {
    counted(
        "every_response_is_scored_or_rejected",
        256,
        1.0,
        (case(), any::<bool>()),
        |((c, rows, gt), ranks)| {
            let t = task(c, &rows, &gt, ranks);
            let all: BTreeSet<Hotkey> = t.responses.iter().map(|r| r.hotkey.clone()).collect();
            for name in NAMES {
                let m = MechanismConfig::from_name(name).unwrap().build().unwrap();
                // Only the answers are hostile here; the task itself is well formed, so every
                // mechanism must score it.
                let out = m
                    .score_task(&t)
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                prop_assert!(
                    out.scores.iter().all(|(_, v)| v.is_finite()),
                    "{name}: non-finite score"
                );
                let scored: BTreeSet<Hotkey> = out.scores.iter().map(|(h, _)| h.clone()).collect();
                let rejected: BTreeSet<Hotkey> =
                    out.rejected.iter().map(|(h, _)| h.clone()).collect();
                prop_assert_eq!(
                    scored.len(),
                    out.scores.len(),
                    "{}: a hotkey scored twice",
                    name
                );
                prop_assert_eq!(
                    rejected.len(),
                    out.rejected.len(),
                    "{}: a hotkey rejected twice",
                    name
                );
                match *name {
                    "rm-consensus" | "dojo-v1-ground-truth" | "dojo-v0-consensus" => {
                        prop_assert!(scored.is_disjoint(&rejected), "{name}: scored and rejected");
                        prop_assert_eq!(
                            out.scores.len() + out.rejected.len(),
                            t.responses.len(),
                            "{}: a response was neither scored nor rejected",
                            name
                        );
                        let expected = usable(&t, *name == "dojo-v0-consensus", c);
                        prop_assert_eq!(&scored, &expected, "{}: wrong responses accepted", name);
                        let sum: f64 = out.scores.iter().map(|(_, v)| v).sum();
                        // rm-consensus divides by Σ 0.5(ρ+1), which is 0 when every ρ is -1.
                        let all_zero = *name == "rm-consensus" && sum == 0.0;
                        prop_assert!(
                            out.scores.is_empty() || (sum - 1.0).abs() < 1e-9 || all_zero,
                            "{name}: sum {sum}"
                        );
                        prop_assert!(
                            out.scores
                                .iter()
                                .all(|(_, v)| (0.0..=1.0 + 1e-12).contains(v)),
                            "{name}: out of [0,1]"
                        );
                    }
                    "hfl" => {
                        // Raters are scored indirectly (score feedback); every response is a rater
                        // unless rejected, and scores go to exactly the authors, whether or not
                        // their own rating was usable.
                        let raters = usable(&t, false, c);
                        prop_assert_eq!(
                            &all.difference(&rejected).cloned().collect::<BTreeSet<_>>(),
                            &raters
                        );
                        let authors: BTreeSet<Hotkey> = t
                            .feedback
                            .as_ref()
                            .unwrap()
                            .authors
                            .values()
                            .cloned()
                            .collect();
                        prop_assert_eq!(&scored, &authors);
                    }
                    "dojo-v2-votes" => {
                        let v = t.votes.as_ref().unwrap();
                        let expected: BTreeSet<Hotkey> = if v.votes.is_empty() {
                            BTreeSet::new()
                        } else {
                            v.votes
                                .keys()
                                .chain(v.generators.keys())
                                .chain(&v.voters)
                                .cloned()
                                .collect()
                        };
                        prop_assert_eq!(&scored, &expected);
                        prop_assert!(out.rejected.is_empty());
                    }
                    other => return Err(TestCaseError::fail(format!("no property for {other}"))),
                }
            }
            Ok(true)
        },
    );
}

#[test]
fn miner_order_does_not_matter() {
    counted(
        "miner_order_does_not_matter",
        256,
        0.95,
        (case(), any::<u64>()),
        |((c, rows, gt), seed)| {
            let t = task(c, &rows, &gt, false);
            let mut rev = t.clone();
            let n = rev.responses.len();
            if n > 1 {
                rev.responses.rotate_left((seed as usize) % n);
            }
            let mut compared = true;
            for name in ["dojo-v1-ground-truth", "rm-consensus"] {
                let m = MechanismConfig::from_name(name).unwrap().build().unwrap();
                match (m.score_task(&t), m.score_task(&rev)) {
                    (Ok(a), Ok(b)) => {
                        prop_assert_eq!(a.scores.len(), b.scores.len());
                        for (h, v) in &a.scores {
                            let w = b.get(h.as_str()).unwrap();
                            prop_assert!((v - w).abs() < 1e-12, "{name}: {h} {v} vs {w}");
                        }
                    }
                    (a, b) => {
                        prop_assert_eq!(a.is_err(), b.is_err());
                        compared = false;
                    }
                }
            }
            Ok(compared)
        },
    );
}

#[test]
fn completion_order_shown_does_not_matter() {
    counted(
        "completion_order_shown_does_not_matter",
        256,
        0.95,
        case(),
        |(c, rows, gt)| {
            // Renaming completions changes the order they sort in but not which one is which.
            let t = task(c, &rows, &gt, false);
            let mut renamed = t.clone();
            let rename = |x: &CompletionId| {
                CompletionId::new(format!(
                    "z{}",
                    100 - x.as_str()[1..].parse::<i32>().unwrap()
                ))
                .unwrap()
            };
            for r in &mut renamed.responses {
                if let Answer::Scores(m) = &mut r.answer {
                    *m = m.iter().map(|(k, v)| (rename(k), *v)).collect();
                }
            }
            renamed.ground_truth = t
                .ground_truth
                .as_ref()
                .map(|g| Ranking::new(g.iter().map(|(k, r)| (rename(k), r))).unwrap());
            let m = MechanismConfig::from_name("dojo-v1-ground-truth")
                .unwrap()
                .build()
                .unwrap();
            match (m.score_task(&t), m.score_task(&renamed)) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a.scores.len(), b.scores.len());
                    for (h, v) in &a.scores {
                        prop_assert!((v - b.get(h.as_str()).unwrap()).abs() < 1e-12);
                    }
                    Ok(true)
                }
                (a, b) => {
                    prop_assert_eq!(a.is_err(), b.is_err());
                    Ok(false)
                }
            }
        },
    );
}

/// Finite, non-negative weights as a validator's scores are: ties, zeros, a dominant miner and a wide
/// spread of magnitudes.
fn weight_vector(max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    let w = prop_oneof![
        3 => Just(0.0),
        3 => (1u8..6).prop_map(f64::from),
        6 => 0.0f64..1.0,
        1 => 1e-12f64..1e-6,
        1 => 1e3f64..1e9,
    ];
    proptest::collection::vec(w, 0..max_len)
}

/// Limits from "no cap" through the degenerate `n·limit ≤ 1` region, as u16 like the chain's.
fn limit_u16() -> impl Strategy<Value = u16> {
    prop_oneof![Just(0u16), Just(u16::MAX), 1u16..2000, 0u16..=u16::MAX,]
}

#[test]
fn weights_pipeline_on_valid_weights() {
    counted(
        "weights_pipeline_on_valid_weights",
        512,
        0.9,
        (weight_vector(300), 0u16..20, limit_u16()),
        |(w, min_allowed, limit)| {
            let limits = WeightLimits {
                min_allowed_weights: min_allowed,
                max_weight_limit: limit,
            };
            let (uids, ws) = process_weights_for_netuid(&w, limits, 0)
                .map_err(|e| TestCaseError::fail(format!("valid weights refused: {e}")))?;
            prop_assert_eq!(uids.len(), ws.len());
            prop_assert!(uids.windows(2).all(|p| p[0] < p[1]), "uids not ascending");
            prop_assert!(uids.iter().all(|u| usize::from(*u) < w.len()));
            prop_assert!(ws.iter().all(|v| v.is_finite() && *v >= 0.0));
            if w.is_empty() {
                prop_assert!(ws.is_empty());
                return Ok(false);
            }
            prop_assert!((ws.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            // Spec §4.6 with exclude_quantile 0: every uid when nothing is positive or there are too
            // few weights or positive weights; otherwise exactly the positive ones.
            let positive: Vec<u16> = (0..w.len())
                .filter(|&i| w[i] > 0.0)
                .map(|i| i as u16)
                .collect();
            let min_allowed = usize::from(min_allowed);
            let expected: Vec<u16> =
                if positive.is_empty() || w.len() < min_allowed || positive.len() < min_allowed {
                    (0..w.len() as u16).collect()
                } else {
                    positive
                };
            prop_assert_eq!(&uids, &expected);
            let (u, v) = convert_weights_and_uids_for_emit(&uids, &ws).unwrap();
            prop_assert_eq!(u.len(), v.len());
            prop_assert!(v.iter().all(|x| *x > 0));
            prop_assert_eq!(v.iter().copied().max(), Some(u16::MAX));
            Ok(true)
        },
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bad_weights_are_refused_at_the_first_bad_index(
        w in weight_vector(50),
        bad in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-1e-300), Just(-1.0)],
        at in any::<prop::sample::Index>(),
    ) {
        let mut w = w;
        let i = at.index(w.len() + 1);
        w.insert(i, bad);
        let limits = WeightLimits { min_allowed_weights: 1, max_weight_limit: u16::MAX };
        let expected_kind = if bad.is_finite() { "negative" } else { "non-finite" };
        for result in [
            normalize_max_weight(&w, 0.5).map(|_| ()),
            process_weights_for_netuid(&w, limits, 0).map(|_| ()),
        ] {
            match result {
                Err(WeightError::NonFinite { index }) => {
                    prop_assert_eq!(expected_kind, "non-finite");
                    prop_assert_eq!(index, i);
                }
                Err(WeightError::Negative { index }) => {
                    prop_assert_eq!(expected_kind, "negative");
                    prop_assert_eq!(index, i);
                }
                other => prop_assert!(false, "{bad} at {i} gave {other:?}"),
            }
        }
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

/// `normalize_max_weight` on valid input, per the spec (chain-and-wire §3): uniform when the input has
/// no mass or the cap cannot be met (`n·limit ≤ 1`); otherwise a distribution summing to 1, each share
/// at most the cap (the SDK's cutoff subtracts 1e-7, so shares land at or just below it), in the input's
/// order, and proportional to the input below the cutoff.
#[test]
fn normalize_max_weight_result() {
    let limit = prop_oneof![
        Just(0.0),
        Just(1.0),
        0.0f64..=1.0,
        // The region where the cap binds for a few dozen weights.
        0.02f64..0.5,
    ];
    // A dominant weight makes the cap bind; without one, most inputs are already under it.
    let wide =
        (weight_vector(60), any::<bool>(), 1e2f64..1e6).prop_map(|(mut w, dominant, big)| {
            if dominant && !w.is_empty() {
                let i = w.len() / 2;
                w[i] = big;
            }
            w
        });
    // All positive and within three orders of magnitude, so every share is far above the SDK's
    // epsilon and the cap check applies; a few leaders make several entries clip.
    let moderate = (
        proptest::collection::vec(0.5f64..10.0, 2..60),
        proptest::collection::vec(10.0f64..1000.0, 0..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut w, leaders, at)| {
            for l in leaders {
                let i = at.index(w.len() + 1);
                w.insert(i, l);
            }
            w
        });
    let input = prop_oneof![wide, moderate];
    let clipped_cases = std::cell::Cell::new(0u32);
    let capped_cases = std::cell::Cell::new(0u32);
    counted(
        "normalize_max_weight_result",
        1024,
        0.5,
        (input, limit),
        |(x, limit)| {
            let out = normalize_max_weight(&x, limit)
                .map_err(|e| TestCaseError::fail(format!("valid input refused: {e}")))?;
            prop_assert_eq!(out.len(), x.len());
            let n = x.len();
            if n == 0 {
                return Ok(false);
            }
            let sum: f64 = x.iter().sum();
            if sum == 0.0 || n as f64 * limit <= 1.0 {
                prop_assert!(
                    out.iter().all(|v| *v == 1.0 / n as f64),
                    "not uniform: {out:?}"
                );
                return Ok(false);
            }
            prop_assert!(
                (out.iter().sum::<f64>() - 1.0).abs() < 1e-9,
                "sum {}",
                out.iter().sum::<f64>()
            );
            prop_assert!(out.iter().all(|v| v.is_finite() && *v >= 0.0));
            let max_out = out.iter().copied().fold(0.0, f64::max);
            // Clipping never raises a zero, so the cap can only be met when more than 1/limit
            // entries are positive; with fewer the SDK still clips and returns shares over the cap.
            // The SDK also adds 1e-7 to the denominators that pick the cutoff, which miscounts the
            // clipped entries when some share is near 1e-7; with every positive share at least 1e-4
            // that error is below 0.1 % of the cap.
            let positive = x.iter().filter(|v| **v > 0.0).count();
            let min_share = x
                .iter()
                .filter(|v| **v > 0.0)
                .fold(f64::INFINITY, |m, v| m.min(v / sum));
            if positive as f64 * limit > 1.0 && min_share >= 1e-4 {
                capped_cases.set(capped_cases.get() + 1);
                prop_assert!(
                    max_out <= limit * (1.0 + 1e-3),
                    "share {max_out} over cap {limit}"
                );
            }
            for i in 0..n {
                for j in 0..n {
                    if x[i] < x[j] {
                        prop_assert!(out[i] <= out[j], "order lost at {i},{j}: {x:?} -> {out:?}");
                    }
                    if x[i] == x[j] {
                        prop_assert_eq!(out[i], out[j]);
                    }
                }
            }
            let max_share = x.iter().copied().fold(0.0, f64::max) / sum;
            if max_share <= limit {
                // Under the cap: a plain L1 normalisation.
                for (o, v) in out.iter().zip(&x) {
                    prop_assert!((o - v / sum).abs() <= 1e-15 * (1.0 + o.abs()));
                }
            } else {
                clipped_cases.set(clipped_cases.get() + 1);
                // Entries below the cutoff keep their ratio to one another: out / x is one constant.
                let ratios: Vec<f64> = (0..n)
                    .filter(|&i| x[i] > 0.0 && out[i] < max_out * (1.0 - 1e-12))
                    .map(|i| out[i] / x[i])
                    .collect();
                for r in &ratios {
                    prop_assert!((r / ratios[0] - 1.0).abs() < 1e-9, "ratios {ratios:?}");
                }
            }
            Ok(true)
        },
    );
    eprintln!(
        "normalize_max_weight_result: the cap bound in {} cases and was checked in {}",
        clipped_cases.get(),
        capped_cases.get()
    );
    assert!(
        capped_cases.get() >= 100,
        "only {} cases checked the cap",
        capped_cases.get()
    );
    assert!(
        clipped_cases.get() >= 100,
        "only {} cases made the cap bind",
        clipped_cases.get()
    );
}

#[test]
fn normalize_max_weight_documented_edges() {
    // Empty in, empty out.
    assert_eq!(normalize_max_weight(&[], 0.5).unwrap(), Vec::<f64>::new());
    // No mass: uniform whatever the cap.
    assert_eq!(normalize_max_weight(&[0.0; 4], 0.9).unwrap(), [0.25; 4]);
    // n·limit ≤ 1: the cap cannot be met, so uniform (4 · 0.25 = 1).
    assert_eq!(
        normalize_max_weight(&[1.0, 2.0, 3.0, 4.0], 0.25).unwrap(),
        [0.25; 4]
    );
    // Under the cap: x / Σx = [1, 1, 2] / 4.
    assert_eq!(
        normalize_max_weight(&[1.0, 1.0, 2.0], 0.5).unwrap(),
        [0.25, 0.25, 0.5]
    );
    // Cap binds: [1, 1, 8], limit 0.5. Sorted est = [0.1, 0.1, 0.8], cumsum = [0.1, 0.2, 1.0];
    // est_i / ((n-i-1)·est_i + cumsum_i + 1e-7) = [0.1/0.3, 0.1/0.3, 0.8/1.0] → n_values = 2;
    // cutoff_scale = (0.5·0.2 - 1e-7) / (1 - 0.5·1) = 0.2 - 2e-7; cutoff = 10·that = 2 - 2e-6;
    // clipped = [1, 1, 2 - 2e-6], sum 4 - 2e-6.
    let w = normalize_max_weight(&[1.0, 1.0, 8.0], 0.5).unwrap();
    let (c, s) = (2.0 - 2e-6, 4.0 - 2e-6);
    for (got, want) in w.iter().zip([1.0 / s, 1.0 / s, c / s]) {
        assert!((got - want).abs() < 1e-12, "{w:?}");
    }
    // Negative or non-finite limits are refused.
    assert!(normalize_max_weight(&[1.0], -0.1).is_err());
    assert!(normalize_max_weight(&[1.0], f64::NAN).is_err());
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
