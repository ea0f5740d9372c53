//! The Yuma epoch, sparse, in subtensor's fixed-point semantics (spec chain-and-wire.md §4.4–4.6).
//!
//! [`run_epoch`] is a pure function from an [`EpochInput`] snapshot to an [`EpochOutput`]; the devnet
//! feeds it from its state and `dojo-devnet epoch --input FILE` feeds it from JSON. The control flow
//! follows subtensor `epoch_mechanism` (run_epoch.rs @14bc6f9f) step by step.

pub(crate) mod math;

use serde::{Deserialize, Serialize};
use substrate_fixed::types::{I32F32, I64F64, I96F32};

use math::*;
pub use math::{check_vec_max_limited, vec_u16_max_upscale_to_u16};

/// One neuron's inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochNeuron {
    /// Epoch stake (alpha + tao × tao_weight), rao.
    pub stake: u64,
    /// `LastUpdate`.
    pub last_update: u64,
    /// `BlockAtRegistration`.
    pub block_at_registration: u64,
    /// Validator permit from the previous epoch.
    pub validator_permit: bool,
    /// Weights row as stored (`(uid, u16)`, max-upscaled on chain).
    #[serde(default)]
    pub weights: Vec<(u16, u16)>,
    /// Bonds row as stored.
    #[serde(default)]
    pub bonds: Vec<(u16, u16)>,
    /// Block of this validator's earliest unexpired weight commit, for commit-reveal column masking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_block: Option<u64>,
}

/// A subnet snapshot: everything one epoch reads (the `yuma-epoch` JSON input format).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochInput {
    /// Current block.
    pub block: u64,
    /// Tempo (used for `last_tempo` bookkeeping by callers; kept for the record).
    pub tempo: u64,
    /// Blocks after which a neuron without a weight update is inactive.
    pub activity_cutoff: u64,
    /// Consensus majority, `u16` proportion (32767 ≈ 0.5).
    pub kappa: u16,
    /// Bonds penalty, `u16` proportion.
    pub bonds_penalty: u16,
    /// Bonds moving average, parts per million (900_000 → α = 0.1).
    pub bonds_moving_average: u64,
    /// Yuma3 bonds.
    pub yuma3: bool,
    /// Liquid alpha (Yuma3 only).
    pub liquid_alpha: bool,
    /// Liquid alpha lower bound, `u16` proportion.
    pub alpha_low: u16,
    /// Liquid alpha upper bound, `u16` proportion.
    pub alpha_high: u16,
    /// Liquid alpha sigmoid steepness.
    pub alpha_sigmoid_steepness: i16,
    /// Validator permits go to the top-k stakes.
    pub max_allowed_validators: u16,
    /// Stake below this (rao) counts as zero, except for the owner.
    pub stake_threshold: u64,
    /// UID of the subnet owner's hotkey, if registered.
    pub owner_uid: Option<u16>,
    /// Emission to distribute, rao.
    pub rao_emission: u64,
    /// First block of the current tempo: bonds to UIDs registered at or after it are dropped.
    pub last_tempo: u64,
    /// Commit-reveal on: weights from validators with an active commit older than the target's
    /// registration are masked.
    #[serde(default)]
    pub commit_reveal: bool,
    /// Neurons in UID order.
    pub neurons: Vec<EpochNeuron>,
}

/// What an epoch writes back (the `yuma-epoch` JSON output format).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochOutput {
    /// `Active`.
    pub active: Vec<bool>,
    /// New `ValidatorPermit`.
    pub validator_permit: Vec<bool>,
    /// `Consensus`.
    pub consensus: Vec<u16>,
    /// `Incentive`.
    pub incentive: Vec<u16>,
    /// `Dividends`.
    pub dividends: Vec<u16>,
    /// `ValidatorTrust`.
    pub validator_trust: Vec<u16>,
    /// `StakeWeight` (normalised stake).
    pub stake_weight: Vec<u16>,
    /// `Emission`: combined normalised (I + D) share of `rao_emission`.
    pub emission: Vec<u64>,
    /// Miner share of `rao_emission`.
    pub server_emission: Vec<u64>,
    /// Validator share of `rao_emission`.
    pub validator_emission: Vec<u64>,
    /// New `Bonds` rows (empty for UIDs without the new permit).
    pub bonds: Vec<Vec<(u16, u16)>>,
}

/// Snapshots the epoch refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    /// More neurons than `u16` UIDs.
    #[error("{0} neurons: a subnet has at most 65535 UIDs")]
    TooManyNeurons(usize),
    /// `owner_uid` is not a neuron.
    #[error("owner_uid {owner} is out of range for {n} neurons")]
    OwnerOutOfRange {
        /// The owner uid given.
        owner: u16,
        /// Number of neurons.
        n: usize,
    },
    /// The stakes do not fit the chain's I64F64 stake sum.
    #[error("total stake overflows (sum of stakes must stay below 2^63 rao)")]
    StakeOverflow,
    /// The JSON snapshot does not parse (NaN, negative numbers, missing fields...).
    #[error("bad epoch snapshot: {0}")]
    Parse(String),
}

impl EpochInput {
    /// Parses the JSON snapshot format of `docs/yuma-epoch.md`.
    pub fn from_json(s: &str) -> Result<Self, EpochError> {
        serde_json::from_str(s).map_err(|e| EpochError::Parse(e.to_string()))
    }
}

fn to_sparse<'a>(
    rows: impl Iterator<Item = &'a [(u16, u16)]>,
    n: usize,
    conv: impl Fn(u16) -> I32F32,
) -> Vec<SparseRow> {
    rows.map(|r| {
        r.iter()
            .filter(|(j, _)| (*j as usize) < n)
            .map(|&(j, v)| (j, conv(v)))
            .collect()
    })
    .collect()
}

fn fixed_u16(x: &[I32F32]) -> Vec<u16> {
    x.iter().map(|v| fixed_proportion_to_u16(*v)).collect()
}

/// Runs one Yuma epoch on a snapshot.
pub fn run_epoch(input: &EpochInput) -> Result<EpochOutput, EpochError> {
    let n_usize = input.neurons.len();
    let n = u16::try_from(n_usize).map_err(|_| EpochError::TooManyNeurons(n_usize))?;
    if let Some(owner) = input.owner_uid
        && owner as usize >= n_usize
    {
        return Err(EpochError::OwnerOutOfRange { owner, n: n_usize });
    }
    let total: u128 = input.neurons.iter().map(|x| u128::from(x.stake)).sum();
    if total >= 1u128 << 63 {
        return Err(EpochError::StakeOverflow);
    }
    let neurons = &input.neurons;
    let block = input.block;

    // Active & updated.
    let last_update: Vec<u64> = neurons.iter().map(|x| x.last_update).collect();
    let inactive: Vec<bool> = last_update
        .iter()
        .map(|u| u.saturating_add(input.activity_cutoff) < block)
        .collect();
    let active: Vec<bool> = inactive.iter().map(|b| !b).collect();
    let block_at_registration: Vec<u64> = neurons.iter().map(|x| x.block_at_registration).collect();

    // Stake.
    let owner_uid = input.owner_uid;
    let mut filtered: Vec<I64F64> = neurons
        .iter()
        .enumerate()
        .map(|(uid, x)| {
            if owner_uid != Some(uid as u16) && x.stake < input.stake_threshold {
                I64F64::from_num(0)
            } else {
                I64F64::from_num(x.stake)
            }
        })
        .collect();
    inplace_normalize_64(&mut filtered);
    let stake: Vec<I32F32> = filtered
        .into_iter()
        .map(I32F32::saturating_from_num)
        .collect();

    // Validator permits.
    let mut validator_permits: Vec<bool> = neurons.iter().map(|x| x.validator_permit).collect();
    if let Some(o) = owner_uid {
        validator_permits[o as usize] = true;
    }
    let validator_forbids: Vec<bool> = validator_permits.iter().map(|b| !b).collect();
    let mut new_permits = is_topk_nonzero(&stake, input.max_allowed_validators as usize);
    if let Some(o) = owner_uid {
        new_permits[o as usize] = true;
    }

    // Active stake.
    let mut active_stake = stake.clone();
    inplace_mask_vector(&inactive, &mut active_stake);
    inplace_mask_vector(&validator_forbids, &mut active_stake);
    inplace_normalize(&mut active_stake);

    // Weights: subtensor's masks (rows of validators without a permit, the diagonal except the
    // owner's, weights set before a target registered, and under commit-reveal weights committed
    // before it registered) each drop entries and keep the order, so one filter applies them all.
    let commit_blocks: Option<Vec<u64>> = input.commit_reveal.then(|| {
        neurons
            .iter()
            .map(|x| x.commit_block.unwrap_or(u64::MAX))
            .collect()
    });
    let mut weights: Vec<SparseRow> = neurons
        .iter()
        .enumerate()
        .map(|(i, x)| {
            if validator_forbids[i] {
                return Vec::new();
            }
            let keep_diag = owner_uid.is_some_and(|o| o as usize == i);
            let updated = last_update[i];
            let committed = commit_blocks.as_ref().map(|c| c[i]);
            x.weights
                .iter()
                .filter(|&&(j, _)| {
                    let j = j as usize;
                    j < n_usize
                        && (i != j || keep_diag)
                        && updated > block_at_registration[j]
                        && committed.is_none_or(|c| c >= block_at_registration[j])
                })
                .map(|&(j, v)| (j, fixed_from_u16(v)))
                .collect()
        })
        .collect();
    inplace_row_normalize_sparse(&mut weights);

    // Consensus, validator trust.
    let kappa =
        I32F32::saturating_from_num(input.kappa).safe_div(I32F32::saturating_from_num(u16::MAX));
    let consensus = weighted_median_col_sparse(&active_stake, &weights, n, kappa);
    let clipped = col_clip_sparse(&weights, &consensus);
    let validator_trust = row_sum_sparse(&clipped);

    // Incentive.
    let mut ranks = matmul_sparse(&clipped, &active_stake, n);
    inplace_normalize(&mut ranks);
    let incentive = ranks;

    // Bonds and dividends.
    let bonds_penalty = I32F32::saturating_from_num(input.bonds_penalty)
        .safe_div(I32F32::saturating_from_num(u16::MAX));
    let weights_for_bonds = interpolate_sparse(weights, clipped, n, bonds_penalty);
    let mut dividends: Vec<I32F32>;
    let mut ema_bonds: Vec<SparseRow>;
    let raw_bonds = neurons.iter().map(|x| x.bonds.as_slice());
    if input.yuma3 {
        let mut bonds = to_sparse(raw_bonds, usize::from(u16::MAX) + 1, |v| {
            fixed_to_fixed_u16_proportion(fixed_from_u16(v))
        });
        inplace_scalar_vec_mask_sparse_matrix(
            &mut bonds,
            input.last_tempo,
            &block_at_registration,
            |t, r| t <= r,
        );
        ema_bonds = yuma3_ema(input, &weights_for_bonds, &bonds, &consensus);
        let per_validator = col_normalized_row_dot(&ema_bonds, n, &incentive);
        dividends = vec_mul(&per_validator, &active_stake);
        inplace_normalize(&mut dividends);
    } else {
        let mut bonds = to_sparse(raw_bonds, usize::from(u16::MAX) + 1, fixed_from_u16);
        inplace_scalar_vec_mask_sparse_matrix(
            &mut bonds,
            input.last_tempo,
            &block_at_registration,
            |t, r| t <= r,
        );
        inplace_col_normalize_sparse(&mut bonds, n);
        let mut delta = weights_for_bonds;
        inplace_row_hadamard_sparse(&mut delta, &active_stake);
        inplace_col_normalize_sparse(&mut delta, n);
        let bma = I64F64::saturating_from_num(input.bonds_moving_average)
            .safe_div(I64F64::saturating_from_num(1_000_000));
        let alpha = I32F32::saturating_from_num(1).saturating_sub(I32F32::saturating_from_num(bma));
        ema_bonds = mat_ema_sparse(&delta, &bonds, alpha);
        inplace_col_normalize_sparse(&mut ema_bonds, n);
        dividends = matmul_transpose_sparse(&ema_bonds, &incentive);
        inplace_normalize(&mut dividends);
        inplace_col_max_upscale_sparse(&mut ema_bonds, n);
    }

    // Emission.
    let combined: Vec<I32F32> = incentive
        .iter()
        .zip(&dividends)
        .map(|(i, d)| i.saturating_add(*d))
        .collect();
    let emission_sum = sum(&combined);
    let mut norm_server = incentive.clone();
    let mut norm_validator = dividends.clone();
    let mut norm_combined = combined;
    inplace_normalize_using_sum(&mut norm_server, emission_sum);
    inplace_normalize_using_sum(&mut norm_validator, emission_sum);
    inplace_normalize(&mut norm_combined);
    if emission_sum == zero() {
        let fallback = if is_zero(&active_stake) {
            &stake
        } else {
            &active_stake
        };
        norm_validator.clone_from(fallback);
        norm_combined.clone_from(fallback);
    }
    let rao = I96F32::saturating_from_num(input.rao_emission);
    let to_rao = |v: &[I32F32]| -> Vec<u64> {
        v.iter()
            .map(|x| {
                I96F32::saturating_from_num(*x)
                    .saturating_mul(rao)
                    .saturating_to_num::<u64>()
            })
            .collect()
    };

    let bonds_out = (0..n_usize)
        .map(|i| {
            if new_permits[i] {
                ema_bonds
                    .get(i)
                    .map(|r| {
                        r.iter()
                            .map(|(j, v)| (*j, fixed_proportion_to_u16(*v)))
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            }
        })
        .collect();

    Ok(EpochOutput {
        active,
        validator_permit: new_permits,
        consensus: fixed_u16(&consensus),
        incentive: fixed_u16(&incentive),
        dividends: fixed_u16(&dividends),
        validator_trust: fixed_u16(&validator_trust),
        stake_weight: fixed_u16(&stake),
        emission: to_rao(&norm_combined),
        server_emission: to_rao(&norm_server),
        validator_emission: to_rao(&norm_validator),
        bonds: bonds_out,
    })
}

/// Yuma3 bonds EMA (`compute_bonds_sparse`): liquid alpha per entry, or a fixed alpha.
fn yuma3_ema(
    input: &EpochInput,
    weights: &[SparseRow],
    bonds: &[SparseRow],
    consensus: &[I32F32],
) -> Vec<SparseRow> {
    if input.liquid_alpha && consensus.iter().any(|c| *c != zero()) {
        let sigmoid = AlphaSigmoid {
            low: u16_proportion_to_fixed(input.alpha_low),
            high: u16_proportion_to_fixed(input.alpha_high),
            slope: I32F32::saturating_from_num(input.alpha_sigmoid_steepness)
                .saturating_div(I32F32::from_num(-100)),
        };
        liquid_alpha_ema(weights, bonds, consensus, &sigmoid)
    } else {
        let bma = I64F64::from_num(input.bonds_moving_average)
            .saturating_div(I64F64::from_num(1_000_000));
        let alpha = I32F32::from_num(1).saturating_sub(I32F32::from_num(bma));
        mat_ema_sparse(weights, bonds, alpha)
    }
}

/// `compute_liquid_alpha_values_sparse` followed by `mat_ema_alpha_sparse`, one row at a time so
/// the dense alpha matrix never exists. Like subtensor, the alpha walk goes through each row
/// assuming entries sorted by column; it is kept verbatim because its lookups depend on row order.
fn liquid_alpha_ema(
    weights: &[SparseRow],
    bonds: &[SparseRow],
    consensus: &[I32F32],
    sigmoid: &AlphaSigmoid,
) -> Vec<SparseRow> {
    if weights.len() != bonds.len() {
        // Subtensor computes no alphas then, and the EMA hands the weights back.
        return weights.to_owned();
    }
    let n = consensus.len();
    let mut needed = vec![false; n];
    let mut alpha = vec![zero(); n];
    let mut decayed = vec![zero(); n];
    let mut out = Vec::with_capacity(weights.len());
    for (w_row, b_row) in weights.iter().zip(bonds) {
        // The EMA reads alpha only where the weights row has an entry, so the sigmoid (an `exp`) is
        // evaluated there only.
        if w_row.is_empty() {
            out.push(Vec::new());
            continue;
        }
        for &(j, _) in w_row {
            if let Some(x) = needed.get_mut(j as usize) {
                *x = true;
            }
        }
        let mut w_it = w_row.iter().peekable();
        let mut b_it = b_row.iter().peekable();
        for (j_pos, c) in consensus.iter().enumerate() {
            let j = j_pos as u16;
            let mut weight = zero();
            while let Some(&&(i, v)) = w_it.peek() {
                if i < j {
                    w_it.next();
                } else {
                    if i == j {
                        weight = v;
                    }
                    break;
                }
            }
            let mut bond = zero();
            while let Some(&&(i, v)) = b_it.peek() {
                if i < j {
                    b_it.next();
                } else {
                    if i == j {
                        bond = v;
                    }
                    break;
                }
            }
            if needed[j_pos] {
                alpha[j_pos] = sigmoid.alpha(*c, weight, bond);
            }
        }
        out.push(ema_alpha_row(w_row, b_row, &alpha, &needed, &mut decayed));
        for &(j, _) in w_row {
            if let Some(x) = needed.get_mut(j as usize) {
                *x = false;
            }
        }
    }
    out
}

/// Liquid alpha's sigmoid with its per-epoch constants (`steepness / -100` computed once).
struct AlphaSigmoid {
    low: I32F32,
    high: I32F32,
    slope: I32F32,
}

impl AlphaSigmoid {
    fn alpha(&self, consensus: I32F32, weight: I32F32, bond: I32F32) -> I32F32 {
        let one = I32F32::from_num(1);
        let diff_buy = clamp_value(weight.saturating_sub(consensus), zero(), one);
        let diff_sell = clamp_value(bond.saturating_sub(weight), zero(), one);
        let diff = if weight >= bond { diff_buy } else { diff_sell };
        let sigmoid = one.saturating_div(
            one.saturating_add(exp_safe(
                self.slope
                    .sat_mul(diff.saturating_sub(I32F32::from_num(0.5))),
            )),
        );
        let alpha = self
            .low
            .saturating_add(sigmoid.sat_mul(self.high.saturating_sub(self.low)));
        clamp_value(alpha, self.low, self.high)
    }
}

#[cfg(test)]
mod tests;
