//! Training the reward head of `dojo-minilm-rm` with the Bradley–Terry loss.
//!
//! The MiniLM encoder is frozen; the model's `embedding` output (mean pool ++ `[CLS]`) feeds a
//! one-hidden-layer MLP `logit = w2 · relu(W1 x + b1) + b2`. For each pair the loss is
//! `-log sigmoid(logit(chosen) - logit(rejected))` plus L2 weight decay, minimised with full-batch
//! Adam from a seeded initialisation, so the same data and seed give the same head bit for bit.

use std::path::Path;

use dojo_types::ports::{RewardError, RewardInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::eval::{EvalReport, report};
use crate::model::OnnxRewardModel;
use crate::pairs::{PreferencePair, corpus, generate, split_items};

/// Format tag of `head.json`.
pub const HEAD_FORMAT: &str = "dojo-reward-head/1";

/// The trained head as stored in `head.json` (standardisation already folded into `w1`/`b1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Head {
    /// [`HEAD_FORMAT`].
    pub format: String,
    /// Input width.
    pub features: usize,
    /// Hidden width.
    pub hidden: usize,
    /// `[hidden][features]`.
    pub w1: Vec<Vec<f32>>,
    /// `[hidden]`.
    pub b1: Vec<f32>,
    /// `[hidden]`.
    pub w2: Vec<f32>,
    /// Output bias.
    pub b2: f32,
}

impl Head {
    /// The head's logit for one feature vector (same arithmetic as the exported Gemm/Relu/Gemm).
    pub fn score(&self, x: &[f32]) -> f32 {
        let mut s = self.b2;
        for (k, row) in self.w1.iter().enumerate() {
            let a: f32 = self.b1[k] + row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>();
            s += self.w2[k] * a.max(0.0);
        }
        s
    }
}

/// Hyper-parameters.
#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
    /// Seed for the data split, the generator and the initialisation.
    pub seed: u64,
    /// Hidden units.
    pub hidden: usize,
    /// Full-batch Adam steps.
    pub steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Generated pairs per corpus item and degradation kind.
    pub variants: usize,
    /// Corpus items held out (by prompt) for the accuracy report.
    pub holdout_items: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 52,
            hidden: 32,
            steps: 400,
            lr: 3e-3,
            weight_decay: 1e-3,
            variants: 3,
            holdout_items: 12,
        }
    }
}

/// Feature vectors of pairs: `chosen[i]` and `rejected[i]` belong to pair `i`.
#[derive(Clone, Debug, Default)]
pub struct PairFeatures {
    /// Features of the preferred responses.
    pub chosen: Vec<Vec<f32>>,
    /// Features of the dispreferred responses.
    pub rejected: Vec<Vec<f32>>,
}

/// Fits a head to `data`. Errors on empty or ragged input.
pub fn fit_head(data: &PairFeatures, cfg: &TrainConfig) -> Result<Head, RewardError> {
    let n = data.chosen.len();
    if n == 0 || data.rejected.len() != n {
        return Err(RewardError::InvalidInput(format!(
            "{n} chosen vs {} rejected feature rows",
            data.rejected.len()
        )));
    }
    let f = data.chosen[0].len();
    if f == 0
        || data
            .chosen
            .iter()
            .chain(&data.rejected)
            .any(|r| r.len() != f)
    {
        return Err(RewardError::InvalidInput(
            "feature rows differ in width".into(),
        ));
    }
    let h = cfg.hidden.max(1);
    // Standardise on the training rows; folded back into w1/b1 at the end.
    let rows = 2 * n;
    let mut mu = vec![0.0_f64; f];
    for r in data.chosen.iter().chain(&data.rejected) {
        for (m, v) in mu.iter_mut().zip(r) {
            *m += f64::from(*v) / rows as f64;
        }
    }
    let mut sd = vec![0.0_f64; f];
    for r in data.chosen.iter().chain(&data.rejected) {
        for ((s, v), m) in sd.iter_mut().zip(r).zip(&mu) {
            *s += (f64::from(*v) - m).powi(2) / rows as f64;
        }
    }
    for s in &mut sd {
        *s = s.sqrt().max(1e-6);
    }
    let z = |r: &Vec<f32>| -> Vec<f64> {
        r.iter()
            .zip(&mu)
            .zip(&sd)
            .map(|((v, m), s)| (f64::from(*v) - m) / s)
            .collect()
    };
    let zc: Vec<Vec<f64>> = data.chosen.iter().map(z).collect();
    let zr: Vec<Vec<f64>> = data.rejected.iter().map(z).collect();

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let a1 = (3.0 / f as f64).sqrt();
    let a2 = (3.0 / h as f64).sqrt();
    // Parameters flattened: w1 [h*f], b1 [h], w2 [h], b2.
    let mut p: Vec<f64> = (0..h * f).map(|_| rng.random_range(-a1..a1)).collect();
    p.extend(std::iter::repeat_n(0.0, h));
    p.extend((0..h).map(|_| rng.random_range(-a2..a2)));
    p.push(0.0);
    let (ow1, ob1, ow2, ob2) = (0, h * f, h * f + h, h * f + 2 * h);
    let mut m1 = vec![0.0_f64; p.len()];
    let mut m2 = vec![0.0_f64; p.len()];
    let (beta1, beta2, eps) = (0.9_f64, 0.999_f64, 1e-8_f64);

    let mut act = vec![0.0_f64; h];
    let forward = |p: &[f64], x: &[f64], act: &mut [f64]| -> f64 {
        let mut s = p[ob2];
        for k in 0..h {
            let row = &p[ow1 + k * f..ow1 + (k + 1) * f];
            let a = p[ob1 + k] + row.iter().zip(x).map(|(w, v)| w * v).sum::<f64>();
            act[k] = a;
            s += p[ow2 + k] * a.max(0.0);
        }
        s
    };
    for step in 1..=cfg.steps {
        let mut g = vec![0.0_f64; p.len()];
        let mut loss = 0.0;
        for i in 0..n {
            let mut act_c = vec![0.0_f64; h];
            let sc = forward(&p, &zc[i], &mut act_c);
            let sr = forward(&p, &zr[i], &mut act);
            let d = sc - sr;
            loss += softplus(-d);
            // d(-log sigmoid(d))/dd = -sigmoid(-d).
            let u = -sigmoid(-d) / n as f64;
            for (x, a, up) in [(&zc[i], &act_c, u), (&zr[i], &act, -u)] {
                g[ob2] += up;
                for k in 0..h {
                    g[ow2 + k] += up * a[k].max(0.0);
                    if a[k] > 0.0 {
                        let da = up * p[ow2 + k];
                        g[ob1 + k] += da;
                        let gr = &mut g[ow1 + k * f..ow1 + (k + 1) * f];
                        for (gw, v) in gr.iter_mut().zip(x.iter()) {
                            *gw += da * v;
                        }
                    }
                }
            }
        }
        for (i, gi) in g.iter_mut().enumerate() {
            if i < ob1 || (ow2..ob2).contains(&i) {
                *gi += cfg.weight_decay * p[i];
            }
        }
        let (bc1, bc2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
        for i in 0..p.len() {
            m1[i] = beta1 * m1[i] + (1.0 - beta1) * g[i];
            m2[i] = beta2 * m2[i] + (1.0 - beta2) * g[i] * g[i];
            p[i] -= cfg.lr * (m1[i] / bc1) / ((m2[i] / bc2).sqrt() + eps);
        }
        if step % 50 == 0 || step == 1 {
            tracing::info!(step, loss = loss / n as f64, "bradley-terry training");
        }
    }
    // Fold standardisation: w·(x-mu)/sd + b = (w/sd)·x + (b - Σ w·mu/sd).
    let mut w1 = Vec::with_capacity(h);
    let mut b1 = Vec::with_capacity(h);
    for k in 0..h {
        let row = &p[ow1 + k * f..ow1 + (k + 1) * f];
        let folded: Vec<f64> = row.iter().zip(&sd).map(|(w, s)| w / s).collect();
        b1.push((p[ob1 + k] - folded.iter().zip(&mu).map(|(w, m)| w * m).sum::<f64>()) as f32);
        w1.push(folded.into_iter().map(|w| w as f32).collect());
    }
    Ok(Head {
        format: HEAD_FORMAT.to_owned(),
        features: f,
        hidden: h,
        w1,
        b1,
        w2: p[ow2..ob2].iter().map(|w| *w as f32).collect(),
        b2: p[ob2] as f32,
    })
}

fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 { x } else { x.exp().ln_1p() }
}

/// Everything a training run reports (written next to `head.json`).
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    /// Hyper-parameters.
    pub config: TrainConfig,
    /// Training pairs (generated + from files).
    pub train_pairs: usize,
    /// Accuracy of the head on its training pairs.
    pub train: EvalReport,
    /// Accuracy on held-out pairs (prompts never seen in training).
    pub heldout: EvalReport,
    /// The length baseline on the same held-out pairs.
    pub heldout_length_baseline: EvalReport,
    /// The seeded random baseline on the same held-out pairs.
    pub heldout_random_baseline: EvalReport,
}

/// The standard data of the shipped model: `(train, held-out)` generated pairs, split by prompt.
pub fn standard_pairs(cfg: &TrainConfig) -> (Vec<PreferencePair>, Vec<PreferencePair>) {
    let (tr, te) = split_items(&corpus(), cfg.holdout_items, cfg.seed);
    (
        generate(&tr, cfg.variants, cfg.seed),
        generate(&te, cfg.variants, cfg.seed.wrapping_add(1)),
    )
}

/// Embeds both sides of every pair with `model`'s `embedding` output.
pub fn pair_features(
    model: &OnnxRewardModel,
    pairs: &[PreferencePair],
) -> Result<PairFeatures, RewardError> {
    let inputs: Vec<RewardInput<'_>> = pairs
        .iter()
        .flat_map(|p| {
            [
                RewardInput::new(&p.prompt, &p.chosen),
                RewardInput::new(&p.prompt, &p.rejected),
            ]
        })
        .collect();
    let emb = model.embed_batch(&inputs)?;
    let mut out = PairFeatures::default();
    for c in emb.chunks(2) {
        out.chosen.push(c[0].clone());
        out.rejected.push(c[1].clone());
    }
    Ok(out)
}

/// Trains a head for `model` on the standard generated pairs plus `extra` pairs, returning the head
/// and the report.
pub fn train(
    model: &OnnxRewardModel,
    extra: &[PreferencePair],
    cfg: &TrainConfig,
) -> Result<(Head, TrainReport, Vec<PreferencePair>), RewardError> {
    let (mut train_pairs, heldout_pairs) = standard_pairs(cfg);
    train_pairs.extend_from_slice(extra);
    tracing::info!(
        train = train_pairs.len(),
        heldout = heldout_pairs.len(),
        "embedding pairs"
    );
    let train_x = pair_features(model, &train_pairs)?;
    let test_x = pair_features(model, &heldout_pairs)?;
    let head = fit_head(&train_x, cfg)?;
    let margins = |x: &PairFeatures| -> Vec<f64> {
        x.chosen
            .iter()
            .zip(&x.rejected)
            .map(|(c, r)| f64::from(head.score(c)) - f64::from(head.score(r)))
            .collect()
    };
    let rep = TrainReport {
        config: cfg.clone(),
        train_pairs: train_pairs.len(),
        train: report(&train_pairs, &margins(&train_x)),
        heldout: report(&heldout_pairs, &margins(&test_x)),
        heldout_length_baseline: crate::eval::evaluate(&crate::Length, &heldout_pairs, 64)?,
        heldout_random_baseline: crate::eval::evaluate(
            &crate::Random::new(cfg.seed),
            &heldout_pairs,
            64,
        )?,
    };
    Ok((head, rep, heldout_pairs))
}

/// Writes `head` as JSON.
pub fn write_head(path: &Path, head: &Head) -> std::io::Result<()> {
    let text = serde_json::to_string(head).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Separable toy data: the preferred side has a larger first feature.
    fn toy(n: usize) -> PairFeatures {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut d = PairFeatures::default();
        for _ in 0..n {
            let noise: Vec<f32> = (0..4).map(|_| rng.random_range(-1.0..1.0)).collect();
            let mut c = noise.clone();
            c[0] += 1.0;
            let mut r: Vec<f32> = (0..4).map(|_| rng.random_range(-1.0..1.0)).collect();
            r[0] -= 1.0;
            d.chosen.push(c);
            d.rejected.push(r);
        }
        d
    }

    #[test]
    fn fits_separable_data_deterministically() {
        let cfg = TrainConfig {
            hidden: 4,
            steps: 150,
            lr: 0.02,
            ..TrainConfig::default()
        };
        let d = toy(64);
        let h = fit_head(&d, &cfg).unwrap();
        assert_eq!(h, fit_head(&d, &cfg).unwrap());
        let correct = d
            .chosen
            .iter()
            .zip(&d.rejected)
            .filter(|(c, r)| h.score(c) > h.score(r))
            .count();
        assert!(correct >= 60, "{correct}/64");
    }

    #[test]
    fn rejects_bad_shapes() {
        let cfg = TrainConfig::default();
        assert!(fit_head(&PairFeatures::default(), &cfg).is_err());
        let ragged = PairFeatures {
            chosen: vec![vec![1.0, 2.0]],
            rejected: vec![vec![1.0]],
        };
        assert!(fit_head(&ragged, &cfg).is_err());
    }
}
