//! From scores to the u16 weights a validator puts on chain, with bittensor's and Dojo's exact
//! semantics (spec §4.6, §4.8, §4.9; chain spec §3.4).

use crate::error::WeightError;

/// `u16::MAX` as the SDK's `U16_MAX`.
pub const U16_MAX: f64 = 65535.0;

fn check_weights(w: &[f64]) -> Result<(), WeightError> {
    if let Some(index) = w.iter().position(|v| !v.is_finite()) {
        return Err(WeightError::NonFinite { index });
    }
    if let Some(index) = w.iter().position(|v| *v < 0.0) {
        return Err(WeightError::Negative { index });
    }
    Ok(())
}

/// `F.normalize(scores, p=1, dim=0)`: divide by `max(Σ|x|, 1e-12)`; all-zero stays all-zero.
///
/// ```
/// assert_eq!(dojo_scoring::weights::l1_normalize(&[1.0, 1.0, 2.0]).unwrap(), [0.25, 0.25, 0.5]);
/// ```
pub fn l1_normalize(scores: &[f64]) -> Result<Vec<f64>, WeightError> {
    if let Some(index) = scores.iter().position(|v| !v.is_finite()) {
        return Err(WeightError::NonFinite { index });
    }
    Ok(crate::vector::l1_normalize(
        scores,
        crate::vector::NORMALIZE_EPS,
    ))
}

/// bittensor `normalize_max_weight(x, limit)`: normalise to sum 1 while capping every share at
/// `limit`, by clipping at the cutoff the SDK computes.
///
/// ```
/// use dojo_scoring::weights::normalize_max_weight;
/// let w = normalize_max_weight(&[1.0, 1.0, 8.0], 0.5).unwrap();
/// assert!(w[2] <= 0.5 + 1e-6);
/// assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// ```
pub fn normalize_max_weight(x: &[f64], limit: f64) -> Result<Vec<f64>, WeightError> {
    check_weights(x)?;
    if !limit.is_finite() || limit < 0.0 {
        return Err(WeightError::InvalidParam {
            name: "limit",
            reason: format!("{limit} must be >= 0"),
        });
    }
    let n = x.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let epsilon = 1e-7;
    let sum: f64 = x.iter().sum();
    if sum == 0.0 || n as f64 * limit <= 1.0 {
        return Ok(vec![1.0 / n as f64; n]);
    }
    let mut values = x.to_vec();
    values.sort_by(f64::total_cmp);
    let est: Vec<f64> = values.iter().map(|v| v / sum).collect();
    if est.iter().copied().fold(f64::NEG_INFINITY, f64::max) <= limit {
        return Ok(x.iter().map(|v| v / sum).collect());
    }
    let mut cumsum = Vec::with_capacity(n);
    let mut acc = 0.0;
    for e in &est {
        acc += e;
        cumsum.push(acc);
    }
    let n_values = (0..n)
        .filter(|&i| est[i] / ((n - i - 1) as f64 * est[i] + cumsum[i] + epsilon) < limit)
        .count();
    // n_values >= 1 here: the smallest share is below the limit because n·limit > 1.
    let n_values = n_values.max(1);
    let cutoff_scale =
        (limit * cumsum[n_values - 1] - epsilon) / (1.0 - limit * (n - n_values) as f64);
    let cutoff = cutoff_scale * sum;
    let clipped: Vec<f64> = x
        .iter()
        .map(|v| if *v > cutoff { cutoff } else { *v })
        .collect();
    let s: f64 = clipped.iter().sum();
    Ok(clipped.into_iter().map(|v| v / s).collect())
}

/// Chain hyperparameters that shape weight processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeightLimits {
    /// `MinAllowedWeights`.
    pub min_allowed_weights: u16,
    /// `MaxWeightsLimit` (u16; the float limit is this / 65535).
    pub max_weight_limit: u16,
}

/// bittensor `process_weights_for_netuid` with `exclude_quantile` (u16 units, the SDK default is 0).
/// `weights[i]` is the weight of uid `i` of a metagraph of `weights.len()` neurons. Returns
/// `(uids, weights)` as floats summing to 1.
///
/// ```
/// use dojo_scoring::weights::{WeightLimits, process_weights_for_netuid};
/// let limits = WeightLimits { min_allowed_weights: 1, max_weight_limit: 65535 };
/// let (uids, w) = process_weights_for_netuid(&[0.0, 3.0, 1.0], limits, 0).unwrap();
/// assert_eq!(uids, [1, 2]);
/// assert_eq!(w, [0.75, 0.25]);
/// ```
pub fn process_weights_for_netuid(
    weights: &[f64],
    limits: WeightLimits,
    exclude_quantile: u16,
) -> Result<(Vec<u16>, Vec<f64>), WeightError> {
    check_weights(weights)?;
    let n = weights.len();
    if n > usize::from(u16::MAX) + 1 {
        return Err(WeightError::InvalidParam {
            name: "weights",
            reason: "more than 65536 uids".into(),
        });
    }
    let limit = f64::from(limits.max_weight_limit) / U16_MAX;
    let min_allowed = usize::from(limits.min_allowed_weights);
    let nz: Vec<usize> = (0..n).filter(|&i| weights[i] > 0.0).collect();
    let all_uids = || (0..n).map(|i| i as u16).collect::<Vec<_>>();
    if nz.is_empty() || n < min_allowed {
        return Ok((all_uids(), vec![1.0 / n.max(1) as f64; n]));
    }
    if nz.len() < min_allowed {
        let mut w = vec![1e-5; n];
        for &i in &nz {
            w[i] += weights[i];
        }
        return Ok((all_uids(), normalize_max_weight(&w, limit)?));
    }
    let nz_w: Vec<f64> = nz.iter().map(|&i| weights[i]).collect();
    let max_exclude = (nz.len() - min_allowed) as f64 / nz.len() as f64;
    let q = (f64::from(exclude_quantile) / U16_MAX).min(max_exclude);
    let lowest = quantile_linear(&nz_w, q);
    let keep: Vec<usize> = (0..nz.len()).filter(|&k| lowest <= nz_w[k]).collect();
    let kept_w: Vec<f64> = keep.iter().map(|&k| nz_w[k]).collect();
    Ok((
        keep.iter().map(|&k| nz[k] as u16).collect(),
        normalize_max_weight(&kept_w, limit)?,
    ))
}

/// `numpy.quantile(x, q)` with the default linear interpolation.
fn quantile_linear(x: &[f64], q: f64) -> f64 {
    let mut s = x.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q * (s.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    s[lo] + (s[hi] - s[lo]) * frac
}

/// bittensor `convert_weights_and_uids_for_emit`: scale so the largest weight is 65535, round half to
/// even (Python `round`), drop zeros. All-zero input gives empty vectors.
///
/// ```
/// use dojo_scoring::weights::convert_weights_and_uids_for_emit;
/// let (uids, w) = convert_weights_and_uids_for_emit(&[0, 1, 2], &[0.5, 1.0, 0.0]).unwrap();
/// assert_eq!((uids, w), (vec![0, 1], vec![32768, 65535]));
/// ```
pub fn convert_weights_and_uids_for_emit(
    uids: &[u16],
    weights: &[f64],
) -> Result<(Vec<u16>, Vec<u16>), WeightError> {
    if uids.len() != weights.len() {
        return Err(WeightError::LengthMismatch {
            uids: uids.len(),
            weights: weights.len(),
        });
    }
    check_weights(weights)?;
    if weights.iter().sum::<f64>() == 0.0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let max = weights.iter().copied().fold(0.0, f64::max);
    let mut out_u = Vec::with_capacity(uids.len());
    let mut out_w = Vec::with_capacity(uids.len());
    for (&u, &w) in uids.iter().zip(weights) {
        let v = ((w / max) * U16_MAX).round_ties_even();
        if v != 0.0 {
            out_u.push(u);
            out_w.push(v as u16);
        }
    }
    Ok((out_u, out_w))
}

/// Dojo's Python burn (`build_weights_for_burn`, factor 0.5 in production): each listed uid gives
/// `factor` of its weight to `burn_uid`, whose weight is then *set* (not added) to the total moved.
///
/// ```
/// use dojo_scoring::weights::burn_python;
/// let w = burn_python(&[0.5, 0.5, 0.0], &[0, 1], 2, 0.5).unwrap();
/// assert_eq!(w, [0.25, 0.25, 0.5]);
/// ```
pub fn burn_python(
    weights: &[f64],
    uids: &[u16],
    burn_uid: u16,
    factor: f64,
) -> Result<Vec<f64>, WeightError> {
    check_weights(weights)?;
    if !(0.0..=1.0).contains(&factor) {
        return Err(WeightError::InvalidParam {
            name: "factor",
            reason: format!("{factor} is not in [0, 1]"),
        });
    }
    let n = weights.len();
    let oob = |u: u16| {
        if usize::from(u) >= n {
            Err(WeightError::UidOutOfRange { uid: u, n })
        } else {
            Ok(())
        }
    };
    oob(burn_uid)?;
    let mut w = weights.to_vec();
    let mut burn = 0.0;
    for &u in uids {
        oob(u)?;
        let i = usize::from(u);
        burn += factor * w[i];
        w[i] *= 1.0 - factor;
    }
    w[usize::from(burn_uid)] = burn;
    Ok(w)
}

/// Dojo v2's `ConvertWeightsAndUidsForEmit` with burn (Go): `burn_percent`% of emission to
/// `burn_uid`, the rest pro rata to the others' scores; rounding half away from zero; zeros dropped.
///
/// ```
/// use dojo_scoring::weights::convert_with_burn_go;
/// let (uids, w) = convert_with_burn_go(&[1.0, 3.0, 0.0], 2, 80).unwrap();
/// assert_eq!(uids, [0, 1, 2]);
/// assert_eq!(w, [3277, 9830, 52428]);
/// ```
pub fn convert_with_burn_go(
    scores: &[f64],
    burn_uid: u16,
    burn_percent: u8,
) -> Result<(Vec<u16>, Vec<u16>), WeightError> {
    if burn_percent > 100 {
        return Err(WeightError::InvalidParam {
            name: "burn_percent",
            reason: "must be at most 100".into(),
        });
    }
    if let Some(index) = scores.iter().position(|v| v.is_nan() || v.is_infinite()) {
        return Err(WeightError::NonFinite { index });
    }
    let n = scores.len();
    if usize::from(burn_uid) >= n {
        return Err(WeightError::UidOutOfRange { uid: burn_uid, n });
    }
    // Go folds `BurnWeight/100` and `1 - BurnWeight/100` as exact constants; p/100 rounded once to f64
    // is that same nearest double.
    let burn = f64::from(burn_percent) / 100.0;
    let rest = f64::from(100 - burn_percent) / 100.0;
    let w: Vec<f64> = scores.iter().map(|v| v.max(0.0)).collect();
    let total: f64 = (0..n)
        .filter(|&i| i != usize::from(burn_uid))
        .map(|i| w[i])
        .sum();
    if total == 0.0 {
        if burn_percent == 0 {
            return Err(WeightError::NothingToEmit);
        }
        return Ok((vec![burn_uid], vec![(burn * U16_MAX).round() as u16]));
    }
    let max_w = (0..n)
        .filter(|&i| i != usize::from(burn_uid))
        .map(|i| w[i])
        .fold(0.0, f64::max);
    let mut out_u = Vec::new();
    let mut out_w = Vec::new();
    for (i, &wi) in w.iter().enumerate() {
        let f = if i == usize::from(burn_uid) {
            burn
        } else {
            (wi / max_w) / (total / max_w) * rest
        };
        let v = (f * U16_MAX).round();
        if v > 0.0 {
            out_u.push(i as u16);
            out_w.push(v.min(U16_MAX) as u16);
        }
    }
    Ok((out_u, out_w))
}
