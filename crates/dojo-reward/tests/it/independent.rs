//! The shipped model on its independent pairs (`models/dojo-minilm-rm/independent-pairs.jsonl`):
//! hand-written pairs whose faults (wrong facts, rudeness, needless refusals, …) are not among the
//! training generator's degradations. The floors are the model card's measured accuracy less 0.05
//! overall and 0.59 per kind (the bar of 0.6 less one pair of 22), so a broken export,
//! tokenizer, head or side feature fails them while runtime noise does not.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dojo_reward::eval::evaluate;
use dojo_reward::pairs::read_jsonl;
use dojo_types::ports::RewardInput;
use dojo_types::ports::baselines::Length;

use crate::model;

/// Overall accuracy below this fails: the model card's measured 0.803 less 0.05, rounded down to
/// two decimals.
const ACCURACY_FLOOR: f64 = 0.75;
/// No kind may fall below this (the card's weakest kind, wrong facts, is at 0.636: 14 of 22).
const KIND_FLOOR: f64 = 0.59;
/// The set's kinds, 22 pairs each.
const KINDS: [&str; 6] = [
    "off_topic_fluent",
    "refusal_unneeded",
    "rude",
    "subtly_unhelpful",
    "wrong_arithmetic",
    "wrong_fact",
];
const PER_KIND: usize = 22;

fn independent() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/dojo-minilm-rm/independent-pairs.jsonl")
}

#[test]
fn independent_pairs_parse_with_known_kinds() {
    let pairs = read_jsonl(&independent()).expect("committed independent pairs");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, p) in pairs.iter().enumerate() {
        let kind = p
            .kind
            .as_deref()
            .unwrap_or_else(|| panic!("pair {i} has no kind"));
        assert!(KINDS.contains(&kind), "pair {i}: unknown kind {kind:?}");
        assert!(
            !p.prompt.trim().is_empty()
                && !p.chosen.trim().is_empty()
                && !p.rejected.trim().is_empty(),
            "pair {i} has an empty field: {p:?}"
        );
        assert_ne!(p.chosen, p.rejected, "pair {i}: chosen equals rejected");
        *counts.entry(kind).or_default() += 1;
    }
    for k in KINDS {
        assert_eq!(
            counts.get(k).copied().unwrap_or(0),
            PER_KIND,
            "pairs of kind {k}"
        );
    }
}

#[test]
fn shipped_model_clears_its_independent_floor() {
    let Some(m) = model() else { return };
    let pairs = read_jsonl(&independent()).expect("committed independent pairs");
    // A truncated pair would be judged on text the model never saw.
    let budget = m.config().max_length;
    for (i, p) in pairs.iter().enumerate() {
        for side in [&p.chosen, &p.rejected] {
            let enc = m
                .encode(&[RewardInput::new(&p.prompt, side)])
                .expect("tokenize");
            assert!(
                enc.seq < budget,
                "pair {i} reaches the {budget}-token budget ({} tokens)",
                enc.seq
            );
        }
    }
    let ours = evaluate(m.as_ref(), &pairs, 32).expect("evaluate shipped model");
    let length = evaluate(&Length, &pairs, 32).expect("evaluate length baseline");
    eprintln!(
        "independent accuracy: model {:.4} (margin {:.2}, {} ties), length {:.4} ({} ties)",
        ours.accuracy, ours.mean_margin, ours.ties, length.accuracy, length.ties
    );
    for (kind, r) in &ours.by_kind {
        eprintln!(
            "  {kind:<20} model {:.3}, length {:.3} ({} pairs)",
            r.accuracy, length.by_kind[kind].accuracy, r.pairs
        );
    }
    assert_eq!(ours.by_kind.len(), KINDS.len(), "{ours:?}");
    assert!(
        ours.accuracy >= ACCURACY_FLOOR,
        "independent accuracy {:.4} below {ACCURACY_FLOOR}: {ours:?}",
        ours.accuracy
    );
    for (kind, r) in &ours.by_kind {
        assert!(
            r.accuracy >= KIND_FLOOR,
            "{kind}: independent accuracy {:.3} below {KIND_FLOOR}",
            r.accuracy
        );
    }
}
