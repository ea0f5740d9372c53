//! The miner's request handling in domain types: accept a task, answer a result request, record
//! feedback, answer a heartbeat. The gRPC adapter ([`crate::grpc`]) converts wire messages and calls
//! these; the decisions themselves ([`check_task`], [`result_status`]) are plain functions of their
//! inputs and the time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use dojo_types::task::{
    HeartbeatInfo, ResultStatus, ScoreFeedback, Task, TaskAck, TaskResults, WorkerResult,
};
use dojo_types::{Hotkey, TaskId};
use tokio::sync::mpsc;

use crate::provider::Provider;
use crate::store::{Inserted, ResultRefused, Store, StoreError, StoredTask, TaskState};

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
    if task.expire_at_unix_ms <= now_ms {
        return Err(format!(
            "deadline {} ms is not after now ({now_ms} ms)",
            task.expire_at_unix_ms
        ));
    }
    let ahead = i64::try_from(limits.max_expiry_ahead.as_millis()).unwrap_or(i64::MAX);
    if task.expire_at_unix_ms - now_ms > ahead {
        return Err(format!(
            "deadline is more than {} s ahead",
            limits.max_expiry_ahead.as_secs()
        ));
    }
    Ok(())
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

/// A task an automatic provider has to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Who sent it.
    pub caller: Hotkey,
    /// Its id in the caller's namespace.
    pub task: TaskId,
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
        let open = self.store.count_open(now_ms).await?;
        if open >= self.limits.max_open_tasks {
            return Err(ServiceError::AtCapacity(open));
        }
        let decline = self.provider.check(&task).err();
        let state = if decline.is_some() {
            TaskState::Declined
        } else {
            TaskState::Open
        };
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
