//! `dojo-reward`: train the shipped head, evaluate reward models on preference pairs, benchmark the
//! pipeline. Wiring only; the work is in the `dojo-reward` library. `cargo xtask train-reward-model`,
//! `eval-reward` and `bench-reward` call this binary.

// A command-line program: printing results is its job.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dojo_reward::{Device, LoadOptions, OnnxRewardModel, bench, code, eval, pairs, train};

mod code_train;

#[derive(Parser)]
#[command(name = "dojo-reward", about = "Reward models on ONNX Runtime")]
struct Cli {
    /// ONNX Runtime shared library (default: ORT_DYLIB_PATH, then the project cache).
    #[arg(long = "ort.dylib", env = "ORT_DYLIB_PATH", global = true)]
    ort_dylib: Option<PathBuf>,
    /// Run on CUDA device N (needs the `cuda` feature and `cargo xtask setup-ort --gpu`).
    #[arg(long = "cuda.device", global = true)]
    cuda_device: Option<i32>,
    /// ORT intra-op threads (default: ORT's choice).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// `fp32` (model.onnx) or `int8` (model.int8.onnx, written by `cargo xtask setup` for the
    /// shipped model).
    #[arg(long, global = true, default_value = "fp32")]
    precision: dojo_reward::Precision,
    /// More log detail on stderr: `-v` shows debug lines and ONNX Runtime's own info lines,
    /// `-vv` everything. Without it ONNX Runtime reports warnings only. `RUST_LOG` overrides both.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a reward head on generated pairs, extra JSONL pairs and exported preference datasets.
    ///
    /// `--data EXPORT` reads what `dojo-validator export` writes (a directory with train.jsonl or
    /// train.parquet, or the file itself; Hugging Face's prompt/chosen/rejected columns). A share of
    /// its prompts is held out, and the base model and the new head are both scored on it.
    /// `--out-dir DIR` writes a model directory the miner loads with `--model_name DIR`.
    #[command(verbatim_doc_comment)]
    Train {
        /// Model directory whose `embedding` output feeds the head (the shipped model).
        #[arg(long)]
        model: PathBuf,
        /// Where to write head.json.
        #[arg(long, required_unless_present = "out_dir")]
        out: Option<PathBuf>,
        /// Write a complete model directory here (graphs copied from --model, new head.json,
        /// reward.json, training-report.json).
        #[arg(long = "out-dir")]
        out_dir: Option<PathBuf>,
        /// Exported preference datasets to train on (repeatable).
        #[arg(long)]
        data: Vec<PathBuf>,
        /// Share of the datasets' prompts held out for the before/after accuracy.
        #[arg(long, default_value_t = 0.2)]
        heldout_fraction: f64,
        /// Train on the given pairs and datasets only, without the built-in generated pairs.
        #[arg(long)]
        no_builtin: bool,
        /// Where to write the training report (JSON).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Where to write the held-out pairs (JSONL).
        #[arg(long)]
        heldout_out: Option<PathBuf>,
        /// Extra training pairs, JSONL `{prompt, chosen, rejected}`.
        #[arg(long)]
        pairs: Vec<PathBuf>,
        #[arg(long, default_value_t = 52)]
        seed: u64,
        #[arg(long, default_value_t = 400)]
        steps: usize,
        /// L2 weight decay of the head (the shipped head's value).
        #[arg(long, default_value_t = train::TrainConfig::default().weight_decay)]
        weight_decay: f64,
        /// Hidden units of the head.
        #[arg(long, default_value_t = 32)]
        hidden: usize,
        /// Cache embedded pair features here, so a rerun with other hyper-parameters skips
        /// the encoder.
        #[arg(long)]
        cache: Option<PathBuf>,
    },
    /// Train the code-task head on offline-generator tasks and report per-task Spearman on tasks
    /// from held-out templates, against the text model on the flattened pages.
    TrainCode {
        /// Model directory whose encoder embeds `(prompt, digest)`.
        #[arg(long)]
        model: PathBuf,
        /// Where to write code-head.json.
        #[arg(long)]
        out: PathBuf,
        /// Where to write the report (JSON).
        #[arg(long)]
        report: Option<PathBuf>,
        #[arg(long, default_value_t = 16)]
        seed: u64,
        #[arg(long, default_value_t = 300)]
        steps: usize,
    },
    /// Preference accuracy of a model on JSONL pairs.
    Eval {
        /// Model directory (reward.json, the graph, and head.json when it has one).
        #[arg(long)]
        model: PathBuf,
        /// JSONL pairs `{prompt, chosen, rejected, kind?}`; accuracy is also given per `kind`.
        #[arg(long)]
        pairs: PathBuf,
        /// Print `{"accuracy": …, "pairs": …, …}` only.
        #[arg(long)]
        json: bool,
        /// Also list the pairs the model ranks the wrong way round, worst margin first.
        #[arg(long, conflicts_with = "json")]
        misses: bool,
    },
    /// Write generated preference pairs as JSONL.
    GeneratePairs {
        /// The JSONL file to write.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the degradations.
        #[arg(long, default_value_t = 52)]
        seed: u64,
        /// Degraded variants per corpus item and degradation kind.
        #[arg(long, default_value_t = 3)]
        variants: usize,
    },
    /// Pairs/s of this pipeline vs Python onnxruntime + tokenizers on the same model and inputs.
    Bench {
        #[arg(long)]
        model: PathBuf,
        /// Python interpreter with onnxruntime and tokenizers.
        #[arg(long)]
        python: PathBuf,
        /// The Python side (crates/dojo-reward/python/bench.py).
        #[arg(long)]
        python_script: PathBuf,
        /// Pairs scored per side.
        #[arg(long, default_value_t = 512)]
        pairs: usize,
        /// Pairs per ORT run.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        #[arg(long)]
        json: bool,
    },
}

/// The log filter for `-v` given `verbose` times, when `RUST_LOG` is not set.
fn default_filter(verbose: u8) -> String {
    match verbose {
        0 => format!("info,{}", dojo_reward::QUIET_RUNTIME_LOGS),
        1 => "debug,ort=info".to_owned(),
        _ => "trace".to_owned(),
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter(cli.verbose).into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = LoadOptions {
        dylib: cli.ort_dylib.clone(),
        device: cli
            .cuda_device
            .map_or(Device::Cpu, |device_id| Device::Cuda { device_id }),
        intra_threads: cli.threads,
        precision: cli.precision,
        ..LoadOptions::default()
    };
    let load = |dir: &PathBuf, opts: &LoadOptions| {
        OnnxRewardModel::load_with(dir, opts)
            .with_context(|| format!("loading model {}", dir.display()))
    };
    match cli.cmd {
        Cmd::Train {
            model,
            out,
            out_dir,
            data,
            heldout_fraction,
            no_builtin,
            report,
            heldout_out,
            pairs: files,
            seed,
            steps,
            weight_decay,
            hidden,
            cache,
        } => {
            if !(0.0..1.0).contains(&heldout_fraction) {
                anyhow::bail!("--heldout-fraction must be in [0, 1), not {heldout_fraction}");
            }
            let m = load(
                &model,
                &LoadOptions {
                    max_batch: 64,
                    ..opts
                },
            )?;
            let mut extra = Vec::new();
            for f in &files {
                extra.extend(pairs::read_jsonl(f)?);
            }
            let mut exported = Vec::new();
            for d in &data {
                let rows = dojo_reward::dataset::read(d)
                    .with_context(|| format!("reading the dataset {}", d.display()))?;
                println!("read {} pairs from {}", rows.len(), d.display());
                exported.extend(rows);
            }
            let (data_train, data_test) = train::split_by_prompt(&exported, heldout_fraction);
            extra.extend(data_train.iter().cloned());
            if no_builtin && extra.is_empty() {
                anyhow::bail!("--no-builtin leaves nothing to train on: pass --data or --pairs");
            }
            let cfg = train::TrainConfig {
                seed,
                steps,
                weight_decay,
                hidden,
                cache,
                builtin: !no_builtin,
                ..train::TrainConfig::default()
            };
            // The base model's accuracy on the held-out dataset rows, before any training.
            let before = (!data_test.is_empty())
                .then(|| eval::evaluate(&m, &data_test, 32))
                .transpose()?;
            let (head, rep, heldout) = train::train(&m, &extra, &cfg)?;
            let after = match &before {
                Some(_) => {
                    let x = train::pair_features(&m, &data_test, &head.side)?;
                    Some(eval::report(&data_test, &train::margins(&head, &x)))
                }
                None => None,
            };
            let full = serde_json::json!({
                "training": rep,
                "data": data.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
                "data_train_pairs": data_train.len(),
                "data_heldout_before": before,
                "data_heldout_after": after,
            });
            if let Some(out) = &out {
                train::write_head(out, &head)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            if let Some(dir) = &out_dir {
                train::write_model_dir(&m, dir, &head, &full)
                    .with_context(|| format!("writing the model directory {}", dir.display()))?;
                println!(
                    "wrote model directory {} (load it with --model_name {})",
                    dir.display(),
                    dir.display()
                );
            }
            if let (Some(b), Some(a)) = (&before, &after) {
                println!(
                    "held-out dataset pairs: {} ({} train): accuracy {:.3} before, {:.3} after",
                    a.pairs,
                    data_train.len(),
                    b.accuracy,
                    a.accuracy
                );
            }
            if let Some(p) = report {
                std::fs::write(&p, serde_json::to_string_pretty(&rep)?)?;
            }
            if let Some(p) = heldout_out {
                pairs::write_jsonl(&p, &heldout)?;
            }
            println!(
                "trained on {} pairs: train accuracy {:.3}, held-out accuracy {:.3} ({} pairs; length baseline {:.3}, random {:.3})",
                rep.train_pairs,
                rep.train.accuracy,
                rep.heldout.accuracy,
                rep.heldout.pairs,
                rep.heldout_length_baseline.accuracy,
                rep.heldout_random_baseline.accuracy
            );
        }
        Cmd::TrainCode {
            model,
            out,
            report,
            seed,
            steps,
        } => {
            let m = load(
                &model,
                &LoadOptions {
                    max_batch: 64,
                    ..opts
                },
            )?;
            let cfg = code::training::CodeTrainConfig {
                seed,
                steps,
                ..code::training::CodeTrainConfig::default()
            };
            let rep = code_train::run(&m, &cfg, &out)?;
            if let Some(p) = report {
                std::fs::write(&p, serde_json::to_string_pretty(&rep)?)
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            println!("{}", code_train::summary(&rep));
        }
        Cmd::Eval {
            model,
            pairs: file,
            json,
            misses,
        } => {
            let m = load(&model, &opts)?;
            let ps = pairs::read_jsonl(&file)?;
            let margins = eval::margins(&m, &ps, 32)?;
            let r = eval::report(&ps, &margins);
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("model      {}", model.display());
                println!("pairs      {}", r.pairs);
                println!(
                    "accuracy   {:.4} (ties count as correct, as in era A; {} ties)",
                    r.accuracy, r.ties
                );
                println!("mean margin {:.4}", r.mean_margin);
                for (k, v) in &r.by_kind {
                    println!("  {k:<20} {:.3} ({} pairs)", v.accuracy, v.pairs);
                }
                if misses {
                    print_misses(&ps, &margins);
                }
            }
        }
        Cmd::GeneratePairs {
            out,
            seed,
            variants,
        } => {
            let ps = pairs::generate(&pairs::corpus(), variants, seed);
            pairs::write_jsonl(&out, &ps)?;
            println!("wrote {} pairs to {}", ps.len(), out.display());
        }
        Cmd::Bench {
            model,
            python,
            python_script,
            pairs: n,
            batch,
            json,
        } => {
            let float_opts = LoadOptions {
                max_batch: batch,
                precision: dojo_reward::Precision::Fp32,
                ..opts
            };
            let m = load(&model, &float_opts)?;
            let int8 = model
                .join(dojo_reward::Precision::Int8.file_name())
                .is_file()
                .then(|| {
                    load(
                        &model,
                        &LoadOptions {
                            precision: dojo_reward::Precision::Int8,
                            ..float_opts.clone()
                        },
                    )
                })
                .transpose()?;
            let r = bench::run(
                &m,
                int8.as_ref(),
                &bench::BenchOptions {
                    python,
                    script: python_script,
                    pairs: n,
                    batch,
                    threads: cli.threads,
                },
            )?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("{}", r.summary());
            }
        }
    }
    Ok(())
}

/// The wrongly ranked pairs (negative margin), worst first, one block each.
fn print_misses(ps: &[pairs::PreferencePair], margins: &[f64]) {
    let mut wrong: Vec<(usize, f64)> = margins
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, m)| *m < 0.0)
        .collect();
    wrong.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!("misses     {}", wrong.len());
    for (i, m) in wrong {
        let p = &ps[i];
        println!(
            "#{} {} margin {m:.3}",
            i + 1,
            p.kind.as_deref().unwrap_or("-")
        );
        println!("  prompt   {}", one_line(&p.prompt));
        println!("  chosen   {}", one_line(&p.chosen));
        println!("  rejected {}", one_line(&p.rejected));
    }
}

fn one_line(s: &str) -> String {
    const MAX: usize = 160;
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}
