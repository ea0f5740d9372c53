//! The simulator loop: join the page, poll open tasks, answer each once, survive miner restarts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::api::{ApiError, PageClient, Session, Task};
use crate::population::{self, Canonical, CanonicalAnswer, Population};
use crate::share::ShareDir;
use crate::truth::TruthLog;

/// Everything a simulator needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The worker page, `http://host:port`.
    pub page: String,
    /// A subscription or API key of that miner.
    pub key: String,
    /// Who the workers are.
    pub population: Population,
    /// Standard deviation of the Gaussian noise on the 0..1 quality scale (honest, reverse, sybil).
    pub noise: f64,
    /// Seed of every answer's RNG (with the task content).
    pub seed: u64,
    /// The synthetic API's ground-truth log, followed as it grows.
    pub ground_truth_log: PathBuf,
    /// Where answers are published (honest, sybil) and read (copycat).
    pub share_dir: Option<PathBuf>,
    /// Pause between polls of the task list.
    pub poll: Duration,
    /// Workers (each its own session, so its own result) in this process.
    pub workers: usize,
    /// How long before a task's deadline a waiting worker gives up and answers lazily (at least
    /// three polls).
    pub fallback_margin: Duration,
    /// Every this often the counters are logged.
    pub report_every: Duration,
    /// Fault injection for devnet chaos runs: this share of tasks is never answered.
    pub drop: f64,
    /// Fault injection: this share of tasks is answered only after its deadline has passed.
    pub late: f64,
}

impl Config {
    /// A config with the defaults for the optional parts: no noise, seed 0, no share directory,
    /// 200 ms polls, one worker, lazy fallback `max(1 s, 3 polls)` before the deadline, counters
    /// logged every 30 s.
    pub fn new(page: &str, key: &str, population: Population, ground_truth_log: PathBuf) -> Self {
        Config {
            page: page.to_owned(),
            key: key.to_owned(),
            population,
            noise: 0.0,
            seed: 0,
            ground_truth_log,
            share_dir: None,
            poll: Duration::from_millis(200),
            workers: 1,
            fallback_margin: Duration::from_secs(1),
            report_every: Duration::from_secs(30),
            drop: 0.0,
            late: 0.0,
        }
    }
}

/// A config that cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Copycats need somewhere to copy from.
    #[error("population copycat needs --share-dir")]
    CopycatWithoutShareDir,
    /// Noise must be a finite non-negative number.
    #[error("noise must be finite and >= 0, got {0}")]
    BadNoise(f64),
    /// At least one worker.
    #[error("workers must be at least 1")]
    NoWorkers,
    /// Fault shares are probabilities that together stay at most 1.
    #[error("--drop and --late must be in [0, 1] and sum to at most 1, got {0} and {1}")]
    BadFaults(f64, f64),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Running totals (over every worker of the process).
#[derive(Debug, Default)]
pub struct Counters {
    seen: AtomicU64,
    submitted: AtomicU64,
    copied: AtomicU64,
    lazy_fallback: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
    delayed: AtomicU64,
    pages: AtomicU64,
}

/// A copy of the [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Tasks a worker saw for the first time (per worker: two workers seeing one task count 2).
    pub seen: u64,
    /// Results the page accepted.
    pub submitted: u64,
    /// Of those, copied from the share directory (copycats).
    pub copied: u64,
    /// Of those, the page default because ground truth or a shared answer did not come in time.
    pub lazy_fallback: u64,
    /// Failed calls and refused submissions.
    pub errors: u64,
    /// Tasks left unanswered on purpose (`--drop`).
    pub dropped: u64,
    /// Tasks answered after their deadline on purpose (`--late`).
    pub delayed: u64,
    /// Dojo v2 pages written for generation tasks.
    pub pages: u64,
}

impl Counters {
    /// The current totals.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            seen: self.seen.load(Ordering::Relaxed),
            submitted: self.submitted.load(Ordering::Relaxed),
            copied: self.copied.load(Ordering::Relaxed),
            lazy_fallback: self.lazy_fallback.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            delayed: self.delayed.load(Ordering::Relaxed),
            pages: self.pages.load(Ordering::Relaxed),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// How a decided answer came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Computed by the population.
    Own,
    /// Copied from the share directory.
    Copied,
    /// The page default, because ground truth or a shared answer did not come before the deadline.
    LazyFallback,
}

/// What to do with a task now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Submit this.
    Submit(CanonicalAnswer, Source),
    /// Ask again at the next poll (ground truth or a shared answer may still come).
    Wait,
}

/// One simulator process: `workers` workers of one population on one page.
#[derive(Debug)]
pub struct Simulator {
    config: Config,
    client: PageClient,
    truth: Mutex<TruthLog>,
    share: Option<ShareDir>,
    counters: Counters,
}

impl Simulator {
    /// Checks the config and builds the HTTP client (nothing is contacted yet).
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        if config.population == Population::Copycat && config.share_dir.is_none() {
            return Err(ConfigError::CopycatWithoutShareDir);
        }
        if !config.noise.is_finite() || config.noise < 0.0 {
            return Err(ConfigError::BadNoise(config.noise));
        }
        if config.workers == 0 {
            return Err(ConfigError::NoWorkers);
        }
        let share_ok = |p: f64| p.is_finite() && (0.0..=1.0).contains(&p);
        if !share_ok(config.drop) || !share_ok(config.late) || config.drop + config.late > 1.0 {
            return Err(ConfigError::BadFaults(config.drop, config.late));
        }
        let client = PageClient::new(&config.page, Duration::from_secs(10))
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        Ok(Simulator {
            truth: Mutex::new(TruthLog::new(&config.ground_truth_log)),
            share: config.share_dir.as_deref().map(ShareDir::new),
            client,
            config,
            counters: Counters::default(),
        })
    }

    /// The totals so far.
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }

    fn truth_for(&self, canonical: &Canonical, vote: bool) -> Option<Vec<f64>> {
        let mut log = self.truth.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = log.refresh() {
            tracing::warn!(target: "worksim", error = %e, path = %self.config.ground_truth_log.display(), "cannot read the ground-truth log");
        }
        let idx = log.index();
        idx.qualities(&canonical.hashes).or_else(|| {
            // A vote's candidates come from different writers, not from one synthetic task.
            vote.then(|| idx.vote_qualities(&canonical.hashes))
                .flatten()
        })
    }

    /// The page worker `worker` writes for generation task `g`, if the ground-truth log knows the
    /// prompt yet (`None`: wait and look again).
    fn page_for(&self, g: &crate::api::Generation, worker: usize) -> Option<String> {
        let mut log = self.truth.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = log.refresh() {
            tracing::warn!(target: "worksim", error = %e, "cannot read the ground-truth log");
        }
        let pages = log
            .index()
            .pages(&crate::truth::sha256_hex(g.prompt.as_bytes()))?
            .clone();
        let p = self.config.population;
        let salt = match p {
            Population::Sybil => String::new(),
            _ => format!("{p}/{worker}/page"),
        };
        let mut rng = population::answer_rng(
            self.config.seed,
            &crate::truth::sha256_hex(g.prompt.as_bytes()),
            &salt,
        );
        Some(
            match population::page_choice(
                p,
                pages.by_rank.len(),
                pages.augmented,
                self.config.noise,
                &mut rng,
            ) {
                Some(i) => pages.by_rank[i].clone(),
                None => population::EMPTY_PAGE.to_owned(),
            },
        )
    }

    /// Writes a page for every open generation task this simulator has not written yet (worker 0
    /// only: a miner delivers one page per task, the first one written).
    async fn write_pages(&self, s: &Session, written: &mut HashMap<String, i64>) {
        let gens = match self.client.generations(s).await {
            Ok(g) => g,
            Err(e) => {
                tracing::debug!(target: "worksim", error = %e, "cannot list generation tasks");
                return;
            }
        };
        let now = now_ms();
        written.retain(|_, exp| *exp > now);
        for g in gens {
            if written.contains_key(&g.id) {
                continue;
            }
            let Some(html) = self.page_for(&g, 0) else {
                continue;
            };
            match self.client.write_page(s, &g.id, &html).await {
                Ok(()) => {
                    bump(&self.counters.pages);
                    written.insert(g.id, g.expire_at_ms);
                }
                Err(ApiError::Status { status, message }) if status < 500 && status != 429 => {
                    tracing::warn!(target: "worksim", task = %g.id, status, reason = %message, "page refused");
                    written.insert(g.id, g.expire_at_ms);
                }
                Err(e) => {
                    tracing::warn!(target: "worksim", task = %g.id, error = %e, "page not written; will retry");
                }
            }
        }
    }

    /// What worker `worker` does with `task` at time `now_ms`.
    pub fn decide(&self, task: &Task, worker: usize, now_ms: i64) -> Decision {
        let canonical = Canonical::of(task);
        // At least three polls, so the lazy answer still arrives before the deadline.
        let margin = self.config.fallback_margin.max(self.config.poll * 3);
        let margin = i64::try_from(margin.as_millis()).unwrap_or(i64::MAX);
        let late = now_ms >= task.expire_at_ms.saturating_sub(margin);
        let p = self.config.population;
        let answer = match p {
            Population::Copycat => self
                .share
                .as_ref()
                .and_then(|s| s.read(&canonical.task_hash))
                .and_then(|published| {
                    match population::to_submission(task, &canonical, &published.answer) {
                        Ok(_) => Some((published.answer, Source::Copied)),
                        Err(e) => {
                            tracing::warn!(target: "worksim", task = %task.id, error = %e, "shared answer does not fit; not copied");
                            None
                        }
                    }
                }),
            _ => {
                let truth = if p.needs_truth() {
                    self.truth_for(&canonical, task.role == "vote")
                } else {
                    None
                };
                // Sybils share one answer source: no worker salt, so every sybil agrees.
                let salt = match p {
                    Population::Sybil => String::new(),
                    _ => format!("{p}/{worker}"),
                };
                let mut rng = population::answer_rng(self.config.seed, &canonical.task_hash, &salt);
                population::compute(
                    task,
                    &canonical,
                    p,
                    truth.as_deref(),
                    self.config.noise,
                    &mut rng,
                )
                .map(|a| (a, Source::Own))
            }
        };
        match answer {
            Some((a, s)) => Decision::Submit(a, s),
            None if late => {
                let why = if p == Population::Copycat {
                    "no shared answer for this task content"
                } else {
                    "its completions are not in the ground-truth log"
                };
                tracing::warn!(target: "worksim", task = %task.id, population = %p, reason = why, "deadline near; answering lazily");
                Decision::Submit(population::lazy(task, &canonical), Source::LazyFallback)
            }
            None => Decision::Wait,
        }
    }

    /// Runs every worker until `cancel`; `on_ready` is called once, when the first session is
    /// established. Network errors and 401s never end it: it backs off and joins again.
    pub async fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
        on_ready: impl FnOnce() + Send + 'static,
    ) -> CounterSnapshot {
        let ready: ReadyHook = Arc::new(Mutex::new(Some(Box::new(on_ready))));
        let mut set = tokio::task::JoinSet::new();
        for w in 0..self.config.workers {
            let (me, cancel, ready) = (Arc::clone(&self), cancel.clone(), Arc::clone(&ready));
            set.spawn(async move { me.worker(w, cancel, ready).await });
        }
        let report = {
            let (me, cancel) = (Arc::clone(&self), cancel.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(me.config.report_every) => me.log_counters("progress"),
                    }
                }
            })
        };
        while let Some(r) = set.join_next().await {
            if let Err(e) = r {
                tracing::error!(target: "worksim", error = %e, "worker task failed");
            }
        }
        let _ = report.await;
        self.log_counters("final");
        self.counters()
    }

    /// Which injected fault, if any, hits this worker's answer to `task_id`: drawn from the seed and
    /// the task, so a retry after a miner restart makes the same choice.
    fn fault(&self, task_id: &str, worker: usize) -> Fault {
        let (drop, late) = (self.config.drop, self.config.late);
        if drop <= 0.0 && late <= 0.0 {
            return Fault::None;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.config.seed ^ ((worker as u64) << 32);
        for b in task_id.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // FNV leaves the high bits of short inputs nearly constant: finish with splitmix64's mixer.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 31;
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        if u < drop {
            Fault::Drop
        } else if u < drop + late {
            Fault::Late
        } else {
            Fault::None
        }
    }

    fn log_counters(&self, what: &str) {
        let c = self.counters();
        tracing::info!(
            target: "worksim",
            population = %self.config.population,
            seen = c.seen,
            submitted = c.submitted,
            copied = c.copied,
            lazy_fallback = c.lazy_fallback,
            errors = c.errors,
            dropped = c.dropped,
            delayed = c.delayed,
            "{what} counters"
        );
    }

    async fn sleep(cancel: &CancellationToken, d: Duration) -> bool {
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(d) => true,
        }
    }

    async fn worker(&self, w: usize, cancel: CancellationToken, ready: ReadyHook) {
        let mut session: Option<Session> = None;
        let mut backoff = Backoff::default();
        // Tasks answered or refused for good, and tasks waiting, each with its deadline. `done` is
        // kept across sessions: a new session is a new worker id to the page, which would list
        // tasks this worker already answered under the old one.
        let mut done: HashMap<String, i64> = HashMap::new();
        let mut waiting: HashMap<String, i64> = HashMap::new();
        let mut held: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut written: HashMap<String, i64> = HashMap::new();
        while !cancel.is_cancelled() {
            let s = if let Some(s) = session.clone() {
                s
            } else {
                match self.client.join(&self.config.key).await {
                    Ok(s) => {
                        tracing::info!(target: "worksim", worker = w, worker_id = %s.worker_id, page = %self.client.base(), "session established");
                        backoff.reset();
                        if let Some(f) = ready.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            f();
                        }
                        session = Some(s.clone());
                        s
                    }
                    Err(e) => {
                        bump(&self.counters.errors);
                        let d = backoff.next();
                        tracing::warn!(target: "worksim", worker = w, error = %e, retry_in_ms = d.as_millis() as u64, "cannot join the page");
                        if !Self::sleep(&cancel, d).await {
                            break;
                        }
                        continue;
                    }
                }
            };
            let tasks = match self.client.tasks(&s).await {
                Ok(t) => {
                    backoff.reset();
                    t
                }
                Err(e) => {
                    bump(&self.counters.errors);
                    if e.is_unauthorized() {
                        tracing::info!(target: "worksim", worker = w, "session no longer valid; joining again");
                        session = None;
                        continue;
                    }
                    let d = backoff.next();
                    tracing::warn!(target: "worksim", worker = w, error = %e, retry_in_ms = d.as_millis() as u64, "cannot list tasks");
                    if !Self::sleep(&cancel, d).await {
                        break;
                    }
                    continue;
                }
            };
            if w == 0 {
                self.write_pages(&s, &mut written).await;
            }
            let now = now_ms();
            // Forget what the page no longer lists and has passed its deadline.
            waiting.retain(|_, exp| *exp > now);
            done.retain(|_, exp| *exp > now);
            if held.len() > 10_000 {
                held.clear();
            }
            for task in tasks {
                if cancel.is_cancelled() {
                    break;
                }
                if done.contains_key(&task.id) {
                    continue;
                }
                if !waiting.contains_key(&task.id) {
                    bump(&self.counters.seen);
                    waiting.insert(task.id.clone(), task.expire_at_ms);
                }
                let (answer, source) = match self.decide(&task, w, now_ms()) {
                    Decision::Wait => continue,
                    Decision::Submit(a, s) => (a, s),
                };
                match self.fault(&task.id, w) {
                    Fault::None => {}
                    Fault::Drop => {
                        bump(&self.counters.dropped);
                        done.insert(task.id.clone(), task.expire_at_ms);
                        waiting.remove(&task.id);
                        continue;
                    }
                    Fault::Late => {
                        if held.insert(task.id.clone()) {
                            bump(&self.counters.delayed);
                        }
                        // Held until the deadline has passed; the page may no longer list it.
                        if now_ms() <= task.expire_at_ms {
                            continue;
                        }
                    }
                }
                let canonical = Canonical::of(&task);
                let inputs = match population::to_submission(&task, &canonical, &answer) {
                    Ok(i) => i,
                    Err(e) => {
                        bump(&self.counters.errors);
                        tracing::error!(target: "worksim", task = %task.id, error = %e, "cannot build a submission");
                        done.insert(task.id.clone(), task.expire_at_ms);
                        continue;
                    }
                };
                match self.client.submit(&s, &task.id, &inputs).await {
                    Ok(n) => {
                        bump(&self.counters.submitted);
                        match source {
                            Source::Copied => bump(&self.counters.copied),
                            Source::LazyFallback => bump(&self.counters.lazy_fallback),
                            Source::Own => {}
                        }
                        tracing::debug!(target: "worksim", worker = w, task = %task.id, num_results = n, source = ?source, "submitted");
                        done.insert(task.id.clone(), task.expire_at_ms);
                        waiting.remove(&task.id);
                        if source == Source::Own
                            && self.config.population.publishes()
                            && let Some(share) = &self.share
                            && let Err(e) = share.publish(self.config.population.as_str(), &answer)
                        {
                            tracing::warn!(target: "worksim", error = %e, "cannot publish the answer");
                        }
                    }
                    Err(e) if e.is_unauthorized() => {
                        bump(&self.counters.errors);
                        session = None;
                        break;
                    }
                    Err(ApiError::Status { status, message }) if status < 500 && status != 429 => {
                        // 404 gone, 409 full or already answered, 410 expired, 400 refused:
                        // asking again would get the same answer. (503 "storage failed" and
                        // other 5xx are retried: the miner recorded nothing.)
                        bump(&self.counters.errors);
                        tracing::warn!(target: "worksim", worker = w, task = %task.id, status, reason = %message, "submission refused");
                        done.insert(task.id.clone(), task.expire_at_ms);
                        waiting.remove(&task.id);
                    }
                    Err(e) => {
                        bump(&self.counters.errors);
                        tracing::warn!(target: "worksim", worker = w, task = %task.id, error = %e, "submission failed; will retry");
                        break;
                    }
                }
            }
            if !Self::sleep(&cancel, self.config.poll).await {
                break;
            }
        }
    }
}

/// A fault injected into one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Drop,
    Late,
}

/// The caller's "ready" callback, taken by the first worker that joins.
type ReadyHook = Arc<Mutex<Option<Box<dyn FnOnce() + Send>>>>;

/// Exponential backoff from 200 ms to 5 s.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(200),
        }
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(5));
        d
    }
    fn reset(&mut self) {
        *self = Backoff::default();
    }
}
