//! Crash-safe state file: serialise, write to a temporary file, fsync, rename over the old file,
//! fsync the directory. A crash at any point leaves either the old or the new state, never a mix.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use dojo_types::chain::ChainError;

use crate::state::State;

const FILE: &str = "devnet-state.json";

#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
}

fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> ChainError {
    ChainError::Storage(format!("{what} {}: {e}", path.display()))
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Self, ChainError> {
        fs::create_dir_all(dir).map_err(|e| io_err("creating", dir, e))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The persisted state, or `None` for a fresh directory.
    pub(crate) fn load(&self) -> Result<Option<State>, ChainError> {
        let path = self.dir.join(FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io_err("decoding", &path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading", &path, e)),
        }
    }

    pub(crate) fn save(&self, state: &State) -> Result<(), ChainError> {
        let bytes = serde_json::to_vec(state).map_err(|e| ChainError::Storage(e.to_string()))?;
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let path = self.dir.join(FILE);
        let mut f = fs::File::create(&tmp).map_err(|e| io_err("creating", &tmp, e))?;
        f.write_all(&bytes)
            .map_err(|e| io_err("writing", &tmp, e))?;
        f.sync_all().map_err(|e| io_err("syncing", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| io_err("renaming", &path, e))?;
        // The rename is durable only once the directory entry is.
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("syncing", &self.dir, e))?;
        Ok(())
    }
}
