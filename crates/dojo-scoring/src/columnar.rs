//! A columnar round for `dojo-v1-ground-truth`: hotkeys interned once per round, and per task a
//! dense miners × completions score matrix with columns in ground-truth order.
//!
//! A validator that keeps its results in this shape scores a round without building an answer map
//! per miner and task: [`GroundTruth::score_round`] reads each matrix once and aggregates by miner
//! index. [`Mechanism::score_task`](crate::Mechanism::score_task) of [`GroundTruth`] lays a map-based
//! [`Task`](crate::Task) out the same way and runs the same kernel, so both give identical numbers.

use std::collections::HashMap;

use dojo_types::{Hotkey, TaskId};

use crate::error::{ResponseError, ScoringError};
use crate::mechanism::FxBuild;
use crate::mechanisms::ground_truth::GroundTruth;
use crate::task::Task;

/// The hotkeys of one round, each stored once; a miner is its index here.
///
/// ```
/// use dojo_scoring::HotkeyTable;
/// use dojo_types::Hotkey;
/// let mut t = HotkeyTable::default();
/// let a = t.intern(&Hotkey::new("a").unwrap());
/// assert_eq!(t.intern(&Hotkey::new("a").unwrap()), a);
/// assert_eq!(t.get(a).map(|h| h.as_str()), Some("a"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct HotkeyTable {
    keys: Vec<Hotkey>,
    index: HashMap<Hotkey, u32, FxBuild>,
}

impl HotkeyTable {
    /// The index of `hotkey`, adding it on first sight.
    pub fn intern(&mut self, hotkey: &Hotkey) -> u32 {
        if let Some(&i) = self.index.get(hotkey) {
            return i;
        }
        let i = u32::try_from(self.keys.len()).expect("fewer than 2^32 hotkeys in a round");
        self.keys.push(hotkey.clone());
        self.index.insert(hotkey.clone(), i);
        i
    }

    /// The hotkey at `index`.
    pub fn get(&self, index: u32) -> Option<&Hotkey> {
        self.keys.get(index as usize)
    }

    /// Number of distinct hotkeys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no hotkey was interned.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One task as a dense matrix: row `r` holds miner `miners[r]`'s scores, one per completion, best
/// completion (by ground truth) first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMatrix {
    /// Task id, used in errors.
    pub task: TaskId,
    completions: usize,
    miners: Vec<u32>,
    scores: Vec<f64>,
    /// Responses left out while building the matrix, and why (by miner index).
    pub rejected: Vec<(u32, ResponseError)>,
}

impl ScoreMatrix {
    /// An empty matrix for a task ranking `completions` completions.
    pub fn new(task: TaskId, completions: usize) -> Self {
        ScoreMatrix {
            task,
            completions,
            miners: Vec::new(),
            scores: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Number of completions (columns).
    pub fn completions(&self) -> usize {
        self.completions
    }

    /// Miner indices, one per row.
    pub fn miners(&self) -> &[u32] {
        &self.miners
    }

    /// The row-major scores.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// Appends a miner's row, or returns the reason it cannot be scored (nothing is appended then).
    /// `row` must hold one finite score per completion in ground-truth order.
    pub fn push_row(&mut self, miner: u32, row: &[f64]) -> Result<(), ResponseError> {
        if row.len() != self.completions {
            return Err(ResponseError::WrongCompletionCount {
                expected: self.completions,
                got: row.len(),
            });
        }
        if let Some(pos) = row.iter().position(|v| !v.is_finite()) {
            return Err(ResponseError::NonFiniteScoreAt { position: pos });
        }
        self.miners.push(miner);
        self.scores.extend_from_slice(row);
        Ok(())
    }

    /// Appends a row whose scores were already checked (the map layer checks them per id).
    pub(crate) fn push_checked(&mut self, miner: u32) -> &mut [f64] {
        self.miners.push(miner);
        let start = self.scores.len();
        self.scores.resize(start + self.completions, 0.0);
        &mut self.scores[start..]
    }

    pub(crate) fn truncate_rows(&mut self, rows: usize) {
        self.miners.truncate(rows);
        self.scores.truncate(rows * self.completions);
    }
}

/// A round in columnar form.
#[derive(Debug, Clone, Default)]
pub struct ColumnarRound {
    /// Every hotkey of the round.
    pub hotkeys: HotkeyTable,
    /// The tasks.
    pub tasks: Vec<ScoreMatrix>,
}

impl ColumnarRound {
    /// Lays out map-based tasks (what [`GroundTruth::lay_out`] does for one task), interning their
    /// hotkeys. Rejected responses land in [`ScoreMatrix::rejected`] with the map layer's reasons;
    /// a task without a usable ground truth is an error.
    pub fn from_tasks(tasks: &[Task]) -> Result<Self, ScoringError> {
        let gt = GroundTruth::default();
        let mut round = ColumnarRound::default();
        let mut rejected = Vec::new();
        for task in tasks {
            let hotkeys = &mut round.hotkeys;
            let mut m = gt.lay_out(task, |_, h| hotkeys.intern(h), &mut rejected)?;
            m.rejected = rejected
                .drain(..)
                .map(|(h, e)| (round.hotkeys.intern(&h), e))
                .collect();
            round.tasks.push(m);
        }
        Ok(round)
    }
}

/// What [`GroundTruth::score_round`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundScores {
    /// Per task, the score of each row (aligned with [`ScoreMatrix::miners`]), or why the task
    /// could not be scored.
    pub tasks: Vec<Result<Vec<f64>, ScoringError>>,
    /// Per hotkey index, the mean over the tasks that scored it (`None` when none did); tasks that
    /// failed contribute nothing.
    pub miner_scores: Vec<Option<f64>>,
}

impl GroundTruth {
    /// Scores one matrix: a score per row, or `Degenerate` under NaN semantics. A task needs at least
    /// 2 completions; a miner may appear once (`hotkeys` names it in the error).
    pub fn score_matrix(
        &self,
        m: &ScoreMatrix,
        hotkeys: &HotkeyTable,
    ) -> Result<Vec<f64>, ScoringError> {
        let mut seen = vec![false; hotkeys.len()];
        check_once(m, hotkeys, &mut seen)?;
        self.score_rows(m, &mut Vec::new())
    }

    /// Scores every task of the round and aggregates per miner (see [`RoundScores`]).
    pub fn score_round(&self, round: &ColumnarRound) -> RoundScores {
        let n = round.hotkeys.len();
        let mut seen = vec![false; n];
        let mut scratch = Vec::new();
        let mut sums = vec![(0.0f64, 0u32); n];
        let tasks = round
            .tasks
            .iter()
            .map(|m| {
                check_once(m, &round.hotkeys, &mut seen)?;
                let scores = self.score_rows(m, &mut scratch)?;
                for (&i, &v) in m.miners.iter().zip(&scores) {
                    let e = &mut sums[i as usize];
                    e.0 += v;
                    e.1 += 1;
                }
                Ok(scores)
            })
            .collect();
        let miner_scores = sums
            .into_iter()
            .map(|(s, k)| (k > 0).then(|| s / f64::from(k)))
            .collect();
        RoundScores {
            tasks,
            miner_scores,
        }
    }

    pub(crate) fn score_rows(
        &self,
        m: &ScoreMatrix,
        scratch: &mut Vec<f64>,
    ) -> Result<Vec<f64>, ScoringError> {
        if m.completions < 2 {
            return Err(ScoringError::InvalidTask {
                task: m.task.clone(),
                reason: "ground truth must rank at least 2 completions".into(),
            });
        }
        if m.miners.is_empty() {
            return Ok(Vec::new());
        }
        // The kernel scales rows in place; the matrix stays as stored.
        scratch.clear();
        scratch.extend_from_slice(&m.scores);
        self.score_dense(&m.task, scratch, m.completions)
    }
}

/// Refuses a matrix where one miner has two rows; `seen` is all false on entry and on return.
fn check_once(
    m: &ScoreMatrix,
    hotkeys: &HotkeyTable,
    seen: &mut [bool],
) -> Result<(), ScoringError> {
    let mut dup = None;
    for &i in &m.miners {
        match seen.get_mut(i as usize) {
            Some(s) if !*s => *s = true,
            _ => {
                dup = Some(i);
                break;
            }
        }
    }
    for &i in &m.miners {
        if let Some(s) = seen.get_mut(i as usize) {
            *s = false;
        }
    }
    match dup {
        None => Ok(()),
        Some(i) => Err(match hotkeys.get(i) {
            Some(h) => ScoringError::DuplicateHotkey {
                task: m.task.clone(),
                hotkey: h.clone(),
            },
            None => ScoringError::InvalidTask {
                task: m.task.clone(),
                reason: format!("miner index {i} is not in the round's hotkey table"),
            },
        }),
    }
}
