//! `dojo-v0-consensus`: Dojo before v1 (era B, spec §4.2). Miners rank the completions; each ranking is
//! compared with the consensus order (completions sorted by average rank) by Spearman's ρ, unweighted
//! Cohen's κ and a squared-distance penalty, each L2-normalised across miners, summed and softmaxed.
//! With ground truth, `gt_i = softmax(-‖R_i − gt‖₂)` is blended in.

use dojo_types::{CompletionId, Hotkey};

use crate::error::ScoringError;
use crate::mechanism::Mechanism;
use crate::stats::{KappaWeights, cohen_kappa, spearman};
use crate::task::{Layout, Task, TaskScores};
use crate::vector::{NORMALIZE_EPS, l2_normalize, softmax};

/// Parameters of [`DojoV0`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct DojoV0Params {
    /// Weight of the ground-truth score when the task has ground truth: 0.65 (Aug 2024, default) or
    /// 0.4 (Sep 2024). The consensus gets `1 - ground_truth_weight`. Tasks without ground truth are
    /// scored by consensus alone.
    pub ground_truth_weight: f64,
    /// Weight of the distance term in the consensus sum (1.5).
    pub distance_weight: f64,
}

impl Default for DojoV0Params {
    fn default() -> Self {
        Self {
            ground_truth_weight: 0.65,
            distance_weight: 1.5,
        }
    }
}

/// The era-B ranking consensus.
///
/// ```
/// use dojo_scoring::{Answer, DojoV0, Mechanism, Response, Task};
/// use dojo_types::{CompletionId, Hotkey, TaskId};
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let ranks = |v: [u32; 3]| Answer::Ranks(["a", "b", "c"].iter().map(|s| c(s)).zip(v).collect());
/// let task = Task::new(TaskId::new("t").unwrap(), vec![
///     Response { hotkey: Hotkey::new("h1").unwrap(), answer: ranks([0, 1, 2]) },
///     Response { hotkey: Hotkey::new("h2").unwrap(), answer: ranks([0, 1, 2]) },
///     Response { hotkey: Hotkey::new("h3").unwrap(), answer: ranks([2, 1, 0]) },
/// ]);
/// let s = DojoV0::default().score_task(&task).unwrap();
/// assert!(s.get("h1") > s.get("h3"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct DojoV0 {
    params: DojoV0Params,
}

impl DojoV0 {
    /// Registry name.
    pub const NAME: &'static str = "dojo-v0-consensus";

    /// With explicit parameters (checked).
    pub fn new(params: DojoV0Params) -> Result<Self, ScoringError> {
        if !(0.0..=1.0).contains(&params.ground_truth_weight) {
            return Err(ScoringError::InvalidParam {
                name: "ground_truth_weight",
                reason: "must be in [0, 1]".into(),
            });
        }
        if !params.distance_weight.is_finite() {
            return Err(ScoringError::InvalidParam {
                name: "distance_weight",
                reason: "must be finite".into(),
            });
        }
        Ok(Self { params })
    }
}

impl Mechanism for DojoV0 {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn score_task(&self, task: &Task) -> Result<TaskScores, ScoringError> {
        task.check_unique_hotkeys()?;
        let mut out = TaskScores::default();
        // Completion set: the ground truth's, else the first ranking answer's; ids sorted.
        let cids: Vec<CompletionId> = match (&task.ground_truth, task.responses.first()) {
            (Some(gt), _) => gt.iter().map(|(c, _)| c.clone()).collect(),
            (None, Some(r)) => match &r.answer {
                crate::Answer::Ranks(m) => m.keys().cloned().collect(),
                crate::Answer::Scores(m) => m.keys().cloned().collect(),
            },
            (None, None) => return Ok(out),
        };
        let layout = Layout::new(cids.iter().collect());
        let order = layout.order();
        let c = order.len();
        let mut accepted: Vec<(&Hotkey, Vec<f64>)> = Vec::new();
        for r in &task.responses {
            match layout.ranks(&r.answer, Self::NAME) {
                // Era B rank ids start at 1.
                Ok(ranks) => accepted.push((
                    &r.hotkey,
                    ranks.into_iter().map(|v| f64::from(v) + 1.0).collect(),
                )),
                Err(e) => out.rejected.push((r.hotkey.clone(), e)),
            }
        }
        if accepted.is_empty() || c == 0 {
            return Ok(out);
        }
        // Consensus order: completions by mean rank ascending, ties kept in id order (stable sort).
        let n = accepted.len() as f64;
        let avg: Vec<f64> = (0..c)
            .map(|j| accepted.iter().map(|(_, r)| r[j]).sum::<f64>() / n)
            .collect();
        let mut perm: Vec<usize> = (0..c).collect();
        perm.sort_by(|&a, &b| avg[a].total_cmp(&avg[b]));
        let a: Vec<f64> = (1..=c).map(|v| v as f64).collect();
        let (mut sp, mut ck, mut dp) = (Vec::new(), Vec::new(), Vec::new());
        for (_, ranks) in &accepted {
            let r: Vec<f64> = perm.iter().map(|&j| ranks[j]).collect();
            sp.push(spearman(&r, &a).ok().flatten().unwrap_or(0.0));
            ck.push(
                cohen_kappa(&r, &a, KappaWeights::Unweighted)
                    .ok()
                    .flatten()
                    .unwrap_or(0.0),
            );
            dp.push(-a.iter().zip(&r).map(|(x, y)| (x - y).powi(2)).sum::<f64>());
        }
        let (sp, ck, dp) = (
            l2_normalize(&sp, NORMALIZE_EPS),
            l2_normalize(&ck, NORMALIZE_EPS),
            l2_normalize(&dp, NORMALIZE_EPS),
        );
        let combined: Vec<f64> = (0..sp.len())
            .map(|i| sp[i] + ck[i] + self.params.distance_weight * dp[i])
            .collect();
        let consensus = softmax(&combined);
        let scores = match &task.ground_truth {
            Some(gt) => {
                let gt_ranks: Vec<f64> = order
                    .iter()
                    .map(|cid| f64::from(gt.rank(cid.as_str()).unwrap_or(0)) + 1.0)
                    .collect();
                let neg_dist: Vec<f64> = accepted
                    .iter()
                    .map(|(_, r)| {
                        -r.iter()
                            .zip(&gt_ranks)
                            .map(|(x, y)| (x - y).powi(2))
                            .sum::<f64>()
                            .sqrt()
                    })
                    .collect();
                let gt_score = softmax(&neg_dist);
                let w = self.params.ground_truth_weight;
                gt_score
                    .iter()
                    .zip(&consensus)
                    .map(|(g, k)| w * g + (1.0 - w) * k)
                    .collect()
            }
            None => consensus,
        };
        out.scores = accepted
            .iter()
            .map(|(h, _)| (*h).clone())
            .zip(scores)
            .collect();
        Ok(out)
    }
}
