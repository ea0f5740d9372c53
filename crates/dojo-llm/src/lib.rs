//! An OpenAI-compatible chat client (OpenAI, OpenRouter, Together, llama.cpp servers) that returns
//! typed structured outputs. Shared by task generation (`dojo-synthetic`, long generations) and the
//! miner's LLM judge (`dojo-miner`, short judgements: see [`LlmConfig::for_judging`]).
//!
//! Every call is bounded: a per-request timeout, a cap on the response size, and a fixed number of
//! attempts with jittered exponential backoff. 429 answers honour `Retry-After` (capped). Output that
//! is not JSON, JSON of the wrong shape, or empty is retried, then reported as
//! [`LlmError::Exhausted`] with the last cause. Every outcome is counted in [`LlmMetrics`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How structured output is requested from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum JsonMode {
    /// `response_format: {type: "json_schema", json_schema: {name, schema, strict}}` (OpenAI, OpenRouter).
    JsonSchema,
    /// `response_format: {type: "json_object", schema}` (llama.cpp servers constrain decoding by it).
    #[default]
    JsonObject,
    /// No `response_format`; the schema is only described in the prompt.
    Prompt,
}

impl std::str::FromStr for JsonMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json_schema" | "schema" => Ok(Self::JsonSchema),
            "json_object" | "object" => Ok(Self::JsonObject),
            "prompt" | "none" => Ok(Self::Prompt),
            other => Err(format!(
                "unknown JSON mode `{other}` (json_schema | json_object | prompt)"
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LlmConfig {
    /// Base URL including the API version, e.g. `https://openrouter.ai/api/v1` or `http://127.0.0.1:8765/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    /// Limit for one HTTP request, connect to last byte.
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub max_response_bytes: usize,
    pub json_mode: JsonMode,
}

impl LlmConfig {
    /// Defaults for judging: a judgement is a few dozen tokens, so one request gets 60 s (not the
    /// 600 s a page generation may need) and three attempts, which keeps a whole judgement well
    /// inside a validator's task deadline.
    pub fn for_judging(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            timeout: Duration::from_secs(60),
            backoff_max: Duration::from_secs(10),
            ..Self::new(base_url, model)
        }
    }

    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            timeout: Duration::from_secs(600),
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_response_bytes: 4 * 1024 * 1024,
            json_mode: JsonMode::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("building the HTTP client failed: {0}")]
    Client(String),
    #[error("request to {url} failed: {message}")]
    Transport { url: String, message: String },
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("rate limited (HTTP 429, retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    #[error("server error HTTP {status}: {body}")]
    Server { status: u16, body: String },
    #[error("request rejected HTTP {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("response larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("response envelope is not an OpenAI chat completion: {0}")]
    Envelope(String),
    #[error("model returned an empty completion (finish_reason {finish_reason:?})")]
    Empty { finish_reason: Option<String> },
    #[error("model output is not JSON: {error}; output starts {head:?}")]
    NotJson { error: String, head: String },
    #[error("model output JSON has the wrong shape: {0}")]
    WrongShape(String),
    #[error("gave up after {attempts} attempts; last error: {last}")]
    Exhausted { attempts: u32, last: Box<LlmError> },
}

impl LlmError {
    fn retryable(&self) -> bool {
        !matches!(
            self,
            LlmError::Client(_) | LlmError::Rejected { .. } | LlmError::Exhausted { .. }
        )
    }

    /// The innermost cause (through `Exhausted`).
    pub fn root(&self) -> &LlmError {
        match self {
            LlmError::Exhausted { last, .. } => last.root(),
            other => other,
        }
    }
}

/// Counters for `/metrics`; shared by every clone of a client.
#[derive(Debug, Default)]
pub struct LlmMetrics {
    pub requests: AtomicU64,
    pub successes: AtomicU64,
    pub retries: AtomicU64,
    pub failures: AtomicU64,
    pub transport_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub rate_limited: AtomicU64,
    pub server_errors: AtomicU64,
    pub rejected: AtomicU64,
    pub too_large: AtomicU64,
    pub bad_envelope: AtomicU64,
    pub empty: AtomicU64,
    pub not_json: AtomicU64,
    pub wrong_shape: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
}

impl LlmMetrics {
    fn count(&self, e: &LlmError) {
        let c = match e {
            LlmError::Client(_) | LlmError::Exhausted { .. } => return,
            LlmError::Transport { .. } => &self.transport_errors,
            LlmError::Timeout(_) => &self.timeouts,
            LlmError::RateLimited { .. } => &self.rate_limited,
            LlmError::Server { .. } => &self.server_errors,
            LlmError::Rejected { .. } => &self.rejected,
            LlmError::TooLarge { .. } => &self.too_large,
            LlmError::Envelope(_) => &self.bad_envelope,
            LlmError::Empty { .. } => &self.empty,
            LlmError::NotJson { .. } => &self.not_json,
            LlmError::WrongShape(_) => &self.wrong_shape,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(name, help, value)` for every counter, for Prometheus rendering.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, u64)> {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            (
                "llm_requests_total",
                "HTTP requests sent to the LLM",
                g(&self.requests),
            ),
            (
                "llm_successes_total",
                "structured outputs parsed",
                g(&self.successes),
            ),
            ("llm_retries_total", "attempts retried", g(&self.retries)),
            (
                "llm_failures_total",
                "calls that gave up",
                g(&self.failures),
            ),
            (
                "llm_transport_errors_total",
                "connection errors",
                g(&self.transport_errors),
            ),
            (
                "llm_timeouts_total",
                "requests that timed out",
                g(&self.timeouts),
            ),
            (
                "llm_rate_limited_total",
                "HTTP 429 answers",
                g(&self.rate_limited),
            ),
            (
                "llm_server_errors_total",
                "HTTP 5xx answers",
                g(&self.server_errors),
            ),
            (
                "llm_rejected_total",
                "HTTP 4xx answers other than 429",
                g(&self.rejected),
            ),
            (
                "llm_too_large_total",
                "responses over the size cap",
                g(&self.too_large),
            ),
            (
                "llm_bad_envelope_total",
                "responses that are not chat completions",
                g(&self.bad_envelope),
            ),
            ("llm_empty_total", "empty completions", g(&self.empty)),
            (
                "llm_not_json_total",
                "completions that are not JSON",
                g(&self.not_json),
            ),
            (
                "llm_wrong_shape_total",
                "JSON of the wrong shape",
                g(&self.wrong_shape),
            ),
            (
                "llm_prompt_tokens_total",
                "prompt tokens reported by the server",
                g(&self.prompt_tokens),
            ),
            (
                "llm_completion_tokens_total",
                "completion tokens reported by the server",
                g(&self.completion_tokens),
            ),
        ]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: "system".to_owned(),
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".to_owned(),
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: "assistant".to_owned(),
            content: content.into(),
        }
    }
}

/// Sampling parameters of one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
    pub seed: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Clone, Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    cfg: Arc<LlmConfig>,
    metrics: Arc<LlmMetrics>,
    jitter: Arc<AtomicU64>,
}

impl LlmClient {
    pub fn new(cfg: LlmConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Client(e.to_string()))?;
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        Ok(Self {
            http,
            cfg: Arc::new(cfg),
            metrics: Arc::new(LlmMetrics::default()),
            jitter: Arc::new(AtomicU64::new(start)),
        })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    pub fn metrics(&self) -> Arc<LlmMetrics> {
        self.metrics.clone()
    }

    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.cfg.base_url.trim_end_matches('/')
        )
    }

    fn body(
        &self,
        messages: &[ChatMessage],
        name: &str,
        schema: &serde_json::Value,
        s: Sampling,
    ) -> serde_json::Value {
        let mut body = serde_json::json!({
            "model": self.cfg.model,
            "messages": messages,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
        });
        if let Some(seed) = s.seed {
            // Some servers take the seed as a signed 32-bit integer.
            body["seed"] = serde_json::json!(seed % (i32::MAX as u64));
        }
        match self.cfg.json_mode {
            JsonMode::JsonSchema => {
                body["response_format"] = serde_json::json!({
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": true}
                });
            }
            JsonMode::JsonObject => {
                body["response_format"] =
                    serde_json::json!({"type": "json_object", "schema": schema});
            }
            JsonMode::Prompt => {}
        }
        body
    }

    /// Sends one request and returns the completion text.
    async fn attempt(&self, body: &serde_json::Value) -> Result<String, LlmError> {
        self.metrics.requests.fetch_add(1, Ordering::Relaxed);
        let url = self.url();
        let mut req = self.http.post(&url).json(body);
        if let Some(key) = &self.cfg.api_key {
            req = req.bearer_auth(key);
        }
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                LlmError::Timeout(self.cfg.timeout)
            } else {
                LlmError::Transport {
                    url: url.clone(),
                    message: e.to_string(),
                }
            }
        };
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if status == 429 {
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s.min(3600.0)));
            return Err(LlmError::RateLimited { retry_after });
        }
        let limit = self.cfg.max_response_bytes;
        if resp.content_length().is_some_and(|n| n as usize > limit) {
            return Err(LlmError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > limit {
                return Err(LlmError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes);
        if status >= 500 {
            return Err(LlmError::Server {
                status,
                body: head(&text, 300),
            });
        }
        if status >= 400 {
            return Err(LlmError::Rejected {
                status,
                body: head(&text, 300),
            });
        }
        let env: Envelope =
            serde_json::from_slice(&bytes).map_err(|e| LlmError::Envelope(e.to_string()))?;
        if let Some(u) = &env.usage {
            self.metrics
                .prompt_tokens
                .fetch_add(u.prompt_tokens, Ordering::Relaxed);
            self.metrics
                .completion_tokens
                .fetch_add(u.completion_tokens, Ordering::Relaxed);
        }
        let choice = env
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| LlmError::Envelope("no choices".to_owned()))?;
        match choice.message.and_then(|m| m.content) {
            Some(c) if !c.trim().is_empty() => Ok(c),
            _ => Err(LlmError::Empty {
                finish_reason: choice.finish_reason,
            }),
        }
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .cfg
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16));
        // Splitmix64 over a shared counter: cheap jitter that differs between concurrent callers.
        let mut z = self
            .jitter
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let jitter = 0.5 + 0.5 * (z >> 11) as f64 / (1u64 << 53) as f64;
        let d = exp.mul_f64(jitter).min(self.cfg.backoff_max);
        retry_after.map_or(d, |r| r.min(self.cfg.backoff_max).max(d))
    }

    /// Asks for a JSON object matching `schema`, parses it into `T` and checks it with `validate`.
    pub async fn chat_json<T, V>(
        &self,
        messages: &[ChatMessage],
        schema_name: &str,
        schema: &serde_json::Value,
        sampling: Sampling,
        validate: V,
    ) -> Result<T, LlmError>
    where
        T: DeserializeOwned,
        V: Fn(&T) -> Result<(), String>,
    {
        let body = self.body(messages, schema_name, schema, sampling);
        let attempts = self.cfg.max_attempts.max(1);
        let mut last = None;
        for n in 0..attempts {
            if n > 0 {
                self.metrics.retries.fetch_add(1, Ordering::Relaxed);
            }
            let outcome = match self.attempt(&body).await {
                Ok(text) => parse_json::<T>(&text)
                    .and_then(|v| validate(&v).map(|()| v).map_err(LlmError::WrongShape)),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(v) => {
                    self.metrics.successes.fetch_add(1, Ordering::Relaxed);
                    return Ok(v);
                }
                Err(e) => {
                    self.metrics.count(&e);
                    tracing::warn!(attempt = n + 1, of = attempts, model = %self.cfg.model, error = %e, "LLM call failed");
                    if !e.retryable() {
                        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                        return Err(e);
                    }
                    let retry_after = match &e {
                        LlmError::RateLimited { retry_after } => *retry_after,
                        _ => None,
                    };
                    last = Some(e);
                    if n + 1 < attempts {
                        tokio::time::sleep(self.backoff(n, retry_after)).await;
                    }
                }
            }
        }
        self.metrics.failures.fetch_add(1, Ordering::Relaxed);
        Err(LlmError::Exhausted {
            attempts,
            last: Box::new(last.unwrap_or(LlmError::Envelope("no attempt was made".to_owned()))),
        })
    }
}

fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Extracts the JSON object from a completion (tolerating code fences and chatter around it) and
/// parses it into `T`.
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, LlmError> {
    let t = text.trim();
    let candidate = match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if b > a => &t[a..=b],
        _ => t,
    };
    let value: serde_json::Value =
        serde_json::from_str(candidate).map_err(|e| LlmError::NotJson {
            error: e.to_string(),
            head: head(t, 120),
        })?;
    serde_json::from_value(value).map_err(|e| LlmError::WrongShape(e.to_string()))
}
