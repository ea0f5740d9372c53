use std::fmt;

/// Error from constructing a [`Score`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("score must be finite, got {0}")]
pub struct ScoreError(pub f64);

/// A finite score.
///
/// Miners send scores for completions and validators produce scores for miners; both must be
/// finite numbers. NaN and infinities are refused at construction instead of leaking into sums.
///
/// ```
/// use dojo_types::Score;
/// assert_eq!(Score::new(0.5).unwrap().get(), 0.5);
/// assert!(Score::new(f64::NAN).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Score(f64);

impl Score {
    /// Zero.
    pub const ZERO: Score = Score(0.0);

    /// Wraps a finite value.
    pub fn new(v: f64) -> Result<Self, ScoreError> {
        if v.is_finite() { Ok(Score(v)) } else { Err(ScoreError(v)) }
    }

    /// The inner value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<f64> for Score {
    type Error = ScoreError;
    fn try_from(v: f64) -> Result<Self, ScoreError> {
        Score::new(v)
    }
}

impl From<Score> for f64 {
    fn from(s: Score) -> f64 {
        s.0
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Score {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Score::new(v).map_err(serde::de::Error::custom)
    }
}
