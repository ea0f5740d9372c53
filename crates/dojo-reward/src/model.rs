//! [`OnnxRewardModel`]: a Hugging Face sequence-classification reward model exported to ONNX, with
//! its `tokenizer.json`, behind [`RewardModel`].
//!
//! # Model directory
//!
//! ```text
//! DIR/model.onnx       inputs input_ids, attention_mask[, token_type_ids] (int64 [batch, seq])
//!                      output logits [batch, 1] (or [batch]); optionally embedding [batch, F]
//! DIR/model.int8.onnx  optional int8 variant of the same graph (`Precision::Int8`)
//! DIR/tokenizer.json   Hugging Face tokenizers format
//! DIR/reward.json      optional ModelConfig: name, max_length, input_format, output names, head
//! DIR/head.json        optional head applied here to the embedding and side features
//! ```
//!
//! With `"head"` in `reward.json` the score is that head's output on the graph's `embedding` plus
//! the [`SideFeature`]s the head lists, and the graph needs no `logits` output: this is how the
//! shipped model runs, and what `dojo-reward train` writes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use dojo_types::ports::{RewardError, RewardInput, RewardModel};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use tokenizers::{
    EncodeInput, PaddingParams, PaddingStrategy, Tokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::LoadError;
use crate::features::{self, SideFeature, SideValues};
use crate::knowledge::KnowledgeBase;
use crate::runtime::{Device, environment, resolve_dylib};
use crate::train::Head;

/// The input names a model must have (`token_type_ids` optional), as in an HF export.
pub const EXPECTED_INPUTS: [&str; 3] = ["input_ids", "attention_mask", "token_type_ids"];

/// Longest text kept per side before tokenization, in characters per token of `max_length`. A token
/// covers at least one character, so truncation to `max_length` tokens never needs more unless the
/// text is mostly whitespace; the cap bounds tokenizer work and memory on hostile inputs.
const CHARS_PER_TOKEN_CAP: usize = 32;

/// How `(prompt, completion)` becomes the model's text input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputFormat {
    /// Pair encoding `[CLS] prompt [SEP] completion [SEP]` (segment ids 0/1): cross-encoders and
    /// the shipped model.
    #[default]
    Pair,
    /// The era-A miner's form: the prompt rendered by the model's chat template (`{prompt}` is
    /// replaced), paired with the completion, e.g. OpenAssistant's `<|prompter|>{prompt}<|endoftext|><|assistant|>`.
    ChatTemplate {
        /// Template text with one `{prompt}` placeholder.
        template: String,
    },
}

/// `reward.json`: how to drive the model. Every field has a default, so the file is optional.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Model name reported by [`RewardModel::name`]; defaults to the directory name.
    pub name: Option<String>,
    /// Token budget per pair; longer inputs are truncated (longest side first).
    pub max_length: usize,
    /// Input form.
    pub input_format: InputFormat,
    /// Name of the score output.
    pub logits_output: String,
    /// Name of an optional feature output ([`OnnxRewardModel::embed_batch`]).
    pub embedding_output: Option<String>,
    /// A head file in the model directory (`dojo-reward-head/1`): when set, the score is this head
    /// on the embedding and its side features, not the graph's `logits_output`.
    pub head: Option<String>,
    /// How many leading values of the embedding output are a unit-length sentence embedding when
    /// the graph is given one text alone (the `relevance` side feature needs it).
    pub sentence_dims: Option<usize>,
    /// A WordNet `data.*` file in the model directory that the `knowledge` side feature looks
    /// prompts up in ([`crate::knowledge`]).
    pub knowledge: Option<String>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            name: None,
            max_length: 512,
            input_format: InputFormat::Pair,
            logits_output: "logits".to_owned(),
            embedding_output: None,
            head: None,
            sentence_dims: None,
            knowledge: None,
        }
    }
}

/// Which weights of a model directory to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// `model.onnx`, the exported float graph.
    #[default]
    Fp32,
    /// `model.int8.onnx`: the encoder's weight MatMuls dynamically quantized to int8 (about twice
    /// the throughput on CPUs with VNNI; `cargo xtask setup` writes it for the shipped model).
    Int8,
}

impl Precision {
    /// The graph file this precision loads.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Fp32 => "model.onnx",
            Self::Int8 => "model.int8.onnx",
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" | "float" => Ok(Self::Fp32),
            "int8" => Ok(Self::Int8),
            other => Err(format!("unknown precision `{other}` (fp32 or int8)")),
        }
    }
}

/// How to load a model.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// ONNX Runtime library; `None` resolves it (see [`resolve_dylib`]).
    pub dylib: Option<PathBuf>,
    /// Execution provider.
    pub device: Device,
    /// ORT intra-op threads; `None` lets ORT choose (one per physical core).
    pub intra_threads: Option<usize>,
    /// Overrides `reward.json`'s `max_length`.
    pub max_length: Option<usize>,
    /// Largest number of pairs per ORT run; larger batches are split (after sorting by length).
    pub max_batch: usize,
    /// Float or int8 weights.
    pub precision: Precision,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            dylib: None,
            device: Device::Cpu,
            intra_threads: None,
            max_length: None,
            max_batch: 32,
            precision: Precision::Fp32,
        }
    }
}

/// Token ids for one batch, padded to the batch's longest sequence, row-major `[batch, seq]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedBatch {
    /// Rows.
    pub batch: usize,
    /// Columns (longest sequence in the batch).
    pub seq: usize,
    /// `input_ids`.
    pub input_ids: Vec<i64>,
    /// `attention_mask` (1 for tokens, 0 for padding).
    pub attention_mask: Vec<i64>,
    /// `token_type_ids` (0 for the prompt side, 1 for the completion side).
    pub token_type_ids: Vec<i64>,
}

/// A reward model running on ONNX Runtime.
#[derive(Debug)]
pub struct OnnxRewardModel {
    name: String,
    dir: PathBuf,
    /// The graph file loaded (`model.onnx` or `model.int8.onnx`).
    graph: PathBuf,
    config: ModelConfig,
    tokenizer: Tokenizer,
    session: Mutex<Session>,
    has_token_type_ids: bool,
    has_embedding: bool,
    /// The head from `reward.json`'s `head`, applied in [`RewardModel::score_batch`].
    head: Option<Head>,
    /// The dictionary of `reward.json`'s `knowledge`: loaded with the model when its head reads
    /// it, else on first use (training a new head that reads it).
    knowledge: OnceLock<KnowledgeBase>,
    max_batch: usize,
    /// Tokenize the next chunk on a helper thread during inference: only when ORT leaves a core free.
    pipeline: bool,
}

impl OnnxRewardModel {
    /// Loads `dir` on the CPU with default options.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self, LoadError> {
        Self::load_with(dir, &LoadOptions::default())
    }

    /// Loads `dir` (see the module docs for its layout).
    pub fn load_with(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<Self, LoadError> {
        let dir = dir.as_ref().to_path_buf();
        let onnx = dir.join(opts.precision.file_name());
        let tok_path = dir.join("tokenizer.json");
        let cfg_path = dir.join("reward.json");
        if opts.precision == Precision::Int8 && !onnx.is_file() {
            return Err(LoadError::MissingInt8 { path: onnx });
        }
        for p in [&onnx, &tok_path] {
            if !p.is_file() {
                return Err(LoadError::MissingFile { path: p.clone() });
            }
        }
        let mut config = if cfg_path.is_file() {
            let text = std::fs::read_to_string(&cfg_path).map_err(|e| LoadError::Io {
                path: cfg_path.clone(),
                source: e,
            })?;
            serde_json::from_str::<ModelConfig>(&text).map_err(|e| LoadError::Config {
                path: cfg_path.clone(),
                message: e.to_string(),
            })?
        } else {
            ModelConfig::default()
        };
        if let Some(m) = opts.max_length {
            config.max_length = m;
        }
        if config.max_length < 8 {
            return Err(LoadError::Config {
                path: cfg_path,
                message: format!("max_length {} < 8", config.max_length),
            });
        }
        if let InputFormat::ChatTemplate { template } = &config.input_format
            && !template.contains("{prompt}")
        {
            return Err(LoadError::Config {
                path: cfg_path,
                message: "chat template has no {prompt} placeholder".into(),
            });
        }
        if opts.max_batch == 0 {
            return Err(LoadError::Config {
                path: cfg_path,
                message: "max_batch must be at least 1".into(),
            });
        }

        let tokenizer = load_tokenizer(&tok_path, config.max_length)?;
        let session = build_session(&onnx, opts)?;
        let has_token_type_ids = check_inputs(&session, &onnx)?;
        let outputs = output_names(&session);
        let head = match &config.head {
            Some(file) => Some(load_head(&dir.join(file), &config)?),
            None => None,
        };
        if head.is_none() && !outputs.contains(&config.logits_output) {
            return Err(LoadError::MissingOutput {
                path: onnx,
                expected: config.logits_output.clone(),
                found: outputs,
            });
        }
        let has_embedding = config
            .embedding_output
            .as_ref()
            .is_some_and(|e| outputs.contains(e));
        if head.is_some() && !has_embedding {
            return Err(LoadError::MissingOutput {
                path: onnx,
                expected: config
                    .embedding_output
                    .clone()
                    .unwrap_or_else(|| "(embedding_output in reward.json)".into()),
                found: outputs,
            });
        }
        let knowledge = OnceLock::new();
        if head
            .as_ref()
            .is_some_and(|h| h.side.contains(&SideFeature::Knowledge))
        {
            let Some(file) = &config.knowledge else {
                return Err(LoadError::Config {
                    path: cfg_path,
                    message: "the head uses the knowledge feature but reward.json names no \
                              knowledge file"
                        .into(),
                });
            };
            let _ = knowledge.set(load_knowledge(&dir.join(file))?);
        }
        let name = config.name.clone().unwrap_or_else(|| {
            dir.file_name()
                .map_or_else(|| "onnx".to_owned(), |n| n.to_string_lossy().into_owned())
        });
        tracing::info!(model = %name, dir = %dir.display(), max_length = config.max_length, "loaded reward model");
        Ok(Self {
            name,
            dir,
            graph: opts.precision.file_name().into(),
            config,
            tokenizer,
            session: Mutex::new(session),
            has_token_type_ids,
            has_embedding,
            head,
            knowledge,
            max_batch: opts.max_batch,
            pipeline: opts.intra_threads.is_some_and(|t| {
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) > t
            }),
        })
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The graph file this model runs, inside [`Self::dir`].
    pub fn graph_path(&self) -> PathBuf {
        self.dir.join(&self.graph)
    }

    /// The effective configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The largest batch one ORT run gets.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Tokenizes `batch` exactly as [`RewardModel::score_batch`] does (truncated, padded to the
    /// batch's longest), without running the model.
    pub fn encode(&self, batch: &[RewardInput<'_>]) -> Result<EncodedBatch, RewardError> {
        let cap = self.config.max_length.saturating_mul(CHARS_PER_TOKEN_CAP);
        let inputs: Vec<EncodeInput<'_>> = batch
            .iter()
            .map(|i| {
                let prompt = match &self.config.input_format {
                    InputFormat::Pair => cap_chars(i.prompt, cap).to_owned(),
                    InputFormat::ChatTemplate { template } => {
                        template.replace("{prompt}", cap_chars(i.prompt, cap))
                    }
                };
                EncodeInput::Dual(
                    prompt.into(),
                    cap_chars(i.completion, cap).to_owned().into(),
                )
            })
            .collect();
        self.pack(inputs)
    }

    /// Tokenizes and pads `inputs` into one batch.
    fn pack(&self, inputs: Vec<EncodeInput<'_>>) -> Result<EncodedBatch, RewardError> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(inputs, true)
            .map_err(RewardError::Backend)?;
        let batch_n = encodings.len();
        let seq = encodings
            .iter()
            .map(tokenizers::Encoding::len)
            .max()
            .unwrap_or(0);
        let mut out = EncodedBatch {
            batch: batch_n,
            seq,
            input_ids: Vec::with_capacity(batch_n * seq),
            attention_mask: Vec::with_capacity(batch_n * seq),
            token_type_ids: Vec::with_capacity(batch_n * seq),
        };
        for e in &encodings {
            if e.len() != seq {
                return Err(RewardError::InvalidInput(format!(
                    "tokenizer padded to {} not {seq}",
                    e.len()
                )));
            }
            out.input_ids
                .extend(e.get_ids().iter().map(|&x| i64::from(x)));
            out.attention_mask
                .extend(e.get_attention_mask().iter().map(|&x| i64::from(x)));
            out.token_type_ids
                .extend(e.get_type_ids().iter().map(|&x| i64::from(x)));
        }
        Ok(out)
    }

    /// Runs one encoded batch, returning `(logits, embedding)`; the embedding is empty unless
    /// requested and the model has one.
    fn run(
        &self,
        enc: &EncodedBatch,
        want_embedding: bool,
    ) -> Result<(Vec<f32>, Vec<Vec<f32>>), RewardError> {
        if enc.batch == 0 {
            return Ok((Vec::new(), Vec::new()));
        }
        let shape = [enc.batch, enc.seq];
        let backend = |e: ort::Error| RewardError::Backend(Box::new(e));
        let ids = Tensor::from_array((shape, enc.input_ids.clone())).map_err(backend)?;
        let mask = Tensor::from_array((shape, enc.attention_mask.clone())).map_err(backend)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| RewardError::Unavailable("session poisoned".into()))?;
        let want_logits = self.head.is_none();
        let outputs = if self.has_token_type_ids {
            let tt = Tensor::from_array((shape, enc.token_type_ids.clone())).map_err(backend)?;
            session.run(
                ort::inputs!["input_ids" => ids, "attention_mask" => mask, "token_type_ids" => tt],
            )
        } else {
            session.run(ort::inputs!["input_ids" => ids, "attention_mask" => mask])
        }
        .map_err(backend)?;
        // With a head the graph's own logits (if any) are not the score.
        let scores = if want_logits {
            let (lshape, logits) = outputs[self.config.logits_output.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(backend)?;
            let dims: Vec<i64> = lshape.iter().copied().collect();
            let ok_shape = match dims.as_slice() {
                [b] => usize::try_from(*b).ok() == Some(enc.batch),
                [b, 1] => usize::try_from(*b).ok() == Some(enc.batch),
                _ => false,
            };
            if !ok_shape {
                return Err(RewardError::InvalidInput(format!(
                    "model output `{}` has shape {dims:?}; a reward model must output [batch, 1] or [batch]",
                    self.config.logits_output
                )));
            }
            logits.to_vec()
        } else {
            vec![0.0; enc.batch]
        };
        let mut emb = Vec::new();
        if want_embedding
            && let Some(name) = self
                .config
                .embedding_output
                .as_deref()
                .filter(|_| self.has_embedding)
        {
            let (eshape, data) = outputs[name].try_extract_tensor::<f32>().map_err(backend)?;
            let width = eshape
                .get(1)
                .and_then(|w| usize::try_from(*w).ok())
                .unwrap_or(0);
            if eshape.len() != 2 || width == 0 || data.len() != enc.batch * width {
                return Err(RewardError::InvalidInput(format!(
                    "embedding output has shape {:?}",
                    eshape
                )));
            }
            emb = data.chunks(width).map(<[f32]>::to_vec).collect();
        }
        Ok((scores, emb))
    }

    /// Scores and (when the model has an embedding output) features, in input order, splitting into
    /// length-sorted chunks of at most `max_batch`.
    fn score_chunked(
        &self,
        batch: &[RewardInput<'_>],
        want_embedding: bool,
    ) -> Result<(Vec<f32>, Vec<Vec<f32>>), RewardError> {
        // Sorting by length first keeps padding small in every chunk (length bucketing).
        let mut order: Vec<usize> = (0..batch.len()).collect();
        if batch.len() > self.max_batch {
            order.sort_by_key(|&i| batch[i].prompt.len() + batch[i].completion.len());
        }
        let mut scores = vec![0.0_f32; batch.len()];
        let mut embs: Vec<Vec<f32>> =
            vec![Vec::new(); if want_embedding { batch.len() } else { 0 }];
        let chunks: Vec<&[usize]> = order.chunks(self.max_batch).collect();
        let mut store =
            |chunk: &[usize], (s, e): (Vec<f32>, Vec<Vec<f32>>)| -> Result<(), RewardError> {
                for (k, &i) in chunk.iter().enumerate() {
                    let v = s[k];
                    if !v.is_finite() {
                        return Err(RewardError::NonFinite { index: i, value: v });
                    }
                    scores[i] = v;
                    if want_embedding && let Some(row) = e.get(k) {
                        embs[i].clone_from(row);
                    }
                }
                Ok(())
            };
        let encode_chunk = |chunk: &[usize]| {
            let items: Vec<RewardInput<'_>> = chunk.iter().map(|&i| batch[i]).collect();
            self.encode(&items)
        };
        if chunks.len() <= 1 || !self.pipeline {
            for chunk in chunks {
                let enc = encode_chunk(chunk)?;
                store(chunk, self.run(&enc, want_embedding)?)?;
            }
        } else {
            // Pipeline: a helper thread tokenizes the next chunks while this one runs inference.
            std::thread::scope(|scope| -> Result<(), RewardError> {
                let (tx, rx) = std::sync::mpsc::sync_channel(2);
                let producer = chunks.clone();
                scope.spawn(move || {
                    for chunk in producer {
                        if tx.send(encode_chunk(chunk)).is_err() {
                            return;
                        }
                    }
                });
                for chunk in &chunks {
                    let enc = rx.recv().map_err(|_| {
                        RewardError::Unavailable("tokenizer thread stopped".into())
                    })??;
                    store(chunk, self.run(&enc, want_embedding)?)?;
                }
                Ok(())
            })?;
        }
        Ok((scores, embs))
    }

    /// The feature vectors the model's head sees (output `embedding_output`), in input order.
    pub fn embed_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<Vec<f32>>, RewardError> {
        if !self.has_embedding {
            return Err(RewardError::InvalidInput(format!(
                "model {} has no embedding output",
                self.name
            )));
        }
        Ok(self.score_chunked(batch, true)?.1)
    }

    /// The embedding of each input followed by the `side` features, in input order: what a head
    /// reads.
    pub fn features_batch(
        &self,
        batch: &[RewardInput<'_>],
        side: &[SideFeature],
    ) -> Result<Vec<Vec<f32>>, RewardError> {
        let mut rows = self.embed_batch(batch)?;
        if side.is_empty() {
            return Ok(rows);
        }
        let mut values = vec![SideValues::default(); batch.len()];
        if side.contains(&SideFeature::Relevance) {
            for (v, r) in values.iter_mut().zip(self.relevance(batch)?) {
                v.relevance = r;
            }
        }
        if side.contains(&SideFeature::Knowledge) {
            for (v, s) in values.iter_mut().zip(self.knowledge_support(batch)?) {
                v.knowledge = s;
            }
        }
        for ((row, input), v) in rows.iter_mut().zip(batch).zip(&mut values) {
            v.add_checks(input.prompt, input.completion);
            row.extend(side.iter().map(|f| f.value(v)));
        }
        Ok(rows)
    }

    /// [`KnowledgeBase::support`] of each input, looking each distinct prompt up once.
    fn knowledge_support(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        let kb = self.knowledge_base()?;
        let mut lookups = std::collections::HashMap::new();
        Ok(batch
            .iter()
            .map(|i| {
                lookups
                    .entry(i.prompt)
                    .or_insert_with(|| kb.lookup(i.prompt))
                    .support(i.completion)
            })
            .collect())
    }

    /// The dictionary `reward.json`'s `knowledge` names, loaded on first use.
    pub fn knowledge_base(&self) -> Result<&KnowledgeBase, RewardError> {
        if let Some(kb) = self.knowledge.get() {
            return Ok(kb);
        }
        let Some(file) = &self.config.knowledge else {
            return Err(RewardError::InvalidInput(format!(
                "model {} names no knowledge file in reward.json, which the knowledge feature needs",
                self.name
            )));
        };
        let kb = load_knowledge(&self.dir.join(file))
            .map_err(|e| RewardError::Unavailable(e.to_string()))?;
        Ok(self.knowledge.get_or_init(|| kb))
    }

    /// Cosine between the sentence embeddings of each prompt and its completion, each text encoded
    /// alone (a prompt shared by several inputs is encoded once).
    fn relevance(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        let Some(dims) = self.config.sentence_dims else {
            return Err(RewardError::InvalidInput(format!(
                "model {} has no sentence_dims in reward.json, which the relevance feature needs",
                self.name
            )));
        };
        let mut texts: Vec<&str> = Vec::with_capacity(batch.len() + 1);
        let mut prompt_of = Vec::with_capacity(batch.len());
        for i in batch {
            let p = match texts[..].iter().position(|t| *t == i.prompt) {
                Some(p) => p,
                None => {
                    texts.push(i.prompt);
                    texts.len() - 1
                }
            };
            prompt_of.push(p);
        }
        let first_completion = texts.len();
        texts.extend(batch.iter().map(|i| i.completion));
        let emb = self.sentence_embed(&texts, dims)?;
        Ok(prompt_of
            .iter()
            .enumerate()
            .map(|(k, &p)| features::cosine(&emb[p], &emb[first_completion + k]))
            .collect())
    }

    /// The unit-length sentence embedding of each text encoded alone (the first `sentence_dims`
    /// values of the embedding output); an error for a model without `sentence_dims`.
    pub fn sentence_embeddings(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, RewardError> {
        let Some(dims) = self.config.sentence_dims else {
            return Err(RewardError::InvalidInput(format!(
                "model {} has no sentence_dims in reward.json",
                self.name
            )));
        };
        if !self.has_embedding {
            return Err(RewardError::InvalidInput(format!(
                "model {} has no embedding output",
                self.name
            )));
        }
        self.sentence_embed(texts, dims)
    }

    /// The first `dims` embedding values of each text encoded alone, in length-sorted chunks.
    fn sentence_embed(&self, texts: &[&str], dims: usize) -> Result<Vec<Vec<f32>>, RewardError> {
        let cap = self.config.max_length.saturating_mul(CHARS_PER_TOKEN_CAP);
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(self.max_batch) {
            let inputs: Vec<EncodeInput<'_>> = chunk
                .iter()
                .map(|&i| EncodeInput::Single(cap_chars(texts[i], cap).to_owned().into()))
                .collect();
            let enc = self.pack(inputs)?;
            let (_, rows) = self.run(&enc, true)?;
            for (&i, row) in chunk.iter().zip(rows) {
                if row.len() < dims {
                    return Err(RewardError::InvalidInput(format!(
                        "embedding has {} values, fewer than sentence_dims {dims}",
                        row.len()
                    )));
                }
                out[i] = row[..dims].to_vec();
            }
        }
        Ok(out)
    }

    /// The head `reward.json` names, if any.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// Scores and features together, in input order.
    pub fn score_and_embed(
        &self,
        batch: &[RewardInput<'_>],
    ) -> Result<(Vec<f32>, Vec<Vec<f32>>), RewardError> {
        if !self.has_embedding {
            return Err(RewardError::InvalidInput(format!(
                "model {} has no embedding output",
                self.name
            )));
        }
        self.score_chunked(batch, true)
    }
}

impl RewardModel for OnnxRewardModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        let Some(head) = &self.head else {
            return Ok(self.score_chunked(batch, false)?.0);
        };
        let rows = self.features_batch(batch, &head.side)?;
        rows.iter()
            .enumerate()
            .map(|(index, x)| {
                if x.len() != head.features {
                    return Err(RewardError::InvalidInput(format!(
                        "head expects {} features, the model gives {}",
                        head.features,
                        x.len()
                    )));
                }
                let v = head.score(x);
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(RewardError::NonFinite { index, value: v })
                }
            })
            .collect()
    }
}

/// Rejects invalid UTF-8 from the wire before anything reaches the tokenizer.
pub fn decode_text(field: &str, bytes: &[u8]) -> Result<String, RewardError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(RewardError::InvalidInput(format!(
            "{field} is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))),
    }
}

/// The longest prefix of `s` with at most `max` characters.
pub(crate) fn cap_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Reads and indexes the dictionary `reward.json`'s `knowledge` names.
fn load_knowledge(path: &Path) -> Result<KnowledgeBase, LoadError> {
    if !path.is_file() {
        return Err(LoadError::MissingFile {
            path: path.to_path_buf(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| LoadError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    // WordNet's files are ASCII apart from a few Latin-1 letters in glosses; read those lossily
    // rather than refusing the whole dictionary.
    let text = String::from_utf8_lossy(&bytes);
    KnowledgeBase::from_wordnet(&text).map_err(|e| LoadError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Reads and checks the head `reward.json` names.
fn load_head(path: &Path, config: &ModelConfig) -> Result<Head, LoadError> {
    let bad = |message: String| LoadError::Config {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let head: Head = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    head.validate().map_err(bad)?;
    if head.side.contains(&SideFeature::Relevance) && config.sentence_dims.is_none() {
        return Err(bad(
            "the head uses the relevance feature but reward.json has no sentence_dims".into(),
        ));
    }
    Ok(head)
}

pub(crate) fn load_tokenizer(path: &Path, max_length: usize) -> Result<Tokenizer, LoadError> {
    let mut tok = Tokenizer::from_file(path).map_err(|e| LoadError::Tokenizer {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // Keep the tokenizer's pad token but pad to the batch's longest: sentence-transformers files
    // ship Fixed(128) padding, which would make every row 128 long.
    let mut padding = tok.get_padding().cloned().unwrap_or_default();
    padding.strategy = PaddingStrategy::BatchLongest;
    padding.pad_to_multiple_of = None;
    tok.with_padding(Some(PaddingParams { ..padding }));
    tok.with_truncation(Some(TruncationParams {
        direction: TruncationDirection::Right,
        max_length,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
    }))
    .map_err(|e| LoadError::Tokenizer {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(tok)
}

/// Checks the graph takes `input_ids` and `attention_mask` (and optionally `token_type_ids`), nothing
/// else; returns whether it takes `token_type_ids`.
pub(crate) fn check_inputs(session: &Session, onnx: &Path) -> Result<bool, LoadError> {
    let names: Vec<String> = session
        .inputs()
        .iter()
        .map(|i| i.name().to_owned())
        .collect();
    let unknown = names.iter().any(|n| !EXPECTED_INPUTS.contains(&n.as_str()));
    let required = ["input_ids", "attention_mask"]
        .iter()
        .all(|r| names.iter().any(|n| n == r));
    if unknown || !required {
        return Err(LoadError::WrongInputs {
            path: onnx.to_path_buf(),
            found: names,
        });
    }
    Ok(names.iter().any(|n| n == "token_type_ids"))
}

pub(crate) fn output_names(session: &Session) -> Vec<String> {
    session
        .outputs()
        .iter()
        .map(|o| o.name().to_owned())
        .collect()
}

pub(crate) fn build_session(onnx: &Path, opts: &LoadOptions) -> Result<Session, LoadError> {
    let dylib = resolve_dylib(opts.dylib.as_deref(), opts.device)?;
    let env = environment(&dylib)?;
    let ort_err = |e: ort::Error| LoadError::Session {
        path: onnx.to_path_buf(),
        message: e.to_string(),
    };
    let mut builder = Session::builder(&env)
        .map_err(ort_err)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| ort_err(e.into()))?;
    if let Some(n) = opts.intra_threads {
        builder = builder
            .with_intra_threads(n)
            .map_err(|e| ort_err(e.into()))?;
    }
    match opts.device {
        Device::Cpu => {}
        #[cfg(feature = "cuda")]
        Device::Cuda { device_id } => {
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default()
                    .with_device_id(device_id)
                    .build()
                    .error_on_failure()])
                .map_err(|e| LoadError::Cuda {
                    message: e.to_string(),
                })?;
        }
        #[cfg(not(feature = "cuda"))]
        Device::Cuda { .. } => {
            return Err(LoadError::Cuda {
                message: "dojo-reward was built without the `cuda` feature".into(),
            });
        }
    }
    let bytes = std::fs::read(onnx).map_err(|e| LoadError::Io {
        path: onnx.to_path_buf(),
        source: e,
    })?;
    if !looks_like_onnx(&bytes) {
        return Err(LoadError::NotOnnx {
            path: onnx.to_path_buf(),
        });
    }
    builder.commit_from_memory(&bytes).map_err(|e| {
        // ORT's parse errors are terse ("Protobuf parsing failed"); say what the file should be.
        if e.message().contains("Protobuf parsing failed")
            || e.message().contains("INVALID_PROTOBUF")
        {
            LoadError::NotOnnx {
                path: onnx.to_path_buf(),
            }
        } else {
            ort_err(e)
        }
    })
}

/// A cheap check that the bytes start like a serialized `ModelProto`: field 1 (`ir_version`, varint)
/// or another small field tag. Catches text, HTML error pages and empty files before ORT does.
fn looks_like_onnx(bytes: &[u8]) -> bool {
    match bytes.first() {
        // Tags of ModelProto fields 1..=20 with wire types 0 (varint) or 2 (length-delimited).
        Some(&b) => (b & 0x07 == 0 || b & 0x07 == 2) && (1..=20).contains(&(b >> 3)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{cap_chars, looks_like_onnx};

    proptest! {
        #[test]
        fn cap_chars_is_a_char_prefix(s in "\\PC{0,64}", max in 0usize..80) {
            let c = cap_chars(&s, max);
            prop_assert!(s.starts_with(c));
            prop_assert_eq!(c.chars().count(), s.chars().count().min(max));
        }
    }

    #[test]
    fn onnx_sniffing_rejects_text_and_empty() {
        assert!(!looks_like_onnx(b""));
        assert!(!looks_like_onnx(b"{\"not\": \"onnx\"}"));
        // ModelProto starts with field 1 (ir_version) as a varint: tag 0x08.
        assert!(looks_like_onnx(&[0x08, 0x08, 0x12, 0x00]));
    }
}
