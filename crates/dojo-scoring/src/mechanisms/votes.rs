//! `dojo-v2-votes`: Dojo v2 pairwise vote scoring (spec §4.10). Generators produce outputs, voters
//! (discriminators) pick one. PvP rewards voters for voting and generators for the votes they get; PvV
//! rewards voters that pick the validator's reference; trap tasks penalise voters that pick the degraded
//! output. Assigned voters that did not vote share a fixed penalty. Scores are summed over the window.

use std::collections::{BTreeMap, BTreeSet};

use dojo_types::{CompletionId, Hotkey};

use crate::error::ScoringError;
use crate::mechanism::{Aggregation, Mechanism};
use crate::task::{Task, TaskScores, VoteKind};

/// Parameters of [`Votes`]; defaults are the last production values (2025-10-24).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct VotesParams {
    /// Score of a voter that picks the trap output (−0.4; it was −1.0 and then −0.5).
    pub trap_penalty: f64,
    /// Total penalty shared by the assigned voters that did not vote (−4.0).
    pub no_vote_penalty_total: f64,
    /// Hotkeys of currently active miners; only they can receive the no-vote penalty. `None` treats
    /// every assigned voter as active.
    pub active_hotkeys: Option<BTreeSet<Hotkey>>,
}

impl Default for VotesParams {
    fn default() -> Self {
        Self {
            trap_penalty: -0.4,
            no_vote_penalty_total: -4.0,
            active_hotkeys: None,
        }
    }
}

/// The v2 vote mechanism.
///
/// ```
/// use dojo_scoring::{Mechanism, Task, VoteKind, VoteTask, Votes};
/// use dojo_types::{CompletionId, Hotkey, TaskId};
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let h = |s: &str| Hotkey::new(s).unwrap();
/// let mut task = Task::new(TaskId::new("t").unwrap(), vec![]);
/// task.votes = Some(VoteTask {
///     kind: VoteKind::Pvp,
///     generators: [(h("g1"), c("a")), (h("g2"), c("b"))].into(),
///     validator_completion: None,
///     negative_generator: None,
///     votes: [(h("v1"), c("a")), (h("v2"), c("a"))].into(),
///     voters: vec![h("v1"), h("v2"), h("v3")],
/// });
/// let s = Votes::default().score_task(&task).unwrap().to_map();
/// assert_eq!((s["g1"], s["g2"], s["v1"], s["v3"]), (1.0, 0.0, 0.5, -4.0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Votes {
    params: VotesParams,
}

impl Votes {
    /// Registry name.
    pub const NAME: &'static str = "dojo-v2-votes";

    /// With explicit parameters (checked).
    pub fn new(params: VotesParams) -> Result<Self, ScoringError> {
        if !params.trap_penalty.is_finite() || !params.no_vote_penalty_total.is_finite() {
            return Err(ScoringError::InvalidParam {
                name: "penalties",
                reason: "must be finite".into(),
            });
        }
        Ok(Self { params })
    }
}

impl Mechanism for Votes {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn aggregation(&self) -> Aggregation {
        Aggregation::Sum
    }

    fn score_task(&self, task: &Task) -> Result<TaskScores, ScoringError> {
        let v = task
            .votes
            .as_ref()
            .ok_or_else(|| ScoringError::MissingField {
                task: task.id.clone(),
                mechanism: Self::NAME,
                field: "votes",
            })?;
        let invalid = |reason: &str| ScoringError::InvalidTask {
            task: task.id.clone(),
            reason: reason.to_owned(),
        };
        let mut scores: BTreeMap<Hotkey, f64> = BTreeMap::new();
        if v.votes.is_empty() {
            return Ok(TaskScores::default());
        }
        let d = v.votes.len() as f64;
        let mut counts: BTreeMap<&CompletionId, u32> = BTreeMap::new();
        for choice in v.votes.values() {
            *counts.entry(choice).or_insert(0) += 1;
        }
        let votes_for = |cid: &CompletionId| f64::from(counts.get(cid).copied().unwrap_or(0));
        // The original assigns voters first and generators after, so a hotkey in both roles keeps
        // its generator score.
        match v.kind {
            VoteKind::Pvp => {
                if v.validator_completion.is_some() {
                    return Err(invalid("a pvp task must not carry validator_completion"));
                }
                for voter in v.votes.keys() {
                    scores.insert(voter.clone(), 1.0 / d);
                }
                for (g, cid) in &v.generators {
                    scores.insert(g.clone(), votes_for(cid) / d);
                }
            }
            VoteKind::Pvv => {
                let reference = v
                    .validator_completion
                    .as_ref()
                    .ok_or_else(|| invalid("a pvv task needs validator_completion"))?;
                for (voter, choice) in &v.votes {
                    scores.insert(
                        voter.clone(),
                        if choice == reference { 1.0 / d } else { 0.0 },
                    );
                }
                for (g, cid) in &v.generators {
                    scores.insert(g.clone(), votes_for(cid) / d);
                }
            }
            VoteKind::Trap => {
                let negative = v
                    .negative_generator
                    .as_ref()
                    .ok_or_else(|| invalid("a trap task needs negative_generator"))?;
                let trap_outputs: BTreeSet<&CompletionId> = v
                    .generators
                    .iter()
                    .filter(|(g, _)| *g == negative)
                    .map(|(_, c)| c)
                    .collect();
                for (voter, choice) in &v.votes {
                    let s = if trap_outputs.contains(choice) {
                        self.params.trap_penalty
                    } else {
                        0.0
                    };
                    scores.insert(voter.clone(), s);
                }
                for g in v.generators.keys() {
                    scores.insert(g.clone(), 0.0);
                }
            }
        }
        let mut seen = BTreeSet::new();
        let non_voters: Vec<&Hotkey> = v
            .voters
            .iter()
            .filter(|h| seen.insert(*h))
            .filter(|h| !scores.contains_key(*h))
            .filter(|h| {
                self.params
                    .active_hotkeys
                    .as_ref()
                    .is_none_or(|a| a.contains(*h))
            })
            .collect();
        if !non_voters.is_empty() {
            let penalty = self.params.no_vote_penalty_total / non_voters.len() as f64;
            for h in non_voters {
                scores.insert(h.clone(), penalty);
            }
        }
        Ok(TaskScores {
            scores: scores.into_iter().collect(),
            rejected: Vec::new(),
        })
    }
}
