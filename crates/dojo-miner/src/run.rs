//! Starting and running the miner: registration, the axon, and the loops around them.
//!
//! [`start`] registers the hotkey if needed, serves the axon on chain, reads the metagraph once
//! (so callers are known before the first request) and spawns every loop into one `JoinSet`:
//! the signed axon, the metagraph refresh, the expiry sweep, the judging loop of an automatic
//! provider and the worker page. The first loop that fails cancels the others; [`RunningMiner::wait`]
//! drains them and returns that error.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use dojo_identity::Keypair;
use dojo_transport::{AxonConfig, AxonLayer, MetagraphCache, serve_miner_with_roles};
use dojo_types::chain::{AxonInfo, Chain, ChainError, Netuid};
use dojo_types::{Hotkey, TaskId};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::grpc::{MinerGrpc, MinerRolesGrpc, now_ms};
use crate::provider::{BoxFuture, JobLedger, Provider, ProviderError};
use crate::service::{Job, JobKind, MinerService, TaskLimits};
use crate::store::{Store, StoreError};
use crate::web::{WebConfig, WorkerPage};

/// Everything the miner needs to know, validated before any loop starts.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Subnet.
    pub netuid: Netuid,
    /// Where the axon listens.
    pub axon_bind: SocketAddr,
    /// Address advertised on chain; `None` uses the bound address (loopback when bound to all).
    pub external_ip: Option<IpAddr>,
    /// Port advertised on chain; `None` uses the bound port.
    pub external_port: Option<u16>,
    /// `burned_register` the hotkey when it is not on the subnet yet.
    pub register: bool,
    /// Minimum stake (TAO) a caller needs.
    pub min_stake: f64,
    /// Refuse callers without a validator permit.
    pub require_validator_permit: bool,
    /// Per-validator request rate the axon admits.
    pub rate_limit: dojo_transport::RateLimit,
    /// How often the metagraph is re-read.
    pub metagraph_refresh: Duration,
    /// How often expired data is purged.
    pub sweep_interval: Duration,
    /// How long a task (and its results) is kept after its deadline, for late result requests.
    pub retention: Duration,
    /// What tasks are accepted.
    pub limits: TaskLimits,
    /// Tasks an automatic provider judges at once.
    pub judge_concurrency: usize,
    /// Worker page settings (`None`: no page; the human provider needs one).
    pub web: Option<WebConfig>,
    /// Software version reported in heartbeats.
    pub version: String,
    /// Version advertised in the axon info (`major·100 + minor·10 + patch` as bittensor does).
    pub version_as_int: u32,
}

/// Failures that stop the miner.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    /// A chain call failed.
    #[error("chain: {0}")]
    Chain(#[from] ChainError),
    /// The hotkey is not on the subnet and registration is off.
    #[error(
        "hotkey {hotkey} is not registered on netuid {netuid} (pass --register to burn-register it)"
    )]
    NotRegistered {
        /// Our hotkey.
        hotkey: Hotkey,
        /// Subnet.
        netuid: Netuid,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A socket could not be bound or served.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The axon server failed.
    #[error("axon server: {0}")]
    Axon(#[from] tonic::transport::Error),
    /// The configuration cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// A loop panicked.
    #[error("a miner loop panicked: {0}")]
    Panicked(String),
}

/// The hotkey the miner signs as and the coldkey that pays its registration.
#[derive(Debug)]
pub struct Identity {
    /// The hotkey pair.
    pub hotkey: Keypair,
    /// The coldkey address (its key signs registration on a real chain; the devnet trusts it).
    pub coldkey: Hotkey,
}

/// A started miner.
#[derive(Debug)]
pub struct RunningMiner {
    /// Where the axon listens.
    pub axon_addr: SocketAddr,
    /// Where the worker page listens, if it runs.
    pub web_addr: Option<SocketAddr>,
    /// Our uid on the subnet.
    pub uid: dojo_types::Uid,
    token: CancellationToken,
    loops: JoinSet<Result<(), MinerError>>,
    store: Store,
}

impl RunningMiner {
    /// Asks every loop to stop (what a shutdown signal does).
    pub fn shutdown(&self) {
        self.token.cancel();
    }

    /// A token that stops the miner when cancelled.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Waits for every loop; the first error (after cancelling the rest) is returned.
    pub async fn wait(mut self) -> Result<(), MinerError> {
        let mut first = None;
        while let Some(joined) = self.loops.join_next().await {
            let outcome = match joined {
                Ok(r) => r,
                Err(e) => Err(MinerError::Panicked(e.to_string())),
            };
            if let Err(e) = outcome {
                tracing::error!(target: "miner::run", error = %e, "loop failed; stopping the miner");
                self.token.cancel();
                first.get_or_insert(e);
            }
        }
        self.store.close().await;
        tracing::info!(target: "miner::run", "miner stopped");
        first.map_or(Ok(()), Err)
    }
}

fn axon_info(ip: IpAddr, port: u16, version: u32) -> AxonInfo {
    let (ip, ip_type) = match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4),
        IpAddr::V6(v6) => (u128::from(v6), 6),
    };
    AxonInfo {
        block: 0,
        version,
        ip,
        port,
        ip_type,
        protocol: 4,
    }
}

/// Registers (if allowed), serves the axon on chain and spawns every loop.
pub async fn start<C: Chain + 'static>(
    config: MinerConfig,
    chain: Arc<C>,
    identity: Identity,
    store: Store,
    provider: Arc<dyn Provider>,
) -> Result<RunningMiner, MinerError> {
    let hotkey = identity.hotkey.ss58();
    let netuid = config.netuid;
    if provider.method() == dojo_types::task::ScoringMethod::Human && config.web.is_none() {
        return Err(MinerError::Config(
            "the human provider needs the worker page (--worker.port)".to_owned(),
        ));
    }
    let metagraph = chain.metagraph(netuid).await?;
    let uid = match metagraph.uid_of(&hotkey) {
        Some(uid) => uid,
        None if config.register => {
            let uid = chain
                .burned_register(&identity.coldkey, netuid, &hotkey)
                .await?;
            tracing::info!(target: "miner::run", %hotkey, netuid, uid = uid.0, "registered");
            uid
        }
        None => return Err(MinerError::NotRegistered { hotkey, netuid }),
    };

    let listener = tokio::net::TcpListener::bind(config.axon_bind)
        .await
        .map_err(|source| MinerError::Io {
            what: format!("binding the axon on {}", config.axon_bind),
            source,
        })?;
    let axon_addr = listener.local_addr().map_err(|source| MinerError::Io {
        what: "reading the axon address".to_owned(),
        source,
    })?;
    let ip = config.external_ip.unwrap_or(if axon_addr.ip().is_unspecified() {
        tracing::warn!(target: "miner::run", "axon bound to all interfaces without --axon.external_ip; advertising 127.0.0.1");
        IpAddr::from([127, 0, 0, 1])
    } else {
        axon_addr.ip()
    });
    let info = axon_info(
        ip,
        config.external_port.unwrap_or(axon_addr.port()),
        config.version_as_int,
    );
    let current = chain
        .metagraph(netuid)
        .await?
        .neurons
        .into_iter()
        .find(|n| n.hotkey == hotkey)
        .and_then(|n| n.axon);
    let same = current.as_ref().is_some_and(|a| {
        (a.ip, a.port, a.ip_type, a.version, a.protocol)
            == (
                info.ip,
                info.port,
                info.ip_type,
                info.version,
                info.protocol,
            )
    });
    if !same {
        match chain.serve_axon(&hotkey, netuid, info.clone()).await {
            Ok(()) => {
                tracing::info!(target: "miner::run", %hotkey, netuid, ip = %ip, port = info.port, "served axon on chain");
            }
            // Restarting within the serving rate limit keeps the earlier axon info; requests still
            // reach us when the address did not change.
            Err(ChainError::ServingRateLimitExceeded) => {
                tracing::warn!(target: "miner::run", "serve_axon rate-limited; the chain keeps the previous axon info");
            }
            Err(e) => return Err(e.into()),
        }
    }

    let cache = Arc::new(MetagraphCache::new());
    cache.refresh(chain.as_ref(), netuid).await?;
    let token = CancellationToken::new();
    let mut loops = JoinSet::new();

    let automatic = provider.method() != dojo_types::task::ScoringMethod::Human;
    let (jobs_tx, jobs_rx) = if automatic {
        let (tx, rx) = mpsc::channel(1024);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let service = MinerService::new(
        store.clone(),
        provider.clone(),
        config.limits.clone(),
        config.version.clone(),
        jobs_tx,
    );

    let mut axon_config = AxonConfig::new(hotkey.clone());
    axon_config.min_stake = config.min_stake;
    axon_config.require_validator_permit = config.require_validator_permit;
    axon_config.rate_limit = config.rate_limit;
    let layer = AxonLayer::new(axon_config, cache.clone());
    {
        let grpc = MinerGrpc::new(service.clone());
        let roles = MinerRolesGrpc::new(service.clone());
        let t = token.clone();
        loops.spawn(async move {
            serve_miner_with_roles(grpc, roles, listener, layer, t.cancelled_owned()).await?;
            Ok(())
        });
    }
    {
        let (chain, cache, t, every) = (
            chain.clone(),
            cache.clone(),
            token.clone(),
            config.metagraph_refresh,
        );
        loops.spawn(async move { refresh_loop(chain.as_ref(), &cache, netuid, every, t).await });
    }
    {
        let (store, t) = (store.clone(), token.clone());
        let (every, retention) = (config.sweep_interval, config.retention);
        loops.spawn(async move { sweep_loop(&store, every, retention, t).await });
    }
    if let Some(rx) = jobs_rx {
        let (service, t) = (service.clone(), token.clone());
        let n = config.judge_concurrency.max(1);
        loops.spawn(async move { judge_loop(service, rx, n, t).await });
    }
    let mut web_addr = None;
    if let Some(web) = config.web.clone() {
        let page = WorkerPage::new(service.clone(), web.clone());
        let listener = tokio::net::TcpListener::bind(web.bind)
            .await
            .map_err(|source| MinerError::Io {
                what: format!("binding the worker page on {}", web.bind),
                source,
            })?;
        web_addr = Some(listener.local_addr().map_err(|source| MinerError::Io {
            what: "reading the worker page address".to_owned(),
            source,
        })?);
        let t = token.clone();
        loops.spawn(async move {
            axum::serve(listener, page.router())
                .with_graceful_shutdown(t.cancelled_owned())
                .await
                .map_err(|source| MinerError::Io {
                    what: "serving the worker page".to_owned(),
                    source,
                })
        });
    }
    tracing::info!(target: "miner::run", %hotkey, uid = uid.0, netuid, axon = %axon_addr, web = ?web_addr, method = %provider.method(), "miner running");
    Ok(RunningMiner {
        axon_addr,
        web_addr,
        uid,
        token,
        loops,
        store,
    })
}

/// [`start`], then run until `shutdown` resolves or a loop fails.
pub async fn run<C: Chain + 'static>(
    config: MinerConfig,
    chain: Arc<C>,
    identity: Identity,
    store: Store,
    provider: Arc<dyn Provider>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), MinerError> {
    let running = start(config, chain, identity, store, provider).await?;
    let token = running.token();
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown => {
                tracing::info!(target: "miner::run", "shutdown requested");
                token.cancel();
            }
            () = token.cancelled() => {}
        }
    });
    running.wait().await
}

async fn refresh_loop<C: Chain>(
    chain: &C,
    cache: &MetagraphCache,
    netuid: Netuid,
    every: Duration,
    token: CancellationToken,
) -> Result<(), MinerError> {
    loop {
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
        match cache.refresh(chain, netuid).await {
            Ok(_) => {
                tracing::debug!(target: "miner::metagraph", block = cache.block(), callers = cache.len(), "metagraph refreshed");
            }
            // The axon keeps serving from the last snapshot; a chain outage is not a miner outage.
            Err(e) => {
                tracing::warn!(target: "miner::metagraph", error = %e, "metagraph refresh failed")
            }
        }
    }
}

async fn sweep_loop(
    store: &Store,
    every: Duration,
    retention: Duration,
    token: CancellationToken,
) -> Result<(), MinerError> {
    loop {
        match store.purge(now_ms(), retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(target: "miner::store", purged = n, "purged expired tasks"),
            Err(e) => tracing::warn!(target: "miner::store", error = %e, "purge failed"),
        }
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// How often the judging loop looks for stored tasks nobody judged (after a restart, or when the
/// queue was full).
const RESCAN: Duration = Duration::from_secs(30);

async fn judge_loop(
    service: MinerService,
    mut rx: mpsc::Receiver<Job>,
    concurrency: usize,
    token: CancellationToken,
) -> Result<(), MinerError> {
    let slots = Arc::new(Semaphore::new(concurrency));
    let in_flight: Arc<Mutex<HashSet<(Hotkey, String, JobKind)>>> = Arc::default();
    let mut workers = JoinSet::new();
    let mut rescan = tokio::time::interval(RESCAN);
    loop {
        let jobs: Vec<Job> = tokio::select! {
            () = token.cancelled() => break,
            job = rx.recv() => match job { Some(j) => vec![j], None => break },
            _ = rescan.tick() => rescan_jobs(&service).await,
        };
        for job in jobs {
            let key = (job.caller.clone(), job.task.to_string(), job.kind);
            if !in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.clone())
            {
                continue;
            }
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (service, in_flight) = (service.clone(), in_flight.clone());
            workers.spawn(async move {
                match job.kind {
                    JobKind::Judge => judge_one(&service, &job).await,
                    JobKind::Generate => generate_one(&service, &job).await,
                }
                in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
                drop(permit);
            });
        }
        while workers.try_join_next().is_some() {}
    }
    // A judgement cut short is redone after the restart: the task is still unanswered.
    workers.abort_all();
    while workers.join_next().await.is_some() {}
    Ok(())
}

/// Stored work nobody did: unanswered tasks and unwritten generation tasks.
async fn rescan_jobs(service: &MinerService) -> Vec<Job> {
    let now = now_ms();
    let mut jobs = Vec::new();
    let owed = service.provider().max_results();
    match service.store().unanswered_tasks(now, owed, 256).await {
        Ok(tasks) => jobs.extend(tasks.into_iter().map(|t| Job {
            caller: t.caller,
            task: t.task.id,
            kind: JobKind::Judge,
        })),
        Err(e) => tracing::warn!(target: "miner::judge", error = %e, "rescan of tasks failed"),
    }
    match service.store().open_generations(now, 256).await {
        Ok(tasks) => jobs.extend(tasks.into_iter().map(|t| Job {
            caller: t.caller,
            task: t.task.id,
            kind: JobKind::Generate,
        })),
        Err(e) => {
            tracing::warn!(target: "miner::judge", error = %e, "rescan of generation tasks failed")
        }
    }
    jobs
}

async fn generate_one(service: &MinerService, job: &Job) {
    let stored = match service.store().generation(&job.caller, &job.task).await {
        Ok(Some(t)) => t,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(target: "miner::judge", task = %job.task, error = %e, "reading generation task failed");
            return;
        }
    };
    if stored.generated.is_some()
        || stored.state != crate::store::TaskState::Open
        || stored.task.expire_at_unix_ms <= now_ms()
    {
        return;
    }
    match service.provider().generate(&stored.task).await {
        Ok(Some(generated)) => match service.add_generation(&stored, generated, now_ms()).await {
            Ok(Ok(())) => {
                tracing::debug!(target: "miner::judge", caller = %job.caller, task = %job.task, "completion written");
            }
            Ok(Err(refused)) => {
                tracing::info!(target: "miner::judge", task = %job.task, %refused, "completion not stored");
            }
            Err(e) => {
                tracing::warn!(target: "miner::judge", task = %job.task, error = %e, "storing completion failed");
            }
        },
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(target: "miner::judge", task = %job.task, error = %e, "writing failed; retried on the next rescan");
        }
    }
}

async fn judge_one(service: &MinerService, job: &Job) {
    let stored = match service.store().task(&job.caller, &job.task).await {
        Ok(Some(t)) => t,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(target: "miner::judge", task = %job.task, error = %e, "reading task failed");
            return;
        }
    };
    if stored.num_results >= service.provider().max_results()
        || stored.task.expire_at_unix_ms <= now_ms()
    {
        return;
    }
    let (tx, mut rx) = mpsc::channel(16);
    let ledger = StoreLedger {
        store: service.store(),
        caller: &job.caller,
        task: &job.task,
        provider: service.provider().method().as_str(),
    };
    let collecting = service.provider().collect(&stored.task, &ledger, tx);
    let storing = async {
        while let Some(result) = rx.recv().await {
            match service
                .add_result(&job.caller, &job.task, &result, now_ms())
                .await
            {
                Ok(Ok(())) => {
                    tracing::debug!(target: "miner::judge", caller = %job.caller, task = %job.task, worker = %result.worker_id, "judged");
                }
                Ok(Err(refused)) => {
                    tracing::info!(target: "miner::judge", task = %job.task, %refused, "judgement not stored");
                }
                Err(e) => {
                    tracing::warn!(target: "miner::judge", task = %job.task, error = %e, "storing judgement failed");
                }
            }
        }
    };
    let (collected, ()) = tokio::join!(collecting, storing);
    if let Err(e) = collected {
        tracing::warn!(target: "miner::judge", task = %job.task, error = %e, "judging failed; retried on the next rescan");
    }
}

/// The miner's store as one task's [`JobLedger`].
struct StoreLedger<'a> {
    store: &'a Store,
    caller: &'a Hotkey,
    task: &'a TaskId,
    provider: &'static str,
}

impl JobLedger for StoreLedger<'_> {
    fn handle(&self) -> BoxFuture<'_, Result<Option<String>, ProviderError>> {
        Box::pin(async move {
            self.store
                .provider_job(self.caller, self.task, self.provider)
                .await
                .map_err(|e| ledger_error(self.provider, &e))
        })
    }
    fn record<'a>(&'a self, handle: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.store
                .record_provider_job(self.caller, self.task, self.provider, handle, now_ms())
                .await
                .map_err(|e| ledger_error(self.provider, &e))
        })
    }
}

fn ledger_error(provider: &'static str, e: &StoreError) -> ProviderError {
    ProviderError::Backend {
        provider,
        message: format!("job ledger: {e}"),
    }
}
