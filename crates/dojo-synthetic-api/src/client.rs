//! The Rust client of the synthetic API (feature `client`), for validators: fetch one task with
//! its ground truth, and turn it into the domain [`Task`] sent to miners plus the [`Ranking`]
//! that stays with the validator.
//!
//! `503 Service Unavailable` is the service saying "no task is ready yet"; it is its own outcome
//! ([`Fetched::NotReady`]) so a validator backs off instead of treating it as a failure.

use std::collections::BTreeSet;
use std::time::Duration;

use dojo_types::task::{CodeFile, Completion, CompletionContent, Task, TaskType};
use dojo_types::{CompletionId, Criterion, Ranking, TaskId};

use crate::wire::{Envelope, SyntheticQa};

/// Client errors. [`Fetched::NotReady`] is not an error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL does not parse.
    #[error("invalid synthetic API URL {url:?}: {reason}")]
    Url {
        /// What was given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// Connection, timeout or body read failure.
    #[error("synthetic API unreachable: {0}")]
    Transport(String),
    /// A status other than 200 and 503.
    #[error("synthetic API answered {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The body is not the documented JSON.
    #[error("synthetic API body does not decode: {0}")]
    Decode(String),
    /// A 200 whose envelope says `success: false` or carries no body.
    #[error("synthetic API reported failure: {0}")]
    Refused(String),
}

/// Why a [`SyntheticQa`] cannot become a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QaError {
    /// No completions.
    #[error("the task has no completions")]
    Empty,
    /// A completion id is not a valid id.
    #[error("completion id {0:?} is invalid")]
    BadId(String),
    /// Two completions share an id.
    #[error("completion id {0:?} appears twice")]
    DuplicateId(String),
    /// The ground truth does not name exactly the completions.
    #[error("ground-truth ids differ from completion ids")]
    GroundTruthMismatch,
    /// The ground-truth ranks are not `0..C`.
    #[error("ground truth is not a ranking: {0}")]
    Ranking(String),
    /// The criterion bounds are invalid.
    #[error("criterion: {0}")]
    Criterion(String),
}

/// What one fetch produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// A task with ground truth.
    Task(Box<SyntheticQa>),
    /// `503`: the pre-generation buffer is empty; ask again later.
    NotReady {
        /// The service's explanation.
        reason: String,
    },
}

/// A client for one synthetic API base URL (e.g. `http://127.0.0.1:5003`).
#[derive(Debug, Clone)]
pub struct SyntheticClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
}

impl SyntheticClient {
    /// A client with a per-request `timeout`; `api_key`, when given, is sent as `Authorization: Bearer <key>`, which
    /// the service checks (see [`crate::auth`]).
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(ClientError::Url {
                url: base_url.to_owned(),
                reason: "expected http://host:port".into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base,
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /api/synthetic-gen`.
    pub async fn fetch(&self) -> Result<Fetched, ClientError> {
        let mut req = self.http.get(format!("{}/api/synthetic-gen", self.base));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        match status {
            200 => {
                let env: Envelope<SyntheticQa> = serde_json::from_slice(&body)
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                match (env.success, env.body) {
                    (true, Some(qa)) => Ok(Fetched::Task(Box::new(qa))),
                    (_, _) => Err(ClientError::Refused(
                        env.error.unwrap_or_else(|| "no body".into()),
                    )),
                }
            }
            503 => {
                let reason = serde_json::from_slice::<Envelope<SyntheticQa>>(&body)
                    .ok()
                    .and_then(|e| e.error)
                    .unwrap_or_else(|| "service unavailable".into());
                Ok(Fetched::NotReady { reason })
            }
            _ => Err(ClientError::Status {
                status,
                body: String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned(),
            }),
        }
    }
}

/// Dojo v1's criterion for a synthetic task: a 1–100 score per completion.
pub fn default_criterion(ids: &[CompletionId]) -> Criterion {
    Criterion::MultiScore {
        options: ids.iter().map(|c| c.to_string()).collect(),
        min: 1.0,
        max: 100.0,
    }
}

impl SyntheticQa {
    /// The task to send (completions in the service's order, each with its id as the only name)
    /// and the ground truth to keep. `min`/`max` bound the per-completion scores.
    pub fn to_task(
        &self,
        id: TaskId,
        expire_at_unix_ms: i64,
        min: f64,
        max: f64,
    ) -> Result<(Task, Ranking), QaError> {
        if self.responses.is_empty() {
            return Err(QaError::Empty);
        }
        let mut seen = BTreeSet::new();
        let mut completions = Vec::with_capacity(self.responses.len());
        for r in &self.responses {
            let cid =
                CompletionId::new(r.cid.clone()).map_err(|_| QaError::BadId(r.cid.clone()))?;
            if !seen.insert(r.cid.as_str()) {
                return Err(QaError::DuplicateId(r.cid.clone()));
            }
            completions.push(Completion {
                id: cid,
                content: CompletionContent::Code {
                    files: r
                        .completion
                        .files
                        .iter()
                        .map(|f| CodeFile {
                            filename: f.filename.clone(),
                            content: f.content.clone(),
                            language: f.language.clone(),
                        })
                        .collect(),
                    installation_commands: String::new(),
                },
            });
        }
        let truth_ids: BTreeSet<&str> = self.ground_truth.keys().map(String::as_str).collect();
        if truth_ids != seen {
            return Err(QaError::GroundTruthMismatch);
        }
        let ranking = Ranking::new(
            completions
                .iter()
                .map(|c| (c.id.clone(), self.ground_truth[c.id.as_str()])),
        )
        .map_err(|e| QaError::Ranking(e.to_string()))?;
        let ids: Vec<CompletionId> = completions.iter().map(|c| c.id.clone()).collect();
        let criterion = match default_criterion(&ids) {
            Criterion::MultiScore { options, .. } => Criterion::multi_score(options, min, max)
                .map_err(|e| QaError::Criterion(e.to_string()))?,
            other => other,
        };
        Ok((
            Task {
                id,
                previous: None,
                prompt: self.prompt.clone(),
                task_type: TaskType::CodeGeneration,
                completions,
                criteria: vec![criterion],
                expire_at_unix_ms,
            },
            ranking,
        ))
    }
}
