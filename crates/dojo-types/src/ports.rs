//! Port traits: how services reach outside systems without depending on them.
//!
//! A service holds a `dyn RewardModel` (or is generic over one); the ONNX implementation lives in
//! `dojo-reward`, baselines and test doubles elsewhere. Nothing here does I/O.

use std::fmt;

/// One `(prompt, completion)` pair to score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RewardInput<'a> {
    /// The prompt or question.
    pub prompt: &'a str,
    /// The response being judged.
    pub completion: &'a str,
}

impl<'a> RewardInput<'a> {
    /// Pairs a prompt with a completion.
    pub fn new(prompt: &'a str, completion: &'a str) -> Self {
        Self { prompt, completion }
    }
}

/// Why a reward model could not score a batch.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    /// The input itself is unusable (e.g. empty batch where not allowed, invalid text).
    #[error("invalid reward input: {0}")]
    InvalidInput(String),
    /// The model produced a NaN or infinite score; never silently replaced by 0.
    #[error("reward model produced a non-finite score {value} for item {index}")]
    NonFinite {
        /// Index of the item in the batch.
        index: usize,
        /// The value produced.
        value: f32,
    },
    /// The model returned a different number of scores than inputs.
    #[error("reward model returned {got} scores for {expected} inputs")]
    Shape {
        /// Inputs given.
        expected: usize,
        /// Scores returned.
        got: usize,
    },
    /// The backend (runtime, tokenizer, worker pool) failed.
    #[error("reward backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The model is shutting down or overloaded and refused the request.
    #[error("reward model unavailable: {0}")]
    Unavailable(String),
}

/// Scores `(prompt, completion)` pairs; higher is better.
///
/// Implementations are synchronous and may block (ONNX inference is CPU/GPU work); async callers
/// go through a batching front end or `spawn_blocking`.
///
/// ```
/// use dojo_types::ports::{RewardError, RewardInput, RewardModel};
///
/// #[derive(Debug)]
/// struct Chars;
/// impl RewardModel for Chars {
///     fn name(&self) -> &str { "chars" }
///     fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
///         Ok(batch.iter().map(|i| i.completion.chars().count() as f32).collect())
///     }
/// }
/// let p = Chars.prefer("q", "long answer", "short").unwrap();
/// assert!(p > 0.99);
/// ```
pub trait RewardModel: Send + Sync + fmt::Debug {
    /// Stable human-readable name (model directory name, `constant`, `length`, …).
    fn name(&self) -> &str;

    /// Scores every pair in `batch`, returning one finite score per input, in order.
    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError>;

    /// Probability that `a` is preferred over `b` for `prompt` under the Bradley–Terry model:
    /// `sigmoid(score(a) - score(b))`.
    fn prefer(&self, prompt: &str, a: &str, b: &str) -> Result<f64, RewardError> {
        let s = self.score_batch(&[RewardInput::new(prompt, a), RewardInput::new(prompt, b)])?;
        match s.as_slice() {
            [sa, sb] => Ok(bradley_terry(f64::from(*sa), f64::from(*sb))),
            other => Err(RewardError::Shape { expected: 2, got: other.len() }),
        }
    }
}

impl<T: RewardModel + ?Sized> RewardModel for std::sync::Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        (**self).score_batch(batch)
    }
    fn prefer(&self, prompt: &str, a: &str, b: &str) -> Result<f64, RewardError> {
        (**self).prefer(prompt, a, b)
    }
}

impl<T: RewardModel + ?Sized> RewardModel for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        (**self).score_batch(batch)
    }
    fn prefer(&self, prompt: &str, a: &str, b: &str) -> Result<f64, RewardError> {
        (**self).prefer(prompt, a, b)
    }
}

/// `sigmoid(a - b)`, computed without overflow for large margins.
///
/// ```
/// assert_eq!(dojo_types::ports::bradley_terry(1.0, 1.0), 0.5);
/// assert!(dojo_types::ports::bradley_terry(1e6, 0.0) == 1.0);
/// ```
pub fn bradley_terry(a: f64, b: f64) -> f64 {
    let d = a - b;
    if d >= 0.0 { 1.0 / (1.0 + (-d).exp()) } else { d.exp() / (1.0 + d.exp()) }
}
