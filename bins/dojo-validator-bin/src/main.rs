//! `dojo-validator`: the Dojo subnet validator.

mod chain;

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
    /// Run the validator: metagraph sync, heartbeats, task rounds, result collection, scoring and
    /// weights, until SIGINT/SIGTERM. State lives in `--database.url` (SQLite by default) and a
    /// restart resumes where it stopped. Docs: docs/validator.md.
    Run(Box<RunArgs>),
    /// Write the collected data as a preference dataset in Hugging Face's shape: one row per
    /// (task, chosen, rejected) pair the ground truth orders, with the miners' scores, to
    /// `--out/train.jsonl` or `--out/train.parquet`. Docs: docs/validator.md.
    Export(ExportArgs),
    /// Create or inspect a btcli-compatible wallet (`--wallet.name`, `--wallet.hotkey`, `--wallet.path`).
    #[command(subcommand)]
    Wallet(dojo_identity::cli::WalletCommand),
}

/// `dojo-validator run` flags, bittensor-style, each with an environment fallback.
#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    wallet: dojo_identity::cli::WalletArgs,
    /// Subnet to validate.
    #[arg(long = "netuid", env = "DOJO_NETUID", default_value_t = 52)]
    netuid: u16,
    /// Chain backend: `devnet` (a `dojo-devnet` process at --subtensor.chain_endpoint; the
    /// default), `finney` (mainnet, wss://entrypoint-finney.opentensor.ai:443), `test` (testnet,
    /// wss://test.finney.opentensor.ai:443), `archive`, `local` (a subtensor node at
    /// ws://127.0.0.1:9944), or the ws:// or wss:// URL of a subtensor node. On subtensor the
    /// wallet's hotkey signs the weights. Docs: docs/chain.md.
    #[arg(
        long = "subtensor.network",
        env = "BT_SUBTENSOR_NETWORK",
        default_value = "devnet"
    )]
    network: dojo_chain::Selection,
    /// Devnet endpoint (with --subtensor.network devnet, where it is required): the gRPC address
    /// a `dojo-devnet` process prints, e.g. http://127.0.0.1:50151.
    #[arg(long = "subtensor.chain_endpoint", env = "DOJO_CHAIN_ENDPOINT")]
    chain_endpoint: Option<String>,
    /// Synthetic API base URL (`dojo-synthetic-api`).
    #[arg(
        long = "synthetic.url",
        env = "DOJO_SYNTHETIC_URL",
        default_value = "http://127.0.0.1:5003"
    )]
    synthetic_url: String,
    /// API key sent to the synthetic API as `Authorization: Bearer <key>`, when it requires one.
    #[arg(
        long = "synthetic.api_key",
        env = "DOJO_SYNTHETIC_API_KEY",
        hide_env_values = true
    )]
    synthetic_api_key: Option<String>,
    /// Database: `sqlite://PATH` (default: validator.db in the wallet's hotkey directory) or
    /// `postgres://user@host:port/db`.
    #[arg(long = "database.url", env = "DOJO_DATABASE_URL")]
    database_url: Option<String>,
    /// Short intervals for devnets (rounds every 5 s, 10 s deadline) instead of the spec's
    /// (rounds every 900 s, 1 h deadline, scoring hourly).
    #[arg(long = "fast", env = "DOJO_FAST")]
    fast: bool,
    /// Scoring mechanism by registry name.
    #[arg(
        long = "neuron.mechanism",
        env = "DOJO_MECHANISM",
        default_value = "dojo-v1-ground-truth"
    )]
    mechanism: String,
    /// Reward-modelling era (with `--neuron.mechanism rm-consensus`): a JSONL file of held-out
    /// preference pairs (`{"prompt", "chosen", "rejected"}` per line, as
    /// `models/dojo-minilm-rm/heldout-pairs.jsonl`). Each round also sends every miner
    /// `--neuron.rm_probes` of them as ordinary two-answer tasks; a miner's consensus score is
    /// multiplied by its accuracy on them (era A). Without it, consensus alone.
    #[arg(long = "neuron.rm_pairs", env = "DOJO_RM_PAIRS")]
    rm_pairs: Option<PathBuf>,
    /// Preference-pair probes per round, with `--neuron.rm_pairs`.
    #[arg(long = "neuron.rm_probes", env = "DOJO_RM_PROBES", default_value_t = 2)]
    rm_probes: usize,
    /// Moving-average α.
    #[arg(
        long = "neuron.moving_average_alpha",
        env = "DOJO_EMA_ALPHA",
        default_value_t = 0.3
    )]
    alpha: f64,
    /// Reset miners absent from a scoring pass to 0 (Dojo v1.x) instead of decaying them.
    #[arg(long = "neuron.reset_absent", env = "DOJO_RESET_ABSENT")]
    reset_absent: bool,
    /// Miners per task; every active miner when omitted (what Dojo v1 did).
    #[arg(long = "neuron.sample_size", env = "DOJO_SAMPLE_SIZE")]
    sample_size: Option<usize>,
    /// Neurons with at least this stake (TAO) are validators, not miners (`VALIDATOR_MIN_STAKE`).
    #[arg(
        long = "neuron.min_stake",
        env = "DOJO_MIN_STAKE",
        default_value_t = 5000.0
    )]
    min_stake: f64,
    /// Version key sent with weights; must be >= the subnet's weights_version.
    #[arg(
        long = "weights.version_key",
        env = "DOJO_WEIGHTS_VERSION_KEY",
        default_value_t = 1
    )]
    version_key: u64,
    /// Where /metrics and /healthz listen (none when omitted).
    #[arg(long = "metrics.listen", env = "DOJO_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Append one JSON line per scored task (Open Validators' event fields) to this file.
    #[arg(long = "events.path", env = "DOJO_EVENTS_PATH")]
    events_path: Option<PathBuf>,
    /// Upload the same per-task records to this Weights & Biases project (off when omitted).
    /// Through the `wandb` Python package (`pip install wandb`) in a child process, which finds
    /// the API key itself: WANDB_API_KEY, or a prior `wandb login`. Best effort: records are
    /// dropped (dojo_wandb_dropped_total) rather than slow scoring down.
    #[arg(long = "wandb.project", env = "WANDB_PROJECT")]
    wandb_project: Option<String>,
    /// wandb entity (team or user) of the run; the API key's default entity when omitted.
    #[arg(long = "wandb.entity", env = "WANDB_ENTITY")]
    wandb_entity: Option<String>,
    /// wandb run name; wandb picks one when omitted.
    #[arg(long = "wandb.run_name")]
    wandb_run_name: Option<String>,
    /// Python interpreter with the wandb package; checked at startup.
    #[arg(
        long = "wandb.python",
        env = "DOJO_WANDB_PYTHON",
        default_value = "python3"
    )]
    wandb_python: PathBuf,
    /// Tasks per scoring pass at most; each pass is one moving-average step.
    #[arg(
        long = "neuron.scoring_batch",
        env = "DOJO_SCORING_BATCH",
        default_value_t = 512
    )]
    scoring_batch: usize,
    /// Timeout of one miner call, seconds.
    #[arg(
        long = "neuron.timeout",
        env = "DOJO_MINER_TIMEOUT",
        default_value_t = 12.0
    )]
    timeout: f64,
}

/// `dojo-validator export` flags.
#[derive(Debug, clap::Args)]
struct ExportArgs {
    #[command(flatten)]
    wallet: dojo_identity::cli::WalletArgs,
    /// Subnet (names the default database file).
    #[arg(long = "netuid", env = "DOJO_NETUID", default_value_t = 52)]
    netuid: u16,
    /// Database to read; the same default as `run`.
    #[arg(long = "database.url", env = "DOJO_DATABASE_URL")]
    database_url: Option<String>,
    /// Output format.
    #[arg(long = "format", value_enum, default_value = "jsonl")]
    format: ExportFormat,
    /// Output directory (created if missing).
    #[arg(long = "out", value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
    Parquet,
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
        Command::Run(args) => validate(*args),
        Command::Export(args) => export(args),
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

fn validate(args: RunArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let wallet = args.wallet.wallet()?;
    let keypair = wallet
        .hotkey(std::env::var("DOJO_HOTKEY_PASSWORD").ok().as_deref())
        .context("loading the hotkey (create one with `dojo-validator wallet create`)")?;
    let mechanism = dojo_scoring::MechanismConfig::from_name(&args.mechanism)?;
    if !(args.min_stake.is_finite() && args.min_stake >= 0.0) {
        anyhow::bail!("--neuron.min_stake must be a non-negative number of TAO");
    }
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        anyhow::bail!("--neuron.timeout must be a positive number of seconds");
    }
    let probes = match &args.rm_pairs {
        None => None,
        Some(_) if !matches!(mechanism, dojo_scoring::MechanismConfig::RmConsensus(_)) => {
            anyhow::bail!(
                "--neuron.rm_pairs is the reward-modelling era's accuracy check; it needs \
                 --neuron.mechanism rm-consensus"
            );
        }
        Some(_) if args.rm_probes == 0 => {
            anyhow::bail!("--neuron.rm_probes must be at least 1 with --neuron.rm_pairs");
        }
        Some(path) => Some(
            dojo_validator::probe::Probes::load(path, args.rm_probes)
                .with_context(|| format!("reading --neuron.rm_pairs {}", path.display()))?,
        ),
    };
    let database_url = database_url(
        args.database_url.clone(),
        &args.wallet,
        &wallet,
        args.netuid,
    )?;
    let mut config = dojo_validator::service::Config {
        netuid: args.netuid,
        hotkey: keypair.ss58(),
        mechanism,
        alpha: args.alpha,
        absent: if args.reset_absent {
            dojo_scoring::AbsentMiners::Reset
        } else {
            dojo_scoring::AbsentMiners::Decay
        },
        intervals: if args.fast {
            dojo_validator::service::Intervals::fast()
        } else {
            dojo_validator::service::Intervals::spec()
        },
        version_key: args.version_key,
        miner_max_stake: (args.min_stake * 1e9) as u64,
        sample_size: args.sample_size,
        score_bounds: (1.0, 100.0),
        metrics_listen: args.metrics_listen,
        event_log: args.events_path,
        wandb: None,
        scoring_batch: args.scoring_batch.max(1),
        probes,
    };
    let timeout = std::time::Duration::from_secs_f64(args.timeout);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        // Before anything slow, so that a missing wandb package fails the start at once.
        let uploader = match &args.wandb_project {
            Some(project) => {
                let (w, u) = dojo_validator::wandb::Wandb::start(dojo_validator::wandb::Options {
                    project: project.clone(),
                    entity: args.wandb_entity.clone(),
                    run_name: args.wandb_run_name.clone(),
                    python: args.wandb_python.clone(),
                    env: Vec::new(),
                    run_config: serde_json::json!({
                        "netuid": args.netuid,
                        "hotkey": config.hotkey.to_string(),
                        "mechanism": args.mechanism,
                        "version": env!("CARGO_PKG_VERSION"),
                        "version_key": args.version_key,
                    }),
                    queue: 4096,
                })
                .await?;
                config.wandb = Some(w);
                Some(u)
            }
            None => None,
        };
        let chain = chain::connect(
            &args.network,
            args.chain_endpoint.as_deref(),
            &keypair,
            args.netuid,
        )
        .await?;
        let store = dojo_validator::store::Store::open(&database_url)
            .await
            .with_context(|| format!("opening the database {database_url}"))?;
        let dendrite = dojo_transport::Dendrite::new(
            keypair,
            dojo_transport::DendriteConfig {
                timeout,
                ..Default::default()
            },
        );
        let synthetic = dojo_synthetic_api::client::SyntheticClient::new(
            &args.synthetic_url,
            args.synthetic_api_key,
            std::time::Duration::from_secs(60),
        )?;
        let validator = std::sync::Arc::new(
            dojo_validator::service::Validator::new(config, chain, store, dendrite, synthetic)
                .await?,
        );
        tracing::info!(netuid = args.netuid, database = %database_url, "validator starting");
        let mut bound = validator.metrics_addr();
        tokio::spawn(async move {
            // A parent process waits for this line to learn a `--metrics.listen` port 0 choice.
            if let Ok(addr) = bound.wait_for(Option::is_some).await
                && let Some(addr) = *addr
            {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "dojo-validator metrics on http://{addr}/metrics")
                    .and_then(|()| out.flush());
            }
        });
        let stopped = dojo_validator::service::run(validator, shutdown_signal()).await;
        if let Some(u) = uploader {
            // The validator (and with it the last sender) is gone: wandb gets end of input and
            // finishes the run.
            u.finish(std::time::Duration::from_secs(30)).await;
        }
        stopped?;
        tracing::info!("validator stopped");
        Ok(())
    })
}

/// `--database.url`, or the default SQLite file in the wallet's hotkey directory.
fn database_url(
    explicit: Option<String>,
    args: &dojo_identity::cli::WalletArgs,
    wallet: &dojo_identity::Wallet,
    netuid: u16,
) -> Result<String> {
    if let Some(u) = explicit {
        return Ok(u);
    }
    let dir = wallet
        .dir()
        .join("hotkeys")
        .join(format!("{}-validator", args.hotkey));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(format!(
        "sqlite://{}",
        dir.join(format!("netuid{netuid}.db")).display()
    ))
}

fn export(args: ExportArgs) -> Result<()> {
    let wallet = args.wallet.wallet()?;
    let url = database_url(args.database_url, &args.wallet, &wallet, args.netuid)?;
    let format = match args.format {
        ExportFormat::Jsonl => dojo_validator::export::Format::Jsonl,
        ExportFormat::Parquet => dojo_validator::export::Format::Parquet,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(async {
        let store = dojo_validator::store::Store::open(&url)
            .await
            .with_context(|| format!("opening the database {url}"))?;
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "exporting [{bar:30}] {pos}/{len} tasks {per_sec} eta {eta}",
            )
            .context("progress bar template")?,
        );
        let r = dojo_validator::export::export(&store, format, &args.out, |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await;
        bar.finish_and_clear();
        store.close().await;
        anyhow::Ok(r?)
    })?;
    eprintln!(
        "exported {} pairs from {} scored tasks to {}",
        summary.rows,
        summary.tasks,
        summary.path.display()
    );
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
