//! The validator's moving average of miner scores (spec §4.5).

use dojo_types::Uid;

use crate::error::WeightError;

/// What happens to miners that were not scored in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum AbsentMiners {
    /// Dojo v1.x: every uid not scored in this update is reset to 0 (a de-facto non-response penalty),
    /// results are clamped at 0, and an update containing NaN is skipped as a whole.
    Reset,
    /// HFL era and era A: absent miners decay by `(1 - α)`; a NaN reward counts as 0.
    Decay,
}

/// Exponential moving average `α·reward + (1 − α)·previous` with one of the two historical semantics.
///
/// ```
/// use dojo_scoring::{AbsentMiners, MovingAverage};
/// use dojo_types::Uid;
/// let ema = MovingAverage::new(0.3, AbsentMiners::Reset).unwrap();
/// let mut scores = vec![0.5, 0.5, 0.5];
/// ema.update(&mut scores, &[(Uid(0), 1.0)]).unwrap();
/// assert_eq!(scores, [0.3 * 1.0 + 0.7 * 0.5, 0.0, 0.0]);
///
/// let ema = MovingAverage::new(0.3, AbsentMiners::Decay).unwrap();
/// let mut scores = vec![0.5, 0.5];
/// ema.update(&mut scores, &[(Uid(0), 1.0)]).unwrap();
/// assert_eq!(scores, [0.3 * 1.0 + 0.7 * 0.5, 0.7 * 0.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MovingAverage {
    alpha: f64,
    absent: AbsentMiners,
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmaUpdate {
    /// Scores were updated.
    Applied,
    /// No rewards were given; scores are unchanged (the original returned early).
    Empty,
}

impl MovingAverage {
    /// Dojo v1 default α.
    pub const DOJO_V1_ALPHA: f64 = 0.3;

    /// A moving average with `alpha` in `[0, 1]`.
    pub fn new(alpha: f64, absent: AbsentMiners) -> Result<Self, WeightError> {
        if !(0.0..=1.0).contains(&alpha) {
            return Err(WeightError::InvalidParam {
                name: "alpha",
                reason: format!("{alpha} is not in [0, 1]"),
            });
        }
        Ok(Self { alpha, absent })
    }

    /// Folds `rewards` (uid, reward) into `scores` (indexed by uid). On error `scores` is unchanged.
    /// Infinite rewards are refused in both modes; NaN is refused by `Reset` and counts as 0 in `Decay`.
    pub fn update(
        &self,
        scores: &mut [f64],
        rewards: &[(Uid, f64)],
    ) -> Result<EmaUpdate, WeightError> {
        if rewards.is_empty() {
            return Ok(EmaUpdate::Empty);
        }
        for (i, (uid, v)) in rewards.iter().enumerate() {
            if usize::from(uid.0) >= scores.len() {
                return Err(WeightError::UidOutOfRange {
                    uid: uid.0,
                    n: scores.len(),
                });
            }
            // Reset refuses NaN outright (the original skipped the update); both refuse infinities,
            // which would otherwise stick in the average forever.
            if v.is_infinite() || (self.absent == AbsentMiners::Reset && v.is_nan()) {
                return Err(WeightError::NonFinite { index: i });
            }
        }
        let a = self.alpha;
        match self.absent {
            AbsentMiners::Reset => {
                let mut next = vec![0.0; scores.len()];
                for (uid, v) in rewards {
                    let i = usize::from(uid.0);
                    next[i] = (a * v + (1.0 - a) * scores[i]).max(0.0);
                }
                scores.copy_from_slice(&next);
            }
            AbsentMiners::Decay => {
                let mut reward = vec![0.0; scores.len()];
                for (uid, v) in rewards {
                    reward[usize::from(uid.0)] = if v.is_nan() { 0.0 } else { *v };
                }
                for (s, r) in scores.iter_mut().zip(reward) {
                    let next = a * r + (1.0 - a) * *s;
                    *s = if next.is_nan() { 0.0 } else { next };
                }
            }
        }
        Ok(EmaUpdate::Applied)
    }
}
