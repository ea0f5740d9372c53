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
    /// Peak resident set size of this (Rust) process, in MiB.
    pub rust_peak_rss_mib: f64,
    /// Largest score difference between the two sides on the same inputs.
    pub max_abs_score_diff: f64,
}

impl BenchReport {
    /// A human-readable summary.
    pub fn summary(&self) -> String {
        format!(
            "bench-reward: {} pairs, batch {}, threads {}\n  rust   {:>8.1} pairs/s ({:.2} s)\n  python {:>8.1} pairs/s ({:.2} s)\n  ratio  {:.2}x (target >= 1.3x)\n  rust peak RSS {:.0} MiB; max |score diff| {:.2e}",
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

/// Runs both sides and compares.
pub fn run(model: &OnnxRewardModel, opts: &BenchOptions) -> Result<BenchReport, RewardError> {
    let backend = |m: String| RewardError::Backend(m.into());
    let data = bench_inputs(opts.pairs);
    let inputs: Vec<RewardInput<'_>> = data.iter().map(|(p, c)| RewardInput::new(p, c)).collect();

    let dir = std::env::temp_dir().join(format!("dojo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| RewardError::Backend(Box::new(e)))?;
    let input_path = dir.join("inputs.json");
    std::fs::write(
        &input_path,
        serde_json::to_vec(&data).map_err(|e| RewardError::Backend(Box::new(e)))?,
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
    // Warm-up: one batch, so allocator and ORT arenas are primed as on the Python side.
    model.score_batch(&inputs[..opts.batch.min(inputs.len())])?;
    let t = Instant::now();
    let rust_scores = model.score_batch(&inputs)?;
    let secs = t.elapsed().as_secs_f64();
    let rust = SideResult {
        pairs: inputs.len(),
        seconds: secs,
        pairs_per_s: inputs.len() as f64 / secs,
    };

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
        rust,
        python: py.result,
        rust_peak_rss_mib: peak_rss_mib().unwrap_or(f64::NAN),
        max_abs_score_diff,
    })
}

/// `VmHWM` of this process (Linux), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
