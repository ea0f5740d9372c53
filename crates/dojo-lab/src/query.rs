//! Query steps: score a dataset with a reward model in batches, checkpointing each batch so an
//! interrupted run resumes where it stopped.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use dojo_types::ports::{RewardInput, RewardModel};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::config::{StoreField, Truncate};
use crate::data::Dataset;
use crate::error::LabError;
use crate::stats;
use crate::text;

/// Rows scored by a query step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// True for preference pairs.
    pub pairs: bool,
    /// Prompts (as scored, after truncation).
    pub prompts: Vec<String>,
    /// Chosen completion (pairs) or the completion.
    pub completions: Vec<String>,
    /// Rejected completions (pairs only; empty otherwise).
    pub rejected: Vec<String>,
    /// Stored numeric columns by name, one value per row.
    pub columns: BTreeMap<String, Vec<f64>>,
    /// Hashed embeddings of `completions`, when stored.
    pub embeddings: Vec<Vec<f32>>,
}

impl QueryResult {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.prompts.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.prompts.is_empty()
    }
}

/// Parameters of one query run.
#[derive(Debug)]
pub(crate) struct QueryJob<'a> {
    pub(crate) step: &'a str,
    pub(crate) batch_size: usize,
    pub(crate) truncate: Truncate,
    pub(crate) store: &'a [StoreField],
    pub(crate) embedding_dim: usize,
    pub(crate) partial: &'a Path,
    pub(crate) progress: bool,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    start: usize,
    scores: Vec<f32>,
}

/// Reads the scores already computed for this key; a torn last line is ignored.
fn read_checkpoint(path: &Path) -> Vec<f32> {
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let mut scores = Vec::new();
    for line in BufReader::new(f).lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Checkpoint>(&line) {
            Ok(c) if c.start == scores.len() => scores.extend(c.scores),
            _ => break,
        }
    }
    scores
}

/// Scores `data` with `model`.
pub(crate) fn run(
    job: &QueryJob<'_>,
    model: &dyn RewardModel,
    data: &Dataset,
) -> Result<QueryResult, LabError> {
    let t = &job.truncate;
    let (pairs, prompts, completions, rejected): (bool, Vec<String>, Vec<String>, Vec<String>) =
        match data {
            Dataset::Pairs(rows) => (
                true,
                rows.iter()
                    .map(|r| text::truncate_chars(&r.prompt, t.prompt_chars).to_owned())
                    .collect(),
                rows.iter()
                    .map(|r| text::truncate_chars(&r.chosen, t.completion_chars).to_owned())
                    .collect(),
                rows.iter()
                    .map(|r| text::truncate_chars(&r.rejected, t.completion_chars).to_owned())
                    .collect(),
            ),
            Dataset::Completions(rows) => (
                false,
                rows.iter()
                    .map(|r| text::truncate_chars(&r.prompt, t.prompt_chars).to_owned())
                    .collect(),
                rows.iter()
                    .map(|r| text::truncate_chars(&r.completion, t.completion_chars).to_owned())
                    .collect(),
                Vec::new(),
            ),
            Dataset::Events(_) => {
                return Err(LabError::Data {
                    path: job.partial.to_owned(),
                    line: 0,
                    message: "a query cannot score an event log".to_owned(),
                });
            }
        };
    let per_row = if pairs { 2 } else { 1 };
    let mut inputs: Vec<RewardInput<'_>> = Vec::with_capacity(prompts.len() * per_row);
    for i in 0..prompts.len() {
        inputs.push(RewardInput::new(&prompts[i], &completions[i]));
        if pairs {
            inputs.push(RewardInput::new(&prompts[i], &rejected[i]));
        }
    }
    let mut scores = read_checkpoint(job.partial);
    scores.truncate(inputs.len());
    if !scores.is_empty() {
        tracing::info!(target: "lab::query", step = job.step, done = scores.len() / per_row, total = prompts.len(), "resuming from checkpoint");
    }
    let bar = progress_bar(job.progress, prompts.len() as u64, job.step);
    bar.set_position((scores.len() / per_row) as u64);
    let mut cp = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(job.partial)
        .map_err(|e| LabError::io("opening checkpoint", job.partial, e))?;
    let chunk = job.batch_size * per_row;
    while scores.len() < inputs.len() {
        let start = scores.len();
        let end = (start + chunk).min(inputs.len());
        let batch = &inputs[start..end];
        let out = model
            .score_batch(batch)
            .map_err(|source| LabError::Reward {
                step: job.step.to_owned(),
                source,
            })?;
        if out.len() != batch.len() {
            return Err(LabError::Reward {
                step: job.step.to_owned(),
                source: dojo_types::ports::RewardError::Shape {
                    expected: batch.len(),
                    got: out.len(),
                },
            });
        }
        if let Some((i, v)) = out.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(LabError::Reward {
                step: job.step.to_owned(),
                source: dojo_types::ports::RewardError::NonFinite {
                    index: start + i,
                    value: *v,
                },
            });
        }
        let line = serde_json::to_string(&Checkpoint {
            start,
            scores: out.clone(),
        })
        .map_err(|e| LabError::Cache {
            path: job.partial.to_owned(),
            message: e.to_string(),
        })?;
        writeln!(cp, "{line}").map_err(|e| LabError::io("writing checkpoint", job.partial, e))?;
        scores.extend(out);
        bar.set_position((scores.len() / per_row) as u64);
    }
    bar.finish_and_clear();

    let mut columns = BTreeMap::new();
    let n = prompts.len();
    let col = |f: &dyn Fn(usize) -> f64| (0..n).map(f).collect::<Vec<f64>>();
    for field in job.store {
        match field {
            StoreField::ChosenEndScores => {
                columns.insert(
                    "chosen_end_scores".to_owned(),
                    col(&|i| f64::from(scores[2 * i])),
                );
            }
            StoreField::RejectedEndScores => {
                columns.insert(
                    "rejected_end_scores".to_owned(),
                    col(&|i| f64::from(scores[2 * i + 1])),
                );
            }
            StoreField::Margins => {
                columns.insert(
                    "margins".to_owned(),
                    col(&|i| f64::from(scores[2 * i]) - f64::from(scores[2 * i + 1])),
                );
            }
            StoreField::Loss => {
                columns.insert(
                    "loss".to_owned(),
                    col(&|i| {
                        stats::pair_loss(f64::from(scores[2 * i]) - f64::from(scores[2 * i + 1]))
                    }),
                );
            }
            StoreField::Scores => {
                columns.insert("scores".to_owned(), col(&|i| f64::from(scores[i])));
            }
            StoreField::TokenCounts => {
                columns.insert(
                    "prompt_tokens".to_owned(),
                    col(&|i| text::token_count(&prompts[i]) as f64),
                );
                columns.insert(
                    "completion_tokens".to_owned(),
                    col(&|i| text::token_count(&completions[i]) as f64),
                );
            }
            StoreField::Embeddings => {}
        }
    }
    if pairs
        && job.store.contains(&StoreField::ChosenEndScores)
        && job.store.contains(&StoreField::RejectedEndScores)
    {
        columns.insert(
            "correct".to_owned(),
            col(&|i| {
                if scores[2 * i] > scores[2 * i + 1] {
                    1.0
                } else {
                    0.0
                }
            }),
        );
    }
    let embeddings = if job.store.contains(&StoreField::Embeddings) {
        completions
            .iter()
            .map(|c| text::hashed_embedding(c, job.embedding_dim))
            .collect()
    } else {
        Vec::new()
    };
    Ok(QueryResult {
        pairs,
        prompts,
        completions,
        rejected,
        columns,
        embeddings,
    })
}

/// A bar drawn on stderr, or a hidden one when progress is off (tests, CI logs).
pub(crate) fn progress_bar(visible: bool, len: u64, label: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_owned());
    bar
}
