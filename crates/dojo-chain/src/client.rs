//! A connected subtensor client.

use std::time::Duration;

use dojo_types::chain::ChainError;
use subxt::{OnlineClient, PolkadotConfig};

use crate::calls::Call;
use crate::errors::{CallKind, from_custom_code};
use crate::network::Network;

/// How long to wait for a new block before declaring the connection stale (spec §8: a
/// block-staleness watchdog; finney makes a block every 12 s).
const STALE_AFTER: Duration = Duration::from_secs(120);

/// A subtensor node reached through subxt's dynamic API.
#[derive(Clone, Debug)]
pub struct Subtensor {
    api: OnlineClient<PolkadotConfig>,
    network: Network,
}

fn transport(e: impl std::fmt::Display) -> ChainError {
    ChainError::Transport(e.to_string())
}

impl Subtensor {
    /// Connects and downloads the runtime metadata.
    pub async fn connect(network: Network) -> Result<Self, ChainError> {
        let url = network.endpoint().to_owned();
        let api = if network.is_insecure() {
            OnlineClient::<PolkadotConfig>::from_insecure_url(&url).await
        } else {
            OnlineClient::<PolkadotConfig>::from_url(&url).await
        }
        .map_err(transport)?;
        tracing::info!(endpoint = %url, "connected to subtensor");
        Ok(Self { api, network })
    }

    /// The network this client talks to.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The current best block number.
    pub async fn current_block(&self) -> Result<u64, ChainError> {
        Ok(self
            .api
            .at_current_block()
            .await
            .map_err(transport)?
            .block_number())
    }

    /// Waits for a block after `after`, failing as stale after two minutes without one.
    pub async fn wait_for_block(&self, after: u64) -> Result<u64, ChainError> {
        let wait = async {
            loop {
                let b = self.current_block().await?;
                if b > after {
                    return Ok(b);
                }
                tokio_sleep(Duration::from_secs(2)).await;
            }
        };
        match tokio::time::timeout(STALE_AFTER, wait).await {
            Ok(r) => r,
            Err(_) => Err(ChainError::Transport(format!(
                "no block after {after} for {STALE_AFTER:?}"
            ))),
        }
    }

    /// SCALE call data of `call` against the node's current metadata.
    pub async fn call_data(&self, call: &Call) -> Result<Vec<u8>, ChainError> {
        let at = self.api.at_current_block().await.map_err(transport)?;
        at.tx()
            .call_data(call)
            .map_err(|e| ChainError::InvalidInput(e.to_string()))
    }

    /// Maps a pool rejection code for `kind`.
    pub fn pool_error(code: u8, kind: CallKind) -> ChainError {
        from_custom_code(code, kind)
    }
}

async fn tokio_sleep(d: Duration) {
    tokio::time::sleep(d).await;
}
