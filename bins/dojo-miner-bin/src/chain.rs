//! The chain `run` talks to, chosen by `--subtensor.network`.

use anyhow::{Context, Result};
use dojo_chain::{Backend, Selection, Subtensor};
use dojo_devnet::grpc::RemoteChain;
use dojo_identity::{Keypair, Wallet};

use crate::cli::RunArgs;

/// What the miner service runs on.
pub(crate) type AnyChain = Backend<RemoteChain>;

/// Connects to the selected backend. On subtensor, `serve_axon` is signed with `hotkey`; with
/// `--register` the coldkey (which pays the burn and signs `burned_register`) is decrypted too.
pub(crate) async fn connect(args: &RunArgs, wallet: &Wallet, hotkey: &Keypair) -> Result<AnyChain> {
    match &args.network {
        Selection::Devnet => {
            let chain = RemoteChain::connect(&args.chain_endpoint)
                .await
                .with_context(|| format!("connecting to the devnet at {}", args.chain_endpoint))?;
            Ok(Backend::Devnet(chain))
        }
        Selection::Subtensor(net) => {
            let mut chain = Subtensor::connect(net.clone())
                .await
                .with_context(|| format!("connecting to subtensor at {net} (--subtensor.network)"))?
                .with_hotkey(hotkey.clone());
            if args.register {
                let password = std::env::var("DOJO_COLDKEY_PASSWORD").ok();
                let coldkey = wallet.coldkey(password.as_deref()).with_context(|| {
                    format!(
                        "--register on subtensor signs burned_register with coldkey {} (set DOJO_COLDKEY_PASSWORD if it is encrypted)",
                        wallet.name
                    )
                })?;
                chain = chain.with_coldkey(coldkey);
            }
            tracing::info!(endpoint = %net, "chain: subtensor");
            Ok(Backend::Subtensor(chain))
        }
    }
}
