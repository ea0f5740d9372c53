//! `hfl`: the human-feedback-loop mechanism (Dojo v1.12+, spec §4.7). Miners wrote text feedback that
//! produced improved completions; other miners scored those. Text-feedback (TF) credits an author with
//! how much its completion improved on the parent; score-feedback (SF) rewards raters that agree with
//! the other raters (ICC(A,1) against their mean). Final: `0.7·TF + 0.3·SF` for authors.

use std::collections::BTreeMap;

use dojo_types::Hotkey;

use super::mt19937::LegacyRandomState;
use crate::error::ScoringError;
use crate::mechanism::Mechanism;
use crate::stats::icc;
use crate::task::{Layout, Task, TaskScores};
use crate::vector::{MinMaxGuard, minmax};

/// Parameters of [`Hfl`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct HflParams {
    /// Weight of text feedback (0.7); score feedback gets `1 - tf_weight`.
    pub tf_weight: f64,
    /// Add numpy's `seed(42)` Gaussian jitter of σ = 1e-6 before ICC, as the original did (default true).
    pub jitter: bool,
}

impl Default for HflParams {
    fn default() -> Self {
        Self {
            tf_weight: 0.7,
            jitter: true,
        }
    }
}

/// The HFL mechanism.
///
/// ```
/// use dojo_scoring::{Answer, FeedbackTask, Hfl, Mechanism, Response, Task};
/// use dojo_types::{CompletionId, Hotkey, TaskId};
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let h = |s: &str| Hotkey::new(s).unwrap();
/// let ans = |v: [f64; 3]| Answer::Scores(["x", "y", "z"].iter().map(|s| c(s)).zip(v).collect());
/// let mut task = Task::new(TaskId::new("sf1").unwrap(), vec![
///     Response { hotkey: h("r1"), answer: ans([80.0, 40.0, 60.0]) },
///     Response { hotkey: h("r2"), answer: ans([70.0, 30.0, 65.0]) },
/// ]);
/// task.feedback = Some(FeedbackTask {
///     previous_score: 50.0,
///     authors: [(c("x"), h("a1")), (c("y"), h("a2")), (c("z"), h("r1"))].into(),
///     completion_order: vec![c("x"), c("y"), c("z")],
/// });
/// let s = Hfl::default().score_task(&task).unwrap();
/// assert!(s.get("a1") > s.get("a2"));
/// assert_eq!(s.get("r2"), None); // raters without text feedback get no HFL score
/// ```
#[derive(Debug, Clone, Default)]
pub struct Hfl {
    params: HflParams,
}

impl Hfl {
    /// Registry name.
    pub const NAME: &'static str = "hfl";

    /// With explicit parameters (checked).
    pub fn new(params: HflParams) -> Result<Self, ScoringError> {
        if !(0.0..=1.0).contains(&params.tf_weight) {
            return Err(ScoringError::InvalidParam {
                name: "tf_weight",
                reason: "must be in [0, 1]".into(),
            });
        }
        Ok(Self { params })
    }

    /// Score-feedback: ICC(A,1) of each valid rater against the mean of the other valid raters.
    /// A rater is invalid if it repeats a value within its own list; invalid raters and all raters of
    /// a task with fewer than 2 valid ones get 0.
    pub fn score_feedback(&self, raters: &[(&Hotkey, Vec<f64>)]) -> BTreeMap<Hotkey, f64> {
        let mut out: BTreeMap<Hotkey, f64> =
            raters.iter().map(|(h, _)| ((*h).clone(), 0.0)).collect();
        let valid: Vec<usize> = (0..raters.len())
            .filter(|&i| {
                let mut v = raters[i].1.clone();
                v.sort_by(f64::total_cmp);
                v.windows(2).all(|w| w[0] != w[1])
            })
            .collect();
        if valid.len() < 2 {
            return out;
        }
        let c = raters[valid[0]].1.len();
        // df[c][v]: completions are rows, valid raters columns, jitter drawn row-major like numpy.
        let mut df: Vec<Vec<f64>> = (0..c)
            .map(|j| valid.iter().map(|&i| raters[i].1[j]).collect())
            .collect();
        if self.params.jitter {
            let mut rng = LegacyRandomState::new(42);
            for row in df.iter_mut() {
                for v in row.iter_mut() {
                    *v += rng.normal(0.0, 1e-6);
                }
            }
        }
        let k = valid.len();
        for (col, &i) in valid.iter().enumerate() {
            let pairs: Vec<[f64; 2]> = df
                .iter()
                .map(|row| {
                    let others = (row.iter().sum::<f64>() - row[col]) / (k - 1) as f64;
                    [row[col], others]
                })
                .collect();
            // pingouin's ANOVA refuses fewer than 5 ratings (so fewer than 3 completions), and the
            // original scored 0 wherever pingouin failed or returned NaN.
            let value = if pairs.len() * 2 < 5 {
                0.0
            } else {
                let rows: Vec<&[f64]> = pairs.iter().map(|p| p.as_slice()).collect();
                icc(&rows)
                    .ok()
                    .and_then(|t| t.icc2)
                    .filter(|v| v.is_finite())
                    .unwrap_or(0.0)
            };
            out.insert(raters[i].0.clone(), value);
        }
        out
    }
}

impl Mechanism for Hfl {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn score_task(&self, task: &Task) -> Result<TaskScores, ScoringError> {
        task.check_unique_hotkeys()?;
        let fb = task
            .feedback
            .as_ref()
            .ok_or_else(|| ScoringError::MissingField {
                task: task.id.clone(),
                mechanism: Self::NAME,
                field: "feedback",
            })?;
        if !fb.previous_score.is_finite() {
            return Err(ScoringError::InvalidTask {
                task: task.id.clone(),
                reason: "previous_score is not finite".into(),
            });
        }
        let layout = Layout::new(fb.completion_order.iter().collect());
        let order = layout.order();
        for cid in fb.authors.keys() {
            if !order.contains(&cid) {
                return Err(ScoringError::InvalidTask {
                    task: task.id.clone(),
                    reason: format!("author completion {cid} is not in completion_order"),
                });
            }
        }
        let mut out = TaskScores::default();
        let mut raters: Vec<(&Hotkey, Vec<f64>)> = Vec::new();
        for r in &task.responses {
            match layout.scores(&r.answer, Self::NAME) {
                Ok(v) => raters.push((&r.hotkey, v)),
                Err(e) => out.rejected.push((r.hotkey.clone(), e)),
            }
        }
        // Text feedback: improvement of each author's completion over the parent's selected one.
        let mut tf_raw: BTreeMap<Hotkey, f64> = BTreeMap::new();
        for (j, cid) in order.iter().enumerate() {
            let Some(author) = fb.authors.get(*cid) else {
                continue;
            };
            let avg = if raters.is_empty() {
                0.0
            } else {
                raters.iter().map(|(_, v)| v[j]).sum::<f64>() / raters.len() as f64
            };
            *tf_raw.entry(author.clone()).or_insert(0.0) += avg - fb.previous_score;
        }
        let clamped: Vec<f64> = tf_raw.values().map(|v| v.max(0.0)).collect();
        let tf: Vec<f64> = if clamped.len() == 1 {
            vec![if clamped[0] > 0.0 { 1.0 } else { 0.0 }]
        } else if clamped.iter().all(|v| *v == 0.0) {
            vec![0.0; clamped.len()]
        } else {
            minmax(&clamped, MinMaxGuard::Ones)
        };
        let sf = self.score_feedback(&raters);
        let w = self.params.tf_weight;
        out.scores = tf_raw
            .keys()
            .zip(tf)
            .map(|(h, t)| {
                (
                    h.clone(),
                    w * t + (1.0 - w) * sf.get(h).copied().unwrap_or(0.0),
                )
            })
            .collect();
        Ok(out)
    }
}
