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
//! * The baselines of the Mirror Neuron experiments are re-exported from `dojo-types`.
//!
//! The shipped model `dojo-minilm-rm` lives in `models/dojo-minilm-rm` (head weights, config, card)
//! and is assembled into the cache by `cargo xtask setup`; [`shipped_model_dir`] finds it.

pub mod batching;
pub mod bench;
mod error;
pub mod eval;
mod model;
pub mod pairs;
pub mod runtime;
pub mod train;

use std::path::PathBuf;

pub use dojo_types::ports::baselines::{Constant, Length, Random};
pub use dojo_types::ports::{RewardError, RewardInput, RewardModel, bradley_terry};
pub use error::LoadError;
pub use model::{
    EXPECTED_INPUTS, EncodedBatch, InputFormat, LoadOptions, ModelConfig, OnnxRewardModel,
    decode_text,
};
pub use runtime::{Device, resolve_dylib};

/// Name of the shipped model and of its directory.
pub const SHIPPED_MODEL: &str = "dojo-minilm-rm";

/// Where `cargo xtask setup` assembled the shipped model: `$DOJO_REWARD_MODEL_DIR`, else
/// `<cache>/models/dojo-minilm-rm`. `None` if it is not there (run `cargo xtask setup`).
pub fn shipped_model_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOJO_REWARD_MODEL_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    runtime::cache_dirs()
        .into_iter()
        .map(|c| c.join("models").join(SHIPPED_MODEL))
        .find(|d| d.join("model.onnx").is_file())
}
