//! Vector operations with the exact semantics of the torch/numpy calls the subnet used.

/// `torch.nn.functional.cosine_similarity` default eps.
pub const COSINE_EPS: f64 = 1e-8;
/// `torch.nn.functional.normalize` default eps.
pub const NORMALIZE_EPS: f64 = 1e-12;

/// Cosine similarity `Σ a·b / max(‖a‖·‖b‖, eps)` (torch 2.3 `F.cosine_similarity` as the subnet
/// used it). A zero vector gives 0; NaN propagates. Extra elements of the longer input are ignored,
/// so callers pass equal lengths.
///
/// ```
/// use dojo_scoring::vector::{COSINE_EPS, cosine_similarity};
/// assert!((cosine_similarity(&[1.0, 0.0], &[1.0, 1.0], COSINE_EPS) - 0.5f64.sqrt()).abs() < 1e-12);
/// assert_eq!(cosine_similarity(&[0.0, 0.0], &[1.0, 1.0], COSINE_EPS), 0.0);
/// ```
pub fn cosine_similarity(a: &[f64], b: &[f64], eps: f64) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    dot / (na.sqrt() * nb.sqrt()).max(eps)
}

/// What [`minmax`] does when every element is equal (`max == min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum MinMaxGuard {
    /// Dojo v1.x (2024): no guard, `0/0` gives NaN everywhere.
    Nan,
    /// Dojo 2025: return all ones.
    #[default]
    Ones,
}

/// Min-max scaling `(x - min) / (max - min)` with the chosen guard for constant input.
///
/// ```
/// use dojo_scoring::vector::{MinMaxGuard, minmax};
/// assert_eq!(minmax(&[2.0, 4.0, 3.0], MinMaxGuard::Ones), [0.0, 1.0, 0.5]);
/// assert_eq!(minmax(&[5.0, 5.0], MinMaxGuard::Ones), [1.0, 1.0]);
/// assert!(minmax(&[5.0, 5.0], MinMaxGuard::Nan).iter().all(|v| v.is_nan()));
/// ```
pub fn minmax(x: &[f64], guard: MinMaxGuard) -> Vec<f64> {
    let mut out = x.to_vec();
    minmax_in_place(&mut out, guard);
    out
}

/// In-place [`minmax`].
pub fn minmax_in_place(x: &mut [f64], guard: MinMaxGuard) {
    // torch.min/max propagate NaN; fold with that semantics.
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut nan = false;
    for &v in x.iter() {
        nan |= v.is_nan();
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if nan {
        x.fill(f64::NAN);
        return;
    }
    let range = hi - lo;
    if range == 0.0 {
        match guard {
            MinMaxGuard::Nan => x.fill(f64::NAN),
            MinMaxGuard::Ones => x.fill(1.0),
        }
        return;
    }
    for v in x.iter_mut() {
        *v = (*v - lo) / range;
    }
}

/// `F.normalize(x, p=1, dim=0)`: `x / max(Σ|x|, eps)`. An all-zero vector stays zero.
///
/// ```
/// assert_eq!(dojo_scoring::vector::l1_normalize(&[1.0, 3.0], 1e-12), [0.25, 0.75]);
/// ```
pub fn l1_normalize(x: &[f64], eps: f64) -> Vec<f64> {
    let norm = x.iter().map(|v| v.abs()).sum::<f64>().max(eps);
    x.iter().map(|v| v / norm).collect()
}

/// `F.normalize(x, p=2, dim=0)`: `x / max(‖x‖₂, eps)`.
///
/// ```
/// assert_eq!(dojo_scoring::vector::l2_normalize(&[3.0, 4.0], 1e-12), [0.6, 0.8]);
/// ```
pub fn l2_normalize(x: &[f64], eps: f64) -> Vec<f64> {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt().max(eps);
    x.iter().map(|v| v / norm).collect()
}

/// Softmax with the maximum subtracted first (`F.softmax`, `scipy.special.softmax`).
/// Empty input gives empty output; NaN propagates.
///
/// ```
/// let s = dojo_scoring::vector::softmax(&[1.0, 1.0]);
/// assert_eq!(s, [0.5, 0.5]);
/// ```
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn softmax_sums_to_one(x in proptest::collection::vec(-700.0f64..700.0, 1..64)) {
            let s = softmax(&x);
            prop_assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            prop_assert!(s.iter().all(|v| (0.0..=1.0).contains(v)));
        }

        #[test]
        fn minmax_bounds(x in proptest::collection::vec(-1e9f64..1e9, 1..64)) {
            let m = minmax(&x, MinMaxGuard::Ones);
            prop_assert!(m.iter().all(|v| (0.0..=1.0).contains(v)));
        }

        #[test]
        fn cosine_bounded(v in proptest::collection::vec((-1e6f64..1e6, -1e6f64..1e6), 1..32)) {
            let (a, b): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            let c = cosine_similarity(&a, &b, COSINE_EPS);
            prop_assert!((-1.0 - 1e-12..=1.0 + 1e-12).contains(&c));
        }
    }
}
