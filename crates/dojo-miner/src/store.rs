//! Durable state: tasks, worker results, score feedback, worker keys and sessions, in SQLite.
//!
//! Every write that a caller is told about (a task acknowledged, a result accepted, a key issued)
//! is committed in its own transaction before the call returns. The database runs in WAL mode
//! with `synchronous = FULL`, so a committed write survives the process being killed at any
//! instant (and a power cut). Queries are built at run time (`sqlx::query`), so building the crate
//! needs no database.
//!
//! Tasks are keyed by `(caller, task_id)`: the calling validator's hotkey namespaces its task ids,
//! so two validators that reuse one id never see each other's results. Dojo v2 vote tasks are
//! tasks like any other under the id `vote:<validator task id>` (see
//! [`crate::service::vote_key`]); v2 generation tasks, whose outcome is a completion rather than
//! worker results, have their own table keyed the same way.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use dojo_proto::v1;
use dojo_types::task::{Completion, Generated, GenerationTask, Task, WorkerResult};
use dojo_types::{Hotkey, TaskId};
use prost::Message;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or a statement failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored row did not decode (written by an incompatible version, or corrupted).
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// What failed.
        detail: String,
    },
}

/// How a task was admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Collecting results.
    Open,
    /// Refused on arrival; no results will come.
    Declined,
}

impl TaskState {
    fn as_str(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Declined => "declined",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "open" => Ok(TaskState::Open),
            "declined" => Ok(TaskState::Declined),
            other => Err(StoreError::Corrupt {
                what: "task state",
                detail: other.to_owned(),
            }),
        }
    }
}

/// A task as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTask {
    /// Validator hotkey that sent it.
    pub caller: Hotkey,
    /// The task.
    pub task: Task,
    /// The miner's own id (what the acknowledgement carried).
    pub miner_task_id: String,
    /// Admission outcome.
    pub state: TaskState,
    /// Why it was declined.
    pub declined_reason: Option<String>,
    /// Results stored so far.
    pub num_results: u32,
    /// When it arrived, ms since the epoch.
    pub received_at_ms: i64,
}

/// A generation task (Dojo v2 generator role) as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredGeneration {
    /// Validator hotkey that sent it.
    pub caller: Hotkey,
    /// The assignment.
    pub task: GenerationTask,
    /// The miner's own id (what the acknowledgement carried, and the written completion's id).
    pub miner_task_id: String,
    /// Admission outcome.
    pub state: TaskState,
    /// Why it was declined.
    pub declined_reason: Option<String>,
    /// When it arrived, ms since the epoch.
    pub received_at_ms: i64,
    /// The completion, once written.
    pub generated: Option<Generated>,
}

/// What [`Store::insert_task`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new row.
    New,
    /// The caller had already sent this task id; the earlier miner id is returned unchanged, so a
    /// retried `SendTask` is a no-op.
    Existing {
        /// The id given the first time.
        miner_task_id: String,
        /// The state it was stored in.
        declined: bool,
    },
}

/// Why a result was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResultRefused {
    /// No such task (for this caller, or at all).
    #[error("unknown task")]
    UnknownTask,
    /// The task is past its deadline.
    #[error("task has expired")]
    Expired,
    /// The task was declined.
    #[error("task was declined")]
    Declined,
    /// The task already has its maximum number of results.
    #[error("task already has {max} results")]
    Full {
        /// The per-task maximum.
        max: u32,
    },
    /// This worker already answered this task.
    #[error("this worker already submitted a result for the task")]
    Duplicate,
}

/// Kind of worker-platform key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Workers join the miner's page with it.
    Subscription,
    /// Programs (the simulated workers of the devnet) call the worker API with it.
    Api,
}

impl KeyKind {
    /// `subscription` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Subscription => "subscription",
            KeyKind::Api => "api",
        }
    }
}

impl FromStr for KeyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "subscription" => Ok(KeyKind::Subscription),
            "api" => Ok(KeyKind::Api),
            other => Err(format!("unknown key kind `{other}` (subscription | api)")),
        }
    }
}

/// A key as listed (the secret itself is never stored, only its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// Public id (`key-…`), used to revoke.
    pub id: String,
    /// Kind.
    pub kind: KeyKind,
    /// When created, ms since the epoch.
    pub created_at_ms: i64,
    /// When revoked, if it was.
    pub revoked_at_ms: Option<i64>,
}

/// A worker session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The worker id results are stored under.
    pub worker_id: String,
    /// The key the worker joined with.
    pub key_id: String,
    /// End of validity, ms since the epoch.
    pub expires_at_ms: i64,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS tasks (
        caller TEXT NOT NULL,
        task_id TEXT NOT NULL,
        miner_task_id TEXT NOT NULL UNIQUE,
        task BLOB NOT NULL,
        expire_at_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        declined_reason TEXT,
        received_at_ms INTEGER NOT NULL,
        PRIMARY KEY (caller, task_id)
    )",
    "CREATE INDEX IF NOT EXISTS tasks_by_expiry ON tasks (state, expire_at_ms)",
    "CREATE TABLE IF NOT EXISTS results (
        caller TEXT NOT NULL,
        task_id TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        result BLOB NOT NULL,
        submitted_at_ms INTEGER NOT NULL,
        PRIMARY KEY (caller, task_id, worker_id),
        FOREIGN KEY (caller, task_id) REFERENCES tasks (caller, task_id) ON DELETE CASCADE
    )",
    "CREATE TABLE IF NOT EXISTS feedback (
        caller TEXT NOT NULL,
        task_id TEXT NOT NULL,
        score REAL NOT NULL,
        received_at_ms INTEGER NOT NULL,
        PRIMARY KEY (caller, task_id)
    )",
    "CREATE TABLE IF NOT EXISTS generations (
        caller TEXT NOT NULL,
        task_id TEXT NOT NULL,
        miner_task_id TEXT NOT NULL UNIQUE,
        task BLOB NOT NULL,
        expire_at_ms INTEGER NOT NULL,
        state TEXT NOT NULL,
        declined_reason TEXT,
        received_at_ms INTEGER NOT NULL,
        completion BLOB,
        author TEXT,
        written_at_ms INTEGER,
        PRIMARY KEY (caller, task_id)
    )",
    "CREATE INDEX IF NOT EXISTS generations_by_expiry ON generations (state, expire_at_ms)",
    // The outside job (an MTurk HIT) a provider started for a task; kept so a restart resumes it.
    "CREATE TABLE IF NOT EXISTS provider_jobs (
        caller TEXT NOT NULL,
        task_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        handle TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (caller, task_id, provider),
        FOREIGN KEY (caller, task_id) REFERENCES tasks (caller, task_id) ON DELETE CASCADE
    )",
    "CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY,
        worker_id TEXT NOT NULL,
        key_id TEXT NOT NULL REFERENCES keys (id),
        expires_at_ms INTEGER NOT NULL
    )",
];

/// The miner's database. Cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

fn encode_task(task: &Task) -> Vec<u8> {
    v1::Task::from(task.clone()).encode_to_vec()
}

fn decode_task(bytes: &[u8]) -> Result<Task, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "task",
        detail,
    };
    let wire = v1::Task::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    Task::try_from(wire).map_err(|e| corrupt(e.to_string()))
}

fn encode_result(r: &WorkerResult) -> Vec<u8> {
    v1::WorkerResult {
        worker_id: r.worker_id.clone(),
        answers: r.answers.iter().cloned().map(Into::into).collect(),
    }
    .encode_to_vec()
}

fn decode_result(bytes: &[u8]) -> Result<WorkerResult, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "worker result",
        detail,
    };
    let wire = v1::WorkerResult::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(WorkerResult {
        worker_id: wire.worker_id,
        answers: wire
            .answers
            .into_iter()
            .map(|a| {
                a.try_into()
                    .map_err(|e: dojo_proto::WireError| corrupt(e.to_string()))
            })
            .collect::<Result<_, _>>()?,
    })
}

fn decode_generation_task(bytes: &[u8]) -> Result<GenerationTask, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "generation task",
        detail,
    };
    let wire = v1::GenerationTask::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    GenerationTask::try_from(wire).map_err(|e| corrupt(e.to_string()))
}

fn decode_completion(bytes: &[u8]) -> Result<Completion, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "written completion",
        detail,
    };
    let wire = v1::Completion::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    Completion::try_from(wire).map_err(|e| corrupt(e.to_string()))
}

fn hotkey(s: String) -> Result<Hotkey, StoreError> {
    Hotkey::new(s).map_err(|e| StoreError::Corrupt {
        what: "caller hotkey",
        detail: e.to_string(),
    })
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it returns, so an acknowledgement is never lost.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        for stmt in SCHEMA {
            sqlx::query(*stmt).execute(&pool).await?;
        }
        Ok(Store { pool })
    }

    /// Closes the pool, waiting for statements in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Stores a newly received task, or reports the one already stored under `(caller, task.id)`.
    pub async fn insert_task(
        &self,
        caller: &Hotkey,
        task: &Task,
        miner_task_id: &str,
        state: TaskState,
        declined_reason: Option<&str>,
        now_ms: i64,
    ) -> Result<Inserted, StoreError> {
        let done = sqlx::query(
            "INSERT INTO tasks (caller, task_id, miner_task_id, task, expire_at_ms, state, declined_reason, received_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (caller, task_id) DO NOTHING",
        )
        .bind(caller.as_str())
        .bind(task.id.as_str())
        .bind(miner_task_id)
        .bind(encode_task(task))
        .bind(task.expire_at_unix_ms)
        .bind(state.as_str())
        .bind(declined_reason)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Inserted::New);
        }
        let row =
            sqlx::query("SELECT miner_task_id, state FROM tasks WHERE caller = ? AND task_id = ?")
                .bind(caller.as_str())
                .bind(task.id.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(Inserted::Existing {
            miner_task_id: row.get(0),
            declined: TaskState::parse(row.get::<&str, _>(1))? == TaskState::Declined,
        })
    }

    fn task_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredTask, StoreError> {
        Ok(StoredTask {
            caller: hotkey(row.get("caller"))?,
            task: decode_task(row.get("task"))?,
            miner_task_id: row.get("miner_task_id"),
            state: TaskState::parse(row.get::<&str, _>("state"))?,
            declined_reason: row.get("declined_reason"),
            num_results: u32::try_from(row.get::<i64, _>("num_results")).unwrap_or(u32::MAX),
            received_at_ms: row.get("received_at_ms"),
        })
    }

    /// Interpolated into queries with `format!`: a constant, never input.
    const TASK_COLUMNS: &'static str = "t.caller, t.task, t.miner_task_id, t.state, t.declined_reason, t.received_at_ms,
        (SELECT COUNT(*) FROM results r WHERE r.caller = t.caller AND r.task_id = t.task_id) AS num_results";

    /// The task `caller` sent as `task_id`.
    pub async fn task(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
    ) -> Result<Option<StoredTask>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tasks t WHERE t.caller = ? AND t.task_id = ?",
            Self::TASK_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(caller.as_str())
            .bind(task_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::task_from_row).transpose()
    }

    /// The task the miner calls `miner_task_id` (the id workers see).
    pub async fn task_by_miner_id(
        &self,
        miner_task_id: &str,
    ) -> Result<Option<StoredTask>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tasks t WHERE t.miner_task_id = ?",
            Self::TASK_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(miner_task_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::task_from_row).transpose()
    }

    /// Open tasks before their deadline with fewer than `max_results` results, soonest deadline
    /// first; `exclude_worker` drops the ones that worker already answered.
    pub async fn open_tasks(
        &self,
        now_ms: i64,
        max_results: u32,
        exclude_worker: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredTask>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tasks t WHERE t.state = 'open' AND t.expire_at_ms > ?
               AND (SELECT COUNT(*) FROM results r WHERE r.caller = t.caller AND r.task_id = t.task_id) < ?
               AND NOT EXISTS (SELECT 1 FROM results r WHERE r.caller = t.caller AND r.task_id = t.task_id AND r.worker_id = ?)
             ORDER BY t.expire_at_ms, t.received_at_ms LIMIT ?",
            Self::TASK_COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(i64::from(max_results))
            .bind(exclude_worker.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::task_from_row).collect()
    }

    /// Open tasks before their deadline with fewer than `max_results` results (what a provider
    /// still owes after a restart), oldest first.
    pub async fn unanswered_tasks(
        &self,
        now_ms: i64,
        max_results: u32,
        limit: u32,
    ) -> Result<Vec<StoredTask>, StoreError> {
        self.open_tasks(now_ms, max_results, None, limit).await
    }

    /// Open tasks and unwritten generation tasks whose deadline has not passed (the miner's
    /// current load).
    pub async fn count_open(&self, now_ms: i64) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM tasks WHERE state = 'open' AND expire_at_ms > ?1)
                  + (SELECT COUNT(*) FROM generations WHERE state = 'open' AND expire_at_ms > ?1 AND completion IS NULL)",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every stored task (any state).
    pub async fn count_tasks(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tasks")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Results stored for a task, in submission order.
    pub async fn results(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
    ) -> Result<Vec<WorkerResult>, StoreError> {
        let rows = sqlx::query(
            "SELECT result FROM results WHERE caller = ? AND task_id = ? ORDER BY submitted_at_ms, worker_id",
        )
        .bind(caller.as_str())
        .bind(task_id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| decode_result(r.get(0))).collect()
    }

    /// Whether `worker_id` already answered the task.
    pub async fn has_result(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
        worker_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM results WHERE caller = ? AND task_id = ? AND worker_id = ?)",
        )
        .bind(caller.as_str())
        .bind(task_id.as_str())
        .bind(worker_id)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Stores one worker's result, in one transaction that re-checks the task is open, before its
    /// deadline, not full and not already answered by this worker.
    pub async fn add_result(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
        result: &WorkerResult,
        max_results: u32,
        now_ms: i64,
    ) -> Result<Result<(), ResultRefused>, StoreError> {
        // IMMEDIATE: these transactions read, then write. A deferred one would need a lock upgrade,
        // which SQLite refuses at once (SQLITE_BUSY, no busy wait) when another writer got in
        // between; seen as a 503 on the worker page right after a miner restart.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "SELECT state, expire_at_ms,
                (SELECT COUNT(*) FROM results r WHERE r.caller = t.caller AND r.task_id = t.task_id),
                EXISTS (SELECT 1 FROM results r WHERE r.caller = t.caller AND r.task_id = t.task_id AND r.worker_id = ?)
             FROM tasks t WHERE caller = ? AND task_id = ?",
        )
        .bind(&result.worker_id)
        .bind(caller.as_str())
        .bind(task_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Err(ResultRefused::UnknownTask));
        };
        if TaskState::parse(row.get::<&str, _>(0))? == TaskState::Declined {
            return Ok(Err(ResultRefused::Declined));
        }
        if row.get::<i64, _>(1) <= now_ms {
            return Ok(Err(ResultRefused::Expired));
        }
        if row.get::<bool, _>(3) {
            return Ok(Err(ResultRefused::Duplicate));
        }
        if row.get::<i64, _>(2) >= i64::from(max_results) {
            return Ok(Err(ResultRefused::Full { max: max_results }));
        }
        sqlx::query(
            "INSERT INTO results (caller, task_id, worker_id, result, submitted_at_ms) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(caller.as_str())
        .bind(task_id.as_str())
        .bind(&result.worker_id)
        .bind(encode_result(result))
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Records the score a validator gave for a task (the latest one wins).
    pub async fn record_feedback(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
        score: f64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO feedback (caller, task_id, score, received_at_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (caller, task_id) DO UPDATE SET score = excluded.score, received_at_ms = excluded.received_at_ms",
        )
        .bind(caller.as_str())
        .bind(task_id.as_str())
        .bind(score)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The recorded feedback for a task.
    pub async fn feedback(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
    ) -> Result<Option<f64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT score FROM feedback WHERE caller = ? AND task_id = ?")
                .bind(caller.as_str())
                .bind(task_id.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The handle of the outside job `provider` started for a task, if it recorded one.
    pub async fn provider_job(
        &self,
        caller: &Hotkey,
        task: &TaskId,
        provider: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT handle FROM provider_jobs WHERE caller = ? AND task_id = ? AND provider = ?",
        )
        .bind(caller.as_str())
        .bind(task.as_str())
        .bind(provider)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records the outside job `provider` started for a task; the first handle recorded stays.
    pub async fn record_provider_job(
        &self,
        caller: &Hotkey,
        task: &TaskId,
        provider: &str,
        handle: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provider_jobs (caller, task_id, provider, handle, created_at_ms)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (caller, task_id, provider) DO NOTHING",
        )
        .bind(caller.as_str())
        .bind(task.as_str())
        .bind(provider)
        .bind(handle)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes tasks (with their results and feedback) whose deadline is more than `retention`
    /// past, and expired sessions. Returns the number of tasks deleted.
    pub async fn purge(&self, now_ms: i64, retention: Duration) -> Result<u64, StoreError> {
        let cutoff =
            now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
        // IMMEDIATE: these transactions read, then write. A deferred one would need a lock upgrade,
        // which SQLite refuses at once (SQLITE_BUSY, no busy wait) when another writer got in
        // between; seen as a 503 on the worker page right after a miner restart.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "DELETE FROM feedback WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.caller = feedback.caller
               AND t.task_id = feedback.task_id AND t.expire_at_ms < ?)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM tasks WHERE expire_at_ms < ?")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let generations = sqlx::query("DELETE FROM generations WHERE expire_at_ms < ?")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= ?")
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() + generations.rows_affected())
    }

    /// Stores a newly received generation task, or reports the one already stored under
    /// `(caller, task.id)`.
    pub async fn insert_generation(
        &self,
        caller: &Hotkey,
        task: &GenerationTask,
        miner_task_id: &str,
        state: TaskState,
        declined_reason: Option<&str>,
        now_ms: i64,
    ) -> Result<Inserted, StoreError> {
        let done = sqlx::query(
            "INSERT INTO generations (caller, task_id, miner_task_id, task, expire_at_ms, state, declined_reason, received_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (caller, task_id) DO NOTHING",
        )
        .bind(caller.as_str())
        .bind(task.id.as_str())
        .bind(miner_task_id)
        .bind(v1::GenerationTask::from(task.clone()).encode_to_vec())
        .bind(task.expire_at_unix_ms)
        .bind(state.as_str())
        .bind(declined_reason)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Inserted::New);
        }
        let row = sqlx::query(
            "SELECT miner_task_id, state FROM generations WHERE caller = ? AND task_id = ?",
        )
        .bind(caller.as_str())
        .bind(task.id.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(Inserted::Existing {
            miner_task_id: row.get(0),
            declined: TaskState::parse(row.get::<&str, _>(1))? == TaskState::Declined,
        })
    }

    fn generation_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredGeneration, StoreError> {
        let completion: Option<Vec<u8>> = row.get("completion");
        Ok(StoredGeneration {
            caller: hotkey(row.get("caller"))?,
            task: decode_generation_task(row.get("task"))?,
            miner_task_id: row.get("miner_task_id"),
            state: TaskState::parse(row.get::<&str, _>("state"))?,
            declined_reason: row.get("declined_reason"),
            received_at_ms: row.get("received_at_ms"),
            generated: completion
                .map(|c| {
                    Ok::<_, StoreError>(Generated {
                        completion: decode_completion(&c)?,
                        author: row.get::<Option<String>, _>("author").unwrap_or_default(),
                    })
                })
                .transpose()?,
        })
    }

    /// Interpolated into queries with `format!`: a constant, never input.
    const GENERATION_COLUMNS: &'static str =
        "caller, task, miner_task_id, state, declined_reason, received_at_ms, completion, author";

    /// The generation task `caller` sent as `task_id`.
    pub async fn generation(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
    ) -> Result<Option<StoredGeneration>, StoreError> {
        let sql = format!(
            "SELECT {} FROM generations WHERE caller = ? AND task_id = ?",
            Self::GENERATION_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(caller.as_str())
            .bind(task_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::generation_from_row).transpose()
    }

    /// The generation task the miner calls `miner_task_id` (the id workers see).
    pub async fn generation_by_miner_id(
        &self,
        miner_task_id: &str,
    ) -> Result<Option<StoredGeneration>, StoreError> {
        let sql = format!(
            "SELECT {} FROM generations WHERE miner_task_id = ?",
            Self::GENERATION_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(miner_task_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::generation_from_row).transpose()
    }

    /// Open generation tasks before their deadline with no completion yet, soonest deadline first.
    pub async fn open_generations(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<StoredGeneration>, StoreError> {
        let sql = format!(
            "SELECT {} FROM generations WHERE state = 'open' AND expire_at_ms > ? AND completion IS NULL
             ORDER BY expire_at_ms, received_at_ms LIMIT ?",
            Self::GENERATION_COLUMNS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(Self::generation_from_row).collect()
    }

    /// Stores the completion written for a generation task, in one statement that only succeeds
    /// while the task is open, before its deadline and unwritten (the first writer wins).
    pub async fn set_generation(
        &self,
        caller: &Hotkey,
        task_id: &TaskId,
        generated: &Generated,
        now_ms: i64,
    ) -> Result<Result<(), ResultRefused>, StoreError> {
        let done = sqlx::query(
            "UPDATE generations SET completion = ?, author = ?, written_at_ms = ?
             WHERE caller = ? AND task_id = ? AND state = 'open' AND expire_at_ms > ? AND completion IS NULL",
        )
        .bind(v1::Completion::from(generated.completion.clone()).encode_to_vec())
        .bind(&generated.author)
        .bind(now_ms)
        .bind(caller.as_str())
        .bind(task_id.as_str())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Ok(()));
        }
        // Nothing changed: say why.
        Ok(Err(match self.generation(caller, task_id).await? {
            None => ResultRefused::UnknownTask,
            Some(g) if g.state == TaskState::Declined => ResultRefused::Declined,
            Some(g) if g.generated.is_some() => ResultRefused::Full { max: 1 },
            Some(_) => ResultRefused::Expired,
        }))
    }

    /// Stores a new key's hash.
    pub async fn insert_key(
        &self,
        id: &str,
        kind: KeyKind,
        secret_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO keys (id, kind, secret_hash, created_at_ms) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(kind.as_str())
            .bind(secret_hash)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every key, newest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, created_at_ms, revoked_at_ms FROM keys ORDER BY created_at_ms DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRecord {
                    id: r.get(0),
                    kind: r
                        .get::<&str, _>(1)
                        .parse()
                        .map_err(|detail| StoreError::Corrupt {
                            what: "key kind",
                            detail,
                        })?,
                    created_at_ms: r.get(2),
                    revoked_at_ms: r.get(3),
                })
            })
            .collect()
    }

    /// Revokes a key and ends its sessions; `false` if no live key has that id.
    pub async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        // IMMEDIATE: these transactions read, then write. A deferred one would need a lock upgrade,
        // which SQLite refuses at once (SQLITE_BUSY, no busy wait) when another writer got in
        // between; seen as a 503 on the worker page right after a miner restart.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done =
            sqlx::query("UPDATE keys SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL")
                .bind(now_ms)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM sessions WHERE key_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The live (unrevoked) key with this secret hash.
    pub async fn live_key(&self, secret_hash: &str) -> Result<Option<KeyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, kind, created_at_ms FROM keys WHERE secret_hash = ? AND revoked_at_ms IS NULL",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(KeyRecord {
                id: r.get(0),
                kind: r
                    .get::<&str, _>(1)
                    .parse()
                    .map_err(|detail| StoreError::Corrupt {
                        what: "key kind",
                        detail,
                    })?,
                created_at_ms: r.get(2),
                revoked_at_ms: None,
            })
        })
        .transpose()
    }

    /// Stores a session (only the token's hash).
    pub async fn insert_session(
        &self,
        token_hash: &str,
        session: &Session,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, worker_id, key_id, expires_at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(&session.worker_id)
        .bind(&session.key_id)
        .bind(session.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session with this token hash whose key is not revoked.
    pub async fn session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.worker_id, s.key_id, s.expires_at_ms FROM sessions s JOIN keys k ON k.id = s.key_id
             WHERE s.token_hash = ? AND s.expires_at_ms > ? AND k.revoked_at_ms IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Session {
            worker_id: r.get(0),
            key_id: r.get(1),
            expires_at_ms: r.get(2),
        }))
    }
}
