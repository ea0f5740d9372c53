//! `dojo-reward train-code`: the code-task head from offline-generator tasks, and its report.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use dojo_reward::OnnxRewardModel;
use dojo_reward::code::digest::{self, FEATURE_NAMES};
use dojo_reward::code::training::{
    self, CodeSplit, CodeTask, CodeTrainConfig, Part, SpearmanReport,
};
use dojo_reward::{RewardInput, RewardModel};
use dojo_synthetic::{Augmentation, Family, OfflineGenerator, augment};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One generator task as a [`CodeTask`]: pages merged from their files, ranks from the
/// augmentations.
pub(crate) fn code_task(generator: &OfflineGenerator, seed: u64) -> Result<CodeTask> {
    let t = generator
        .task(seed)
        .with_context(|| format!("generating task {seed}"))?;
    let template = t
        .generator()
        .strip_prefix("offline/")
        .unwrap_or(t.generator())
        .to_owned();
    let mut pages = Vec::new();
    let mut ranks = Vec::new();
    let mut augmentations = Vec::new();
    for c in t.completions() {
        let files: Vec<dojo_types::task::CodeFile> = c
            .files
            .iter()
            .map(|f| dojo_types::task::CodeFile {
                filename: f.filename.clone(),
                content: f.content.clone(),
                language: f.language.clone(),
            })
            .collect();
        pages.push(digest::assemble(&files));
        ranks.push(c.augmentation.rank());
        augmentations.push(c.augmentation.as_str().to_owned());
    }
    Ok(CodeTask {
        template,
        seed,
        prompt: t.prompt().to_owned(),
        pages,
        ranks,
        augmentations,
    })
}

/// The held-out task of `seed` with its question-family pages replaced: the original page plus
/// ranks 1 to 3 of one answer or performance family as `dojo_synthetic::augment` injects them
/// into pages it did not write (LLM answers). Same ground-truth ranks, other code: how far the
/// head's knowledge of the offline generator's own degradations carries.
pub(crate) fn injected_task(generator: &OfflineGenerator, seed: u64) -> Result<CodeTask> {
    let mut t = code_task(generator, seed)?;
    let Some(original) = t
        .ranks
        .iter()
        .position(|r| *r == 0)
        .map(|i| t.pages[i].clone())
    else {
        anyhow::bail!("task {seed} has no rank-0 page");
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x00c0_de00);
    let family = if rng.random_bool(0.5) {
        Family::Answer
    } else {
        Family::Performance
    };
    t.pages = vec![original.clone()];
    t.ranks = vec![0];
    t.augmentations = vec![Augmentation::Original.as_str().to_owned()];
    for rank in 1..=3 {
        let aug = family
            .member(rank)
            .context("every family has ranks 1 to 3")?;
        let page = augment::apply(&original, aug, &mut rng)
            .with_context(|| format!("{aug:?} is applied by program"))?;
        t.pages.push(page);
        t.ranks.push(rank);
        t.augmentations.push(aug.as_str().to_owned());
    }
    Ok(t)
}

/// The three models on one set of tasks.
#[derive(Debug, Serialize)]
pub(crate) struct Comparison {
    /// A head on the encoder's embedding of `(prompt, digest)` plus the structural features.
    pub(crate) with_embedding: SpearmanReport,
    /// A head on the structural features alone (same training).
    pub(crate) structural_only: SpearmanReport,
    /// Before: the text model on the page as the miner flattened it (`// file: index.html` and
    /// the source), truncated to its 256 tokens.
    pub(crate) text_model_before: SpearmanReport,
}

#[derive(Debug, Serialize)]
pub(crate) struct DigestSize {
    pub(crate) mean_chars: f64,
    pub(crate) max_chars: usize,
    pub(crate) mean_tokens: f64,
    pub(crate) max_tokens: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct CodeTrainReport {
    pub(crate) split: CodeSplit,
    pub(crate) config: CodeTrainConfig,
    pub(crate) digest: &'static str,
    pub(crate) features: Vec<&'static str>,
    pub(crate) train_tasks: usize,
    pub(crate) train_pairs: usize,
    pub(crate) digest_size: DigestSize,
    pub(crate) seconds_features: f64,
    pub(crate) seconds_fit: f64,
    /// How the shipped variant was chosen.
    pub(crate) selection: Selection,
    /// The shipped head on its training tasks.
    pub(crate) train_shipped: SpearmanReport,
    /// Held-out templates (`split.heldout_templates`), their own seeds: the headline.
    pub(crate) heldout: Comparison,
    /// Training templates, seeds never trained on.
    pub(crate) seen_templates: Comparison,
    /// The held-out tasks' originals degraded by `dojo_synthetic::augment` instead
    /// ([`injected_task`]).
    pub(crate) heldout_injected: Comparison,
}

/// Leave-one-template-out Spearman of one input variant on the training tasks.
#[derive(Debug, Serialize)]
pub(crate) struct Validation {
    /// Mean over folds of the left-out template's mean Spearman.
    pub(crate) mean: f64,
    /// Per left-out template.
    pub(crate) by_template: Vec<(String, f64)>,
}

/// The two candidate inputs under leave-one-template-out, and the one shipped (the higher mean).
#[derive(Debug, Serialize)]
pub(crate) struct Selection {
    pub(crate) with_embedding: Validation,
    pub(crate) structural_only: Validation,
    pub(crate) shipped: &'static str,
}

fn leave_one_template_out(
    tasks: &[CodeTask],
    rows: &[Vec<Vec<f32>>],
    cfg: &CodeTrainConfig,
) -> Result<Validation> {
    let mut templates: Vec<String> = tasks.iter().map(|t| t.template.clone()).collect();
    templates.sort();
    templates.dedup();
    let mut by_template = Vec::new();
    for left in &templates {
        let (mut fit_t, mut fit_r, mut val_t, mut val_r) = (vec![], vec![], vec![], vec![]);
        for (t, r) in tasks.iter().zip(rows) {
            if &t.template == left {
                val_t.push(t.clone());
                val_r.push(r.clone());
            } else {
                fit_t.push(t.clone());
                fit_r.push(r.clone());
            }
        }
        let head = training::fit(&fit_t, &fit_r, cfg)?;
        let r = training::report(&val_t, &training::head_scores(&head, &val_r))?;
        tracing::info!(template = %left, embedding = cfg.embedding, mean = r.mean, "left-out template");
        by_template.push((left.clone(), r.mean));
    }
    let mean = by_template.iter().map(|(_, m)| m).sum::<f64>() / by_template.len().max(1) as f64;
    Ok(Validation { mean, by_template })
}

/// How the miner's `reward_model` provider flattened a one-file code answer for the text model
/// (`dojo_miner::provider::flatten`).
fn flattened(page: &str) -> String {
    format!("// file: index.html\n{page}\n")
}

fn digest_size(m: &OnnxRewardModel, tasks: &[CodeTask]) -> Result<DigestSize> {
    let texts: Vec<String> = tasks
        .iter()
        .flat_map(|t| t.pages.iter().map(|p| digest::digest(p).text))
        .collect();
    let mut tokens = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        let inputs: Vec<RewardInput<'_>> = chunk.iter().map(|t| RewardInput::new("", t)).collect();
        let e = m.encode(&inputs)?;
        for row in 0..e.batch {
            let mask = &e.attention_mask[row * e.seq..(row + 1) * e.seq];
            // Less [CLS] [SEP] [SEP] around an empty prompt.
            tokens.push(mask.iter().filter(|v| **v == 1).count().saturating_sub(3));
        }
    }
    let n = texts.len().max(1) as f64;
    Ok(DigestSize {
        mean_chars: texts.iter().map(|t| t.chars().count()).sum::<usize>() as f64 / n,
        max_chars: texts.iter().map(|t| t.chars().count()).max().unwrap_or(0),
        mean_tokens: tokens.iter().sum::<usize>() as f64 / n,
        max_tokens: tokens.iter().copied().max().unwrap_or(0),
    })
}

/// Generates the split, trains, writes the head to `out`, and reports.
pub(crate) fn run(
    m: &OnnxRewardModel,
    cfg: &CodeTrainConfig,
    out: &Path,
) -> Result<CodeTrainReport> {
    let generator = OfflineGenerator::default();
    let split = CodeSplit::default();
    let make = |seed| code_task(&generator, seed);
    let train = split.collect(Part::Train, make)?;
    let heldout = split.collect(Part::Heldout, make)?;
    let seen = split.collect(Part::SeenTemplates, make)?;
    let injected = split.collect(Part::Heldout, |seed| injected_task(&generator, seed))?;
    tracing::info!(
        train = train.len(),
        heldout = heldout.len(),
        seen = seen.len(),
        "generated code tasks"
    );
    let t0 = Instant::now();
    let enc = cfg.embedding.then_some(m);
    let train_rows = training::task_rows(enc, &train)?;
    let heldout_rows = training::task_rows(enc, &heldout)?;
    let seen_rows = training::task_rows(enc, &seen)?;
    let injected_rows = training::task_rows(enc, &injected)?;
    let seconds_features = t0.elapsed().as_secs_f64();
    let f = FEATURE_NAMES.len();
    let structural_cfg = CodeTrainConfig {
        embedding: false,
        ..cfg.clone()
    };
    let train_structural = training::tail_columns(&train_rows, f);
    // Which input to ship is decided on the training templates alone, leaving each out in turn,
    // so the held-out templates stay unseen by every choice made here.
    let t1 = Instant::now();
    let with_embedding = leave_one_template_out(&train, &train_rows, cfg)?;
    let structural_only = leave_one_template_out(&train, &train_structural, &structural_cfg)?;
    let embedding = cfg.embedding && with_embedding.mean > structural_only.mean;
    let head = training::fit(&train, &train_rows, cfg)?;
    let structural = training::fit(&train, &train_structural, &structural_cfg)?;
    let seconds_fit = t1.elapsed().as_secs_f64();
    let shipped = if embedding { &head } else { &structural };
    shipped
        .write(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let selection = Selection {
        with_embedding,
        structural_only,
        shipped: if embedding {
            "with_embedding"
        } else {
            "structural_only"
        },
    };
    let compare = |tasks: &[CodeTask], rows: &[Vec<Vec<f32>>]| -> Result<Comparison> {
        Ok(Comparison {
            with_embedding: training::report(tasks, &training::head_scores(&head, rows))?,
            structural_only: training::report(
                tasks,
                &training::head_scores(&structural, &training::tail_columns(rows, f)),
            )?,
            text_model_before: training::report(
                tasks,
                &training::model_scores(m as &dyn RewardModel, tasks, flattened)?,
            )?,
        })
    };
    Ok(CodeTrainReport {
        split: split.clone(),
        config: cfg.clone(),
        digest: digest::DIGEST_FORMAT,
        features: FEATURE_NAMES.to_vec(),
        train_tasks: train.len(),
        train_pairs: training::ordered_pairs(&train, &train_rows).chosen.len(),
        digest_size: digest_size(m, &heldout)?,
        seconds_features,
        seconds_fit,
        train_shipped: training::report(
            &train,
            &training::head_scores(
                shipped,
                if embedding {
                    &train_rows
                } else {
                    &train_structural
                },
            ),
        )?,
        selection,
        heldout: compare(&heldout, &heldout_rows)?,
        seen_templates: compare(&seen, &seen_rows)?,
        heldout_injected: compare(&injected, &injected_rows)?,
    })
}

fn line(name: &str, r: &SpearmanReport) -> String {
    format!(
        "  {name:<22} mean {:.3}  median {:.3}  min {:.3}  >0 {:.3}  original first {:.3}  pairs {:.3}",
        r.mean, r.median, r.min, r.positive_fraction, r.original_first, r.pair_accuracy
    )
}

pub(crate) fn summary(r: &CodeTrainReport) -> String {
    let mut s = format!(
        "trained on {} tasks ({} pairs); leave-one-template-out mean Spearman: with embedding {:.3}, structural only {:.3}; shipped {} (train mean {:.3})\n",
        r.train_tasks,
        r.train_pairs,
        r.selection.with_embedding.mean,
        r.selection.structural_only.mean,
        r.selection.shipped,
        r.train_shipped.mean
    );
    for (title, c) in [
        (
            format!(
                "held-out templates {:?} ({} tasks)",
                r.split.heldout_templates,
                c_tasks(&r.heldout)
            ),
            &r.heldout,
        ),
        (
            format!(
                "seen templates, new seeds ({} tasks)",
                c_tasks(&r.seen_templates)
            ),
            &r.seen_templates,
        ),
        (
            format!(
                "held-out tasks degraded by dojo_synthetic::augment ({} tasks)",
                c_tasks(&r.heldout_injected)
            ),
            &r.heldout_injected,
        ),
    ] {
        s.push_str(&title);
        s.push('\n');
        s.push_str(&line("with embedding", &c.with_embedding));
        s.push('\n');
        s.push_str(&line("structural only", &c.structural_only));
        s.push('\n');
        s.push_str(&line("text model (before)", &c.text_model_before));
        s.push('\n');
    }
    s.push_str(&format!(
        "digest: mean {:.0} chars / {:.0} tokens, max {} chars / {} tokens",
        r.digest_size.mean_chars,
        r.digest_size.mean_tokens,
        r.digest_size.max_chars,
        r.digest_size.max_tokens
    ));
    s
}

fn c_tasks(c: &Comparison) -> usize {
    c.with_embedding.tasks
}
