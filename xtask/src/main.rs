//! Project automation: `cargo xtask <task>`.
//!
//! Everything a developer or CI runs beyond plain `cargo build`/`cargo test` lives here, written in
//! Rust so it works the same on every machine: the CI script, dependency-layering checks, installing
//! the Python references and native libraries the tests compare against, and benchmarks.

// xtask is a command-line program: printing is its job.
#![allow(clippy::print_stdout)]

mod bench_scoring;
mod bench_validator;
mod cache;
mod ci;
mod devnet;
mod fanout;
mod lab;
mod layering;
mod python;
mod reward;
mod synthetic;
mod yuma_epoch;

use anyhow::{Result, bail};

const HELP: &str = "\
cargo xtask <task> [args]

Tasks:
  ci                     everything CI checks: fmt, clippy, layering, deny, tests (unit, integration, doc)
  devnet [flags]         a whole local subnet from the real binaries, and who earned what (--help for flags)
  check-layering         fail if the pure crates depend on I/O crates
  setup                  install what the tests need into the project cache (Python venvs, libraries)
  bench-scoring [--json] [--quick] [--tasks N] [--miners N]
                         criterion benches + side-by-side run against the Python reference
  yuma-epoch --input F   run one devnet Yuma epoch on a JSON snapshot and print the result (docs/yuma-epoch.md)
  bench-fanout           signed task fan-out to N loopback miner axons in processes of 32: [--miners 256] [--rounds 20] [--json] [--in-process] [--pin] [--no-python] [--python-miners M] [--python-rounds R]
                         [--python-miners M] (Python bittensor side-by-side, default min(N, 32))
  setup-ort [--gpu]      install ONNX Runtime 1.31.1 (onnxruntime or onnxruntime-gpu wheel) and print its path
  train-reward-model     train the dojo-minilm-rm head (Bradley-Terry) and re-export the model
  train-code-model       train the code-task head on offline-generator tasks; Spearman on held-out templates
  eval-reward            --model DIR --pairs FILE [--json | --misses]: preference accuracy of a reward model
  bench-reward [--json]  pairs/s of the Rust reward pipeline vs Python onnxruntime + tokenizers
  lab run CONFIG.yaml    run a dojo-lab experiment (examples/lab/*.yaml) with the shipped model installed
  bench-validator        validator peak RSS and full scoring-pass time with 256 miners, 10k stored tasks
                         [--tasks N] [--miners N] [--batch N] [--database-url URL] [--json]
  bench-synthetic        tasks/s of the offline generator and of the synthetic API under loopback load, with and without a state file

Environment:
  DOJO_CACHE_DIR         where installed tools and venvs live (default: <repo>/.dojo-cache)
";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    let sh = xshell::Shell::new()?;
    sh.change_dir(cache::project_root());
    match task.as_deref() {
        Some("ci") => ci::run(&sh, &rest),
        Some("devnet") => devnet::run(&sh, &rest),
        Some("check-layering") => layering::check(&sh),
        Some("setup") => ci::setup(&sh),
        Some("bench-scoring") => bench_scoring::run(&sh, &rest),
        Some("yuma-epoch") => yuma_epoch::run(&sh, &rest),
        Some("bench-fanout") => fanout::run(&sh, &rest),
        Some("lab") => lab::run(&sh, &rest),
        Some("setup-ort") => reward::setup_ort(&sh, &rest),
        Some("train-reward-model") => reward::train(&sh, &rest),
        Some("train-code-model") => reward::train_code(&sh, &rest),
        Some("eval-reward") => reward::eval(&sh, &rest),
        Some("bench-reward") => reward::bench(&sh, &rest),
        Some("bench-synthetic") => synthetic::bench(&sh),
        Some("bench-validator") => bench_validator::run(&sh, &rest),
        None | Some("help" | "--help" | "-h") => {
            print!("{HELP}");
            Ok(())
        }
        Some(other) => {
            eprint!("{HELP}");
            bail!("unknown task `{other}`")
        }
    }
}
