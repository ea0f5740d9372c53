//! `dojo-worksim`: simulated human workers on one miner's worker page, until SIGINT/SIGTERM.
//!
//! Prints `dojo-worksim ready population=KIND page=URL` on standard output once its first session
//! is established; everything else goes to standard error through tracing.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use dojo_worksim::{Config, Population, Simulator};
use tokio_util::sync::CancellationToken;

/// Simulated human workers on a dojo-miner worker page (docs/worksim.md).
#[derive(Debug, Parser)]
#[command(name = "dojo-worksim", version)]
struct Cli {
    /// The miner's worker page, `http://HOST:PORT`.
    #[arg(long, env = "DOJO_WORKSIM_PAGE")]
    page: String,
    /// A key of that miner (`dojo-miner keys generate --kind subscription|api`).
    #[arg(long, env = "DOJO_WORKSIM_KEY", hide_env_values = true)]
    key: String,
    /// honest, lazy (alias constant), random (alias random-baseline), reverse, copycat, sybil.
    #[arg(long, env = "DOJO_WORKSIM_POPULATION")]
    population: Population,
    /// Standard deviation of the Gaussian noise on the 0..1 quality scale (honest, reverse, sybil).
    #[arg(long, env = "DOJO_WORKSIM_NOISE", default_value_t = 0.0)]
    noise: f64,
    /// Seed of the answers' RNG (sybils with the same seed answer identically).
    #[arg(long, env = "DOJO_WORKSIM_SEED", default_value_t = 0)]
    seed: u64,
    /// The synthetic API's ground-truth log (JSON lines), followed as it grows.
    #[arg(long = "ground-truth-log", env = "DOJO_WORKSIM_GROUND_TRUTH_LOG")]
    ground_truth_log: PathBuf,
    /// Directory honest and sybil workers publish answers to and copycats copy from.
    #[arg(long = "share-dir", env = "DOJO_WORKSIM_SHARE_DIR")]
    share_dir: Option<PathBuf>,
    /// Pause between polls of the task list, in milliseconds.
    #[arg(long = "poll-ms", env = "DOJO_WORKSIM_POLL_MS", default_value_t = 200)]
    poll_ms: u64,
    /// Workers in this process, each with its own session (its own result per task).
    #[arg(long, env = "DOJO_WORKSIM_WORKERS", default_value_t = 1)]
    workers: usize,
    /// Log the counters every this many seconds.
    #[arg(
        long = "report-secs",
        env = "DOJO_WORKSIM_REPORT_SECS",
        default_value_t = 30
    )]
    report_secs: u64,
    /// Fault injection (devnet `--chaos`): share of tasks never answered, drawn per task from the seed.
    #[arg(long, env = "DOJO_WORKSIM_DROP", default_value_t = 0.0)]
    drop: f64,
    /// Fault injection: share of tasks answered only after their deadline.
    #[arg(long, env = "DOJO_WORKSIM_LATE", default_value_t = 0.0)]
    late: f64,
    /// tracing filter.
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        // Colour only for a person: the orchestrator reads these lines from a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let population = cli.population;
    let page = cli.page.clone();
    let mut config = Config::new(&cli.page, &cli.key, population, cli.ground_truth_log);
    config.noise = cli.noise;
    config.seed = cli.seed;
    config.share_dir = cli.share_dir;
    config.poll = Duration::from_millis(cli.poll_ms.max(1));
    config.workers = cli.workers;
    config.report_every = Duration::from_secs(cli.report_secs.max(1));
    config.drop = cli.drop;
    config.late = cli.late;
    let sim = Arc::new(Simulator::new(config)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        let on_signal = cancel.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown signal received");
            on_signal.cancel();
        });
        // The orchestrator waits for this line on standard output.
        #[allow(clippy::print_stdout)]
        let ready = move || {
            println!("dojo-worksim ready population={population} page={page}");
            let _ = std::io::stdout().flush();
        };
        sim.run(cancel, ready).await;
    });
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
