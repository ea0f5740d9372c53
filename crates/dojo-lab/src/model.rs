//! Model steps: baselines built here, ONNX models built by a [`ModelFactory`] the caller supplies.
//!
//! The lab never links an inference runtime itself; the binary passes a factory backed by
//! `dojo-reward`, and tests pass one that wraps baselines in call counters.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use blake2::{Blake2s256, Digest};
use dojo_types::ports::{RewardModel, baselines};

use crate::error::LabError;
use crate::plan::ModelSource;

/// Builds reward models the lab cannot build itself.
pub trait ModelFactory: fmt::Debug + Send + Sync {
    /// Install location of the shipped model (`dojo-minilm-rm`), if known.
    fn shipped_dir(&self) -> Option<PathBuf>;

    /// Loads an ONNX reward-model directory.
    fn load_onnx(&self, dir: &Path) -> Result<Arc<dyn RewardModel>, String>;
}

/// A factory without an ONNX runtime: baselines work, ONNX kinds fail with a clear message.
#[derive(Debug, Clone, Default)]
pub struct BaselinesOnly;

impl ModelFactory for BaselinesOnly {
    fn shipped_dir(&self) -> Option<PathBuf> {
        None
    }
    fn load_onnx(&self, dir: &Path) -> Result<Arc<dyn RewardModel>, String> {
        Err(format!(
            "this build has no ONNX runtime, cannot load {}",
            dir.display()
        ))
    }
}

/// Builds the model of a model step.
pub(crate) fn build(
    step: &str,
    source: &ModelSource,
    factory: &dyn ModelFactory,
) -> Result<Arc<dyn RewardModel>, LabError> {
    Ok(match source {
        ModelSource::Constant(v) => Arc::new(baselines::Constant::new(*v)),
        ModelSource::Length => Arc::new(baselines::Length),
        ModelSource::Random(seed) => Arc::new(baselines::Random::new(*seed)),
        ModelSource::Onnx(dir) => {
            factory
                .load_onnx(dir)
                .map_err(|message| LabError::ModelLoad {
                    step: step.to_owned(),
                    message,
                })?
        }
    })
}

/// Content fingerprint of a model source: parameters for baselines, file bytes for ONNX models,
/// so retraining a model in place invalidates every cached query over it.
pub(crate) fn fingerprint(source: &ModelSource) -> Result<String, LabError> {
    Ok(match source {
        ModelSource::Constant(v) => format!("constant:{v}"),
        ModelSource::Length => "length".to_owned(),
        ModelSource::Random(s) => format!("random:{s}"),
        ModelSource::Onnx(path) => format!("onnx:{}", hash_path(path)?),
    })
}

/// Hashes a file, or every file under a directory (sorted by relative path).
pub(crate) fn hash_path(path: &Path) -> Result<String, LabError> {
    let mut files = Vec::new();
    collect_files(path, path, &mut files)?;
    files.sort();
    let mut h = Blake2s256::new();
    let mut buf = vec![0u8; 1 << 16];
    for (rel, full) in files {
        h.update(rel.as_bytes());
        h.update([0u8]);
        let mut f = std::fs::File::open(&full).map_err(|e| LabError::io("opening", &full, e))?;
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| LabError::io("reading", &full, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        h.update([0xffu8]);
    }
    Ok(hex::encode(h.finalize()))
}

fn collect_files(root: &Path, p: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), LabError> {
    let meta = std::fs::metadata(p).map_err(|e| LabError::io("reading metadata of", p, e))?;
    if meta.is_file() {
        let rel = p
            .strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned();
        out.push((rel, p.to_path_buf()));
    } else if meta.is_dir() {
        for entry in std::fs::read_dir(p).map_err(|e| LabError::io("listing", p, e))? {
            let entry = entry.map_err(|e| LabError::io("listing", p, e))?;
            collect_files(root, &entry.path(), out)?;
        }
    }
    Ok(())
}
