//! The committed code-task head (`models/dojo-minilm-rm/code-head.json`) on its held-out tasks:
//! offline-generator tasks from templates it never trained on, regenerated from their seeds. The
//! floors sit below the figures in the model card so that platform noise passes but a broken
//! digest, feature order or head does not.

use std::path::PathBuf;

use dojo_reward::code::digest;
use dojo_reward::code::training::{CodeSplit, CodeTask, Part, model_scores, report};
use dojo_reward::code::{CODE_HEAD_FILE, CodeHead, CodeRewardModel};
use dojo_synthetic::OfflineGenerator;

use crate::model;

/// Mean per-task Spearman on the held-out templates below this fails.
const MEAN_FLOOR: f64 = 0.90;
/// Fraction of held-out tasks with a positive Spearman below this fails.
const POSITIVE_FLOOR: f64 = 0.95;
/// Fraction of held-out tasks whose original page scores highest below this fails.
const ORIGINAL_FIRST_FLOOR: f64 = 0.9;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/dojo-minilm-rm")
        .join(CODE_HEAD_FILE)
}

fn code_task(generator: &OfflineGenerator, seed: u64) -> CodeTask {
    let t = generator.task(seed).expect("offline task");
    let template = t.generator().trim_start_matches("offline/").to_owned();
    let (mut pages, mut ranks, mut augmentations) = (Vec::new(), Vec::new(), Vec::new());
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
    CodeTask {
        template,
        seed,
        prompt: t.prompt().to_owned(),
        pages,
        ranks,
        augmentations,
    }
}

/// The committed head as the miner runs it; `None` (skip) only if it needs the encoder and the
/// shipped model is not installed outside CI.
fn code_model() -> Option<CodeRewardModel> {
    let head = CodeHead::read(&committed()).expect("committed code-head.json");
    let encoder = if head.embedding { Some(model()?) } else { None };
    Some(CodeRewardModel::new(encoder, head).expect("code model"))
}

#[test]
fn code_head_clears_its_heldout_spearman_floor() {
    let Some(m) = code_model() else { return };
    let split = CodeSplit::default();
    let generator = OfflineGenerator::default();
    let tasks = split
        .collect(Part::Heldout, |seed| {
            Ok::<_, ()>(code_task(&generator, seed))
        })
        .unwrap();
    assert_eq!(tasks.len(), 160, "the model card's held-out set");
    assert!(
        tasks
            .iter()
            .all(|t| split.heldout_templates.contains(&t.template)),
        "only templates the head never trained on"
    );
    let scores = model_scores(&m, &tasks, str::to_owned).expect("score held-out pages");
    let r = report(&tasks, &scores).expect("report");
    eprintln!(
        "held-out code tasks: mean Spearman {:.4}, median {:.4}, min {:.4}, >0 {:.4}, original first {:.4}; {:?}",
        r.mean, r.median, r.min, r.positive_fraction, r.original_first, r.by_template
    );
    assert!(
        r.mean >= MEAN_FLOOR,
        "mean held-out Spearman {:.4} below {MEAN_FLOOR}",
        r.mean
    );
    assert!(
        r.positive_fraction >= POSITIVE_FLOOR,
        "only {:.4} of held-out tasks have a positive Spearman (floor {POSITIVE_FLOOR})",
        r.positive_fraction
    );
    assert!(
        r.original_first >= ORIGINAL_FIRST_FLOOR,
        "the original page scores highest in only {:.4} of held-out tasks (floor {ORIGINAL_FIRST_FLOOR})",
        r.original_first
    );
    for (template, mean) in &r.by_template {
        assert!(
            *mean >= MEAN_FLOOR - 0.1,
            "{template}: mean Spearman {mean:.4}"
        );
    }
}

/// `cargo xtask setup` copies the committed head into the assembled model directory, where the
/// miner loads it from.
#[test]
fn assembled_model_dir_carries_the_committed_code_head() {
    let Some(m) = model() else { return };
    let installed = m.dir().join(CODE_HEAD_FILE);
    let head = CodeHead::read(&installed)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask setup`)", installed.display()));
    assert_eq!(head, CodeHead::read(&committed()).unwrap());
    let loaded = CodeRewardModel::from_dir(m)
        .expect("load")
        .expect("present");
    assert_eq!(loaded.head(), &head);
}
