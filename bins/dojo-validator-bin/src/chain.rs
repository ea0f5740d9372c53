//! The chain `run` talks to, chosen by `--subtensor.network`.

use anyhow::{Context, Result};
use dojo_chain::{Backend, Selection, Subtensor};
use dojo_devnet::grpc::RemoteChain;
use dojo_identity::Keypair;

/// What the validator service runs on.
pub(crate) type AnyChain = Backend<RemoteChain>;

/// Connects to the selected backend. On subtensor, weights and commits are signed with `hotkey`,
/// and the subnet's weight scheme is checked first: a subnet that needs timelocked
/// commit-reveal (v3/v4, not implemented) is refused here rather than failing every weight round.
pub(crate) async fn connect(
    network: &Selection,
    chain_endpoint: Option<&str>,
    hotkey: &Keypair,
    netuid: u16,
) -> Result<AnyChain> {
    match network {
        Selection::Devnet => {
            let endpoint = chain_endpoint.context(
                "--subtensor.network devnet needs --subtensor.chain_endpoint (the gRPC address `dojo-devnet` prints)",
            )?;
            let chain = RemoteChain::connect(endpoint)
                .await
                .with_context(|| format!("connecting to the chain at {endpoint}"))?;
            Ok(Backend::Devnet(chain))
        }
        Selection::Subtensor(net) => {
            let chain = Subtensor::connect(net.clone())
                .await
                .with_context(|| format!("connecting to subtensor at {net} (--subtensor.network)"))?
                .with_hotkey(hotkey.clone());
            chain
                .check_weights_supported(netuid)
                .await
                .with_context(|| format!("netuid {netuid} on subtensor at {net}"))?;
            tracing::info!(endpoint = %net, netuid, "chain: subtensor");
            Ok(Backend::Subtensor(chain))
        }
    }
}
