//! Preference accuracy of any [`RewardModel`]: the era-A classification-accuracy check.
//!
//! Era A scored `chosen` and `rejected` separately and counted a pair correct when
//! `argmax([score_chosen, score_rejected]) == 0`; argmax returns the first maximum, so a tie counts
//! as correct. The same rule is used here.

use std::collections::BTreeMap;

use dojo_types::ports::{RewardError, RewardInput, RewardModel};
use serde::Serialize;

use crate::pairs::PreferencePair;

/// Accuracy and margins over a set of pairs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// Fraction of pairs with `score(chosen) >= score(rejected)` (ties count as correct, as in era A).
    pub accuracy: f64,
    /// Number of pairs.
    pub pairs: usize,
    /// Mean of `score(chosen) - score(rejected)`.
    pub mean_margin: f64,
    /// Pairs whose scores were exactly equal.
    pub ties: usize,
    /// Accuracy per pair kind (`kind` field), for generated pairs.
    pub by_kind: BTreeMap<String, KindReport>,
}

/// Accuracy of one pair kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindReport {
    /// Pairs of this kind.
    pub pairs: usize,
    /// Fraction correct.
    pub accuracy: f64,
}

/// Scores every pair with `model` in batches of `batch_pairs` pairs and reports accuracy.
///
/// An empty set is an error: an accuracy of nothing would silently become 0 or NaN downstream.
pub fn evaluate(
    model: &dyn RewardModel,
    pairs: &[PreferencePair],
    batch_pairs: usize,
) -> Result<EvalReport, RewardError> {
    Ok(report(pairs, &margins(model, pairs, batch_pairs)?))
}

/// Each pair's margin `score(chosen) - score(rejected)`, in pair order, scored in batches of
/// `batch_pairs` pairs. Errors as [`evaluate`].
pub fn margins(
    model: &dyn RewardModel,
    pairs: &[PreferencePair],
    batch_pairs: usize,
) -> Result<Vec<f64>, RewardError> {
    if pairs.is_empty() {
        return Err(RewardError::InvalidInput(
            "no preference pairs to evaluate".into(),
        ));
    }
    let mut margins = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(batch_pairs.max(1)) {
        let inputs: Vec<RewardInput<'_>> = chunk
            .iter()
            .flat_map(|p| {
                [
                    RewardInput::new(&p.prompt, &p.chosen),
                    RewardInput::new(&p.prompt, &p.rejected),
                ]
            })
            .collect();
        let s = model.score_batch(&inputs)?;
        if s.len() != inputs.len() {
            return Err(RewardError::Shape {
                expected: inputs.len(),
                got: s.len(),
            });
        }
        for (i, c) in s.chunks(2).enumerate() {
            for (j, v) in c.iter().enumerate() {
                if !v.is_finite() {
                    return Err(RewardError::NonFinite {
                        index: 2 * i + j,
                        value: *v,
                    });
                }
            }
            margins.push(f64::from(c[0]) - f64::from(c[1]));
        }
    }
    Ok(margins)
}

/// The report for `pairs` given each pair's margin `score(chosen) - score(rejected)`.
pub fn report(pairs: &[PreferencePair], margins: &[f64]) -> EvalReport {
    let n = margins.len();
    let correct = margins.iter().filter(|m| **m >= 0.0).count();
    let ties = margins.iter().filter(|m| **m == 0.0).count();
    let mut kinds: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (p, m) in pairs.iter().zip(margins) {
        if let Some(k) = &p.kind {
            let e = kinds.entry(k.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(*m >= 0.0);
        }
    }
    EvalReport {
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        pairs: n,
        mean_margin: if n == 0 {
            0.0
        } else {
            margins.iter().sum::<f64>() / n as f64
        },
        ties,
        by_kind: kinds
            .into_iter()
            .map(|(k, (t, c))| {
                (
                    k,
                    KindReport {
                        pairs: t,
                        accuracy: c as f64 / t as f64,
                    },
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use dojo_types::ports::baselines::{Constant, Length};

    use super::*;

    fn pair(chosen: &str, rejected: &str) -> PreferencePair {
        PreferencePair {
            prompt: "q".into(),
            chosen: chosen.into(),
            rejected: rejected.into(),
            kind: Some("k".into()),
        }
    }

    #[test]
    fn ties_count_as_correct_like_era_a() {
        let ps = vec![pair("aa", "b"), pair("c", "dd")];
        let r = evaluate(&Constant::new(1.0), &ps, 1).unwrap();
        assert_eq!(
            (r.accuracy, r.ties, r.pairs, r.mean_margin),
            (1.0, 2, 2, 0.0)
        );
    }

    #[test]
    fn length_baseline_accuracy_and_margin() {
        let ps = vec![pair("aaa", "b"), pair("c", "ddddd"), pair("xx", "yy")];
        let r = evaluate(&Length, &ps, 2).unwrap();
        assert!((r.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.mean_margin - (2.0 - 4.0 + 0.0) / 3.0).abs() < 1e-12);
        assert_eq!(r.by_kind["k"].pairs, 3);
    }

    #[test]
    fn empty_is_an_error() {
        assert!(evaluate(&Length, &[], 8).is_err());
    }
}
