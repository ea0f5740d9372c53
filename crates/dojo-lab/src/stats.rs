//! Small statistics: means, correlations, R², effect sizes. NaN-free by construction: empty or
//! degenerate inputs give `None`.

/// Arithmetic mean.
pub fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        None
    } else {
        Some(x.iter().sum::<f64>() / x.len() as f64)
    }
}

/// Sample standard deviation (n - 1); `None` below two values.
pub fn std_dev(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    Some((x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt())
}

/// Median (sorts in place).
pub fn median(x: &mut [f64]) -> Option<f64> {
    quantile(x, 0.5)
}

/// Linear-interpolated quantile `q` in [0, 1] (sorts in place).
pub fn quantile(x: &mut [f64], q: f64) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    x.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (x.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    Some(x[lo] + (x[hi] - x[lo]) * (pos - lo as f64))
}

/// Pearson correlation; `None` when either side has no variance, lengths differ or a value is not
/// finite. The subnet's scoring crate holds the one implementation (numpy `corrcoef` semantics).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    dojo_scoring::stats::pearson(x, y).ok().flatten()
}

/// Spearman rank correlation with average ranks for ties (`scipy.stats.spearmanr`).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    dojo_scoring::stats::spearman(x, y).ok().flatten()
}

/// Coefficient of determination of `pred` against `y`; `None` when `y` has no variance.
pub fn r2(y: &[f64], pred: &[f64]) -> Option<f64> {
    if y.len() != pred.len() || y.is_empty() {
        return None;
    }
    let m = mean(y)?;
    let ss_tot: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
    if ss_tot <= 0.0 {
        return None;
    }
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b).powi(2)).sum();
    Some(1.0 - ss_res / ss_tot)
}

/// Mean absolute error.
pub fn mae(y: &[f64], pred: &[f64]) -> Option<f64> {
    if y.len() != pred.len() || y.is_empty() {
        return None;
    }
    Some(y.iter().zip(pred).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64)
}

/// Least-squares slope of `y` on `x`.
pub fn slope(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (mx, my) = (mean(x)?, mean(y)?);
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    Some(
        x.iter()
            .zip(y)
            .map(|(a, b)| (a - mx) * (b - my))
            .sum::<f64>()
            / sxx,
    )
}

/// Paired effect size Cohen's d_z = mean(d) / sd(d); `None` when the differences do not vary.
pub fn cohens_dz(diffs: &[f64]) -> Option<f64> {
    let sd = std_dev(diffs)?;
    if sd <= 0.0 {
        None
    } else {
        Some(mean(diffs)? / sd)
    }
}

/// `-log(sigmoid(d))`, computed stably: the pairwise Bradley-Terry loss for margin `d`.
pub fn pair_loss(d: f64) -> f64 {
    if d > 0.0 {
        (-d).exp().ln_1p()
    } else {
        -d + d.exp().ln_1p()
    }
}
