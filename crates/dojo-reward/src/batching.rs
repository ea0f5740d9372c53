//! Dynamic batching: many concurrent async callers, one blocking model.
//!
//! Callers send single `(prompt, completion)` requests into a bounded queue (a full queue makes
//! [`Batcher::score`] wait and [`Batcher::try_score`] fail: backpressure). A dedicated OS thread takes
//! the first waiting request, keeps collecting until `max_batch` requests or `max_wait` has passed,
//! sorts them by length so similar lengths share padding (length bucketing), runs the model in chunks
//! of `run_batch`, and answers every caller on its own channel. Inference never runs on a tokio worker.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use dojo_types::ports::{RewardError, RewardInput, RewardModel};
use tokio::sync::{mpsc, oneshot};

/// Batching policy.
#[derive(Clone, Debug)]
pub struct BatcherConfig {
    /// Most requests gathered into one batch.
    pub max_batch: usize,
    /// Longest time the first request of a batch waits for company.
    pub max_wait: Duration,
    /// Requests per model call within a gathered batch (after sorting by length).
    pub run_batch: usize,
    /// Queue capacity; beyond it callers wait (or `try_score` fails).
    pub queue: usize,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch: 64,
            max_wait: Duration::from_millis(5),
            run_batch: 32,
            queue: 1024,
        }
    }
}

struct Request {
    prompt: String,
    completion: String,
    reply: oneshot::Sender<Result<f32, RewardError>>,
}

impl Request {
    /// A request and the receiver its caller waits on.
    fn new(
        prompt: String,
        completion: String,
    ) -> (Self, oneshot::Receiver<Result<f32, RewardError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Self {
                prompt,
                completion,
                reply,
            },
            rx,
        )
    }
}

/// The batching front end of a [`RewardModel`]. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Batcher {
    tx: Option<mpsc::Sender<Request>>,
    worker: Option<JoinHandle<()>>,
    name: String,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("prompt_len", &self.prompt.len())
            .finish_non_exhaustive()
    }
}

impl Batcher {
    /// Starts the worker thread for `model`.
    pub fn new<M: RewardModel + 'static>(
        model: Arc<M>,
        cfg: BatcherConfig,
    ) -> Result<Self, RewardError> {
        if cfg.max_batch == 0 || cfg.run_batch == 0 || cfg.queue == 0 {
            return Err(RewardError::InvalidInput(
                "max_batch, run_batch and queue must be at least 1".into(),
            ));
        }
        let (tx, rx) = mpsc::channel(cfg.queue);
        let name = model.name().to_owned();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| RewardError::Backend(Box::new(e)))?;
        let worker = std::thread::Builder::new()
            .name(format!("reward-batcher-{name}"))
            .spawn(move || worker_loop(&rt, &*model, rx, &cfg))
            .map_err(|e| RewardError::Backend(Box::new(e)))?;
        Ok(Self {
            tx: Some(tx),
            worker: Some(worker),
            name,
        })
    }

    /// Scores one pair, waiting for queue space if the queue is full.
    pub async fn score(
        &self,
        prompt: impl Into<String>,
        completion: impl Into<String>,
    ) -> Result<f32, RewardError> {
        let (req, rx) = Request::new(prompt.into(), completion.into());
        self.sender()?.send(req).await.map_err(|_| self.stopped())?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Scores one pair, failing with [`RewardError::Unavailable`] at once if the queue is full.
    pub async fn try_score(
        &self,
        prompt: impl Into<String>,
        completion: impl Into<String>,
    ) -> Result<f32, RewardError> {
        let (req, rx) = Request::new(prompt.into(), completion.into());
        self.sender()?.try_send(req).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                RewardError::Unavailable(format!("{} queue full", self.name))
            }
            mpsc::error::TrySendError::Closed(_) => self.stopped(),
        })?;
        rx.await.map_err(|_| self.stopped())?
    }

    /// Stops accepting requests, lets the worker finish the queued ones, and waits for it.
    pub fn shutdown(mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }

    fn sender(&self) -> Result<&mpsc::Sender<Request>, RewardError> {
        self.tx.as_ref().ok_or_else(|| self.stopped())
    }

    fn stopped(&self) -> RewardError {
        RewardError::Unavailable(format!("{} batcher stopped", self.name))
    }
}

fn worker_loop(
    rt: &tokio::runtime::Runtime,
    model: &dyn RewardModel,
    mut rx: mpsc::Receiver<Request>,
    cfg: &BatcherConfig,
) {
    // Timers are created outside `block_on`, so the runtime must be current on this thread.
    let _guard = rt.enter();
    loop {
        let Some(first) = rt.block_on(rx.recv()) else {
            return;
        };
        let deadline = tokio::time::Instant::now() + cfg.max_wait;
        let mut batch = vec![first];
        let mut closed = false;
        while batch.len() < cfg.max_batch {
            match rt.block_on(tokio::time::timeout_at(deadline, rx.recv())) {
                Ok(Some(r)) => batch.push(r),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        // Callers that gave up need no answer.
        batch.retain(|r| !r.reply.is_closed());
        batch.sort_by_key(|r| r.prompt.len() + r.completion.len());
        tracing::debug!(size = batch.len(), "reward batch");
        let mut rest = batch;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(cfg.run_batch));
            run_chunk(model, std::mem::replace(&mut rest, tail));
        }
        if closed {
            return;
        }
    }
}

/// Scores a chunk; if the whole chunk fails, scores its items one by one so only the bad item's
/// caller gets the error.
fn run_chunk(model: &dyn RewardModel, chunk: Vec<Request>) {
    let inputs: Vec<RewardInput<'_>> = chunk
        .iter()
        .map(|r| RewardInput::new(&r.prompt, &r.completion))
        .collect();
    match model.score_batch(&inputs) {
        Ok(scores) if scores.len() == chunk.len() => {
            for (r, s) in chunk.into_iter().zip(scores) {
                let _ = r.reply.send(Ok(s));
            }
        }
        Ok(scores) => {
            let n = chunk.len();
            for r in chunk {
                let _ = r.reply.send(Err(RewardError::Shape {
                    expected: n,
                    got: scores.len(),
                }));
            }
        }
        Err(_) if chunk.len() > 1 => {
            for r in chunk {
                let res = model
                    .score_batch(&[RewardInput::new(&r.prompt, &r.completion)])
                    .and_then(|s| {
                        s.first().copied().ok_or(RewardError::Shape {
                            expected: 1,
                            got: 0,
                        })
                    });
                let _ = r.reply.send(res);
            }
        }
        Err(e) => {
            if let Some(r) = chunk.into_iter().next() {
                let _ = r.reply.send(Err(e));
            }
        }
    }
}
