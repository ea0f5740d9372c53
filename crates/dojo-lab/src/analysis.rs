//! Tabular analysis over query results: text features, correlations, GBDT predictions with
//! held-out R², and scatter plots.

use std::collections::BTreeMap;

use crate::config::{AnalysisStep, Feature};
use crate::error::LabError;
use crate::estimate;
use crate::query::QueryResult;
use crate::report::{Plot, Section, Table, fmt_opt};
use crate::stats;
use crate::text;

/// Query rows concatenated across the required queries, with features attached.
struct Frame {
    columns: BTreeMap<String, Vec<f64>>,
    embeddings: Vec<Vec<f32>>,
    pairs: bool,
    rows: usize,
}

fn build_frame(step: &AnalysisStep, queries: &[(&str, &QueryResult)]) -> Frame {
    let mut columns: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut embeddings = Vec::new();
    let mut rows = 0;
    let mut pairs = false;
    let shared: Vec<String> = {
        let mut it = queries
            .iter()
            .map(|(_, q)| q.columns.keys().cloned().collect::<Vec<_>>());
        let first = it.next().unwrap_or_default();
        it.fold(first, |acc, ks| {
            acc.into_iter().filter(|k| ks.contains(k)).collect()
        })
    };
    for (_, q) in queries {
        pairs = q.pairs;
        rows += q.len();
        for k in &shared {
            columns
                .entry(k.clone())
                .or_default()
                .extend(q.columns[k].iter().copied());
        }
        for f in &step.features {
            let vals: Vec<f64> = match f {
                Feature::QuestionLength => q.prompts.iter().map(|p| text::char_len(p)).collect(),
                Feature::NumWords => q
                    .prompts
                    .iter()
                    .map(|p| text::words(p).len() as f64)
                    .collect(),
                Feature::AvgWordLength => {
                    q.prompts.iter().map(|p| text::avg_word_length(p)).collect()
                }
                Feature::MedianWordLength => q
                    .prompts
                    .iter()
                    .map(|p| text::median_word_length(p))
                    .collect(),
                Feature::CompletionLength => {
                    q.completions.iter().map(|c| text::char_len(c)).collect()
                }
                Feature::CompletionWords => q
                    .completions
                    .iter()
                    .map(|c| text::words(c).len() as f64)
                    .collect(),
                Feature::Embedding => {
                    embeddings.extend(
                        q.completions
                            .iter()
                            .map(|c| text::hashed_embedding(c, step.embedding_dim.value)),
                    );
                    continue;
                }
            };
            columns.entry(f.name().to_owned()).or_default().extend(vals);
        }
    }
    Frame {
        columns,
        embeddings,
        pairs,
        rows,
    }
}

/// Runs the `features`/`predict`/`plot` part of an analysis step.
pub(crate) fn run(
    step: &AnalysisStep,
    queries: &[(&str, &QueryResult)],
) -> Result<Section, LabError> {
    let id = &step.id.value;
    let frame = build_frame(step, queries);
    let mut s = Section::new(id, format!("Analysis `{id}`"));
    s.metric("rows", Some(frame.rows as f64));
    if frame.pairs {
        s.metric(
            "pair_accuracy",
            frame.columns.get("correct").and_then(|c| stats::mean(c)),
        );
        s.metric(
            "mean_margin",
            frame.columns.get("margins").and_then(|c| stats::mean(c)),
        );
        s.metric(
            "mean_loss",
            frame.columns.get("loss").and_then(|c| stats::mean(c)),
        );
    }
    let scalar_features: Vec<&str> = step
        .features
        .iter()
        .filter(|f| **f != Feature::Embedding)
        .map(|f| f.name())
        .collect();
    let targets: Vec<&str> = [
        "chosen_end_scores",
        "rejected_end_scores",
        "margins",
        "loss",
        "scores",
    ]
    .into_iter()
    .filter(|t| frame.columns.contains_key(*t))
    .collect();
    if !scalar_features.is_empty() && !targets.is_empty() {
        let mut t = Table {
            title: "Correlation of features with model outputs (Pearson r / Spearman ρ)".to_owned(),
            columns: std::iter::once("feature".to_owned())
                .chain(targets.iter().map(|t| (*t).to_owned()))
                .collect(),
            rows: Vec::new(),
        };
        for f in &scalar_features {
            let x = &frame.columns[*f];
            let mut row = vec![(*f).to_owned()];
            for tg in &targets {
                let y = &frame.columns[*tg];
                row.push(format!(
                    "{} / {}",
                    fmt_opt(stats::pearson(x, y)),
                    fmt_opt(stats::spearman(x, y))
                ));
                s.metric(format!("corr.{f}.{tg}.spearman"), stats::spearman(x, y));
            }
            t.rows.push(row);
        }
        s.tables.push(t);
    }
    if !step.predict.is_empty() {
        let mut t = Table {
            title: "Gradient-boosted regression (forust-ml), held-out split".to_owned(),
            columns: [
                "target",
                "inputs",
                "train rows",
                "test rows",
                "features",
                "trees",
                "train R²",
                "test R²",
                "test MAE",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: Vec::new(),
        };
        for (target, p) in &step.predict {
            let y = &frame.columns[target.as_str()];
            let mut x = vec![Vec::new(); frame.rows];
            for name in &p.x.value {
                if name == "embedding" {
                    for (row, e) in x.iter_mut().zip(&frame.embeddings) {
                        row.extend(e.iter().map(|v| f64::from(*v)));
                    }
                } else {
                    for (row, v) in x.iter_mut().zip(&frame.columns[name.as_str()]) {
                        row.push(*v);
                    }
                }
            }
            let est = &step.estimators[&p.estimator.value];
            let fit =
                estimate::fit(&x, y, &est.args.value, p.test_fraction).map_err(|message| {
                    LabError::Estimator {
                        step: id.clone(),
                        target: target.clone(),
                        message,
                    }
                })?;
            s.metric(format!("predict.{target}.test_r2"), fit.test_r2);
            s.metric(format!("predict.{target}.train_r2"), fit.train_r2);
            s.metric(format!("predict.{target}.test_mae"), fit.test_mae);
            t.rows.push(vec![
                target.clone(),
                p.x.value.join(", "),
                fit.n_train.to_string(),
                fit.n_test.to_string(),
                fit.n_features.to_string(),
                fit.trees.to_string(),
                fmt_opt(fit.train_r2),
                fmt_opt(fit.test_r2),
                fmt_opt(fit.test_mae),
            ]);
            s.plots.push(Plot::Scatter {
                name: format!("predict_{target}"),
                title: format!(
                    "{target}: held-out prediction (R² = {})",
                    fmt_opt(fit.test_r2)
                ),
                x_label: target.clone(),
                y_label: format!("predicted {target}"),
                points: fit.test_points,
                diagonal: true,
            });
        }
        s.tables.push(t);
        s.notes.push(
            "Held-out R² measures how much of the model output the shallow inputs explain: the higher it is, the easier the reward is to game without improving the answer.".to_owned(),
        );
    }
    for entry in &step.plot {
        for (target, xs) in &entry.value {
            let y = &frame.columns[target.as_str()];
            for xname in xs {
                let x = &frame.columns[xname.as_str()];
                s.plots.push(Plot::Scatter {
                    name: format!("{xname}_vs_{target}"),
                    title: format!(
                        "{xname} vs {target} (Spearman ρ = {})",
                        fmt_opt(stats::spearman(x, y))
                    ),
                    x_label: xname.clone(),
                    y_label: target.clone(),
                    points: x.iter().copied().zip(y.iter().copied()).collect(),
                    diagonal: false,
                });
            }
        }
    }
    Ok(s)
}
