//! Gradient-boosted regression trees (forust-ml) with scikit-learn's `GradientBoostingRegressor`
//! parameters, a seeded train/test split and held-out R².

use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use forust_ml::sampler::SampleMethod;
use forust_ml::{GradientBooster, Matrix};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::config::GbrArgs;
use crate::stats;

/// Outcome of fitting one target.
#[derive(Debug, Clone)]
pub struct FitReport {
    /// Training rows.
    pub n_train: usize,
    /// Held-out rows.
    pub n_test: usize,
    /// Input columns that varied in the training rows (constant ones are dropped).
    pub n_features: usize,
    /// Trees kept (after early stopping).
    pub trees: usize,
    /// R² on the training rows.
    pub train_r2: Option<f64>,
    /// R² on the held-out rows: how much of the target the inputs explain.
    pub test_r2: Option<f64>,
    /// Mean absolute error on held-out rows.
    pub test_mae: Option<f64>,
    /// `(y, y_pred)` for held-out rows.
    pub test_points: Vec<(f64, f64)>,
}

fn seeded_shuffle(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    idx.shuffle(&mut rng);
    idx
}

/// Column-major matrix of the given rows and columns.
fn column_major(rows: &[Vec<f64>], pick: &[usize], cols: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(pick.len() * cols.len());
    for &c in cols {
        for &r in pick {
            out.push(rows[r][c]);
        }
    }
    out
}

/// Fits `y ~ x` on a seeded `1 - test_fraction` split and scores the rest.
pub fn fit(
    x: &[Vec<f64>],
    y: &[f64],
    args: &GbrArgs,
    test_fraction: f64,
) -> Result<FitReport, String> {
    let n = y.len();
    if n != x.len() {
        return Err(format!("{} feature rows for {} targets", x.len(), n));
    }
    if n < 5 {
        return Err(format!("need at least 5 rows to fit and hold out, got {n}"));
    }
    if y.iter().any(|v| !v.is_finite()) {
        return Err("target has non-finite values".to_owned());
    }
    let width = x.first().map_or(0, Vec::len);
    let order = seeded_shuffle(n, args.random_state);
    let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1, n - 2);
    let (test, train) = order.split_at(n_test);
    let (fit_rows, val_rows): (Vec<usize>, Vec<usize>) = match args.n_iter_no_change {
        Some(_) => {
            let n_val = ((train.len() as f64 * args.validation_fraction).round() as usize)
                .clamp(1, train.len() - 1);
            (train[n_val..].to_vec(), train[..n_val].to_vec())
        }
        None => (train.to_vec(), Vec::new()),
    };
    // forust rejects columns without variance; they carry no information anyway.
    let cols: Vec<usize> = (0..width)
        .filter(|&c| {
            let first = x[fit_rows[0]][c];
            fit_rows.iter().any(|&r| x[r][c] != first)
        })
        .collect();
    if cols.is_empty() {
        return Err("every input column is constant on the training rows".to_owned());
    }
    let fit_data = column_major(x, &fit_rows, &cols);
    let fit_y: Vec<f64> = fit_rows.iter().map(|&r| y[r]).collect();
    let fit_m = Matrix::new(&fit_data, fit_rows.len(), cols.len());
    let mut booster = GradientBooster::default()
        .set_objective_type(ObjectiveType::SquaredLoss)
        .set_iterations(args.n_estimators)
        .set_learning_rate(args.learning_rate)
        .set_max_depth(args.max_depth)
        .set_min_leaf_weight(args.min_samples_leaf as f32)
        .set_subsample(args.subsample)
        .set_sample_method(if args.subsample < 1.0 {
            SampleMethod::Random
        } else {
            SampleMethod::None
        })
        .set_seed(args.random_state)
        .set_initialize_base_score(true)
        .set_parallel(false);
    booster.log_iterations = args.verbose;
    let val_data = column_major(x, &val_rows, &cols);
    let val_y: Vec<f64> = val_rows.iter().map(|&r| y[r]).collect();
    let val_w = vec![1.0; val_rows.len()];
    let eval = if let Some(rounds) = args.n_iter_no_change {
        booster = booster
            .set_early_stopping_rounds(Some(rounds))
            .set_evaluation_metric(Some(Metric::RootMeanSquaredError));
        Some(vec![(
            Matrix::new(&val_data, val_rows.len(), cols.len()),
            val_y.as_slice(),
            val_w.as_slice(),
        )])
    } else {
        None
    };
    booster
        .fit_unweighted(&fit_m, &fit_y, eval)
        .map_err(|e| e.to_string())?;
    let predict = |rows: &[usize]| -> Vec<f64> {
        let d = column_major(x, rows, &cols);
        booster.predict(&Matrix::new(&d, rows.len(), cols.len()), false)
    };
    let train_pred = predict(train);
    let train_y: Vec<f64> = train.iter().map(|&r| y[r]).collect();
    let test_pred = predict(test);
    let test_y: Vec<f64> = test.iter().map(|&r| y[r]).collect();
    let trees = booster.prediction_iteration.unwrap_or(booster.trees.len());
    Ok(FitReport {
        n_train: train.len(),
        n_test: test.len(),
        n_features: cols.len(),
        trees,
        train_r2: stats::r2(&train_y, &train_pred),
        test_r2: stats::r2(&test_y, &test_pred),
        test_mae: stats::mae(&test_y, &test_pred),
        test_points: test_y.into_iter().zip(test_pred).collect(),
    })
}
