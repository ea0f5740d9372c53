//! The chain a binary runs on, chosen by `--subtensor.network`: the devnet the binary reaches
//! itself, or subtensor through [`Subtensor`].
//!
//! The `Chain` port is not object-safe (its methods return `impl Future`), so the services stay
//! generic over `C: Chain` and the binaries hand them this enum. The devnet side is a type
//! parameter because this crate may not depend on `dojo-devnet` (both are adapters,
//! ARCHITECTURE.md); the binaries use `Backend<dojo_devnet::grpc::RemoteChain>`.

use std::fmt;
use std::str::FromStr;

use dojo_types::chain::{
    AxonInfo, Chain, ChainError, CommitScheme, Hyperparams, MetagraphSnapshot, Netuid,
    RevealWeights, SetWeights,
};
use dojo_types::{Hotkey, Uid};

use crate::Subtensor;
use crate::network::Network;

/// A parsed `--subtensor.network` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// A `dojo-devnet` process, reached at `--subtensor.chain_endpoint`.
    Devnet,
    /// A subtensor node: finney, test, archive, local or an explicit URL.
    Subtensor(Network),
}

/// A `--subtensor.network` value that names no backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown --subtensor.network {0:?}: use devnet, finney, test, archive, local or a ws:// / wss:// URL"
)]
pub struct SelectionError(pub String);

impl FromStr for Selection {
    type Err = SelectionError;
    fn from_str(s: &str) -> Result<Self, SelectionError> {
        if s.trim().eq_ignore_ascii_case("devnet") {
            return Ok(Self::Devnet);
        }
        s.parse::<Network>()
            .map(Self::Subtensor)
            .map_err(|_| SelectionError(s.to_owned()))
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Devnet => f.write_str("devnet"),
            Self::Subtensor(n) => write!(f, "subtensor at {n}"),
        }
    }
}

/// Either backend, itself a `Chain`.
#[derive(Clone, Debug)]
pub enum Backend<D> {
    /// The devnet client the binary built.
    Devnet(D),
    /// A subtensor node.
    Subtensor(Subtensor),
}

impl<D> Backend<D> {
    /// Which backend this is, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Devnet(_) => "devnet",
            Self::Subtensor(_) => "subtensor",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            Backend::Devnet($c) => $call.await,
            Backend::Subtensor($c) => $call.await,
        }
    };
}

impl<D: Chain> Chain for Backend<D> {
    async fn current_block(&self) -> Result<u64, ChainError> {
        delegate!(self, c => c.current_block())
    }

    async fn wait_for_block(&self, after: u64) -> Result<u64, ChainError> {
        delegate!(self, c => c.wait_for_block(after))
    }

    async fn metagraph(&self, netuid: Netuid) -> Result<MetagraphSnapshot, ChainError> {
        delegate!(self, c => c.metagraph(netuid))
    }

    async fn hyperparams(&self, netuid: Netuid) -> Result<Hyperparams, ChainError> {
        delegate!(self, c => c.hyperparams(netuid))
    }

    async fn set_weights(&self, req: SetWeights) -> Result<(), ChainError> {
        delegate!(self, c => c.set_weights(req))
    }

    async fn commit_weights(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        commit_hash: [u8; 32],
    ) -> Result<(), ChainError> {
        delegate!(self, c => c.commit_weights(hotkey, netuid, commit_hash))
    }

    async fn reveal_weights(&self, req: RevealWeights) -> Result<(), ChainError> {
        delegate!(self, c => c.reveal_weights(req))
    }

    async fn serve_axon(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
        axon: AxonInfo,
    ) -> Result<(), ChainError> {
        delegate!(self, c => c.serve_axon(hotkey, netuid, axon))
    }

    async fn burned_register(
        &self,
        coldkey: &Hotkey,
        netuid: Netuid,
        hotkey: &Hotkey,
    ) -> Result<Uid, ChainError> {
        delegate!(self, c => c.burned_register(coldkey, netuid, hotkey))
    }

    async fn commit_scheme(&self, netuid: Netuid) -> Result<CommitScheme, ChainError> {
        delegate!(self, c => c.commit_scheme(netuid))
    }

    async fn commit_timelocked_weights(&self, req: SetWeights) -> Result<u64, ChainError> {
        delegate!(self, c => c.commit_timelocked_weights(req))
    }

    async fn weights_row(
        &self,
        hotkey: &Hotkey,
        netuid: Netuid,
    ) -> Result<Option<Vec<(u16, u16)>>, ChainError> {
        delegate!(self, c => c.weights_row(hotkey, netuid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_parses_devnet_and_every_network() {
        assert_eq!("devnet".parse::<Selection>().unwrap(), Selection::Devnet);
        assert_eq!(" DevNet ".parse::<Selection>().unwrap(), Selection::Devnet);
        assert_eq!(
            "finney".parse::<Selection>().unwrap(),
            Selection::Subtensor(Network::Finney)
        );
        assert_eq!(
            "test".parse::<Selection>().unwrap(),
            Selection::Subtensor(Network::Test)
        );
        assert_eq!(
            "local".parse::<Selection>().unwrap(),
            Selection::Subtensor(Network::Local)
        );
        assert_eq!(
            "ws://127.0.0.1:9944".parse::<Selection>().unwrap(),
            Selection::Subtensor(Network::Custom("ws://127.0.0.1:9944".into()))
        );
        let e = "http://x".parse::<Selection>().unwrap_err().to_string();
        assert!(e.contains("devnet") && e.contains("wss://"), "{e}");
    }
}
