//! Side features: what a head reads besides the encoder's embedding of the (prompt, response) pair.
//!
//! The pair embedding is good at how an answer is written (truncation, repetition, stuffing,
//! refusals, tone) and poor at two things a frozen encoder cannot do from one pooled vector:
//! telling whether the answer is about the prompt's subject at all when both are fluent, and
//! checking sums. `relevance` encodes prompt and response separately and compares them, the way the
//! sentence encoder was trained to be used; the arithmetic pair counts checked claims
//! ([`crate::arithmetic`]).

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
}

impl SideFeature {
    /// The shipped model's side features, in order.
    pub const SHIPPED: [Self; 3] = [
        Self::Relevance,
        Self::ArithmeticWrong,
        Self::ArithmeticRight,
    ];

    /// This feature's value for one input, given its relevance cosine and
    /// [`crate::arithmetic::features`].
    pub fn value(self, relevance: f32, arithmetic: [f32; 2]) -> f32 {
        match self {
            Self::Relevance => relevance,
            Self::ArithmeticWrong => arithmetic[0],
            Self::ArithmeticRight => arithmetic[1],
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
        assert_eq!(s, r#"["relevance","arithmetic_wrong","arithmetic_right"]"#);
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
