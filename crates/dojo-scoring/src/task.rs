//! Inputs and outputs of scoring: one task, the miners' answers to it, and per-miner scores.

use std::collections::BTreeMap;

use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};

use crate::CompletionMap;
use crate::error::{ResponseError, ScoringError};

/// A miner's answer to a task.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Answer {
    /// A score per completion (score and multi-score criteria).
    Scores(CompletionMap<f64>),
    /// A rank per completion, 0 = best (ranking criterion).
    Ranks(CompletionMap<u32>),
}

/// One miner's response to a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Who answered.
    pub hotkey: Hotkey,
    /// What they answered.
    pub answer: Answer,
}

/// The kind of a vote task (Dojo v2, spec §4.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum VoteKind {
    /// Miner vs miner.
    Pvp,
    /// Miner vs the validator's reference answer.
    Pvv,
    /// One output is deliberately degraded; voting for it is penalised.
    Trap,
}

/// A Dojo v2 vote task: generators produced completions, voters chose one.
#[derive(Debug, Clone, PartialEq)]
pub struct VoteTask {
    /// PvP, PvV or trap.
    pub kind: VoteKind,
    /// Generator hotkey → the completion it produced.
    pub generators: BTreeMap<Hotkey, CompletionId>,
    /// The validator's own completion (PvV).
    pub validator_completion: Option<CompletionId>,
    /// The generator whose output is the trap (trap tasks).
    pub negative_generator: Option<Hotkey>,
    /// Voter hotkey → chosen completion. The last vote per voter wins, so a map.
    pub votes: BTreeMap<Hotkey, CompletionId>,
    /// Hotkeys that were asked to vote (cached `voters:{task}` list); non-voters among them are penalised.
    pub voters: Vec<Hotkey>,
}

/// A human-feedback-loop score-feedback task (spec §4.7).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackTask {
    /// Average score of the selected completion in the parent task (0 when missing).
    pub previous_score: f64,
    /// Completion → hotkey of the miner whose text feedback produced it.
    pub authors: BTreeMap<CompletionId, Hotkey>,
    /// Completion order of the validator; ICC rating vectors follow it.
    pub completion_order: Vec<CompletionId>,
}

/// Everything a mechanism may need about one task. Mechanisms read the fields they need and report
/// [`ScoringError::MissingField`] when one is absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Task id, used in errors.
    pub id: TaskId,
    /// Synthetic ground truth (rank 0 = best), for ground-truth mechanisms.
    pub ground_truth: Option<Ranking>,
    /// The miners' answers.
    pub responses: Vec<Response>,
    /// Vote data for `dojo-v2-votes`.
    pub votes: Option<VoteTask>,
    /// Feedback data for `hfl`.
    pub feedback: Option<FeedbackTask>,
}

impl Task {
    /// A task with only an id and responses.
    pub fn new(id: TaskId, responses: Vec<Response>) -> Self {
        Task {
            id,
            ground_truth: None,
            responses,
            votes: None,
            feedback: None,
        }
    }

    /// Refuses tasks where one hotkey answered twice; which answer should count is not ours to guess.
    pub(crate) fn check_unique_hotkeys(&self) -> Result<(), ScoringError> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.responses {
            if !seen.insert(&r.hotkey) {
                return Err(ScoringError::DuplicateHotkey {
                    task: self.id.clone(),
                    hotkey: r.hotkey.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The result of scoring one task: a score per accepted miner and the reason for every rejected one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskScores {
    /// Per-miner score for this task, in the order the responses were given (hotkeys are unique).
    pub scores: Vec<(Hotkey, f64)>,
    /// Responses left out, and why.
    pub rejected: Vec<(Hotkey, ResponseError)>,
}

impl TaskScores {
    /// The score of one hotkey, if it was scored.
    pub fn get(&self, hotkey: &str) -> Option<f64> {
        self.scores
            .iter()
            .find(|(h, _)| h.as_str() == hotkey)
            .map(|(_, v)| *v)
    }

    /// The scores keyed by hotkey.
    pub fn to_map(&self) -> BTreeMap<Hotkey, f64> {
        self.scores.iter().cloned().collect()
    }
}

/// Where each completion of a task goes in a row: built once per task so that laying out each
/// response is one pass over its (sorted) answer map.
pub(crate) struct Layout<'a> {
    /// Completion ids in canonical order.
    order: Vec<&'a CompletionId>,
    /// `(id, position in order)`, sorted by id like the answer maps.
    by_id: Vec<(&'a CompletionId, usize)>,
}

impl<'a> Layout<'a> {
    pub(crate) fn new(order: Vec<&'a CompletionId>) -> Self {
        let mut by_id: Vec<(&CompletionId, usize)> =
            order.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        by_id.sort_unstable_by(|a, b| a.0.cmp(b.0));
        Layout { order, by_id }
    }

    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn order(&self) -> &[&'a CompletionId] {
        &self.order
    }

    /// Writes the response's scores, in canonical order, into `out` (length `len()`).
    pub(crate) fn scores_into(
        &self,
        answer: &Answer,
        mechanism: &'static str,
        out: &mut [f64],
    ) -> Result<(), ResponseError> {
        let Answer::Scores(map) = answer else {
            return Err(ResponseError::WrongAnswerKind {
                mechanism,
                expected: "scores",
            });
        };
        if map.len() == self.by_id.len() {
            let mut ok = true;
            for ((k, v), (cid, pos)) in map.iter().zip(&self.by_id) {
                if !(k.ptr_eq(cid) || k == *cid) {
                    ok = false;
                    break;
                }
                if !v.is_finite() {
                    return Err(ResponseError::NonFiniteScore {
                        completion: k.clone(),
                    });
                }
                out[*pos] = *v;
            }
            if ok {
                return Ok(());
            }
        }
        // Slow path: find out exactly what is wrong.
        self.check_known(map.keys())?;
        for (cid, pos) in &self.by_id {
            match map.get(cid.as_str()) {
                Some(v) if v.is_finite() => out[*pos] = *v,
                Some(_) => {
                    return Err(ResponseError::NonFiniteScore {
                        completion: (*cid).clone(),
                    });
                }
                None => return Err(ResponseError::MissingCompletion((*cid).clone())),
            }
        }
        Ok(())
    }

    /// The response's scores in canonical order.
    pub(crate) fn scores(
        &self,
        answer: &Answer,
        mechanism: &'static str,
    ) -> Result<Vec<f64>, ResponseError> {
        let mut v = vec![0.0; self.len()];
        self.scores_into(answer, mechanism, &mut v)?;
        Ok(v)
    }

    /// The response's ranks in canonical order, checked to be a permutation of `0..C`.
    pub(crate) fn ranks(
        &self,
        answer: &Answer,
        mechanism: &'static str,
    ) -> Result<Vec<u32>, ResponseError> {
        let Answer::Ranks(map) = answer else {
            return Err(ResponseError::WrongAnswerKind {
                mechanism,
                expected: "ranks",
            });
        };
        self.check_known(map.keys())?;
        let ranks: Vec<u32> = self
            .order
            .iter()
            .map(|cid| {
                map.get(cid.as_str())
                    .copied()
                    .ok_or_else(|| ResponseError::MissingCompletion((*cid).clone()))
            })
            .collect::<Result<_, _>>()?;
        let mut seen = vec![false; ranks.len()];
        for &r in &ranks {
            match seen.get_mut(r as usize) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(ResponseError::BadRanks {
                        completions: ranks.len(),
                    });
                }
            }
        }
        Ok(ranks)
    }

    fn check_known<'b>(
        &self,
        keys: impl Iterator<Item = &'b CompletionId>,
    ) -> Result<(), ResponseError> {
        for k in keys {
            if self.by_id.binary_search_by(|(c, _)| (*c).cmp(k)).is_err() {
                return Err(ResponseError::UnknownCompletion(k.clone()));
            }
        }
        Ok(())
    }
}
