//! `dojo-miner`: the Dojo subnet miner. Today it carries the `wallet` subcommand; the serving loop
//! mounts here once the miner service lands.

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "dojo-miner", version, about = "Dojo subnet miner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or inspect a btcli-compatible wallet.
    #[command(subcommand)]
    Wallet(dojo_identity::cli::WalletCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Wallet(cmd) => {
            let report = dojo_identity::cli::run(&cmd)?;
            // A CLI's output is its job.
            #[allow(clippy::print_stdout)]
            {
                print!("{report}");
            }
        }
    }
    Ok(())
}
