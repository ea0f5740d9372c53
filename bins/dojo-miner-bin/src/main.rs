//! `dojo-miner`: the Dojo subnet miner (`run`), its worker-page keys (`keys`) and wallets
//! (`wallet`).

mod chain;
mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use dojo_miner::provider::{HumanProvider, Provider};
use dojo_miner::store::KeyKind;
use dojo_miner::web::WebConfig;
use dojo_miner::{Identity, MinerConfig, Store, TaskLimits};
use dojo_types::task::ScoringMethod;

use crate::cli::{Cli, Command, KeysCommand, RunArgs, StoreArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())
        .context("writing standard output")?;
    o.flush().context("writing standard output")
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Wallet(cmd) => out(&dojo_identity::cli::run(&cmd)?.to_string()),
        Command::Keys(cmd) => runtime()?.block_on(keys(cmd)),
        Command::Run(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
                .with_writer(std::io::stderr)
                .init();
            runtime()?.block_on(run(*args))
        }
    }
}

fn data_dir(s: &StoreArgs) -> Result<PathBuf> {
    if let Some(d) = &s.data_dir {
        return Ok(d.clone());
    }
    let wallet = s.wallet.wallet()?;
    let base = wallet
        .path
        .parent()
        .map(PathBuf::from)
        .context("wallet path has no parent directory; pass --miner.data_dir")?;
    Ok(base
        .join("miners")
        .join(&wallet.name)
        .join(&wallet.hotkey)
        .join(format!("netuid{}", s.netuid))
        .join("dojo-miner"))
}

async fn open_store(s: &StoreArgs) -> Result<Store> {
    let dir = data_dir(s)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("dojo-miner.sqlite");
    Store::open(&path)
        .await
        .with_context(|| format!("opening {}", path.display()))
}

fn now_ms() -> i64 {
    dojo_miner::grpc::now_ms()
}

async fn keys(cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Generate { store, kind } => {
            let kind: KeyKind = kind.parse().map_err(anyhow::Error::msg)?;
            let db = open_store(&store).await?;
            let key = dojo_miner::keys::generate(&db, kind, now_ms()).await?;
            db.close().await;
            out(&format!(
                "id:     {}\nkind:   {}\nsecret: {}\n(the secret is shown once; only its hash is stored)\n",
                key.id,
                kind.as_str(),
                key.secret
            ))
        }
        KeysCommand::List { store } => {
            let db = open_store(&store).await?;
            let keys = db.list_keys().await?;
            db.close().await;
            let mut s = String::from("id\tkind\tcreated_ms\tstatus\n");
            for k in keys {
                let status = k
                    .revoked_at_ms
                    .map_or("live".to_owned(), |t| format!("revoked at {t}"));
                s.push_str(&format!(
                    "{}\t{}\t{}\t{status}\n",
                    k.id,
                    k.kind.as_str(),
                    k.created_at_ms
                ));
            }
            out(&s)
        }
        KeysCommand::Revoke { store, id } => {
            let db = open_store(&store).await?;
            let done = db.revoke_key(&id, now_ms()).await?;
            db.close().await;
            if !done {
                bail!("no live key with id {id} (see `dojo-miner keys list`)");
            }
            out(&format!("revoked {id}\n"))
        }
    }
}

fn provider(args: &RunArgs) -> Result<Arc<dyn Provider>> {
    Ok(match args.scoring_method {
        ScoringMethod::Human => Arc::new(HumanProvider {
            max_results: args.max_results.max(1),
        }),
        ScoringMethod::RewardModel => {
            let dir = match &args.model_name {
                Some(d) => PathBuf::from(d),
                None => dojo_reward::shipped_model_dir().with_context(|| {
                    format!(
                        "the shipped reward model {name} is not in {looked}: run `cargo xtask setup` \
                         in a dojo checkout (it builds the model into its cache and links \
                         ~/.cache/dojo to it), or set DOJO_CACHE_DIR to that cache, or pass \
                         --model_name <cache>/models/{name} (or DOJO_REWARD_MODEL_DIR)",
                        name = dojo_reward::SHIPPED_MODEL,
                        looked = looked_in(),
                    )
                })?,
            };
            let model = Arc::new(
                dojo_reward::OnnxRewardModel::load(&dir)
                    .with_context(|| format!("loading the reward model in {}", dir.display()))?,
            );
            let mut provider =
                dojo_miner::provider::reward_model::RewardModelProvider::new(model.clone());
            match dojo_reward::code::CodeRewardModel::from_dir(model)
                .with_context(|| format!("loading the code-task head in {}", dir.display()))?
            {
                Some(code) => {
                    tracing::info!(model = %dojo_reward::RewardModel::name(&code), "code tasks use the code-task head");
                    provider = provider.with_code_model(Arc::new(code));
                }
                None => tracing::info!(
                    dir = %dir.display(),
                    "no code-head.json: code tasks use the text model on the page source"
                ),
            }
            Arc::new(provider)
        }
        ScoringMethod::LlmApi => {
            let model = args
                .model_name
                .clone()
                .context("llm_api needs --model_name (the model the server serves)")?;
            let mut cfg = dojo_llm::LlmConfig::for_judging(&args.llm_base_url, model);
            cfg.timeout = Duration::from_secs(args.llm_timeout_secs.max(1));
            if let Some(path) = &args.llm_api_key_file {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                cfg.api_key = text.lines().next().map(|l| l.trim().to_owned());
            }
            // Writing a page takes minutes where a judgement takes seconds: its own timeout.
            let mut writing = cfg.clone();
            writing.timeout = Duration::from_secs(args.llm_generation_timeout_secs.max(1));
            let client = dojo_llm::LlmClient::new(cfg)?;
            let writer = dojo_llm::LlmClient::new(writing)?;
            Arc::new(
                dojo_miner::provider::llm_api::LlmApiProvider::new(client)
                    .with_generator(writer, args.llm_generation_max_tokens.max(1)),
            )
        }
        ScoringMethod::Mturk => mturk_provider(args)?,
    })
}

#[cfg(feature = "mturk")]
fn mturk_provider(args: &RunArgs) -> Result<Arc<dyn Provider>> {
    use dojo_miner::provider::mturk;
    let endpoint = mturk::endpoint_url(&args.mturk_endpoint).map_err(anyhow::Error::msg)?;
    mturk::check_reward(&args.mturk_reward).map_err(anyhow::Error::msg)?;
    if !(1..=1_000_000).contains(&args.mturk_assignments_per_hit) {
        bail!("--mturk.assignments_per_hit must be at least 1");
    }
    let credentials = mturk::AwsCredentials::from_env()
        .context("--scoring_method mturk reads AWS credentials from the environment")?;
    let client = mturk::MturkClient::new(&endpoint, credentials)?;
    tracing::info!(%endpoint, reward = %args.mturk_reward, assignments = args.mturk_assignments_per_hit, "MTurk provider");
    Ok(Arc::new(mturk::MturkProvider::new(
        client,
        mturk::MturkConfig {
            reward: args.mturk_reward.clone(),
            assignments_per_hit: args.mturk_assignments_per_hit,
            lifetime: Duration::from_secs(args.mturk_lifetime_secs.max(30)),
            assignment_duration: Duration::from_secs(args.mturk_assignment_duration_secs.max(30)),
            poll_interval: Duration::from_secs(args.mturk_poll_secs.max(1)),
            reject_unusable: args.mturk_unusable == "reject",
            ..mturk::MturkConfig::default()
        },
    )))
}

#[cfg(not(feature = "mturk"))]
fn mturk_provider(_args: &RunArgs) -> Result<Arc<dyn Provider>> {
    bail!(
        "this dojo-miner was built without the `mturk` feature; use human, reward_model or llm_api"
    )
}

/// Where the shipped model was looked for, for the error that names the setup command.
fn looked_in() -> String {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("DOJO_CACHE_DIR").filter(|d| !d.is_empty()) {
        dirs.push(format!("$DOJO_CACHE_DIR ({})", PathBuf::from(d).display()));
    }
    if let Some(d) = dojo_reward::runtime::user_cache_dir() {
        dirs.push(d.display().to_string());
    }
    if dirs.is_empty() {
        "any cache (no DOJO_CACHE_DIR, no home directory)".to_owned()
    } else {
        dirs.join(" or ")
    }
}

fn version_as_int() -> u32 {
    let mut parts = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    100 * a + 10 * b + c
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

async fn run(args: RunArgs) -> Result<()> {
    let provider = provider(&args)?;
    let wallet = args.store.wallet.wallet()?;
    let hotkey = wallet
        .hotkey(None)
        .with_context(|| format!("loading hotkey {} of wallet {}", wallet.hotkey, wallet.name))?;
    let coldkey = wallet
        .coldkey_address()
        .with_context(|| format!("reading the coldkey address of wallet {}", wallet.name))?;
    let store = open_store(&args.store).await?;
    let chain = chain::connect(&args, &wallet, &hotkey).await?;
    let web = if args.worker_disable {
        None
    } else {
        Some(WebConfig::new((args.worker_host, args.worker_port).into()))
    };
    let config = MinerConfig {
        netuid: args.store.netuid,
        axon_bind: (args.axon_ip, args.axon_port).into(),
        external_ip: args.external_ip,
        external_port: args.external_port,
        register: args.register,
        min_stake: args.min_stake,
        require_validator_permit: args.force_validator_permit,
        rate_limit: dojo_transport::RateLimit {
            per_second: args.rate_limit.max(0.1),
            burst: (args.rate_limit * 2.0).clamp(1.0, 1e6) as u32,
        },
        metagraph_refresh: Duration::from_secs(args.metagraph_refresh_secs.max(1)),
        sweep_interval: Duration::from_secs(300),
        retention: Duration::from_secs(args.retention_hours.saturating_mul(3600)),
        limits: TaskLimits {
            max_open_tasks: args.max_open_tasks,
            ..TaskLimits::default()
        },
        // An MTurk task holds its slot while its HIT is polled (minutes to hours): one per open task.
        judge_concurrency: if args.scoring_method == ScoringMethod::Mturk {
            usize::try_from(args.max_open_tasks).unwrap_or(usize::MAX)
        } else {
            args.judge_concurrency
        },
        web,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        version_as_int: version_as_int(),
    };
    let running = dojo_miner::start(
        config,
        Arc::new(chain),
        Identity { hotkey, coldkey },
        store,
        provider,
    )
    .await?;
    // Scripts and tests read the bound addresses from here (ports may be 0 in the flags).
    let mut ready = format!("dojo-miner axon listening on {}\n", running.axon_addr);
    if let Some(web) = running.web_addr {
        ready.push_str(&format!("dojo-miner worker page on http://{web}/\n"));
    }
    out(&ready)?;
    let token = running.token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown signal received");
        token.cancel();
    });
    running.wait().await?;
    Ok(())
}
