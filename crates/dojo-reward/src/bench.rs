//! `bench-reward`: the Rust pipeline (tokenize, batch, infer) against the Python one
//! (`tokenizers` + `onnxruntime`) on the same model, inputs, batch size and thread count.
//!
//! The Python side runs first, then the Rust side, in the same process tree. Both sides sort the inputs by length and run chunks of `batch` pairs, so the ratio measures the
//! implementations, not different batching policies. Warm-up runs are excluded on both sides.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use dojo_types::ports::{RewardError, RewardInput, RewardModel};
use serde::{Deserialize, Serialize};

use crate::model::OnnxRewardModel;
use crate::pairs::{corpus, generate};

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Python interpreter with `onnxruntime` and `tokenizers`.
    pub python: PathBuf,
    /// `python/bench.py`.
    pub script: PathBuf,
    /// `(prompt, completion)` pairs scored per side.
    pub pairs: usize,
    /// Pairs per ORT run.
    pub batch: usize,
    /// ORT intra-op threads for both sides (`None`: ORT's default on both).
    pub threads: Option<usize>,
}

/// One side's figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SideResult {
    /// Pairs scored.
    pub pairs: usize,
    /// Wall-clock seconds for tokenization + inference.
    pub seconds: f64,
    /// `pairs / seconds`.
    pub pairs_per_s: f64,
}

/// The comparison.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Model directory.
    pub model: String,
    /// Pairs per ORT run.
    pub batch: usize,
    /// Thread setting used on both sides (`0` = ORT default).
    pub threads: usize,
    /// The Rust pipeline.
    pub rust: SideResult,
    /// The Python pipeline.
    pub python: SideResult,
    /// `rust.pairs_per_s / python.pairs_per_s`.
    pub ratio: f64,
    /// The Rust pipeline on the int8 variant (`model.int8.onnx`), when the directory has one.
    pub rust_int8: Option<SideResult>,
    /// `rust_int8.pairs_per_s / python.pairs_per_s` (Python runs the float model).
    pub ratio_int8: Option<f64>,
    /// Largest |int8 score − float score| on the same inputs.
    pub max_abs_score_diff_int8: Option<f64>,
    /// Peak resident set size of this (Rust) process, in MiB.
    pub rust_peak_rss_mib: f64,
    /// Largest score difference between the two sides on the same inputs.
    pub max_abs_score_diff: f64,
}

impl BenchReport {
    /// A human-readable summary.
    pub fn summary(&self) -> String {
        let mut s = self.float_summary();
        if let (Some(r), Some(ratio)) = (&self.rust_int8, self.ratio_int8) {
            s.push_str(&format!(
                "\n  rust int8 {:>5.1} pairs/s ({:.2} s): {ratio:.2}x python float (target >= 1.3x: {}); max |int8 - float score| {:.3}",
                r.pairs_per_s,
                r.seconds,
                if ratio >= 1.3 { "met" } else { "not met" },
                self.max_abs_score_diff_int8.unwrap_or(f64::NAN)
            ));
        }
        s
    }

    fn float_summary(&self) -> String {
        format!(
            "bench-reward: {} pairs, batch {}, threads {}\n  rust   {:>8.1} pairs/s ({:.2} s)\n  python {:>8.1} pairs/s ({:.2} s)\n  ratio  {:.2}x, same float model (target >= 1.3x: {})\n  rust peak RSS {:.0} MiB; max |score diff| {:.2e}",
            self.rust.pairs,
            self.batch,
            if self.threads == 0 {
                "ort-default".to_owned()
            } else {
                self.threads.to_string()
            },
            self.rust.pairs_per_s,
            self.rust.seconds,
            self.python.pairs_per_s,
            self.python.seconds,
            self.ratio,
            if self.ratio >= 1.3 { "met" } else { "not met" },
            self.rust_peak_rss_mib,
            self.max_abs_score_diff
        )
    }
}

/// The bench inputs: `n` deterministic `(prompt, completion)` pairs from the generator, mixing
/// short and long texts.
pub fn bench_inputs(n: usize) -> Vec<(String, String)> {
    let pairs = generate(&corpus(), 2, 7);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = &pairs[i % pairs.len().max(1)];
        let completion = if i % 2 == 0 {
            p.chosen.clone()
        } else {
            p.rejected.clone()
        };
        out.push((p.prompt.clone(), completion));
    }
    out
}

#[derive(Deserialize)]
struct PythonOut {
    #[serde(flatten)]
    result: SideResult,
    scores: Vec<f64>,
}

/// Runs both sides and compares; `int8`, when given, is timed on the same inputs after the float model.
pub fn run(
    model: &OnnxRewardModel,
    int8: Option<&OnnxRewardModel>,
    opts: &BenchOptions,
) -> Result<BenchReport, RewardError> {
    let backend = |m: String| RewardError::Backend(m.into());
    let data = bench_inputs(opts.pairs);
    let inputs: Vec<RewardInput<'_>> = data.iter().map(|(p, c)| RewardInput::new(p, c)).collect();

    let dir = std::env::temp_dir().join(format!("dojo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| RewardError::Backend(Box::new(e)))?;
    let input_path = dir.join("inputs.json");
    // The side features that are string checks or dictionary lookups (arithmetic, refusal,
    // knowledge) are handed over precomputed; the Python side runs every ONNX pass itself.
    let knows = model
        .head()
        .is_some_and(|h| h.side.contains(&crate::features::SideFeature::Knowledge));
    let kb = if knows {
        Some(model.knowledge_base()?)
    } else {
        None
    };
    let rows: Vec<serde_json::Value> = data
        .iter()
        .map(|(p, c)| {
            let mut v = crate::features::SideValues {
                knowledge: kb.map_or(0.0, |kb| kb.support(p, c)),
                ..Default::default()
            };
            v.add_checks(p, c);
            serde_json::json!({
                "prompt": p,
                "completion": c,
                "side": {
                    "arithmetic_wrong": v.arithmetic[0],
                    "arithmetic_right": v.arithmetic[1],
                    "knowledge": v.knowledge,
                    "refusal": v.refusal,
                },
            })
        })
        .collect();
    std::fs::write(
        &input_path,
        serde_json::to_vec(&rows).map_err(|e| RewardError::Backend(Box::new(e)))?,
    )
    .map_err(|e| RewardError::Backend(Box::new(e)))?;
    let mut cmd = Command::new(&opts.python);
    cmd.arg(&opts.script)
        .arg("--model")
        .arg(model.dir())
        .arg("--inputs")
        .arg(&input_path)
        .arg("--batch")
        .arg(opts.batch.to_string())
        .arg("--max-length")
        .arg(model.config().max_length.to_string());
    if let Some(t) = opts.threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    let out = cmd
        .output()
        .map_err(|e| backend(format!("running {}: {e}", opts.python.display())))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(backend(format!(
            "bench.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let py: PythonOut = serde_json::from_slice(&out.stdout)
        .map_err(|e| backend(format!("bench.py output: {e}")))?;
    let (rust, rust_scores) = time_rust(model, &inputs, opts.batch)?;
    let int8_side = int8
        .map(|m| time_rust(m, &inputs, opts.batch))
        .transpose()?;
    let max_abs_score_diff_int8 = int8_side.as_ref().map(|(_, s)| {
        s.iter()
            .zip(&rust_scores)
            .map(|(a, b)| f64::from((a - b).abs()))
            .fold(0.0_f64, f64::max)
    });
    let max_abs_score_diff = rust_scores
        .iter()
        .zip(&py.scores)
        .map(|(r, p)| (f64::from(*r) - p).abs())
        .fold(0.0_f64, f64::max);
    if py.scores.len() != rust_scores.len() {
        return Err(backend(format!(
            "python scored {} of {} pairs",
            py.scores.len(),
            rust_scores.len()
        )));
    }
    Ok(BenchReport {
        model: model.dir().display().to_string(),
        batch: opts.batch,
        threads: opts.threads.unwrap_or(0),
        ratio: rust.pairs_per_s / py.result.pairs_per_s,
        ratio_int8: int8_side
            .as_ref()
            .map(|(r, _)| r.pairs_per_s / py.result.pairs_per_s),
        rust_int8: int8_side.map(|(r, _)| r),
        max_abs_score_diff_int8,
        rust,
        python: py.result,
        rust_peak_rss_mib: peak_rss_mib().unwrap_or(f64::NAN),
        max_abs_score_diff,
    })
}

/// Times one Rust model on `inputs` after a one-batch warm-up (allocator and ORT arenas primed, as
/// on the Python side).
fn time_rust(
    model: &OnnxRewardModel,
    inputs: &[RewardInput<'_>],
    batch: usize,
) -> Result<(SideResult, Vec<f32>), RewardError> {
    model.score_batch(&inputs[..batch.min(inputs.len())])?;
    let t = Instant::now();
    let scores = model.score_batch(inputs)?;
    let secs = t.elapsed().as_secs_f64();
    let side = SideResult {
        pairs: inputs.len(),
        seconds: secs,
        pairs_per_s: inputs.len() as f64 / secs,
    };
    Ok((side, scores))
}

/// `VmHWM` of this process (Linux), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
