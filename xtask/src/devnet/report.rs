//! The devnet's result: one row per neuron from the chain's metagraph and the validators' metrics,
//! the summary statistics the mechanism study compares, the printed table and the JSON file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

/// Populations that do honest work: their emission is the mechanism's job to pay.
pub(crate) fn is_honest(population: &str) -> bool {
    population == "honest"
}

/// Automated but legitimate miners: neither in the honest Spearman nor in the non-honest share.
pub(crate) fn is_automated(population: &str) -> bool {
    population == "reward-model"
}

/// One neuron's row.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) uid: u16,
    pub(crate) hotkey: String,
    /// `validator`, or the miner's population.
    pub(crate) population: String,
    pub(crate) noise: Option<f64>,
    pub(crate) true_quality: Option<f64>,
    /// Mean task score over the run, averaged over validators (metrics `dojo_miner_task_score`).
    pub(crate) task_score: Option<f64>,
    /// Moving average score, averaged over validators (`dojo_miner_ema`).
    pub(crate) ema: Option<f64>,
    /// Share of the validators' weight rows (each row normalised to 1, averaged over validators).
    pub(crate) weight: f64,
    pub(crate) consensus: f64,
    pub(crate) incentive: f64,
    pub(crate) dividends: f64,
    /// Rao of the last epoch.
    pub(crate) emission: u64,
}

impl Row {
    pub(crate) fn is_validator(&self) -> bool {
        self.population == "validator"
    }
}

/// The summary of one run.
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    pub(crate) spearman_quality_incentive: Option<f64>,
    pub(crate) non_honest_emission_share: f64,
    pub(crate) emission_share_by_population: BTreeMap<String, f64>,
    pub(crate) rounds_until_stable: Option<usize>,
}

/// Ranks with ties averaged (scipy's `rankdata(method="average")`).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rho; `None` with fewer than 3 points or a constant side (undefined, as in scipy).
pub(crate) fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 3 {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// The first round from which every later EMA snapshot orders the miners like the final one
/// (Spearman ≥ 0.95). `history` is `(round, score per miner)` in miner order.
pub(crate) fn rounds_until_stable(history: &[(usize, Vec<f64>)]) -> Option<usize> {
    let (_, last) = history.last()?;
    let mut stable_from = None;
    for (round, scores) in history.iter().rev() {
        match spearman(scores, last) {
            Some(r) if r >= 0.95 => stable_from = Some(*round),
            _ => break,
        }
    }
    stable_from
}

pub(crate) fn summarise(rows: &[Row], history: &[(usize, Vec<f64>)]) -> Summary {
    let honest: Vec<&Row> = rows.iter().filter(|r| is_honest(&r.population)).collect();
    let q: Vec<f64> = honest
        .iter()
        .map(|r| r.true_quality.unwrap_or(0.0))
        .collect();
    let inc: Vec<f64> = honest.iter().map(|r| r.incentive).collect();
    let miners: Vec<&Row> = rows.iter().filter(|r| !r.is_validator()).collect();
    let total: f64 = miners.iter().map(|r| r.emission as f64).sum();
    let mut by_pop: BTreeMap<String, f64> = BTreeMap::new();
    for r in &miners {
        *by_pop.entry(r.population.clone()).or_default() += r.emission as f64;
    }
    let share = |e: f64| if total > 0.0 { e / total } else { 0.0 };
    let non_honest: f64 = miners
        .iter()
        .filter(|r| !is_honest(&r.population) && !is_automated(&r.population))
        .map(|r| r.emission as f64)
        .sum();
    Summary {
        spearman_quality_incentive: spearman(&q, &inc),
        non_honest_emission_share: share(non_honest),
        emission_share_by_population: by_pop.into_iter().map(|(k, v)| (k, share(v))).collect(),
        rounds_until_stable: rounds_until_stable(history),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |x| format!("{x:.digits$}"))
}

/// The table printed at the end of a run.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>4} {:<10} {:<13} {:>6} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>14}",
        "uid",
        "role",
        "population",
        "true_q",
        "task",
        "ema",
        "weight",
        "consens",
        "incent",
        "divid",
        "emission(rao)"
    );
    for r in rows {
        let role = if r.is_validator() {
            "validator"
        } else {
            "miner"
        };
        let pop = match (r.population.as_str(), r.noise) {
            ("validator", _) => "-".to_owned(),
            (p, Some(n)) => format!("{p}:{n}"),
            (p, None) => p.to_owned(),
        };
        let _ = writeln!(
            s,
            "{:>4} {:<10} {:<13} {:>6} {:>7} {:>7} {:>7.4} {:>7.4} {:>7.4} {:>7.4} {:>14}",
            r.uid,
            role,
            pop,
            opt(r.true_quality, 2),
            opt(r.task_score, 3),
            opt(r.ema, 3),
            r.weight,
            r.consensus,
            r.incentive,
            r.dividends,
            r.emission
        );
    }
    s
}

pub(crate) fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Spearman(true quality, incentive) over honest miners: {}",
        opt(s.spearman_quality_incentive, 3)
    );
    let _ = writeln!(
        out,
        "non-honest share of miner emission: {:.1} %",
        s.non_honest_emission_share * 100.0
    );
    let shares: Vec<String> = s
        .emission_share_by_population
        .iter()
        .map(|(k, v)| format!("{k} {:.1} %", v * 100.0))
        .collect();
    let _ = writeln!(out, "emission by population: {}", shares.join(", "));
    let _ = writeln!(
        out,
        "rounds until the EMA ranking is stable: {}",
        s.rounds_until_stable
            .map_or_else(|| "not within the run".to_owned(), |r| r.to_string())
    );
    out
}

pub(crate) fn to_json(
    mechanism: &str,
    rounds: usize,
    rows: &[Row],
    s: &Summary,
    extra: Value,
) -> Value {
    let neuron = |r: &Row| {
        json!({
            "uid": r.uid,
            "hotkey": r.hotkey,
            "population": r.population,
            "noise": r.noise,
            "true_quality": r.true_quality,
            "task_score": r.task_score,
            "score": r.ema,
            "weight": r.weight,
            "consensus": r.consensus,
            "incentive": r.incentive,
            "dividends": r.dividends,
            "emission": r.emission,
        })
    };
    json!({
        "mechanism": mechanism,
        "rounds": rounds,
        "miners": rows.iter().filter(|r| !r.is_validator()).map(neuron).collect::<Vec<_>>(),
        "validators": rows.iter().filter(|r| r.is_validator()).map(neuron).collect::<Vec<_>>(),
        "summary": {
            "spearman_quality_incentive": s.spearman_quality_incentive,
            "non_honest_emission_share": s.non_honest_emission_share,
            "emission_share_by_population": s.emission_share_by_population,
            "rounds_until_stable": s.rounds_until_stable,
        },
        "run": extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(uid: u16, pop: &str, q: Option<f64>, inc: f64, em: u64) -> Row {
        Row {
            uid,
            hotkey: format!("hk{uid}"),
            population: pop.to_owned(),
            noise: None,
            true_quality: q,
            task_score: None,
            ema: None,
            weight: 0.0,
            consensus: 0.0,
            incentive: inc,
            dividends: 0.0,
            emission: em,
        }
    }

    #[test]
    fn spearman_matches_scipy_with_ties() {
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]).statistic == 0.9486832980505138
        let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((r - 0.948_683_298_050_513_8).abs() < 1e-12, "{r}");
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn summary_separates_honest_and_others() {
        let rows = vec![
            row(0, "validator", None, 0.0, 500),
            row(1, "honest", Some(0.9), 0.5, 50),
            row(2, "honest", Some(0.5), 0.3, 30),
            row(3, "honest", Some(0.2), 0.1, 10),
            row(4, "lazy", Some(0.0), 0.1, 10),
            row(5, "reward-model", None, 0.0, 0),
        ];
        let s = summarise(&rows, &[]);
        assert!((s.spearman_quality_incentive.unwrap() - 1.0).abs() < 1e-12);
        assert!((s.non_honest_emission_share - 0.1).abs() < 1e-12);
        assert!((s.emission_share_by_population["honest"] - 0.9).abs() < 1e-12);
    }

    #[test]
    fn stability_is_the_start_of_the_final_agreeing_run() {
        let h = vec![
            (1, vec![1.0, 2.0, 3.0, 4.0]),
            (2, vec![4.0, 3.0, 2.0, 1.0]),
            (3, vec![1.0, 2.0, 3.0, 5.0]),
            (4, vec![1.0, 2.0, 3.0, 4.0]),
        ];
        assert_eq!(rounds_until_stable(&h), Some(3));
    }
}
