//! Property tests of the tokenization and batching path on the real tokenizer.

use dojo_reward::{RewardInput, RewardModel};
use proptest::prelude::*;

use crate::model;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any texts encode to at most max_length tokens with consistent masks and segment ids.
    #[test]
    fn encoding_is_bounded_and_consistent(
        texts in proptest::collection::vec(("\\PC{0,300}", "\\PC{0,300}"), 1..6),
    ) {
        let Some(m) = model() else { return Ok(()) };
        let inputs: Vec<RewardInput<'_>> = texts.iter().map(|(p, c)| RewardInput::new(p, c)).collect();
        let e = m.encode(&inputs).unwrap();
        prop_assert_eq!(e.batch, inputs.len());
        prop_assert!(e.seq <= m.config().max_length);
        prop_assert_eq!(e.input_ids.len(), e.batch * e.seq);
        for row in 0..e.batch {
            let mask = &e.attention_mask[row * e.seq..(row + 1) * e.seq];
            // Right padding: ones then zeros, at least [CLS] [SEP] [SEP].
            let ones = mask.iter().take_while(|v| **v == 1).count();
            prop_assert!(ones >= 3);
            prop_assert!(mask[ones..].iter().all(|v| *v == 0));
            prop_assert!(e.token_type_ids[row * e.seq..(row + 1) * e.seq].iter().all(|t| *t == 0 || *t == 1));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// A pair's score does not depend on what it is batched with (padding is masked out).
    #[test]
    fn score_is_independent_of_batch_company(
        texts in proptest::collection::vec(("\\PC{0,80}", "\\PC{0,120}"), 2..5),
    ) {
        let Some(m) = model() else { return Ok(()) };
        let inputs: Vec<RewardInput<'_>> = texts.iter().map(|(p, c)| RewardInput::new(p, c)).collect();
        let together = m.score_batch(&inputs).unwrap();
        for (i, inp) in inputs.iter().enumerate() {
            let alone = m.score_batch(&[*inp]).unwrap()[0];
            prop_assert!((alone - together[i]).abs() < 1e-3, "{} vs {}", alone, together[i]);
        }
    }
}
