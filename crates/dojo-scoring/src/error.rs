use dojo_types::{CompletionId, Hotkey, TaskId};

/// Errors of the statistics primitives.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// Two inputs that must be paired have different lengths.
    #[error("inputs have different lengths ({left} vs {right})")]
    LengthMismatch {
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// An input contained NaN or an infinity.
    #[error("input contains a non-finite value at index {index}")]
    NonFinite {
        /// Position of the first offending value.
        index: usize,
    },
    /// A rating matrix is ragged or too small.
    #[error(
        "rating matrix must have at least {min_rows} subjects and {min_cols} raters with equal row lengths"
    )]
    Shape {
        /// Minimum number of subjects.
        min_rows: usize,
        /// Minimum number of raters.
        min_cols: usize,
    },
}

/// Why one miner's response was left out of a task's scoring. The rest of the task is still scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponseError {
    /// A score was NaN or infinite.
    #[error("score for completion {completion} is not finite")]
    NonFiniteScore {
        /// The completion.
        completion: CompletionId,
    },
    /// The response names a completion the task does not have.
    #[error("unknown completion id {0}")]
    UnknownCompletion(CompletionId),
    /// The response does not cover every completion of the task.
    #[error("no answer for completion {0}")]
    MissingCompletion(CompletionId),
    /// Ranks are not exactly `0..C`.
    #[error("ranks are not a permutation of 0..{completions}")]
    BadRanks {
        /// Number of completions in the task.
        completions: usize,
    },
    /// The mechanism needs the other kind of answer (scores vs ranks).
    #[error("mechanism {mechanism} needs {expected}")]
    WrongAnswerKind {
        /// Mechanism name.
        mechanism: &'static str,
        /// What it needs.
        expected: &'static str,
    },
    /// A columnar row does not hold one score per completion.
    #[error("row has {got} scores for {expected} completions")]
    WrongCompletionCount {
        /// Completions of the task.
        expected: usize,
        /// Scores in the row.
        got: usize,
    },
    /// A columnar row holds a NaN or infinite score.
    #[error("score at position {position} (ground-truth order) is not finite")]
    NonFiniteScoreAt {
        /// Column of the score, best completion first.
        position: usize,
    },
}

/// Errors that prevent a task or a round from being scored at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoringError {
    /// The same hotkey answered a task twice.
    #[error("task {task}: hotkey {hotkey} appears more than once")]
    DuplicateHotkey {
        /// The task.
        task: TaskId,
        /// The repeated hotkey.
        hotkey: Hotkey,
    },
    /// The mechanism needs data the task does not carry.
    #[error("task {task}: {mechanism} needs {field}")]
    MissingField {
        /// The task.
        task: TaskId,
        /// Mechanism name.
        mechanism: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// The task is malformed in a way that no response can fix.
    #[error("task {task}: {reason}")]
    InvalidTask {
        /// The task.
        task: TaskId,
        /// What is wrong.
        reason: String,
    },
    /// The task degenerates under the chosen semantics; the original produced NaN here, which made
    /// validators skip the whole weight update.
    #[error("task {task}: degenerate under legacy NaN semantics ({reason})")]
    Degenerate {
        /// The task.
        task: TaskId,
        /// Why.
        reason: &'static str,
    },
    /// A mechanism parameter is out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No mechanism is registered under this name.
    #[error("unknown mechanism {0:?}; known: {known}", known = crate::registry::NAMES.join(", "))]
    UnknownMechanism(String),
}

/// Errors of weight processing and the moving average.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    /// A weight or score was NaN or infinite; the update is refused as a whole.
    #[error("value at index {index} is not finite")]
    NonFinite {
        /// Position of the first offending value.
        index: usize,
    },
    /// A weight was negative.
    #[error("weight at index {index} is negative")]
    Negative {
        /// Position of the first offending value.
        index: usize,
    },
    /// Uids and weights have different lengths.
    #[error("{uids} uids but {weights} weights")]
    LengthMismatch {
        /// Number of uids.
        uids: usize,
        /// Number of weights.
        weights: usize,
    },
    /// A uid is outside the metagraph.
    #[error("uid {uid} is out of range for {n} neurons")]
    UidOutOfRange {
        /// The uid.
        uid: u16,
        /// Metagraph size.
        n: usize,
    },
    /// A parameter is out of range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Nothing to emit (all weights zero) and no burn target.
    #[error("all weights are zero and burn is disabled")]
    NothingToEmit,
}
