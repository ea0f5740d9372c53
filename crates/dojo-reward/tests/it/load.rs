use dojo_reward::{RewardInput, RewardModel};

use crate::model;

#[test]
fn scores_are_finite_and_batch_independent() {
    let Some(m) = model() else { return };
    let a = RewardInput::new(
        "What is the capital of France?",
        "Paris is the capital of France.",
    );
    let b = RewardInput::new("What is the capital of France?", "");
    let c = RewardInput::new("", "");
    let alone = m.score_batch(&[a]).unwrap();
    let batch = m.score_batch(&[b, a, c]).unwrap();
    assert_eq!(batch.len(), 3);
    assert!(batch.iter().all(|s| s.is_finite()));
    assert!((alone[0] - batch[1]).abs() < 1e-4, "{alone:?} vs {batch:?}");
    assert!(m.score_batch(&[]).unwrap().is_empty());
}

/// Small chunks with one ORT thread: the length-sorted, pipelined path (tokenizing the next chunk
/// on a helper thread) gives the same scores, in input order, as one batch per input.
#[test]
fn chunked_and_pipelined_scoring_matches_single_inputs() {
    let Some(m) = model() else { return };
    let opts = dojo_reward::LoadOptions {
        intra_threads: Some(1),
        max_batch: 2,
        ..Default::default()
    };
    let small = dojo_reward::OnnxRewardModel::load_with(m.dir(), &opts).unwrap();
    let texts = [
        "a much longer answer with many more words than the others",
        "",
        "short",
        "medium length answer",
        "x",
    ];
    let inputs: Vec<RewardInput<'_>> = texts
        .iter()
        .map(|t| RewardInput::new("prompt", t))
        .collect();
    let chunked = small.score_batch(&inputs).unwrap();
    for (i, inp) in inputs.iter().enumerate() {
        let alone = m.score_batch(&[*inp]).unwrap()[0];
        assert!(
            (alone - chunked[i]).abs() < 1e-4,
            "{i}: {alone} vs {}",
            chunked[i]
        );
    }
}
