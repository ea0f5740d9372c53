//! Reward models on ONNX Runtime.
//!
//! # Overview
//!
//! * [`OnnxRewardModel`] loads a model directory (`model.onnx` with the Hugging Face
//!   sequence-classification interface, `tokenizer.json`, optional `reward.json`) and implements
//!   [`dojo_types::ports::RewardModel`]: pair tokenization, truncation, padding to the batch's longest,
//!   length-sorted chunking, NaN checks.
//! * [`runtime`] finds the ONNX Runtime shared library explicitly (`ORT_DYLIB_PATH` or the project
//!   cache filled by `cargo xtask setup-ort`) and never lets `ort` panic on a missing library.
//! * [`batching::Batcher`] gathers concurrent async callers into length-bucketed batches run on a
//!   dedicated thread, with a bounded queue for backpressure.
//! * [`eval::evaluate`] is the era-A preference-accuracy check for any model; [`pairs`] reads
//!   `{prompt, chosen, rejected}` JSONL and generates pairs of known preference; [`train`] fits the
//!   shipped model's head with the Bradley–Terry loss; [`bench`] compares against Python.
//! * [`code`] scores single-file HTML/JS answers from a digest of the page (visible text, styles,
//!   script structure) with a head trained on the offline generator's tasks.
//! * [`SentenceEncoder`] runs a sentence-embedding model (`sentence_embedding` output, unit
//!   length), the all-MiniLM-L6-v2 that `cargo xtask setup` builds; [`embedding_model_dir`] finds it.
//! * The baselines of the Mirror Neuron experiments are re-exported from `dojo-types`.
//!
//! The shipped model `dojo-minilm-rm` lives in `models/dojo-minilm-rm` (head weights, config, card)
//! and is assembled into the cache by `cargo xtask setup`; [`shipped_model_dir`] finds it.

pub mod arithmetic;
pub mod batching;
pub mod bench;
pub mod code;
pub mod dataset;
mod encoder;
mod error;
pub mod eval;
pub mod features;
pub mod knowledge;
mod model;
pub mod pairs;
pub mod refusal;
pub mod runtime;
pub mod train;

use std::path::PathBuf;

pub use dojo_types::ports::baselines::{Constant, Length, Random};
pub use dojo_types::ports::{RewardError, RewardInput, RewardModel, bradley_terry};
pub use encoder::{SENTENCE_OUTPUT, SentenceEncoder};
pub use error::LoadError;
pub use model::{
    EXPECTED_INPUTS, EncodedBatch, InputFormat, LoadOptions, ModelConfig, OnnxRewardModel,
    Precision, decode_text,
};
pub use runtime::{Device, QUIET_RUNTIME_LOGS, resolve_dylib};

/// Directory of the sentence encoder `cargo xtask setup` builds in the cache.
pub const EMBEDDING_MODEL: &str = "all-minilm-l6-v2";

/// Where `cargo xtask setup` put the sentence encoder: `$DOJO_EMBEDDING_MODEL_DIR`, else
/// `<cache>/models/all-minilm-l6-v2`. `None` if it is not there.
pub fn embedding_model_dir() -> Option<PathBuf> {
    cache_model_dir("DOJO_EMBEDDING_MODEL_DIR", EMBEDDING_MODEL)
}

fn cache_model_dir(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    runtime::cache_dirs()
        .into_iter()
        .map(|c| c.join("models").join(name))
        .find(|d| d.join("model.onnx").is_file())
}

/// Name of the shipped model and of its directory.
pub const SHIPPED_MODEL: &str = "dojo-minilm-rm";

/// Where `cargo xtask setup` assembled the shipped model: `$DOJO_REWARD_MODEL_DIR`, else
/// `<cache>/models/dojo-minilm-rm`. `None` if it is not there (run `cargo xtask setup`).
pub fn shipped_model_dir() -> Option<PathBuf> {
    cache_model_dir("DOJO_REWARD_MODEL_DIR", SHIPPED_MODEL)
}
