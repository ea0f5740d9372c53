//! The experiment file: YAML parsed into typed steps, then checked as a whole before any work.
//!
//! Parsing rejects unknown keys and wrong types with the line and column of the offending key.
//! [`ExperimentConfig::validate`] then checks what serde cannot: parameter ranges, that every
//! `requires` names an existing step of the right kind, and that combinations make sense.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::LabError;

/// A value together with where it was written in the YAML file, so later checks can point at it.
///
/// Only the value takes part in serialisation (and therefore in cache keys): moving a step down a
/// few lines must not invalidate its cache.
#[derive(Clone, PartialEq)]
pub struct Located<T> {
    /// The parsed value.
    pub value: T,
    /// 1-based line of the value in the file (0 when unknown).
    pub line: u64,
}

impl<T> Located<T> {
    /// A value with no known location (built in code rather than parsed).
    pub fn new(value: T) -> Self {
        Self { value, line: 0 }
    }
}

impl<T: fmt::Debug> fmt::Debug for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        Ok(Self {
            value: s.value,
            line: s.referenced.line(),
        })
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

/// A whole experiment: a name and a list of steps forming a DAG through `requires`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Names the run directory and the report.
    pub name: String,
    /// Free text shown at the top of the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The steps, in any order; `requires` decides execution order.
    pub steps: Vec<StepConfig>,
}

/// One step, written as a single-key map: `- model: {...}`, `- data: {...}`, `- query: {...}`,
/// `- analysis: {...}` (`analyze` is accepted as in the seed README).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepConfig {
    /// A reward model.
    Model(ModelStep),
    /// A dataset read from a local file.
    Data(DataStep),
    /// Scores a dataset with a model.
    Query(QueryStep),
    /// Features, estimators, plots, probes or network analysis.
    #[serde(alias = "analyze")]
    Analysis(AnalysisStep),
}

/// The four kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// [`ModelStep`].
    Model,
    /// [`DataStep`].
    Data,
    /// [`QueryStep`].
    Query,
    /// [`AnalysisStep`].
    Analysis,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Model => "model",
            StepKind::Data => "data",
            StepKind::Query => "query",
            StepKind::Analysis => "analysis",
        })
    }
}

impl StepConfig {
    /// The step id.
    pub fn id(&self) -> &Located<String> {
        match self {
            StepConfig::Model(s) => &s.id,
            StepConfig::Data(s) => &s.id,
            StepConfig::Query(s) => &s.id,
            StepConfig::Analysis(s) => &s.id,
        }
    }

    /// The step kind.
    pub fn kind(&self) -> StepKind {
        match self {
            StepConfig::Model(_) => StepKind::Model,
            StepConfig::Data(_) => StepKind::Data,
            StepConfig::Query(_) => StepKind::Query,
            StepConfig::Analysis(_) => StepKind::Analysis,
        }
    }

    /// The ids this step depends on (models and data are leaves).
    pub fn requires(&self) -> &[Located<String>] {
        match self {
            StepConfig::Model(_) | StepConfig::Data(_) => &[],
            StepConfig::Query(s) => &s.requires,
            StepConfig::Analysis(s) => &s.requires,
        }
    }
}

/// Which reward model a model step provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Every completion gets `value`.
    Constant,
    /// Score = completion length in characters.
    Length,
    /// Seeded uniform scores.
    Random,
    /// An ONNX reward-model directory at `path`.
    Onnx,
    /// The model shipped with the project (`dojo-minilm-rm`), installed by `cargo xtask setup`.
    Shipped,
}

/// `model:` step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelStep {
    /// Step id.
    pub id: Located<String>,
    /// Model kind.
    pub kind: Located<ModelKind>,
    /// Score of the `constant` baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f32>,
    /// Seed of the `random` baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Model directory for `onnx` (relative to the config file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Located<PathBuf>>,
}

/// File formats a data step reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// One JSON object per line.
    Jsonl,
    /// CSV with a header row.
    Csv,
    /// Validator step events, one JSON object per line (see [`crate::network::StepEvent`]).
    Events,
}

/// Maps dataset columns onto the canonical fields.
///
/// Either `chosen` + `rejected` (preference pairs; the default when neither `completion` nor
/// `completions` is given) or `completions` (one string or, in JSONL, a list of strings per row).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Column holding the prompt / question.
    #[serde(default = "default_prompt_col")]
    pub prompt: String,
    /// Column holding the preferred completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    /// Column holding the dispreferred completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// Column holding one completion or a list of completions.
    #[serde(default, alias = "completion", skip_serializing_if = "Option::is_none")]
    pub completions: Option<String>,
}

fn default_prompt_col() -> String {
    "prompt".to_owned()
}

impl Default for Schema {
    fn default() -> Self {
        Self {
            prompt: default_prompt_col(),
            chosen: None,
            rejected: None,
            completions: None,
        }
    }
}

/// The columns a schema resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Columns {
    /// Preference pairs.
    Pairs {
        /// Prompt column.
        prompt: String,
        /// Chosen column.
        chosen: String,
        /// Rejected column.
        rejected: String,
    },
    /// Scored completions.
    Completions {
        /// Prompt column.
        prompt: String,
        /// Completion(s) column.
        completions: String,
    },
}

impl Schema {
    /// Resolves defaults; `Err` names the inconsistency.
    pub fn columns(&self) -> Result<Columns, String> {
        match (&self.chosen, &self.rejected, &self.completions) {
            (None, None, Some(c)) => Ok(Columns::Completions {
                prompt: self.prompt.clone(),
                completions: c.clone(),
            }),
            (_, _, Some(_)) => {
                Err("`completions` cannot be combined with `chosen`/`rejected`".to_owned())
            }
            (Some(_), None, None) | (None, Some(_), None) => {
                Err("`chosen` and `rejected` must be given together".to_owned())
            }
            (c, r, None) => Ok(Columns::Pairs {
                prompt: self.prompt.clone(),
                chosen: c.clone().unwrap_or_else(|| "chosen".to_owned()),
                rejected: r.clone().unwrap_or_else(|| "rejected".to_owned()),
            }),
        }
    }
}

/// How rows are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleMethod {
    /// The first `n` rows.
    First,
    /// `n` rows without replacement, seeded; kept in file order.
    Random,
}

/// `sample:` of a data step.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Method.
    pub method: SampleMethod,
    /// How many rows.
    pub n: Located<usize>,
    /// Seed for `random` (the seeds' default, 42).
    #[serde(default = "default_sample_seed")]
    pub seed: u64,
}

fn default_sample_seed() -> u64 {
    42
}

/// `data:` step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataStep {
    /// Step id.
    pub id: Located<String>,
    /// File path, relative to the config file.
    pub path: Located<PathBuf>,
    /// Format; inferred from the extension (`.jsonl`, `.csv`) when absent. Event logs need
    /// `format: events`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DataFormat>,
    /// Column mapping (not allowed for `events`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Located<Schema>>,
    /// Optional sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}

impl DataStep {
    /// The effective format.
    pub fn effective_format(&self) -> Result<DataFormat, String> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        match self.path.value.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Ok(DataFormat::Jsonl),
            Some("csv") => Ok(DataFormat::Csv),
            Some("parquet") => {
                Err("Parquet is not supported by this build; convert to JSONL or CSV".to_owned())
            }
            other => Err(format!(
                "cannot infer the format from extension {:?}; set `format: jsonl|csv|events`",
                other.unwrap_or("")
            )),
        }
    }
}

/// What a query step keeps per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreField {
    /// Score of the chosen completion (pairs only).
    ChosenEndScores,
    /// Score of the rejected completion (pairs only).
    RejectedEndScores,
    /// `chosen - rejected` (pairs only).
    Margins,
    /// Pairwise loss `-log sigmoid(chosen - rejected)` (pairs only).
    Loss,
    /// Score of each completion (completion datasets only).
    Scores,
    /// Word-piece-free token counts (words and punctuation) of prompt and completion.
    TokenCounts,
    /// Hashed bag-of-words embedding of the (chosen) completion.
    Embeddings,
}

/// Character limits applied before scoring.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Truncate {
    /// Keep at most this many characters of the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_chars: Option<usize>,
    /// Keep at most this many characters of each completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_chars: Option<usize>,
}

/// `query:` step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryStep {
    /// Step id.
    pub id: Located<String>,
    /// Exactly one model step and one data step.
    pub requires: Vec<Located<String>>,
    /// Rows per model call (a pair row sends two inputs).
    #[serde(default = "default_batch")]
    pub batch_size: Located<usize>,
    /// Truncation before scoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<Truncate>,
    /// What to keep; defaults to everything that applies to the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Located<Vec<StoreField>>>,
    /// Dimension of stored embeddings.
    #[serde(default = "default_embedding_dim")]
    pub embedding_dim: Located<usize>,
}

fn default_batch() -> Located<usize> {
    Located::new(16)
}

fn default_embedding_dim() -> Located<usize> {
    Located::new(64)
}

/// Text features computed by an analysis step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Prompt length in characters (`sentence_length` in the seeds).
    #[serde(alias = "sentence_length")]
    QuestionLength,
    /// Words in the prompt.
    NumWords,
    /// Mean word length of the prompt.
    AvgWordLength,
    /// Median word length of the prompt.
    MedianWordLength,
    /// (Chosen) completion length in characters.
    CompletionLength,
    /// Words in the (chosen) completion.
    CompletionWords,
    /// Hashed embedding of the (chosen) completion; expands to `embedding_dim` columns.
    Embedding,
}

impl Feature {
    /// Column name in tables and `predict.x`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::QuestionLength => "question_length",
            Feature::NumWords => "num_words",
            Feature::AvgWordLength => "avg_word_length",
            Feature::MedianWordLength => "median_word_length",
            Feature::CompletionLength => "completion_length",
            Feature::CompletionWords => "completion_words",
            Feature::Embedding => "embedding",
        }
    }

    /// All features, for name lookups.
    pub const ALL: [Feature; 7] = [
        Feature::QuestionLength,
        Feature::NumWords,
        Feature::AvgWordLength,
        Feature::MedianWordLength,
        Feature::CompletionLength,
        Feature::CompletionWords,
        Feature::Embedding,
    ];
}

/// Estimator families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EstimatorName {
    /// Gradient-boosted regression trees (forust-ml), parameters as scikit-learn's.
    #[serde(
        rename = "gradient_boosting_regressor",
        alias = "GradientBoostingRegressor"
    )]
    GradientBoostingRegressor,
}

/// scikit-learn `GradientBoostingRegressor` parameters the seeds used, mapped onto forust-ml.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GbrArgs {
    /// Boosting rounds (forust `iterations`).
    #[serde(default = "default_n_estimators")]
    pub n_estimators: usize,
    /// Shrinkage.
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f32,
    /// Tree depth.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Minimum rows per leaf (forust `min_leaf_weight`; with squared loss each row weighs 1).
    #[serde(default = "one")]
    pub min_samples_leaf: usize,
    /// Row subsampling per tree.
    #[serde(default = "one_f32")]
    pub subsample: f32,
    /// Share of the training rows held out for early stopping (used with `n_iter_no_change`).
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
    /// Stop when the validation RMSE has not improved for this many rounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_iter_no_change: Option<usize>,
    /// Seed for splits and subsampling.
    #[serde(default)]
    pub random_state: u64,
    /// Log every this many rounds (0 = silent).
    #[serde(default)]
    pub verbose: usize,
}

fn default_n_estimators() -> usize {
    100
}
fn default_learning_rate() -> f32 {
    0.1
}
fn default_max_depth() -> usize {
    3
}
fn one() -> usize {
    1
}
fn one_f32() -> f32 {
    1.0
}
fn default_validation_fraction() -> f64 {
    0.1
}

impl Default for GbrArgs {
    fn default() -> Self {
        Self {
            n_estimators: default_n_estimators(),
            learning_rate: default_learning_rate(),
            max_depth: default_max_depth(),
            min_samples_leaf: 1,
            subsample: 1.0,
            validation_fraction: default_validation_fraction(),
            n_iter_no_change: None,
            random_state: 0,
            verbose: 0,
        }
    }
}

impl GbrArgs {
    /// Range checks; `Err` names the parameter.
    pub fn check(&self) -> Result<(), String> {
        if self.n_estimators == 0 {
            return Err("`n_estimators` must be at least 1".to_owned());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(format!(
                "`learning_rate` must be > 0, got {}",
                self.learning_rate
            ));
        }
        if self.max_depth == 0 {
            return Err("`max_depth` must be at least 1".to_owned());
        }
        if self.min_samples_leaf == 0 {
            return Err("`min_samples_leaf` must be at least 1".to_owned());
        }
        if !(self.subsample > 0.0 && self.subsample <= 1.0) {
            return Err(format!(
                "`subsample` must be in (0, 1], got {}",
                self.subsample
            ));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return Err(format!(
                "`validation_fraction` must be in (0, 1), got {}",
                self.validation_fraction
            ));
        }
        if self.n_iter_no_change == Some(0) {
            return Err("`n_iter_no_change` must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// One entry of `estimators:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimatorConfig {
    /// Family.
    pub name: EstimatorName,
    /// Parameters.
    #[serde(default)]
    pub args: Located<GbrArgs>,
}

impl<T: Default> Default for Located<T> {
    fn default() -> Self {
        Located::new(T::default())
    }
}

/// One entry of `predict:` (keyed by the target column).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PredictConfig {
    /// Feature names used as inputs.
    pub x: Located<Vec<String>>,
    /// Estimator id from `estimators:`.
    pub estimator: Located<String>,
    /// Held-out share for the reported test R².
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
}

fn default_test_fraction() -> f64 {
    0.2
}

/// Built-in exploit probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// Pads completions with neutral filler; also correlates reward with length.
    LengthBias,
    /// Appends keywords.
    KeywordStuffing,
    /// Repeats the completion.
    Repetition,
    /// Answers with a copy of the prompt, or with another row's answer.
    Copy,
}

/// One entry of `probes:`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// Which probe.
    pub kind: Located<ProbeKind>,
    /// `length_bias`: target length as a multiple of the original (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_factor: Option<Located<f64>>,
    /// `length_bias`: filler sentence (default: a neutral, content-free sentence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filler: Option<String>,
    /// `keyword_stuffing`: words to append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keywords: Option<Located<Vec<String>>>,
    /// `keyword_stuffing`: also append the prompt's own content words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_prompt: Option<bool>,
    /// `repetition`: total copies of the completion (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Located<usize>>,
}

/// `network:` of an analysis step over a validator event log.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Rows in the leaderboard and top-completion tables.
    #[serde(default = "default_top")]
    pub top: usize,
    /// Completions per uid compared when grouping miners (the seeds' `ntop`).
    #[serde(default = "one")]
    pub top_completions: usize,
    /// Similarity `|shared top completions| / top_completions` at which two uids are grouped.
    #[serde(default = "one_f64")]
    pub min_similarity: f64,
    /// Bucket width of the throughput plot, in seconds.
    #[serde(default = "default_bucket")]
    pub time_bucket_s: f64,
}

fn default_top() -> usize {
    10
}
fn one_f64() -> f64 {
    1.0
}
fn default_bucket() -> f64 {
    600.0
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            top: default_top(),
            top_completions: 1,
            min_similarity: 1.0,
            time_bucket_s: default_bucket(),
        }
    }
}

/// `analysis:` step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisStep {
    /// Step id.
    pub id: Located<String>,
    /// Query steps (for features, predictions and plots), or one model + one data step (for
    /// probes), or one `events` data step (for `network`).
    pub requires: Vec<Located<String>>,
    /// Features computed on every query row.
    #[serde(default, alias = "compute", skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<Feature>,
    /// Dimension of the hashed embedding feature.
    #[serde(default = "default_embedding_dim")]
    pub embedding_dim: Located<usize>,
    /// Estimators by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub estimators: BTreeMap<String, EstimatorConfig>,
    /// Predictions: target column → inputs and estimator.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub predict: BTreeMap<String, PredictConfig>,
    /// Scatter plots, the seeds' shape: a list of `{target: [feature, ...]}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plot: Vec<Located<BTreeMap<String, Vec<String>>>>,
    /// Exploit probes (need a model and a data step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeConfig>,
    /// Rows per model call for probes.
    #[serde(default = "default_batch")]
    pub batch_size: Located<usize>,
    /// Network analysis (needs an `events` data step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkConfig>,
}

impl ExperimentConfig {
    /// Parses YAML text; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, LabError> {
        serde_saphyr::from_str(text).map_err(|e| LabError::Parse {
            file: origin.to_owned(),
            message: e.to_string(),
        })
    }
}
