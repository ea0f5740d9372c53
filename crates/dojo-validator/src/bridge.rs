//! From a miner's `TaskResults` (several workers, each answering per completion) to the one scoring
//! [`Answer`] per miner that a mechanism takes (spec §4.3.1, HFL-era semantics: a completion's
//! value is the mean over the workers that judged it).
//!
//! A result is refused as a whole, with a [`Rejection`] naming why, when it is for another task,
//! has no worker results, names an id this miner was not shown, carries a score outside the
//! criterion's `[min, max]` or a non-finite one, mixes ranks and scores, answers one completion
//! twice in one worker, or leaves a completion unjudged by every worker.

use std::collections::BTreeMap;

use dojo_scoring::{Answer, CompletionMap};
use dojo_types::task::{Answer as WireAnswer, TaskResults};
use dojo_types::{CompletionId, Criterion, TaskId};

use crate::view::MinerView;

/// Why a miner's results were refused. [`Rejection::reason`] is the metrics label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// The results name another task.
    #[error("results are for task {got}, not {want}")]
    WrongTask {
        /// Task asked for.
        want: TaskId,
        /// Task named in the results.
        got: TaskId,
    },
    /// No worker results at all.
    #[error("no worker results")]
    NoResults,
    /// An id the miner was never shown (a copied or made-up answer).
    #[error("completion id {0:?} was not shown to this miner")]
    UnknownCompletion(String),
    /// A score outside the criterion's bounds.
    #[error("score {value} for {completion} is outside [{min}, {max}]")]
    OutOfRange {
        /// The completion (real id).
        completion: CompletionId,
        /// The value given.
        value: f64,
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// NaN or infinite.
    #[error("non-finite score for {0}")]
    NonFinite(CompletionId),
    /// A rank `>= C`.
    #[error("rank {rank} for {completion} is not below {completions}")]
    BadRank {
        /// The completion (real id).
        completion: CompletionId,
        /// The rank given.
        rank: u32,
        /// Number of completions.
        completions: usize,
    },
    /// Text answers, or ranks mixed with scores.
    #[error("answer kind {0} does not fit the criterion")]
    WrongKind(&'static str),
    /// One worker answered the same completion twice.
    #[error("worker {worker:?} answered {completion} twice")]
    DuplicateAnswer {
        /// Worker id.
        worker: String,
        /// The completion (real id).
        completion: CompletionId,
    },
    /// Some completion got no judgement from any worker.
    #[error("completion {0} was left unscored")]
    Unscored(CompletionId),
}

impl Rejection {
    /// Short stable label for metrics and the database.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::WrongTask { .. } => "wrong_task",
            Self::NoResults => "no_results",
            Self::UnknownCompletion(_) => "unknown_completion",
            Self::OutOfRange { .. } => "out_of_range",
            Self::NonFinite(_) => "non_finite",
            Self::BadRank { .. } => "bad_rank",
            Self::WrongKind(_) => "wrong_kind",
            Self::DuplicateAnswer { .. } => "duplicate_answer",
            Self::Unscored(_) => "unscored",
        }
    }
}

/// Score bounds of a task's criterion; ranks-only criteria have none.
pub fn bounds(criteria: &[Criterion]) -> Option<(f64, f64)> {
    criteria.iter().find_map(|c| match c {
        Criterion::Score { min, max } | Criterion::MultiScore { min, max, .. } => {
            Some((*min, *max))
        }
        _ => None,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Scores,
    Ranks,
}

/// Turns one miner's results for `task` into its scoring answer.
///
/// Scores (a `score`, or the mean of a `multi_score`'s values for that completion) become
/// [`Answer::Scores`] of the per-completion worker mean. Ranks become [`Answer::Ranks`]: the
/// completions ordered by mean worker rank (ties by the order the miner was shown), so one worker's
/// permutation passes through unchanged.
pub fn to_answer(
    task: &TaskId,
    results: &TaskResults,
    view: &MinerView,
    bounds: Option<(f64, f64)>,
) -> Result<Answer, Rejection> {
    if &results.task != task {
        return Err(Rejection::WrongTask {
            want: task.clone(),
            got: results.task.clone(),
        });
    }
    if results.results.iter().all(|w| w.answers.is_empty()) {
        return Err(Rejection::NoResults);
    }
    let n = view.len();
    // Per shown position: (sum, count).
    let mut acc = vec![(0.0f64, 0u32); n];
    let mut kind: Option<Kind> = None;
    for worker in &results.results {
        let mut seen = vec![false; n];
        for a in &worker.answers {
            let pos = view
                .shown
                .iter()
                .position(|(m, _)| m == &a.completion)
                .ok_or_else(|| Rejection::UnknownCompletion(a.completion.to_string()))?;
            let real = &view.shown[pos].1;
            if std::mem::replace(&mut seen[pos], true) {
                return Err(Rejection::DuplicateAnswer {
                    worker: worker.worker_id.clone(),
                    completion: real.clone(),
                });
            }
            let (k, v) = match &a.answer {
                WireAnswer::Score(s) => (Kind::Scores, s.get()),
                WireAnswer::MultiScore(m) => {
                    if m.is_empty() {
                        return Err(Rejection::Unscored(real.clone()));
                    }
                    let mut sum = 0.0;
                    for s in m.values() {
                        check_score(real, s.get(), bounds)?;
                        sum += s.get();
                    }
                    (Kind::Scores, sum / m.len() as f64)
                }
                WireAnswer::Rank(r) => {
                    if *r as usize >= n {
                        return Err(Rejection::BadRank {
                            completion: real.clone(),
                            rank: *r,
                            completions: n,
                        });
                    }
                    (Kind::Ranks, f64::from(*r))
                }
                WireAnswer::Text(_) => return Err(Rejection::WrongKind("text")),
            };
            match kind {
                None => kind = Some(k),
                Some(prev) if prev != k => return Err(Rejection::WrongKind("mixed")),
                Some(_) => {}
            }
            if k == Kind::Scores {
                if bounds.is_none() {
                    return Err(Rejection::WrongKind("score"));
                }
                check_score(real, v, bounds)?;
            }
            acc[pos].0 += v;
            acc[pos].1 += 1;
        }
    }
    if let Some(pos) = acc.iter().position(|(_, c)| *c == 0) {
        return Err(Rejection::Unscored(view.shown[pos].1.clone()));
    }
    let means: Vec<f64> = acc.iter().map(|(s, c)| s / f64::from(*c)).collect();
    if let Some(pos) = means.iter().position(|m| !m.is_finite()) {
        return Err(Rejection::NonFinite(view.shown[pos].1.clone()));
    }
    Ok(match kind {
        Some(Kind::Ranks) => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| means[a].total_cmp(&means[b]).then(a.cmp(&b)));
            let ranks: BTreeMap<CompletionId, u32> = order
                .iter()
                .enumerate()
                .map(|(rank, &pos)| (view.shown[pos].1.clone(), rank as u32))
                .collect();
            Answer::Ranks(ranks.into())
        }
        _ => Answer::Scores(
            view.shown
                .iter()
                .zip(means)
                .map(|((_, r), m)| (r.clone(), m))
                .collect::<CompletionMap<f64>>(),
        ),
    })
}

fn check_score(real: &CompletionId, v: f64, bounds: Option<(f64, f64)>) -> Result<(), Rejection> {
    if !v.is_finite() {
        return Err(Rejection::NonFinite(real.clone()));
    }
    if let Some((min, max)) = bounds
        && !(min..=max).contains(&v)
    {
        return Err(Rejection::OutOfRange {
            completion: real.clone(),
            value: v,
            min,
            max,
        });
    }
    Ok(())
}

/// Mechanisms whose miners submitted rankings (Dojo v0). The validator's round asks for scores (the
/// synthetic tasks' criteria), so their answers are turned into the ranking they imply.
pub const RANKING_MECHANISMS: [&str; 1] = ["dojo-v0-consensus"];

/// The ranking a score answer implies: highest score first (rank 0), ties by completion id, so two
/// miners giving equal scores get the same ranking. A ranking answer is returned as it is.
pub fn ranks_from_scores(answer: &Answer) -> Answer {
    let Answer::Scores(scores) = answer else {
        return answer.clone();
    };
    let mut order: Vec<(&CompletionId, f64)> = scores.iter().map(|(c, v)| (c, *v)).collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    Answer::Ranks(
        order
            .into_iter()
            .enumerate()
            .map(|(rank, (c, _))| (c.clone(), u32::try_from(rank).unwrap_or(u32::MAX)))
            .collect(),
    )
}

#[cfg(test)]
mod tests;
