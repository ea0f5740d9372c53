//! The running devnet: state behind a lock, a block clock, persistence and the `Chain` port.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dojo_types::chain::{
    AxonInfo, Chain, ChainError, Hyperparams, MetagraphSnapshot, Netuid, RevealWeights, SetWeights,
};
use dojo_types::{Hotkey, Uid};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::persist::Store;
use crate::state::State;

/// How to run a devnet.
#[derive(Clone, Debug, Default)]
pub struct DevnetConfig {
    /// Directory for the crash-safe state file; `None` keeps everything in memory.
    pub state_dir: Option<PathBuf>,
    /// Block time for [`Devnet::spawn_clock`] (subtensor: 12 s); `None` means blocks only advance
    /// through [`Devnet::advance_blocks`].
    pub block_time: Option<Duration>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    store: Option<Store>,
    blocks: watch::Sender<u64>,
    block_time: Option<Duration>,
}

/// A devnet handle; clones share the same chain.
#[derive(Clone, Debug)]
pub struct Devnet {
    inner: Arc<Inner>,
}

impl Devnet {
    /// Opens a devnet, resuming from `state_dir` when it holds a previous state.
    pub fn open(config: DevnetConfig) -> Result<Self, ChainError> {
        let store = config.state_dir.as_deref().map(Store::open).transpose()?;
        let state = match &store {
            Some(s) => s.load()?.unwrap_or_default(),
            None => State::new(),
        };
        if let Some(dir) = &config.state_dir {
            tracing::info!(dir = %dir.display(), block = state.block, subnets = state.subnets.len(), "devnet state loaded");
        }
        let (blocks, _) = watch::channel(state.block);
        Ok(Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                store,
                blocks,
                block_time: config.block_time,
            }),
        })
    }

    /// An in-memory devnet with a manual clock, for tests and simulations.
    pub fn in_memory() -> Self {
        let (blocks, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new()),
                store: None,
                blocks,
                block_time: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied extrinsic: every extrinsic
        // validates before it writes. So a poisoned lock still guards a consistent state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Applies a change and persists it before returning; on a persistence failure the change is
    /// rolled back, so an `Ok` is durable.
    pub fn apply<R>(
        &self,
        f: impl FnOnce(&mut State) -> Result<R, ChainError>,
    ) -> Result<R, ChainError> {
        let mut guard = self.lock();
        let before = self.inner.store.as_ref().map(|_| guard.clone());
        let r = f(&mut guard)?;
        if let (Some(store), Some(before)) = (&self.inner.store, before)
            && *guard != before
            && let Err(e) = store.save(&guard)
        {
            *guard = before;
            return Err(e);
        }
        let block = guard.block;
        drop(guard);
        self.inner
            .blocks
            .send_if_modified(|b| std::mem::replace(b, block) != block);
        Ok(r)
    }

    /// Produces `n` blocks now (epochs included) and returns the new block number.
    pub fn advance_blocks(&self, n: u64) -> Result<u64, ChainError> {
        self.apply(|s| {
            for _ in 0..n {
                s.step_block();
            }
            Ok(s.block)
        })
    }

    /// Current block.
    pub fn block(&self) -> u64 {
        self.read(|s| s.block)
    }

    /// Canonical JSON of the state.
    pub fn export_json(&self) -> String {
        self.read(|s| serde_json::to_string(s).unwrap_or_default())
    }

    /// Starts the block clock on the current tokio runtime (no-op handle without a block time).
    pub fn spawn_clock(&self) -> Option<JoinHandle<()>> {
        let period = self.inner.block_time?;
        let this = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let chain = this.clone();
                match tokio::task::spawn_blocking(move || chain.advance_blocks(1)).await {
                    Ok(Ok(block)) => tracing::debug!(block, "block"),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "block production failed; retrying next tick")
                    }
                    Err(e) => tracing::error!(error = %e, "block task panicked"),
                }
            }
        }))
    }

    /// Subscribes to block numbers.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.blocks.subscribe()
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Devnet) -> Result<R, ChainError> + Send + 'static,
    ) -> Result<R, ChainError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|e| ChainError::Storage(e.to_string()))?
    }
}

impl Chain for Devnet {
    async fn current_block(&self) -> Result<u64, ChainError> {
        Ok(self.block())
    }

    async fn wait_for_block(&self, after: u64) -> Result<u64, ChainError> {
        let mut rx = self.subscribe();
        let b = *rx
            .wait_for(|b| *b > after)
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        Ok(b)
    }

    async fn metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
        self.read(|s| s.metagraph(netuid))
    }

    async fn hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
        self.read(|s| s.hyperparams(netuid))
    }

    async fn set_weights(&self, req: SetWeights) -> Result<(), ChainError> {
        self.blocking(move |d| d.apply(|s| s.set_weights(&req)))
            .await
    }

    async fn commit_weights(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        commit_hash: [u8; 32],
    ) -> Result<(), ChainError> {
        let hotkey = hotkey.clone();
        self.blocking(move |d| d.apply(|s| s.commit_weights(&hotkey, netuid, commit_hash)))
            .await
    }

    async fn reveal_weights(&self, req: RevealWeights) -> Result<(), ChainError> {
        self.blocking(move |d| d.apply(|s| s.reveal_weights(&req)))
            .await
    }

    async fn serve_axon(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        axon: AxonInfo,
    ) -> Result<(), ChainError> {
        let hotkey = hotkey.clone();
        self.blocking(move |d| d.apply(|s| s.serve_axon(&hotkey, netuid, axon)))
            .await
    }

    async fn burned_register(
        &self,
        coldkey: &Hotkey,
        netuid: Netuid,
        hotkey: &Hotkey,
    ) -> Result<Uid, ChainError> {
        let (coldkey, hotkey) = (coldkey.clone(), hotkey.clone());
        self.blocking(move |d| d.apply(|s| s.burned_register(&coldkey, netuid, &hotkey)))
            .await
    }
}
