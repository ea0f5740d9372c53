//! `dojo-devnet`: serves the embedded devnet chain over gRPC, runs one Yuma epoch on a JSON
//! snapshot (`dojo-devnet epoch --input FILE`), or drives a running devnet (`dojo-devnet admin`).

mod admin;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dojo_devnet::{Devnet, DevnetConfig, EpochInput, SubnetParams, run_epoch};

#[derive(Parser, Debug)]
#[command(
    name = "dojo-devnet",
    version,
    about = "Embedded Bittensor devnet with subtensor's exact Yuma epoch"
)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "DOJO_DEVNET_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// gRPC port (0 picks a free one; the bound address is printed on stdout).
    #[arg(long, env = "DOJO_DEVNET_PORT", default_value_t = 50_151)]
    port: u16,
    /// Directory of the crash-safe state file; the chain resumes from it after a restart.
    #[arg(long = "state-dir", env = "DOJO_DEVNET_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Block time: `12s`, `250ms`, or seconds; `0` means blocks advance only via AdvanceBlocks.
    #[arg(long = "block-time", env = "DOJO_DEVNET_BLOCK_TIME", default_value = "12s", value_parser = parse_duration)]
    block_time: Duration,
    /// Create these subnets (default hyperparameters, owner coldkey `owner`) if they do not exist.
    #[arg(long = "netuid", env = "DOJO_DEVNET_NETUIDS", value_delimiter = ',')]
    netuids: Vec<u16>,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long = "logging.level", env = "RUST_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one epoch on a JSON snapshot (docs/yuma-epoch.md) and print the result as JSON.
    Epoch {
        /// The snapshot file (`-` for stdin).
        #[arg(long)]
        input: PathBuf,
    },
    /// Drive a running devnet: subnets, hyperparameters, faucet, registration, stake, blocks and
    /// the metagraph. Each command prints one JSON object on one stdout line.
    Admin(admin::AdminArgs),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(sec) = s.strip_suffix('s') {
        (sec, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?} (try 12s, 250ms)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

fn epoch(input: &PathBuf) -> Result<()> {
    let text = if input.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(input).with_context(|| format!("reading {}", input.display()))?
    };
    let snapshot = EpochInput::from_json(&text)?;
    let out = run_epoch(&snapshot)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cli.log))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Some(Command::Epoch { input }) => return epoch(&input),
        Some(Command::Admin(args)) => {
            let out = admin::run(args).await?;
            #[allow(clippy::print_stdout)]
            {
                println!("{}", serde_json::to_string(&out)?);
            }
            return Ok(());
        }
        None => {}
    }
    let block_time = (!cli.block_time.is_zero()).then_some(cli.block_time);
    let devnet = Devnet::open(DevnetConfig {
        state_dir: cli.state_dir.clone(),
        block_time,
    })?;
    for netuid in &cli.netuids {
        let exists = devnet.read(|s| s.subnets.contains_key(netuid));
        if !exists {
            let owner = dojo_types::Hotkey::new("owner")?;
            devnet.apply(|s| s.create_subnet(*netuid, owner, None, SubnetParams::default()))?;
        }
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(cli.host, cli.port))
        .await
        .with_context(|| format!("binding {}:{}", cli.host, cli.port))?;
    let addr = listener.local_addr()?;
    #[allow(clippy::print_stdout)]
    {
        println!("dojo-devnet listening on {addr}");
    }
    tracing::info!(%addr, block = devnet.block(), ?block_time, "devnet serving");
    let _clock = devnet.spawn_clock();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    dojo_devnet::grpc::serve(devnet, listener, shutdown).await?;
    Ok(())
}
