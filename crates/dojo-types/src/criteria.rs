/// Error from constructing a [`Criterion`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CriterionError {
    /// `min` is not below `max`, or a bound is not finite.
    #[error("criterion bounds must be finite with min < max, got [{min}, {max}]")]
    Bounds {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Text length bounds are inverted.
    #[error("text criterion needs min_len <= max_len, got {min_len} > {max_len}")]
    TextBounds {
        /// Minimum length.
        min_len: u32,
        /// Maximum length.
        max_len: u32,
    },
}

/// What a task asks the miner to produce for its completions.
///
/// These are the criteria every era of the subnet used (see the subnet spec §3): a ranking of the
/// completions, one score per completion, a score per completion per option, or free text.
///
/// ```
/// use dojo_types::Criterion;
/// let c = Criterion::score(1.0, 100.0).unwrap();
/// assert_eq!(c.kind(), "score");
/// assert!(Criterion::score(5.0, 1.0).is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "kebab-case"))]
pub enum Criterion {
    /// Order the completions; rank 0 is the best.
    Ranking,
    /// One score per completion in `[min, max]`.
    Score {
        /// Lower bound, inclusive.
        min: f64,
        /// Upper bound, inclusive.
        max: f64,
    },
    /// One score per completion for each named option, each in `[min, max]`.
    MultiScore {
        /// Names of the options (often the completion ids themselves).
        options: Vec<String>,
        /// Lower bound, inclusive.
        min: f64,
        /// Upper bound, inclusive.
        max: f64,
    },
    /// Free-text feedback of bounded length (in characters).
    Text {
        /// Shortest accepted answer.
        min_len: u32,
        /// Longest accepted answer.
        max_len: u32,
    },
}

fn check_bounds(min: f64, max: f64) -> Result<(), CriterionError> {
    if min.is_finite() && max.is_finite() && min < max { Ok(()) } else { Err(CriterionError::Bounds { min, max }) }
}

impl Criterion {
    /// A score criterion with validated bounds.
    pub fn score(min: f64, max: f64) -> Result<Self, CriterionError> {
        check_bounds(min, max)?;
        Ok(Criterion::Score { min, max })
    }

    /// A multi-score criterion with validated bounds.
    pub fn multi_score(options: Vec<String>, min: f64, max: f64) -> Result<Self, CriterionError> {
        check_bounds(min, max)?;
        Ok(Criterion::MultiScore { options, min, max })
    }

    /// A text criterion with validated length bounds.
    pub fn text(min_len: u32, max_len: u32) -> Result<Self, CriterionError> {
        if min_len > max_len {
            return Err(CriterionError::TextBounds { min_len, max_len });
        }
        Ok(Criterion::Text { min_len, max_len })
    }

    /// Checks bounds of a criterion that was built field by field (e.g. decoded from the wire).
    pub fn validate(&self) -> Result<(), CriterionError> {
        match self {
            Criterion::Ranking => Ok(()),
            Criterion::Score { min, max } | Criterion::MultiScore { min, max, .. } => check_bounds(*min, *max),
            Criterion::Text { min_len, max_len } => {
                if min_len > max_len {
                    Err(CriterionError::TextBounds { min_len: *min_len, max_len: *max_len })
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Stable name of the criterion kind, as used in configs and on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Criterion::Ranking => "ranking",
            Criterion::Score { .. } => "score",
            Criterion::MultiScore { .. } => "multi-score",
            Criterion::Text { .. } => "text",
        }
    }
}
