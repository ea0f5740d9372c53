//! `dojo-validator`: the Dojo subnet validator.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// The Dojo subnet validator.
#[derive(Debug, Parser)]
#[command(name = "dojo-validator", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Recompute miner scores from an exported round (JSON in, JSON out).
    ///
    /// The input names a scoring mechanism and lists tasks with ground truth and miner responses;
    /// the output gives each task's per-miner scores and each miner's score for the round.
    /// Format: docs/scoring-replay.md.
    Score {
        /// Replay document to read (`-` for standard input).
        #[arg(long, short, value_name = "FILE")]
        input: PathBuf,
        /// Where to write the result (standard output when omitted).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Pretty-print the JSON output.
        #[arg(long)]
        pretty: bool,
    },
    /// Create or inspect a btcli-compatible wallet (`--wallet.name`, `--wallet.hotkey`, `--wallet.path`).
    #[command(subcommand)]
    Wallet(dojo_identity::cli::WalletCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Score {
            input,
            output,
            pretty,
        } => score(&input, output.as_deref(), pretty),
        Command::Wallet(cmd) => {
            let report = dojo_identity::cli::run(&cmd)?;
            std::io::stdout()
                .write_all(report.to_string().as_bytes())
                .context("writing standard output")?;
            Ok(())
        }
    }
}

fn score(input: &std::path::Path, output: Option<&std::path::Path>, pretty: bool) -> Result<()> {
    let text = if input.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?
    };
    let doc = dojo_validator::replay::parse(&text)
        .with_context(|| format!("parsing {}", input.display()))?;
    let result = dojo_validator::replay::run(&doc)
        .with_context(|| format!("scoring {}", input.display()))?;
    let mut json = if pretty {
        serde_json::to_string_pretty(&result)?
    } else {
        serde_json::to_string(&result)?
    };
    json.push('\n');
    match output {
        Some(path) => {
            std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout()
            .write_all(json.as_bytes())
            .context("writing standard output")?,
    }
    Ok(())
}
