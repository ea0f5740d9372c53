use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use dojo_types::ports::{RewardError, RewardInput, RewardModel, baselines};
use proptest::prelude::*;

use crate::error::LabError;
use crate::model::ModelFactory;
use crate::run::{RunOptions, run};
use crate::{config, stats};

const PAIRS: &str = r#"{"prompt": "What is 2+2?", "chosen": "2+2 equals 4.", "rejected": "Five."}
{"prompt": "Capital of France?", "chosen": "The capital of France is Paris.", "rejected": "London, probably."}
{"prompt": "Boiling point of water?", "chosen": "Water boils at 100 degrees Celsius at sea level.", "rejected": "Cold."}
{"prompt": "Who wrote Hamlet?", "chosen": "William Shakespeare wrote Hamlet around 1600.", "rejected": "Tolstoy."}
{"prompt": "What is DNA?", "chosen": "DNA is the molecule that carries genetic instructions.", "rejected": "A band."}
{"prompt": "Largest planet?", "chosen": "Jupiter is the largest planet in the solar system.", "rejected": "The Moon."}
"#;

/// Counts model calls; optionally fails after `fail_after` calls (an interrupted run).
#[derive(Debug)]
struct Counting {
    calls: Arc<AtomicUsize>,
    fail_after: Option<usize>,
}

impl RewardModel for Counting {
    fn name(&self) -> &str {
        "counting-length"
    }
    fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|k| n >= k) {
            return Err(RewardError::Unavailable("simulated crash".to_owned()));
        }
        baselines::Length.score_batch(batch)
    }
}

#[derive(Debug, Default)]
struct CountingFactory {
    calls: Arc<AtomicUsize>,
    loads: Arc<AtomicUsize>,
    fail_after: Option<usize>,
}

impl ModelFactory for CountingFactory {
    fn shipped_dir(&self) -> Option<PathBuf> {
        None
    }
    fn load_onnx(&self, _dir: &Path) -> Result<Arc<dyn RewardModel>, String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::new(Counting {
            calls: Arc::clone(&self.calls),
            fail_after: self.fail_after,
        }))
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_owned();
        std::fs::write(root.join("pairs.jsonl"), PAIRS).expect("write pairs");
        std::fs::create_dir_all(root.join("model")).expect("model dir");
        std::fs::write(root.join("model/model.onnx"), b"weights v1").expect("model file");
        Self { _tmp: tmp, root }
    }

    fn config(&self, yaml: &str) -> PathBuf {
        let p = self.root.join("exp.yaml");
        std::fs::write(&p, yaml).expect("write config");
        p
    }

    fn opts(&self) -> RunOptions {
        RunOptions {
            out_dir: self.root.join("runs"),
            cache_dir: self.root.join("cache"),
            progress: false,
        }
    }

    fn run(&self, yaml: &str, factory: &dyn ModelFactory) -> Result<crate::RunSummary, LabError> {
        run(&self.config(yaml), factory, &self.opts())
    }

    fn run_dirs(&self) -> usize {
        std::fs::read_dir(self.root.join("runs")).map_or(0, |d| d.count())
    }
}

const QUERY_CONFIG: &str = "
name: cache-test
steps:
  - model:
      id: rm
      kind: onnx
      path: model
  - data:
      id: pairs
      path: pairs.jsonl
  - query:
      id: q
      requires: [rm, pairs]
      batch_size: 2
  - analysis:
      id: feats
      requires: [q]
      features: [question_length, completion_length, embedding]
      embedding_dim: 8
      plot:
        - chosen_end_scores: [completion_length]
";

#[test]
fn second_run_of_unchanged_config_does_no_inference() {
    let env = Env::new();
    let f = CountingFactory::default();
    let first = env.run(QUERY_CONFIG, &f).expect("first run");
    let calls = f.calls.load(Ordering::SeqCst);
    assert_eq!(calls, 3, "6 pairs in batches of 2 rows");
    assert!(
        first
            .steps
            .iter()
            .all(|s| s.status == "ran" || s.status == "loaded"),
        "{:?}",
        first.steps
    );
    assert!(first.run_dir.join("report.html").is_file());
    assert!(first.run_dir.join("metrics.jsonl").is_file());
    assert!(first.run_dir.join("config.yaml").is_file());
    assert!(first.run_dir.join("run.log").is_file());
    assert!(
        first
            .run_dir
            .join("plots/feats-completion_length_vs_chosen_end_scores.png")
            .is_file()
    );

    let second = env.run(QUERY_CONFIG, &f).expect("second run");
    assert_eq!(
        f.calls.load(Ordering::SeqCst),
        calls,
        "no model call on the second run"
    );
    assert_eq!(
        f.loads.load(Ordering::SeqCst),
        1,
        "the model is not even loaded"
    );
    let status: Vec<(&str, &str)> = second
        .steps
        .iter()
        .map(|s| (s.id.as_str(), s.status))
        .collect();
    assert_eq!(
        status,
        [
            ("rm", "not needed"),
            ("pairs", "cached"),
            ("q", "cached"),
            ("feats", "cached")
        ]
    );
    assert_eq!(first.sections, second.sections);
}

#[test]
fn changing_a_step_reruns_it_and_its_dependents_only() {
    let env = Env::new();
    let f = CountingFactory::default();
    env.run(QUERY_CONFIG, &f).expect("first run");
    let changed = QUERY_CONFIG.replace("embedding_dim: 8", "embedding_dim: 16");
    let r = env.run(&changed, &f).expect("analysis changed");
    assert_eq!(f.calls.load(Ordering::SeqCst), 3, "query still cached");
    let st: Vec<&str> = r.steps.iter().map(|s| s.status).collect();
    assert_eq!(st, ["not needed", "cached", "cached", "ran"]);
    // New model weights invalidate the query and everything after it.
    std::fs::write(env.root.join("model/model.onnx"), b"weights v2").expect("retrain");
    let r = env.run(&changed, &f).expect("model changed");
    assert_eq!(f.calls.load(Ordering::SeqCst), 6);
    let st: Vec<&str> = r.steps.iter().map(|s| s.status).collect();
    assert_eq!(st, ["loaded", "cached", "ran", "ran"]);
}

#[test]
fn interrupted_query_resumes_from_checkpoint() {
    let env = Env::new();
    let crashing = CountingFactory {
        fail_after: Some(2),
        ..Default::default()
    };
    let err = env
        .run(QUERY_CONFIG, &crashing)
        .expect_err("crashes on the third batch");
    assert!(matches!(err, LabError::Reward { .. }), "{err}");
    let f = CountingFactory::default();
    env.run(QUERY_CONFIG, &f).expect("resumed run");
    assert_eq!(
        f.calls.load(Ordering::SeqCst),
        1,
        "only the missing batch is scored"
    );
    let cached = env.run(QUERY_CONFIG, &f).expect("third run");
    assert_eq!(f.calls.load(Ordering::SeqCst), 1);
    let q = cached
        .sections
        .iter()
        .find(|s| s.step == "q")
        .expect("query section");
    let acc = q
        .metrics
        .iter()
        .find(|m| m.name == "pair_accuracy.mean")
        .expect("accuracy");
    assert!(
        (acc.value - 1.0).abs() < 1e-12,
        "length model prefers the longer chosen answers"
    );
}

/// Asserts that `yaml` is rejected before any work: no model load, no run directory.
#[track_caller]
fn rejected(env: &Env, yaml: &str) -> String {
    let f = CountingFactory::default();
    let err = env.run(yaml, &f).expect_err("config must be rejected");
    assert_eq!(f.loads.load(Ordering::SeqCst), 0);
    assert_eq!(env.run_dirs(), 0, "no run directory for a rejected config");
    err.to_string()
}

#[test]
fn unknown_key_is_reported_with_its_line() {
    let env = Env::new();
    let msg = rejected(
        &env,
        &QUERY_CONFIG.replace("batch_size: 2", "batch_sise: 2"),
    );
    assert!(msg.contains("unknown field `batch_sise`"), "{msg}");
    assert!(msg.contains("line 14"), "{msg}");
}

#[test]
fn unknown_step_kind_is_reported() {
    let env = Env::new();
    let msg = rejected(&env, &QUERY_CONFIG.replace("  - query:", "  - qeury:"));
    assert!(msg.contains("unknown variant `qeury`"), "{msg}");
}

#[test]
fn missing_data_file_is_reported_before_work() {
    let env = Env::new();
    let msg = rejected(
        &env,
        &QUERY_CONFIG.replace("path: pairs.jsonl", "path: nope.jsonl"),
    );
    assert!(
        msg.contains("exp.yaml:10: step `pairs`: data file") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn missing_model_dir_is_reported_before_work() {
    let env = Env::new();
    let msg = rejected(
        &env,
        &QUERY_CONFIG.replace("path: model", "path: missing-model"),
    );
    assert!(
        msg.contains("step `rm`: model path") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn wrong_column_name_is_reported_before_work() {
    let env = Env::new();
    let yaml = QUERY_CONFIG.replace(
        "path: pairs.jsonl",
        "path: pairs.jsonl\n      schema:\n        prompt: question\n        chosen: chosen\n        rejected: rejected",
    );
    let msg = rejected(&env, &yaml);
    assert!(msg.contains("column `question` not found"), "{msg}");
    assert!(msg.contains("columns: chosen, prompt, rejected"), "{msg}");
}

#[test]
fn cycle_is_reported_with_its_path() {
    let env = Env::new();
    let yaml = "
name: cyc
steps:
  - data: {id: pairs, path: pairs.jsonl}
  - analysis:
      id: a
      requires: [b]
      features: [num_words]
  - analysis:
      id: b
      requires: [a]
      features: [num_words]
";
    let msg = rejected(&env, yaml);
    assert!(
        msg.contains("cycle") && (msg.contains("a -> b -> a") || msg.contains("b -> a -> b")),
        "{msg}"
    );
}

#[test]
fn unknown_requirement_is_reported() {
    let env = Env::new();
    let msg = rejected(
        &env,
        &QUERY_CONFIG.replace("requires: [rm, pairs]", "requires: [rm, pears]"),
    );
    assert!(msg.contains("requires unknown step `pears`"), "{msg}");
    assert!(msg.contains("exp.yaml:13"), "{msg}");
}

#[test]
fn invalid_estimator_parameters_are_reported() {
    let env = Env::new();
    let with_est = |args: &str| {
        format!(
            "{QUERY_CONFIG}      estimators:\n        gbr:\n          name: GradientBoostingRegressor\n          args: {args}\n      predict:\n        chosen_end_scores:\n          x: [completion_length]\n          estimator: gbr\n"
        )
    };
    let msg = rejected(&env, &with_est("{learning_rate: 0}"));
    assert!(
        msg.contains("estimator `gbr`: `learning_rate` must be > 0"),
        "{msg}"
    );
    let msg = rejected(&env, &with_est("{subsample: 1.5}"));
    assert!(msg.contains("`subsample` must be in (0, 1]"), "{msg}");
    let msg = rejected(&env, &with_est("{n_estimators: 100, min_samples_leef: 5}"));
    assert!(msg.contains("unknown field `min_samples_leef`"), "{msg}");
    let msg = rejected(&env, &with_est("{n_estimators: -3}"));
    assert!(
        msg.contains("n_estimators") || msg.contains("invalid"),
        "{msg}"
    );
}

#[test]
fn predict_needs_listed_features_and_stored_targets() {
    let env = Env::new();
    let base = format!(
        "{QUERY_CONFIG}      estimators:\n        gbr:\n          name: gradient_boosting_regressor\n      predict:\n"
    );
    let msg = rejected(
        &env,
        &format!(
            "{base}        chosen_end_scores:\n          x: [num_words]\n          estimator: gbr\n"
        ),
    );
    assert!(
        msg.contains("`num_words` is not listed in `features`"),
        "{msg}"
    );
    let msg = rejected(
        &env,
        &format!(
            "{base}        scores:\n          x: [completion_length]\n          estimator: gbr\n"
        ),
    );
    assert!(
        msg.contains("predict target `scores` is not stored"),
        "{msg}"
    );
    let msg = rejected(
        &env,
        &format!(
            "{base}        loss:\n          x: [completion_length]\n          estimator: xgb\n"
        ),
    );
    assert!(msg.contains("unknown estimator `xgb`"), "{msg}");
}

#[test]
fn shipped_model_without_install_is_a_clear_error() {
    let env = Env::new();
    let msg = rejected(
        &env,
        &QUERY_CONFIG.replace("kind: onnx\n      path: model", "kind: shipped"),
    );
    assert!(msg.contains("DOJO_REWARD_MODEL_DIR"), "{msg}");
}

#[test]
fn probes_flag_a_pure_length_model() {
    let env = Env::new();
    let yaml = "
name: probes
steps:
  - model: {id: rm, kind: length}
  - data: {id: pairs, path: pairs.jsonl}
  - analysis:
      id: probes
      requires: [rm, pairs]
      probes:
        - kind: length_bias
        - kind: keyword_stuffing
        - kind: repetition
          repeats: 2
        - kind: copy
";
    let r = env.run(yaml, &crate::BaselinesOnly).expect("run");
    let m = |name: &str| {
        r.sections[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(m("length_bias.win_rate"), 1.0);
    assert!(m("length_bias.mean_delta") > 0.0);
    assert!(m("length_bias.spearman_length") > 0.99);
    assert_eq!(m("keyword_stuffing.win_rate"), 1.0);
    assert_eq!(m("repetition.win_rate"), 1.0);
    // Padded rejected answers overtake every chosen answer they were shorter than.
    assert!(m("length_bias.flip_rate") > 0.5);
    assert!(m("copy_other_answer.mean_delta").is_finite());
}

#[test]
fn network_analysis_finds_the_copy_group() {
    let env = Env::new();
    let mut log = String::new();
    for e in 0..6 {
        let ev = serde_json::json!({
            "name": "answer0", "block": 100 + e, "step_length": 2.0, "prompt": format!("q{e}"),
            "uids": [1, 2, 3, 4],
            "completions": [format!("unique answer {e} from one"), "canned", "canned", ""],
            "completion_times": [3.0, 0.1, 0.2, 12.0],
            "rewards": [0.9, 0.1, 0.1, 0.0],
            "timestamp": 1000.0 + 60.0 * f64::from(e),
        });
        log.push_str(&ev.to_string());
        log.push('\n');
    }
    // A loguru-serialised line is unwrapped.
    log.push_str(r#"{"text": "x", "record": {"extra": {"uids": [2, 3], "completions": ["canned", "canned"], "rewards": [0.1, null], "completion_times": [0.1, 0.1]}, "time": {"timestamp": 1400.0}}}"#);
    log.push('\n');
    std::fs::write(env.root.join("events.jsonl"), log).expect("write events");
    let yaml = "
name: net
steps:
  - data: {id: ev, path: events.jsonl, format: events}
  - analysis:
      id: net
      requires: [ev]
      network: {top: 5}
";
    let r = env.run(yaml, &crate::BaselinesOnly).expect("run");
    let s = &r.sections[0];
    let m = |name: &str| {
        s.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(m("events"), 7.0);
    assert_eq!(m("identical.groups"), 1.0);
    assert_eq!(m("identical.uids"), 2.0);
    let groups = s
        .tables
        .iter()
        .find(|t| t.title.starts_with("Groups"))
        .expect("groups table");
    assert_eq!(groups.rows[0][1], "2, 3");
    let board = &s.tables[0];
    assert_eq!(board.rows[0][0], "1", "uid 1 leads on mean reward");
    assert!(r.run_dir.join("plots/net-leaderboard.png").is_file());
}

#[test]
fn bad_event_line_names_the_line() {
    let env = Env::new();
    std::fs::write(
        env.root.join("events.jsonl"),
        "{\"uids\": [1], \"completions\": [\"a\"], \"rewards\": [1.0]}\nnot json\n",
    )
    .expect("write");
    let yaml = "
name: net
steps:
  - data: {id: ev, path: events.jsonl, format: events}
  - analysis: {id: net, requires: [ev], network: {}}
";
    let err = env.run(yaml, &crate::BaselinesOnly).expect_err("bad line");
    assert!(
        err.to_string().contains("events.jsonl:2: not JSON"),
        "{err}"
    );
}

#[test]
fn gbdt_recovers_a_smooth_function() {
    let x: Vec<Vec<f64>> = (0..200)
        .map(|i| vec![f64::from(i) / 10.0, f64::from(i % 7)])
        .collect();
    let y: Vec<f64> = x.iter().map(|r| 3.0 * r[0] + (r[1] * 0.01)).collect();
    let args = config::GbrArgs {
        n_iter_no_change: Some(10),
        subsample: 0.9,
        min_samples_leaf: 5,
        ..Default::default()
    };
    let fit = crate::estimate::fit(&x, &y, &args, 0.2).expect("fit");
    assert!(fit.test_r2.expect("r2") > 0.9, "{:?}", fit.test_r2);
    assert_eq!(fit.n_test, 40);
    let constant: Vec<Vec<f64>> = (0..20).map(|_| vec![1.0]).collect();
    let err = crate::estimate::fit(&constant, &y[..20], &args, 0.2).expect_err("no usable column");
    assert!(err.contains("constant"), "{err}");
}

#[test]
fn random_sampling_is_seeded_and_in_file_order() {
    let s = config::Sample {
        method: config::SampleMethod::Random,
        n: config::Located::new(5),
        seed: 42,
    };
    let a = crate::data::sample_indices(100, &s);
    assert_eq!(a, crate::data::sample_indices(100, &s));
    assert_eq!(a.len(), 5);
    assert!(a.windows(2).all(|w| w[0] < w[1]));
    let first = config::Sample {
        method: config::SampleMethod::First,
        ..s
    };
    assert_eq!(crate::data::sample_indices(3, &first), [0, 1, 2]);
}

proptest! {
    #[test]
    fn correlations_are_bounded(v in proptest::collection::vec((-1e6f64..1e6, -1e6f64..1e6), 0..64)) {
        let (x, y): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
        for c in [stats::pearson(&x, &y), stats::spearman(&x, &y)].into_iter().flatten() {
            prop_assert!((-1.0..=1.0).contains(&c));
        }
    }

    #[test]
    fn pair_loss_is_finite_and_decreasing(a in -1e4f64..1e4, b in -1e4f64..1e4) {
        let (la, lb) = (stats::pair_loss(a), stats::pair_loss(b));
        prop_assert!(la.is_finite() && la >= 0.0);
        if a < b { prop_assert!(la >= lb); }
    }

    #[test]
    fn config_parser_never_panics(s in "\\PC{0,200}") {
        let _ = config::ExperimentConfig::from_yaml(&s, "fuzz.yaml");
    }

    #[test]
    fn embedding_is_unit_or_zero(s in "\\PC{0,120}", dim in 1usize..64) {
        let e = crate::text::hashed_embedding(&s, dim);
        let n: f32 = e.iter().map(|v| v * v).sum::<f32>().sqrt();
        prop_assert!(e.len() == dim && (n == 0.0 || (n - 1.0).abs() < 1e-4));
    }
}
