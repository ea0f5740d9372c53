//! Statistics with the exact semantics of the reference libraries the subnet scored with
//! (scipy 1.14, scikit-learn 1.5, pingouin 0.5).
//!
//! Undefined results (constant input, zero denominators) are `None` here where the reference
//! returns NaN; callers decide what NaN meant in their era (usually `nan_to_num`, i.e. 0).

use crate::error::StatsError;

fn check_finite(x: &[f64]) -> Result<(), StatsError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite { index }),
        None => Ok(()),
    }
}

fn check_pair(x: &[f64], y: &[f64]) -> Result<(), StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            left: x.len(),
            right: y.len(),
        });
    }
    check_finite(x)?;
    check_finite(y)
}

/// Ranks starting at 1 with ties given their average rank (`scipy.stats.rankdata(method="average")`).
///
/// ```
/// assert_eq!(dojo_scoring::stats::rank_average(&[10.0, 20.0, 10.0]), [1.5, 3.0, 1.5]);
/// ```
pub fn rank_average(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        // Positions i..=j are tied; their average 1-based rank is the midpoint.
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation, computed as numpy's `corrcoef` does. `None` when either input is constant or
/// shorter than 2.
///
/// ```
/// let r = dojo_scoring::stats::pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap();
/// assert!((r.unwrap() - 1.0).abs() < 1e-12);
/// ```
pub fn pearson(x: &[f64], y: &[f64]) -> Result<Option<f64>, StatsError> {
    check_pair(x, y)?;
    Ok(pearson_unchecked(x, y))
}

fn pearson_unchecked(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    // numpy divides by sqrt(var_x) * sqrt(var_y) and clips to [-1, 1].
    let r = sxy / (sxx.sqrt() * syy.sqrt());
    Some(r.clamp(-1.0, 1.0))
}

/// Spearman's ρ with average ranks for ties (`scipy.stats.spearmanr(x, y).statistic`).
///
/// Returns `Ok(None)` where scipy returns NaN: constant input or fewer than 2 observations.
///
/// ```
/// use dojo_scoring::stats::spearman;
/// let rho = spearman(&[1.0, 2.0, 3.0], &[30.0, 20.0, 10.0]).unwrap().unwrap();
/// assert!((rho + 1.0).abs() < 1e-12);
/// assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).unwrap(), None);
/// assert!(spearman(&[1.0], &[1.0, 2.0]).is_err());
/// ```
pub fn spearman(x: &[f64], y: &[f64]) -> Result<Option<f64>, StatsError> {
    check_pair(x, y)?;
    Ok(pearson_unchecked(&rank_average(x), &rank_average(y)))
}

/// Kendall's τ-b with tie correction (`scipy.stats.kendalltau(x, y, variant="b").statistic`).
///
/// `Ok(None)` where scipy returns NaN (either input constant, or fewer than 2 observations).
///
/// ```
/// use dojo_scoring::stats::kendall_tau_b;
/// let t = kendall_tau_b(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap().unwrap();
/// assert!((t - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> Result<Option<f64>, StatsError> {
    check_pair(x, y)?;
    let n = x.len();
    if n < 2 {
        return Ok(None);
    }
    let (mut con, mut dis, mut xtie, mut ytie) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            // `+ 0.0`: -0.0 and 0.0 are a tie, as in scipy (total_cmp alone orders them).
            let dx = (x[i] + 0.0).total_cmp(&(x[j] + 0.0)) as i8;
            let dy = (y[i] + 0.0).total_cmp(&(y[j] + 0.0)) as i8;
            if dx == 0 {
                xtie += 1;
            }
            if dy == 0 {
                ytie += 1;
            }
            if dx != 0 && dy != 0 {
                if dx == dy {
                    con += 1;
                } else {
                    dis += 1;
                }
            }
        }
    }
    let tot = (n * (n - 1) / 2) as i64;
    if tot == xtie || tot == ytie {
        return Ok(None);
    }
    let denom = (((tot - xtie) as f64) * ((tot - ytie) as f64)).sqrt();
    Ok(Some(((con - dis) as f64 / denom).clamp(-1.0, 1.0)))
}

/// Weighting of disagreements for [`cohen_kappa`], as scikit-learn's `weights` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum KappaWeights {
    /// `weights=None`: every disagreement costs 1.
    #[default]
    Unweighted,
    /// `weights="linear"`: cost `|i - j|` between label indices.
    Linear,
    /// `weights="quadratic"`: cost `(i - j)^2` between label indices.
    Quadratic,
}

/// Cohen's κ between two raters (`sklearn.metrics.cohen_kappa_score(y1, y2, weights=…)`).
///
/// Labels are the sorted union of the observed values; weighted variants use distances between
/// label *indices*, as scikit-learn does. `Ok(None)` where scikit-learn returns NaN (zero expected
/// disagreement, e.g. both raters constant and equal).
///
/// ```
/// use dojo_scoring::stats::{KappaWeights, cohen_kappa};
/// let k = cohen_kappa(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 4.0, 3.0], KappaWeights::Unweighted).unwrap();
/// assert!((k.unwrap() - 1.0 / 3.0).abs() < 1e-12);
/// ```
pub fn cohen_kappa(
    y1: &[f64],
    y2: &[f64],
    weights: KappaWeights,
) -> Result<Option<f64>, StatsError> {
    check_pair(y1, y2)?;
    if y1.is_empty() {
        return Ok(None);
    }
    // `+ 0.0` turns -0.0 into 0.0: numpy treats them as one label, but `total_cmp` orders them
    // apart, so without it the dedup (which uses `==`) and the lookup disagree.
    let mut labels: Vec<f64> = y1.iter().chain(y2).map(|v| v + 0.0).collect();
    labels.sort_by(f64::total_cmp);
    labels.dedup();
    let l = labels.len();
    let index = |v: f64| labels.partition_point(|x| x.total_cmp(&(v + 0.0)).is_lt());
    let mut confusion = vec![0.0f64; l * l];
    for (a, b) in y1.iter().zip(y2) {
        confusion[index(*a) * l + index(*b)] += 1.0;
    }
    let sum0: Vec<f64> = (0..l)
        .map(|j| (0..l).map(|i| confusion[i * l + j]).sum())
        .collect();
    let sum1: Vec<f64> = (0..l)
        .map(|i| (0..l).map(|j| confusion[i * l + j]).sum())
        .collect();
    let total: f64 = sum0.iter().sum();
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..l {
        for j in 0..l {
            let w = match weights {
                KappaWeights::Unweighted => f64::from(u8::from(i != j)),
                KappaWeights::Linear => i.abs_diff(j) as f64,
                KappaWeights::Quadratic => (i.abs_diff(j) as f64).powi(2),
            };
            // sklearn: expected = outer(sum0, sum1) / sum(sum0), i.e. expected[i][j] = sum1[i] * sum0[j] / total.
            let expected = sum1[i] * sum0[j] / total;
            num += w * confusion[i * l + j];
            den += w * expected;
        }
    }
    if den == 0.0 {
        return Ok(None);
    }
    Ok(Some(1.0 - num / den))
}

/// The six intraclass correlations of McGraw & Wong as pingouin names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum IccKind {
    /// ICC(1,1): one-way random effects, single rater.
    Icc1,
    /// ICC(A,1) (pingouin "ICC2"): two-way random effects, absolute agreement, single rater.
    Icc2,
    /// ICC(C,1) (pingouin "ICC3"): two-way mixed effects, consistency, single rater.
    Icc3,
    /// ICC(1,k): one-way random effects, mean of k raters.
    Icc1k,
    /// ICC(A,k): two-way random effects, absolute agreement, mean of k raters.
    Icc2k,
    /// ICC(C,k): two-way mixed effects, consistency, mean of k raters.
    Icc3k,
}

/// All six ICC forms of one rating matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IccTable {
    /// ICC(1,1).
    pub icc1: Option<f64>,
    /// ICC(A,1).
    pub icc2: Option<f64>,
    /// ICC(C,1).
    pub icc3: Option<f64>,
    /// ICC(1,k).
    pub icc1k: Option<f64>,
    /// ICC(A,k).
    pub icc2k: Option<f64>,
    /// ICC(C,k).
    pub icc3k: Option<f64>,
}

impl IccTable {
    /// One form of the table.
    pub fn get(&self, kind: IccKind) -> Option<f64> {
        match kind {
            IccKind::Icc1 => self.icc1,
            IccKind::Icc2 => self.icc2,
            IccKind::Icc3 => self.icc3,
            IccKind::Icc1k => self.icc1k,
            IccKind::Icc2k => self.icc2k,
            IccKind::Icc3k => self.icc3k,
        }
    }
}

/// Intraclass correlations of `ratings[subject][rater]` (`pingouin.intraclass_corr`).
///
/// Needs at least 2 subjects and 2 raters, every row the same length. A form is `None` where its
/// denominator is zero (pingouin returns NaN or ±inf there).
///
/// ```
/// use dojo_scoring::stats::{IccKind, icc};
/// let ratings = [[1.0, 2.0], [2.0, 3.0], [3.0, 4.0], [4.0, 6.0]];
/// let rows: Vec<&[f64]> = ratings.iter().map(|r| r.as_slice()).collect();
/// let t = icc(&rows).unwrap();
/// assert!(t.get(IccKind::Icc3).unwrap() > t.get(IccKind::Icc2).unwrap());
/// ```
pub fn icc(ratings: &[&[f64]]) -> Result<IccTable, StatsError> {
    let n = ratings.len();
    let k = ratings.first().map_or(0, |r| r.len());
    if n < 2 || k < 2 || ratings.iter().any(|r| r.len() != k) {
        return Err(StatsError::Shape {
            min_rows: 2,
            min_cols: 2,
        });
    }
    for (i, row) in ratings.iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite()) {
            return Err(StatsError::NonFinite { index: i * k + j });
        }
    }
    let (nf, kf) = (n as f64, k as f64);
    let grand = ratings.iter().flat_map(|r| r.iter()).sum::<f64>() / (nf * kf);
    let row_means: Vec<f64> = ratings.iter().map(|r| r.iter().sum::<f64>() / kf).collect();
    let col_means: Vec<f64> = (0..k)
        .map(|j| ratings.iter().map(|r| r[j]).sum::<f64>() / nf)
        .collect();
    let sst: f64 = ratings
        .iter()
        .flat_map(|r| r.iter())
        .map(|v| (v - grand).powi(2))
        .sum();
    let ssr: f64 = kf * row_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let ssc: f64 = nf * col_means.iter().map(|m| (m - grand).powi(2)).sum::<f64>();
    let sse = sst - ssr - ssc;
    let msr = ssr / (nf - 1.0);
    let msc = ssc / (kf - 1.0);
    let mse = sse / ((nf - 1.0) * (kf - 1.0));
    let msw = (ssc + sse) / (nf * (kf - 1.0));
    let div = |a: f64, b: f64| if b == 0.0 { None } else { Some(a / b) };
    Ok(IccTable {
        icc1: div(msr - msw, msr + (kf - 1.0) * msw),
        icc2: div(msr - mse, msr + (kf - 1.0) * mse + kf * (msc - mse) / nf),
        icc3: div(msr - mse, msr + (kf - 1.0) * mse),
        icc1k: div(msr - msw, msr),
        icc2k: div(msr - mse, msr + (msc - mse) / nf),
        icc3k: div(msr - mse, msr),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spearman_matches_scipy_values() {
        // scipy.stats.spearmanr([1,2,3,4,5], [5,6,7,8,7]) = 0.8207826816681233
        let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0])
            .unwrap()
            .unwrap();
        assert!((r - 0.820_782_681_668_123_3).abs() < 1e-12, "{r}");
    }

    #[test]
    fn kendall_with_ties_matches_scipy() {
        // scipy.stats.kendalltau([12,2,1,12,2], [1,4,7,1,0]) = -0.4714045207910316
        let t = kendall_tau_b(&[12.0, 2.0, 1.0, 12.0, 2.0], &[1.0, 4.0, 7.0, 1.0, 0.0])
            .unwrap()
            .unwrap();
        assert!((t + 0.471_404_520_791_031_6).abs() < 1e-12, "{t}");
    }

    #[test]
    fn kappa_weighted_matches_sklearn() {
        // cohen_kappa_score([1,2,3,4], [1,3,3,1], weights=w): linear 0.19999999999999996, quadratic 0.0
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 3.0, 1.0]);
        let lin = cohen_kappa(&a, &b, KappaWeights::Linear).unwrap().unwrap();
        let quad = cohen_kappa(&a, &b, KappaWeights::Quadratic)
            .unwrap()
            .unwrap();
        assert!((lin - 0.2).abs() < 1e-12, "{lin}");
        assert!(quad.abs() < 1e-12, "{quad}");
        assert_eq!(
            cohen_kappa(&[2.0, 2.0], &[2.0, 2.0], KappaWeights::Unweighted).unwrap(),
            None
        );
    }

    #[test]
    fn icc_rejects_bad_shapes() {
        assert!(icc(&[&[1.0, 2.0][..]]).is_err());
        assert!(icc(&[&[1.0, 2.0][..], &[1.0][..]]).is_err());
        assert!(matches!(
            icc(&[&[1.0, f64::NAN][..], &[1.0, 2.0][..]]),
            Err(StatsError::NonFinite { index: 1 })
        ));
    }

    proptest! {
        #[test]
        fn correlations_are_bounded_and_symmetric(v in proptest::collection::vec((-1e6f64..1e6, -1e6f64..1e6), 0..40)) {
            let (x, y): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            for r in [spearman(&x, &y).unwrap(), kendall_tau_b(&x, &y).unwrap()].into_iter().flatten() {
                prop_assert!((-1.0..=1.0).contains(&r));
            }
            prop_assert_eq!(spearman(&x, &y).unwrap(), spearman(&y, &x).unwrap());
            prop_assert_eq!(kendall_tau_b(&x, &y).unwrap(), kendall_tau_b(&y, &x).unwrap());
        }

        #[test]
        fn kappa_of_identical_raters_is_one(x in proptest::collection::vec(0u8..5, 2..30)) {
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            if let Some(k) = cohen_kappa(&x, &x, KappaWeights::Unweighted).unwrap() {
                prop_assert!((k - 1.0).abs() < 1e-12);
            }
        }

        #[test]
        fn signed_zeros_are_one_label(n in 1usize..6) {
            let x: Vec<f64> = (0..n).map(|i| if i % 2 == 0 { 0.0 } else { -0.0 }).collect();
            let y: Vec<f64> = x.iter().map(|v| -v).collect();
            // Both raters give one label everywhere: scikit-learn's kappa is NaN (None here).
            prop_assert_eq!(cohen_kappa(&x, &y, KappaWeights::Unweighted).unwrap(), None);
        }

        #[test]
        fn never_panics(x in proptest::collection::vec(proptest::num::f64::ANY, 0..12),
                        y in proptest::collection::vec(proptest::num::f64::ANY, 0..12)) {
            let _ = spearman(&x, &y);
            let _ = kendall_tau_b(&x, &y);
            let _ = cohen_kappa(&x, &y, KappaWeights::Quadratic);
            let _ = pearson(&x, &y);
            let rows: Vec<&[f64]> = x.chunks(2).collect();
            let _ = icc(&rows);
        }
    }
}
