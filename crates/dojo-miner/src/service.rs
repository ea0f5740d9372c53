//! The miner's request handling in domain types: accept a task, answer a result request, record
//! feedback, answer a heartbeat, and the Dojo v2 roles (take a generation or vote assignment,
//! answer with the written completion or the vote). The gRPC adapter ([`crate::grpc`]) converts
//! wire messages and calls these; the decisions themselves ([`check_task`], [`result_status`],
//! [`check_generation_task`], [`tally_votes`]) are plain functions of their inputs and the time.
//!
//! A vote task is stored and judged as a task under the id [`vote_key`] with one ranking
//! criterion, so every provider votes and several workers can vote on it (up to the provider's
//! `max_results`); each result's first-ranked completion is one vote, and the miner's vote is the
//! completion with most of them ([`tally_votes`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use dojo_types::task::{
    Answer, Generated, GenerationResult, GenerationTask, HeartbeatInfo, ResultStatus, RoleOutcome,
    ScoreFeedback, Task, TaskAck, TaskResults, Vote, VoteResult, VoteTask, WorkerResult,
};
use dojo_types::{CompletionId, Criterion, Hotkey, TaskId};
use tokio::sync::mpsc;

use crate::provider::Provider;
use crate::store::{
    Inserted, ResultRefused, Store, StoreError, StoredGeneration, StoredTask, TaskState,
};

/// Limits on what the miner accepts.
#[derive(Debug, Clone)]
pub struct TaskLimits {
    /// Latest accepted deadline, from now (the subnet bounded it at 5 days).
    pub max_expiry_ahead: Duration,
    /// Most completions per task.
    pub max_completions: usize,
    /// Most open tasks at once (the free capacity the heartbeat reports is what is left).
    pub max_open_tasks: u64,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            max_expiry_ahead: Duration::from_secs(5 * 24 * 3600),
            max_completions: 16,
            max_open_tasks: 10_000,
        }
    }
}

/// Why a request was refused (each maps to its own gRPC status).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The task is malformed or its deadline is unusable.
    #[error("invalid task: {0}")]
    InvalidTask(String),
    /// The miner holds as many open tasks as it accepts.
    #[error("miner is at capacity ({0} open tasks)")]
    AtCapacity(u64),
    /// No task with this id from this caller.
    #[error("unknown task {task} for caller {caller}")]
    UnknownTask {
        /// Task id.
        task: TaskId,
        /// Caller hotkey.
        caller: Hotkey,
    },
    /// Storage failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a task before it is stored: an id per completion, no duplicates, criteria present and
/// valid, and a deadline after `now` and at most `limits.max_expiry_ahead` ahead.
pub fn check_task(task: &Task, now_ms: i64, limits: &TaskLimits) -> Result<(), String> {
    if task.completions.is_empty() {
        return Err("task has no completions".to_owned());
    }
    if task.completions.len() > limits.max_completions {
        return Err(format!(
            "task has {} completions, more than the {} accepted",
            task.completions.len(),
            limits.max_completions
        ));
    }
    let mut seen = HashSet::new();
    for c in &task.completions {
        if !seen.insert(c.id.as_str()) {
            return Err(format!("completion id {} appears twice", c.id));
        }
    }
    if task.criteria.is_empty() {
        return Err("task has no criteria".to_owned());
    }
    for c in &task.criteria {
        c.validate().map_err(|e| e.to_string())?;
    }
    check_deadline(task.expire_at_unix_ms, now_ms, limits)
}

/// Checks the deadline of an assignment: after `now`, at most `limits.max_expiry_ahead` ahead.
fn check_deadline(expire_at_ms: i64, now_ms: i64, limits: &TaskLimits) -> Result<(), String> {
    if expire_at_ms <= now_ms {
        return Err(format!(
            "deadline {expire_at_ms} ms is not after now ({now_ms} ms)"
        ));
    }
    let ahead = i64::try_from(limits.max_expiry_ahead.as_millis()).unwrap_or(i64::MAX);
    if expire_at_ms - now_ms > ahead {
        return Err(format!(
            "deadline is more than {} s ahead",
            limits.max_expiry_ahead.as_secs()
        ));
    }
    Ok(())
}

/// Longest generation prompt accepted, in bytes.
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;

/// Checks a generation task before it is stored: a prompt and a usable deadline.
pub fn check_generation_task(
    task: &GenerationTask,
    now_ms: i64,
    limits: &TaskLimits,
) -> Result<(), String> {
    if task.prompt.trim().is_empty() {
        return Err("generation task has no prompt".to_owned());
    }
    if task.prompt.len() > MAX_PROMPT_BYTES {
        return Err(format!(
            "prompt is {} bytes, over the {MAX_PROMPT_BYTES}-byte limit",
            task.prompt.len()
        ));
    }
    check_deadline(task.expire_at_unix_ms, now_ms, limits)
}

/// Prefix of the task id a vote task is stored under.
pub const VOTE_PREFIX: &str = "vote:";

/// The id a vote task with validator id `id` is stored under (`vote:<id>`), so that it never
/// meets a task the same validator sent with `SendTask`.
pub fn vote_key(id: &TaskId) -> Result<TaskId, String> {
    TaskId::new(format!("{VOTE_PREFIX}{id}"))
        .map_err(|e| format!("vote task id {id} is too long to store: {e}"))
}

/// A vote task as the task every provider judges: the same prompt and completions, one ranking
/// criterion (rank 0 is the vote).
pub fn vote_as_task(vote: &VoteTask) -> Result<Task, String> {
    if vote.completions.len() < 2 {
        return Err(format!(
            "a vote needs at least two completions, got {}",
            vote.completions.len()
        ));
    }
    Ok(Task {
        id: vote_key(&vote.id)?,
        previous: None,
        prompt: vote.prompt.clone(),
        task_type: vote.task_type,
        completions: vote.completions.clone(),
        criteria: vec![Criterion::Ranking],
        expire_at_unix_ms: vote.expire_at_unix_ms,
    })
}

/// The miner's vote from its results: each result votes for the completion it ranked first (or,
/// with no ranks, scored highest); the completion with most votes wins, ties going to the one
/// first in the task's order. `None` when no result names a completion of the task.
pub fn tally_votes(task: &Task, results: &[WorkerResult]) -> Option<Vote> {
    let mut tally: BTreeMap<CompletionId, u32> =
        task.completions.iter().map(|c| (c.id.clone(), 0)).collect();
    let mut any = false;
    for r in results {
        let ranked = r
            .answers
            .iter()
            .filter_map(|a| match a.answer {
                Answer::Rank(k) => Some((a, k)),
                _ => None,
            })
            .min_by_key(|(_, k)| *k)
            .map(|(a, _)| a);
        let scored = || {
            r.answers
                .iter()
                .filter_map(|a| match &a.answer {
                    Answer::Score(s) => Some((a, s.get())),
                    _ => None,
                })
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(a, _)| a)
        };
        if let Some(choice) = ranked.or_else(scored)
            && let Some(n) = tally.get_mut(&choice.completion)
        {
            *n += 1;
            any = true;
        }
    }
    if !any {
        return None;
    }
    let best = tally.values().copied().max().unwrap_or(0);
    let chosen = task
        .completions
        .iter()
        .find(|c| tally.get(&c.id) == Some(&best))?
        .id
        .clone();
    Some(Vote { chosen, tally })
}

/// The status of a stored generation task at `now`.
pub fn generation_status(stored: &StoredGeneration, now_ms: i64) -> ResultStatus {
    match stored.state {
        TaskState::Declined => ResultStatus::Declined,
        TaskState::Open if stored.generated.is_some() => ResultStatus::Complete,
        TaskState::Open if now_ms >= stored.task.expire_at_unix_ms => ResultStatus::Expired,
        TaskState::Open => ResultStatus::Pending,
    }
}

/// The status of a stored task with `num_results` results at `now`.
pub fn result_status(
    state: TaskState,
    num_results: u32,
    max_results: u32,
    expire_at_ms: i64,
    now_ms: i64,
) -> ResultStatus {
    match state {
        TaskState::Declined => ResultStatus::Declined,
        TaskState::Open if num_results >= max_results => ResultStatus::Complete,
        TaskState::Open if now_ms >= expire_at_ms && num_results > 0 => ResultStatus::Complete,
        TaskState::Open if now_ms >= expire_at_ms => ResultStatus::Expired,
        TaskState::Open => ResultStatus::Pending,
    }
}

/// What an automatic provider owes for a stored assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Judge a task (vote tasks included).
    Judge,
    /// Write the completion of a generation task.
    Generate,
}

/// A task an automatic provider has to judge, or a generation task it has to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Who sent it.
    pub caller: Hotkey,
    /// Its id in the caller's namespace (for votes, the [`vote_key`]).
    pub task: TaskId,
    /// Which work.
    pub kind: JobKind,
}

/// The miner service: storage, the provider and the queue to the judging loop.
#[derive(Debug, Clone)]
pub struct MinerService {
    store: Store,
    provider: Arc<dyn Provider>,
    limits: TaskLimits,
    version: String,
    jobs: Option<mpsc::Sender<Job>>,
}

fn miner_task_id() -> String {
    format!("mt-{}", uuid::Uuid::new_v4())
}

impl MinerService {
    /// A service over `store` answering with `provider`. `jobs` feeds the judging loop of an
    /// automatic provider (`None` for humans).
    pub fn new(
        store: Store,
        provider: Arc<dyn Provider>,
        limits: TaskLimits,
        version: impl Into<String>,
        jobs: Option<mpsc::Sender<Job>>,
    ) -> Self {
        MinerService {
            store,
            provider,
            limits,
            version: version.into(),
            jobs,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.provider
    }

    /// Refuses new work once the open tasks (of every role) reach `max_open_tasks`.
    async fn ensure_capacity(&self, now_ms: i64) -> Result<(), ServiceError> {
        let open = self.store.count_open(now_ms).await?;
        if open >= self.limits.max_open_tasks {
            return Err(ServiceError::AtCapacity(open));
        }
        Ok(())
    }

    /// Stores a task from `caller` and acknowledges it with the miner's id for it, or declines it
    /// (acknowledgement without an id, status `declined` afterwards) when the provider cannot
    /// answer it. A resent task gets the first answer again.
    pub async fn send_task(
        &self,
        caller: &Hotkey,
        task: Task,
        now_ms: i64,
    ) -> Result<TaskAck, ServiceError> {
        check_task(&task, now_ms, &self.limits).map_err(ServiceError::InvalidTask)?;
        if let Some(stored) = self.store.task(caller, &task.id).await? {
            return Ok(ack_for(
                &stored.miner_task_id,
                stored.state == TaskState::Declined,
            ));
        }
        self.ensure_capacity(now_ms).await?;
        let decline = self.provider.check(&task).err();
        let state = state_after_check(decline.is_some());
        let id = miner_task_id();
        let inserted = self
            .store
            .insert_task(caller, &task, &id, state, decline.as_deref(), now_ms)
            .await?;
        let (id, declined) = match inserted {
            Inserted::New => (id, decline.is_some()),
            Inserted::Existing {
                miner_task_id,
                declined,
            } => return Ok(ack_for(&miner_task_id, declined)),
        };
        if let Some(reason) = &decline {
            tracing::info!(target: "miner::service", caller = %caller, task = %task.id, %reason, "declined task");
        } else {
            tracing::debug!(target: "miner::service", caller = %caller, task = %task.id, miner_task = %id, "accepted task");
            if let Some(jobs) = &self.jobs {
                // The task is already stored: if the queue is full, the judging loop's rescan finds it.
                let _ = jobs.try_send(Job {
                    caller: caller.clone(),
                    task: task.id.clone(),
                    kind: JobKind::Judge,
                });
            }
        }
        Ok(ack_for(&id, declined))
    }

    /// The results `caller` can have for its task `task`, with their status.
    pub async fn fetch_results(
        &self,
        caller: &Hotkey,
        task: &TaskId,
        now_ms: i64,
    ) -> Result<TaskResults, ServiceError> {
        let stored =
            self.store
                .task(caller, task)
                .await?
                .ok_or_else(|| ServiceError::UnknownTask {
                    task: task.clone(),
                    caller: caller.clone(),
                })?;
        let results = if stored.state == TaskState::Declined {
            Vec::new()
        } else {
            self.store.results(caller, task).await?
        };
        let status = self.status_of(&stored, now_ms);
        Ok(TaskResults {
            task: task.clone(),
            results,
            status: Some(status),
        })
    }

    /// Status of a stored task under this service's provider.
    pub fn status_of(&self, stored: &StoredTask, now_ms: i64) -> ResultStatus {
        result_status(
            stored.state,
            stored.num_results,
            self.provider.max_results(),
            stored.task.expire_at_unix_ms,
            now_ms,
        )
    }

    /// Records a validator's score for one of its tasks.
    pub async fn score_feedback(
        &self,
        caller: &Hotkey,
        feedback: ScoreFeedback,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        if self.store.task(caller, &feedback.task).await?.is_none() {
            return Err(ServiceError::UnknownTask {
                task: feedback.task,
                caller: caller.clone(),
            });
        }
        self.store
            .record_feedback(caller, &feedback.task, feedback.score.get(), now_ms)
            .await?;
        tracing::info!(target: "miner::service", caller = %caller, task = %feedback.task, score = feedback.score.get(), "score feedback");
        Ok(())
    }

    /// Liveness, version, scoring method and free capacity.
    pub async fn heartbeat(&self, now_ms: i64) -> Result<HeartbeatInfo, ServiceError> {
        let open = self.store.count_open(now_ms).await?;
        let free = self.limits.max_open_tasks.saturating_sub(open);
        Ok(HeartbeatInfo {
            ack: true,
            version: Some(self.version.clone()),
            scoring_method: Some(self.provider.method()),
            free_capacity: Some(u32::try_from(free).unwrap_or(u32::MAX)),
        })
    }

    /// Stores a result produced for `caller`'s task (by a provider or a worker).
    pub async fn add_result(
        &self,
        caller: &Hotkey,
        task: &TaskId,
        result: &WorkerResult,
        now_ms: i64,
    ) -> Result<Result<(), ResultRefused>, StoreError> {
        self.store
            .add_result(caller, task, result, self.provider.max_results(), now_ms)
            .await
    }
}

impl MinerService {
    /// Stores a generation task from `caller` and acknowledges it with the miner's id, or declines
    /// it when the provider does not write completions. A resent task gets the first answer.
    pub async fn assign_generation(
        &self,
        caller: &Hotkey,
        task: GenerationTask,
        now_ms: i64,
    ) -> Result<TaskAck, ServiceError> {
        check_generation_task(&task, now_ms, &self.limits).map_err(ServiceError::InvalidTask)?;
        if let Some(stored) = self.store.generation(caller, &task.id).await? {
            return Ok(ack_for(
                &stored.miner_task_id,
                stored.state == TaskState::Declined,
            ));
        }
        self.ensure_capacity(now_ms).await?;
        let decline = self.provider.check_generation(&task).err();
        let state = state_after_check(decline.is_some());
        let id = format!("mg-{}", uuid::Uuid::new_v4());
        match self
            .store
            .insert_generation(caller, &task, &id, state, decline.as_deref(), now_ms)
            .await?
        {
            Inserted::New => {}
            Inserted::Existing {
                miner_task_id,
                declined,
            } => return Ok(ack_for(&miner_task_id, declined)),
        }
        if let Some(reason) = &decline {
            tracing::info!(target: "miner::service", caller = %caller, task = %task.id, %reason, "declined generation task");
        } else {
            tracing::debug!(target: "miner::service", caller = %caller, task = %task.id, miner_task = %id, "accepted generation task");
            if let Some(jobs) = &self.jobs {
                let _ = jobs.try_send(Job {
                    caller: caller.clone(),
                    task: task.id.clone(),
                    kind: JobKind::Generate,
                });
            }
        }
        Ok(ack_for(&id, decline.is_some()))
    }

    /// The completion written for `caller`'s generation task, with its status.
    pub async fn fetch_generation(
        &self,
        caller: &Hotkey,
        task: &TaskId,
        now_ms: i64,
    ) -> Result<GenerationResult, ServiceError> {
        let stored = self.store.generation(caller, task).await?.ok_or_else(|| {
            ServiceError::UnknownTask {
                task: task.clone(),
                caller: caller.clone(),
            }
        })?;
        let outcome = match (generation_status(&stored, now_ms), stored.generated) {
            (ResultStatus::Complete, Some(g)) => RoleOutcome::Complete(g),
            (ResultStatus::Declined, _) => RoleOutcome::Declined,
            (ResultStatus::Pending, _) => RoleOutcome::Pending,
            _ => RoleOutcome::Expired,
        };
        Ok(GenerationResult {
            task: task.clone(),
            outcome,
        })
    }

    /// Stores the completion written for a generation task (by the provider or a worker); its
    /// completion id becomes the miner's id for the task.
    pub async fn add_generation(
        &self,
        stored: &StoredGeneration,
        mut generated: Generated,
        now_ms: i64,
    ) -> Result<Result<(), ResultRefused>, StoreError> {
        generated.completion.id =
            CompletionId::new(stored.miner_task_id.clone()).map_err(|e| StoreError::Corrupt {
                what: "miner task id",
                detail: e.to_string(),
            })?;
        self.store
            .set_generation(&stored.caller, &stored.task.id, &generated, now_ms)
            .await
    }

    /// Stores a vote task from `caller` (as the task [`vote_as_task`] makes of it) and
    /// acknowledges it like [`MinerService::send_task`].
    pub async fn assign_vote(
        &self,
        caller: &Hotkey,
        vote: VoteTask,
        now_ms: i64,
    ) -> Result<TaskAck, ServiceError> {
        let task = vote_as_task(&vote).map_err(ServiceError::InvalidTask)?;
        self.send_task(caller, task, now_ms).await
    }

    /// The miner's vote on `caller`'s vote task `task`, with its status.
    pub async fn fetch_vote(
        &self,
        caller: &Hotkey,
        task: &TaskId,
        now_ms: i64,
    ) -> Result<VoteResult, ServiceError> {
        let unknown = || ServiceError::UnknownTask {
            task: task.clone(),
            caller: caller.clone(),
        };
        let key = vote_key(task).map_err(|_| unknown())?;
        let stored = self.store.task(caller, &key).await?.ok_or_else(unknown)?;
        let outcome = match self.status_of(&stored, now_ms) {
            ResultStatus::Declined => RoleOutcome::Declined,
            ResultStatus::Pending => RoleOutcome::Pending,
            ResultStatus::Expired => RoleOutcome::Expired,
            ResultStatus::Complete => {
                let results = self.store.results(caller, &key).await?;
                tally_votes(&stored.task, &results)
                    .map_or(RoleOutcome::Expired, RoleOutcome::Complete)
            }
        };
        Ok(VoteResult {
            task: task.clone(),
            outcome,
        })
    }
}

/// A task the provider declined at admission is stored declined, so a resend gets the same answer.
fn state_after_check(declined: bool) -> TaskState {
    if declined {
        TaskState::Declined
    } else {
        TaskState::Open
    }
}

fn ack_for(id: &str, declined: bool) -> TaskAck {
    TaskAck {
        miner_task_id: if declined { None } else { TaskId::new(id).ok() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_types::task::{Completion, CompletionContent, TaskType};
    use dojo_types::{CompletionId, Criterion};

    fn task(expire: i64) -> Task {
        Task {
            id: TaskId::new("t").unwrap(),
            previous: None,
            prompt: "p".into(),
            task_type: TaskType::CodeGeneration,
            completions: vec![
                Completion {
                    id: CompletionId::new("a").unwrap(),
                    content: CompletionContent::Text("x".into()),
                },
                Completion {
                    id: CompletionId::new("b").unwrap(),
                    content: CompletionContent::Text("y".into()),
                },
            ],
            criteria: vec![Criterion::score(1.0, 100.0).unwrap()],
            expire_at_unix_ms: expire,
        }
    }

    #[test]
    fn deadlines_and_shapes_are_checked() {
        let l = TaskLimits::default();
        assert_eq!(check_task(&task(2_000), 1_000, &l), Ok(()));
        assert!(
            check_task(&task(1_000), 1_000, &l)
                .unwrap_err()
                .contains("not after now")
        );
        let far = 1_000 + 5 * 24 * 3600 * 1000 + 1;
        assert!(
            check_task(&task(far), 1_000, &l)
                .unwrap_err()
                .contains("ahead")
        );
        let mut dup = task(2_000);
        dup.completions[1].id = CompletionId::new("a").unwrap();
        assert!(check_task(&dup, 1_000, &l).unwrap_err().contains("twice"));
        let mut none = task(2_000);
        none.criteria.clear();
        assert!(
            check_task(&none, 1_000, &l)
                .unwrap_err()
                .contains("no criteria")
        );
        let mut empty = task(2_000);
        empty.completions.clear();
        assert!(
            check_task(&empty, 1_000, &l)
                .unwrap_err()
                .contains("no completions")
        );
        let mut bounds = task(2_000);
        bounds.criteria = vec![Criterion::Score { min: 5.0, max: 1.0 }];
        assert!(check_task(&bounds, 1_000, &l).is_err());
    }

    fn ranked(worker: &str, first: &str, second: &str) -> WorkerResult {
        use dojo_types::task::CompletionAnswer;
        WorkerResult {
            worker_id: worker.into(),
            answers: vec![
                CompletionAnswer {
                    completion: CompletionId::new(second).unwrap(),
                    answer: Answer::Rank(1),
                },
                CompletionAnswer {
                    completion: CompletionId::new(first).unwrap(),
                    answer: Answer::Rank(0),
                },
            ],
        }
    }

    #[test]
    fn votes_are_tallied_by_first_rank_with_ties_to_task_order() {
        let t = task(2_000);
        assert_eq!(tally_votes(&t, &[]), None);
        let v = tally_votes(&t, &[ranked("1", "b", "a")]).unwrap();
        assert_eq!(v.chosen.as_str(), "b");
        assert_eq!(v.tally.values().copied().collect::<Vec<_>>(), vec![0, 1]);
        // One each: the tie goes to `a`, first in the task.
        let v = tally_votes(&t, &[ranked("1", "b", "a"), ranked("2", "a", "b")]).unwrap();
        assert_eq!(v.chosen.as_str(), "a");
        let v = tally_votes(
            &t,
            &[
                ranked("1", "b", "a"),
                ranked("2", "a", "b"),
                ranked("3", "b", "a"),
            ],
        )
        .unwrap();
        assert_eq!(v.chosen.as_str(), "b");
        assert_eq!(v.tally[&CompletionId::new("b").unwrap()], 2);
        // Scores without ranks: the highest score is the vote.
        let scored = WorkerResult {
            worker_id: "s".into(),
            answers: vec![
                dojo_types::task::CompletionAnswer {
                    completion: CompletionId::new("a").unwrap(),
                    answer: Answer::Score(dojo_types::Score::new(10.0).unwrap()),
                },
                dojo_types::task::CompletionAnswer {
                    completion: CompletionId::new("b").unwrap(),
                    answer: Answer::Score(dojo_types::Score::new(90.0).unwrap()),
                },
            ],
        };
        assert_eq!(tally_votes(&t, &[scored]).unwrap().chosen.as_str(), "b");
        // A result naming no completion of the task is no vote.
        let stray = ranked("x", "zz", "yy");
        assert_eq!(tally_votes(&t, &[stray]), None);
    }

    #[test]
    fn vote_tasks_become_one_ranking_under_their_own_key() {
        let v = VoteTask {
            id: TaskId::new("t").unwrap(),
            prompt: "p".into(),
            task_type: TaskType::CodeGeneration,
            completions: task(2_000).completions,
            expire_at_unix_ms: 2_000,
        };
        let t = vote_as_task(&v).unwrap();
        assert_eq!(t.id.as_str(), "vote:t");
        assert_eq!(t.criteria, vec![Criterion::Ranking]);
        assert_eq!(check_task(&t, 1_000, &TaskLimits::default()), Ok(()));
        let mut one = v.clone();
        one.completions.truncate(1);
        assert!(vote_as_task(&one).unwrap_err().contains("at least two"));
        let long = VoteTask {
            id: TaskId::new("x".repeat(dojo_types::MAX_ID_LEN)).unwrap(),
            ..v
        };
        assert!(vote_as_task(&long).unwrap_err().contains("too long"));
    }

    #[test]
    fn generation_tasks_need_a_prompt_and_a_deadline() {
        let l = TaskLimits::default();
        let g = |prompt: &str, expire| GenerationTask {
            id: TaskId::new("g").unwrap(),
            prompt: prompt.into(),
            task_type: TaskType::CodeGeneration,
            expire_at_unix_ms: expire,
        };
        assert_eq!(
            check_generation_task(&g("a clock", 2_000), 1_000, &l),
            Ok(())
        );
        assert!(
            check_generation_task(&g(" \n", 2_000), 1_000, &l)
                .unwrap_err()
                .contains("no prompt")
        );
        assert!(
            check_generation_task(&g("a", 500), 1_000, &l)
                .unwrap_err()
                .contains("not after now")
        );
        let big = "p".repeat(MAX_PROMPT_BYTES + 1);
        assert!(
            check_generation_task(&g(&big, 2_000), 1_000, &l)
                .unwrap_err()
                .contains("byte limit")
        );
    }

    #[test]
    fn status_table() {
        use ResultStatus::*;
        let s = |state, n, max, now| result_status(state, n, max, 100, now);
        assert_eq!(s(TaskState::Declined, 0, 1, 0), Declined);
        assert_eq!(s(TaskState::Declined, 0, 1, 200), Declined);
        assert_eq!(s(TaskState::Open, 0, 2, 50), Pending);
        assert_eq!(s(TaskState::Open, 1, 2, 50), Pending);
        assert_eq!(s(TaskState::Open, 2, 2, 50), Complete);
        assert_eq!(s(TaskState::Open, 1, 2, 100), Complete);
        assert_eq!(s(TaskState::Open, 0, 2, 100), Expired);
    }
}
