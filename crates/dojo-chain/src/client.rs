//! A connected subtensor client: reads at one pinned block, deadlines on every RPC, reconnect with
//! backoff, and a metadata shape check whenever the runtime version changes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dojo_identity::Keypair;
use dojo_types::chain::ChainError;
use subxt::backend::LegacyBackend;
use subxt::config::RpcConfigFor;
use subxt::rpcs::methods::LegacyRpcMethods;
use subxt::{OnlineClient, PolkadotConfig};
use tokio::sync::RwLock;

use crate::calls::Call;
use crate::errors::{CallKind, from_custom_code};
use crate::network::Network;
use crate::shape;

/// The client at one block.
pub(crate) type At = subxt::client::ClientAtBlock<
    PolkadotConfig,
    subxt::client::OnlineClientAtBlockImpl<PolkadotConfig>,
>;

/// Deadlines and retry policy; the defaults suit finney's 12 s blocks.
#[derive(Clone, Debug)]
pub struct Options {
    /// Deadline of one read (RPC round trip, including a metadata download after an upgrade).
    pub call_timeout: Duration,
    /// Deadline from submission to inclusion in a best block.
    pub inclusion_timeout: Duration,
    /// How long `wait_for_block` tolerates no new block before failing as stale (spec §8).
    pub stale_after: Duration,
    /// How often `wait_for_block` polls the best block.
    pub poll_interval: Duration,
    /// Reconnect attempts after a transport failure, with doubling backoff from `backoff`.
    pub reconnect_attempts: u32,
    /// First reconnect backoff.
    pub backoff: Duration,
    /// Mortality of signed extrinsics, in blocks (the SDK uses 128; 64 keeps stale ones short).
    pub mortality: u64,
    /// Fill each neuron's `weights` and `bonds` rows in metagraph snapshots, read through
    /// `NeuronInfoRuntimeApi.get_neurons` (the SDK's `lite=False`) instead of `get_neurons_lite`:
    /// every row of the subnet at the same block, so much heavier. Off by default; no service
    /// reads the rows today.
    pub rows: bool,
    /// Seconds per block, for turning a reveal block into a drand round (bittensor-drand's
    /// `block_time`: 12 on finney and testnet, 0.25 on a fast-runtime localnet).
    pub block_time: f64,
    /// drand's BLS public key (compressed G2, hex) that timelocked commits are encrypted to:
    /// quicknet's, which subtensor's `pallet_drand` verifies pulses against.
    pub drand_public_key: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            inclusion_timeout: Duration::from_secs(120),
            stale_after: Duration::from_secs(120),
            poll_interval: Duration::from_secs(2),
            reconnect_attempts: 5,
            backoff: Duration::from_millis(500),
            mortality: 64,
            rows: false,
            block_time: 12.0,
            drand_public_key: crate::tlock::QUICKNET_PUBLIC_KEY.to_owned(),
        }
    }
}

pub(crate) struct Conn {
    pub(crate) api: OnlineClient<PolkadotConfig>,
    pub(crate) rpc: LegacyRpcMethods<RpcConfigFor<PolkadotConfig>>,
}

/// A subtensor node reached through subxt's dynamic API over the legacy JSON-RPC methods (the
/// ones every subtensor node serves and the Python SDK uses).
#[derive(Clone)]
pub struct Subtensor {
    pub(crate) conn: Arc<RwLock<Arc<Conn>>>,
    network: Network,
    pub(crate) options: Options,
    /// Spec version whose metadata passed the shape check (0: none yet).
    checked_spec: Arc<AtomicU32>,
    pub(crate) hotkey: Option<Arc<Keypair>>,
    pub(crate) coldkey: Option<Arc<Keypair>>,
    /// One submission at a time, so nonces read from the chain never race each other.
    pub(crate) submit_lock: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Subtensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subtensor")
            .field("network", &self.network)
            .field("hotkey", &self.hotkey.as_ref().map(|k| k.ss58()))
            .field("coldkey", &self.coldkey.as_ref().map(|k| k.ss58()))
            .finish_non_exhaustive()
    }
}

pub(crate) fn transport(e: impl std::fmt::Display) -> ChainError {
    ChainError::Transport(e.to_string())
}

/// Maps an error from submitting: pool rejections carry `Custom error: N` in the RPC error data.
pub(crate) fn submit_error(
    e: impl std::fmt::Display + std::fmt::Debug,
    kind: CallKind,
) -> ChainError {
    let text = e.to_string();
    // subxt's Display drops the JSON-RPC error's `data`, where the pool puts `Custom error: N`;
    // its Debug form keeps it.
    if let Some(code) = custom_code(&text).or_else(|| custom_code(&format!("{e:?}"))) {
        return from_custom_code(code, kind);
    }
    if text.contains("Invalid Transaction") || text.contains("Transaction is outdated") {
        return ChainError::Dispatch(format!("rejected by the pool: {text}"));
    }
    ChainError::Transport(text)
}

fn custom_code(text: &str) -> Option<u8> {
    let rest = &text[text.find("Custom error: ")? + "Custom error: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

async fn open(url: &str, timeout: Duration) -> Result<Conn, ChainError> {
    let connect = async {
        let rpc_client = subxt::rpcs::RpcClient::from_insecure_url(url)
            .await
            .map_err(transport)?;
        let backend = LegacyBackend::<PolkadotConfig>::builder().build(rpc_client.clone());
        let api = OnlineClient::<PolkadotConfig>::from_backend(Arc::new(backend))
            .await
            .map_err(transport)?;
        Ok(Conn {
            api,
            rpc: LegacyRpcMethods::new(rpc_client),
        })
    };
    tokio::time::timeout(timeout, connect).await.map_err(|_| {
        ChainError::Transport(format!("connecting to {url}: no answer in {timeout:?}"))
    })?
}

impl Subtensor {
    /// Connects with default [`Options`], reads the runtime metadata and checks its shape.
    pub async fn connect(network: Network) -> Result<Self, ChainError> {
        Self::connect_with(network, Options::default()).await
    }

    /// Connects with explicit deadlines.
    pub async fn connect_with(network: Network, options: Options) -> Result<Self, ChainError> {
        let url = network.endpoint().to_owned();
        if !network.is_insecure() && !url.starts_with("wss://") {
            return Err(ChainError::InvalidInput(format!(
                "not a websocket URL: {url}"
            )));
        }
        let conn = open(&url, options.call_timeout).await?;
        let this = Self {
            conn: Arc::new(RwLock::new(Arc::new(conn))),
            network,
            options,
            checked_spec: Arc::new(AtomicU32::new(0)),
            hotkey: None,
            coldkey: None,
            submit_lock: Arc::new(tokio::sync::Mutex::new(())),
        };
        let at = this.at_finalized().await?;
        tracing::info!(endpoint = %url, spec_version = at.spec_version(), block = at.block_number(), "connected to subtensor");
        Ok(this)
    }

    /// Signs weights and `serve_axon` with `hotkey`.
    pub fn with_hotkey(mut self, hotkey: Keypair) -> Self {
        self.hotkey = Some(Arc::new(hotkey));
        self
    }

    /// Signs `burned_register` with `coldkey`.
    pub fn with_coldkey(mut self, coldkey: Keypair) -> Self {
        self.coldkey = Some(Arc::new(coldkey));
        self
    }

    /// The network this client talks to.
    pub fn network(&self) -> &Network {
        &self.network
    }

    pub(crate) async fn current(&self) -> Arc<Conn> {
        self.conn.read().await.clone()
    }

    /// Replaces the connection `failed` (unless another task already did) with a fresh one,
    /// backing off between attempts.
    async fn reconnect(&self, failed: &Arc<Conn>) -> Result<(), ChainError> {
        let mut guard = self.conn.write().await;
        if !Arc::ptr_eq(&guard, failed) {
            return Ok(());
        }
        let mut delay = self.options.backoff;
        let mut last = ChainError::Transport("no reconnect attempted".into());
        for attempt in 1..=self.options.reconnect_attempts.max(1) {
            tokio::time::sleep(delay).await;
            match open(self.network.endpoint(), self.options.call_timeout).await {
                Ok(c) => {
                    tracing::warn!(attempt, endpoint = %self.network, "reconnected to subtensor");
                    *guard = Arc::new(c);
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "reconnect failed");
                    last = e;
                }
            }
            delay = delay.saturating_mul(2).min(Duration::from_secs(30));
        }
        Err(last)
    }

    /// Runs a read with a deadline; on a transport failure reconnects and tries once more.
    /// Only for reads: a submission is never retried here.
    pub(crate) async fn read<T, F, Fut>(&self, what: &str, f: F) -> Result<T, ChainError>
    where
        F: Fn(Arc<Conn>) -> Fut,
        Fut: Future<Output = Result<T, ChainError>>,
    {
        let mut retried = false;
        loop {
            let conn = self.current().await;
            let r = match tokio::time::timeout(self.options.call_timeout, f(conn.clone())).await {
                Ok(r) => r,
                Err(_) => Err(ChainError::Transport(format!(
                    "{what}: no answer in {:?}",
                    self.options.call_timeout
                ))),
            };
            match r {
                Err(ChainError::Transport(msg)) if !retried => {
                    tracing::warn!(call = what, error = %msg, "subtensor call failed; reconnecting");
                    self.reconnect(&conn).await?;
                    retried = true;
                }
                other => return other,
            }
        }
    }

    /// The client at the latest finalized block, its metadata shape-checked.
    pub(crate) async fn at_finalized(&self) -> Result<At, ChainError> {
        let at = self
            .read("at finalized block", |c| async move {
                c.api.at_current_block().await.map_err(transport)
            })
            .await?;
        self.check_shape(&at)?;
        Ok(at)
    }

    /// The client at the best block (for signing: nonce and mortality from the newest state).
    pub(crate) async fn at_best(&self) -> Result<At, ChainError> {
        let at = self
            .read("at best block", |c| async move {
                let hash = c
                    .rpc
                    .chain_get_block_hash(None)
                    .await
                    .map_err(transport)?
                    .ok_or_else(|| ChainError::Transport("node has no best block".into()))?;
                c.api.at_block(hash).await.map_err(transport)
            })
            .await?;
        self.check_shape(&at)?;
        Ok(at)
    }

    /// After a runtime upgrade subxt downloads the new metadata (it keys metadata by spec
    /// version); this checks once per spec version that every item this crate uses still has the
    /// shape it expects, and fails listing the mismatches rather than mis-decoding.
    fn check_shape(&self, at: &At) -> Result<(), ChainError> {
        let spec = at.spec_version();
        if self.checked_spec.load(Ordering::Acquire) == spec {
            return Ok(());
        }
        let problems = shape::check(at.metadata_ref());
        if !problems.is_empty() {
            return Err(ChainError::Decode(format!(
                "runtime spec_version {spec} does not have the shape dojo-chain expects: {}",
                problems.join("; ")
            )));
        }
        let before = self.checked_spec.swap(spec, Ordering::AcqRel);
        if before != 0 && before != spec {
            tracing::warn!(
                from = before,
                to = spec,
                "runtime upgraded; metadata re-read and checked"
            );
        }
        Ok(())
    }

    /// The current best block number.
    pub async fn best_block(&self) -> Result<u64, ChainError> {
        self.read("chain_getHeader", |c| async move {
            let header = c
                .rpc
                .chain_get_header(None)
                .await
                .map_err(transport)?
                .ok_or_else(|| ChainError::Transport("node returned no best header".into()))?;
            Ok(header.number)
        })
        .await
    }

    /// Waits for a best block after `after`, failing as stale when no new block arrives for
    /// `stale_after` (the watchdog spec §8 asks for; a half-dead socket otherwise waits forever).
    pub async fn wait_for_block_after(&self, after: u64) -> Result<u64, ChainError> {
        let mut last_seen = self.best_block().await?;
        let mut last_change = tokio::time::Instant::now();
        loop {
            if last_seen > after {
                return Ok(last_seen);
            }
            if last_change.elapsed() >= self.options.stale_after {
                return Err(ChainError::Transport(format!(
                    "stale chain: no block after {last_seen} for {:?}",
                    self.options.stale_after
                )));
            }
            tokio::time::sleep(self.options.poll_interval).await;
            let b = self.best_block().await?;
            if b != last_seen {
                last_seen = b;
                last_change = tokio::time::Instant::now();
            }
        }
    }

    /// SCALE call data of `call` against the node's current metadata.
    pub async fn call_data(&self, call: &Call) -> Result<Vec<u8>, ChainError> {
        let at = self.at_finalized().await?;
        at.tx()
            .call_data(call)
            .map_err(|e| ChainError::InvalidInput(e.to_string()))
    }

    /// Maps a pool rejection code for `kind`.
    pub fn pool_error(code: u8, kind: CallKind) -> ChainError {
        from_custom_code(code, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_rejections_are_parsed_from_rpc_errors() {
        let e = submit_error(
            "RPC error: ErrorObject { code: 1010, message: \"Invalid Transaction\", data: Some(RawValue(\"Custom error: 6\")) }",
            CallKind::SetWeights,
        );
        assert!(matches!(e, ChainError::SettingWeightsTooFast { .. }), "{e}");
        assert_eq!(custom_code("Custom error: 17x"), Some(17));
        assert_eq!(custom_code("Custom error: "), None);
        assert_eq!(custom_code("Custom error: 999"), None);
        assert!(matches!(
            submit_error("connection reset", CallKind::ServeAxon),
            ChainError::Transport(_)
        ));
    }
}
