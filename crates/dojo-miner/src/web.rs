//! The worker page: where the miner's human workers score tasks, and the JSON API behind it.
//!
//! Server-rendered HTML (no framework, nothing from a CDN) plus one small script that shows slider
//! values. Workers join with a key the operator issued (`dojo-miner keys generate`) and get a
//! session cookie (or, through the JSON API, a bearer token). Every completion that is code runs in
//! an `<iframe sandbox="allow-scripts">` without `allow-same-origin`, loaded from `/render/…`, which
//! carries its own CSP (`sandbox allow-scripts`, no network): the page runs in an opaque origin,
//! cannot read the worker's cookie, call the worker API or navigate the top window. Text and
//! dialogue are HTML-escaped.
//!
//! Routes (the JSON API is documented in `docs/miner.md`):
//!
//! | route | what |
//! |---|---|
//! | `GET /` | join form |
//! | `POST /join` | form join: sets the session cookie, redirects to `/tasks` |
//! | `GET /tasks`, `GET /tasks/{id}` | open tasks; one task with its scoring form |
//! | `POST /tasks/{id}` | form submission |
//! | `GET /generate/{id}`, `POST /generate/{id}` | a v2 generation task: paste or upload one page |
//! | `GET /render/{id}/{completion}` | a code completion's page, sandboxed |
//! | `POST /api/v1/session` | JSON join → `{token, worker_id, expires_at_ms}` |
//! | `GET /api/v1/tasks`, `GET /api/v1/tasks/{id}` | open tasks as JSON |
//! | `POST /api/v1/tasks/{id}/results` | JSON submission |
//! | `GET /api/v1/generations` | open v2 generation tasks as JSON (human provider only) |
//! | `POST /api/v1/generations/{id}` | JSON page submission `{html}` |
//! | `GET /healthz` | liveness |

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dojo_types::task::{
    Answer, CompletionAnswer, CompletionContent, Generated, Role, ScoringMethod, Task, TaskType,
    WorkerResult,
};
use dojo_types::{CompletionId, Criterion, Score};
use serde::{Deserialize, Serialize};

use crate::grpc::now_ms;
use crate::keys;
use crate::provider::{MAX_COMPLETION_BYTES, page_completion};
use crate::service::{MinerService, VOTE_PREFIX};
use crate::store::{ResultRefused, Session, StoreError, StoredGeneration, StoredTask};

/// Worker page settings.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where the page listens.
    pub bind: SocketAddr,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

impl WebConfig {
    /// Defaults for `bind`: 12-hour sessions, 64 KiB bodies.
    pub fn new(bind: SocketAddr) -> Self {
        WebConfig {
            bind,
            session_ttl: Duration::from_secs(12 * 3600),
            max_body_bytes: 64 * 1024,
        }
    }
}

const COOKIE: &str = "dojo_session";

/// Body limit of a page submission: the largest page, form-encoded (up to three bytes per byte),
/// plus room for the rest of the body.
const PAGE_BODY_LIMIT: usize = 3 * MAX_COMPLETION_BYTES + 4096;

/// CSP of the worker's own pages: only this origin's script and style, frames only from here.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// CSP of a rendered completion: a sandbox with scripts but no same-origin, and no network at all,
/// so the page cannot phone home, read cookies or reach the API even if opened directly.
const RENDER_CSP: &str = "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; img-src data: blob:; font-src data:; media-src data: blob:; connect-src 'none'; \
    form-action 'none'; base-uri 'none'";

const STYLE: &str = include_str!("web/page.css");
const SCRIPT: &str = include_str!("web/page.js");

/// The worker page over a [`MinerService`].
#[derive(Debug, Clone)]
pub struct WorkerPage {
    service: MinerService,
    config: WebConfig,
}

/// A JSON API error: `{"error": "..."}` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing, expired or revoked session; join again with your key",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(target: "miner::web", error = %e, "storage failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage failed; nothing was recorded",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// `POST /api/v1/session` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// A subscription (or API) key.
    pub key: String,
}

/// `POST /api/v1/session` answer.
#[derive(Debug, Serialize)]
pub struct JoinResponse {
    /// Bearer token for the API (the page uses a cookie with the same value).
    pub token: String,
    /// The id results are stored under.
    pub worker_id: String,
    /// End of validity, ms since the epoch.
    pub expires_at_ms: i64,
}

/// A task as the API shows it.
#[derive(Debug, Serialize)]
pub struct TaskView {
    /// The miner's id for the task (validators' ids are never shown).
    pub id: String,
    /// `judge` (score or rank the responses) or `vote` (a Dojo v2 vote: rank the better response
    /// first; its one criterion is a ranking).
    pub role: &'static str,
    /// Kind of task.
    pub task_type: &'static str,
    /// The prompt.
    pub prompt: String,
    /// Deadline, ms since the epoch.
    pub expire_at_ms: i64,
    /// What to answer, in order; answers refer to criteria by index.
    pub criteria: Vec<CriterionView>,
    /// The responses.
    pub completions: Vec<CompletionView>,
}

/// A criterion as the API shows it.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum CriterionView {
    /// Give each completion a distinct rank, 0 best.
    Ranking,
    /// One score per completion in `[min, max]`.
    Score {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// One score per completion for each option (or one per completion when the options are
    /// the completion ids).
    MultiScore {
        /// Option names.
        options: Vec<String>,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// True when the options are the completion ids: answer with `score`, not `scores`.
        per_completion: bool,
    },
    /// Free text of bounded length.
    Text {
        /// Shortest.
        min_len: u32,
        /// Longest.
        max_len: u32,
    },
}

/// A completion as the API shows it.
#[derive(Debug, Serialize)]
pub struct CompletionView {
    /// Completion id.
    pub id: String,
    /// `text`, `dialogue` or `code`.
    pub kind: &'static str,
    /// Text, dialogue turns (`role: message` lines) or the code files' contents.
    pub content: String,
    /// For code: the sandboxed page URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub render_url: Option<String>,
}

/// One answer in a submission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// Completion id.
    pub completion_id: String,
    /// Index into the task's criteria.
    pub criterion: usize,
    /// For `score` and per-completion `multi-score`.
    #[serde(default)]
    pub score: Option<serde_json::Value>,
    /// For `multi-score` with named options.
    #[serde(default)]
    pub scores: Option<BTreeMap<String, serde_json::Value>>,
    /// For `ranking`.
    #[serde(default)]
    pub rank: Option<serde_json::Value>,
    /// For `text`.
    #[serde(default)]
    pub text: Option<String>,
}

/// `POST /api/v1/tasks/{id}/results` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// One answer per (completion, criterion).
    pub answers: Vec<AnswerInput>,
}

/// `POST /api/v1/tasks/{id}/results` answer.
#[derive(Debug, Serialize)]
pub struct SubmitResponse {
    /// Results the task now has.
    pub num_results: u32,
}

fn per_completion(options: &[String], task: &Task) -> bool {
    let ids: HashSet<&str> = task.completions.iter().map(|c| c.id.as_str()).collect();
    !options.is_empty()
        && options.len() == ids.len()
        && options.iter().all(|o| ids.contains(o.as_str()))
}

fn task_type(t: TaskType) -> &'static str {
    match t {
        TaskType::CodeGeneration => "code-generation",
        TaskType::Dialogue => "dialogue",
        TaskType::TextToImage => "text-to-image",
        TaskType::TextToThreeD => "text-to-3d",
        TaskType::TextFeedback => "text-feedback",
        TaskType::ScoreFeedback => "score-feedback",
    }
}

fn view(stored: &StoredTask) -> TaskView {
    let task = &stored.task;
    TaskView {
        id: stored.miner_task_id.clone(),
        role: if is_vote(stored) { "vote" } else { "judge" },
        task_type: task_type(task.task_type),
        prompt: task.prompt.clone(),
        expire_at_ms: task.expire_at_unix_ms,
        criteria: task
            .criteria
            .iter()
            .map(|c| match c {
                Criterion::Ranking => CriterionView::Ranking,
                Criterion::Score { min, max } => CriterionView::Score {
                    min: *min,
                    max: *max,
                },
                Criterion::MultiScore { options, min, max } => CriterionView::MultiScore {
                    options: options.clone(),
                    min: *min,
                    max: *max,
                    per_completion: per_completion(options, task),
                },
                Criterion::Text { min_len, max_len } => CriterionView::Text {
                    min_len: *min_len,
                    max_len: *max_len,
                },
            })
            .collect(),
        completions: task
            .completions
            .iter()
            .map(|c| {
                let (kind, content, render) = match &c.content {
                    CompletionContent::Text(t) => ("text", t.clone(), false),
                    CompletionContent::Dialogue(turns) => (
                        "dialogue",
                        turns
                            .iter()
                            .map(|t| format!("{}: {}", role(t.role), t.message))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        false,
                    ),
                    CompletionContent::Code { files, .. } => (
                        "code",
                        files
                            .iter()
                            .map(|f| f.content.as_str())
                            .collect::<Vec<_>>()
                            .join("\n"),
                        true,
                    ),
                    CompletionContent::Media(_) => ("media", String::new(), false),
                };
                CompletionView {
                    id: c.id.to_string(),
                    kind,
                    content,
                    render_url: render
                        .then(|| format!("/render/{}/{}", stored.miner_task_id, c.id)),
                }
            })
            .collect(),
    }
}

fn is_vote(stored: &StoredTask) -> bool {
    stored.task.id.as_str().starts_with(VOTE_PREFIX)
}

/// A v2 generation task as the API shows it.
#[derive(Debug, Serialize)]
pub struct GenerationView {
    /// The miner's id for the task.
    pub id: String,
    /// Kind of task (`code-generation`: one HTML page).
    pub task_type: &'static str,
    /// What to build.
    pub prompt: String,
    /// Deadline, ms since the epoch.
    pub expire_at_ms: i64,
}

fn generation_view(g: &StoredGeneration) -> GenerationView {
    GenerationView {
        id: g.miner_task_id.clone(),
        task_type: task_type(g.task.task_type),
        prompt: g.task.prompt.clone(),
        expire_at_ms: g.task.expire_at_unix_ms,
    }
}

/// `POST /api/v1/generations/{id}` body (and the `/generate/{id}` form).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    /// The whole page, one HTML file.
    pub html: String,
}

/// `POST /api/v1/generations/{id}` answer.
#[derive(Debug, Serialize)]
pub struct PageResponse {
    /// The completion id the page is sent to validators under.
    pub completion_id: String,
}

fn role(r: Role) -> &'static str {
    match r {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

fn number(v: &serde_json::Value, what: &str) -> Result<f64, String> {
    match v {
        serde_json::Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| format!("{what} must be a finite number")),
        serde_json::Value::String(s) => {
            let f: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("{what} must be a number, got {s:?}"))?;
            if f.is_finite() {
                Ok(f)
            } else {
                Err(format!("{what} must be a finite number, got {s:?}"))
            }
        }
        other => Err(format!("{what} must be a number, got {other}")),
    }
}

fn in_range(v: f64, min: f64, max: f64, what: &str) -> Result<Score, String> {
    if !(min..=max).contains(&v) {
        return Err(format!("{what} {v} is outside [{min}, {max}]"));
    }
    Score::new(v).map_err(|e| format!("{what}: {e}"))
}

/// Turns a submission into a worker result, checking it answers every (completion, criterion)
/// exactly once, with values of the right kind and in range, and ranks that are a permutation.
pub fn validate_submission(
    task: &Task,
    worker_id: &str,
    answers: &[AnswerInput],
) -> Result<WorkerResult, String> {
    let completions: Vec<&CompletionId> = task.completions.iter().map(|c| &c.id).collect();
    let mut given: BTreeMap<(usize, String), &AnswerInput> = BTreeMap::new();
    for a in answers {
        if a.criterion >= task.criteria.len() {
            return Err(format!(
                "criterion {} does not exist (the task has {})",
                a.criterion,
                task.criteria.len()
            ));
        }
        if !completions.iter().any(|c| c.as_str() == a.completion_id) {
            return Err(format!(
                "completion {:?} is not in this task",
                a.completion_id
            ));
        }
        if given
            .insert((a.criterion, a.completion_id.clone()), a)
            .is_some()
        {
            return Err(format!(
                "completion {} is answered twice for criterion {}",
                a.completion_id, a.criterion
            ));
        }
    }
    let mut out = Vec::new();
    for (ci, criterion) in task.criteria.iter().enumerate() {
        let mut ranks = Vec::new();
        for cid in &completions {
            let a = given
                .get(&(ci, cid.to_string()))
                .ok_or_else(|| format!("completion {cid} has no answer for criterion {ci}"))?;
            let what = format!("answer for {cid}, criterion {ci}");
            let answer = match criterion {
                Criterion::Ranking => {
                    let r = number(
                        a.rank.as_ref().ok_or(format!("{what} needs `rank`"))?,
                        &what,
                    )?;
                    if r.fract() != 0.0 || r < 0.0 || r >= completions.len() as f64 {
                        return Err(format!(
                            "{what}: rank {r} must be a whole number in 0..{}",
                            completions.len()
                        ));
                    }
                    let r = r as u32;
                    ranks.push(r);
                    Answer::Rank(r)
                }
                Criterion::Score { min, max } => {
                    let v = number(
                        a.score.as_ref().ok_or(format!("{what} needs `score`"))?,
                        &what,
                    )?;
                    Answer::Score(in_range(v, *min, *max, &what)?)
                }
                Criterion::MultiScore { options, min, max } if per_completion(options, task) => {
                    let v = number(
                        a.score.as_ref().ok_or(format!("{what} needs `score`"))?,
                        &what,
                    )?;
                    Answer::Score(in_range(v, *min, *max, &what)?)
                }
                Criterion::MultiScore { options, min, max } => {
                    let m = a.scores.as_ref().ok_or(format!("{what} needs `scores`"))?;
                    let mut scores = BTreeMap::new();
                    for o in options {
                        let v = number(
                            m.get(o)
                                .ok_or(format!("{what} has no score for option {o:?}"))?,
                            &what,
                        )?;
                        scores.insert(o.clone(), in_range(v, *min, *max, &what)?);
                    }
                    if let Some(extra) = m.keys().find(|k| !options.contains(k)) {
                        return Err(format!("{what}: option {extra:?} is not in the criterion"));
                    }
                    Answer::MultiScore(scores)
                }
                Criterion::Text { min_len, max_len } => {
                    let t = a
                        .text
                        .as_deref()
                        .ok_or(format!("{what} needs `text`"))?
                        .trim();
                    let n = u32::try_from(t.chars().count()).unwrap_or(u32::MAX);
                    if n < *min_len || n > *max_len {
                        return Err(format!(
                            "{what}: text has {n} characters, outside {min_len}..={max_len}"
                        ));
                    }
                    Answer::Text(t.to_owned())
                }
            };
            out.push(CompletionAnswer {
                completion: (*cid).clone(),
                answer,
            });
        }
        if !ranks.is_empty() {
            let distinct: HashSet<u32> = ranks.iter().copied().collect();
            if distinct.len() != ranks.len() {
                return Err(format!(
                    "criterion {ci}: each response needs a different rank"
                ));
            }
        }
    }
    Ok(WorkerResult {
        worker_id: worker_id.to_owned(),
        answers: out,
    })
}

fn token_from(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

impl WorkerPage {
    /// A page over `service`.
    pub fn new(service: MinerService, config: WebConfig) -> Self {
        WorkerPage { service, config }
    }

    /// The axum router with every route.
    pub fn router(self) -> Router {
        let limit = self.config.max_body_bytes;
        Router::new()
            .route("/", get(join_page))
            .route("/join", post(join_form))
            .route("/tasks", get(tasks_page))
            .route("/tasks/{id}", get(task_page).post(submit_form))
            .route("/render/{id}/{completion}", get(render))
            .route(
                "/generate/{id}",
                get(generate_page)
                    .post(generate_form.layer(DefaultBodyLimit::max(PAGE_BODY_LIMIT))),
            )
            .route("/api/v1/generations", get(generations_api))
            .route(
                "/api/v1/generations/{id}",
                post(generate_api.layer(DefaultBodyLimit::max(PAGE_BODY_LIMIT))),
            )
            .route("/static/page.css", get(css))
            .route("/static/page.js", get(js))
            .route("/api/v1/session", post(join_api))
            .route("/api/v1/tasks", get(tasks_api))
            .route("/api/v1/tasks/{id}", get(task_api))
            .route("/api/v1/tasks/{id}/results", post(submit_api))
            .route("/healthz", get(|| async { "ok" }))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self)
    }

    async fn session(&self, headers: &HeaderMap) -> Result<Session, ApiError> {
        let token = token_from(headers).ok_or_else(ApiError::unauthorized)?;
        self.service
            .store()
            .session(&keys::hash_secret(&token), now_ms())
            .await?
            .ok_or_else(ApiError::unauthorized)
    }

    async fn join(&self, key: &str) -> Result<JoinResponse, ApiError> {
        let record = self
            .service
            .store()
            .live_key(&keys::hash_secret(key))
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unknown or revoked key"))?;
        let token = keys::new_token();
        let expires = now_ms()
            .saturating_add(i64::try_from(self.config.session_ttl.as_millis()).unwrap_or(i64::MAX));
        let session = Session {
            worker_id: format!("w-{}", uuid::Uuid::new_v4()),
            key_id: record.id,
            expires_at_ms: expires,
        };
        self.service
            .store()
            .insert_session(&keys::hash_secret(&token), &session)
            .await?;
        tracing::info!(target: "miner::web", worker = %session.worker_id, key = %session.key_id, "worker joined");
        Ok(JoinResponse {
            token,
            worker_id: session.worker_id,
            expires_at_ms: expires,
        })
    }

    async fn open_task(&self, id: &str, session: &Session) -> Result<StoredTask, ApiError> {
        let gone = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such open task (it may have expired or be full)",
            )
        };
        let stored = self
            .service
            .store()
            .task_by_miner_id(id)
            .await?
            .ok_or_else(gone)?;
        let open = stored.state == crate::store::TaskState::Open
            && stored.task.expire_at_unix_ms > now_ms()
            && stored.num_results < self.service.provider().max_results()
            && !self
                .service
                .store()
                .has_result(&stored.caller, &stored.task.id, &session.worker_id)
                .await?;
        if !open {
            return Err(gone());
        }
        Ok(stored)
    }

    async fn submit(
        &self,
        id: &str,
        session: &Session,
        answers: &[AnswerInput],
    ) -> Result<SubmitResponse, ApiError> {
        let stored = self
            .service
            .store()
            .task_by_miner_id(id)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such task"))?;
        let result = validate_submission(&stored.task, &session.worker_id, answers)
            .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
        match self
            .service
            .add_result(&stored.caller, &stored.task.id, &result, now_ms())
            .await?
        {
            Ok(()) => {}
            Err(r) => {
                let status = match r {
                    ResultRefused::UnknownTask => StatusCode::NOT_FOUND,
                    ResultRefused::Expired => StatusCode::GONE,
                    ResultRefused::Declined | ResultRefused::Full { .. } => StatusCode::CONFLICT,
                    ResultRefused::Duplicate => StatusCode::CONFLICT,
                };
                return Err(ApiError::new(status, r.to_string()));
            }
        }
        tracing::info!(target: "miner::web", worker = %session.worker_id, task = %stored.miner_task_id, "result submitted");
        Ok(SubmitResponse {
            num_results: stored.num_results.saturating_add(1),
        })
    }

    /// Workers write generation tasks only when the miner's provider is human; an automatic
    /// provider writes them itself.
    fn writes_by_hand(&self) -> bool {
        self.service.provider().method() == ScoringMethod::Human
    }

    async fn open_generations(&self) -> Result<Vec<StoredGeneration>, ApiError> {
        if !self.writes_by_hand() {
            return Ok(Vec::new());
        }
        Ok(self.service.store().open_generations(now_ms(), 100).await?)
    }

    async fn open_generation(&self, id: &str) -> Result<StoredGeneration, ApiError> {
        let gone = || {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such open generation task (it may have expired or been written)",
            )
        };
        if !self.writes_by_hand() {
            return Err(gone());
        }
        let g = self
            .service
            .store()
            .generation_by_miner_id(id)
            .await?
            .ok_or_else(gone)?;
        if g.state != crate::store::TaskState::Open
            || g.generated.is_some()
            || g.task.expire_at_unix_ms <= now_ms()
        {
            return Err(gone());
        }
        Ok(g)
    }

    async fn write_page(
        &self,
        id: &str,
        session: &Session,
        html: &str,
    ) -> Result<PageResponse, ApiError> {
        let g = self.open_generation(id).await?;
        let completion = page_completion(&g.miner_task_id, html)
            .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
        let generated = Generated {
            completion,
            author: session.worker_id.clone(),
        };
        match self.service.add_generation(&g, generated, now_ms()).await? {
            Ok(()) => {}
            Err(r) => {
                let status = match r {
                    ResultRefused::UnknownTask => StatusCode::NOT_FOUND,
                    ResultRefused::Expired => StatusCode::GONE,
                    _ => StatusCode::CONFLICT,
                };
                let message = match r {
                    ResultRefused::Full { .. } => "this task already has its page".to_owned(),
                    other => other.to_string(),
                };
                return Err(ApiError::new(status, message));
            }
        }
        tracing::info!(target: "miner::web", worker = %session.worker_id, task = %g.miner_task_id, bytes = html.len(), "page written");
        Ok(PageResponse {
            completion_id: g.miner_task_id,
        })
    }
}

async fn generations_api(
    State(page): State<WorkerPage>,
    headers: HeaderMap,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    page.session(&headers).await?;
    let views: Vec<GenerationView> = page
        .open_generations()
        .await?
        .iter()
        .map(generation_view)
        .collect();
    Ok(axum::Json(serde_json::json!({ "generations": views })))
}

async fn generate_api(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<axum::Json<PageRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::Json<PageResponse>, ApiError> {
    let session = page.session(&headers).await?;
    let axum::Json(req) = body.map_err(json_rejection)?;
    Ok(axum::Json(page.write_page(&id, &session, &req.html).await?))
}

async fn generate_page(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if page.session(&headers).await.is_err() {
        return Redirect::to("/").into_response();
    }
    let g = match page.open_generation(&id).await {
        Ok(g) => g,
        Err(e) => return error_page(e.status, &e.message),
    };
    let body = format!(
        "<h1>Write a page</h1><p class=\"meta\">Closes in <time datetime=\"{ms}\">{left}</time></p>\
         <section class=\"prompt\" aria-label=\"Prompt\"><h2>Prompt</h2><pre>{prompt}</pre></section>\
         <form method=\"post\" action=\"/generate/{id}\" class=\"generate\" id=\"generate-form\">\
         <p>Answer with one self-contained HTML file (inline CSS and JavaScript; it runs sandboxed, \
         without network access, when workers and validators look at it). Paste it below, or choose \
         the file.</p>\
         <label for=\"upload\">Choose a file</label>\
         <input type=\"file\" id=\"upload\" accept=\".html,.htm,text/html\" data-into=\"html\">\
         <label for=\"html\">Page source</label>\
         <textarea id=\"html\" name=\"html\" rows=\"18\" spellcheck=\"false\" required></textarea>\
         <button type=\"submit\" id=\"submit\">Submit page</button></form>",
        ms = g.task.expire_at_unix_ms,
        left = remaining(g.task.expire_at_unix_ms),
        prompt = esc(&g.task.prompt),
        id = esc(&g.miner_task_id),
    );
    html_page("Write a page", &body)
}

async fn generate_form(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<axum::Form<PageRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let session = match page.session(&headers).await {
        Ok(s) => s,
        Err(e) => return error_page(e.status, &e.message),
    };
    let req = match form {
        Ok(axum::Form(f)) => f,
        Err(e) => return error_page(e.status(), &e.body_text()),
    };
    match page.write_page(&id, &session, &req.html).await {
        Ok(_) => html_page(
            "Submitted",
            "<h1 id=\"done\">Thank you</h1><p role=\"status\">Your page was recorded.</p><p><a href=\"/tasks\" id=\"next\">Next task</a></p>",
        ),
        Err(e) => error_page(e.status, &e.message),
    }
}

async fn join_api(
    State(page): State<WorkerPage>,
    body: Result<axum::Json<JoinRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::Json<JoinResponse>, ApiError> {
    let axum::Json(req) = body.map_err(json_rejection)?;
    Ok(axum::Json(page.join(&req.key).await?))
}

fn json_rejection(e: axum::extract::rejection::JsonRejection) -> ApiError {
    ApiError::new(e.status(), format!("bad JSON body: {}", e.body_text()))
}

async fn tasks_api(
    State(page): State<WorkerPage>,
    headers: HeaderMap,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let session = page.session(&headers).await?;
    let tasks = page
        .service
        .store()
        .open_tasks(
            now_ms(),
            page.service.provider().max_results(),
            Some(&session.worker_id),
            100,
        )
        .await?;
    let views: Vec<TaskView> = tasks.iter().map(view).collect();
    Ok(axum::Json(serde_json::json!({ "tasks": views })))
}

async fn task_api(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<axum::Json<TaskView>, ApiError> {
    let session = page.session(&headers).await?;
    let stored = page.open_task(&id, &session).await?;
    Ok(axum::Json(view(&stored)))
}

async fn submit_api(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<axum::Json<SubmitRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<axum::Json<SubmitResponse>, ApiError> {
    let session = page.session(&headers).await?;
    let axum::Json(req) = body.map_err(json_rejection)?;
    Ok(axum::Json(page.submit(&id, &session, &req.answers).await?))
}

// ---------------------------------------------------------------------------------------------
// HTML

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html_page(title: &str, body: &str) -> Response {
    let doc = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Dojo miner</title><link rel=\"stylesheet\" href=\"/static/page.css\">\
         <script src=\"/static/page.js\" defer></script></head>\
         <body><header><a href=\"/tasks\" class=\"brand\">Dojo worker</a></header><main id=\"main\">{}</main></body></html>",
        esc(title),
        body
    );
    let mut resp = axum::response::Html(doc).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let mut r = html_page(
        "Error",
        &format!(
            "<h1>Something went wrong</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/tasks\">Back to tasks</a> · <a href=\"/\">Join</a></p>",
            esc(message)
        ),
    );
    *r.status_mut() = status;
    r
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

async fn join_page() -> Response {
    html_page(
        "Join",
        "<h1>Join this miner</h1>\
         <p>Enter the subscription key the miner's operator gave you.</p>\
         <form method=\"post\" action=\"/join\" class=\"join\">\
         <label for=\"key\">Subscription key</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" required autofocus>\
         <button type=\"submit\" id=\"join\">Join</button></form>",
    )
}

#[derive(Debug, Deserialize)]
struct JoinForm {
    key: String,
}

async fn join_form(
    State(page): State<WorkerPage>,
    form: Result<axum::Form<JoinForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "the form needs a key");
    };
    match page.join(&form.key).await {
        Ok(joined) => {
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                joined.token,
                page.config.session_ttl.as_secs()
            );
            let mut r = Redirect::to("/tasks").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => error_page(e.status, &e.message),
    }
}

fn remaining(expire_at_ms: i64) -> String {
    let s = (expire_at_ms - now_ms()).max(0) / 1000;
    if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

async fn tasks_page(State(page): State<WorkerPage>, headers: HeaderMap) -> Response {
    let session = match page.session(&headers).await {
        Ok(s) => s,
        Err(_) => return Redirect::to("/").into_response(),
    };
    let tasks = match page
        .service
        .store()
        .open_tasks(
            now_ms(),
            page.service.provider().max_results(),
            Some(&session.worker_id),
            100,
        )
        .await
    {
        Ok(t) => t,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    let generations = match page.open_generations().await {
        Ok(g) => g,
        Err(e) => return error_page(e.status, &e.message),
    };
    let mut body = String::from("<h1>Open tasks</h1>");
    if !generations.is_empty() {
        body.push_str("<h2>Pages to write</h2><ul class=\"tasks\" id=\"generations\">");
        for g in &generations {
            let prompt: String = g.task.prompt.chars().take(160).collect();
            let _ = write!(
                body,
                "<li><a class=\"generation-link\" href=\"/generate/{id}\">{prompt}</a>\
                 <span class=\"meta\">write one page · closes in <time datetime=\"{ms}\">{left}</time></span></li>",
                id = esc(&g.miner_task_id),
                prompt = esc(&prompt),
                ms = g.task.expire_at_unix_ms,
                left = remaining(g.task.expire_at_unix_ms),
            );
        }
        body.push_str("</ul><h2>Responses to judge</h2>");
    }
    if tasks.is_empty() {
        body.push_str("<p id=\"no-tasks\">No open tasks right now. This page does not refresh by itself; reload it later.</p>");
    } else {
        body.push_str("<ul class=\"tasks\">");
        for t in &tasks {
            let prompt: String = t.task.prompt.chars().take(160).collect();
            let _ = write!(
                body,
                "<li><a class=\"task-link\" href=\"/tasks/{id}\">{prompt}</a>\
                 <span class=\"meta\">{kind}{n} responses · closes in <time datetime=\"{ms}\">{left}</time></span></li>",
                kind = if is_vote(t) { "vote · " } else { "" },
                id = esc(&t.miner_task_id),
                prompt = esc(&prompt),
                n = t.task.completions.len(),
                ms = t.task.expire_at_unix_ms,
                left = remaining(t.task.expire_at_unix_ms),
            );
        }
        body.push_str("</ul>");
    }
    html_page("Open tasks", &body)
}

fn field(ci: usize, cid: &str, option: Option<usize>) -> String {
    match option {
        Some(o) => format!("c{ci}.{o}.{cid}"),
        None => format!("c{ci}.{cid}"),
    }
}

fn task_form(stored: &StoredTask) -> String {
    let task = &stored.task;
    let mut b = String::new();
    let heading = if is_vote(stored) {
        "<h1>Vote</h1><p>Which response does the prompt better? Put it first in the ranking.</p>"
    } else {
        "<h1>Task</h1>"
    };
    b.push_str(heading);
    let _ = write!(
        b,
        "<p class=\"meta\">Closes in <time datetime=\"{}\">{}</time></p>\
         <section class=\"prompt\" aria-label=\"Prompt\"><h2>Prompt</h2><pre>{}</pre></section>",
        task.expire_at_unix_ms,
        remaining(task.expire_at_unix_ms),
        esc(&task.prompt)
    );
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/tasks/{}\" class=\"score\" id=\"score-form\">",
        esc(&stored.miner_task_id)
    );
    for (i, c) in task.completions.iter().enumerate() {
        let cid = c.id.as_str();
        let _ = write!(
            b,
            "<section class=\"completion\" aria-labelledby=\"h-{i}\"><h2 id=\"h-{i}\">Response {}</h2>",
            i + 1
        );
        match &c.content {
            CompletionContent::Text(t) => {
                let _ = write!(b, "<pre class=\"text\">{}</pre>", esc(t));
            }
            CompletionContent::Dialogue(turns) => {
                b.push_str("<div class=\"dialogue\">");
                for t in turns {
                    let _ = write!(
                        b,
                        "<p><strong>{}:</strong> <span>{}</span></p>",
                        role(t.role),
                        esc(&t.message)
                    );
                }
                b.push_str("</div>");
            }
            CompletionContent::Code { .. } => {
                let _ = write!(
                    b,
                    "<iframe class=\"render\" sandbox=\"allow-scripts\" referrerpolicy=\"no-referrer\" \
                     title=\"Response {} (runs sandboxed)\" src=\"/render/{}/{}\"></iframe>",
                    i + 1,
                    esc(&stored.miner_task_id),
                    esc(cid)
                );
            }
            CompletionContent::Media(_) => b.push_str("<p>(media is not shown)</p>"),
        }
        for (ci, criterion) in task.criteria.iter().enumerate() {
            match criterion {
                Criterion::Score { min, max } => {
                    slider(&mut b, &field(ci, cid, None), "Score", *min, *max)
                }
                Criterion::MultiScore { options, min, max } if per_completion(options, task) => {
                    slider(&mut b, &field(ci, cid, None), "Score", *min, *max);
                }
                Criterion::MultiScore { options, min, max } => {
                    for (oi, o) in options.iter().enumerate() {
                        slider(&mut b, &field(ci, cid, Some(oi)), o, *min, *max);
                    }
                }
                // One list for the whole ranking, after the responses.
                Criterion::Ranking => {}
                Criterion::Text { min_len, max_len } => {
                    let name = field(ci, cid, None);
                    let _ = write!(
                        b,
                        "<label for=\"{name}\">Feedback ({min_len}–{max_len} characters)</label>\
                         <textarea id=\"{name}\" name=\"{name}\" minlength=\"{min_len}\" maxlength=\"{max_len}\" required></textarea>"
                    );
                }
            }
        }
        b.push_str("</section>");
    }
    for (ci, criterion) in task.criteria.iter().enumerate() {
        if matches!(criterion, Criterion::Ranking) {
            ranking_list(&mut b, ci, task);
        }
    }
    b.push_str("<button type=\"submit\" id=\"submit\">Submit</button></form>");
    b
}

/// A ranking as an ordered list, best first: items move by drag and drop, Alt+ArrowUp/Down or
/// their buttons (`page.js`), which rewrite the rank inputs; without the script the worker types
/// each rank (1 = best) into those inputs. Field `c{criterion}.{completion}` holds the 1-based rank.
fn ranking_list(b: &mut String, ci: usize, task: &Task) {
    let n = task.completions.len();
    let _ = write!(
        b,
        "<section class=\"ranking\" aria-labelledby=\"rank-h-{ci}\"><h2 id=\"rank-h-{ci}\">Ranking</h2>\
         <p class=\"meta\" id=\"rank-help-{ci}\">Best first. Drag a response, or focus it and press \
         Alt+Arrow Up / Alt+Arrow Down, or use its buttons. Without JavaScript, type each rank (1 = best).</p>\
         <ol class=\"rank-list\" id=\"rank-{ci}\" data-criterion=\"{ci}\" aria-describedby=\"rank-help-{ci}\">"
    );
    for (i, c) in task.completions.iter().enumerate() {
        let name = esc(&field(ci, c.id.as_str(), None));
        let r = i + 1;
        let _ = write!(
            b,
            "<li class=\"rank-item\" draggable=\"true\" tabindex=\"0\" data-cid=\"{cid}\" data-name=\"Response {r}\" \
             aria-label=\"Response {r}\"><span class=\"rank-name\">Response {r}</span>\
             <label>Rank <input type=\"number\" class=\"rank-input\" id=\"{name}\" name=\"{name}\" min=\"1\" max=\"{n}\" step=\"1\" value=\"{r}\" required></label>\
             <button type=\"button\" data-move=\"up\" aria-label=\"Move response {r} up\">\u{2191}</button>\
             <button type=\"button\" data-move=\"down\" aria-label=\"Move response {r} down\">\u{2193}</button></li>",
            cid = esc(c.id.as_str()),
        );
    }
    b.push_str("</ol><p class=\"rank-status meta\" aria-live=\"polite\"></p></section>");
}

fn slider(b: &mut String, name: &str, label: &str, min: f64, max: f64) {
    let mid = ((min + max) / 2.0).round();
    let step = if max - min >= 10.0 {
        1.0
    } else {
        (max - min) / 100.0
    };
    let _ = write!(
        b,
        "<div class=\"slider\"><label for=\"{n}\">{l}</label>\
         <input type=\"range\" id=\"{n}\" name=\"{n}\" min=\"{min}\" max=\"{max}\" step=\"{step}\" value=\"{mid}\">\
         <output for=\"{n}\" data-for=\"{n}\">{mid}</output></div>",
        n = esc(name),
        l = esc(label),
    );
}

async fn task_page(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let session = match page.session(&headers).await {
        Ok(s) => s,
        Err(_) => return Redirect::to("/").into_response(),
    };
    match page.open_task(&id, &session).await {
        Ok(stored) => html_page("Task", &task_form(&stored)),
        Err(e) => error_page(e.status, &e.message),
    }
}

/// Reads the page's form fields back into API answers (`c{criterion}.{completion}` and
/// `c{criterion}.{option}.{completion}`).
fn answers_from_form(task: &Task, fields: &[(String, String)]) -> Result<Vec<AnswerInput>, String> {
    let mut out: BTreeMap<(usize, String), AnswerInput> = BTreeMap::new();
    for (k, v) in fields {
        let Some(rest) = k.strip_prefix('c') else {
            continue;
        };
        let (ci, rest) = rest
            .split_once('.')
            .ok_or_else(|| format!("unexpected field {k:?}"))?;
        let ci: usize = ci.parse().map_err(|_| format!("unexpected field {k:?}"))?;
        let criterion = task
            .criteria
            .get(ci)
            .ok_or_else(|| format!("criterion {ci} does not exist"))?;
        let (option, cid) = match criterion {
            Criterion::MultiScore { options, .. } if !per_completion(options, task) => {
                let (o, cid) = rest
                    .split_once('.')
                    .ok_or_else(|| format!("unexpected field {k:?}"))?;
                let o: usize = o.parse().map_err(|_| format!("unexpected field {k:?}"))?;
                (
                    Some(
                        options
                            .get(o)
                            .ok_or_else(|| format!("option {o} does not exist"))?
                            .clone(),
                    ),
                    cid,
                )
            }
            _ => (None, rest),
        };
        let entry = out
            .entry((ci, cid.to_owned()))
            .or_insert_with(|| AnswerInput {
                completion_id: cid.to_owned(),
                criterion: ci,
                score: None,
                scores: None,
                rank: None,
                text: None,
            });
        let value = serde_json::Value::String(v.clone());
        match (criterion, option) {
            // The page shows ranks from 1; the API (and storage) count from 0.
            (Criterion::Ranking, _) => {
                entry.rank = Some(match v.trim().parse::<i64>() {
                    Ok(r) => serde_json::Value::from(r - 1),
                    Err(_) => value,
                })
            }
            (Criterion::Text { .. }, _) => entry.text = Some(v.clone()),
            (_, Some(o)) => {
                entry
                    .scores
                    .get_or_insert_with(BTreeMap::new)
                    .insert(o, value);
            }
            (_, None) => entry.score = Some(value),
        }
    }
    Ok(out.into_values().collect())
}

async fn submit_form(
    State(page): State<WorkerPage>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<axum::Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let session = match page.session(&headers).await {
        Ok(s) => s,
        Err(e) => return error_page(e.status, &e.message),
    };
    let fields = match form {
        Ok(axum::Form(f)) => f,
        Err(e) => return error_page(e.status(), &e.body_text()),
    };
    let stored = match page.service.store().task_by_miner_id(&id).await {
        Ok(Some(t)) => t,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "no such task"),
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    let answers = match answers_from_form(&stored.task, &fields) {
        Ok(a) => a,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, &m),
    };
    match page.submit(&id, &session, &answers).await {
        Ok(_) => html_page(
            "Submitted",
            "<h1 id=\"done\">Thank you</h1><p role=\"status\">Your scores were recorded.</p><p><a href=\"/tasks\" id=\"next\">Next task</a></p>",
        ),
        Err(e) => error_page(e.status, &e.message),
    }
}

async fn render(
    State(page): State<WorkerPage>,
    Path((id, completion)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if page.session(&headers).await.is_err() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let stored = match page.service.store().task_by_miner_id(&id).await {
        Ok(Some(t)) if t.task.expire_at_unix_ms > now_ms() => t,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Some(c) = stored
        .task
        .completions
        .iter()
        .find(|c| c.id.as_str() == completion)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let CompletionContent::Code { files, .. } = &c.content else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // A single-file page is served as is; several files are shown as escaped source.
    let html_file = files
        .iter()
        .find(|f| f.filename.ends_with(".html") || f.filename.ends_with(".htm"))
        .or(if files.len() == 1 {
            files.first()
        } else {
            None
        });
    let body = match html_file {
        Some(f) if files.len() == 1 || f.filename.ends_with("html") => f.content.clone(),
        _ => {
            let mut s = String::from("<!doctype html><meta charset=\"utf-8\"><body>");
            for f in files {
                let _ = write!(
                    s,
                    "<h3>{}</h3><pre>{}</pre>",
                    esc(&f.filename),
                    esc(&f.content)
                );
            }
            s
        }
    };
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(RENDER_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[cfg(test)]
mod tests;
