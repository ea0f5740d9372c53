//! Conversions between `dojo.v1` messages and `dojo_types`.
//!
//! Outgoing conversions (`From<domain>`) are infallible. Incoming ones (`TryFrom<wire>`) validate
//! everything a remote peer controls: ids, finite scores, criterion bounds, enum values and required
//! fields.

use std::collections::BTreeMap;

use dojo_types::task::{
    Answer, CodeFile, Completion, CompletionAnswer, CompletionContent, DialogueTurn, Generated,
    GenerationResult, GenerationTask, HeartbeatInfo, MediaFile, RankingRequest, RankingResult,
    ResultStatus, Role, RoleOutcome, ScoreFeedback, ScoringMethod, Task, TaskAck, TaskResults,
    TaskType, Vote, VoteResult, VoteTask, WorkerResult,
};
use dojo_types::{CompletionId, Criterion, CriterionError, IdError, Score, ScoreError, TaskId};

use crate::v1;

/// Why a wire message could not become a domain value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// A required field was absent.
    #[error("required field `{0}` is missing")]
    Missing(&'static str),
    /// An identifier was invalid.
    #[error("field `{field}`: {source}")]
    Id {
        /// Field name.
        field: &'static str,
        /// What was wrong.
        #[source]
        source: IdError,
    },
    /// A score was NaN or infinite.
    #[error("field `{field}`: {source}")]
    Score {
        /// Field name.
        field: &'static str,
        /// What was wrong.
        #[source]
        source: ScoreError,
    },
    /// A criterion had invalid bounds.
    #[error("criterion: {0}")]
    Criterion(#[from] CriterionError),
    /// An enum value this version does not know, or the `UNSPECIFIED` zero value.
    #[error("field `{field}` has unknown or unspecified value {value}")]
    UnknownEnum {
        /// Field name.
        field: &'static str,
        /// Raw value.
        value: i32,
    },
    /// A timestamp outside the representable range.
    #[error("field `{0}` is not a valid timestamp")]
    Timestamp(&'static str),
    /// A field was set although the message's status says it must be empty.
    #[error("field `{0}` is set, but the status says there is no outcome")]
    Unexpected(&'static str),
}

fn task_id(field: &'static str, s: String) -> Result<TaskId, WireError> {
    TaskId::new(s).map_err(|source| WireError::Id { field, source })
}

fn completion_id(field: &'static str, s: String) -> Result<CompletionId, WireError> {
    CompletionId::new(s).map_err(|source| WireError::Id { field, source })
}

fn score(field: &'static str, v: f64) -> Result<Score, WireError> {
    Score::new(v).map_err(|source| WireError::Score { field, source })
}

impl From<TaskType> for v1::TaskType {
    fn from(t: TaskType) -> Self {
        match t {
            TaskType::CodeGeneration => v1::TaskType::CodeGeneration,
            TaskType::Dialogue => v1::TaskType::Dialogue,
            TaskType::TextToImage => v1::TaskType::TextToImage,
            TaskType::TextToThreeD => v1::TaskType::TextToThreeD,
            TaskType::TextFeedback => v1::TaskType::TextFeedback,
            TaskType::ScoreFeedback => v1::TaskType::ScoreFeedback,
        }
    }
}

fn task_type(value: i32) -> Result<TaskType, WireError> {
    let unknown = WireError::UnknownEnum {
        field: "task_type",
        value,
    };
    Ok(
        match v1::TaskType::try_from(value).map_err(|_| unknown.clone())? {
            v1::TaskType::Unspecified => return Err(unknown),
            v1::TaskType::CodeGeneration => TaskType::CodeGeneration,
            v1::TaskType::Dialogue => TaskType::Dialogue,
            v1::TaskType::TextToImage => TaskType::TextToImage,
            v1::TaskType::TextToThreeD => TaskType::TextToThreeD,
            v1::TaskType::TextFeedback => TaskType::TextFeedback,
            v1::TaskType::ScoreFeedback => TaskType::ScoreFeedback,
        },
    )
}

fn role(value: i32) -> Result<Role, WireError> {
    match v1::Role::try_from(value) {
        Ok(v1::Role::User) => Ok(Role::User),
        Ok(v1::Role::Assistant) => Ok(Role::Assistant),
        _ => Err(WireError::UnknownEnum {
            field: "role",
            value,
        }),
    }
}

impl From<Criterion> for v1::Criterion {
    fn from(c: Criterion) -> Self {
        use v1::criterion::Kind;
        let kind = match c {
            Criterion::Ranking => Kind::Ranking(v1::RankingCriterion {}),
            Criterion::Score { min, max } => Kind::Score(v1::ScoreCriterion { min, max }),
            Criterion::MultiScore { options, min, max } => {
                Kind::MultiScore(v1::MultiScoreCriterion { options, min, max })
            }
            Criterion::Text { min_len, max_len } => {
                Kind::Text(v1::TextCriterion { min_len, max_len })
            }
        };
        v1::Criterion { kind: Some(kind) }
    }
}

impl TryFrom<v1::Criterion> for Criterion {
    type Error = WireError;
    fn try_from(c: v1::Criterion) -> Result<Self, WireError> {
        use v1::criterion::Kind;
        let c = match c.kind.ok_or(WireError::Missing("criterion.kind"))? {
            Kind::Ranking(_) => Criterion::Ranking,
            Kind::Score(s) => Criterion::score(s.min, s.max)?,
            Kind::MultiScore(m) => Criterion::multi_score(m.options, m.min, m.max)?,
            Kind::Text(t) => Criterion::text(t.min_len, t.max_len)?,
        };
        Ok(c)
    }
}

impl From<Completion> for v1::Completion {
    fn from(c: Completion) -> Self {
        use v1::completion::Content;
        let content = match c.content {
            CompletionContent::Text(t) => Content::Text(t),
            CompletionContent::Dialogue(turns) => Content::Dialogue(v1::Dialogue {
                turns: turns
                    .into_iter()
                    .map(|t| v1::DialogueTurn {
                        role: match t.role {
                            Role::User => v1::Role::User,
                            Role::Assistant => v1::Role::Assistant,
                        } as i32,
                        message: t.message,
                    })
                    .collect(),
            }),
            CompletionContent::Code {
                files,
                installation_commands,
            } => Content::Code(v1::CodeAnswer {
                files: files
                    .into_iter()
                    .map(|f| v1::CodeFile {
                        filename: f.filename,
                        content: f.content,
                        language: f.language,
                    })
                    .collect(),
                installation_commands,
            }),
            CompletionContent::Media(files) => Content::Media(v1::MediaAnswer {
                files: files
                    .into_iter()
                    .map(|f| v1::MediaFile {
                        filename: f.filename,
                        content: f.content,
                        mime_type: f.mime_type,
                    })
                    .collect(),
            }),
        };
        v1::Completion {
            completion_id: c.id.to_string(),
            content: Some(content),
        }
    }
}

impl TryFrom<v1::Completion> for Completion {
    type Error = WireError;
    fn try_from(c: v1::Completion) -> Result<Self, WireError> {
        use v1::completion::Content;
        let id = completion_id("completion.completion_id", c.completion_id)?;
        let content = match c.content.ok_or(WireError::Missing("completion.content"))? {
            Content::Text(t) => CompletionContent::Text(t),
            Content::Dialogue(d) => CompletionContent::Dialogue(
                d.turns
                    .into_iter()
                    .map(|t| {
                        Ok(DialogueTurn {
                            role: role(t.role)?,
                            message: t.message,
                        })
                    })
                    .collect::<Result<_, WireError>>()?,
            ),
            Content::Code(code) => CompletionContent::Code {
                files: code
                    .files
                    .into_iter()
                    .map(|f| CodeFile {
                        filename: f.filename,
                        content: f.content,
                        language: f.language,
                    })
                    .collect(),
                installation_commands: code.installation_commands,
            },
            Content::Media(m) => CompletionContent::Media(
                m.files
                    .into_iter()
                    .map(|f| MediaFile {
                        filename: f.filename,
                        content: f.content,
                        mime_type: f.mime_type,
                    })
                    .collect(),
            ),
        };
        Ok(Completion { id, content })
    }
}

fn timestamp_from_ms(ms: i64) -> prost_types::Timestamp {
    // rem_euclid keeps nanos in 0..1e9 for instants before 1970.
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn timestamp_to_ms(field: &'static str, t: prost_types::Timestamp) -> Result<i64, WireError> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(WireError::Timestamp(field));
    }
    t.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(t.nanos / 1_000_000)))
        .ok_or(WireError::Timestamp(field))
}

impl From<Task> for v1::Task {
    fn from(t: Task) -> Self {
        v1::Task {
            task_id: t.id.to_string(),
            previous_task_id: t.previous.map(|p| p.to_string()).unwrap_or_default(),
            prompt: t.prompt,
            task_type: v1::TaskType::from(t.task_type) as i32,
            completions: t.completions.into_iter().map(Into::into).collect(),
            criteria: t.criteria.into_iter().map(Into::into).collect(),
            expire_at: Some(timestamp_from_ms(t.expire_at_unix_ms)),
        }
    }
}

impl TryFrom<v1::Task> for Task {
    type Error = WireError;
    fn try_from(t: v1::Task) -> Result<Self, WireError> {
        Ok(Task {
            id: task_id("task.task_id", t.task_id)?,
            previous: if t.previous_task_id.is_empty() {
                None
            } else {
                Some(task_id("task.previous_task_id", t.previous_task_id)?)
            },
            prompt: t.prompt,
            task_type: task_type(t.task_type)?,
            completions: t
                .completions
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            criteria: t
                .criteria
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            expire_at_unix_ms: timestamp_to_ms(
                "task.expire_at",
                t.expire_at.ok_or(WireError::Missing("task.expire_at"))?,
            )?,
        })
    }
}

impl TryFrom<v1::SendTaskRequest> for Task {
    type Error = WireError;
    fn try_from(r: v1::SendTaskRequest) -> Result<Self, WireError> {
        r.task
            .ok_or(WireError::Missing("send_task_request.task"))?
            .try_into()
    }
}

impl From<Task> for v1::SendTaskRequest {
    fn from(t: Task) -> Self {
        v1::SendTaskRequest {
            task: Some(t.into()),
        }
    }
}

impl From<TaskAck> for v1::TaskAck {
    fn from(a: TaskAck) -> Self {
        v1::TaskAck {
            miner_task_id: a.miner_task_id.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

impl TryFrom<v1::TaskAck> for TaskAck {
    type Error = WireError;
    fn try_from(a: v1::TaskAck) -> Result<Self, WireError> {
        Ok(TaskAck {
            miner_task_id: if a.miner_task_id.is_empty() {
                None
            } else {
                Some(task_id("task_ack.miner_task_id", a.miner_task_id)?)
            },
        })
    }
}

impl From<CompletionAnswer> for v1::CompletionAnswer {
    fn from(a: CompletionAnswer) -> Self {
        use v1::completion_answer::Answer as W;
        let answer = match a.answer {
            Answer::Rank(r) => W::Rank(r),
            Answer::Score(s) => W::Score(s.get()),
            Answer::MultiScore(m) => W::MultiScore(v1::MultiScore {
                scores: m.into_iter().map(|(k, v)| (k, v.get())).collect(),
            }),
            Answer::Text(t) => W::Text(t),
        };
        v1::CompletionAnswer {
            completion_id: a.completion.to_string(),
            answer: Some(answer),
        }
    }
}

impl TryFrom<v1::CompletionAnswer> for CompletionAnswer {
    type Error = WireError;
    fn try_from(a: v1::CompletionAnswer) -> Result<Self, WireError> {
        use v1::completion_answer::Answer as W;
        let answer = match a
            .answer
            .ok_or(WireError::Missing("completion_answer.answer"))?
        {
            W::Rank(r) => Answer::Rank(r),
            W::Score(s) => Answer::Score(score("completion_answer.score", s)?),
            W::MultiScore(m) => Answer::MultiScore(
                m.scores
                    .into_iter()
                    .map(|(k, v)| Ok((k, score("completion_answer.multi_score", v)?)))
                    .collect::<Result<BTreeMap<_, _>, WireError>>()?,
            ),
            W::Text(t) => Answer::Text(t),
        };
        Ok(CompletionAnswer {
            completion: completion_id("completion_answer.completion_id", a.completion_id)?,
            answer,
        })
    }
}

impl From<ResultStatus> for v1::ResultStatus {
    fn from(s: ResultStatus) -> Self {
        match s {
            ResultStatus::Pending => v1::ResultStatus::Pending,
            ResultStatus::Complete => v1::ResultStatus::Complete,
            ResultStatus::Expired => v1::ResultStatus::Expired,
            ResultStatus::Declined => v1::ResultStatus::Declined,
        }
    }
}

/// `UNSPECIFIED` (a miner that predates the field) is `None`; an unknown value is an error.
fn result_status(value: i32) -> Result<Option<ResultStatus>, WireError> {
    match v1::ResultStatus::try_from(value) {
        Ok(v1::ResultStatus::Unspecified) => Ok(None),
        Ok(v1::ResultStatus::Pending) => Ok(Some(ResultStatus::Pending)),
        Ok(v1::ResultStatus::Complete) => Ok(Some(ResultStatus::Complete)),
        Ok(v1::ResultStatus::Expired) => Ok(Some(ResultStatus::Expired)),
        Ok(v1::ResultStatus::Declined) => Ok(Some(ResultStatus::Declined)),
        Err(_) => Err(WireError::UnknownEnum {
            field: "task_results.status",
            value,
        }),
    }
}

impl From<ScoringMethod> for v1::ScoringMethod {
    fn from(m: ScoringMethod) -> Self {
        match m {
            ScoringMethod::RewardModel => v1::ScoringMethod::RewardModel,
            ScoringMethod::LlmApi => v1::ScoringMethod::LlmApi,
            ScoringMethod::Human => v1::ScoringMethod::Human,
            ScoringMethod::Mturk => v1::ScoringMethod::Mturk,
        }
    }
}

fn scoring_method(value: i32) -> Result<Option<ScoringMethod>, WireError> {
    match v1::ScoringMethod::try_from(value) {
        Ok(v1::ScoringMethod::Unspecified) => Ok(None),
        Ok(v1::ScoringMethod::RewardModel) => Ok(Some(ScoringMethod::RewardModel)),
        Ok(v1::ScoringMethod::LlmApi) => Ok(Some(ScoringMethod::LlmApi)),
        Ok(v1::ScoringMethod::Human) => Ok(Some(ScoringMethod::Human)),
        Ok(v1::ScoringMethod::Mturk) => Ok(Some(ScoringMethod::Mturk)),
        Err(_) => Err(WireError::UnknownEnum {
            field: "heartbeat_ack.scoring_method",
            value,
        }),
    }
}

impl From<HeartbeatInfo> for v1::HeartbeatAck {
    fn from(h: HeartbeatInfo) -> Self {
        v1::HeartbeatAck {
            ack: h.ack,
            version: h.version.unwrap_or_default(),
            scoring_method: h
                .scoring_method
                .map_or(v1::ScoringMethod::Unspecified, Into::into)
                as i32,
            free_capacity: h.free_capacity,
        }
    }
}

impl TryFrom<v1::HeartbeatAck> for HeartbeatInfo {
    type Error = WireError;
    fn try_from(h: v1::HeartbeatAck) -> Result<Self, WireError> {
        Ok(HeartbeatInfo {
            ack: h.ack,
            version: (!h.version.is_empty()).then_some(h.version),
            scoring_method: scoring_method(h.scoring_method)?,
            free_capacity: h.free_capacity,
        })
    }
}

impl From<TaskResults> for v1::TaskResults {
    fn from(r: TaskResults) -> Self {
        v1::TaskResults {
            status: r.status.map_or(v1::ResultStatus::Unspecified, Into::into) as i32,
            task_id: r.task.to_string(),
            results: r
                .results
                .into_iter()
                .map(|w| v1::WorkerResult {
                    worker_id: w.worker_id,
                    answers: w.answers.into_iter().map(Into::into).collect(),
                })
                .collect(),
        }
    }
}

impl TryFrom<v1::TaskResults> for TaskResults {
    type Error = WireError;
    fn try_from(r: v1::TaskResults) -> Result<Self, WireError> {
        Ok(TaskResults {
            status: result_status(r.status)?,
            task: task_id("task_results.task_id", r.task_id)?,
            results: r
                .results
                .into_iter()
                .map(|w| {
                    Ok(WorkerResult {
                        worker_id: w.worker_id,
                        answers: w
                            .answers
                            .into_iter()
                            .map(TryInto::try_into)
                            .collect::<Result<_, WireError>>()?,
                    })
                })
                .collect::<Result<_, WireError>>()?,
        })
    }
}

impl From<ScoreFeedback> for v1::ScoreFeedback {
    fn from(f: ScoreFeedback) -> Self {
        v1::ScoreFeedback {
            task_id: f.task.to_string(),
            score: f.score.get(),
        }
    }
}

impl TryFrom<v1::ScoreFeedback> for ScoreFeedback {
    type Error = WireError;
    fn try_from(f: v1::ScoreFeedback) -> Result<Self, WireError> {
        Ok(ScoreFeedback {
            task: task_id("score_feedback.task_id", f.task_id)?,
            score: score("score_feedback.score", f.score)?,
        })
    }
}

impl From<RankingRequest> for v1::RankingRequest {
    fn from(r: RankingRequest) -> Self {
        v1::RankingRequest {
            request_id: r.request_id.to_string(),
            prompt: r.prompt,
            completions: r.completions.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<v1::RankingRequest> for RankingRequest {
    type Error = WireError;
    fn try_from(r: v1::RankingRequest) -> Result<Self, WireError> {
        Ok(RankingRequest {
            request_id: task_id("ranking_request.request_id", r.request_id)?,
            prompt: r.prompt,
            completions: r
                .completions
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<RankingResult> for v1::RankingResult {
    fn from(r: RankingResult) -> Self {
        v1::RankingResult {
            request_id: r.request_id.to_string(),
            scores: r
                .scores
                .into_iter()
                .map(|(c, s)| v1::CompletionScore {
                    completion_id: c.to_string(),
                    score: s.get(),
                })
                .collect(),
        }
    }
}

impl TryFrom<v1::RankingResult> for RankingResult {
    type Error = WireError;
    fn try_from(r: v1::RankingResult) -> Result<Self, WireError> {
        Ok(RankingResult {
            request_id: task_id("ranking_result.request_id", r.request_id)?,
            scores: r
                .scores
                .into_iter()
                .map(|s| {
                    Ok((
                        completion_id("ranking_result.completion_id", s.completion_id)?,
                        score("ranking_result.score", s.score)?,
                    ))
                })
                .collect::<Result<_, WireError>>()?,
        })
    }
}

fn outcome_status(field: &'static str, value: i32) -> Result<ResultStatus, WireError> {
    result_status(value)?.ok_or(WireError::UnknownEnum { field, value })
}

/// The outcome of a role result: `done` holds the outcome's fields when they were sent, and must
/// be `Some` exactly for `COMPLETE`.
fn outcome<T>(
    status: ResultStatus,
    field: &'static str,
    done: Option<Result<T, WireError>>,
) -> Result<RoleOutcome<T>, WireError> {
    match (status, done) {
        (ResultStatus::Complete, Some(v)) => Ok(RoleOutcome::Complete(v?)),
        (ResultStatus::Complete, None) => Err(WireError::Missing(field)),
        (_, Some(_)) => Err(WireError::Unexpected(field)),
        (ResultStatus::Pending, None) => Ok(RoleOutcome::Pending),
        (ResultStatus::Expired, None) => Ok(RoleOutcome::Expired),
        (ResultStatus::Declined, None) => Ok(RoleOutcome::Declined),
    }
}

impl From<GenerationTask> for v1::GenerationTask {
    fn from(t: GenerationTask) -> Self {
        v1::GenerationTask {
            task_id: t.id.to_string(),
            prompt: t.prompt,
            task_type: v1::TaskType::from(t.task_type) as i32,
            expire_at: Some(timestamp_from_ms(t.expire_at_unix_ms)),
        }
    }
}

impl TryFrom<v1::GenerationTask> for GenerationTask {
    type Error = WireError;
    fn try_from(t: v1::GenerationTask) -> Result<Self, WireError> {
        Ok(GenerationTask {
            id: task_id("generation_task.task_id", t.task_id)?,
            prompt: t.prompt,
            task_type: task_type(t.task_type)?,
            expire_at_unix_ms: timestamp_to_ms(
                "generation_task.expire_at",
                t.expire_at
                    .ok_or(WireError::Missing("generation_task.expire_at"))?,
            )?,
        })
    }
}

impl From<VoteTask> for v1::VoteTask {
    fn from(t: VoteTask) -> Self {
        v1::VoteTask {
            task_id: t.id.to_string(),
            prompt: t.prompt,
            task_type: v1::TaskType::from(t.task_type) as i32,
            completions: t.completions.into_iter().map(Into::into).collect(),
            expire_at: Some(timestamp_from_ms(t.expire_at_unix_ms)),
        }
    }
}

impl TryFrom<v1::VoteTask> for VoteTask {
    type Error = WireError;
    fn try_from(t: v1::VoteTask) -> Result<Self, WireError> {
        Ok(VoteTask {
            id: task_id("vote_task.task_id", t.task_id)?,
            prompt: t.prompt,
            task_type: task_type(t.task_type)?,
            completions: t
                .completions
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            expire_at_unix_ms: timestamp_to_ms(
                "vote_task.expire_at",
                t.expire_at
                    .ok_or(WireError::Missing("vote_task.expire_at"))?,
            )?,
        })
    }
}

impl From<GenerationResult> for v1::GenerationResult {
    fn from(r: GenerationResult) -> Self {
        let status = v1::ResultStatus::from(r.outcome.status()) as i32;
        let (completion, author) = match r.outcome {
            RoleOutcome::Complete(g) => (Some(g.completion.into()), g.author),
            _ => (None, String::new()),
        };
        v1::GenerationResult {
            task_id: r.task.to_string(),
            status,
            completion,
            author,
        }
    }
}

impl TryFrom<v1::GenerationResult> for GenerationResult {
    type Error = WireError;
    fn try_from(r: v1::GenerationResult) -> Result<Self, WireError> {
        let status = outcome_status("generation_result.status", r.status)?;
        let author = r.author;
        let done = r.completion.map(|c| {
            Ok(Generated {
                completion: c.try_into()?,
                author,
            })
        });
        Ok(GenerationResult {
            task: task_id("generation_result.task_id", r.task_id)?,
            outcome: outcome(status, "generation_result.completion", done)?,
        })
    }
}

impl From<VoteResult> for v1::VoteResult {
    fn from(r: VoteResult) -> Self {
        let status = v1::ResultStatus::from(r.outcome.status()) as i32;
        let (chosen, tally) = match r.outcome {
            RoleOutcome::Complete(v) => (
                v.chosen.to_string(),
                v.tally
                    .into_iter()
                    .map(|(c, n)| (c.to_string(), n))
                    .collect(),
            ),
            _ => Default::default(),
        };
        v1::VoteResult {
            task_id: r.task.to_string(),
            status,
            chosen_completion_id: chosen,
            tally,
        }
    }
}

impl TryFrom<v1::VoteResult> for VoteResult {
    type Error = WireError;
    fn try_from(r: v1::VoteResult) -> Result<Self, WireError> {
        let status = outcome_status("vote_result.status", r.status)?;
        let tally = r.tally;
        let done = (!r.chosen_completion_id.is_empty() || !tally.is_empty()).then(|| {
            Ok(Vote {
                chosen: completion_id("vote_result.chosen_completion_id", r.chosen_completion_id)?,
                tally: tally
                    .into_iter()
                    .map(|(c, n)| Ok((completion_id("vote_result.tally", c)?, n)))
                    .collect::<Result<_, WireError>>()?,
            })
        });
        Ok(VoteResult {
            task: task_id("vote_result.task_id", r.task_id)?,
            outcome: outcome(status, "vote_result.chosen_completion_id", done)?,
        })
    }
}

#[cfg(test)]
mod tests;
