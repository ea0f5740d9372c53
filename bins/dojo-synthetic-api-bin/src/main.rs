//! `dojo-synthetic-api`: serves synthetic tasks with ground truth (offline templates or an LLM).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use dojo_synthetic::dedupe::Encoder;
use dojo_synthetic::llm::{JsonMode, LlmClient, LlmConfig};
use dojo_synthetic::{Generator, LlmGenerator, OfflineGenerator, Seeds};
use dojo_synthetic_api::{ApiKey, Config};

fn threshold(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("{v} is not in (0, 1]"))
    }
}

/// `dojo-reward`'s ONNX sentence encoder as the dedupe's `Encoder`.
#[derive(Debug)]
struct OnnxEncoder(dojo_reward::SentenceEncoder);

impl Encoder for OnnxEncoder {
    fn embed(&self, text: &str) -> Result<Vec<f32>, String> {
        self.0.embed(text).map_err(|e| e.to_string())
    }
}

/// The key from `--api.key-file` or `SYNTHETIC_API_KEY` (never a plain flag: a command line is
/// visible to every user of the machine).
fn api_key(file: Option<&PathBuf>) -> Result<Option<ApiKey>> {
    let env = std::env::var("SYNTHETIC_API_KEY").ok();
    let (text, from) = match (file, env) {
        (Some(_), Some(_)) => {
            anyhow::bail!("both SYNTHETIC_API_KEY and --api.key-file are set; use one")
        }
        (Some(p), None) => (
            std::fs::read_to_string(p)
                .with_context(|| format!("reading the API key file {}", p.display()))?,
            p.display().to_string(),
        ),
        (None, Some(k)) => (k, "SYNTHETIC_API_KEY".to_owned()),
        (None, None) => return Ok(None),
    };
    ApiKey::new(&text)
        .map(Some)
        .with_context(|| format!("the API key from {from}"))
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GeneratorKind {
    Offline,
    Llm,
}

#[derive(Debug, Parser)]
#[command(
    name = "dojo-synthetic-api",
    about = "Serves Dojo synthetic tasks with known ground truth"
)]
struct Cli {
    /// Subnet this service feeds (logged; tasks do not depend on it).
    #[arg(long = "netuid", env = "NETUID", default_value_t = 52)]
    netuid: u16,
    #[arg(
        long = "generator",
        env = "SYNTHETIC_GENERATOR",
        value_enum,
        default_value = "offline"
    )]
    generator: GeneratorKind,
    /// Listen address. Anything but loopback needs an API key: every task carries its ground truth.
    #[arg(long = "host", env = "SYNTHETIC_API_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long = "port", env = "SYNTHETIC_API_PORT", default_value_t = 5003)]
    port: u16,
    /// File holding the API key (at least 16 characters; surrounding whitespace ignored). The key
    /// can come from the SYNTHETIC_API_KEY environment variable instead. With a key, every route
    /// but /healthz answers 401 unless the request sends `Authorization: Bearer <key>`.
    #[arg(long = "api.key-file", env = "SYNTHETIC_API_KEY_FILE")]
    api_key_file: Option<PathBuf>,
    /// OpenAI-compatible base URL including the version, e.g. http://127.0.0.1:8765/v1.
    #[arg(
        long = "llm.base-url",
        env = "LLM_BASE_URL",
        default_value = "https://openrouter.ai/api/v1"
    )]
    llm_base_url: String,
    #[arg(
        long = "llm.model",
        env = "LLM_MODEL",
        default_value = "anthropic/claude-3.5-sonnet"
    )]
    llm_model: String,
    #[arg(long = "llm.api-key", env = "LLM_API_KEY", hide_env_values = true)]
    llm_api_key: Option<String>,
    /// json_schema (OpenAI, OpenRouter), json_object (llama.cpp) or prompt.
    #[arg(
        long = "llm.json-mode",
        env = "LLM_JSON_MODE",
        default_value = "json_schema"
    )]
    llm_json_mode: JsonMode,
    #[arg(
        long = "llm.timeout-secs",
        env = "LLM_TIMEOUT_SECS",
        default_value_t = 600
    )]
    llm_timeout_secs: u64,
    #[arg(
        long = "llm.max-attempts",
        env = "LLM_MAX_ATTEMPTS",
        default_value_t = 3
    )]
    llm_max_attempts: u32,
    #[arg(
        long = "llm.question-tokens",
        env = "LLM_QUESTION_TOKENS",
        default_value_t = 8192
    )]
    llm_question_tokens: u32,
    #[arg(
        long = "llm.answer-tokens",
        env = "LLM_ANSWER_TOKENS",
        default_value_t = 16384
    )]
    llm_answer_tokens: u32,
    /// Seed file (topics, personas, examples); the embedded default when absent.
    #[arg(long = "seeds", env = "SYNTHETIC_SEEDS")]
    seeds: Option<PathBuf>,
    /// Tasks kept pre-generated.
    #[arg(
        long = "buffer.size",
        env = "SYNTHETIC_BUFFER_SIZE",
        default_value_t = 16
    )]
    buffer_size: usize,
    #[arg(
        long = "buffer.workers",
        env = "SYNTHETIC_BUFFER_WORKERS",
        default_value_t = 2
    )]
    buffer_workers: usize,
    /// State file that keeps the buffer across restarts; `none` keeps it in memory.
    #[arg(
        long = "buffer.state",
        env = "SYNTHETIC_STATE",
        default_value = "dojo-synthetic-state.json"
    )]
    buffer_state: String,
    /// Seconds a request waits for a task when the buffer is empty.
    #[arg(
        long = "buffer.wait-secs",
        env = "SYNTHETIC_WAIT_SECS",
        default_value_t = 120
    )]
    buffer_wait_secs: u64,
    /// First generation seed; defaults to the clock. Offline output is a function of the seed.
    #[arg(long = "seed", env = "SYNTHETIC_SEED")]
    seed: Option<u64>,
    /// Sentence-embedding model directory (model.onnx with a `sentence_embedding` output and
    /// tokenizer.json; `cargo xtask setup` builds all-MiniLM-L6-v2 and prints it as
    /// DOJO_EMBEDDING_MODEL_DIR). Enables semantic dedupe of generated questions; needs ONNX
    /// Runtime (ORT_DYLIB_PATH or the project cache).
    #[arg(long = "dedupe.embedding-model", env = "SYNTHETIC_EMBEDDING_MODEL")]
    dedupe_embedding_model: Option<PathBuf>,
    /// Cosine similarity at or above which a question duplicates a remembered one (semantic dedupe).
    #[arg(
        long = "dedupe.semantic-threshold",
        env = "SYNTHETIC_SEMANTIC_THRESHOLD",
        default_value_t = 0.8,
        value_parser = threshold
    )]
    dedupe_semantic_threshold: f64,
    /// Minify scripts and encode the page body of served completions (spec §5.4).
    #[arg(long = "obfuscate.html", env = "SYNTHETIC_OBFUSCATE_HTML")]
    obfuscate_html: bool,
    /// Append one JSON line per served task (completion content hashes and ground-truth ranks) to
    /// this file, flushed before the task is sent; for simulated workers (docs/synthetic.md).
    #[arg(long = "ground-truth-log", env = "DOJO_GROUND_TRUTH_LOG")]
    ground_truth_log: Option<PathBuf>,
    #[arg(long = "logging.debug", env = "SYNTHETIC_DEBUG")]
    debug: bool,
}

/// Binds, prints `dojo-synthetic-api listening on ADDR` (the bound address, so `--port 0` can be
/// used by a parent process) and serves until `shutdown`.
async fn serve<G: Generator>(
    config: Config,
    generator: G,
    llm_metrics: Option<std::sync::Arc<dojo_synthetic::llm::LlmMetrics>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listen = config.listen;
    let app = dojo_synthetic_api::App::new(config, generator, llm_metrics)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "dojo-synthetic-api listening on {addr}")
            .and_then(|()| out.flush())
            .context("writing standard output")?;
    }
    dojo_synthetic_api::serve(app, listener, shutdown).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = if cli.debug { "debug" } else { "info,ort=warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()),
        )
        // stdout carries only the `listening on` line a parent process waits for.
        .with_writer(std::io::stderr)
        .init();
    let seeds = match &cli.seeds {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading seed file {}", p.display()))?;
            Seeds::parse(&text).with_context(|| format!("parsing seed file {}", p.display()))?
        }
        None => Seeds::embedded(),
    };
    let mut config = Config::new(SocketAddr::new(cli.host, cli.port));
    config.api_key = api_key(cli.api_key_file.as_ref())?;
    dojo_synthetic_api::auth::check_exposure(config.listen, config.api_key.as_ref())
        .context("set SYNTHETIC_API_KEY or --api.key-file, or keep --host on loopback")?;
    config.buffer = cli.buffer_size.max(1);
    config.workers = cli.buffer_workers.max(1);
    config.state_path = (cli.buffer_state != "none").then(|| PathBuf::from(&cli.buffer_state));
    config.wait = Duration::from_secs(cli.buffer_wait_secs);
    config.obfuscate_html = cli.obfuscate_html;
    config.ground_truth_log = cli.ground_truth_log.clone();
    if let Some(dir) = &cli.dedupe_embedding_model {
        let encoder = dojo_reward::SentenceEncoder::load(dir)
            .with_context(|| format!("loading the embedding model {}", dir.display()))?;
        let encoder: std::sync::Arc<dyn Encoder> = std::sync::Arc::new(OnnxEncoder(encoder));
        config.semantic_dedupe = Some((encoder, cli.dedupe_semantic_threshold));
    }
    config.seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    tracing::info!(netuid = cli.netuid, generator = ?cli.generator, addr = %config.listen, api_key = config.api_key.is_some(), semantic_dedupe = config.semantic_dedupe.is_some(), "starting");
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    };
    match cli.generator {
        GeneratorKind::Offline => {
            serve(config, OfflineGenerator::new(seeds), None, shutdown).await?;
        }
        GeneratorKind::Llm => {
            let mut llm = LlmConfig::new(&cli.llm_base_url, &cli.llm_model);
            llm.api_key = cli.llm_api_key.clone();
            llm.json_mode = cli.llm_json_mode;
            llm.timeout = Duration::from_secs(cli.llm_timeout_secs);
            llm.max_attempts = cli.llm_max_attempts.max(1);
            let client = LlmClient::new(llm).context("building the LLM client")?;
            let metrics = client.metrics();
            let generator = LlmGenerator::new(
                seeds,
                client,
                cli.llm_question_tokens,
                cli.llm_answer_tokens,
            );
            serve(config, generator, Some(metrics), shutdown).await?;
        }
    }
    Ok(())
}
