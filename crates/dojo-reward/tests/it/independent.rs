//! The shipped model on its two independent sets of hand-written pairs whose faults (wrong facts,
//! rudeness, needless refusals, …) are not among the training generator's degradations:
//! `independent-pairs.jsonl` (22 pairs a kind, which steered the work) and `fresh-pairs.jsonl` (20 a
//! kind, by a second author, scored only once the model was chosen). The floors are the model
//! card's measured accuracy less 0.05 overall and a per-kind floor below the weakest kind, so a
//! broken export, tokenizer, head or side feature fails them while runtime noise does not.

use std::collections::BTreeMap;
use std::path::PathBuf;

use dojo_reward::eval::evaluate;
use dojo_reward::pairs::read_jsonl;
use dojo_reward::refusal::declines;
use dojo_types::ports::RewardInput;
use dojo_types::ports::baselines::Length;

use crate::model;

/// One committed evaluation set and what the shipped model must reach on it.
struct Set {
    file: &'static str,
    per_kind: usize,
    /// The model card's measured overall accuracy less 0.05, rounded down to two decimals.
    accuracy_floor: f64,
    /// Below the card's weakest kind on this set.
    kind_floor: f64,
}

const INDEPENDENT: Set = Set {
    file: "independent-pairs.jsonl",
    per_kind: 22,
    // Measured 0.848.
    accuracy_floor: 0.79,
    // The bar of 0.6 less one pair of 22 (the weakest kind, wrong facts, is at 0.682).
    kind_floor: 0.59,
};

const FRESH: Set = Set {
    file: "fresh-pairs.jsonl",
    per_kind: 20,
    // Measured 0.700.
    accuracy_floor: 0.65,
    // One pair below the weakest kind, subtly unhelpful answers, at 0.350.
    kind_floor: 0.30,
};
/// The set's kinds, 22 pairs each.
const KINDS: [&str; 6] = [
    "off_topic_fluent",
    "refusal_unneeded",
    "rude",
    "subtly_unhelpful",
    "wrong_arithmetic",
    "wrong_fact",
];

fn path(set: &Set) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/dojo-minilm-rm")
        .join(set.file)
}

#[test]
fn independent_pairs_parse_with_known_kinds() {
    check_parses(&INDEPENDENT);
}

#[test]
fn fresh_pairs_parse_with_known_kinds() {
    check_parses(&FRESH);
}

#[test]
fn shipped_model_clears_its_independent_floor() {
    check_floor(&INDEPENDENT);
}

#[test]
fn shipped_model_clears_its_fresh_floor() {
    check_floor(&FRESH);
}

fn check_parses(set: &Set) {
    let pairs = read_jsonl(&path(set)).expect("committed evaluation pairs");
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
            set.per_kind,
            "{}: pairs of kind {k}",
            set.file
        );
    }
}

fn check_floor(set: &Set) {
    let Some(m) = model() else { return };
    let pairs = read_jsonl(&path(set)).expect("committed evaluation pairs");
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
        "{}: model {:.4} (margin {:.2}, {} ties), length {:.4} ({} ties)",
        set.file, ours.accuracy, ours.mean_margin, ours.ties, length.accuracy, length.ties
    );
    let refusals: Vec<_> = pairs
        .iter()
        .filter(|p| p.kind.as_deref() == Some("refusal_unneeded"))
        .collect();
    eprintln!(
        "  the refusal rule reads {} of {} rejected refusals and {} chosen answers as declining",
        refusals.iter().filter(|p| declines(&p.rejected)).count(),
        refusals.len(),
        pairs.iter().filter(|p| declines(&p.chosen)).count(),
    );
    for (kind, r) in &ours.by_kind {
        eprintln!(
            "  {kind:<20} model {:.3}, length {:.3} ({} pairs)",
            r.accuracy, length.by_kind[kind].accuracy, r.pairs
        );
    }
    assert_eq!(ours.by_kind.len(), KINDS.len(), "{ours:?}");
    assert!(
        ours.accuracy >= set.accuracy_floor,
        "{}: accuracy {:.4} below {}: {ours:?}",
        set.file,
        ours.accuracy,
        set.accuracy_floor
    );
    for (kind, r) in &ours.by_kind {
        assert!(
            r.accuracy >= set.kind_floor,
            "{}, {kind}: accuracy {:.3} below {}",
            set.file,
            r.accuracy,
            set.kind_floor
        );
    }
}
