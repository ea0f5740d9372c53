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
        const LOW: u64 = (1 << 32) - 1;
        let (a, b) = (self.to_bits(), rhs.to_bits());
        // Fast paths, bit-identical to substrate-fixed's `(i128(a) << 32) / i128(b)` for a >= 0 and
        // b > 0, where both divisions truncate the same non-negative quotient:
        // - dividing both operands by 2^32 when both are whole numbers keeps the quotient (integer
        //   weights and bonds are normalised this way);
        // - for a < 2^32 the shifted dividend fits a u64;
        // - otherwise an unsigned 128-bit division, without the signed wrapper.
        // A quotient past i64 overflows, which the checked division turns into zero.
        if a >= 0 && b > 0 {
            let (mut a, mut b) = (a as u64, b as u64);
            if a & LOW == 0 && b & LOW == 0 {
                (a, b) = (a >> 32, b >> 32);
            }
            let q = if a < 1 << 32 {
                u128::from((a << 32) / b)
            } else {
                (u128::from(a) << 32) / u128::from(b)
            };
            return I32F32::from_bits(i64::try_from(q).unwrap_or(0));
        }
        self.checked_div(rhs).unwrap_or_default()
    }
}

/// `x.safe_div(d)` for many `x` and one `d`, with the division turned into a multiply.
///
/// For a divisor `d` of `l` bits (`2^(l-1) < d <= 2^l`) and `m = floor(2^(64+l) / d) + 1`,
/// `floor(n·m / 2^(64+l)) = floor(n / d)` for every `n < 2^64`: `m` overshoots `2^(64+l)/d` by at
/// most `d / 2^(64+l)`, which moves `n/d` up by less than `2^-l <= 1/d`, too little to reach the
/// next integer. `m` has 65 bits; its low 64 are kept and the top bit is added back as `n`.
#[derive(Clone, Copy)]
pub(crate) struct Divisor {
    d: I32F32,
    /// Magic for `d`'s bits, used when `0 <= x < 2^32` (then `x << 32` fits a u64).
    frac: Option<(u64, u32)>,
    /// Magic for `d >> 32` when `d` is a whole number, used for whole-number `x`.
    whole: Option<(u64, u32)>,
}

impl Divisor {
    pub(crate) fn new(d: I32F32) -> Self {
        const LOW: i64 = (1 << 32) - 1;
        let bits = d.to_bits();
        let magic = |d: u64| -> (u64, u32) {
            let l = 64 - (d - 1).leading_zeros();
            let m = ((1u128 << (64 + l)) / u128::from(d)) + 1;
            (m as u64, l)
        };
        Divisor {
            d,
            frac: (bits > 0).then(|| magic(bits as u64)),
            whole: (bits > 0 && bits & LOW == 0).then(|| magic((bits >> 32) as u64)),
        }
    }

    fn quotient(n: u64, (m, l): (u64, u32)) -> u64 {
        let t = (u128::from(n) * u128::from(m)) >> 64;
        ((u128::from(n) + t) >> l) as u64
    }

    /// Bit-identical to `x.safe_div(self.d)`.
    #[inline]
    pub(crate) fn div(&self, x: I32F32) -> I32F32 {
        const LOW: i64 = (1 << 32) - 1;
        let a = x.to_bits();
        let q = match (self.frac, self.whole) {
            (_, Some(w)) if a >= 0 && a & LOW == 0 => Self::quotient((a as u64 >> 32) << 32, w),
            (Some(f), _) if (0..1 << 32).contains(&a) => Self::quotient((a as u64) << 32, f),
            _ => return x.safe_div(self.d),
        };
        I32F32::from_bits(i64::try_from(q).unwrap_or(0))
    }
}

/// `saturating_mul` of `I32F32` on one 64×64→128-bit multiply. substrate-fixed multiplies `a` by
/// `b << 32` in 128 bits and reports overflow when that product leaves i128, which is exactly when
/// `(a·b) >> 32` leaves i64; on overflow it saturates by the operands' signs, as here.
pub(crate) trait SatMul {
    fn sat_mul(self, rhs: Self) -> Self;
}

impl SatMul for I32F32 {
    #[inline]
    fn sat_mul(self, rhs: Self) -> Self {
        let (a, b) = (self.to_bits(), rhs.to_bits());
        let p = (i128::from(a) * i128::from(b)) >> 32;
        match i64::try_from(p) {
            Ok(v) => I32F32::from_bits(v),
            Err(_) if (a < 0) != (b < 0) => I32F32::min_value(),
            Err(_) => I32F32::max_value(),
        }
    }
}

/// A `u16` as a whole-number `I32F32` (what `saturating_from_num` gives, without the generic path).
pub(crate) fn fixed_from_u16(v: u16) -> I32F32 {
    I32F32::from_bits(i64::from(v) << 32)
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
    x.sat_mul(I32F32::saturating_from_num(u16::MAX))
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
                    .map(|e| e.sat_mul(u16_max).saturating_to_num::<u16>())
                    .collect();
            }
            if *val > threshold {
                return vec
                    .iter()
                    .map(|e| {
                        e.sat_mul(u16_max.safe_div(*val))
                            .round()
                            .saturating_to_num::<u16>()
                    })
                    .collect();
            }
            vec.iter()
                .map(|e| {
                    e.sat_mul(u16_max)
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
    match exp_i32f32(safe_input) {
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

/// `substrate_fixed::transcendental::exp` for `I32F32`, step for step on the raw bits: the Taylor
/// series to the 31st term with substrate-fixed's floor multiply, then `1 / result` for a negative
/// operand. Two things make it cheaper and change no bit: the library divides each term by
/// `from_num(i)` through a 128-bit division, which for a non-negative term is exactly the integer
/// division `term / i`; and once a term is zero every later term is zero, so the loop stops there.
pub(crate) fn exp_i32f32(x: I32F32) -> Result<I32F32, ()> {
    const ONE: i64 = 1 << 32;
    let bits = x.to_bits();
    if bits == 0 {
        return Ok(I32F32::from_num(1));
    }
    if bits == ONE {
        // The library answers from its own constant for e.
        return exp(x);
    }
    let op = if bits < 0 {
        bits.checked_neg().ok_or(())?
    } else {
        bits
    };
    let mut result = op.checked_add(ONE).ok_or(())?;
    let mut term = op;
    // substrate-fixed's `mul_overflow`: the widened product of `term` and `op << 32`, top half.
    let wide_op = i128::from(op) << 32;
    macro_rules! step {
        ($($i:literal)*) => {$(
            let (prod, overflow) = i128::from(term).overflowing_mul(wide_op);
            if overflow {
                return Err(());
            }
            term = ((prod >> 64) as i64) / $i;
            result = result.checked_add(term).ok_or(())?;
            if term == 0 {
                return Ok(finish(bits, result));
            }
        )*};
    }
    step!(2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    Ok(finish(bits, result))
}

/// The end of [`exp_i32f32`]: `e^-x = 1 / e^x`, substrate-fixed's `checked_div` of one by a result
/// that is at least one, so the quotient is at most one and never overflows.
fn finish(bits: i64, result: i64) -> I32F32 {
    if bits > 0 {
        return I32F32::from_bits(result);
    }
    I32F32::from_bits(((1u128 << 64) / result as u128) as i64)
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
            let s = Divisor::new(s);
            row.iter_mut().for_each(|(_, v)| *v = s.div(*v));
        }
    }
}

pub(crate) fn row_sum_sparse(m: &[SparseRow]) -> Vec<I32F32> {
    m.iter().map(|r| row_total(r)).collect()
}

fn col_sums(m: &[SparseRow], columns: u16) -> Vec<I32F32> {
    let mut col_sum = vec![zero(); columns as usize];
    for row in m {
        for &(j, v) in row {
            if let Some(s) = col_sum.get_mut(j as usize) {
                *s = s.saturating_add(v);
            }
        }
    }
    col_sum
}

/// Divisors for dividing each column by `by[j]`; `None` where `by[j]` is zero (left undivided).
fn col_divisors(by: &[I32F32]) -> Vec<Option<Divisor>> {
    by.iter()
        .map(|&d| (d != zero()).then(|| Divisor::new(d)))
        .collect()
}

pub(crate) fn inplace_col_normalize_sparse(m: &mut [SparseRow], columns: u16) {
    let col_div = col_divisors(&col_sums(m, columns));
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            if let Some(Some(d)) = col_div.get(*j as usize) {
                *v = d.div(*v);
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
    let col_div = col_divisors(&col_max);
    for row in m.iter_mut() {
        for (j, v) in row.iter_mut() {
            if let Some(Some(d)) = col_div.get(*j as usize) {
                *v = d.div(*v);
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

// The masks below edit the matrix in place: each keeps exactly the entries subtensor's copying
// version keeps, in the same order.

/// Drops entry `(_, j)` where `mask_fn(scalar, vector[j])` (a missing `vector[j]` reads 0).
pub(crate) fn inplace_scalar_vec_mask_sparse_matrix(
    m: &mut [SparseRow],
    scalar: u64,
    vector: &[u64],
    mask_fn: impl Fn(u64, u64) -> bool,
) {
    for row in m.iter_mut() {
        row.retain(|&(j, _)| !mask_fn(scalar, vector.get(j as usize).copied().unwrap_or(0)));
    }
}

/// Scales row `i` by `vector[i]`; rows without a scale are dropped, as subtensor's `zip` does.
pub(crate) fn inplace_row_hadamard_sparse(m: &mut Vec<SparseRow>, vector: &[I32F32]) {
    m.truncate(vector.len());
    for (row, &s) in m.iter_mut().zip(vector) {
        row.iter_mut().for_each(|(_, v)| *v = v.sat_mul(s));
    }
}

pub(crate) fn matmul_sparse(m: &[SparseRow], vector: &[I32F32], columns: u16) -> Vec<I32F32> {
    let mut result = vec![zero(); columns as usize];
    let mut vec_it = vector.iter();
    for row in m {
        let scale = vec_it.next().copied().unwrap_or(zero());
        for &(j, v) in row {
            if let Some(r) = result.get_mut(j as usize) {
                *r = r.saturating_add(scale.sat_mul(v));
            }
        }
    }
    result
}

pub(crate) fn matmul_transpose_sparse(m: &[SparseRow], vector: &[I32F32]) -> Vec<I32F32> {
    m.iter()
        .map(|row| {
            row.iter().fold(zero(), |acc, &(j, v)| {
                acc.saturating_add(vector.get(j as usize).copied().unwrap_or(zero()).sat_mul(v))
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

/// Buffers of [`weighted_median`], reused across the columns of one epoch: the candidates and the
/// two sides of a partition, as raw `I32F32` bits (whose integer order and saturating sum are the
/// fixed-point ones).
#[derive(Default)]
struct MedianScratch {
    current: Vec<(i64, i64)>,
    lower: Vec<(i64, i64)>,
    upper: Vec<(i64, i64)>,
}

/// Stake-weighted median by quickselect (subtensor `weighted_median`): the same pivots, partitions
/// and stopping rule, over `(score, stake)` pairs kept in index order instead of index lists. The
/// partition writes every pair to both sides and advances only the side it belongs to, so random
/// scores cost no branch mispredictions; adding a zero stake leaves a saturating sum unchanged.
fn weighted_median(
    stake: &[I32F32],
    score: &[I32F32],
    minority: I32F32,
    lo: I32F32,
    hi: I32F32,
    buf: &mut MedianScratch,
) -> I32F32 {
    if stake.len() != score.len() {
        return zero();
    }
    let (minority, mut lo, mut hi) = (minority.to_bits(), lo.to_bits(), hi.to_bits());
    let MedianScratch {
        current,
        lower,
        upper,
    } = buf;
    current.clear();
    current.extend(
        score
            .iter()
            .zip(stake)
            .map(|(s, st)| (s.to_bits(), st.to_bits())),
    );
    lower.resize(current.len(), (0, 0));
    upper.resize(current.len(), (0, 0));
    let mut iterations = 0usize;
    let limit = score.len();
    loop {
        let n = current.len();
        if n == 0 {
            return zero();
        }
        if n == 1 {
            return I32F32::from_bits(current[0].0);
        }
        let pivot = current[n / 2].0;
        let (mut lo_stake, mut hi_stake) = (0i64, 0i64);
        let (mut n_lo, mut n_hi) = (0usize, 0usize);
        for &(s, st) in current.iter() {
            let (is_lo, is_hi) = (s < pivot, s > pivot);
            lower[n_lo] = (s, st);
            upper[n_hi] = (s, st);
            n_lo += usize::from(is_lo);
            n_hi += usize::from(is_hi);
            lo_stake = lo_stake.saturating_add(if is_lo { st } else { 0 });
            hi_stake = hi_stake.saturating_add(if is_hi { st } else { 0 });
        }
        if minority < lo.saturating_add(lo_stake) && n_lo > 0 {
            std::mem::swap(current, lower);
            current.truncate(n_lo);
            hi = lo.saturating_add(lo_stake);
        } else if hi.saturating_sub(hi_stake) <= minority && n_hi > 0 {
            std::mem::swap(current, upper);
            current.truncate(n_hi);
            lo = hi.saturating_sub(hi_stake);
        } else {
            return I32F32::from_bits(pivot);
        }
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
    // The staked rows' scores, one contiguous column after another.
    let k_len = use_stake.len();
    let columns = columns as usize;
    let mut cells = vec![zero(); columns * k_len];
    let mut k = 0usize;
    for (&s, row) in stake.iter().zip(score.iter()) {
        if s > zero() {
            for &(c, v) in row {
                if let Some(cell) = cells.get_mut(c as usize * k_len + k)
                    && (c as usize) < columns
                {
                    *cell = v;
                }
            }
            k += 1;
        }
    }
    let mut buf = MedianScratch::default();
    if k_len == 0 {
        return vec![zero(); columns];
    }
    cells
        .chunks_exact(k_len)
        .map(|col| weighted_median(&use_stake, col, minority, zero(), stake_sum, &mut buf))
        .collect()
}

/// `m1 + ratio·(m2 − m1)`, positive entries in column order. Takes both matrices so the common
/// ratios 0 and 1 hand one back without a copy.
pub(crate) fn interpolate_sparse(
    m1: Vec<SparseRow>,
    m2: Vec<SparseRow>,
    columns: u16,
    ratio: I32F32,
) -> Vec<SparseRow> {
    if ratio == zero() {
        return m1;
    }
    if ratio == I32F32::from_num(1) {
        return m2;
    }
    if m1.len() != m2.len() {
        return m2;
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
        let out = &mut result[i];
        out.reserve((m1[i].len() + m2[i].len()).min(columns as usize));
        for (j, (&v1, &v2)) in row1.iter().zip(&row2).enumerate() {
            let interp = v1.saturating_add(ratio.sat_mul(v2.saturating_sub(v1)));
            if zero() < interp {
                out.push((j as u16, interp));
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

/// `row_sum(mat_vec_mul(col_normalize(m), vector))` without building either matrix: per row, the
/// saturating sum of the non-zero products of column-normalised entries with `vector[j]` (entries
/// past `vector` are skipped).
pub(crate) fn col_normalized_row_dot(
    m: &[SparseRow],
    columns: u16,
    vector: &[I32F32],
) -> Vec<I32F32> {
    let col_div = col_divisors(&col_sums(m, columns));
    m.iter()
        .map(|row| {
            row.iter().fold(zero(), |acc, &(j, v)| {
                let v = match col_div.get(j as usize) {
                    Some(Some(d)) => d.div(v),
                    _ => v,
                };
                match vector.get(j as usize) {
                    Some(&x) => acc.saturating_add(v.sat_mul(x)),
                    None => acc,
                }
            })
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
        let orow_slice = orow.map_or(&[][..], |r| r.as_slice());
        if let Some(row) = ema_merge_sorted(new_row, orow_slice, alpha, one_minus_alpha, n) {
            result.push(row);
            continue;
        }
        acc.iter_mut().for_each(|v| *v = zero());
        for &(j, v) in new_row {
            if let Some(c) = acc.get_mut(j as usize) {
                *c = c.saturating_add(alpha.sat_mul(v));
            }
        }
        if let Some(orow) = orow {
            for &(j, v) in orow {
                if let Some(c) = acc.get_mut(j as usize) {
                    *c = c.saturating_add(one_minus_alpha.sat_mul(v));
                }
            }
        }
        // At most one entry per distinct column of the two rows.
        let bound = new_row.len() + orow.map_or(0, |r| r.len());
        let mut row = Vec::with_capacity(bound.min(n));
        row.extend(
            acc.iter()
                .enumerate()
                .filter(|(_, v)| **v > zero())
                .map(|(j, v)| (j as u16, *v)),
        );
        result.push(row);
    }
    result
}

/// True when the row's columns strictly increase and stay below `n`: then it has at most one entry
/// per column and a dense pass over it equals a merge.
fn sorted_below(row: &[(u16, I32F32)], n: usize) -> bool {
    row.windows(2).all(|w| w[0].0 < w[1].0) && row.last().is_none_or(|&(j, _)| (j as usize) < n)
}

/// One row of [`mat_ema_sparse`] by merging two sorted rows, or `None` when a row is not sorted
/// (the dense pass handles repeated and out-of-range columns). Each column's value is built in the
/// dense pass's order: zero, plus the new term, plus the old one.
fn ema_merge_sorted(
    new_row: &[(u16, I32F32)],
    old_row: &[(u16, I32F32)],
    alpha: I32F32,
    one_minus_alpha: I32F32,
    n: usize,
) -> Option<SparseRow> {
    if !sorted_below(new_row, n) || !sorted_below(old_row, n) {
        return None;
    }
    let mut out = Vec::with_capacity((new_row.len() + old_row.len()).min(n));
    let (mut a, mut b) = (0, 0);
    loop {
        let (j, v) = match (new_row.get(a), old_row.get(b)) {
            (Some(&(ja, va)), Some(&(jb, vb))) if ja == jb => {
                a += 1;
                b += 1;
                let v = zero().saturating_add(alpha.sat_mul(va));
                (ja, v.saturating_add(one_minus_alpha.sat_mul(vb)))
            }
            (Some(&(ja, va)), Some(&(jb, _))) if ja < jb => {
                a += 1;
                (ja, zero().saturating_add(alpha.sat_mul(va)))
            }
            (Some(&(ja, va)), None) => {
                a += 1;
                (ja, zero().saturating_add(alpha.sat_mul(va)))
            }
            (_, Some(&(jb, vb))) => {
                b += 1;
                (jb, zero().saturating_add(one_minus_alpha.sat_mul(vb)))
            }
            (None, None) => break,
        };
        if v > zero() {
            out.push((j, v));
        }
    }
    Some(out)
}

/// One row of the per-entry alpha EMA (Yuma3 liquid alpha, subtensor `mat_ema_alpha_sparse`).
/// `alpha` holds this row's alphas at every column of `new_row` (other cells are stale and never
/// read); `decayed` is scratch as wide as `alpha`. Bonds without a current weight entry are dropped.
pub(crate) fn ema_alpha_row(
    new_row: &[(u16, I32F32)],
    old_row: &[(u16, I32F32)],
    alpha: &[I32F32],
    needed: &[bool],
    decayed: &mut [I32F32],
) -> SparseRow {
    let one = I32F32::from_num(1);
    for &(j, _) in new_row {
        if let Some(d) = decayed.get_mut(j as usize) {
            *d = zero();
        }
    }
    for &(j, ov) in old_row {
        let j = j as usize;
        if needed.get(j).copied().unwrap_or(false) {
            decayed[j] = one.saturating_sub(alpha[j]).sat_mul(ov);
        }
    }
    let mut out = Vec::with_capacity(new_row.len());
    for &(j, nv) in new_row {
        if let (Some(&a), Some(&d)) = (alpha.get(j as usize), decayed.get(j as usize)) {
            let inc = a.sat_mul(nv).max(zero());
            let val = d.saturating_add(inc).min(one);
            if val > zero() {
                out.push((j, val));
            }
        }
    }
    out
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
            for small in [a.rem_euclid(1 << 31), a.rem_euclid(1 << 32), a.rem_euclid((1 << 32) + 1), a & !0xffff_ffff, a.rem_euclid(1 << 48) & !0xffff_ffff] {
                let small = I32F32::from_bits(small);
                proptest::prop_assert_eq!(small.safe_div(y), small.checked_div(y).unwrap_or_default());
                let whole = I32F32::from_bits(b & !0xffff_ffff);
                proptest::prop_assert_eq!(small.safe_div(whole), small.checked_div(whole).unwrap_or_default());
            }
        }

        #[test]
        fn fast_mul_is_bit_identical(a in proptest::prelude::any::<i64>(), b in proptest::prelude::any::<i64>(), s in 0u32..64) {
            for (x, y) in [(a, b), (a >> s, b), (a >> s, b >> (63 - s))] {
                let (x, y) = (I32F32::from_bits(x), I32F32::from_bits(y));
                proptest::prop_assert_eq!(x.sat_mul(y), x.saturating_mul(y));
            }
        }

        #[test]
        fn divisor_is_bit_identical(a in proptest::prelude::any::<i64>(), b in proptest::prelude::any::<i64>(), s in 0u32..64) {
            let p = 1i64 << (s % 62);
            for d in [b, b >> s, b & !0xffff_ffff, (b >> s) & !0xffff_ffff, p, p + 1, p - 1] {
                let d = I32F32::from_bits(d);
                let div = Divisor::new(d);
                for x in [a, a >> s, a.rem_euclid(1 << 32), a & !0xffff_ffff, (a >> s) & !0xffff_ffff, 0, (1 << 32) - 1] {
                    let x = I32F32::from_bits(x);
                    proptest::prop_assert_eq!(div.div(x), x.safe_div(d), "{} / {}", x, d);
                }
            }
        }

        #[test]
        fn fast_exp_is_bit_identical(a in proptest::prelude::any::<i64>(), r in -(21i64 << 32)..(21i64 << 32)) {
            for bits in [a, r, r >> 16, r >> 32] {
                let x = I32F32::from_bits(bits);
                proptest::prop_assert_eq!(exp_i32f32(x), exp::<I32F32, I32F32>(x), "exp of {}", x);
            }
        }
    }

    #[test]
    fn u16_conversions_are_exact() {
        for v in 0..=u16::MAX {
            let slow = I32F32::saturating_from_num(v);
            assert_eq!(fixed_from_u16(v), slow);
            let d = I32F32::saturating_from_num(u16::MAX);
            assert_eq!(slow.safe_div(d), slow.checked_div(d).unwrap_or_default());
        }
        for (a, b) in [
            (i64::MIN, -1),
            (i64::MAX, 1),
            (1 << 40, 3 << 32),
            (i64::MAX, i64::MAX),
        ] {
            let (x, y) = (I32F32::from_bits(a), I32F32::from_bits(b));
            assert_eq!(x.safe_div(y), x.checked_div(y).unwrap_or_default());
            assert_eq!(x.sat_mul(y), x.saturating_mul(y));
        }
    }

    #[test]
    fn fast_exp_edges() {
        for bits in [
            0,
            1,
            -1,
            1 << 32,
            -(1 << 32),
            20 << 32,
            -(20 << 32),
            i64::MIN,
            i64::MAX,
        ] {
            let x = I32F32::from_bits(bits);
            assert_eq!(exp_i32f32(x), exp::<I32F32, I32F32>(x), "exp of {x}");
        }
    }

    #[test]
    fn max_limit_check() {
        assert!(check_vec_max_limited(&[65535, 65535], 32768));
        assert!(!check_vec_max_limited(&[65535, 1], 32768));
        assert!(check_vec_max_limited(&[], 0));
    }
}
