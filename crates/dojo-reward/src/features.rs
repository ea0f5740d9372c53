//! Side features: what a head reads besides the encoder's embedding of the (prompt, response) pair.
//!
//! The pair embedding is good at how an answer is written (truncation, repetition, stuffing,
//! refusals, tone) and poor at two things a frozen encoder cannot do from one pooled vector:
//! telling whether the answer is about the prompt's subject at all when both are fluent, and
//! checking sums, and it knows no facts. `relevance` encodes prompt and response separately and
//! compares them, the way the sentence encoder was trained to be used; the arithmetic pair counts
//! checked claims ([`crate::arithmetic`]); `knowledge` looks the prompt up in a dictionary
//! ([`crate::knowledge`]); `refusal` is a rule for declining in the first person
//! ([`crate::refusal`]).

use serde::{Deserialize, Serialize};

/// One side feature, by its name in `head.json`'s `side` list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SideFeature {
    /// Cosine of the prompt's and the response's sentence embeddings, each encoded alone.
    Relevance,
    /// Arithmetic claims in the response that are wrong (capped at 3).
    ArithmeticWrong,
    /// Arithmetic claims in the response that hold (capped at 3).
    ArithmeticRight,
    /// How much of what the response adds to the prompt the dictionary entries best matching the
    /// prompt also say ([`crate::knowledge::KnowledgeBase::support`]).
    Knowledge,
    /// 1 when the response's opening declines in the first person ([`crate::refusal`]), else 0.
    Refusal,
}

/// The side-feature values of one input, before a head picks the ones it reads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SideValues {
    /// [`SideFeature::Relevance`].
    pub relevance: f32,
    /// [`crate::arithmetic::features`]: wrong, right.
    pub arithmetic: [f32; 2],
    /// [`SideFeature::Knowledge`].
    pub knowledge: f32,
    /// [`SideFeature::Refusal`].
    pub refusal: f32,
}

impl SideValues {
    /// Fills in the values that are string checks of the text alone (arithmetic, refusal); the
    /// others need the graph or the dictionary.
    pub fn add_checks(&mut self, prompt: &str, completion: &str) {
        self.arithmetic = crate::arithmetic::features(prompt, completion);
        self.refusal = f32::from(u8::from(crate::refusal::declines(completion)));
    }
}

impl SideFeature {
    /// The shipped model's side features, in order.
    pub const SHIPPED: [Self; 5] = [
        Self::Relevance,
        Self::ArithmeticWrong,
        Self::ArithmeticRight,
        Self::Knowledge,
        Self::Refusal,
    ];

    /// This feature's value among one input's `values`.
    pub fn value(self, values: &SideValues) -> f32 {
        match self {
            Self::Relevance => values.relevance,
            Self::ArithmeticWrong => values.arithmetic[0],
            Self::ArithmeticRight => values.arithmetic[1],
            Self::Knowledge => values.knowledge,
            Self::Refusal => values.refusal,
        }
    }
}

/// Cosine similarity; 0 when either vector is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_round_trip() {
        let s = serde_json::to_string(&SideFeature::SHIPPED).unwrap();
        assert_eq!(
            s,
            r#"["relevance","arithmetic_wrong","arithmetic_right","knowledge","refusal"]"#
        );
        let back: Vec<SideFeature> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, SideFeature::SHIPPED);
        assert!(serde_json::from_str::<SideFeature>("\"length\"").is_err());
    }

    proptest! {
        #[test]
        fn cosine_is_bounded(a in proptest::collection::vec(-1e3f32..1e3, 1..16)) {
            let b: Vec<f32> = a.iter().map(|x| x * 2.0).collect();
            let c = cosine(&a, &b);
            prop_assert!(c.is_finite() && (-1.0 - 1e-4..=1.0 + 1e-4).contains(&c));
            if a.iter().any(|x| *x != 0.0) {
                prop_assert!((c - 1.0).abs() < 1e-3);
            }
        }
    }
}
