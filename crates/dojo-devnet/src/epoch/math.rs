//! Fixed-point helpers of the Yuma epoch.
//!
//! Ported from opentensor/subtensor `pallets/subtensor/src/epoch/math.rs` at commit 14bc6f9f
//! (Unlicense), keeping only the sparse variants the on-chain epoch uses. The arithmetic is
//! `substrate-fixed` 0.6 exactly as subtensor calls it (floor multiply, truncating divide,
//! saturating everywhere, division by zero gives zero), so results are bit-identical. The only
//! deliberate change: plain `+`/`Sum` (which panic on overflow in debug builds) became saturating
//! adds, which give the same value whenever subtensor's would not overflow.

use substrate_fixed::transcendental::exp;
use substrate_fixed::types::{I32F32, I64F64};

/// A sparse row: `(column, value)` entries in storage order.
pub(crate) type SparseRow = Vec<(u16, I32F32)>;

pub(crate) trait SafeDiv: Sized {
    /// `checked_div`, or zero on division by zero or overflow (subtensor `safe_math::safe_div`).
    fn safe_div(self, rhs: Self) -> Self;
}

impl SafeDiv for I32F32 {
    fn safe_div(self, rhs: Self) -> Self {
        let (a, b) = (self.to_bits(), rhs.to_bits());
        // Fast path, bit-identical to substrate-fixed's `(i128(a) << 32) / i128(b)`: for
        // 0 <= a < 2^31 the shifted dividend fits an i64, both divisions truncate, and the quotient
        // cannot overflow. The epoch divides mostly proportions in [0, 1], so this avoids the slow
        // 128-bit division on nearly every entry.
        if (0..1 << 31).contains(&a) && b > 0 {
            return I32F32::from_bits((a << 32) / b);
        }
        self.checked_div(rhs).unwrap_or_default()
    }
}

impl SafeDiv for I64F64 {
    fn safe_div(self, rhs: Self) -> Self {
        self.checked_div(rhs).unwrap_or_default()
    }
}

pub(crate) fn zero() -> I32F32 {
    I32F32::from_num(0)
}

pub(crate) fn sum(x: &[I32F32]) -> I32F32 {
    x.iter().fold(zero(), |a, b| a.saturating_add(*b))
}

fn sum64(x: &[I64F64]) -> I64F64 {
    x.iter()
        .fold(I64F64::from_num(0), |a, b| a.saturating_add(*b))
}

fn row_total(row: &[(u16, I32F32)]) -> I32F32 {
    row.iter().fold(zero(), |a, (_, v)| a.saturating_add(*v))
}

pub(crate) fn fixed_proportion_to_u16(x: I32F32) -> u16 {
    x.saturating_mul(I32F32::saturating_from_num(u16::MAX))
        .saturating_to_num::<u16>()
}

pub(crate) fn u16_proportion_to_fixed(x: u16) -> I32F32 {
    I32F32::saturating_from_num(x).safe_div(I32F32::saturating_from_num(u16::MAX))
}

pub(crate) fn fixed_to_fixed_u16_proportion(x: I32F32) -> I32F32 {
    x.safe_div(I32F32::saturating_from_num(u16::MAX))
}

/// Max-upscale so the largest entry becomes 65535 (`vec_max_upscale_to_u16`).
pub(crate) fn vec_max_upscale_to_u16(vec: &[I32F32]) -> Vec<u16> {
    let u16_max = I32F32::saturating_from_num(u16::MAX);
    let threshold = I32F32::saturating_from_num(32768);
    match vec.iter().max() {
        Some(val) => {
            if *val == zero() {
                return vec
                    .iter()
                    .map(|e| e.saturating_mul(u16_max).saturating_to_num::<u16>())
                    .collect();
            }
            if *val > threshold {
                return vec
                    .iter()
                    .map(|e| {
                        e.saturating_mul(u16_max.safe_div(*val))
                            .round()
                            .saturating_to_num::<u16>()
                    })
                    .collect();
            }
            vec.iter()
                .map(|e| {
                    e.saturating_mul(u16_max)
                        .safe_div(*val)
                        .round()
                        .saturating_to_num::<u16>()
                })
                .collect()
        }
        None => Vec::new(),
    }
}

/// `vec_u16_max_upscale_to_u16`: what `set_weights` stores (spec §3.3).
pub fn vec_u16_max_upscale_to_u16(vec: &[u16]) -> Vec<u16> {
    let v: Vec<I32F32> = vec
        .iter()
        .map(|e| I32F32::saturating_from_num(*e))
        .collect();
    vec_max_upscale_to_u16(&v)
}

/// True when the sum-normalised maximum of `vec` is at most `max_limit / 65535`.
pub fn check_vec_max_limited(vec: &[u16], max_limit: u16) -> bool {
    let limit =
        I32F32::saturating_from_num(max_limit).safe_div(I32F32::saturating_from_num(u16::MAX));
    let mut v: Vec<I32F32> = vec
        .iter()
        .map(|e| I32F32::saturating_from_num(*e))
        .collect();
    inplace_normalize(&mut v);
    v.iter().max().is_none_or(|m| *m <= limit)
}

pub(crate) fn is_zero(v: &[I32F32]) -> bool {
    sum(v) == zero()
}

pub(crate) fn exp_safe(input: I32F32) -> I32F32 {
    let min_input = I32F32::saturating_from_num(-20);
    let max_input = I32F32::saturating_from_num(20);
    let safe_input = input.clamp(min_input, max_input);
    match exp(safe_input) {
        Ok(val) => val,
        Err(()) => {
            if safe_input <= 0 {
                zero()
            } else {
                I32F32::max_value()
            }
        }
    }
}

pub(crate) fn is_topk_nonzero(vector: &[I32F32], k: usize) -> Vec<bool> {
    let n = vector.len();
    let mut result: Vec<bool> = vector.iter().map(|e| *e != zero()).collect();
    if n < k {
        return result;
    }
    let mut idxs: Vec<usize> = (0..n).collect();
    idxs.sort_by_key(|&i| vector[i]); // Stable: ties keep index order.
    for &i in idxs.iter().take(n - k) {
        result[i] = false;
    }
    result
}

pub(crate) fn inplace_normalize(x: &mut [I32F32]) {
    let s = sum(x);
    if s == zero() {
        return;
    }
    x.iter_mut().for_each(|v| *v = v.safe_div(s));
}

pub(crate) fn inplace_normalize_using_sum(x: &mut [I32F32], s: I32F32) {
    if s == zero() {
        return;
    }
    x.iter_mut().for_each(|v| *v = v.safe_div(s));
}

pub(crate) fn inplace_normalize_64(x: &mut [I64F64]) {
    let s = sum64(x);
    if s == I64F64::from_num(0) {
        return;
    }
    x.iter_mut().for_each(|v| *v = v.safe_div(s));
}

pub(crate) fn inplace_row_normalize_sparse(m: &mut [SparseRow]) {
    for row in m.iter_mut() {
        let s = row_total(row);
        if s > zero() {
            row.iter_mut().for_each(|(_, v)| *v = v.safe_div(s));
        }
    }
}

pub(crate) fn row_sum_sparse(m: &[SparseRow]) -> Vec<I32F32> {
    m.iter().map(|r| row_total(r)).collect()
}

pub(crate) fn inplace_col_normalize_sparse(m: &mut [SparseRow], columns: u16) {
    let mut col_sum = vec![zero(); columns as usize];
    for row in m.iter() {
        for &(j, v) in row {
            if let Some(s) = col_sum.get_mut(j as usize) {
                *s = s.saturating_add(v);
            }
        }
    }
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            let d = col_sum.get(*j as usize).copied().unwrap_or(zero());
            if d != zero() {
                *v = v.safe_div(d);
            }
        }
    }
}

pub(crate) fn inplace_col_max_upscale_sparse(m: &mut [SparseRow], columns: u16) {
    let mut col_max = vec![zero(); columns as usize];
    for row in m.iter() {
        for (j, v) in row {
            if let Some(c) = col_max.get_mut(*j as usize)
                && *c < *v
            {
                *c = *v;
            }
        }
    }
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            let c = col_max.get(*j as usize).copied().unwrap_or(zero());
            if c != zero() {
                *v = v.safe_div(c);
            }
        }
    }
}

/// Zeroes entries whose mask is true (a missing mask entry counts as true).
pub(crate) fn inplace_mask_vector(mask: &[bool], vector: &mut [I32F32]) {
    if mask.is_empty() {
        return;
    }
    for (i, v) in vector.iter_mut().enumerate() {
        if *mask.get(i).unwrap_or(&true) {
            *v = zero();
        }
    }
}

pub(crate) fn scalar_vec_mask_sparse_matrix(
    m: &[SparseRow],
    scalar: u64,
    vector: &[u64],
    mask_fn: impl Fn(u64, u64) -> bool,
) -> Vec<SparseRow> {
    m.iter()
        .map(|row| {
            row.iter()
                .copied()
                .filter(|&(j, _)| !mask_fn(scalar, vector.get(j as usize).copied().unwrap_or(0)))
                .collect()
        })
        .collect()
}

pub(crate) fn mask_rows_sparse(mask: &[bool], m: &[SparseRow]) -> Vec<SparseRow> {
    m.iter()
        .enumerate()
        .map(|(i, row)| {
            if mask.get(i).copied().unwrap_or(true) {
                Vec::new()
            } else {
                row.clone()
            }
        })
        .collect()
}

pub(crate) fn mask_diag_sparse(m: &[SparseRow]) -> Vec<SparseRow> {
    m.iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .copied()
                .filter(|(j, _)| i != *j as usize)
                .collect()
        })
        .collect()
}

pub(crate) fn mask_diag_sparse_except_index(m: &[SparseRow], except: u16) -> Vec<SparseRow> {
    m.iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .copied()
                .filter(|(j, _)| i != *j as usize || (i == except as usize && *j == except))
                .collect()
        })
        .collect()
}

pub(crate) fn vec_mask_sparse_matrix(
    m: &[SparseRow],
    first: &[u64],
    second: &[u64],
    mask_fn: impl Fn(u64, u64) -> bool,
) -> Vec<SparseRow> {
    let mut fv_it = first.iter();
    m.iter()
        .map(|row| {
            let fv = fv_it.next().copied().unwrap_or(0);
            row.iter()
                .copied()
                .filter(|&(j, _)| !mask_fn(fv, second.get(j as usize).copied().unwrap_or(0)))
                .collect()
        })
        .collect()
}

pub(crate) fn row_hadamard_sparse(m: &[SparseRow], vector: &[I32F32]) -> Vec<SparseRow> {
    m.iter()
        .zip(vector.iter())
        .map(|(row, &s)| row.iter().map(|&(j, v)| (j, v.saturating_mul(s))).collect())
        .collect()
}

pub(crate) fn matmul_sparse(m: &[SparseRow], vector: &[I32F32], columns: u16) -> Vec<I32F32> {
    let mut result = vec![zero(); columns as usize];
    let mut vec_it = vector.iter();
    for row in m {
        let scale = vec_it.next().copied().unwrap_or(zero());
        for &(j, v) in row {
            if let Some(r) = result.get_mut(j as usize) {
                *r = r.saturating_add(scale.saturating_mul(v));
            }
        }
    }
    result
}

pub(crate) fn matmul_transpose_sparse(m: &[SparseRow], vector: &[I32F32]) -> Vec<I32F32> {
    m.iter()
        .map(|row| {
            row.iter().fold(zero(), |acc, &(j, v)| {
                acc.saturating_add(
                    vector
                        .get(j as usize)
                        .copied()
                        .unwrap_or(zero())
                        .saturating_mul(v),
                )
            })
        })
        .collect()
}

pub(crate) fn col_clip_sparse(m: &[SparseRow], threshold: &[I32F32]) -> Vec<SparseRow> {
    m.iter()
        .map(|row| {
            let mut out = Vec::with_capacity(row.len());
            for &(j, v) in row {
                let th = threshold.get(j as usize).copied().unwrap_or(zero());
                if th < v {
                    if th > zero() {
                        out.push((j, th));
                    }
                } else {
                    out.push((j, v));
                }
            }
            out
        })
        .collect()
}

/// Stake-weighted median by quickselect (subtensor `weighted_median`).
fn weighted_median(
    stake: &[I32F32],
    score: &[I32F32],
    partition_idx: &[usize],
    minority: I32F32,
    mut lo: I32F32,
    mut hi: I32F32,
) -> I32F32 {
    let get = |v: &[I32F32], i: usize| v.get(i).copied().unwrap_or(zero());
    if stake.len() != score.len() {
        return zero();
    }
    let mut current: Vec<usize> = partition_idx.to_vec();
    let mut iterations = 0usize;
    let limit = partition_idx.len();
    let mut lower: Vec<usize> = Vec::new();
    let mut upper: Vec<usize> = Vec::new();
    loop {
        let n = current.len();
        if n == 0 {
            return zero();
        }
        if n == 1 {
            return get(score, current[0]);
        }
        let pivot = get(score, current[n / 2]);
        let mut lo_stake = zero();
        let mut hi_stake = zero();
        for &idx in &current {
            let s = get(score, idx);
            if s == pivot {
                continue;
            }
            if s < pivot {
                lo_stake = lo_stake.saturating_add(get(stake, idx));
                lower.push(idx);
            } else {
                hi_stake = hi_stake.saturating_add(get(stake, idx));
                upper.push(idx);
            }
        }
        if minority < lo.saturating_add(lo_stake) && !lower.is_empty() {
            current = std::mem::take(&mut lower);
            hi = lo.saturating_add(lo_stake);
        } else if hi.saturating_sub(hi_stake) <= minority && !upper.is_empty() {
            current = std::mem::take(&mut upper);
            lo = hi.saturating_sub(hi_stake);
        } else {
            return pivot;
        }
        lower.clear();
        upper.clear();
        iterations += 1;
        if iterations > limit {
            break;
        }
    }
    zero()
}

pub(crate) fn weighted_median_col_sparse(
    stake: &[I32F32],
    score: &[SparseRow],
    columns: u16,
    majority: I32F32,
) -> Vec<I32F32> {
    let mut use_stake: Vec<I32F32> = stake.iter().copied().filter(|&s| s > zero()).collect();
    inplace_normalize(&mut use_stake);
    let stake_sum = sum(&use_stake);
    let minority = stake_sum.saturating_sub(majority);
    let stake_idx: Vec<usize> = (0..use_stake.len()).collect();
    let mut use_score: Vec<Vec<I32F32>> = (0..columns as usize)
        .map(|_| vec![zero(); use_stake.len()])
        .collect();
    let mut k = 0usize;
    for (&s, row) in stake.iter().zip(score.iter()) {
        if s > zero() {
            for &(c, v) in row {
                if let Some(cell) = use_score.get_mut(c as usize).and_then(|col| col.get_mut(k)) {
                    *cell = v;
                }
            }
            k += 1;
        }
    }
    use_score
        .iter()
        .map(|col| weighted_median(&use_stake, col, &stake_idx, minority, zero(), stake_sum))
        .collect()
}

pub(crate) fn interpolate_sparse(
    m1: &[SparseRow],
    m2: &[SparseRow],
    columns: u16,
    ratio: I32F32,
) -> Vec<SparseRow> {
    if ratio == zero() {
        return m1.to_owned();
    }
    if ratio == I32F32::from_num(1) {
        return m2.to_owned();
    }
    if m1.len() != m2.len() {
        return m2.to_owned();
    }
    let mut result = vec![Vec::new(); m1.len()];
    let mut row1 = vec![zero(); columns as usize];
    let mut row2 = vec![zero(); columns as usize];
    for i in 0..m1.len() {
        // Both rows empty interpolate to all zeros, which are not kept.
        if m1[i].is_empty() && m2[i].is_empty() {
            continue;
        }
        row1.iter_mut().for_each(|v| *v = zero());
        row2.iter_mut().for_each(|v| *v = zero());
        for &(j, v) in &m1[i] {
            if let Some(e) = row1.get_mut(j as usize) {
                *e = v;
            }
        }
        for &(j, v) in &m2[i] {
            if let Some(e) = row2.get_mut(j as usize) {
                *e = v;
            }
        }
        for j in 0..columns as usize {
            let (v1, v2) = (row1[j], row2[j]);
            let interp = v1.saturating_add(ratio.saturating_mul(v2.saturating_sub(v1)));
            if zero() < interp {
                result[i].push((j as u16, interp));
            }
        }
    }
    result
}

pub(crate) fn vec_mul(a: &[I32F32], b: &[I32F32]) -> Vec<I32F32> {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| x.checked_mul(*y).unwrap_or_default())
        .collect()
}

pub(crate) fn mat_vec_mul_sparse(m: &[SparseRow], vector: &[I32F32]) -> Vec<SparseRow> {
    m.iter()
        .map(|row| {
            row.iter()
                .filter_map(|&(j, v)| {
                    let x = v.saturating_mul(*vector.get(j as usize)?);
                    (x != zero()).then_some((j, x))
                })
                .collect()
        })
        .collect()
}

pub(crate) fn clamp_value(value: I32F32, low: I32F32, high: I32F32) -> I32F32 {
    value.min(high).max(low)
}

/// `alpha·new + (1-alpha)·old` over the union of entries, keeping positive values. Rows are as wide
/// as the matrix is tall (subtensor assumes a square matrix here).
pub(crate) fn mat_ema_sparse(
    new: &[SparseRow],
    old: &[SparseRow],
    alpha: I32F32,
) -> Vec<SparseRow> {
    let one_minus_alpha = I32F32::from_num(1).saturating_sub(alpha);
    let n = new.len();
    let mut result = Vec::with_capacity(n);
    let mut old_it = old.iter();
    let mut acc = vec![zero(); n];
    for new_row in new {
        let orow = old_it.next();
        // An empty row in both stays empty; skipping the dense pass keeps large subnets cheap.
        if new_row.is_empty() && orow.is_none_or(|r| r.is_empty()) {
            result.push(Vec::new());
            continue;
        }
        acc.iter_mut().for_each(|v| *v = zero());
        for &(j, v) in new_row {
            if let Some(c) = acc.get_mut(j as usize) {
                *c = c.saturating_add(alpha.saturating_mul(v));
            }
        }
        if let Some(orow) = orow {
            for &(j, v) in orow {
                if let Some(c) = acc.get_mut(j as usize) {
                    *c = c.saturating_add(one_minus_alpha.saturating_mul(v));
                }
            }
        }
        result.push(
            acc.iter()
                .enumerate()
                .filter(|(_, v)| **v > zero())
                .map(|(j, v)| (j as u16, *v))
                .collect(),
        );
    }
    result
}

/// Per-entry alpha EMA (Yuma3 liquid alpha). Bonds without a current weight entry are dropped.
pub(crate) fn mat_ema_alpha_sparse(
    new: &[SparseRow],
    old: &[SparseRow],
    alpha: &[Vec<I32F32>],
) -> Vec<SparseRow> {
    if new.len() != old.len() || new.len() != alpha.len() {
        return new.to_owned();
    }
    let one = I32F32::from_num(1);
    let mut result = Vec::with_capacity(new.len());
    for ((new_row, old_row), alpha_row) in new.iter().zip(old).zip(alpha) {
        let mut decayed = vec![zero(); alpha_row.len()];
        for &(j, ov) in old_row {
            if let (Some(&a), Some(cell)) = (alpha_row.get(j as usize), decayed.get_mut(j as usize))
            {
                *cell = one.saturating_sub(a).saturating_mul(ov);
            }
        }
        let mut out = Vec::new();
        for &(j, nv) in new_row {
            if let (Some(&a), Some(&d)) = (alpha_row.get(j as usize), decayed.get(j as usize)) {
                let inc = a.saturating_mul(nv).max(zero());
                let val = d.saturating_add(inc).min(one);
                if val > zero() {
                    out.push((j, val));
                }
            }
        }
        result.push(out);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> I32F32 {
        I32F32::from_num(x)
    }

    #[test]
    fn max_upscale_matches_spec_examples() {
        // Stored as 65535, 65535 for [32767, 32767] (test_active_stake).
        assert_eq!(
            vec_u16_max_upscale_to_u16(&[32767, 32767]),
            vec![65535, 65535]
        );
        assert_eq!(
            vec_u16_max_upscale_to_u16(&[65535, 32768]),
            vec![65535, 32768]
        );
        assert_eq!(vec_u16_max_upscale_to_u16(&[1, 2]), vec![32768, 65535]);
        assert_eq!(vec_u16_max_upscale_to_u16(&[0, 0]), vec![0, 0]);
        assert_eq!(vec_u16_max_upscale_to_u16(&[]), Vec::<u16>::new());
    }

    #[test]
    fn fixed_mul_floors_and_div_truncates() {
        // 0.1 is not representable; the product floors.
        let tenth = f(1.0).safe_div(f(10.0));
        assert_eq!(tenth.to_bits(), 429_496_729);
        assert_eq!(fixed_proportion_to_u16(tenth), 6553);
        assert_eq!(f(1.0).safe_div(zero()), zero());
    }

    #[test]
    fn topk_ties_drop_lower_index_first() {
        let v = [f(0.25), f(0.25), f(0.5), f(0.0)];
        assert_eq!(is_topk_nonzero(&v, 2), vec![false, true, true, false]);
        assert_eq!(is_topk_nonzero(&v, 5), vec![true, true, true, false]);
    }

    #[test]
    fn weighted_median_picks_majority() {
        let stake = [f(0.8), f(0.1), f(0.1)];
        let rows = vec![vec![(0u16, f(1.0))], vec![(0, f(0.0))], vec![(0, f(0.0))]];
        let c = weighted_median_col_sparse(&stake, &rows, 1, f(0.5));
        assert_eq!(c, vec![f(1.0)]);
    }

    proptest::proptest! {
        #[test]
        fn fast_division_is_bit_identical(a in proptest::prelude::any::<i64>(), b in proptest::prelude::any::<i64>()) {
            let (x, y) = (I32F32::from_bits(a), I32F32::from_bits(b));
            proptest::prop_assert_eq!(x.safe_div(y), x.checked_div(y).unwrap_or_default());
            let small = I32F32::from_bits(a.rem_euclid(1 << 31));
            proptest::prop_assert_eq!(small.safe_div(y), small.checked_div(y).unwrap_or_default());
        }
    }

    #[test]
    fn max_limit_check() {
        assert!(check_vec_max_limited(&[65535, 65535], 32768));
        assert!(!check_vec_max_limited(&[65535, 1], 32768));
        assert!(check_vec_max_limited(&[], 0));
    }
}
