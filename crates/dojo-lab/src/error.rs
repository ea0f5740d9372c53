//! Errors of the lab: everything a config or a run can get wrong, with enough context to fix it.

use std::path::PathBuf;

use dojo_types::ports::RewardError;

/// Why an experiment could not be planned or run.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The YAML did not parse into the schema (unknown key, wrong type, bad syntax).
    #[error("{file}: {message}")]
    Parse {
        /// Config file.
        file: String,
        /// Parser message, with line and column.
        message: String,
    },
    /// The config parsed but is inconsistent; found before any work starts.
    #[error("{file}:{line}: step `{step}`: {message}")]
    Invalid {
        /// Config file.
        file: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// Step id (or `-` for the whole file).
        step: String,
        /// What is wrong.
        message: String,
    },
    /// `requires` forms a cycle.
    #[error("{file}: steps form a cycle through `requires`: {}", cycle.join(" -> "))]
    Cycle {
        /// Config file.
        file: String,
        /// The ids on the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// Reading or writing a file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A data file has bad content (a line that is not JSON, a missing column in some row).
    #[error("{}:{line}: {message}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line or record number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The reward model could not be built.
    #[error("step `{step}`: cannot load reward model: {message}")]
    ModelLoad {
        /// Model step id.
        step: String,
        /// Why.
        message: String,
    },
    /// The reward model failed while scoring.
    #[error("step `{step}`: reward model failed")]
    Reward {
        /// Step id.
        step: String,
        /// The cause.
        #[source]
        source: RewardError,
    },
    /// An estimator could not be fitted.
    #[error("step `{step}`: estimator for `{target}` failed: {message}")]
    Estimator {
        /// Analysis step id.
        step: String,
        /// Target column.
        target: String,
        /// Why.
        message: String,
    },
    /// A cached artifact could not be decoded (it is then recomputed by the caller or reported).
    #[error("cache entry {} is corrupt: {message}", path.display())]
    Cache {
        /// The entry.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Rendering a plot failed.
    #[error("plot {name}: {message}")]
    Plot {
        /// Plot file name.
        name: String,
        /// Why.
        message: String,
    },
}

impl LabError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        LabError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
