//! `cargo xtask bench-scoring [--json] [--quick] [--tasks N] [--miners N] [--mechanism NAME]`: criterion benches of the
//! mechanisms plus a side-by-side run of the scoring replay against the Python reference on the same
//! generated round.

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

pub(crate) fn run(sh: &Shell, args: &[String]) -> Result<()> {
    let json = args.iter().any(|a| a == "--json");
    let quick = args.iter().any(|a| a == "--quick");
    let mut pass: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--tasks" | "--miners" | "--completions" | "--repeat" | "--mechanism" => {
                pass.push(a.clone());
                pass.push(
                    it.next()
                        .with_context(|| format!("{a} needs a value"))?
                        .clone(),
                );
            }
            "--json" | "--quick" => {}
            other => anyhow::bail!(
                "unknown flag {other}; usage: bench-scoring [--json] [--quick] [--tasks N] [--miners N] [--completions N] [--repeat N] [--mechanism NAME]"
            ),
        }
    }
    if json {
        pass.push("--json".into());
    }
    let python = crate::python::ensure_venv(
        sh,
        "scoring-ref",
        "crates/dojo-scoring/tests/python/requirements.txt",
    )?;
    if !quick && !json {
        cmd!(sh, "cargo bench --locked -p dojo-scoring --bench scoring")
            .run()
            .context("criterion benches")?;
    }
    cmd!(
        sh,
        "cargo build --locked --quiet --release -p dojo-validator --example bench_scoring"
    )
    .run()?;
    let target = crate::cache::target_dir(sh)?;
    let bin = target.join("release/examples/bench_scoring");
    cmd!(sh, "{bin} --python {python} {pass...}")
        .run()
        .context("side-by-side run")?;
    Ok(())
}
