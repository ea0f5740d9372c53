//! `dojo-lab run CONFIG.yaml`: runs an experiment and prints where the report is;
//! `dojo-lab chart devnet`: charts a devnet experiment's report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dojo_lab::{ModelFactory, RunOptions};
use dojo_types::ports::RewardModel;

#[derive(Parser, Debug)]
#[command(
    name = "dojo-lab",
    version,
    about = "Reward-model experiments and validator network analysis"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment config; only steps missing from the cache are computed.
    Run {
        /// The experiment YAML file.
        config: PathBuf,
        /// Parent directory of run directories.
        #[arg(long = "lab.out", env = "DOJO_LAB_OUT", default_value = "lab-runs")]
        out: PathBuf,
        /// Step cache directory (default: <lab.out>/cache).
        #[arg(long = "lab.cache-dir", env = "DOJO_LAB_CACHE")]
        cache_dir: Option<PathBuf>,
        /// Do not draw progress bars.
        #[arg(long = "no-progress")]
        no_progress: bool,
        /// Directory of the shipped reward model (`dojo-minilm-rm`), as printed by `cargo xtask setup`.
        #[arg(long = "reward.shipped-dir", env = "DOJO_REWARD_MODEL_DIR")]
        shipped_dir: Option<PathBuf>,
    },
    /// Parse and validate a config without running it.
    Check {
        /// The experiment YAML file.
        config: PathBuf,
        /// Directory of the shipped reward model.
        #[arg(long = "reward.shipped-dir", env = "DOJO_REWARD_MODEL_DIR")]
        shipped_dir: Option<PathBuf>,
    },
    /// Draw a chart from a report.
    #[command(subcommand)]
    Chart(ChartCommand),
}

#[derive(Subcommand, Debug)]
enum ChartCommand {
    /// Incentive against true quality per miner, one colour per population, from a devnet
    /// report (`{"mechanism","miners":[...]}`, or `{"study":[...]}` for one panel per mechanism).
    Devnet {
        /// The report JSON.
        #[arg(long)]
        input: PathBuf,
        /// The PNG to write.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Builds ONNX reward models for the lab through `dojo-reward` (ONNX Runtime found via
/// `ORT_DYLIB_PATH` or the project cache).
#[derive(Debug)]
struct Factory {
    shipped: Option<PathBuf>,
}

impl ModelFactory for Factory {
    fn shipped_dir(&self) -> Option<PathBuf> {
        self.shipped.clone()
    }

    fn load_onnx(&self, dir: &Path) -> Result<Arc<dyn RewardModel>, String> {
        let model = dojo_reward::OnnxRewardModel::load(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Arc::new(model))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            config,
            out,
            cache_dir,
            no_progress,
            shipped_dir,
        } => {
            let factory = Factory {
                shipped: shipped_dir.or_else(dojo_reward::shipped_model_dir),
            };
            let opts = RunOptions {
                cache_dir: cache_dir.unwrap_or_else(|| out.join("cache")),
                out_dir: out,
                progress: !no_progress,
            };
            let summary = dojo_lab::run(&config, &factory, &opts)
                .with_context(|| format!("running {}", config.display()))?;
            for s in &summary.steps {
                eprintln!(
                    "{:<20} {:<9} {:<11} {:.2}s",
                    s.id,
                    s.kind.to_string(),
                    s.status,
                    s.seconds
                );
            }
            for sec in &summary.sections {
                for note in &sec.notes {
                    eprintln!("[{}] {note}", sec.step);
                }
            }
            eprintln!("report: {}", summary.run_dir.join("report.html").display());
            Ok(())
        }
        Command::Check {
            config,
            shipped_dir,
        } => {
            let factory = Factory {
                shipped: shipped_dir.or_else(dojo_reward::shipped_model_dir),
            };
            let (plan, _) = dojo_lab::prepare(&config, &factory)
                .with_context(|| format!("checking {}", config.display()))?;
            eprintln!("{}: ok, {} steps", config.display(), plan.order.len());
            Ok(())
        }
        Command::Chart(ChartCommand::Devnet { input, out }) => {
            let s = dojo_lab::chart::devnet_chart(&input, &out)
                .with_context(|| format!("charting {}", input.display()))?;
            eprintln!(
                "{}: {} panels, {} miners, {} populations",
                out.display(),
                s.panels,
                s.points,
                s.populations
            );
            Ok(())
        }
    }
}
