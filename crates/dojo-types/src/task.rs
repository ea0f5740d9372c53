//! Messages a validator and a miner exchange, in domain form.
//!
//! These mirror what every era of the subnet sent (subnet spec §1) without committing to a wire
//! format: `dojo-proto` converts them to and from protobuf, and services only ever see these.

use std::collections::BTreeMap;

use crate::{CompletionId, Criterion, Score, TaskId};

/// Kind of work a task asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskType {
    /// Judge generated code (the main Dojo v1 task).
    CodeGeneration,
    /// Judge a conversation.
    Dialogue,
    /// Judge generated images.
    TextToImage,
    /// Judge generated 3D scenes.
    TextToThreeD,
    /// Write text feedback on a completion (HFL era).
    TextFeedback,
    /// Score completions that were rewritten from feedback (HFL era).
    ScoreFeedback,
}

/// Speaker of a dialogue turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The human side.
    User,
    /// The model side.
    Assistant,
}

/// One turn of a dialogue completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialogueTurn {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub message: String,
}

/// One file of a code completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeFile {
    /// File name, e.g. `index.html`.
    pub filename: String,
    /// File contents.
    pub content: String,
    /// Language label; empty when unknown.
    pub language: String,
}

/// One file of a media completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFile {
    /// File name.
    pub filename: String,
    /// Raw bytes.
    pub content: Vec<u8>,
    /// MIME type, e.g. `image/png`.
    pub mime_type: String,
}

/// The body of a completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompletionContent {
    /// Plain text.
    Text(String),
    /// A conversation.
    Dialogue(Vec<DialogueTurn>),
    /// Source files plus how to install them.
    Code {
        /// The files.
        files: Vec<CodeFile>,
        /// Shell commands needed before running; empty when none.
        installation_commands: String,
    },
    /// Images, 3D scenes and other binary media.
    Media(Vec<MediaFile>),
}

/// One response to judge, identified by an opaque id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Opaque id (model names are never sent).
    pub id: CompletionId,
    /// The response itself.
    pub content: CompletionContent,
}

/// A task sent by a validator to miners.
///
/// `expire_at_unix_ms` is milliseconds since the Unix epoch (UTC): this crate has no clock, the
/// service that builds a task reads one.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Validator-side id.
    pub id: TaskId,
    /// The task this one follows up, if any.
    pub previous: Option<TaskId>,
    /// The prompt the completions answer.
    pub prompt: String,
    /// Kind of work.
    pub task_type: TaskType,
    /// Responses to judge.
    pub completions: Vec<Completion>,
    /// What the miner must produce.
    pub criteria: Vec<Criterion>,
    /// Deadline, milliseconds since the Unix epoch.
    pub expire_at_unix_ms: i64,
}

/// A miner's acknowledgement of a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskAck {
    /// The miner's own id for the task; `None` when it declined.
    pub miner_task_id: Option<TaskId>,
}

/// One answer for one completion.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// Rank, 0 is best.
    Rank(u32),
    /// A single score.
    Score(Score),
    /// A score per option.
    MultiScore(BTreeMap<String, Score>),
    /// Free text.
    Text(String),
}

/// A human worker's answer for one completion.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionAnswer {
    /// The completion judged.
    pub completion: CompletionId,
    /// The judgement.
    pub answer: Answer,
}

/// All answers of one worker for one task.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerResult {
    /// Worker id as the miner's platform knows it.
    pub worker_id: String,
    /// One entry per judged completion.
    pub answers: Vec<CompletionAnswer>,
}

/// Worker results a miner returns for a task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResults {
    /// Validator-side task id.
    pub task: TaskId,
    /// Results, one per worker.
    pub results: Vec<WorkerResult>,
}

/// The score a validator gave a miner for a task.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreFeedback {
    /// Validator-side task id.
    pub task: TaskId,
    /// The miner's score.
    pub score: Score,
}

/// Reward-modelling era request: score these completions now.
#[derive(Clone, Debug, PartialEq)]
pub struct RankingRequest {
    /// Request id.
    pub request_id: TaskId,
    /// The prompt.
    pub prompt: String,
    /// Responses to score.
    pub completions: Vec<Completion>,
}

/// Reward-modelling era answer.
#[derive(Clone, Debug, PartialEq)]
pub struct RankingResult {
    /// Request id.
    pub request_id: TaskId,
    /// A score per completion.
    pub scores: Vec<(CompletionId, Score)>,
}
