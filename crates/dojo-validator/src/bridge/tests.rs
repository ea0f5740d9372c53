use super::*;
use crate::view::MinerView;
use dojo_types::task::{
    Completion, CompletionAnswer, CompletionContent, ResultStatus, Task, TaskType, WorkerResult,
};
use dojo_types::{Score, TaskId};
use proptest::prelude::*;
use rand::SeedableRng;

fn task(n: usize) -> Task {
    Task {
        id: TaskId::new("t").unwrap(),
        previous: None,
        prompt: "p".into(),
        task_type: TaskType::CodeGeneration,
        completions: (0..n)
            .map(|i| Completion {
                id: CompletionId::new(format!("real{i}")).unwrap(),
                content: CompletionContent::Text(String::new()),
            })
            .collect(),
        criteria: vec![],
        expire_at_unix_ms: 0,
    }
}

fn view(n: usize, seed: u64) -> MinerView {
    MinerView::random(&task(n), &mut rand::rngs::StdRng::seed_from_u64(seed))
}

/// Workers' answers given by real id, sent under the miner's ids.
fn results(view: &MinerView, workers: &[Vec<(usize, WireAnswer)>]) -> TaskResults {
    TaskResults {
        task: TaskId::new("t").unwrap(),
        results: workers
            .iter()
            .enumerate()
            .map(|(w, answers)| WorkerResult {
                worker_id: format!("w{w}"),
                answers: answers
                    .iter()
                    .map(|(real, a)| {
                        let want = format!("real{real}");
                        let (m, _) = view.shown.iter().find(|(_, r)| r.as_str() == want).unwrap();
                        CompletionAnswer {
                            completion: m.clone(),
                            answer: a.clone(),
                        }
                    })
                    .collect(),
            })
            .collect(),
        status: Some(ResultStatus::Complete),
    }
}

fn score(v: f64) -> WireAnswer {
    WireAnswer::Score(Score::new(v).unwrap())
}

const B: Option<(f64, f64)> = Some((1.0, 100.0));

proptest! {
    // Whatever the view, the answer is the per-completion worker mean keyed by real id.
    #[test]
    fn scores_are_worker_means_by_real_id(
        seed in any::<u64>(),
        vals in prop::collection::vec(prop::collection::vec(1.0f64..=100.0, 4), 1..5),
    ) {
        let v = view(4, seed);
        let workers: Vec<Vec<(usize, WireAnswer)>> = vals
            .iter()
            .map(|w| w.iter().enumerate().map(|(i, x)| (i, score(*x))).collect())
            .collect();
        let Answer::Scores(m) = to_answer(&TaskId::new("t").unwrap(), &results(&v, &workers), &v, B).unwrap() else {
            panic!("scores expected")
        };
        for i in 0..4 {
            let mean = vals.iter().map(|w| w[i]).sum::<f64>() / vals.len() as f64;
            let got = m.get(&format!("real{i}")).copied().unwrap();
            prop_assert!((got - mean).abs() <= 1e-9 * mean.abs().max(1.0));
        }
    }

    // A single value outside the bounds refuses the whole result.
    #[test]
    fn any_out_of_range_value_is_refused(
        seed in any::<u64>(),
        bad in prop_oneof![-1e9f64..1.0 - 1e-9, 100.0 + 1e-9..1e9],
        at in 0usize..4,
    ) {
        let v = view(4, seed);
        let answers: Vec<(usize, WireAnswer)> =
            (0..4).map(|i| (i, score(if i == at { bad } else { 50.0 }))).collect();
        let r = to_answer(&TaskId::new("t").unwrap(), &results(&v, &[answers]), &v, B);
        prop_assert_eq!(r.unwrap_err().reason(), "out_of_range");
    }

    // One worker's permutation passes through unchanged, whatever order the miner was shown.
    #[test]
    fn one_workers_ranks_pass_through(seed in any::<u64>(), perm in Just((0u32..5).collect::<Vec<_>>()).prop_shuffle()) {
        let v = view(5, seed);
        let answers: Vec<(usize, WireAnswer)> =
            perm.iter().enumerate().map(|(i, r)| (i, WireAnswer::Rank(*r))).collect();
        let Answer::Ranks(m) = to_answer(&TaskId::new("t").unwrap(), &results(&v, &[answers]), &v, None).unwrap() else {
            panic!("ranks expected")
        };
        for (i, r) in perm.iter().enumerate() {
            prop_assert_eq!(m.get(&format!("real{i}")), Some(r));
        }
    }
}

fn full(v: &MinerView) -> TaskResults {
    results(
        v,
        &[(0..4).map(|i| (i, score(10.0 * (i + 1) as f64))).collect()],
    )
}

fn reason(r: Result<Answer, Rejection>) -> &'static str {
    r.unwrap_err().reason()
}

#[test]
fn copied_answer_from_another_miner_does_not_map_back() {
    let (a, b) = (view(4, 1), view(4, 2));
    let copied = full(&a);
    assert!(to_answer(&TaskId::new("t").unwrap(), &copied, &a, B).is_ok());
    assert_eq!(
        reason(to_answer(&TaskId::new("t").unwrap(), &copied, &b, B)),
        "unknown_completion"
    );
}

#[test]
fn each_bad_result_has_its_reason() {
    let v = view(4, 3);
    let t = TaskId::new("t").unwrap();
    let other = TaskId::new("other").unwrap();
    assert_eq!(reason(to_answer(&other, &full(&v), &v, B)), "wrong_task");
    let empty = TaskResults {
        task: t.clone(),
        results: vec![],
        status: None,
    };
    assert_eq!(reason(to_answer(&t, &empty, &v, B)), "no_results");
    let partial = results(&v, &[(0..3).map(|i| (i, score(50.0))).collect()]);
    assert_eq!(reason(to_answer(&t, &partial, &v, B)), "unscored");
    let dup = results(
        &v,
        &[vec![
            (0, score(5.0)),
            (0, score(6.0)),
            (1, score(1.0)),
            (2, score(1.0)),
            (3, score(1.0)),
        ]],
    );
    assert_eq!(reason(to_answer(&t, &dup, &v, B)), "duplicate_answer");
    let text = results(
        &v,
        &[(0..4).map(|i| (i, WireAnswer::Text("x".into()))).collect()],
    );
    assert_eq!(reason(to_answer(&t, &text, &v, B)), "wrong_kind");
    let mixed = results(
        &v,
        &[vec![
            (0, score(5.0)),
            (1, WireAnswer::Rank(0)),
            (2, score(1.0)),
            (3, score(1.0)),
        ]],
    );
    assert_eq!(reason(to_answer(&t, &mixed, &v, B)), "wrong_kind");
    let bad_rank = results(
        &v,
        &[(0..4)
            .map(|i| (i, WireAnswer::Rank(i as u32 + 1)))
            .collect()],
    );
    assert_eq!(reason(to_answer(&t, &bad_rank, &v, None)), "bad_rank");
    // Scores against a ranks-only criterion.
    assert_eq!(reason(to_answer(&t, &full(&v), &v, None)), "wrong_kind");
}

#[test]
fn workers_that_split_completions_are_averaged_per_completion() {
    let v = view(2, 4);
    let r = results(
        &v,
        &[
            vec![(0, score(10.0))],
            vec![(0, score(30.0)), (1, score(5.0))],
        ],
    );
    let Answer::Scores(m) = to_answer(&TaskId::new("t").unwrap(), &r, &v, B).unwrap() else {
        panic!()
    };
    assert_eq!(m.get("real0"), Some(&20.0));
    assert_eq!(m.get("real1"), Some(&5.0));
}

#[test]
fn scores_become_the_ranking_they_imply() {
    let c = |s: &str| CompletionId::new(s).unwrap();
    let scores = Answer::Scores(
        [
            (c("b"), 10.0),
            (c("a"), 90.0),
            (c("d"), 10.0),
            (c("c"), 50.0),
        ]
        .into_iter()
        .collect(),
    );
    let Answer::Ranks(r) = ranks_from_scores(&scores) else {
        panic!("expected ranks")
    };
    let got: Vec<(String, u32)> = r.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let mut got = got;
    got.sort();
    assert_eq!(
        got,
        vec![
            ("a".into(), 0),
            ("b".into(), 2),
            ("c".into(), 1),
            ("d".into(), 3)
        ]
    );
    let ranks = Answer::Ranks([(c("x"), 1), (c("y"), 0)].into_iter().collect());
    assert_eq!(ranks_from_scores(&ranks), ranks);
}
