//! Project automation: `cargo xtask <task>`.
//!
//! Everything a developer or CI runs beyond plain `cargo build`/`cargo test` lives here, written in
//! Rust so it works the same on every machine: the CI script, dependency-layering checks, installing
//! the Python references and native libraries the tests compare against, and benchmarks.

// xtask is a command-line program: printing is its job.
#![allow(clippy::print_stdout)]

mod cache;
mod ci;
mod layering;
mod python;
mod synthetic;

use anyhow::{Result, bail};

const HELP: &str = "\
cargo xtask <task> [args]

Tasks:
  ci                     everything CI checks: fmt, clippy, layering, deny, tests (unit, integration, doc)
  check-layering         fail if the pure crates depend on I/O crates
  setup                  install what the tests need into the project cache (Python venvs, libraries)
  bench-synthetic        tasks/s of the offline generator and of the synthetic API under loopback load

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
        Some("check-layering") => layering::check(&sh),
        Some("setup") => ci::setup(&sh),
        Some("bench-synthetic") => synthetic::bench(&sh),
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
