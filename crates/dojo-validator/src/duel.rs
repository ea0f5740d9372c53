//! Dojo v2 round planning (spec §2.5) and the bridge from a v2 task's outcomes to
//! `dojo-scoring`'s [`VoteTask`] (spec §4.10). Pure functions: no I/O, no store; the service's
//! v2 round (`service::v2`) sends these plans over the signed dendrite and stores each phase.

use std::collections::{BTreeMap, BTreeSet};

use dojo_scoring::{VoteKind, VoteTask};
use dojo_types::{CompletionId, Hotkey};
use rand::Rng;
use rand::seq::SliceRandom;

/// Chance (in percent) that a task is a duel against the validator's own completion (Go v2: 20).
pub const DUEL_PERCENT: u32 = 20;
/// Chance (in percent) that a task is a trap (Go v2: 20 since 2025-10-14, 25 before).
pub const TRAP_PERCENT: u32 = 20;

/// One planned v2 task: who generates, and against what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pairing {
    /// PvP (two miners), PvV (a miner against the validator's reference) or trap.
    pub kind: VoteKind,
    /// Generator miners: two for PvP and a non-duel trap, one for a duel.
    pub generators: Vec<Hotkey>,
    /// Whether the validator supplies one of the two completions.
    pub duel: bool,
    /// The generator whose output is the trap. For a duel trap this is the validator (its
    /// completion is the degraded answer); otherwise one of `generators`, which is sent the
    /// augmented prompt instead of the base prompt.
    pub negative_generator: Option<Hotkey>,
}

/// Plans one round: every miner in `miners` is a generator exactly once. Per task, `duel` and
/// `trap` are drawn independently (`rand[0,100) < percent`, as the Go validator does); a duel takes
/// one miner, otherwise two distinct ones picked uniformly. A lone last miner is made a duel,
/// because there is no second miner to pair it with.
pub fn plan(
    miners: &[Hotkey],
    validator: &Hotkey,
    duel_percent: u32,
    trap_percent: u32,
    rng: &mut impl Rng,
) -> Vec<Pairing> {
    let mut left: Vec<Hotkey> = miners
        .iter()
        .filter(|h| *h != validator)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    left.shuffle(rng);
    let mut out = Vec::new();
    while !left.is_empty() {
        let duel = rng.random_range(0..100) < duel_percent || left.len() == 1;
        let trap = rng.random_range(0..100) < trap_percent;
        let take = if duel { 1 } else { 2 };
        let generators: Vec<Hotkey> = left.split_off(left.len() - take);
        let negative_generator = match (trap, duel) {
            (false, _) => None,
            (true, true) => Some(validator.clone()),
            (true, false) => Some(generators[rng.random_range(0..generators.len())].clone()),
        };
        let kind = match (trap, duel) {
            (true, _) => VoteKind::Trap,
            (false, true) => VoteKind::Pvv,
            (false, false) => VoteKind::Pvp,
        };
        out.push(Pairing {
            kind,
            generators,
            duel,
            negative_generator,
        });
    }
    out
}

/// Why a v2 task cannot be voted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoidTask {
    /// Fewer than two completions came back (a generator did not deliver).
    #[error("only {0} completion(s); a vote needs two")]
    TooFewCompletions(usize),
}

/// The completions a task's voters are shown: each delivered generator's, plus the validator's for
/// a duel. `delivered` maps generator hotkey to the validator's opaque id for its completion.
pub fn candidates(
    pairing: &Pairing,
    delivered: &BTreeMap<Hotkey, CompletionId>,
    validator_completion: Option<&CompletionId>,
) -> Result<Vec<CompletionId>, VoidTask> {
    let mut c: Vec<CompletionId> = pairing
        .generators
        .iter()
        .filter_map(|g| delivered.get(g).cloned())
        .collect();
    if pairing.duel {
        c.extend(validator_completion.cloned());
    }
    if c.len() < 2 {
        return Err(VoidTask::TooFewCompletions(c.len()));
    }
    Ok(c)
}

/// The scoring input of one finished v2 task. Votes for ids that are not candidates are dropped
/// (a miner cannot vote for something it was not shown); `voters` are the hotkeys asked to vote,
/// whose silence the mechanism penalises.
pub fn to_vote_task(
    pairing: &Pairing,
    validator: &Hotkey,
    delivered: &BTreeMap<Hotkey, CompletionId>,
    validator_completion: Option<&CompletionId>,
    votes: &BTreeMap<Hotkey, CompletionId>,
    voters: &[Hotkey],
) -> Result<VoteTask, VoidTask> {
    let shown: BTreeSet<CompletionId> = candidates(pairing, delivered, validator_completion)?
        .into_iter()
        .collect();
    let mut generators: BTreeMap<Hotkey, CompletionId> = pairing
        .generators
        .iter()
        .filter_map(|g| Some((g.clone(), delivered.get(g)?.clone())))
        .collect();
    // In a duel trap the validator's degraded answer is the negative output: the mechanism finds
    // trap outputs through the generator map, so the validator is listed there (it is never paid:
    // trap generators all score 0 and the validator is not a miner).
    if pairing.kind == VoteKind::Trap
        && pairing.duel
        && let Some(c) = validator_completion
    {
        generators.insert(validator.clone(), c.clone());
    }
    Ok(VoteTask {
        kind: pairing.kind,
        generators,
        validator_completion: (pairing.kind == VoteKind::Pvv)
            .then(|| validator_completion.cloned())
            .flatten(),
        negative_generator: pairing.negative_generator.clone(),
        votes: votes
            .iter()
            .filter(|(_, c)| shown.contains(*c))
            .map(|(h, c)| (h.clone(), c.clone()))
            .collect(),
        voters: voters.to_vec(),
    })
}

#[cfg(test)]
mod tests;
