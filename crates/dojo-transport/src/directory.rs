//! Who may call this axon: the port the axon asks, and a snapshot-fed cache implementing it.
//!
//! The axon must not make a chain round-trip per request, so it reads [`CallerDirectory`]. In
//! production that is a [`MetagraphCache`] which the service refreshes from the chain every few
//! blocks (`replace` swaps a whole snapshot atomically); tests fill one directly.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dojo_types::chain::{Chain, ChainError, MetagraphSnapshot, Netuid};
use dojo_types::{Hotkey, Uid};

/// Rao per TAO: chain stakes are in rao, axon stake minimums in TAO.
const RAO_PER_TAO: f64 = 1e9;

/// What the axon needs to know about a caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallerInfo {
    /// Caller's uid on the subnet.
    pub uid: Uid,
    /// Effective stake (alpha + weighted root), in the unit the minimum is configured in.
    pub stake: f64,
    /// Whether the caller holds a validator permit.
    pub validator_permit: bool,
}

/// Looks callers up by hotkey. Must be cheap: it runs on every request.
pub trait CallerDirectory: Send + Sync + 'static {
    /// The caller's registration, or `None` when the hotkey is not on the subnet.
    fn lookup(&self, hotkey: &Hotkey) -> Option<CallerInfo>;
}

/// A metagraph snapshot held in memory and swapped whole on refresh.
#[derive(Debug, Default)]
pub struct MetagraphCache {
    snapshot: RwLock<Arc<Snapshot>>,
}

#[derive(Debug, Default)]
struct Snapshot {
    block: u64,
    callers: HashMap<Hotkey, CallerInfo>,
}

impl MetagraphCache {
    /// An empty cache: every caller is unregistered until the first [`MetagraphCache::replace`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the whole snapshot with the metagraph read at `block`. Older blocks are ignored, so
    /// a slow refresh cannot roll the cache back.
    pub fn replace(
        &self,
        block: u64,
        callers: impl IntoIterator<Item = (Hotkey, CallerInfo)>,
    ) -> bool {
        let next = Arc::new(Snapshot {
            block,
            callers: callers.into_iter().collect(),
        });
        let mut guard = self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.block > block {
            return false;
        }
        *guard = next;
        true
    }

    /// Replaces the snapshot with a chain metagraph. Stake is the chain's epoch stake
    /// (`alpha + tao × tao_weight`) converted from rao to TAO, the unit axon minimums use.
    pub fn apply(&self, metagraph: &MetagraphSnapshot) -> bool {
        let callers = metagraph.neurons.iter().map(|n| {
            let info = CallerInfo {
                uid: n.uid,
                stake: n.stake as f64 / RAO_PER_TAO,
                validator_permit: n.validator_permit,
            };
            (n.hotkey.clone(), info)
        });
        self.replace(metagraph.block, callers)
    }

    /// Reads `netuid`'s metagraph from the chain and applies it; the service calls this every few
    /// blocks so that request checks never wait on the chain.
    pub async fn refresh<C: Chain>(&self, chain: &C, netuid: Netuid) -> Result<bool, ChainError> {
        let metagraph = chain.metagraph(netuid).await?;
        Ok(self.apply(&metagraph))
    }

    /// Block of the current snapshot (0 before the first refresh).
    pub fn block(&self) -> u64 {
        self.current().block
    }

    /// Number of known callers.
    pub fn len(&self) -> usize {
        self.current().callers.len()
    }

    /// Whether no caller is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl CallerDirectory for MetagraphCache {
    fn lookup(&self, hotkey: &Hotkey) -> Option<CallerInfo> {
        self.snapshot
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .callers
            .get(hotkey)
            .copied()
    }
}

impl<T: CallerDirectory> CallerDirectory for Arc<T> {
    fn lookup(&self, hotkey: &Hotkey) -> Option<CallerInfo> {
        (**self).lookup(hotkey)
    }
}
