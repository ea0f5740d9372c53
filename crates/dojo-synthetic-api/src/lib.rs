//! The synthetic-task service (spec §1.8): validators fetch tasks with ground truth over HTTP.
//!
//! # Brief overview
//!
//! * [`App`]: the generator, the persisted [`store::Store`] (bounded pre-generation buffer, v2
//!   answer records, dedupe history) and the metrics.
//! * [`spawn_fillers`]: background workers that keep the buffer full; failures and duplicates are
//!   counted and retried after a delay.
//! * [`router`]: `GET /api/synthetic-gen` (v1), the v2 question/answer routes, `/healthz`, `/metrics`.
//! * `client` (feature `client`): the Rust client validators use, with the `SyntheticQa` → task
//!   conversion.
//! * [`truth_log`]: with `Config::ground_truth_log`, one JSON line per served v1 task (content
//!   hashes and ground-truth ranks), flushed before the response is sent.
//! * [`run`]: binds, serves until the shutdown future resolves, and persists the state.
//! * [`auth`]: a non-loopback listen address is refused unless an API key is configured; with a
//!   key, every route but `/healthz` answers 401 to a request without it.
//!
//! Tasks are [`dojo_synthetic::SyntheticTask`]s, which cannot exist with ground-truth ids that
//! differ from their completion ids; every served task also gets fresh random completion ids.

pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod store;
pub mod truth_log;
pub mod wire;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dojo_synthetic::dedupe::{Deduper, Encoder};
use dojo_synthetic::llm::LlmMetrics;
use dojo_synthetic::obfuscate::{obfuscate_pages, random_id, reassign_ids};
use dojo_synthetic::{Augmentation, Family, Generator, SyntheticTask};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{Notify, watch};

pub use crate::auth::ApiKey;
use crate::auth::ExposureError;
use crate::store::{LoadReport, Rejected, Store, StoreError};
use crate::truth_log::{TruthLog, TruthLogError};
use crate::wire::{
    AnswerRecord, AnswerResponse, Envelope, ErrorBody, GenerateQuestion, OrderAnswerRequest,
    OrderAnswerResponse, QaIdRequest, QuestionAugmentRequest, QuestionAugmentResponse, Success,
    SyntheticQa, WireResponse,
};

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Tasks kept ready (the reference keeps 4).
    pub buffer: usize,
    /// Concurrent generation workers.
    pub workers: usize,
    /// Where the buffer is persisted; `None` keeps it in memory only.
    pub state_path: Option<PathBuf>,
    /// How long a request waits for a task when the buffer is empty.
    pub wait: Duration,
    /// First generation seed (later seeds follow it; the state file remembers where it got to).
    pub seed: u64,
    pub dedupe_capacity: usize,
    pub near_duplicate_threshold: f64,
    /// Semantic dedupe: an encoder and the cosine similarity at or above which a new question
    /// duplicates a remembered one. `None`: exact and near-duplicate (MinHash) dedupe only.
    pub semantic_dedupe: Option<(Arc<dyn Encoder>, f64)>,
    /// Pause after a failed generation before the worker tries again.
    pub retry_delay: Duration,
    /// Serve pages with minified scripts and an encoded body (spec §5.4); off by default as in the
    /// reference, where it was disabled.
    pub obfuscate_html: bool,
    /// Bearer key every route but `/healthz` demands; required for a non-loopback `listen`.
    pub api_key: Option<ApiKey>,
    /// Append one JSON line per served v1 task here ([`truth_log`]).
    pub ground_truth_log: Option<PathBuf>,
}

impl Config {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            buffer: 16,
            workers: 2,
            state_path: None,
            wait: Duration::from_secs(30),
            seed: 0,
            dedupe_capacity: 100_000,
            near_duplicate_threshold: 0.9,
            semantic_dedupe: None,
            retry_delay: Duration::from_secs(2),
            obfuscate_html: false,
            api_key: None,
            ground_truth_log: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Exposed(#[from] ExposureError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    TruthLog(#[from] TruthLogError),
}

/// Service counters, rendered by `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub generated: AtomicU64,
    pub generation_failures: AtomicU64,
    pub duplicates: AtomicU64,
    pub served: AtomicU64,
    pub empty_buffer: AtomicU64,
    pub questions_served: AtomicU64,
    pub answers_served: AtomicU64,
    pub bad_requests: AtomicU64,
    pub persist_failures: AtomicU64,
    pub invalid_on_load: AtomicU64,
    pub truth_log_failures: AtomicU64,
}

/// The service state shared by handlers and workers.
pub struct App<G> {
    generator: G,
    store: Store,
    config: Config,
    metrics: Metrics,
    llm_metrics: Option<Arc<LlmMetrics>>,
    truth_log: Option<TruthLog>,
    task_ready: Notify,
    space_free: Notify,
    rng: Mutex<ChaCha8Rng>,
}

impl<G> std::fmt::Debug for App<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<G: Generator> App<G> {
    /// Opens the store (loading the state file if present) and builds the app.
    pub fn new(
        config: Config,
        generator: G,
        llm_metrics: Option<Arc<LlmMetrics>>,
    ) -> Result<Arc<Self>, ServiceError> {
        let mut dedupe = Deduper::new(config.dedupe_capacity, config.near_duplicate_threshold);
        if let Some((encoder, threshold)) = &config.semantic_dedupe {
            dedupe = dedupe.with_encoder(encoder.clone(), *threshold);
        }
        let (store, report) = Store::open(
            config.state_path.clone(),
            config.buffer,
            config.seed,
            dedupe,
        )?;
        let LoadReport { tasks, rejected } = report;
        if tasks + rejected > 0 {
            tracing::info!(
                tasks,
                rejected,
                "loaded the pre-generation buffer from the state file"
            );
        }
        let truth_log = config
            .ground_truth_log
            .as_deref()
            .map(TruthLog::open)
            .transpose()?;
        let metrics = Metrics::default();
        metrics
            .invalid_on_load
            .store(rejected as u64, Ordering::Relaxed);
        let rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x0b5c_u64.rotate_left(40) ^ nanos());
        Ok(Arc::new(Self {
            generator,
            store,
            config,
            metrics,
            llm_metrics,
            truth_log,
            task_ready: Notify::new(),
            space_free: Notify::new(),
            rng: Mutex::new(rng),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        let mut g = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    async fn persist(&self) {
        if let Err(e) = self.store.persist().await {
            self.metrics
                .persist_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "persisting the buffer failed");
        }
    }

    /// Takes a task, waiting up to `config.wait` for a worker to produce one.
    pub async fn take_task(&self) -> Option<SyntheticTask> {
        let deadline = tokio::time::Instant::now() + self.config.wait;
        loop {
            let notified = self.task_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t) = self.store.pop() {
                self.space_free.notify_waiters();
                self.persist().await;
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// One round of a filler worker: generate a task if there is room. Returns `false` when the
    /// buffer is full.
    pub async fn fill_once(&self) -> bool {
        let Some(seed) = self.store.reserve() else {
            return false;
        };
        match self.generator.generate(seed).await {
            Ok(task) => match self.store.admit(task) {
                Ok(()) => {
                    self.metrics.generated.fetch_add(1, Ordering::Relaxed);
                    self.task_ready.notify_waiters();
                    self.persist().await;
                }
                Err(Rejected::Duplicate(d)) => {
                    self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(seed, duplicate = ?d, "generated question duplicates a past one; dropped");
                }
            },
            Err(e) => {
                self.store.release();
                self.metrics
                    .generation_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(seed, generator = %self.generator.name(), error = %e, "task generation failed");
                tokio::time::sleep(self.config.retry_delay).await;
            }
        }
        true
    }

    fn render_metrics(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, v: u64| {
            out.push_str(&format!("# HELP dojo_synthetic_{name} {help}\n# TYPE dojo_synthetic_{name} {kind}\ndojo_synthetic_{name} {v}\n"));
        };
        let m = &self.metrics;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            "tasks_generated_total",
            "tasks generated and buffered",
            "counter",
            g(&m.generated),
        );
        counter(
            "generation_failures_total",
            "task generations that failed",
            "counter",
            g(&m.generation_failures),
        );
        counter(
            "duplicates_rejected_total",
            "generated questions dropped as duplicates",
            "counter",
            g(&m.duplicates),
        );
        counter(
            "tasks_served_total",
            "tasks served by /api/synthetic-gen",
            "counter",
            g(&m.served),
        );
        counter(
            "empty_buffer_total",
            "requests that found no task in time",
            "counter",
            g(&m.empty_buffer),
        );
        counter(
            "questions_served_total",
            "v2 questions served",
            "counter",
            g(&m.questions_served),
        );
        counter(
            "answers_served_total",
            "v2 answers served",
            "counter",
            g(&m.answers_served),
        );
        counter(
            "bad_requests_total",
            "requests rejected as invalid",
            "counter",
            g(&m.bad_requests),
        );
        counter(
            "persist_failures_total",
            "state file writes that failed",
            "counter",
            g(&m.persist_failures),
        );
        counter(
            "invalid_tasks_on_load_total",
            "tasks dropped from the state file as invalid",
            "counter",
            g(&m.invalid_on_load),
        );
        counter(
            "ground_truth_log_failures_total",
            "served tasks refused because the ground-truth log write failed",
            "counter",
            g(&m.truth_log_failures),
        );
        counter(
            "buffer_tasks",
            "tasks ready in the buffer",
            "gauge",
            self.store.len() as u64,
        );
        counter(
            "buffer_capacity",
            "buffer capacity",
            "gauge",
            self.store.capacity() as u64,
        );
        counter(
            "answer_records",
            "v2 answer records kept",
            "gauge",
            self.store.answers_len() as u64,
        );
        counter(
            "dedupe_entries",
            "questions remembered for dedupe",
            "gauge",
            self.store.dedupe_len() as u64,
        );
        if let Some(l) = &self.llm_metrics {
            for (name, help, v) in l.snapshot() {
                let kind = "counter";
                counter(name, help, kind, v);
            }
        }
        out
    }
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Starts `config.workers` tasks that keep the buffer full until `shutdown` turns true.
pub fn spawn_fillers<G: Generator>(
    app: Arc<App<G>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..app.config.workers.max(1))
        .map(|_| {
            let app = app.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if *shutdown.borrow() {
                        break;
                    }
                    let space = app.space_free.notified();
                    tokio::pin!(space);
                    space.as_mut().enable();
                    if app.fill_once().await {
                        continue;
                    }
                    tokio::select! {
                        _ = &mut space => {}
                        _ = shutdown.changed() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            })
        })
        .collect()
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            success: false,
            error: msg.into(),
        }),
    )
        .into_response()
}

async fn synthetic_gen<G: Generator>(State(app): State<Arc<App<G>>>) -> Response {
    let Some(task) = app.take_task().await else {
        app.metrics.empty_buffer.fetch_add(1, Ordering::Relaxed);
        let body: Envelope<SyntheticQa> = Envelope {
            success: false,
            body: None,
            error: Some(format!(
                "no task was ready within {:?}; generation is behind",
                app.config.wait
            )),
        };
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    };
    let obfuscate = app.config.obfuscate_html;
    let task = match app.with_rng(|rng| {
        let t = reassign_ids(task, rng)?;
        if obfuscate {
            obfuscate_pages(t, rng)
        } else {
            Ok(t)
        }
    }) {
        Ok(t) => t,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("task failed its ground-truth check: {e}"),
            );
        }
    };
    let qa = SyntheticQa::from(&task);
    if let Some(log) = &app.truth_log
        && let Err(e) = log.append(&qa)
    {
        // A task without its log line would be unscorable for the simulated workers that read it.
        app.metrics
            .truth_log_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "writing the ground-truth log failed; task not served");
        return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    }
    app.metrics.served.fetch_add(1, Ordering::Relaxed);
    Json(Envelope {
        success: true,
        body: Some(qa),
        error: None,
    })
    .into_response()
}

/// The augmented answer a v2 question pairs with: a question-family answer when the task has one
/// (the reference uses a changed question), else the worst-ranked one.
fn pick_augmented(task: &SyntheticTask) -> Option<&dojo_synthetic::Completion> {
    task.completions()
        .iter()
        .filter(|c| c.augmentation.family() == Some(Family::Question))
        .max_by_key(|c| c.augmentation.rank())
        .or_else(|| {
            task.completions()
                .iter()
                .filter(|c| c.augmentation != Augmentation::Original)
                .max_by_key(|c| c.augmentation.rank())
        })
}

async fn generate_question<G: Generator>(State(app): State<Arc<App<G>>>) -> Response {
    let Some(task) = app.take_task().await else {
        app.metrics.empty_buffer.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no question was ready in time",
        );
    };
    let original = task
        .completions()
        .iter()
        .find(|c| c.augmentation == Augmentation::Original);
    let (Some(original), Some(aug)) = (original, pick_augmented(&task)) else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "task lacks an original or an augmented answer",
        );
    };
    let (qa_id, ans_aug_id) = app.with_rng(|rng| (random_id(rng), random_id(rng)));
    let qa = AnswerRecord {
        prompt: task.prompt().to_owned(),
        responses: vec![WireResponse::from(original)],
    };
    let aug_rec = AnswerRecord {
        prompt: aug
            .augmented_prompt
            .clone()
            .unwrap_or_else(|| task.prompt().to_owned()),
        responses: vec![WireResponse::from(aug)],
    };
    app.store.put_pair(&qa_id, qa, &ans_aug_id, aug_rec);
    app.persist().await;
    app.metrics.questions_served.fetch_add(1, Ordering::Relaxed);
    Json(GenerateQuestion {
        success: true,
        prompt: task.prompt().to_owned(),
        qa_id,
        ans_aug_id,
    })
    .into_response()
}

async fn generate_answer<G: Generator>(
    State(app): State<Arc<App<G>>>,
    Json(req): Json<QaIdRequest>,
) -> Response {
    match app.store.answer(&req.qa_id) {
        Some(answer) => {
            app.metrics.answers_served.fetch_add(1, Ordering::Relaxed);
            Json(AnswerResponse {
                success: true,
                qa_id: req.qa_id,
                answer,
            })
            .into_response()
        }
        None => {
            app.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
            error(
                StatusCode::NOT_FOUND,
                format!("no answer with id {}", req.qa_id),
            )
        }
    }
}

async fn get_answer<G: Generator>(
    State(app): State<Arc<App<G>>>,
    Path(id): Path<String>,
) -> Response {
    match app.store.answer(&id) {
        Some(a) => Json(a).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no answer with id {id}")),
    }
}

async fn question_augment<G: Generator>(
    State(app): State<Arc<App<G>>>,
    Json(req): Json<QuestionAugmentRequest>,
) -> Response {
    if !(1..=3).contains(&req.num_augments)
        || req.question.trim().is_empty()
        || req.question.len() > 64 * 1024
    {
        app.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "num_augments must be 1 to 3 and the question non-empty and under 64 KiB",
        );
    }
    let seed = app.with_rng(rand::Rng::random::<u64>);
    match app
        .generator
        .augment_question(&req.question, req.num_augments, seed)
        .await
    {
        Ok(augments) => Json(QuestionAugmentResponse {
            success: true,
            augments,
        })
        .into_response(),
        Err(e) => error(status_of(&e), e.to_string()),
    }
}

fn status_of(e: &dojo_synthetic::GenError) -> StatusCode {
    match e {
        dojo_synthetic::GenError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::BAD_GATEWAY,
    }
}

async fn order_answer<G: Generator>(
    State(app): State<Arc<App<G>>>,
    Json(req): Json<OrderAnswerRequest>,
) -> Response {
    if req.question.trim().is_empty() || req.question.len() > 64 * 1024 {
        app.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the question must be non-empty and under 64 KiB",
        );
    }
    let (seed, ans_id, cid) = app.with_rng(|rng| {
        (
            rand::Rng::random::<u64>(rng),
            random_id(rng),
            random_id(rng),
        )
    });
    match app.generator.answer_question(&req.question, seed).await {
        Ok(file) => {
            let resp = WireResponse {
                model: app.generator.name(),
                completion: wire::WireCompletion {
                    files: vec![wire::WireFile {
                        filename: file.filename,
                        content: file.content,
                        language: file.language,
                    }],
                },
                cid,
            };
            app.store.put_answer(
                &ans_id,
                AnswerRecord {
                    prompt: req.question,
                    responses: vec![resp],
                },
            );
            app.persist().await;
            Json(OrderAnswerResponse {
                success: true,
                ans_id,
            })
            .into_response()
        }
        Err(e) => error(status_of(&e), e.to_string()),
    }
}

async fn pop_qa<G: Generator>(
    State(app): State<Arc<App<G>>>,
    Json(req): Json<QaIdRequest>,
) -> Response {
    if app.store.pop_qa(&req.qa_id) {
        app.persist().await;
        Json(Success { success: true }).into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            format!("no question with id {}", req.qa_id),
        )
    }
}

async fn healthz<G: Generator>(State(app): State<Arc<App<G>>>) -> Response {
    let body: BTreeMap<&str, serde_json::Value> = BTreeMap::from([
        ("status", serde_json::json!("ok")),
        ("generator", serde_json::json!(app.generator.name())),
        ("buffer", serde_json::json!(app.store.len())),
        ("persisted", serde_json::json!(app.store.is_persisted())),
        (
            "semantic_dedupe",
            serde_json::json!(app.config.semantic_dedupe.is_some()),
        ),
        ("capacity", serde_json::json!(app.store.capacity())),
    ]);
    Json(body).into_response()
}

async fn metrics<G: Generator>(State(app): State<Arc<App<G>>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        app.render_metrics(),
    )
        .into_response()
}

/// All routes of the service, behind the API key when one is configured.
pub fn router<G: Generator>(app: Arc<App<G>>) -> Router {
    let key = app.config.api_key.clone();
    let routes = Router::new()
        .route("/api/synthetic-gen", get(synthetic_gen::<G>))
        .route("/api/generate-question", get(generate_question::<G>))
        .route("/api/generate-answer", post(generate_answer::<G>))
        .route("/api/get-question-augment", post(question_augment::<G>))
        .route("/api/order-answer", post(order_answer::<G>))
        .route("/api/pop-qa", post(pop_qa::<G>))
        .route("/api/answers/{id}", get(get_answer::<G>))
        .route("/healthz", get(healthz::<G>))
        .route("/metrics", get(metrics::<G>))
        .with_state(app);
    match key {
        Some(key) => routes.layer(axum::middleware::from_fn_with_state(
            Arc::new(key),
            auth::require_key,
        )),
        None => routes,
    }
}

/// Serves until `shutdown` resolves, then stops the workers and persists the buffer.
pub async fn run<G: Generator>(
    config: Config,
    generator: G,
    llm_metrics: Option<Arc<LlmMetrics>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let listen = config.listen;
    auth::check_exposure(listen, config.api_key.as_ref())?;
    let app = App::new(config, generator, llm_metrics)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: listen,
            source,
        })?;
    serve(app, listener, shutdown).await
}

/// [`run`] on an already bound listener (tests bind port 0); the same exposure rule applies.
pub async fn serve<G: Generator>(
    app: Arc<App<G>>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let local = listener.local_addr().map_err(ServiceError::Serve)?;
    auth::check_exposure(local, app.config.api_key.as_ref())?;
    let (tx, rx) = watch::channel(false);
    let workers = spawn_fillers(app.clone(), rx);
    tracing::info!(addr = ?listener.local_addr().ok(), generator = %app.generator.name(), buffer = app.store.capacity(), "synthetic API listening");
    let served = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = tx.send(true);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), w).await;
    }
    app.persist().await;
    served.map_err(ServiceError::Serve)
}
