//! Content-addressed step outputs: the key of a step hashes its own config, the keys of the steps
//! it requires and the bytes of the files it reads, so an unchanged step is never recomputed and
//! any upstream change invalidates everything downstream.

use std::path::{Path, PathBuf};

use blake2::{Blake2s256, Digest};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::LabError;

/// Version of the artifact formats; bump when a stored struct changes shape.
const FORMAT: &str = "dojo-lab/1";

/// Computes a step key.
pub fn step_key(kind: &str, config_json: &str, inputs: &[&str], external: &str) -> String {
    let mut h = Blake2s256::new();
    for part in [FORMAT, kind, config_json] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    for i in inputs {
        h.update(i.as_bytes());
        h.update([1u8]);
    }
    h.update(external.as_bytes());
    hex::encode(h.finalize())
}

/// A directory of step artifacts.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// Opens (creating) a cache directory.
    pub fn open(dir: &Path) -> Result<Self, LabError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io("creating cache directory", dir, e))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Path of the artifact of step `id` with `key`.
    pub fn entry(&self, id: &str, key: &str) -> PathBuf {
        self.dir.join(format!(
            "{}-{}.json",
            sanitize(id),
            &key[..key.len().min(24)]
        ))
    }

    /// Path of the partial (checkpoint) file of a step.
    pub fn partial(&self, id: &str, key: &str) -> PathBuf {
        self.dir.join(format!(
            "{}-{}.partial.jsonl",
            sanitize(id),
            &key[..key.len().min(24)]
        ))
    }

    /// Loads an artifact; `Ok(None)` when absent. A corrupt entry is reported and treated as
    /// absent so the step is recomputed.
    pub fn load<T: DeserializeOwned>(&self, path: &Path) -> Result<Option<T>, LabError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io("reading cache entry", path, e)),
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                tracing::warn!(target: "lab::cache", path = %path.display(), error = %e, "corrupt cache entry, recomputing");
                Ok(None)
            }
        }
    }

    /// Stores an artifact atomically (write to a temporary file, then rename).
    pub fn store<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), LabError> {
        let bytes = serde_json::to_vec(value).map_err(|e| LabError::Cache {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| LabError::io("writing cache entry", &tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| LabError::io("renaming cache entry", path, e))
    }
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
