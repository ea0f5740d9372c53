//! Integration tests against the real shipped model and ONNX Runtime (installed by `cargo xtask setup`).

mod bad_input;
mod batching;
mod code;
mod independent;
mod knowledge;
mod load;
mod parity;
mod props;
mod quality;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use dojo_reward::{OnnxRewardModel, shipped_model_dir};

/// The shipped model dir, or `None` (skip) outside CI; under `DOJO_CI=1` a missing model fails.
pub(crate) fn model_dir() -> Option<PathBuf> {
    match shipped_model_dir() {
        Some(d) if d.join("model.onnx").is_file() => Some(d),
        _ => dojo_test_utils::missing("the shipped model is not installed (DOJO_REWARD_MODEL_DIR)"),
    }
}

/// One loaded shipped model shared by the tests of this binary.
pub(crate) fn model() -> Option<Arc<OnnxRewardModel>> {
    static MODEL: OnceLock<Option<Arc<OnnxRewardModel>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = model_dir()?;
            Some(Arc::new(OnnxRewardModel::load(&dir).unwrap_or_else(|e| {
                panic!("loading {}: {e}", dir.display())
            })))
        })
        .clone()
}
