//! When and how to put weights on chain (chain spec §3), as a pure function of chain state.
//!
//! The chain accepts a weight set (or a commit) once `now - last_update >= weights_rate_limit`
//! (or when `last_update == 0`); with commit-reveal v2 on, the commit must be revealed in exactly
//! the epoch `commit_epoch + reveal_period` ([`dojo_types::chain::reveal_window`]). The scheduler
//! decides from that arithmetic and never submits inside the rate limit, so a
//! `SettingWeightsTooFast` from the chain is a bug signal, not a retry loop.

use dojo_scoring::WeightError;
use dojo_scoring::weights::{
    WeightLimits, convert_weights_and_uids_for_emit, l1_normalize, process_weights_for_netuid,
};
use dojo_types::Hotkey;
use dojo_types::chain::{ChainError, Hyperparams, MetagraphSnapshot, Netuid, reveal_window};

/// The hyperparameters that govern weight setting, read before every decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightParams {
    /// Subnet.
    pub netuid: Netuid,
    /// `tempo`.
    pub tempo: u16,
    /// `weights_rate_limit`, blocks.
    pub rate_limit: u64,
    /// `weights_version`: the smallest version key the chain accepts (0 = any).
    pub required_version: u64,
    /// `min_allowed_weights`.
    pub min_allowed_weights: u16,
    /// `max_weights_limit`.
    pub max_weights_limit: u16,
    /// `commit_reveal_weights_enabled`.
    pub commit_reveal: bool,
    /// `commit_reveal_period`, epochs.
    pub reveal_period: u64,
}

impl WeightParams {
    /// Reads them by their subtensor names.
    pub fn from_hyperparams(netuid: Netuid, hp: &Hyperparams) -> Result<Self, ChainError> {
        let u16_of = |name: &str| -> Result<u16, ChainError> {
            u16::try_from(hp.u64(name)?).map_err(|_| ChainError::InvalidHyperparam(name.into()))
        };
        Ok(Self {
            netuid,
            tempo: u16_of("tempo")?,
            rate_limit: hp.u64("weights_rate_limit")?,
            required_version: hp.u64("weights_version")?,
            min_allowed_weights: u16_of("min_allowed_weights")?,
            max_weights_limit: u16_of("max_weights_limit")?,
            commit_reveal: hp.flag("commit_reveal_weights_enabled")?,
            reveal_period: hp.u64("commit_reveal_period").unwrap_or(1),
        })
    }
}

/// This validator's row of the metagraph, as far as weights care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Me {
    /// Its uid, if registered.
    pub uid: Option<u16>,
    /// Validator permit.
    pub permit: bool,
    /// `LastUpdate` of its uid.
    pub last_update: u64,
}

impl Me {
    /// Finds `hotkey` in `metagraph`.
    pub fn find(metagraph: &MetagraphSnapshot, hotkey: &Hotkey) -> Self {
        match metagraph.neurons.iter().find(|n| &n.hotkey == hotkey) {
            Some(n) => Me {
                uid: Some(n.uid.0),
                permit: n.validator_permit,
                last_update: n.last_update,
            },
            None => Me {
                uid: None,
                permit: false,
                last_update: 0,
            },
        }
    }
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The hotkey has no uid: register first.
    NotRegistered,
    /// No validator permit yet (new validators get one after an epoch): wait.
    NoPermit,
    /// Our version key is below the chain's `weights_version`: upgrade; submitting would fail.
    VersionTooOld {
        /// Ours.
        ours: u64,
        /// The chain's.
        required: u64,
    },
    /// Nothing to do before this block.
    WaitUntil(u64),
    /// `set_weights` now (commit-reveal off).
    Set,
    /// `commit_weights` now (commit-reveal on, nothing pending).
    Commit,
    /// Reveal the pending commit now: the block is inside its window.
    Reveal,
    /// The pending commit's window has passed: it can never be revealed.
    Expired,
}

/// Decides at `block`. `pending_commit` is the block of an unrevealed commit of ours, if any;
/// while one is pending no new commit is made.
pub fn decide(
    p: &WeightParams,
    me: &Me,
    version_key: u64,
    block: u64,
    pending_commit: Option<u64>,
) -> Decision {
    if p.required_version != 0 && version_key < p.required_version {
        return Decision::VersionTooOld {
            ours: version_key,
            required: p.required_version,
        };
    }
    if let Some(commit_block) = pending_commit {
        if !p.commit_reveal {
            // Commit-reveal was switched off: the commit is dead; set weights the plain way.
            return Decision::Expired;
        }
        let (first, last) = reveal_window(p.netuid, p.tempo, commit_block, p.reveal_period);
        return if block < first {
            Decision::WaitUntil(first)
        } else if block <= last {
            Decision::Reveal
        } else {
            Decision::Expired
        };
    }
    let Some(_) = me.uid else {
        return Decision::NotRegistered;
    };
    if !me.permit {
        return Decision::NoPermit;
    }
    if me.last_update != 0 {
        let next = me.last_update.saturating_add(p.rate_limit);
        if block < next {
            return Decision::WaitUntil(next);
        }
    }
    if p.commit_reveal {
        Decision::Commit
    } else {
        Decision::Set
    }
}

/// Scores by uid → `(uids, u16 weights)` the way Dojo's Python did (spec §4.6): L1-normalise,
/// `process_weights_for_netuid` with the chain limits, then `convert_weights_and_uids_for_emit`.
/// All-zero scores give bittensor's uniform weights.
pub fn weights_for(scores: &[f64], p: &WeightParams) -> Result<(Vec<u16>, Vec<u16>), WeightError> {
    let clamped: Vec<f64> = scores.iter().map(|s| s.max(0.0)).collect();
    let w = l1_normalize(&clamped)?;
    let (uids, w) = process_weights_for_netuid(
        &w,
        WeightLimits {
            min_allowed_weights: p.min_allowed_weights,
            max_weight_limit: p.max_weights_limit,
        },
        0,
    )?;
    convert_weights_and_uids_for_emit(&uids, &w)
}

#[cfg(test)]
mod tests;
