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

/// Baseline reward models from the Mirror Neuron experiments: what a real model must beat.
pub mod baselines {
    use super::{RewardError, RewardInput, RewardModel};

    /// Gives every completion the same score. Preference probability is always 0.5.
    ///
    /// ```
    /// use dojo_types::ports::{RewardInput, RewardModel, baselines::Constant};
    /// let m = Constant::new(0.25);
    /// assert_eq!(m.score_batch(&[RewardInput::new("q", "a")]).unwrap(), [0.25]);
    /// ```
    #[derive(Debug, Clone)]
    pub struct Constant {
        value: f32,
    }

    impl Constant {
        /// A model that always returns `value` (must be finite; non-finite becomes 0).
        pub fn new(value: f32) -> Self {
            Self { value: if value.is_finite() { value } else { 0.0 } }
        }
    }

    impl RewardModel for Constant {
        fn name(&self) -> &str {
            "constant"
        }
        fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
            Ok(vec![self.value; batch.len()])
        }
    }

    /// Scores by completion length in characters: the length-bias baseline.
    ///
    /// ```
    /// use dojo_types::ports::{RewardInput, RewardModel, baselines::Length};
    /// let s = Length.score_batch(&[RewardInput::new("q", "abc"), RewardInput::new("q", "é")]).unwrap();
    /// assert_eq!(s, [3.0, 1.0]);
    /// ```
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Length;

    impl RewardModel for Length {
        fn name(&self) -> &str {
            "length"
        }
        fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
            Ok(batch.iter().map(|i| i.completion.chars().count() as f32).collect())
        }
    }

    /// Uniform scores in `[0, 1)` that depend only on the seed and the input text, so a run is
    /// reproducible and the same pair always gets the same score regardless of batching.
    ///
    /// ```
    /// use dojo_types::ports::{RewardInput, RewardModel, baselines::Random};
    /// let m = Random::new(7);
    /// let a = m.score_batch(&[RewardInput::new("q", "a")]).unwrap();
    /// let b = m.score_batch(&[RewardInput::new("x", "y"), RewardInput::new("q", "a")]).unwrap();
    /// assert_eq!(a[0], b[1]);
    /// assert!((0.0..1.0).contains(&a[0]));
    /// ```
    #[derive(Debug, Clone, Copy)]
    pub struct Random {
        seed: u64,
    }

    impl Random {
        /// A seeded random baseline.
        pub fn new(seed: u64) -> Self {
            Self { seed }
        }

        fn draw(&self, input: &RewardInput<'_>) -> f32 {
            // FNV-1a over (seed, prompt, 0xff, completion), then a splitmix64 finaliser for avalanche.
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.seed;
            let mut feed = |b: u8| {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            };
            input.prompt.bytes().for_each(&mut feed);
            feed(0xff);
            input.completion.bytes().for_each(&mut feed);
            let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // 24 high bits give an exactly representable f32 in [0, 1).
            (z >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    impl RewardModel for Random {
        fn name(&self) -> &str {
            "random"
        }
        fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
            Ok(batch.iter().map(|i| self.draw(i)).collect())
        }
    }
}
