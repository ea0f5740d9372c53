//! `dojo-v1-ground-truth`: the Dojo v1 mechanism (spec §4.3). Miners are scored only against the
//! synthetic ground truth: cosine similarity of their min-max-scaled scores with the reversed
//! min-max-scaled rank vector, L1-normalised across miners, passed through a cubic, min-max-scaled
//! across miners and normalised to sum to 1.

use dojo_types::{CompletionId, Hotkey};

use crate::columnar::ScoreMatrix;
use crate::error::ResponseError;

use crate::error::ScoringError;
use crate::mechanism::Mechanism;
use crate::task::{Layout, Task, TaskScores};
use crate::vector::{COSINE_EPS, MinMaxGuard, NORMALIZE_EPS, cosine_similarity, minmax_in_place};

/// Parameters of [`GroundTruth`]; the defaults are the production values.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct GroundTruthParams {
    /// Guard of both min-max steps: `ones` (2025 code, default) or `nan` (v1.x; degenerate tasks error).
    pub minmax: MinMaxGuard,
    /// Build the ground-truth vector in float32 as torch did (true, default) or in float64.
    pub float32_ground_truth: bool,
    /// Cubic `scaling * (x - translation)^3 + offset`: scaling (0.006).
    pub cubic_scaling: f64,
    /// Cubic translation (7).
    pub cubic_translation: f64,
    /// Cubic offset (2).
    pub cubic_offset: f64,
}

impl Default for GroundTruthParams {
    fn default() -> Self {
        Self {
            minmax: MinMaxGuard::Ones,
            float32_ground_truth: true,
            cubic_scaling: 0.006,
            cubic_translation: 7.0,
            cubic_offset: 2.0,
        }
    }
}

/// The v1 ground-truth mechanism.
///
/// ```
/// use std::collections::BTreeMap;
/// use dojo_scoring::{Answer, GroundTruth, Mechanism, Response, Task};
/// use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};
///
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let gt = Ranking::new([(c("a"), 0), (c("b"), 1), (c("c"), 2), (c("d"), 3)]).unwrap();
/// let answer = |v: [f64; 4]| Answer::Scores(["a", "b", "c", "d"].iter().map(|s| c(s)).zip(v).collect());
/// let mut task = Task::new(TaskId::new("t1").unwrap(), vec![
///     Response { hotkey: Hotkey::new("good").unwrap(), answer: answer([100.0, 75.0, 50.0, 25.0]) },
///     Response { hotkey: Hotkey::new("bad").unwrap(), answer: answer([25.0, 50.0, 75.0, 100.0]) },
/// ]);
/// task.ground_truth = Some(gt);
/// let s = GroundTruth::default().score_task(&task).unwrap();
/// assert_eq!(s.get("good"), Some(1.0));
/// assert_eq!(s.get("bad"), Some(0.0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct GroundTruth {
    params: GroundTruthParams,
}

impl GroundTruth {
    /// Registry name.
    pub const NAME: &'static str = "dojo-v1-ground-truth";

    /// With explicit parameters (checked).
    pub fn new(params: GroundTruthParams) -> Result<Self, ScoringError> {
        let finite = [
            params.cubic_scaling,
            params.cubic_translation,
            params.cubic_offset,
        ];
        if finite.iter().any(|v| !v.is_finite()) {
            return Err(ScoringError::InvalidParam {
                name: "cubic",
                reason: "cubic parameters must be finite".into(),
            });
        }
        Ok(Self { params })
    }

    /// The ground-truth vector for `c` completions ordered best first: `reverse(minmax([0..c)))`.
    pub fn ground_truth_vector(&self, c: usize) -> Vec<f64> {
        let denom = c.saturating_sub(1);
        (0..c)
            .map(|i| {
                let k = denom - i; // reversed
                if denom == 0 {
                    match self.params.minmax {
                        MinMaxGuard::Ones => 1.0,
                        MinMaxGuard::Nan => f64::NAN,
                    }
                } else if self.params.float32_ground_truth {
                    f64::from(k as f32 / denom as f32)
                } else {
                    k as f64 / denom as f64
                }
            })
            .collect()
    }

    /// The dense kernel: `rows` holds `n` miners × `c` scores, columns ordered best to worst by ground
    /// truth. Returns the per-miner task score, or `Degenerate` under NaN semantics.
    pub fn score_dense(
        &self,
        task: &dojo_types::TaskId,
        rows: &mut [f64],
        c: usize,
    ) -> Result<Vec<f64>, ScoringError> {
        let n = rows.len().checked_div(c).unwrap_or(0);
        let g = self.ground_truth_vector(c);
        let mut x: Vec<f64> = Vec::with_capacity(n);
        for row in rows.chunks_exact_mut(c) {
            minmax_in_place(row, self.params.minmax);
            let cos = cosine_similarity(row, &g, COSINE_EPS);
            let cos = if cos.is_nan() { -1.0 } else { cos };
            x.push((cos + 1.0) / 2.0);
        }
        let l1 = x.iter().map(|v| v.abs()).sum::<f64>().max(NORMALIZE_EPS);
        let p = &self.params;
        for v in x.iter_mut() {
            let xi = *v / l1;
            let cubic = p.cubic_scaling * (xi - p.cubic_translation).powi(3) + p.cubic_offset;
            *v = if cubic.is_nan() { 0.0 } else { cubic };
        }
        minmax_in_place(&mut x, p.minmax);
        if x.iter().any(|v| v.is_nan()) {
            return Err(ScoringError::Degenerate {
                task: task.clone(),
                reason: "all miners scored alike",
            });
        }
        let sum: f64 = x.iter().sum();
        if sum > 0.0 {
            x.iter_mut().for_each(|v| *v /= sum);
        }
        Ok(x)
    }
}

impl Mechanism for GroundTruth {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn score_task(&self, task: &Task) -> Result<TaskScores, ScoringError> {
        task.check_unique_hotkeys()?;
        let mut out = TaskScores::default();
        // Rows are numbered by response; the columnar kernel does the rest.
        let m = self.lay_out(task, |i, _| i, &mut out.rejected)?;
        if m.miners().is_empty() {
            return Ok(out);
        }
        let scores = self.score_rows(&m, &mut Vec::new())?;
        out.scores = m
            .miners()
            .iter()
            .map(|&i| task.responses[i as usize].hotkey.clone())
            .zip(scores)
            .collect();
        Ok(out)
    }
}

impl GroundTruth {
    /// Lays a map-based task out as a [`ScoreMatrix`] (columns best first by ground truth), naming
    /// each accepted row `miner(response index, hotkey)` and listing rejected responses.
    pub(crate) fn lay_out(
        &self,
        task: &Task,
        mut miner: impl FnMut(u32, &Hotkey) -> u32,
        rejected: &mut Vec<(Hotkey, ResponseError)>,
    ) -> Result<ScoreMatrix, ScoringError> {
        let gt = task
            .ground_truth
            .as_ref()
            .ok_or_else(|| ScoringError::MissingField {
                task: task.id.clone(),
                mechanism: Self::NAME,
                field: "ground_truth",
            })?;
        if gt.len() < 2 {
            return Err(ScoringError::InvalidTask {
                task: task.id.clone(),
                reason: "ground truth must rank at least 2 completions".into(),
            });
        }
        let layout = Layout::new(gt.best_first().collect::<Vec<&CompletionId>>());
        let mut m = ScoreMatrix::new(task.id.clone(), layout.len());
        for (i, r) in task.responses.iter().enumerate() {
            let rows = m.miners().len();
            let row = m.push_checked(miner(i as u32, &r.hotkey));
            if let Err(e) = layout.scores_into(&r.answer, Self::NAME, row) {
                m.truncate_rows(rows);
                rejected.push((r.hotkey.clone(), e));
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_cosines_of_spec() {
        // Spec §4.3: a flat miner scores cos ≈ 0.80 against G for C = 4, a reversed one 0.286.
        let g = GroundTruth::default().ground_truth_vector(4);
        assert_eq!(
            g,
            [1.0, f64::from(2.0f32 / 3.0), f64::from(1.0f32 / 3.0), 0.0]
        );
        let flat = cosine_similarity(&[1.0; 4], &g, COSINE_EPS);
        let reversed = cosine_similarity(&[0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0], &g, COSINE_EPS);
        assert!((flat - 0.8018).abs() < 1e-4, "{flat}");
        assert!((reversed - 0.2857).abs() < 1e-4, "{reversed}");
    }

    #[test]
    fn cubic_of_a_single_miner() {
        // x = 1 after L1 over one miner: 0.006 * (1 - 7)^3 + 2 = 0.704, then min-max → 1.
        let mut rows = vec![4.0, 3.0, 2.0, 1.0];
        let s = GroundTruth::default()
            .score_dense(&dojo_types::TaskId::new("t").unwrap(), &mut rows, 4)
            .unwrap();
        assert_eq!(s, [1.0]);
    }
}
