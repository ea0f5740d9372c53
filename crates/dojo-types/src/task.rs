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

/// Where a task stands on the miner, so that an empty result list is never ambiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultStatus {
    /// Accepted and before its deadline, with fewer results than the miner collects per task.
    Pending,
    /// Final: the per-task maximum was reached, or the deadline passed with at least one result.
    Complete,
    /// The deadline passed with no result.
    Expired,
    /// The miner refused the task when it arrived.
    Declined,
}

impl ResultStatus {
    /// Stable lowercase name (`pending`, `complete`, `expired`, `declined`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Pending => "pending",
            ResultStatus::Complete => "complete",
            ResultStatus::Expired => "expired",
            ResultStatus::Declined => "declined",
        }
    }
}

/// Worker results a miner returns for a task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskResults {
    /// Validator-side task id.
    pub task: TaskId,
    /// Results, one per worker.
    pub results: Vec<WorkerResult>,
    /// What `results` means; `None` when the miner predates status reporting.
    pub status: Option<ResultStatus>,
}

/// Who produces a miner's answers (era A's `--scoring_method`, kept for every era).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScoringMethod {
    /// An ONNX reward model scores each completion.
    RewardModel,
    /// An LLM judges the completions (OpenAI-compatible API).
    LlmApi,
    /// Human workers on the miner's own worker page.
    Human,
    /// Human workers on Amazon Mechanical Turk.
    Mturk,
}

impl ScoringMethod {
    /// Every method, in flag order.
    pub const ALL: [ScoringMethod; 4] = [
        ScoringMethod::RewardModel,
        ScoringMethod::LlmApi,
        ScoringMethod::Human,
        ScoringMethod::Mturk,
    ];

    /// The flag spelling (`reward_model`, `llm_api`, `human`, `mturk`).
    pub fn as_str(self) -> &'static str {
        match self {
            ScoringMethod::RewardModel => "reward_model",
            ScoringMethod::LlmApi => "llm_api",
            ScoringMethod::Human => "human",
            ScoringMethod::Mturk => "mturk",
        }
    }
}

impl std::fmt::Display for ScoringMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ScoringMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ScoringMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown scoring method `{s}` (reward_model | llm_api | human | mturk)")
            })
    }
}

/// A miner's answer to a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatInfo {
    /// The miner is alive and accepting work.
    pub ack: bool,
    /// Software version; `None` from miners that do not report it.
    pub version: Option<String>,
    /// How answers are produced; `None` from miners that do not report it.
    pub scoring_method: Option<ScoringMethod>,
    /// How many more tasks the miner accepts now; `None` when not reported.
    pub free_capacity: Option<u32>,
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

/// A Dojo v2 generator assignment (spec §2.5, §6.4): write the completion for a prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationTask {
    /// Validator-side id.
    pub id: TaskId,
    /// What to build.
    pub prompt: String,
    /// Kind of completion asked for (`CodeGeneration`: one self-contained page).
    pub task_type: TaskType,
    /// Deadline, milliseconds since the Unix epoch.
    pub expire_at_unix_ms: i64,
}

/// A Dojo v2 discriminator assignment (spec §2.5, §4.10): vote for the better completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteTask {
    /// Validator-side id.
    pub id: TaskId,
    /// The prompt the completions answer.
    pub prompt: String,
    /// Kind of work the completions are.
    pub task_type: TaskType,
    /// The candidates (two in Dojo v2), with the validator's opaque ids.
    pub completions: Vec<Completion>,
    /// Deadline, milliseconds since the Unix epoch.
    pub expire_at_unix_ms: i64,
}

/// Where a role assignment stands on the miner, carrying the outcome once there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoleOutcome<T> {
    /// Accepted, before its deadline, not done yet.
    Pending,
    /// Done.
    Complete(T),
    /// The deadline passed without an outcome.
    Expired,
    /// Refused on arrival.
    Declined,
}

impl<T> RoleOutcome<T> {
    /// The matching [`ResultStatus`].
    pub fn status(&self) -> ResultStatus {
        match self {
            RoleOutcome::Pending => ResultStatus::Pending,
            RoleOutcome::Complete(_) => ResultStatus::Complete,
            RoleOutcome::Expired => ResultStatus::Expired,
            RoleOutcome::Declined => ResultStatus::Declined,
        }
    }
}

/// A completion a generator wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The completion; its id is the miner's.
    pub completion: Completion,
    /// Who wrote it on the miner's side (worker id or provider name).
    pub author: String,
}

/// What a generator returns for a generation task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationResult {
    /// Validator-side task id.
    pub task: TaskId,
    /// Status and, when complete, the completion.
    pub outcome: RoleOutcome<Generated>,
}

/// A discriminator's vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// The completion voted for.
    pub chosen: CompletionId,
    /// How the miner's own voters split, per completion (evidence only).
    pub tally: BTreeMap<CompletionId, u32>,
}

/// What a discriminator returns for a vote task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteResult {
    /// Validator-side task id.
    pub task: TaskId,
    /// Status and, when complete, the vote.
    pub outcome: RoleOutcome<Vote>,
}
