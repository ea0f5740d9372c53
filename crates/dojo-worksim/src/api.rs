//! The worker JSON API of `dojo-miner`'s page (`docs/miner.md`, "Worker JSON API"), as a client:
//! the same routes a worker's browser reaches through the page's forms.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A task as `GET /api/v1/tasks` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The miner's id for the task (`mt-…`).
    pub id: String,
    /// `judge` or `vote`.
    #[serde(default)]
    pub role: String,
    /// Kind of task.
    #[serde(default)]
    pub task_type: String,
    /// The prompt.
    pub prompt: String,
    /// Deadline, ms since the epoch.
    pub expire_at_ms: i64,
    /// What to answer, in order; answers refer to criteria by index.
    pub criteria: Vec<Criterion>,
    /// The responses, in this miner's order and under this miner's ids.
    pub completions: Vec<Completion>,
}

/// A criterion as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Criterion {
    /// A distinct rank per completion, 0 best.
    Ranking,
    /// One score per completion in `[min, max]`.
    Score {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// One score per completion for each option, or one per completion when `per_completion`.
    MultiScore {
        /// Option names (the completion ids when `per_completion`).
        options: Vec<String>,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Answer with `score` rather than `scores`.
        #[serde(default)]
        per_completion: bool,
    },
    /// Free text of bounded length.
    Text {
        /// Shortest, in characters.
        min_len: u32,
        /// Longest, in characters.
        max_len: u32,
    },
}

/// A completion as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// This miner's id for it.
    pub id: String,
    /// `text`, `dialogue`, `code` or `media`.
    #[serde(default)]
    pub kind: String,
    /// What the worker reads; ground truth is matched on its SHA-256.
    pub content: String,
}

/// One answer of a submission (`POST /api/v1/tasks/{id}/results`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerInput {
    /// Completion id.
    pub completion_id: String,
    /// Index into the task's criteria.
    pub criterion: usize,
    /// For `score` and per-completion `multi-score`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// For `multi-score` with named options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<std::collections::BTreeMap<String, f64>>,
    /// For `ranking`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// For `text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Why a call to the page failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The page could not be reached or the connection broke (the miner may be restarting).
    #[error("page unreachable: {0}")]
    Network(#[source] reqwest::Error),
    /// The page answered with an error status.
    #[error("page answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The `error` field of the body, or the body.
        message: String,
    },
    /// A success answer that is not the documented JSON.
    #[error("unexpected answer from the page: {0}")]
    Decode(String),
}

impl ApiError {
    /// The session is missing, expired or revoked (or the key unknown): join again.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ApiError::Status { status: 401, .. })
    }
}

#[derive(Debug, Deserialize)]
struct JoinResponse {
    token: String,
    worker_id: String,
}

#[derive(Debug, Deserialize)]
struct TaskList {
    tasks: Vec<Task>,
}

/// A Dojo v2 generation task as `GET /api/v1/generations` shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Generation {
    /// The miner's id for it.
    pub id: String,
    /// What to build.
    pub prompt: String,
    /// Deadline, ms since the epoch.
    pub expire_at_ms: i64,
}

#[derive(Debug, Deserialize)]
struct GenerationList {
    generations: Vec<Generation>,
}

/// A joined worker: the bearer token the page issued.
#[derive(Debug, Clone)]
pub struct Session {
    /// Bearer token (`st-…`).
    pub token: String,
    /// The id the miner stores this worker's results under.
    pub worker_id: String,
}

/// HTTP client of one page.
#[derive(Debug, Clone)]
pub struct PageClient {
    http: reqwest::Client,
    base: String,
}

impl PageClient {
    /// A client of the page at `base` (`http://host:port`), each request bounded by `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(ApiError::Network)?;
        Ok(PageClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The page's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn check(r: reqwest::Response) -> Result<reqwest::Response, ApiError> {
        let status = r.status();
        if status.is_success() {
            return Ok(r);
        }
        let body = r.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(body);
        Err(ApiError::Status {
            status: status.as_u16(),
            message,
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T, ApiError> {
        let bytes = Self::check(r)
            .await?
            .bytes()
            .await
            .map_err(ApiError::Network)?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode(e.to_string()))
    }

    /// `POST /api/v1/session` with a subscription or API key.
    pub async fn join(&self, key: &str) -> Result<Session, ApiError> {
        let r = self
            .http
            .post(format!("{}/api/v1/session", self.base))
            .json(&serde_json::json!({ "key": key }))
            .send()
            .await
            .map_err(ApiError::Network)?;
        let j: JoinResponse = Self::json(r).await?;
        Ok(Session {
            token: j.token,
            worker_id: j.worker_id,
        })
    }

    /// `GET /api/v1/tasks`: open tasks this worker has not answered.
    pub async fn tasks(&self, session: &Session) -> Result<Vec<Task>, ApiError> {
        let r = self
            .http
            .get(format!("{}/api/v1/tasks", self.base))
            .bearer_auth(&session.token)
            .send()
            .await
            .map_err(ApiError::Network)?;
        Ok(Self::json::<TaskList>(r).await?.tasks)
    }

    /// `GET /api/v1/generations`: open Dojo v2 generation tasks (a miner with the human provider).
    pub async fn generations(&self, session: &Session) -> Result<Vec<Generation>, ApiError> {
        let r = self
            .http
            .get(format!("{}/api/v1/generations", self.base))
            .bearer_auth(&session.token)
            .send()
            .await
            .map_err(ApiError::Network)?;
        Ok(Self::json::<GenerationList>(r).await?.generations)
    }

    /// `POST /api/v1/generations/{id}` with the page.
    pub async fn write_page(
        &self,
        session: &Session,
        id: &str,
        html: &str,
    ) -> Result<(), ApiError> {
        let r = self
            .http
            .post(format!("{}/api/v1/generations/{id}", self.base))
            .bearer_auth(&session.token)
            .json(&serde_json::json!({ "html": html }))
            .send()
            .await
            .map_err(ApiError::Network)?;
        Self::check(r).await.map(|_| ())
    }

    /// `POST /api/v1/tasks/{id}/results`; the number of results the task now has.
    pub async fn submit(
        &self,
        session: &Session,
        task_id: &str,
        answers: &[AnswerInput],
    ) -> Result<u32, ApiError> {
        let r = self
            .http
            .post(format!("{}/api/v1/tasks/{task_id}/results", self.base))
            .bearer_auth(&session.token)
            .json(&serde_json::json!({ "answers": answers }))
            .send()
            .await
            .map_err(ApiError::Network)?;
        let v: serde_json::Value = Self::json(r).await?;
        Ok(v["num_results"]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0))
    }
}
