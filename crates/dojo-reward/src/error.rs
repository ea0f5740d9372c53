//! Load-time errors. Scoring errors are [`dojo_types::ports::RewardError`].

use std::path::PathBuf;

use crate::runtime::INSTALL_HINT;

/// Why a reward model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No ONNX Runtime library at any of the places looked at.
    #[error("ONNX Runtime library not found (looked at {}); {INSTALL_HINT}", display_paths(.tried))]
    RuntimeMissing {
        /// Paths checked, in order.
        tried: Vec<PathBuf>,
    },
    /// The library exists but could not be loaded (wrong file, wrong version, missing symbols).
    #[error("loading ONNX Runtime from {}: {message}; {INSTALL_HINT}", .path.display())]
    RuntimeLoad {
        /// The library path.
        path: PathBuf,
        /// ORT's message.
        message: String,
    },
    /// A required file of the model directory is missing.
    #[error("{} not found (a model directory holds model.onnx, tokenizer.json and optionally reward.json)", .path.display())]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// `Precision::Int8` was asked for but the directory has no `model.int8.onnx`.
    #[error("{} not found: the int8 variant of the shipped model is written by `cargo xtask setup`; for another model run crates/dojo-reward/python/quantize_int8.py --model model.onnx --out model.int8.onnx", .path.display())]
    MissingInt8 {
        /// The missing file.
        path: PathBuf,
    },
    /// Reading a file failed.
    #[error("reading {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `reward.json` or an option is invalid.
    #[error("invalid model config {}: {message}", .path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `tokenizer.json` could not be parsed or configured.
    #[error("loading tokenizer {}: {message}", .path.display())]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizers error.
        message: String,
    },
    /// The model file is not a serialized ONNX model.
    #[error("{} is not an ONNX model (expected a serialized ModelProto, e.g. from `optimum-cli export onnx --task text-classification`)", .path.display())]
    NotOnnx {
        /// The model file.
        path: PathBuf,
    },
    /// The graph's inputs are not those of a sequence-classification export.
    #[error("{} has inputs {found:?}; expected input_ids and attention_mask (int64 [batch, sequence]) and optionally token_type_ids, nothing else", .path.display())]
    WrongInputs {
        /// The model file.
        path: PathBuf,
        /// The inputs the graph has.
        found: Vec<String>,
    },
    /// The graph lacks the score output.
    #[error("{} has outputs {found:?}; expected `{expected}` ([batch, 1]); set logits_output in reward.json", .path.display())]
    MissingOutput {
        /// The model file.
        path: PathBuf,
        /// The output looked for.
        expected: String,
        /// The outputs the graph has.
        found: Vec<String>,
    },
    /// The graph lacks a sentence encoder's output.
    #[error("{} has outputs {found:?}; a sentence encoder needs `sentence_embedding` ([batch, dim], L2-normalised), as in the all-MiniLM-L6-v2 that `cargo xtask setup` builds", .path.display())]
    NotSentenceEncoder {
        /// The model file.
        path: PathBuf,
        /// The outputs the graph has.
        found: Vec<String>,
    },
    /// ONNX Runtime rejected the model or the session options.
    #[error("creating an ONNX Runtime session for {}: {message}", .path.display())]
    Session {
        /// The model file.
        path: PathBuf,
        /// ORT's message.
        message: String,
    },
    /// CUDA was requested and could not be used; never silently replaced by the CPU.
    #[error(
        "CUDA execution provider unavailable: {message} (needs the `cuda` feature, `cargo xtask setup-ort --gpu` and a GPU)"
    )]
    Cuda {
        /// Why.
        message: String,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing".to_owned();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
