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
