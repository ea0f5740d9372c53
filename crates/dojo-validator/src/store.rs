//! The validator's database: one schema for SQLite (the embedded default, in WAL mode) and
//! PostgreSQL, chosen by the URL (`sqlite://…` or `postgres://…`), through sqlx's runtime-generic
//! `Any` driver with runtime-checked queries.
//!
//! Every state change is one transaction, and every step is keyed so a restart can tell done from
//! not done: a task's round is written (task, ground truth, each miner's view) before anything is
//! sent; a task is collected at most once (`status` moves `sent → collected` inside the
//! transaction that stores the responses); its scores are applied at most once (`collected →
//! scored` in the transaction that writes the per-task scores and the new moving average); a weight
//! submission is recorded `pending` before it is sent and resolved against the chain after a
//! restart, never resubmitted blindly.

use std::collections::BTreeMap;

use dojo_proto::v1;
use dojo_types::task::Task;
use dojo_types::{Hotkey, Ranking, TaskId, Uid};
use prost::Message as _;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

use crate::scores::ScoreBook;
use crate::view::MinerView;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or is unreachable.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored value does not decode (the database was edited by hand, or by a newer version).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A transition that must happen once was found already done.
    #[error("task {0} is not in the state this step expects (already done?)")]
    Conflict(String),
    /// The database is from a newer schema.
    #[error("database schema version {found} is newer than this validator's {supported}")]
    NewerSchema {
        /// In the database.
        found: i64,
        /// Supported here.
        supported: i64,
    },
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

const SCHEMA_VERSION: i64 = 2;

/// The one set of migrations, in order; each statement is valid SQLite and PostgreSQL.
const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS tasks (
        task_id TEXT PRIMARY KEY,
        created_ms BIGINT NOT NULL,
        expire_ms BIGINT NOT NULL,
        prompt TEXT NOT NULL,
        task_pb TEXT NOT NULL,
        ground_truth TEXT NOT NULL,
        status TEXT NOT NULL,
        scored_ms BIGINT
    )",
        "CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status, expire_ms)",
        "CREATE TABLE IF NOT EXISTS assignments (
        task_id TEXT NOT NULL,
        hotkey TEXT NOT NULL,
        uid BIGINT NOT NULL,
        view TEXT NOT NULL,
        send_outcome TEXT,
        miner_task_id TEXT,
        PRIMARY KEY (task_id, hotkey)
    )",
        "CREATE TABLE IF NOT EXISTS responses (
        task_id TEXT NOT NULL,
        hotkey TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        answer TEXT,
        received_ms BIGINT NOT NULL,
        PRIMARY KEY (task_id, hotkey)
    )",
        "CREATE TABLE IF NOT EXISTS task_scores (
        task_id TEXT NOT NULL,
        hotkey TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (task_id, hotkey)
    )",
        "CREATE TABLE IF NOT EXISTS ema (
        uid BIGINT PRIMARY KEY,
        hotkey TEXT,
        score DOUBLE PRECISION NOT NULL
    )",
        "CREATE TABLE IF NOT EXISTS weight_submissions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        block BIGINT NOT NULL,
        uids TEXT NOT NULL,
        weights TEXT NOT NULL,
        salt TEXT,
        version_key BIGINT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        updated_ms BIGINT NOT NULL
    )",
    ],
    // 2: Dojo v2 vote tasks. Their shape changes by phase (generators, then candidates and voters,
    // then votes), so the task is one JSON document; `status` and `expire_ms` (the current phase's
    // deadline) are columns because the loops select on them.
    &[
        "CREATE TABLE IF NOT EXISTS v2_tasks (
        task_id TEXT PRIMARY KEY,
        created_ms BIGINT NOT NULL,
        expire_ms BIGINT NOT NULL,
        status TEXT NOT NULL,
        body TEXT NOT NULL,
        scored_ms BIGINT
    )",
        "CREATE INDEX IF NOT EXISTS v2_tasks_status ON v2_tasks (status, expire_ms)",
        // Reward-modelling era: which `tasks` are held-out preference pairs (accuracy probes),
        // kept apart so miners cannot tell from the task itself.
        "CREATE TABLE IF NOT EXISTS rm_probes (task_id TEXT PRIMARY KEY)",
    ],
];

/// Which table a scoring pass closes tasks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskTable {
    /// Score-the-completions tasks (`tasks`).
    Rounds,
    /// Dojo v2 vote tasks (`v2_tasks`).
    Votes,
}

impl TaskTable {
    fn name(self) -> &'static str {
        match self {
            TaskTable::Rounds => "tasks",
            TaskTable::Votes => "v2_tasks",
        }
    }
}

/// One miner's part of a task round.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Miner hotkey.
    pub hotkey: Hotkey,
    /// Its uid when the round was made.
    pub uid: Uid,
    /// What it was shown.
    pub view: MinerView,
    /// How sending went (`None`: not yet sent).
    pub send_outcome: Option<String>,
}

/// What became of one miner's part at collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// Miner hotkey.
    pub hotkey: Hotkey,
    /// `accepted`, `rejected`, or the call outcome (`timeout`, `refused`, `declined`, …).
    pub outcome: String,
    /// Rejection reason label.
    pub reason: Option<String>,
    /// The bridged answer, for accepted results.
    pub answer: Option<dojo_scoring::Answer>,
}

/// A stored task with everything scoring needs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTask {
    /// The task as the validator built it (real ids).
    pub task: Task,
    /// Ground truth.
    pub truth: Ranking,
    /// Miner parts.
    pub assignments: Vec<Assignment>,
    /// Responses, once collected.
    pub responses: Vec<Collected>,
    /// `sent`, `collected` or `scored`.
    pub status: String,
}

/// A weight submission as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// Unique id.
    pub id: String,
    /// `set` or `commit`.
    pub kind: String,
    /// Block at which it was decided.
    pub block: u64,
    /// Destination uids.
    pub uids: Vec<u16>,
    /// Weights.
    pub weights: Vec<u16>,
    /// Commit salt.
    pub salt: Vec<u16>,
    /// Version key.
    pub version_key: u64,
    /// `pending`, `set`, `committed`, `revealed`, `rejected`, `expired`.
    pub status: String,
    /// Chain error, when rejected.
    pub error: Option<String>,
}

/// The database handle; clones share the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

fn corrupt(table: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: e.to_string(),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Connects (creating a SQLite file if needed), sets WAL on SQLite, and migrates.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(&url)
            .await?;
        if backend == Backend::Sqlite {
            // WAL is a property of the file, so setting it once holds for every connection.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS dojo_schema (version BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let found: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM dojo_schema")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")
            .ok();
        let found = found.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, stmts) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= found {
                continue;
            }
            for s in *stmts {
                sqlx::query(*s).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO dojo_schema (version) VALUES ($1)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes a new round for one task: the task, its ground truth and every miner's view, before
    /// anything is sent. Re-inserting the same task id is a [`StoreError::Conflict`].
    pub async fn insert_round(
        &self,
        task: &Task,
        truth: &Ranking,
        assignments: &[(Hotkey, Uid, MinerView)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.insert_round_as(task, truth, assignments, now_ms, false)
            .await
    }

    /// [`Store::insert_round`]; with `probe`, the task is marked an accuracy probe in the same
    /// transaction.
    pub async fn insert_round_as(
        &self,
        task: &Task,
        truth: &Ranking,
        assignments: &[(Hotkey, Uid, MinerView)],
        now_ms: i64,
        probe: bool,
    ) -> Result<(), StoreError> {
        let pb = hex::encode(v1::Task::from(task.clone()).encode_to_vec());
        let gt = serde_json::to_string(truth).map_err(|e| corrupt("tasks", e))?;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "INSERT INTO tasks (task_id, created_ms, expire_ms, prompt, task_pb, ground_truth, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'sent') ON CONFLICT (task_id) DO NOTHING",
        )
        .bind(task.id.as_str())
        .bind(now_ms)
        .bind(task.expire_at_unix_ms)
        .bind(task.prompt.as_str())
        .bind(pb)
        .bind(gt)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(task.id.to_string()));
        }
        for (hotkey, uid, view) in assignments {
            let v = serde_json::to_string(view).map_err(|e| corrupt("assignments", e))?;
            sqlx::query(
                "INSERT INTO assignments (task_id, hotkey, uid, view) VALUES ($1, $2, $3, $4)",
            )
            .bind(task.id.as_str())
            .bind(hotkey.as_str())
            .bind(i64::from(uid.0))
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        if probe {
            sqlx::query("INSERT INTO rm_probes (task_id) VALUES ($1)")
                .bind(task.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records how sending a task to one miner went.
    pub async fn record_send(
        &self,
        task: &TaskId,
        hotkey: &Hotkey,
        outcome: &str,
        miner_task_id: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE assignments SET send_outcome = $1, miner_task_id = $2 WHERE task_id = $3 AND hotkey = $4",
        )
        .bind(outcome)
        .bind(miner_task_id)
        .bind(task.as_str())
        .bind(hotkey.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tasks in `status`, oldest deadline first; with `expired_by`, only those whose deadline has
    /// passed.
    pub async fn tasks_in(
        &self,
        status: &str,
        expired_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TaskId>, StoreError> {
        self.ids_in(TaskTable::Rounds, status, expired_by, limit)
            .await
    }

    /// Dojo v2 tasks in `status` (`generating`, `voting`, `collected`, `scored`, `void`), oldest
    /// phase deadline first; with `expired_by`, only those whose phase deadline has passed.
    pub async fn v2_tasks_in(
        &self,
        status: &str,
        expired_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TaskId>, StoreError> {
        self.ids_in(TaskTable::Votes, status, expired_by, limit)
            .await
    }

    async fn ids_in(
        &self,
        table: TaskTable,
        status: &str,
        expired_by: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TaskId>, StoreError> {
        let t = table.name();
        // Static SQL per table: sqlx refuses strings built at run time, rightly.
        let sql = match table {
            TaskTable::Rounds => {
                "SELECT task_id FROM tasks WHERE status = $1 AND expire_ms <= $2 ORDER BY expire_ms, task_id LIMIT $3"
            }
            TaskTable::Votes => {
                "SELECT task_id FROM v2_tasks WHERE status = $1 AND expire_ms <= $2 ORDER BY expire_ms, task_id LIMIT $3"
            }
        };
        let rows = sqlx::query(sql)
            .bind(status)
            .bind(expired_by.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get("task_id")?;
                TaskId::new(s).map_err(|e| corrupt(t, e))
            })
            .collect()
    }

    /// Writes new v2 tasks (`generating`, with their generation deadline) in one transaction,
    /// before anything is sent. A task id already present is a [`StoreError::Conflict`].
    pub async fn insert_v2(
        &self,
        tasks: &[(TaskId, i64, String)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (id, expire_ms, body) in tasks {
            let r = sqlx::query(
                "INSERT INTO v2_tasks (task_id, created_ms, expire_ms, status, body)
                 VALUES ($1, $2, $3, 'generating', $4) ON CONFLICT (task_id) DO NOTHING",
            )
            .bind(id.as_str())
            .bind(now_ms)
            .bind(*expire_ms)
            .bind(body.as_str())
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(id.to_string()));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// One v2 task: its status and document.
    pub async fn load_v2(&self, id: &TaskId) -> Result<(String, String), StoreError> {
        let row = sqlx::query("SELECT status, body FROM v2_tasks WHERE task_id = $1")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("status")?, row.try_get("body")?))
    }

    /// Moves a v2 task from `from` to `to` (which may be equal, to record progress within a
    /// phase), replacing its document and phase deadline in the same statement. A task not in
    /// `from` is a [`StoreError::Conflict`]: the step was already done, by us before a restart.
    pub async fn advance_v2(
        &self,
        id: &TaskId,
        from: &str,
        to: &str,
        expire_ms: i64,
        body: &str,
    ) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE v2_tasks SET status = $1, expire_ms = $2, body = $3 WHERE task_id = $4 AND status = $5",
        )
        .bind(to)
        .bind(expire_ms)
        .bind(body)
        .bind(id.as_str())
        .bind(from)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(id.to_string()));
        }
        Ok(())
    }

    /// Whether task `id` is an accuracy probe.
    pub async fn is_probe(&self, id: &TaskId) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT task_id FROM rm_probes WHERE task_id = $1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Counts v2 tasks by status.
    pub async fn count_v2(&self, status: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM v2_tasks WHERE status = $1")
                .bind(status)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    /// Counts tasks by status.
    pub async fn count(&self, status: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM tasks WHERE status = $1")
                .bind(status)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }

    /// Loads one task with its assignments and responses.
    pub async fn load(&self, id: &TaskId) -> Result<StoredTask, StoreError> {
        let row = sqlx::query("SELECT task_pb, ground_truth, status FROM tasks WHERE task_id = $1")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await?;
        let pb: String = row.try_get("task_pb")?;
        let bytes = hex::decode(pb).map_err(|e| corrupt("tasks", e))?;
        let wire = v1::Task::decode(bytes.as_slice()).map_err(|e| corrupt("tasks", e))?;
        let task = Task::try_from(wire).map_err(|e| corrupt("tasks", e))?;
        let gt: String = row.try_get("ground_truth")?;
        let truth: Ranking = serde_json::from_str(&gt).map_err(|e| corrupt("tasks", e))?;
        let status: String = row.try_get("status")?;
        let mut assignments = Vec::new();
        for r in sqlx::query(
            "SELECT hotkey, uid, view, send_outcome FROM assignments WHERE task_id = $1 ORDER BY uid, hotkey",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?
        {
            let hotkey: String = r.try_get("hotkey")?;
            let uid: i64 = r.try_get("uid")?;
            let view: String = r.try_get("view")?;
            assignments.push(Assignment {
                hotkey: Hotkey::new(hotkey).map_err(|e| corrupt("assignments", e))?,
                uid: Uid(u16::try_from(uid).map_err(|e| corrupt("assignments", e))?),
                view: serde_json::from_str(&view).map_err(|e| corrupt("assignments", e))?,
                send_outcome: r.try_get("send_outcome")?,
            });
        }
        let mut responses = Vec::new();
        for r in sqlx::query(
            "SELECT hotkey, outcome, reason, answer FROM responses WHERE task_id = $1 ORDER BY hotkey",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?
        {
            let hotkey: String = r.try_get("hotkey")?;
            let answer: Option<String> = r.try_get("answer")?;
            responses.push(Collected {
                hotkey: Hotkey::new(hotkey).map_err(|e| corrupt("responses", e))?,
                outcome: r.try_get("outcome")?,
                reason: r.try_get("reason")?,
                answer: answer
                    .map(|a| serde_json::from_str(&a))
                    .transpose()
                    .map_err(|e| corrupt("responses", e))?,
            });
        }
        Ok(StoredTask {
            task,
            truth,
            assignments,
            responses,
            status,
        })
    }

    /// Stores every miner's collected result and moves the task `sent → collected`, in one
    /// transaction. A task already collected is a [`StoreError::Conflict`] and nothing is written.
    pub async fn record_collection(
        &self,
        id: &TaskId,
        collected: &[Collected],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE tasks SET status = 'collected' WHERE task_id = $1 AND status = 'sent'",
        )
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(id.to_string()));
        }
        for c in collected {
            let answer = c
                .answer
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| corrupt("responses", e))?;
            sqlx::query(
                "INSERT INTO responses (task_id, hotkey, outcome, reason, answer, received_ms) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_str())
            .bind(c.hotkey.as_str())
            .bind(c.outcome.as_str())
            .bind(c.reason.as_deref())
            .bind(answer)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Applies one scoring trigger: per-task scores for each task (which must be `collected`), the
    /// tasks moved to `scored`, and the new moving average, all in one transaction. If any task was
    /// already scored nothing is written ([`StoreError::Conflict`]), so a score is never applied twice.
    pub async fn apply_scores(
        &self,
        tasks: &[(TaskId, Vec<(Hotkey, f64)>)],
        book: &ScoreBook,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.apply_scores_in(TaskTable::Rounds, tasks, book, now_ms)
            .await
    }

    /// [`Store::apply_scores`] for the tasks of `table`.
    pub async fn apply_scores_in(
        &self,
        table: TaskTable,
        tasks: &[(TaskId, Vec<(Hotkey, f64)>)],
        book: &ScoreBook,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let update = match table {
            TaskTable::Rounds => {
                "UPDATE tasks SET status = 'scored', scored_ms = $1 WHERE task_id = $2 AND status = 'collected'"
            }
            TaskTable::Votes => {
                "UPDATE v2_tasks SET status = 'scored', scored_ms = $1 WHERE task_id = $2 AND status = 'collected'"
            }
        };
        let mut tx = self.pool.begin().await?;
        for (id, scores) in tasks {
            let r = sqlx::query(update)
                .bind(now_ms)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() != 1 {
                return Err(StoreError::Conflict(id.to_string()));
            }
            for (h, s) in scores {
                sqlx::query("INSERT INTO task_scores (task_id, hotkey, score) VALUES ($1, $2, $3)")
                    .bind(id.as_str())
                    .bind(h.as_str())
                    .bind(*s)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        write_ema(&mut tx, book).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the stored moving average (after a metagraph sync reset or grew it).
    pub async fn save_ema(&self, book: &ScoreBook) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        write_ema(&mut tx, book).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored moving average.
    pub async fn load_ema(&self) -> Result<ScoreBook, StoreError> {
        let rows = sqlx::query("SELECT uid, hotkey, score FROM ema ORDER BY uid")
            .fetch_all(&self.pool)
            .await?;
        let mut book = ScoreBook::default();
        for r in rows {
            let uid: i64 = r.try_get("uid")?;
            let uid = usize::try_from(uid).map_err(|e| corrupt("ema", e))?;
            let hotkey: Option<String> = r.try_get("hotkey")?;
            let score: f64 = r.try_get("score")?;
            if book.entries.len() <= uid {
                book.entries.resize(uid + 1, (None, 0.0));
            }
            book.entries[uid] = (
                hotkey
                    .map(Hotkey::new)
                    .transpose()
                    .map_err(|e| corrupt("ema", e))?,
                score,
            );
        }
        Ok(book)
    }

    /// Per-task scores of one task.
    pub async fn task_scores(&self, id: &TaskId) -> Result<BTreeMap<Hotkey, f64>, StoreError> {
        let rows = sqlx::query("SELECT hotkey, score FROM task_scores WHERE task_id = $1")
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let h: String = r.try_get("hotkey")?;
                Ok((
                    Hotkey::new(h).map_err(|e| corrupt("task_scores", e))?,
                    r.try_get("score")?,
                ))
            })
            .collect()
    }

    /// Sum and count of every stored per-task score, by hotkey (the per-miner mean task score's
    /// state, restored at start).
    pub async fn score_sums(&self) -> Result<BTreeMap<Hotkey, (f64, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT hotkey, SUM(score) AS s, COUNT(*) AS n FROM task_scores GROUP BY hotkey",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let h: String = r.try_get("hotkey")?;
                let n: i64 = r.try_get("n")?;
                Ok((
                    Hotkey::new(h).map_err(|e| corrupt("task_scores", e))?,
                    (r.try_get("s")?, u64::try_from(n).unwrap_or(0)),
                ))
            })
            .collect()
    }

    /// Block of the latest submission that put weights on chain (`set`, or a `revealed` commit: the
    /// block its commit was decided at), if any.
    pub async fn last_weights_block(&self) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(block) AS b FROM weight_submissions WHERE status IN ('set', 'revealed')",
        )
        .fetch_one(&self.pool)
        .await?;
        let b: Option<i64> = row.try_get("b")?;
        Ok(b.and_then(|b| u64::try_from(b).ok()))
    }

    /// Records a weight submission as `pending` before it is sent.
    pub async fn insert_submission(&self, s: &Submission, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO weight_submissions (id, kind, block, uids, weights, salt, version_key, status, error, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(s.id.as_str())
        .bind(s.kind.as_str())
        .bind(to_i64(s.block))
        .bind(serde_json::to_string(&s.uids).map_err(|e| corrupt("weight_submissions", e))?)
        .bind(serde_json::to_string(&s.weights).map_err(|e| corrupt("weight_submissions", e))?)
        .bind(serde_json::to_string(&s.salt).map_err(|e| corrupt("weight_submissions", e))?)
        .bind(to_i64(s.version_key))
        .bind(s.status.as_str())
        .bind(s.error.as_deref())
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves a submission to `status`.
    pub async fn resolve_submission(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE weight_submissions SET status = $1, error = $2, updated_ms = $3 WHERE id = $4",
        )
        .bind(status)
        .bind(error)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Submissions in `status`, oldest first.
    pub async fn submissions(&self, status: Option<&str>) -> Result<Vec<Submission>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, block, uids, weights, salt, version_key, status, error FROM weight_submissions
             WHERE ($1 = '' OR status = $1) ORDER BY block, id",
        )
        .bind(status.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let js = |c: &str| -> Result<Vec<u16>, StoreError> {
                    let s: Option<String> = r.try_get(c)?;
                    match s {
                        Some(s) => {
                            serde_json::from_str(&s).map_err(|e| corrupt("weight_submissions", e))
                        }
                        None => Ok(Vec::new()),
                    }
                };
                let block: i64 = r.try_get("block")?;
                let vk: i64 = r.try_get("version_key")?;
                Ok(Submission {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    block: u64::try_from(block).unwrap_or(0),
                    uids: js("uids")?,
                    weights: js("weights")?,
                    salt: js("salt")?,
                    version_key: u64::try_from(vk).unwrap_or(0),
                    status: r.try_get("status")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }
}

async fn write_ema(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    book: &ScoreBook,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM ema").execute(&mut **tx).await?;
    for (uid, (h, s)) in book.entries.iter().enumerate() {
        sqlx::query("INSERT INTO ema (uid, hotkey, score) VALUES ($1, $2, $3)")
            .bind(uid as i64)
            .bind(h.as_ref().map(|h| h.as_str().to_owned()))
            .bind(*s)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
