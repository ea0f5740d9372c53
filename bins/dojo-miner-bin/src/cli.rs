//! Flags of `dojo-miner`, spelled as the original subnet's miners spelled them, each with an
//! environment fallback.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dojo_types::task::ScoringMethod;

/// The Dojo subnet miner.
#[derive(Debug, Parser)]
#[command(name = "dojo-miner", version, about = "Dojo subnet miner", long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Register (optionally), serve the axon and answer validators until SIGINT/SIGTERM.
    Run(Box<RunArgs>),
    /// Manage the worker page's keys: `generate`, `list`, `revoke`.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Create or inspect a btcli-compatible wallet (`--wallet.name`, `--wallet.hotkey`, `--wallet.path`).
    #[command(subcommand)]
    Wallet(dojo_identity::cli::WalletCommand),
}

/// Which miner's database a command works on.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Subnet id.
    #[arg(long, env = "DOJO_NETUID", default_value_t = 52)]
    pub(crate) netuid: u16,
    #[command(flatten)]
    pub(crate) wallet: dojo_identity::cli::WalletArgs,
    /// Directory of the miner's database (default
    /// `~/.bittensor/miners/<wallet>/<hotkey>/netuid<N>/dojo-miner`).
    #[arg(long = "miner.data_dir", env = "DOJO_MINER_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Issue a key; its secret is printed once and only its hash is stored.
    Generate {
        #[command(flatten)]
        store: StoreArgs,
        /// `subscription` (workers join the page with it) or `api` (programs call the JSON API).
        #[arg(long, default_value = "subscription")]
        kind: String,
    },
    /// List keys (ids, kinds, dates; never secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by id; its sessions end at once.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The key id (`key-…`) from `keys list`.
        id: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,

    /// Chain backend: `devnet` (a `dojo-devnet` process at --subtensor.chain_endpoint; the
    /// default), `finney` (mainnet, wss://entrypoint-finney.opentensor.ai:443), `test` (testnet,
    /// wss://test.finney.opentensor.ai:443), `archive`, `local` (a subtensor node at
    /// ws://127.0.0.1:9944), or the ws:// or wss:// URL of a subtensor node. On subtensor the
    /// hotkey signs serve_axon and --register's burned_register is signed by the coldkey
    /// (password from DOJO_COLDKEY_PASSWORD). Docs: docs/chain.md.
    #[arg(
        long = "subtensor.network",
        env = "BT_SUBTENSOR_NETWORK",
        default_value = "devnet",
        help_heading = "Chain"
    )]
    pub(crate) network: dojo_chain::Selection,
    /// Devnet endpoint (with --subtensor.network devnet): the gRPC address `dojo-devnet` prints.
    #[arg(
        long = "subtensor.chain_endpoint",
        env = "BT_SUBTENSOR_CHAIN_ENDPOINT",
        default_value = "http://127.0.0.1:50151",
        help_heading = "Chain"
    )]
    pub(crate) chain_endpoint: String,
    /// Burn-register the hotkey (paid by the wallet's coldkey) if it is not on the subnet yet.
    #[arg(long, env = "DOJO_MINER_REGISTER", help_heading = "Chain")]
    pub(crate) register: bool,
    /// How often the metagraph (who may call the axon) is re-read, in seconds.
    #[arg(
        long = "neuron.metagraph_refresh_secs",
        env = "DOJO_METAGRAPH_REFRESH_SECS",
        default_value_t = 60,
        help_heading = "Chain"
    )]
    pub(crate) metagraph_refresh_secs: u64,

    /// Address the axon binds to.
    #[arg(
        long = "axon.ip",
        env = "AXON_IP",
        default_value = "0.0.0.0",
        help_heading = "Axon"
    )]
    pub(crate) axon_ip: IpAddr,
    /// Port the axon listens on (0 picks a free one; the bound address is printed).
    #[arg(
        long = "axon.port",
        env = "AXON_PORT",
        default_value_t = 8091,
        help_heading = "Axon"
    )]
    pub(crate) axon_port: u16,
    /// Address advertised on chain (default: the bound address, or 127.0.0.1 when bound to all).
    #[arg(
        long = "axon.external_ip",
        env = "AXON_EXTERNAL_IP",
        help_heading = "Axon"
    )]
    pub(crate) external_ip: Option<IpAddr>,
    /// Port advertised on chain (default: the bound port), e.g. behind a port forward.
    #[arg(
        long = "axon.external_port",
        env = "AXON_EXTERNAL_PORT",
        help_heading = "Axon"
    )]
    pub(crate) external_port: Option<u16>,
    /// Minimum stake (TAO, effective stake) a validator needs to call this miner.
    #[arg(
        long = "blacklist.min_stake",
        env = "VALIDATOR_MIN_STAKE",
        default_value_t = 5000.0,
        help_heading = "Axon"
    )]
    pub(crate) min_stake: f64,
    /// Requests per second one validator may send (bursts of twice that are admitted).
    #[arg(
        long = "axon.rate_limit",
        env = "DOJO_AXON_RATE_LIMIT",
        default_value_t = 20.0,
        help_heading = "Axon"
    )]
    pub(crate) rate_limit: f64,
    /// Also require a validator permit from callers.
    #[arg(
        long = "blacklist.force_validator_permit",
        env = "DOJO_FORCE_VALIDATOR_PERMIT",
        help_heading = "Axon"
    )]
    pub(crate) force_validator_permit: bool,

    /// Who answers tasks: `reward_model` (ONNX model), `llm_api` (LLM judge), `human` (workers on
    /// the miner's page), `mturk` (Amazon Mechanical Turk HITs; AWS credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN).
    #[arg(
        long = "scoring_method",
        env = "DOJO_SCORING_METHOD",
        default_value = "human",
        help_heading = "Scoring"
    )]
    pub(crate) scoring_method: ScoringMethod,
    /// reward_model: the model directory (default: the shipped dojo-minilm-rm in the cache that
    /// `cargo xtask setup` fills). llm_api: the model name sent to the server.
    #[arg(long = "model_name", env = "DOJO_MODEL_NAME", help_heading = "Scoring")]
    pub(crate) model_name: Option<String>,
    /// llm_api: base URL of the OpenAI-compatible server, including the version.
    #[arg(
        long = "llm.base_url",
        env = "DOJO_LLM_BASE_URL",
        default_value = "http://127.0.0.1:8080/v1",
        help_heading = "Scoring"
    )]
    pub(crate) llm_base_url: String,
    /// llm_api: file whose first line is the API key (keys are never passed as flag values).
    #[arg(
        long = "llm.api_key_file",
        env = "DOJO_LLM_API_KEY_FILE",
        help_heading = "Scoring"
    )]
    pub(crate) llm_api_key_file: Option<PathBuf>,
    /// llm_api: seconds one judging request may take.
    #[arg(
        long = "llm.timeout_secs",
        env = "DOJO_LLM_TIMEOUT_SECS",
        default_value_t = 60,
        help_heading = "Scoring"
    )]
    pub(crate) llm_timeout_secs: u64,
    /// llm_api: seconds one request writing a page (a v2 generation task) may take.
    #[arg(
        long = "llm.generation_timeout_secs",
        env = "DOJO_LLM_GENERATION_TIMEOUT_SECS",
        default_value_t = 600,
        help_heading = "Scoring"
    )]
    pub(crate) llm_generation_timeout_secs: u64,
    /// llm_api: most tokens of a written page.
    #[arg(
        long = "llm.generation_max_tokens",
        env = "DOJO_LLM_GENERATION_MAX_TOKENS",
        default_value_t = 4096,
        help_heading = "Scoring"
    )]
    pub(crate) llm_generation_max_tokens: u32,
    /// mturk: `sandbox` (free, nobody is paid), `production` (workers are paid), or an http(s)://
    /// URL of another requester endpoint. Region us-east-1.
    #[arg(
        long = "mturk.endpoint",
        env = "DOJO_MTURK_ENDPOINT",
        default_value = "sandbox",
        help_heading = "Scoring"
    )]
    pub(crate) mturk_endpoint: String,
    /// mturk: US dollars paid per assignment (one worker rating one task), e.g. 0.05.
    #[arg(
        long = "mturk.reward",
        env = "DOJO_MTURK_REWARD",
        default_value = "0.05",
        help_heading = "Scoring"
    )]
    pub(crate) mturk_reward: String,
    /// mturk: workers per HIT (one HIT per task); also the results collected per task.
    #[arg(
        long = "mturk.assignments_per_hit",
        env = "DOJO_MTURK_ASSIGNMENTS_PER_HIT",
        default_value_t = 3,
        help_heading = "Scoring"
    )]
    pub(crate) mturk_assignments_per_hit: u32,
    /// mturk: seconds a HIT stays listed (cut to the task's deadline).
    #[arg(
        long = "mturk.lifetime_secs",
        env = "DOJO_MTURK_LIFETIME_SECS",
        default_value_t = 3600,
        help_heading = "Scoring"
    )]
    pub(crate) mturk_lifetime_secs: u64,
    /// mturk: seconds one worker has to finish an accepted assignment.
    #[arg(
        long = "mturk.assignment_duration_secs",
        env = "DOJO_MTURK_ASSIGNMENT_DURATION_SECS",
        default_value_t = 600,
        help_heading = "Scoring"
    )]
    pub(crate) mturk_assignment_duration_secs: u64,
    /// mturk: seconds between two polls of a HIT's assignments.
    #[arg(
        long = "mturk.poll_secs",
        env = "DOJO_MTURK_POLL_SECS",
        default_value_t = 30,
        help_heading = "Scoring"
    )]
    pub(crate) mturk_poll_secs: u64,
    /// mturk: what to do with a submitted assignment whose form is unusable (a slider missing or
    /// not a number): `reject` it unpaid, with the reason as feedback, or `keep` it unreviewed, so
    /// MTurk approves and pays it after the auto-approval delay. Never stored as a result.
    #[arg(
        long = "mturk.unusable",
        env = "DOJO_MTURK_UNUSABLE",
        default_value = "reject",
        value_parser = ["reject", "keep"],
        help_heading = "Scoring"
    )]
    pub(crate) mturk_unusable: String,
    /// Tasks an automatic provider judges at once (mturk: one per open task, this is ignored).
    #[arg(
        long = "neuron.judge_concurrency",
        env = "DOJO_JUDGE_CONCURRENCY",
        default_value_t = 2,
        help_heading = "Scoring"
    )]
    pub(crate) judge_concurrency: usize,

    /// human: worker results collected per task (the subnet's TASK_MAX_RESULTS).
    #[arg(
        long = "max_results",
        env = "TASK_MAX_RESULTS",
        default_value_t = 1,
        help_heading = "Tasks"
    )]
    pub(crate) max_results: u32,
    /// Most open tasks held at once; heartbeats report what is left.
    #[arg(
        long = "max_open_tasks",
        env = "DOJO_MAX_OPEN_TASKS",
        default_value_t = 10_000,
        help_heading = "Tasks"
    )]
    pub(crate) max_open_tasks: u64,
    /// Hours a task and its results are kept after the deadline, for late result requests.
    #[arg(
        long = "retention_hours",
        env = "DOJO_RETENTION_HOURS",
        default_value_t = 48,
        help_heading = "Tasks"
    )]
    pub(crate) retention_hours: u64,

    /// Address the worker page binds to.
    #[arg(
        long = "worker.host",
        env = "DOJO_WORKER_HOST",
        default_value = "127.0.0.1",
        help_heading = "Worker page"
    )]
    pub(crate) worker_host: IpAddr,
    /// Port of the worker page (0 picks a free one; the bound address is printed).
    #[arg(
        long = "worker.port",
        env = "DOJO_WORKER_PORT",
        default_value_t = 8092,
        help_heading = "Worker page"
    )]
    pub(crate) worker_port: u16,
    /// Do not serve the worker page (only with an automatic scoring method).
    #[arg(
        long = "worker.disable",
        env = "DOJO_WORKER_DISABLE",
        help_heading = "Worker page"
    )]
    pub(crate) worker_disable: bool,

    /// Log filter (tracing EnvFilter syntax). The default keeps ONNX Runtime's own messages
    /// (target `ort`, with `--scoring_method reward_model`) at warnings.
    #[arg(
        long = "logging.level",
        env = "RUST_LOG",
        default_value = "info,ort=warn"
    )]
    pub(crate) log: String,
}
