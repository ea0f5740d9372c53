//! The chain `run` talks to, chosen by `--subtensor.network`.

use anyhow::{Context, Result};
use dojo_chain::{Backend, Selection, Subtensor};
use dojo_devnet::grpc::RemoteChain;
use dojo_identity::Keypair;
use dojo_types::chain::CommitScheme;

/// What the validator service runs on.
pub(crate) type AnyChain = Backend<RemoteChain>;

/// Connects to the selected backend. On subtensor, weights and commits are signed with `hotkey`,
/// and the chain's commit-reveal scheme is checked first: a timelocked version other than the v4
/// payload dojo-chain builds is refused here rather than failing every weight round.
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
            let scheme = chain
                .read_commit_scheme(netuid)
                .await
                .with_context(|| format!("netuid {netuid} on subtensor at {net}"))?;
            if let CommitScheme::Timelocked { version } = scheme
                && version != dojo_chain::tlock::COMMIT_REVEAL_VERSION
            {
                anyhow::bail!(
                    "netuid {netuid} on subtensor at {net}: the chain expects timelocked \
                     commit-reveal v{version}; dojo-chain builds v{} payloads",
                    dojo_chain::tlock::COMMIT_REVEAL_VERSION
                );
            }
            tracing::info!(
                netuid,
                ?scheme,
                "commit-reveal scheme (used while the subnet has it on)"
            );
            tracing::info!(endpoint = %net, netuid, "chain: subtensor");
            Ok(Backend::Subtensor(chain))
        }
    }
}
