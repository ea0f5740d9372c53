//! Training and evaluating the code-task head on tasks with exact ground truth.
//!
//! A [`CodeTask`] is a prompt, its pages and each page's ground-truth rank (0 best), as the
//! offline generator makes them. Training turns each task into every ordered pair of its pages
//! (better, worse) and fits the Bradley–Terry MLP of [`crate::train::fit_head`] on their features.
//! Evaluation is per task: the Spearman correlation between the model's scores and the
//! ground-truth order of that task's pages.
//!
//! [`CodeSplit`] says which tasks train and which evaluate: templates held out of training, and
//! disjoint seed ranges, so evaluation pages come from templates the head never saw.

use std::collections::BTreeMap;

use dojo_types::ports::{RewardError, RewardInput, RewardModel};
use serde::{Deserialize, Serialize};

use super::{CODE_HEAD_FORMAT, CodeHead, digest};
use crate::model::OnnxRewardModel;
use crate::train::{PairFeatures, TrainConfig, fit_head};

/// One task: a prompt and its pages with their ground-truth ranks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodeTask {
    /// The page template (the generator's name for it).
    pub template: String,
    /// The generator seed.
    pub seed: u64,
    /// The question.
    pub prompt: String,
    /// Page sources (files merged by [`digest::assemble`]).
    pub pages: Vec<String>,
    /// Ground-truth rank of each page, 0 best.
    pub ranks: Vec<u32>,
    /// What was done to each page (`ORIGINAL`, `INJECT_ERROR`, ...), for per-kind figures.
    pub augmentations: Vec<String>,
}

/// Which part of a [`CodeSplit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Training templates, training seeds.
    Train,
    /// Held-out templates, their own seeds: the headline figure.
    Heldout,
    /// Training templates, seeds never trained on: how much is lost on new templates.
    SeenTemplates,
}

/// The train/evaluation split of generator tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeSplit {
    /// Templates never trained on; only [`Part::Heldout`] uses them.
    pub heldout_templates: Vec<String>,
    /// First seed of each part (seeds are tried upward from there).
    pub train_from: u64,
    /// First seed of [`Part::Heldout`].
    pub heldout_from: u64,
    /// First seed of [`Part::SeenTemplates`].
    pub seen_from: u64,
    /// Tasks per part.
    pub train_tasks: usize,
    /// Tasks in [`Part::Heldout`].
    pub heldout_tasks: usize,
    /// Tasks in [`Part::SeenTemplates`].
    pub seen_tasks: usize,
}

impl Default for CodeSplit {
    fn default() -> Self {
        Self {
            // One animation and one game template; the other four (two science) train.
            heldout_templates: vec!["sorter".to_owned(), "targets".to_owned()],
            train_from: 0,
            heldout_from: 1_000_000,
            seen_from: 2_000_000,
            train_tasks: 480,
            heldout_tasks: 160,
            seen_tasks: 160,
        }
    }
}

impl CodeSplit {
    /// The tasks of `part`: `make(seed)` for seeds upward from the part's first, keeping those
    /// whose template belongs to the part, until there are enough (or 100 times as many seeds
    /// were tried).
    pub fn collect<E>(
        &self,
        part: Part,
        mut make: impl FnMut(u64) -> Result<CodeTask, E>,
    ) -> Result<Vec<CodeTask>, E> {
        let (from, want, heldout) = match part {
            Part::Train => (self.train_from, self.train_tasks, false),
            Part::Heldout => (self.heldout_from, self.heldout_tasks, true),
            Part::SeenTemplates => (self.seen_from, self.seen_tasks, false),
        };
        let mut out = Vec::with_capacity(want);
        let mut seed = from;
        while out.len() < want && seed < from.saturating_add(100 * want as u64 + 100) {
            let t = make(seed)?;
            if self.heldout_templates.contains(&t.template) == heldout {
                out.push(t);
            }
            seed += 1;
        }
        Ok(out)
    }
}

/// Hyper-parameters of the code-task head.
#[derive(Clone, Debug, Serialize)]
pub struct CodeTrainConfig {
    /// Initialisation seed.
    pub seed: u64,
    /// Whether the encoder's embedding of `(prompt, digest)` is part of the input.
    pub embedding: bool,
    /// Hidden units.
    pub hidden: usize,
    /// Full-batch Adam steps.
    pub steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
}

impl Default for CodeTrainConfig {
    fn default() -> Self {
        Self {
            seed: 16,
            embedding: true,
            hidden: 16,
            steps: 300,
            lr: 3e-3,
            weight_decay: 1e-2,
        }
    }
}

/// Feature rows of every page of every task (`rows[task][page]`): the encoder's embedding of
/// `(prompt, digest)` when `encoder` is given, then the structural features.
pub fn task_rows(
    encoder: Option<&OnnxRewardModel>,
    tasks: &[CodeTask],
) -> Result<Vec<Vec<Vec<f32>>>, RewardError> {
    let inputs: Vec<RewardInput<'_>> = tasks
        .iter()
        .flat_map(|t| t.pages.iter().map(|p| RewardInput::new(&t.prompt, p)))
        .collect();
    let mut flat = super::features(encoder, &inputs)?.into_iter();
    Ok(tasks
        .iter()
        .map(|t| flat.by_ref().take(t.pages.len()).collect())
        .collect())
}

/// Only the last `keep` columns of each row (the structural features, for the ablation).
pub fn tail_columns(rows: &[Vec<Vec<f32>>], keep: usize) -> Vec<Vec<Vec<f32>>> {
    rows.iter()
        .map(|t| {
            t.iter()
                .map(|r| r[r.len().saturating_sub(keep)..].to_vec())
                .collect()
        })
        .collect()
}

/// Every ordered pair (better, worse) of every task's pages.
pub fn ordered_pairs(tasks: &[CodeTask], rows: &[Vec<Vec<f32>>]) -> PairFeatures {
    let mut out = PairFeatures::default();
    for (t, r) in tasks.iter().zip(rows) {
        for i in 0..t.pages.len() {
            for j in 0..t.pages.len() {
                if t.ranks[i] < t.ranks[j] {
                    out.chosen.push(r[i].clone());
                    out.rejected.push(r[j].clone());
                }
            }
        }
    }
    out
}

/// Fits the code-task head on the training tasks' rows.
pub fn fit(
    tasks: &[CodeTask],
    rows: &[Vec<Vec<f32>>],
    cfg: &CodeTrainConfig,
) -> Result<CodeHead, RewardError> {
    let pairs = ordered_pairs(tasks, rows);
    let head = fit_head(
        &pairs,
        &TrainConfig {
            seed: cfg.seed,
            hidden: cfg.hidden,
            steps: cfg.steps,
            lr: cfg.lr,
            weight_decay: cfg.weight_decay,
            // The code head's inputs are all structural: none is a side feature fit first.
            side: Vec::new(),
            ..TrainConfig::default()
        },
    )?;
    Ok(CodeHead {
        format: CODE_HEAD_FORMAT.to_owned(),
        digest: digest::DIGEST_FORMAT.to_owned(),
        embedding: cfg.embedding,
        features: digest::FEATURE_NAMES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        head,
    })
}

/// The head's scores of every page (`scores[task][page]`).
pub fn head_scores(head: &CodeHead, rows: &[Vec<Vec<f32>>]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|t| t.iter().map(|r| f64::from(head.head.score(r))).collect())
        .collect()
}

/// Any model's scores of every page, with `render` turning a page into the text it reads.
pub fn model_scores(
    model: &dyn RewardModel,
    tasks: &[CodeTask],
    render: impl Fn(&str) -> String,
) -> Result<Vec<Vec<f64>>, RewardError> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        let texts: Vec<String> = t.pages.iter().map(|p| render(p)).collect();
        let inputs: Vec<RewardInput<'_>> = texts
            .iter()
            .map(|x| RewardInput::new(&t.prompt, x))
            .collect();
        let s = model.score_batch(&inputs)?;
        if s.len() != inputs.len() {
            return Err(RewardError::Shape {
                expected: inputs.len(),
                got: s.len(),
            });
        }
        out.push(s.into_iter().map(f64::from).collect());
    }
    Ok(out)
}

/// Ranks of `xs` from 1 (smallest), ties given their average rank.
fn average_ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut ranks = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            ranks[*k] = avg;
        }
        i = j + 1;
    }
    ranks
}

/// Spearman's rho between `scores` (higher is better) and ground-truth `ranks` (0 best), with
/// average ranks for ties; 0 when either side is constant.
pub fn spearman(scores: &[f64], ranks: &[u32]) -> f64 {
    let quality: Vec<f64> = ranks.iter().map(|r| -f64::from(*r)).collect();
    let (a, b) = (average_ranks(scores), average_ranks(&quality));
    let n = a.len() as f64;
    if a.len() < 2 || a.len() != b.len() {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(&b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va <= 0.0 || vb <= 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// One task's figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskFigure {
    /// Template.
    pub template: String,
    /// Generator seed.
    pub seed: u64,
    /// Spearman with the ground truth.
    pub spearman: f64,
}

/// Per-task Spearman over a set of tasks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpearmanReport {
    /// Tasks.
    pub tasks: usize,
    /// Mean of the per-task Spearman.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Fraction of tasks with Spearman above 0.
    pub positive_fraction: f64,
    /// Fraction of tasks whose original (rank-0) page scores highest, ties counting against.
    pub original_first: f64,
    /// Fraction of all better/worse page pairs ordered correctly (ties count half).
    pub pair_accuracy: f64,
    /// Mean Spearman per template.
    pub by_template: BTreeMap<String, f64>,
    /// Per augmentation: fraction of its pages scored below their task's original.
    pub below_original: BTreeMap<String, f64>,
    /// Every task.
    pub per_task: Vec<TaskFigure>,
}

/// The report of `scores[task][page]` against the tasks' ground truth. Errors on no tasks.
pub fn report(tasks: &[CodeTask], scores: &[Vec<f64>]) -> Result<SpearmanReport, RewardError> {
    if tasks.is_empty() || tasks.len() != scores.len() {
        return Err(RewardError::InvalidInput(format!(
            "{} tasks and {} score rows",
            tasks.len(),
            scores.len()
        )));
    }
    let mut per_task = Vec::with_capacity(tasks.len());
    let (mut first, mut pairs, mut correct) = (0usize, 0usize, 0.0_f64);
    let mut tmpl: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut below: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (t, s) in tasks.iter().zip(scores) {
        if s.len() != t.ranks.len() || s.iter().any(|v| !v.is_finite()) {
            return Err(RewardError::InvalidInput(format!(
                "task {} has {} pages and scores {s:?}",
                t.seed,
                t.ranks.len()
            )));
        }
        let rho = spearman(s, &t.ranks);
        per_task.push(TaskFigure {
            template: t.template.clone(),
            seed: t.seed,
            spearman: rho,
        });
        let e = tmpl.entry(t.template.clone()).or_default();
        e.0 += rho;
        e.1 += 1;
        let best = t
            .ranks
            .iter()
            .enumerate()
            .min_by_key(|(_, r)| **r)
            .map(|(i, _)| i);
        if let Some(b) = best {
            if s.iter().enumerate().all(|(i, v)| i == b || *v < s[b]) {
                first += 1;
            }
            for (i, aug) in t.augmentations.iter().enumerate() {
                if i != b {
                    let e = below.entry(aug.clone()).or_default();
                    e.0 += usize::from(s[i] < s[b]);
                    e.1 += 1;
                }
            }
        }
        for i in 0..s.len() {
            for j in 0..s.len() {
                if t.ranks[i] < t.ranks[j] {
                    pairs += 1;
                    correct += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
    }
    let mut rhos: Vec<f64> = per_task.iter().map(|t| t.spearman).collect();
    rhos.sort_by(f64::total_cmp);
    let n = rhos.len();
    let median = if n % 2 == 1 {
        rhos[n / 2]
    } else {
        (rhos[n / 2 - 1] + rhos[n / 2]) / 2.0
    };
    Ok(SpearmanReport {
        tasks: n,
        mean: rhos.iter().sum::<f64>() / n as f64,
        median,
        min: rhos[0],
        positive_fraction: rhos.iter().filter(|r| **r > 0.0).count() as f64 / n as f64,
        original_first: first as f64 / n as f64,
        pair_accuracy: if pairs == 0 {
            0.0
        } else {
            correct / pairs as f64
        },
        by_template: tmpl
            .into_iter()
            .map(|(k, (s, c))| (k, s / c as f64))
            .collect(),
        below_original: below
            .into_iter()
            .map(|(k, (b, c))| (k, b as f64 / c as f64))
            .collect(),
        per_task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_perfect_reversed_and_tied_orders() {
        let ranks = [0, 1, 2, 3];
        assert!((spearman(&[4.0, 3.0, 2.0, 1.0], &ranks) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &ranks) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0, 1.0], &ranks), 0.0);
        // Ranks shuffled with the pages: only the pairing matters.
        assert!((spearman(&[2.0, 4.0, 1.0, 3.0], &[2, 0, 3, 1]) - 1.0).abs() < 1e-12);
        // One swap of neighbours in four: 1 - 6*2/(4*15) = 0.8.
        assert!((spearman(&[4.0, 2.0, 3.0, 1.0], &ranks) - 0.8).abs() < 1e-12);
    }

    fn task(seed: u64, template: &str) -> CodeTask {
        CodeTask {
            template: template.to_owned(),
            seed,
            prompt: String::new(),
            pages: vec![String::new(); 3],
            ranks: vec![0, 1, 2],
            augmentations: vec!["ORIGINAL".into(), "DELAY".into(), "JANK".into()],
        }
    }

    #[test]
    fn report_counts_orders_and_kinds() {
        let tasks = [task(1, "a"), task(2, "b")];
        let scores = vec![vec![3.0, 2.0, 1.0], vec![1.0, 2.0, 3.0]];
        let r = report(&tasks, &scores).unwrap();
        assert_eq!(
            (r.tasks, r.mean, r.min, r.positive_fraction),
            (2, 0.0, -1.0, 0.5)
        );
        assert_eq!(r.original_first, 0.5);
        assert_eq!(r.pair_accuracy, 0.5);
        assert_eq!(r.below_original["DELAY"], 0.5);
        assert_eq!(r.by_template["a"], 1.0);
        assert!(report(&[], &[]).is_err());
    }

    #[test]
    fn the_split_keeps_held_out_templates_apart() {
        let split = CodeSplit {
            train_tasks: 5,
            heldout_tasks: 3,
            seen_tasks: 2,
            ..CodeSplit::default()
        };
        let make = |seed: u64| -> Result<CodeTask, ()> {
            let names = ["drift", "sorter", "targets", "life"];
            Ok(task(seed, names[(seed % 4) as usize]))
        };
        let train = split.collect(Part::Train, make).unwrap();
        let held = split.collect(Part::Heldout, make).unwrap();
        assert_eq!((train.len(), held.len()), (5, 3));
        assert!(
            train
                .iter()
                .all(|t| !split.heldout_templates.contains(&t.template))
        );
        assert!(
            held.iter()
                .all(|t| split.heldout_templates.contains(&t.template))
        );
        assert!(held.iter().all(|t| t.seed >= split.heldout_from));
    }

    #[test]
    fn ordered_pairs_follow_the_ground_truth() {
        let t = task(1, "a");
        let rows = vec![vec![vec![0.0], vec![1.0], vec![2.0]]];
        let p = ordered_pairs(&[t], &rows);
        assert_eq!(p.chosen.len(), 3);
        assert!(p.chosen.iter().zip(&p.rejected).all(|(c, r)| c[0] < r[0]));
    }
}
