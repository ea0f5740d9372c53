//! Inputs and outputs of scoring: one task, the miners' answers to it, and per-miner scores.

use std::collections::BTreeMap;

use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};

use crate::error::{ResponseError, ScoringError};

/// A miner's answer to a task.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "lowercase"))]
pub enum Answer {
    /// A score per completion (score and multi-score criteria).
    Scores(BTreeMap<CompletionId, f64>),
    /// A rank per completion, 0 = best (ranking criterion).
    Ranks(BTreeMap<CompletionId, u32>),
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(rename_all = "lowercase"))]
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
        Task { id, ground_truth: None, responses, votes: None, feedback: None }
    }

    /// Refuses tasks where one hotkey answered twice; which answer should count is not ours to guess.
    pub(crate) fn check_unique_hotkeys(&self) -> Result<(), ScoringError> {
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.responses {
            if !seen.insert(&r.hotkey) {
                return Err(ScoringError::DuplicateHotkey { task: self.id.clone(), hotkey: r.hotkey.clone() });
            }
        }
        Ok(())
    }
}

/// The result of scoring one task: a score per accepted miner and the reason for every rejected one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskScores {
    /// Per-miner score for this task.
    pub scores: BTreeMap<Hotkey, f64>,
    /// Responses left out, and why.
    pub rejected: Vec<(Hotkey, ResponseError)>,
}

/// Scores of a response laid out in a fixed completion order, after validation.
pub(crate) fn scores_in_order(
    answer: &Answer,
    order: &[&CompletionId],
    mechanism: &'static str,
) -> Result<Vec<f64>, ResponseError> {
    let Answer::Scores(map) = answer else {
        return Err(ResponseError::WrongAnswerKind { mechanism, expected: "scores" });
    };
    check_known(map.keys(), order)?;
    order
        .iter()
        .map(|cid| match map.get(*cid) {
            Some(v) if v.is_finite() => Ok(*v),
            Some(_) => Err(ResponseError::NonFiniteScore { completion: (*cid).clone() }),
            None => Err(ResponseError::MissingCompletion((*cid).clone())),
        })
        .collect()
}

/// Ranks of a response in a fixed completion order, checked to be a permutation of `0..C`.
pub(crate) fn ranks_in_order(
    answer: &Answer,
    order: &[&CompletionId],
    mechanism: &'static str,
) -> Result<Vec<u32>, ResponseError> {
    let Answer::Ranks(map) = answer else {
        return Err(ResponseError::WrongAnswerKind { mechanism, expected: "ranks" });
    };
    check_known(map.keys(), order)?;
    let ranks: Vec<u32> = order
        .iter()
        .map(|cid| map.get(*cid).copied().ok_or_else(|| ResponseError::MissingCompletion((*cid).clone())))
        .collect::<Result<_, _>>()?;
    let mut seen = vec![false; ranks.len()];
    for &r in &ranks {
        match seen.get_mut(r as usize) {
            Some(s) if !*s => *s = true,
            _ => return Err(ResponseError::BadRanks { completions: ranks.len() }),
        }
    }
    Ok(ranks)
}

fn check_known<'a>(
    keys: impl Iterator<Item = &'a CompletionId>,
    order: &[&CompletionId],
) -> Result<(), ResponseError> {
    for k in keys {
        if !order.contains(&k) {
            return Err(ResponseError::UnknownCompletion(k.clone()));
        }
    }
    Ok(())
}
