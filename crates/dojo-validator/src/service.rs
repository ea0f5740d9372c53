//! `dojo-validator run`: the concurrent loops of a validator (spec §2.2), generic over the chain.
//!
//! Loops, each an `async fn` in one `JoinSet` (the first to fail stops the others):
//! metagraph sync; heartbeats (miners that ack are active); task rounds (synthetic task → one
//! obfuscated copy per active miner → stored, then sent); collection (after a task's deadline,
//! fetch each miner's results, bridge them, store them); scoring (score collected tasks, fold them
//! into the moving average, one transaction); weights ([`crate::schedule`]); and the `/metrics` +
//! `/healthz` server. Every loop's step is idempotent against the store, so a restart resumes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dojo_proto::v1;
use dojo_scoring::{AbsentMiners, Mechanism, MechanismConfig, MovingAverage, Response, TaskScores};
use dojo_synthetic_api::client::{Fetched, SyntheticClient};
use dojo_transport::{AxonTarget, CallOutcome, Dendrite};
use dojo_types::chain::{
    Chain, ChainError, CommitScheme, MetagraphSnapshot, Netuid, RevealWeights, SetWeights,
    account_id, commit_hash_v2, row_matches,
};
use dojo_types::{Hotkey, TaskId, Uid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use crate::bridge;
use crate::metrics::Metrics;
use crate::schedule::{Decision, Me, WeightParams, decide, weights_for};
use crate::scores::ScoreBook;
use crate::store::{Collected, Store, StoreError, Submission, TaskTable};
use crate::view::MinerView;

mod v2;

/// Loop intervals and deadlines.
#[derive(Debug, Clone, PartialEq)]
pub struct Intervals {
    /// Metagraph sync.
    pub metagraph: Duration,
    /// Heartbeats to miners (`VALIDATOR_HEARTBEAT`).
    pub heartbeat: Duration,
    /// New task round (`VALIDATOR_RUN`).
    pub round: Duration,
    /// Task deadline (`TASK_DEADLINE`): results are collected after it.
    pub task_deadline: Duration,
    /// How often collection looks for expired tasks.
    pub collect: Duration,
    /// Scoring pass (`VALIDATOR_UPDATE_SCORE`).
    pub scoring: Duration,
    /// How often the weight scheduler looks at the chain (about one block).
    pub weights: Duration,
}

impl Intervals {
    /// The last Python release's constants (spec §2.3, @078b7a47): deadline 1 h, rounds every
    /// 900 s, heartbeats every 200 s, scoring every 3600 s.
    pub fn spec() -> Self {
        Self {
            metagraph: Duration::from_secs(60),
            heartbeat: Duration::from_secs(200),
            round: Duration::from_secs(900),
            task_deadline: Duration::from_secs(3600),
            collect: Duration::from_secs(60),
            scoring: Duration::from_secs(3600),
            weights: Duration::from_secs(12),
        }
    }

    /// Short intervals for devnets (`--fast`): seconds instead of minutes and hours.
    pub fn fast() -> Self {
        Self {
            metagraph: Duration::from_secs(2),
            heartbeat: Duration::from_secs(2),
            round: Duration::from_secs(5),
            task_deadline: Duration::from_secs(10),
            collect: Duration::from_secs(1),
            scoring: Duration::from_secs(5),
            weights: Duration::from_secs(1),
        }
    }
}

/// Validated configuration of a running validator.
#[derive(Debug, Clone)]
pub struct Config {
    /// Subnet.
    pub netuid: Netuid,
    /// This validator's hotkey (the dendrite signs with it).
    pub hotkey: Hotkey,
    /// Scoring mechanism (a score-the-completions one: `dojo-v1-ground-truth` and the consensus
    /// mechanisms).
    pub mechanism: MechanismConfig,
    /// EMA α.
    pub alpha: f64,
    /// What happens to miners absent from a scoring pass.
    pub absent: AbsentMiners,
    /// Loop timing.
    pub intervals: Intervals,
    /// Version key sent with weights.
    pub version_key: u64,
    /// Neurons with stake (rao) at or above this are validators, not miners (`VALIDATOR_MIN_STAKE`).
    pub miner_max_stake: u64,
    /// Miners per task; `None` sends every task to every active miner (what Dojo v1 did).
    pub sample_size: Option<usize>,
    /// Score bounds of the multi-score criterion.
    pub score_bounds: (f64, f64),
    /// Where `/metrics` and `/healthz` listen; `None` for no server.
    pub metrics_listen: Option<SocketAddr>,
    /// JSONL event log (Open Validators' per-step fields), if any.
    pub event_log: Option<PathBuf>,
    /// Upload of the same records to wandb (`--wandb.project`), if any.
    pub wandb: Option<crate::wandb::Wandb>,
    /// Tasks per scoring pass at most (bounds memory and transaction size).
    pub scoring_batch: usize,
    /// Reward-modelling era: held-out preference pairs sent with each round, whose accuracy
    /// multiplies `rm-consensus` scores ([`crate::probe`]). `None`: consensus alone.
    pub probes: Option<crate::probe::Probes>,
}

/// Fatal errors of the service. Everything else is logged, counted and retried.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The mechanism does not build.
    #[error("mechanism: {0}")]
    Mechanism(#[from] dojo_scoring::ScoringError),
    /// EMA parameters invalid.
    #[error("moving average: {0}")]
    Ema(#[from] dojo_scoring::WeightError),
    /// The store failed at start.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Our version key is below the subnet's `weights_version`: upgrade the validator.
    #[error(
        "version key {ours} is below the subnet's weights_version {required}: upgrade dojo-validator (or pass --weights.version_key)"
    )]
    VersionTooOld {
        /// Ours.
        ours: u64,
        /// Required.
        required: u64,
    },
    /// The metrics server failed.
    #[error("metrics server on {addr}: {source}")]
    Metrics {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A loop panicked.
    #[error("loop panicked: {0}")]
    Panic(String),
}

#[derive(Debug, Clone)]
struct ActiveMiner {
    uid: Uid,
    target: AxonTarget,
}

#[derive(Debug, Default)]
struct Shared {
    metagraph: Option<MetagraphSnapshot>,
    active: Vec<ActiveMiner>,
    /// Block of the last weight rejection: nothing is submitted again before the rate limit
    /// (or one tempo) has passed since, so a refused payload is never hammered.
    last_rejection: Option<u64>,
}

/// A validator: adapters, state and metrics. Run it with [`run`].
#[derive(Debug)]
pub struct Validator<C> {
    config: Config,
    chain: C,
    store: Store,
    /// Task sends (rounds, and resends after a restart).
    dendrite: Dendrite,
    /// Heartbeats and result fetches: each loop signs with its own dendrite uuid, because an axon
    /// refuses a nonce older than the last one it accepted from the same uuid, and concurrent loops
    /// would otherwise race each other to the same miner.
    heartbeat_dendrite: Dendrite,
    fetch_dendrite: Dendrite,
    synthetic: SyntheticClient,
    mechanism: Box<dyn Mechanism>,
    ema: MovingAverage,
    shared: std::sync::Mutex<Shared>,
    book: Mutex<ScoreBook>,
    /// Sum and count of each miner's task scores so far (for `dojo_miner_task_score`).
    score_sums: std::sync::Mutex<BTreeMap<Hotkey, (f64, u64)>>,
    /// Metrics, shared with the `/metrics` server.
    pub metrics: Arc<Metrics>,
    rng: std::sync::Mutex<StdRng>,
    metrics_addr: watch::Sender<Option<SocketAddr>>,
}

/// Unix time in ms.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl<C: Chain + 'static> Validator<C> {
    /// Builds a validator and loads its moving average from the store.
    pub async fn new(
        config: Config,
        chain: C,
        store: Store,
        dendrite: Dendrite,
        synthetic: SyntheticClient,
    ) -> Result<Self, ServiceError> {
        let mechanism = config.mechanism.clone().build()?;
        let ema = MovingAverage::new(config.alpha, config.absent)?;
        let book = store.load_ema().await?;
        let score_sums = store.score_sums().await?;
        let metrics = Arc::new(Metrics::default());
        if let Some(b) = store.last_weights_block().await? {
            metrics.set("dojo_weights_last_block", b as f64);
        }
        let v = Self {
            config,
            chain,
            store,
            heartbeat_dendrite: dendrite.fork(),
            fetch_dendrite: dendrite.fork(),
            dendrite,
            synthetic,
            mechanism,
            ema,
            shared: std::sync::Mutex::default(),
            book: Mutex::new(book),
            score_sums: std::sync::Mutex::new(score_sums),
            metrics,
            rng: std::sync::Mutex::new(StdRng::from_os_rng()),
            metrics_addr: watch::Sender::new(None),
        };
        let book = v.book.lock().await.clone();
        v.publish_miner_gauges(&book);
        Ok(v)
    }

    /// `dojo_miner_ema` and `dojo_miner_task_score` for every uid the book holds a hotkey for.
    fn publish_miner_gauges(&self, book: &ScoreBook) {
        let sums = self
            .score_sums
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ema = Vec::new();
        let mut task = Vec::new();
        for (uid, (h, s)) in book.entries.iter().enumerate() {
            let Some(h) = h else { continue };
            let labels = vec![("uid", uid.to_string()), ("hotkey", h.to_string())];
            if let Some((sum, n)) = sums.get(h).filter(|(_, n)| *n > 0) {
                task.push((labels.clone(), sum / *n as f64));
            }
            ema.push((labels, *s));
        }
        self.metrics.set_family("dojo_miner_ema", ema);
        self.metrics.set_family("dojo_miner_task_score", task);
    }

    /// The metrics server's bound address once [`run`] has bound it (`--metrics.listen` may ask
    /// for port 0).
    pub fn metrics_addr(&self) -> watch::Receiver<Option<SocketAddr>> {
        self.metrics_addr.subscribe()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current moving average.
    pub async fn scores(&self) -> ScoreBook {
        self.book.lock().await.clone()
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn chain_error(&self, call: &str, e: &ChainError) {
        self.metrics
            .inc("dojo_chain_errors_total", &[("call", call)]);
        tracing::warn!(call, error = %e, "chain call failed");
    }

    fn store_error(&self, step: &str, e: &StoreError) {
        self.metrics
            .inc("dojo_store_errors_total", &[("step", step)]);
        tracing::warn!(step, error = %e, "database step failed; will retry");
    }

    /// One metagraph sync: snapshot, score book aligned (reset uids whose hotkey changed).
    pub async fn sync_metagraph(&self) -> Result<(), ServiceError> {
        let mg = match self.chain.metagraph(self.config.netuid).await {
            Ok(m) => m,
            Err(e) => {
                self.chain_error("metagraph", &e);
                return Ok(());
            }
        };
        {
            let mut book = self.book.lock().await;
            let mut next = book.clone();
            let report = next.sync(&mg);
            if (!report.reset.is_empty()
                || report.added > 0
                || next.entries.len() != book.entries.len())
                && let Err(e) = self.store.save_ema(&next).await
            {
                self.store_error("save_ema", &e);
                return Ok(());
            }
            if !report.reset.is_empty() {
                tracing::info!(uids = ?report.reset, "hotkeys changed; their scores restart at 0");
            }
            *book = next;
            self.publish_miner_gauges(&book);
        }
        self.metrics
            .last_block
            .store(mg.block, std::sync::atomic::Ordering::Relaxed);
        self.metrics.set("dojo_metagraph_block", mg.block as f64);
        self.shared().metagraph = Some(mg);
        Ok(())
    }

    fn miner_targets(&self) -> Vec<ActiveMiner> {
        let shared = self.shared();
        let Some(mg) = &shared.metagraph else {
            return Vec::new();
        };
        mg.neurons
            .iter()
            .filter(|n| n.hotkey != self.config.hotkey && n.stake < self.config.miner_max_stake)
            .filter_map(|n| {
                let axon = n.axon.as_ref()?;
                let ip = axon.ipv4()?;
                (axon.port != 0).then(|| ActiveMiner {
                    uid: n.uid,
                    target: AxonTarget {
                        addr: SocketAddr::from((ip, axon.port)),
                        hotkey: n.hotkey.clone(),
                    },
                })
            })
            .collect()
    }

    /// One heartbeat pass: miners that acknowledge become the active set.
    pub async fn heartbeat(&self) -> Result<(), ServiceError> {
        let candidates = self.miner_targets();
        let targets: Vec<AxonTarget> = candidates.iter().map(|m| m.target.clone()).collect();
        let outcomes = self
            .heartbeat_dendrite
            .broadcast(&targets, v1::HeartbeatRequest {}, |mut c, r| async move {
                c.heartbeat(r).await
            })
            .await;
        let mut active = Vec::new();
        for (m, o) in candidates.into_iter().zip(outcomes) {
            let label = match o.success() {
                Some(ack) if ack.ack => {
                    active.push(m);
                    "ack"
                }
                Some(_) => "nack",
                None => o.kind(),
            };
            self.metrics
                .inc("dojo_heartbeats_total", &[("outcome", label)]);
        }
        self.metrics.set("dojo_active_miners", active.len() as f64);
        self.shared().active = active;
        Ok(())
    }

    /// The round's synthetic task, or, when the API has none or is down (counted and logged),
    /// the back-off before the next round.
    async fn fetch_qa(
        &self,
        round: Duration,
    ) -> Result<Box<dojo_synthetic_api::wire::SyntheticQa>, Duration> {
        match self.synthetic.fetch().await {
            Ok(Fetched::Task(qa)) => Ok(qa),
            Ok(Fetched::NotReady { reason }) => {
                self.metrics
                    .inc("dojo_rounds_total", &[("outcome", "synthetic_not_ready")]);
                tracing::info!(%reason, "synthetic API has no task yet; backing off");
                Err(backoff(round))
            }
            Err(e) => {
                self.metrics
                    .inc("dojo_rounds_total", &[("outcome", "synthetic_error")]);
                tracing::warn!(error = %e, "synthetic API failed; round skipped");
                Err(backoff(round))
            }
        }
    }

    /// One task round. Returns how long to wait before the next one: the round interval, or a
    /// short back-off when the synthetic API had no task or was down.
    pub async fn round(&self) -> Result<Duration, ServiceError> {
        if self.votes_round() {
            return self.v2_round().await;
        }
        let round = self.config.intervals.round;
        let mut miners = self.shared().active.clone();
        if miners.is_empty() {
            self.metrics
                .inc("dojo_rounds_total", &[("outcome", "skipped_no_miners")]);
            return Ok(round);
        }
        let qa = match self.fetch_qa(round).await {
            Ok(qa) => qa,
            Err(wait) => return Ok(wait),
        };
        let id = TaskId::new(uuid::Uuid::new_v4().to_string()).expect("a uuid is a valid task id");
        let deadline =
            i64::try_from(self.config.intervals.task_deadline.as_millis()).unwrap_or(i64::MAX);
        let (min, max) = self.config.score_bounds;
        let (task, truth) =
            match qa.to_task(id.clone(), now_ms().saturating_add(deadline), min, max) {
                Ok(t) => t,
                Err(e) => {
                    self.metrics
                        .inc("dojo_rounds_total", &[("outcome", "synthetic_invalid")]);
                    tracing::warn!(error = %e, "synthetic task refused");
                    return Ok(backoff(round));
                }
            };
        if let Some(k) = self.config.sample_size
            && k < miners.len()
        {
            let mut rng = self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rand::seq::SliceRandom::shuffle(miners.as_mut_slice(), &mut *rng);
            miners.truncate(k);
        }
        // Persist before sending: a crash after this point resumes at collection.
        let sent = match self.store_and_send(&task, &truth, &miners, false).await {
            Ok(n) => n,
            Err(e) => {
                self.store_error("insert_round", &e);
                return Ok(backoff(round));
            }
        };
        self.send_probes(&miners, task.expire_at_unix_ms).await;
        self.metrics
            .inc("dojo_rounds_total", &[("outcome", "sent")]);
        tracing::info!(task = %id, miners = sent, "task round sent");
        Ok(round)
    }

    /// Gives each of `miners` its own view of `task`, stores task, truth and views in one
    /// transaction (marked an accuracy probe with `probe`) before anything is sent, then sends
    /// them. Returns how many miners it went to.
    async fn store_and_send(
        &self,
        task: &dojo_types::task::Task,
        truth: &dojo_types::Ranking,
        miners: &[ActiveMiner],
        probe: bool,
    ) -> Result<usize, StoreError> {
        let parts: Vec<(Hotkey, Uid, MinerView)> = {
            let mut rng = self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            miners
                .iter()
                .map(|m| {
                    (
                        m.target.hotkey.clone(),
                        m.uid,
                        MinerView::random(task, &mut *rng),
                    )
                })
                .collect()
        };
        retry(|| {
            self.store
                .insert_round_as(task, truth, &parts, now_ms(), probe)
        })
        .await?;
        let targets: Vec<(AxonTarget, MinerView)> = miners
            .iter()
            .zip(&parts)
            .map(|(m, (_, _, view))| (m.target.clone(), view.clone()))
            .collect();
        self.send_views(task, targets).await;
        Ok(parts.len())
    }

    /// Reward-modelling era: the round's accuracy probes, each stored (marked as a probe) and sent
    /// to the same miners as the synthetic task, each miner through its own view.
    async fn send_probes(&self, miners: &[ActiveMiner], expire_at_unix_ms: i64) {
        let Some(probes) = &self.config.probes else {
            return;
        };
        for _ in 0..probes.per_round {
            let id =
                TaskId::new(uuid::Uuid::new_v4().to_string()).expect("a uuid is a valid task id");
            let (task, truth) = {
                let mut rng = self
                    .rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                probes.task(id, expire_at_unix_ms, self.config.score_bounds, &mut *rng)
            };
            if let Err(e) = self.store_and_send(&task, &truth, miners, true).await {
                self.store_error("insert_probe", &e);
                return;
            }
            self.metrics.inc("dojo_probes_sent_total", &[]);
        }
    }

    /// Sends each miner its copy of `task` and records each outcome.
    async fn send_views(
        &self,
        task: &dojo_types::task::Task,
        targets: Vec<(AxonTarget, MinerView)>,
    ) {
        let id = &task.id;
        let mut sends = JoinSet::new();
        for (target, view) in targets {
            let Some(copy) = view.apply(task) else {
                continue;
            };
            let dendrite = self.dendrite.clone();
            sends.spawn(async move {
                let o = dendrite
                    .call(
                        &target,
                        v1::SendTaskRequest::from(copy),
                        |mut c, r| async move { c.send_task(r).await },
                    )
                    .await;
                (target.hotkey, o)
            });
        }
        while let Some(joined) = sends.join_next().await {
            let Ok((hotkey, o)) = joined else { continue };
            let (label, miner_id) = match &o {
                CallOutcome::Success { response, .. } if !response.miner_task_id.is_empty() => {
                    ("acked", Some(response.miner_task_id.clone()))
                }
                CallOutcome::Success { .. } => ("declined", None),
                other => {
                    tracing::info!(miner = %hotkey, task = %id, outcome = ?other, "task not delivered");
                    (other.kind(), None)
                }
            };
            self.metrics
                .inc("dojo_tasks_sent_total", &[("outcome", label)]);
            if let Err(e) = self
                .store
                .record_send(id, &hotkey, label, miner_id.as_deref())
                .await
            {
                self.store_error("record_send", &e);
            }
        }
    }

    /// Resends the parts of unexpired rounds that a restart interrupted before they were sent
    /// (no recorded send outcome), so a miner is not left without a task it is then asked
    /// results for. Returns how many sends were made.
    pub async fn resume_sends(&self) -> Result<usize, ServiceError> {
        let open = match self.store.tasks_in("sent", None, 256).await {
            Ok(ids) => ids,
            Err(e) => {
                self.store_error("tasks_sent", &e);
                return Ok(0);
            }
        };
        let targets: BTreeMap<Hotkey, AxonTarget> = self
            .miner_targets()
            .into_iter()
            .map(|m| (m.target.hotkey.clone(), m.target))
            .collect();
        let mut sent = 0;
        for id in open {
            let stored = match self.store.load(&id).await {
                Ok(s) => s,
                Err(e) => {
                    self.store_error("load_task", &e);
                    continue;
                }
            };
            if stored.task.expire_at_unix_ms <= now_ms() {
                continue;
            }
            let todo: Vec<(AxonTarget, MinerView)> = stored
                .assignments
                .iter()
                .filter(|a| a.send_outcome.is_none())
                .filter_map(|a| Some((targets.get(&a.hotkey)?.clone(), a.view.clone())))
                .collect();
            if todo.is_empty() {
                continue;
            }
            sent += todo.len();
            tracing::info!(task = %id, miners = todo.len(), "resending a round interrupted by a restart");
            self.send_views(&stored.task, todo).await;
        }
        Ok(sent)
    }

    /// Collects every task whose deadline has passed. Returns how many were collected.
    pub async fn collect(&self) -> Result<usize, ServiceError> {
        // Tasks of the other shape may be in the store from before a mechanism change; both
        // are collected, so nothing sent is left hanging.
        let v2 = self.v2_collect().await?;
        Ok(v2 + self.collect_rounds().await?)
    }

    async fn collect_rounds(&self) -> Result<usize, ServiceError> {
        let due = match self.store.tasks_in("sent", Some(now_ms()), 64).await {
            Ok(d) => d,
            Err(e) => {
                self.store_error("tasks_due", &e);
                return Ok(0);
            }
        };
        let mut done = 0;
        for id in due {
            let stored = match self.store.load(&id).await {
                Ok(s) => s,
                Err(e) => {
                    self.store_error("load_task", &e);
                    continue;
                }
            };
            let bounds = bridge::bounds(&stored.task.criteria);
            let targets: BTreeMap<Hotkey, AxonTarget> = self
                .miner_targets()
                .into_iter()
                .map(|m| (m.target.hotkey.clone(), m.target))
                .collect();
            let mut fetches = JoinSet::new();
            let mut collected = Vec::new();
            for a in &stored.assignments {
                let sent_ok = matches!(a.send_outcome.as_deref(), None | Some("acked"));
                let target = targets.get(&a.hotkey).cloned();
                match (sent_ok, target) {
                    (true, Some(target)) => {
                        let (dendrite, view, task_id) =
                            (self.fetch_dendrite.clone(), a.view.clone(), id.clone());
                        fetches.spawn(async move {
                            let o = dendrite
                                .call(
                                    &target,
                                    v1::FetchResultsRequest {
                                        task_id: task_id.to_string(),
                                    },
                                    |mut c, r| async move { c.fetch_results(r).await },
                                )
                                .await;
                            (target.hotkey, view, o)
                        });
                    }
                    (true, None) => collected.push(Collected {
                        hotkey: a.hotkey.clone(),
                        outcome: "deregistered".into(),
                        reason: None,
                        answer: None,
                    }),
                    (false, _) => collected.push(Collected {
                        hotkey: a.hotkey.clone(),
                        outcome: a.send_outcome.clone().unwrap_or_default(),
                        reason: None,
                        answer: None,
                    }),
                }
            }
            while let Some(joined) = fetches.join_next().await {
                let Ok((hotkey, view, o)) = joined else {
                    continue;
                };
                let c = match o {
                    CallOutcome::Success { response, .. } => {
                        match dojo_types::task::TaskResults::try_from(response) {
                            Err(e) => {
                                tracing::info!(miner = %hotkey, task = %id, error = %e, "malformed results");
                                Collected {
                                    hotkey,
                                    outcome: "rejected".into(),
                                    reason: Some("malformed".into()),
                                    answer: None,
                                }
                            }
                            Ok(results) => match bridge::to_answer(&id, &results, &view, bounds) {
                                Ok(answer) => Collected {
                                    hotkey,
                                    outcome: "accepted".into(),
                                    reason: None,
                                    answer: Some(answer),
                                },
                                Err(r) => {
                                    tracing::info!(miner = %hotkey, task = %id, reason = r.reason(), error = %r, "results refused");
                                    Collected {
                                        hotkey,
                                        outcome: "rejected".into(),
                                        reason: Some(r.reason().into()),
                                        answer: None,
                                    }
                                }
                            },
                        }
                    }
                    other => {
                        tracing::info!(miner = %hotkey, task = %id, outcome = ?other, "results not fetched");
                        Collected {
                            hotkey,
                            outcome: other.kind().into(),
                            reason: None,
                            answer: None,
                        }
                    }
                };
                collected.push(c);
            }
            collected.sort_by(|a, b| a.hotkey.cmp(&b.hotkey));
            match self
                .store
                .record_collection(&id, &collected, now_ms())
                .await
            {
                Ok(()) => {
                    for c in &collected {
                        self.metrics
                            .inc("dojo_responses_total", &[("outcome", &c.outcome)]);
                        if let Some(r) = &c.reason {
                            self.metrics.inc("dojo_rejections_total", &[("reason", r)]);
                        }
                    }
                    done += 1;
                }
                Err(StoreError::Conflict(_)) => {}
                Err(e) => self.store_error("record_collection", &e),
            }
        }
        Ok(done)
    }

    /// One scoring pass over collected tasks: per-task scores, mean per miner, EMA, one
    /// transaction. Returns how many tasks were scored.
    pub async fn score(&self) -> Result<usize, ServiceError> {
        if self.votes_round() {
            return self.v2_score().await;
        }
        let ids = match self
            .store
            .tasks_in("collected", None, self.config.scoring_batch as i64)
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                self.store_error("tasks_collected", &e);
                return Ok(0);
            }
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let start = Instant::now();
        let mut all = Vec::with_capacity(ids.len());
        let mut events = Vec::new();
        // Probes are found first, and only their responses kept: a pass holds one ordinary task
        // at a time, loaded in the loop below, so memory stays one task's worth whatever the batch.
        let mut probes = std::collections::BTreeSet::new();
        let mut probe_responses = Vec::new();
        for id in &ids {
            match self.store.is_probe(id).await {
                Ok(false) => {}
                Ok(true) => match self.store.load(id).await {
                    Ok(stored) => {
                        probes.insert(id.clone());
                        probe_responses.push(stored.responses);
                    }
                    Err(e) => {
                        self.store_error("load_task", &e);
                        return Ok(0);
                    }
                },
                Err(e) => {
                    self.store_error("is_probe", &e);
                    return Ok(0);
                }
            }
        }
        // Reward-modelling era: this pass's probes give each miner its accuracy, and the pass is
        // scored by `rm-consensus` with that multiplier (a miner with no probe answered gets 0).
        let with_accuracy = match (&self.config.probes, &self.config.mechanism) {
            (Some(_), MechanismConfig::RmConsensus(p)) => {
                let accuracy = crate::probe::accuracy(probe_responses.iter().map(Vec::as_slice));
                for (h, a) in &accuracy {
                    tracing::debug!(miner = %h, accuracy = a, "probe accuracy this pass");
                }
                let mut p = p.clone();
                p.accuracy = Some(accuracy);
                Some(MechanismConfig::RmConsensus(p).build()?)
            }
            _ => None,
        };
        let mechanism: &dyn Mechanism = with_accuracy.as_deref().unwrap_or(&*self.mechanism);
        for id in &ids {
            if probes.contains(id) {
                // A probe is scored through the accuracy, not as a task of its own.
                all.push(TaskScores::default());
                continue;
            }
            let stored = match self.store.load(id).await {
                Ok(s) => s,
                Err(e) => {
                    self.store_error("load_task", &e);
                    return Ok(0);
                }
            };
            let wants_ranks = bridge::RANKING_MECHANISMS.contains(&self.mechanism.name());
            let responses: Vec<Response> = stored
                .responses
                .iter()
                .filter_map(|c| {
                    c.answer.as_ref().map(|answer| Response {
                        hotkey: c.hotkey.clone(),
                        answer: if wants_ranks {
                            bridge::ranks_from_scores(answer)
                        } else {
                            answer.clone()
                        },
                    })
                })
                .collect();
            let mut task = dojo_scoring::Task::new(id.clone(), responses);
            task.ground_truth = Some(stored.truth.clone());
            let scores = if task.responses.is_empty() {
                TaskScores::default()
            } else {
                match mechanism.score_task(&task) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(task = %id, error = %e, "task could not be scored; closed with no scores");
                        TaskScores::default()
                    }
                }
            };
            for (h, e) in &scores.rejected {
                tracing::info!(task = %id, miner = %h, error = %e, "response rejected by the mechanism");
                self.metrics
                    .inc("dojo_rejections_total", &[("reason", "mechanism")]);
            }
            // Non-finite task scores are dropped, not stored: a NaN must never reach the average.
            let clean: Vec<(Hotkey, f64)> = scores
                .scores
                .iter()
                .filter(|(_, v)| v.is_finite())
                .cloned()
                .collect();
            // Events are only built when logged: with hundreds of miners they are the largest
            // thing a pass holds.
            if self.config.event_log.is_some() || self.config.wandb.is_some() {
                events.push(event(&stored, &clean));
            }
            all.push(TaskScores {
                scores: clean,
                rejected: vec![],
            });
        }
        self.apply_pass(TaskTable::Rounds, &ids, all, &events, start)
            .await
    }

    /// The end of a scoring pass, shared by both round shapes: aggregate `all` (one entry per
    /// task of `ids`), fold it into the moving average, and write scores, average and the tasks'
    /// move to `scored` in one transaction.
    async fn apply_pass(
        &self,
        table: TaskTable,
        ids: &[TaskId],
        all: Vec<TaskScores>,
        events: &[serde_json::Value],
        start: Instant,
    ) -> Result<usize, ServiceError> {
        let mut per_task = Vec::with_capacity(ids.len());
        let rewards = self.mechanism.aggregate(&all);
        per_task.extend(ids.iter().cloned().zip(all.into_iter().map(|t| t.scores)));
        let mut book = self.book.lock().await;
        let mut next = book.clone();
        if let Err(e) = next.apply(&self.ema, &rewards) {
            tracing::warn!(error = %e, "moving-average update skipped for this pass");
            next = book.clone();
        }
        match self
            .store
            .apply_scores_in(table, &per_task, &next, now_ms())
            .await
        {
            Ok(()) => {
                {
                    let mut sums = self
                        .score_sums
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for (h, v) in per_task.iter().flat_map(|(_, s)| s) {
                        let e = sums.entry(h.clone()).or_default();
                        e.0 += v;
                        e.1 += 1;
                    }
                }
                self.publish_miner_gauges(&next);
                *book = next;
                drop(book);
                self.metrics
                    .add("dojo_tasks_scored_total", &[], ids.len() as f64);
                self.metrics.inc("dojo_scoring_passes_total", &[]);
                self.metrics.add(
                    "dojo_scoring_seconds_total",
                    &[],
                    start.elapsed().as_secs_f64(),
                );
                self.write_events(events);
                tracing::info!(
                    tasks = ids.len(),
                    miners = rewards.len(),
                    "scoring pass applied"
                );
                Ok(ids.len())
            }
            Err(e) => {
                self.store_error("apply_scores", &e);
                Ok(0)
            }
        }
    }

    fn write_events(&self, events: &[serde_json::Value]) {
        let block = self
            .metrics
            .last_block
            .load(std::sync::atomic::Ordering::Relaxed);
        if let Some(w) = &self.config.wandb {
            w.log(events, block, &self.metrics);
        }
        let Some(path) = &self.config.event_log else {
            return;
        };
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            let mut buf = Vec::new();
            for e in events {
                let mut e = e.clone();
                e["block"] = block.into();
                e["_timestamp"] = (now_ms() as f64 / 1000.0).into();
                serde_json::to_writer(&mut buf, &e)?;
                buf.push(b'\n');
            }
            f.write_all(&buf)?;
            f.sync_data()
        };
        if let Err(e) = write() {
            tracing::warn!(path = %path.display(), error = %e, "event log write failed");
        }
    }

    /// One weight-scheduler step at the current block.
    pub async fn weights_step(&self) -> Result<(), ServiceError> {
        let netuid = self.config.netuid;
        let (block, hp, mg) = match tokio::try_join!(
            self.chain.current_block(),
            self.chain.hyperparams(netuid),
            self.chain.metagraph(netuid)
        ) {
            Ok(x) => x,
            Err(e) => {
                self.chain_error("weights_read", &e);
                return Ok(());
            }
        };
        let params = match WeightParams::from_hyperparams(netuid, &hp) {
            Ok(p) => p,
            Err(e) => {
                self.chain_error("hyperparams", &e);
                return Ok(());
            }
        };
        let me = Me::find(&mg, &self.config.hotkey);
        let subs = match self.store.submissions(None).await {
            Ok(s) => s,
            Err(e) => {
                self.store_error("submissions", &e);
                return Ok(());
            }
        };
        // A submission left `pending` by a crash: the chain tells whether it landed (both a set
        // and a commit move LastUpdate to their block). It is never sent again.
        for s in subs.iter().filter(|s| s.status == "pending") {
            let landed = me.last_update >= s.block;
            let status = match (s.kind.as_str(), landed) {
                ("set", true) => "set",
                ("commit" | "tlock", true) => "committed",
                _ => "abandoned",
            };
            tracing::info!(id = %s.id, kind = %s.kind, status, "resolved a submission interrupted by a restart");
            if let Err(e) = self
                .store
                .resolve_submission(&s.id, status, None, now_ms())
                .await
            {
                self.store_error("resolve_submission", &e);
                return Ok(());
            }
        }
        let subs = match self.store.submissions(Some("committed")).await {
            Ok(s) => s,
            Err(e) => {
                self.store_error("submissions", &e);
                return Ok(());
            }
        };
        // The block a commit was decided at precedes the block it landed in (the next one on the
        // devnet, often a few on subtensor), and at an epoch boundary the two fall in different
        // epochs: the chain counts the reveal window from the landing block. The commit moved the
        // hotkey's LastUpdate there, and nothing else moves it while the commit is open.
        let pending = subs.last().cloned().map(|mut s| {
            if matches!(s.kind.as_str(), "commit" | "tlock") && me.last_update > s.block {
                tracing::debug!(id = %s.id, decided = s.block, landed = me.last_update, "commit block taken from the chain's LastUpdate");
                s.block = me.last_update;
            }
            s
        });
        if let Some(r) = self.shared().last_rejection
            && pending.is_none()
            && block < r + params.rate_limit.max(u64::from(params.tempo) + 1)
        {
            return Ok(());
        }
        match decide(
            &params,
            &me,
            self.config.version_key,
            block,
            pending.as_ref().map(|s| s.block),
        ) {
            Decision::VersionTooOld { ours, required } => {
                self.metrics.inc(
                    "dojo_weight_errors_total",
                    &[("error", "IncorrectWeightVersionKey")],
                );
                Err(ServiceError::VersionTooOld { ours, required })
            }
            Decision::NotRegistered => {
                tracing::warn!(hotkey = %self.config.hotkey, "validator hotkey is not registered on the subnet");
                Ok(())
            }
            Decision::NoPermit => {
                tracing::debug!("no validator permit yet; waiting for an epoch");
                Ok(())
            }
            Decision::WaitUntil(_) => Ok(()),
            Decision::Expired => {
                if let Some(s) = pending.as_ref().filter(|s| s.kind == "tlock") {
                    // The chain reveals timelocked commits itself and says nothing when that
                    // fails: the last word is the weight row it holds now.
                    self.confirm_timelocked(s, netuid, true).await;
                    return Ok(());
                }
                if let Some(s) = pending {
                    tracing::warn!(id = %s.id, "weight commit expired unrevealed");
                    self.metrics.inc(
                        "dojo_weight_errors_total",
                        &[("error", "ExpiredWeightCommit")],
                    );
                    if let Err(e) = self
                        .store
                        .resolve_submission(&s.id, "expired", None, now_ms())
                        .await
                    {
                        self.store_error("resolve_submission", &e);
                    }
                }
                Ok(())
            }
            Decision::Reveal => {
                let Some(s) = pending else { return Ok(()) };
                if s.kind == "tlock" {
                    self.confirm_timelocked(&s, netuid, false).await;
                    return Ok(());
                }
                let req = RevealWeights {
                    hotkey: self.config.hotkey.clone(),
                    netuid,
                    uids: s.uids.clone(),
                    values: s.weights.clone(),
                    salt: s.salt.clone(),
                    version_key: s.version_key,
                };
                let r = self.chain.reveal_weights(req).await;
                self.finish(&s, "revealed", "reveal", r, block).await;
                Ok(())
            }
            d @ (Decision::Set | Decision::Commit) => {
                // Nothing scored yet (in either round shape): there is nothing to say on chain.
                let scored = match self.store.count("scored").await {
                    Ok(n) => self.store.count_v2("scored").await.map(|m| n + m),
                    Err(e) => Err(e),
                };
                match scored {
                    Ok(0) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => {
                        self.store_error("count", &e);
                        return Ok(());
                    }
                }
                let scores = self.book.lock().await.scores();
                let mut scores = scores;
                scores.resize(mg.neurons.len(), 0.0);
                let (uids, weights) = match weights_for(&scores, &params) {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::error!(error = %e, "weights could not be computed");
                        return Ok(());
                    }
                };
                let commit = d == Decision::Commit;
                let timelocked = commit
                    && match self.chain.commit_scheme(netuid).await {
                        Ok(CommitScheme::Timelocked { .. }) => true,
                        Ok(CommitScheme::Hash) => false,
                        Err(e) => {
                            tracing::warn!(error = %e, "commit scheme unreadable; retrying next block");
                            return Ok(());
                        }
                    };
                let salt: Vec<u16> = if commit && !timelocked {
                    let mut rng = self
                        .rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    (0..8).map(|_| rng.random()).collect()
                } else {
                    Vec::new()
                };
                let sub = Submission {
                    id: uuid::Uuid::new_v4().to_string(),
                    kind: if timelocked {
                        "tlock"
                    } else if commit {
                        "commit"
                    } else {
                        "set"
                    }
                    .into(),
                    block,
                    uids,
                    weights,
                    salt,
                    version_key: self.config.version_key,
                    status: "pending".into(),
                    error: None,
                };
                // The salt and payload are durable before the commit leaves, so a restart can reveal.
                if let Err(e) = self.store.insert_submission(&sub, now_ms()).await {
                    self.store_error("insert_submission", &e);
                    return Ok(());
                }
                let r = if timelocked {
                    self.chain
                        .commit_timelocked_weights(SetWeights {
                            hotkey: self.config.hotkey.clone(),
                            netuid,
                            uids: sub.uids.clone(),
                            weights: sub.weights.clone(),
                            version_key: sub.version_key,
                        })
                        .await
                        .map(|round| {
                            tracing::info!(id = %sub.id, reveal_round = round, "timelocked commit locked to drand round");
                        })
                } else if commit {
                    let hash = commit_hash_v2(
                        &account_id(&self.config.hotkey),
                        netuid,
                        &sub.uids,
                        &sub.weights,
                        &sub.salt,
                        sub.version_key,
                    );
                    self.chain
                        .commit_weights(&self.config.hotkey, netuid, hash)
                        .await
                } else {
                    self.chain
                        .set_weights(SetWeights {
                            hotkey: self.config.hotkey.clone(),
                            netuid,
                            uids: sub.uids.clone(),
                            weights: sub.weights.clone(),
                            version_key: sub.version_key,
                        })
                        .await
                };
                let (ok, kind) = if commit {
                    ("committed", "commit")
                } else {
                    ("set", "set")
                };
                self.finish(&sub, ok, kind, r, block).await;
                Ok(())
            }
        }
    }

    /// Whether the chain revealed timelocked commit `s`: its weight row equals what was
    /// committed. Landed → `revealed`; not yet → wait, unless `last` (the reveal epoch is over),
    /// which makes it a failed reveal, counted and logged.
    async fn confirm_timelocked(&self, s: &Submission, netuid: Netuid, last: bool) {
        let row = match self.chain.weights_row(&self.config.hotkey, netuid).await {
            Ok(row) => row,
            Err(e) => {
                tracing::warn!(id = %s.id, error = %e, "weight row unreadable; checking the reveal again next block");
                return;
            }
        };
        let landed = row
            .as_deref()
            .is_some_and(|r| row_matches(r, &s.uids, &s.weights));
        let status = match (landed, last) {
            (true, _) => {
                self.metrics
                    .inc("dojo_weights_set_total", &[("kind", "reveal")]);
                self.metrics.set("dojo_weights_last_block", s.block as f64);
                tracing::info!(id = %s.id, uids = s.uids.len(), "timelocked weights revealed by the chain");
                "revealed"
            }
            (false, false) => {
                tracing::debug!(id = %s.id, "timelocked weights not revealed yet");
                return;
            }
            (false, true) => {
                self.metrics
                    .inc("dojo_weight_errors_total", &[("error", "RevealFailed")]);
                tracing::warn!(id = %s.id, commit_block = s.block, "timelocked reveal did not land: the chain holds other weights after the reveal epoch (drand pulse missing or payload rejected)");
                "reveal_failed"
            }
        };
        if let Err(e) = self
            .store
            .resolve_submission(&s.id, status, None, now_ms())
            .await
        {
            self.store_error("resolve_submission", &e);
        }
    }

    async fn finish(
        &self,
        s: &Submission,
        ok: &str,
        kind: &str,
        r: Result<(), ChainError>,
        block: u64,
    ) {
        let (status, error) = match &r {
            Ok(()) => {
                self.metrics
                    .inc("dojo_weights_set_total", &[("kind", kind)]);
                if kind != "commit" {
                    self.metrics.set("dojo_weights_last_block", block as f64);
                }
                tracing::info!(id = %s.id, kind, uids = s.uids.len(), block, "weights accepted by the chain");
                (ok, None)
            }
            Err(e) => {
                let name = format!("{e:?}");
                let name = name
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap_or("unknown")
                    .to_owned();
                self.metrics
                    .inc("dojo_weight_errors_total", &[("error", &name)]);
                tracing::warn!(id = %s.id, kind, error = %e, "chain refused weights; not resubmitting");
                self.shared().last_rejection = Some(block);
                let status = if matches!(e, ChainError::ExpiredWeightCommit) {
                    "expired"
                } else {
                    "rejected"
                };
                (status, Some(e.to_string()))
            }
        };
        if let Err(e) = self
            .store
            .resolve_submission(&s.id, status, error.as_deref(), now_ms())
            .await
        {
            self.store_error("resolve_submission", &e);
        }
    }
}

fn backoff(round: Duration) -> Duration {
    round
        .min(Duration::from_secs(5))
        .max(Duration::from_millis(100))
}

/// Retries a store step a few times with exponential back-off (a briefly unavailable database);
/// each attempt is one transaction, so a failed one leaves nothing behind.
async fn retry<T, F, Fut>(mut f: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match f().await {
            Err(StoreError::Db(e)) if attempt < 5 => {
                tracing::warn!(attempt, error = %e, "database unavailable; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// One Open Validators per-step event for a scored task (`prompt`, `uids`, `completions`,
/// `completion_times`, `rewards`, `best`), plus Dojo's `task_id` and `outcomes`.
fn event(stored: &crate::store::StoredTask, scores: &[(Hotkey, f64)]) -> serde_json::Value {
    let by_hotkey: BTreeMap<&Hotkey, f64> = scores.iter().map(|(h, v)| (h, *v)).collect();
    let resp: BTreeMap<&Hotkey, &Collected> =
        stored.responses.iter().map(|c| (&c.hotkey, c)).collect();
    let mut uids = Vec::new();
    let mut completions = Vec::new();
    let mut rewards = Vec::new();
    let mut outcomes = Vec::new();
    for a in &stored.assignments {
        uids.push(a.uid.0);
        let c = resp.get(&a.hotkey);
        completions.push(
            c.and_then(|c| c.answer.as_ref())
                .map(|ans| serde_json::to_string(ans).unwrap_or_default())
                .unwrap_or_default(),
        );
        outcomes.push(c.map(|c| c.outcome.clone()).unwrap_or_default());
        rewards.push(by_hotkey.get(&a.hotkey).copied().unwrap_or(0.0));
    }
    let best = stored
        .truth
        .best_first()
        .next()
        .map(|c| c.to_string())
        .unwrap_or_default();
    serde_json::json!({
        "name": "dojo_task",
        "task_id": stored.task.id.as_str(),
        "prompt": stored.task.prompt,
        "uids": uids,
        "completions": completions,
        "completion_times": vec![serde_json::Value::Null; uids.len()],
        "rewards": rewards,
        "outcomes": outcomes,
        "best": best,
        "step_length": serde_json::Value::Null,
    })
}

async fn every<F, Fut>(
    period: Duration,
    mut shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
    mut step: F,
) -> Result<(), ServiceError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Duration, ServiceError>>,
{
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
            _ = tokio::time::sleep(wait) => {}
        }
        wait = step().await?;
        metrics.progress();
        if wait.is_zero() {
            wait = period;
        }
    }
}

/// Runs every loop until `shutdown` resolves or a loop fails; drains them and returns.
pub async fn run<C: Chain + 'static>(
    validator: Arc<Validator<C>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    let (tx, rx) = watch::channel(false);
    let mut set: JoinSet<Result<(), ServiceError>> = JoinSet::new();
    let iv = validator.config.intervals.clone();
    // The first metagraph and heartbeat happen before rounds start, so round one has miners.
    validator.sync_metagraph().await?;
    validator.heartbeat().await?;
    validator.resume_sends().await?;
    macro_rules! spawn_loop {
        ($period:expr, $body:expr) => {{
            let v = validator.clone();
            let rx = rx.clone();
            let m = validator.metrics.clone();
            let period = $period;
            set.spawn(async move {
                every(period, rx, m, || {
                    let v = v.clone();
                    async move { ($body)(v).await }
                })
                .await
            });
        }};
    }
    spawn_loop!(iv.metagraph, |v: Arc<Validator<C>>| async move {
        v.sync_metagraph().await.map(|()| Duration::ZERO)
    });
    spawn_loop!(iv.heartbeat, |v: Arc<Validator<C>>| async move {
        v.heartbeat().await.map(|()| Duration::ZERO)
    });
    spawn_loop!(
        iv.round,
        |v: Arc<Validator<C>>| async move { v.round().await }
    );
    spawn_loop!(iv.collect, |v: Arc<Validator<C>>| async move {
        v.collect().await.map(|_| Duration::ZERO)
    });
    spawn_loop!(iv.scoring, |v: Arc<Validator<C>>| async move {
        // A full batch means a backlog (the batch only bounds memory and transaction size): the
        // next pass follows at once instead of one scoring interval later.
        let batch = v.config.scoring_batch;
        v.score().await.map(|n| {
            if n >= batch {
                Duration::from_millis(20)
            } else {
                Duration::ZERO
            }
        })
    });
    spawn_loop!(iv.weights, |v: Arc<Validator<C>>| async move {
        v.weights_step().await.map(|()| Duration::ZERO)
    });
    if let Some(addr) = validator.config.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServiceError::Metrics { addr, source })?;
        tracing::info!(addr = ?listener.local_addr().ok(), "metrics on /metrics, health on /healthz");
        validator
            .metrics_addr
            .send_replace(listener.local_addr().ok());
        let router = crate::metrics::router(validator.metrics.clone());
        let mut rx = rx.clone();
        set.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await
                .map_err(|source| ServiceError::Metrics { addr, source })
        });
    }
    let mut shutdown = Box::pin(shutdown);
    let mut result = Ok(());
    tokio::select! {
        _ = &mut shutdown => tracing::info!("shutting down"),
        Some(first) = set.join_next() => {
            result = match first {
                Ok(r) => r,
                Err(e) => Err(ServiceError::Panic(e.to_string())),
            };
        }
    }
    let _ = tx.send(true);
    while let Some(r) = set.join_next().await {
        if let (Ok(()), Ok(Err(e))) = (&result, r) {
            result = Err(e);
        }
    }
    validator.store.close().await;
    result
}
