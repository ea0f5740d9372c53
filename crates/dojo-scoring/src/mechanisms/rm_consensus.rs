//! `rm-consensus`: the reward-modelling era (era A, spec §4.1). Each miner's scores are correlated
//! (Spearman) with the mean score per completion; `0.5(ρ+1)` is normalised across miners, optionally
//! multiplied by the miner's classification accuracy on human-preference pairs.

use std::collections::BTreeMap;

use dojo_types::{CompletionId, Hotkey};

use crate::error::{ResponseError, ScoringError};
use crate::mechanism::Mechanism;
use crate::stats::spearman;
use crate::task::{Answer, Task, TaskScores};
use crate::vector::softmax;

/// How `0.5(ρ+1)` values become task scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum ConsensusNormalisation {
    /// Divide by the sum (original). If every value is 0 the scores are all 0.
    #[default]
    Sum,
    /// Softmax (the later `_spearman_scoring` variant).
    Softmax,
}

/// Parameters of [`RmConsensus`].
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct RmConsensusParams {
    /// Normalisation across miners.
    pub normalise: ConsensusNormalisation,
    /// Per-hotkey multiplier of ρ before the `0.5(ρ+1)` map (era A gave MTurk miners 1.2).
    pub rho_multiplier: BTreeMap<Hotkey, f64>,
    /// Classification accuracy per hotkey. When set, each score is multiplied by it and hotkeys without
    /// an accuracy get 0, as era A's validator did.
    pub accuracy: Option<BTreeMap<Hotkey, f64>>,
}

/// The era-A consensus mechanism.
///
/// ```
/// use std::collections::BTreeMap;
/// use dojo_scoring::{Answer, Mechanism, Response, RmConsensus, Task};
/// use dojo_types::{CompletionId, Hotkey, TaskId};
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let ans = |v: [f64; 3]| Answer::Scores(["a", "b", "c"].iter().map(|s| c(s)).zip(v).collect());
/// let task = Task::new(TaskId::new("t").unwrap(), vec![
///     Response { hotkey: Hotkey::new("h1").unwrap(), answer: ans([0.9, 0.5, 0.1]) },
///     Response { hotkey: Hotkey::new("h2").unwrap(), answer: ans([0.8, 0.6, 0.2]) },
///     Response { hotkey: Hotkey::new("h3").unwrap(), answer: ans([0.1, 0.5, 0.9]) },
/// ]);
/// let s = RmConsensus::default().score_task(&task).unwrap();
/// assert!(s.get("h1") > s.get("h3"));
/// assert!((s.scores.iter().map(|(_, v)| v).sum::<f64>() - 1.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RmConsensus {
    params: RmConsensusParams,
}

impl RmConsensus {
    /// Registry name.
    pub const NAME: &'static str = "rm-consensus";

    /// With explicit parameters (checked).
    pub fn new(params: RmConsensusParams) -> Result<Self, ScoringError> {
        if params.rho_multiplier.values().any(|v| !v.is_finite()) {
            return Err(ScoringError::InvalidParam {
                name: "rho_multiplier",
                reason: "must be finite".into(),
            });
        }
        if let Some(acc) = &params.accuracy {
            if acc.values().any(|v| !v.is_finite() || *v < 0.0) {
                return Err(ScoringError::InvalidParam {
                    name: "accuracy",
                    reason: "must be finite and non-negative".into(),
                });
            }
        }
        Ok(Self { params })
    }
}

impl Mechanism for RmConsensus {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn score_task(&self, task: &Task) -> Result<TaskScores, ScoringError> {
        task.check_unique_hotkeys()?;
        let mut out = TaskScores::default();
        let mut accepted: Vec<(&Hotkey, &crate::CompletionMap<f64>)> = Vec::new();
        for r in &task.responses {
            match &r.answer {
                Answer::Scores(m) => match m.iter().find(|(_, v)| !v.is_finite()) {
                    Some((cid, _)) => out.rejected.push((
                        r.hotkey.clone(),
                        ResponseError::NonFiniteScore {
                            completion: cid.clone(),
                        },
                    )),
                    None => accepted.push((&r.hotkey, m)),
                },
                Answer::Ranks(_) => out.rejected.push((
                    r.hotkey.clone(),
                    ResponseError::WrongAnswerKind {
                        mechanism: Self::NAME,
                        expected: "scores",
                    },
                )),
            }
        }
        if accepted.is_empty() {
            return Ok(out);
        }
        // Mean per completion over the miners that scored it; a miner's missing score counts as 0 in
        // its own row, as the original matrix did. Column order does not change ρ.
        let mut sums: BTreeMap<&CompletionId, (f64, u32)> = BTreeMap::new();
        for (_, m) in &accepted {
            for (cid, v) in m.iter() {
                let e = sums.entry(cid).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
        let cids: Vec<&CompletionId> = sums.keys().copied().collect();
        let mean: Vec<f64> = sums.values().map(|(s, n)| s / f64::from(*n)).collect();
        let mut s = Vec::with_capacity(accepted.len());
        for (h, m) in &accepted {
            let row: Vec<f64> = cids
                .iter()
                .map(|c| m.get(c.as_str()).copied().unwrap_or(0.0))
                .collect();
            // Lengths match and values are finite, so only the NaN case (None) remains: nan_to_num.
            let rho = spearman(&row, &mean).ok().flatten().unwrap_or(0.0);
            let rho = rho * self.params.rho_multiplier.get(*h).copied().unwrap_or(1.0);
            s.push(0.5 * (rho + 1.0));
        }
        let scores = match self.params.normalise {
            ConsensusNormalisation::Sum => {
                let sum: f64 = s.iter().sum();
                if sum == 0.0 {
                    vec![0.0; s.len()]
                } else {
                    s.iter().map(|v| v / sum).collect()
                }
            }
            ConsensusNormalisation::Softmax => softmax(&s),
        };
        out.scores = accepted
            .iter()
            .zip(scores)
            .map(|((h, _), v)| {
                let acc = match &self.params.accuracy {
                    Some(a) => a.get(*h).copied().unwrap_or(0.0),
                    None => 1.0,
                };
                ((*h).clone(), v * acc)
            })
            .collect();
        Ok(out)
    }
}
