//! The share directory: honest and sybil simulators publish each submitted answer (canonical
//! order, one file per task content hash) so copycats can copy it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::population::CanonicalAnswer;

/// What a published file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    /// Population of the publisher.
    pub population: String,
    /// The answer, in canonical order.
    pub answer: CanonicalAnswer,
}

/// A share directory.
#[derive(Debug, Clone)]
pub struct ShareDir {
    dir: PathBuf,
}

impl ShareDir {
    /// The directory `dir` (created on first publish).
    pub fn new(dir: &Path) -> Self {
        ShareDir {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, task_hash: &str) -> PathBuf {
        self.dir.join(format!("{task_hash}.json"))
    }

    /// Writes the answer atomically (a temporary file renamed over the final name), so a reader
    /// sees either nothing or a whole file. A later publish of the same task replaces it.
    pub fn publish(&self, population: &str, answer: &CanonicalAnswer) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let body = serde_json::to_vec(&Published {
            population: population.to_owned(),
            answer: answer.clone(),
        })
        .map_err(std::io::Error::other)?;
        // Unique per process and call, so concurrent publishers never share a temporary file.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            answer.task_hash,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, self.path(&answer.task_hash)).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// The answer published for `task_hash`, if any; a file that does not parse is `None` (with a
    /// warning).
    pub fn read(&self, task_hash: &str) -> Option<Published> {
        let bytes = match std::fs::read(self.path(task_hash)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(target: "worksim::share", error = %e, task_hash, "cannot read a shared answer");
                return None;
            }
        };
        match serde_json::from_slice::<Published>(&bytes) {
            Ok(p) if p.answer.task_hash == task_hash => Some(p),
            Ok(_) => {
                tracing::warn!(target: "worksim::share", task_hash, "shared answer is for another task; ignored");
                None
            }
            Err(e) => {
                tracing::warn!(target: "worksim::share", error = %e, task_hash, "shared answer does not parse; ignored");
                None
            }
        }
    }
}
