//! `cargo xtask bench-fanout [--miners N] [--rounds R] [--json] [--no-python] [--python-miners M]`.
//!
//! Runs the release-mode fan-out benchmark of `dojo-transport` (one validator, N miner axons on
//! loopback) and, unless `--no-python`, the same shape with Python bittensor 10.2's dendrite and
//! axons (from a pinned venv), then prints both and the ratio. Python runs every axon as a uvicorn
//! thread of one process; 256 of them did not finish starting within 7 minutes on a 2-core
//! machine, so the Python side defaults to `min(N, 32)` axons and the ratio is taken against a
//! Rust run with the same count.

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

fn value<'a>(args: &'a [String], name: &str, default: &'a str) -> &'a str {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, String::as_str)
}

pub(crate) fn run(sh: &Shell, args: &[String]) -> Result<()> {
    let miners = value(args, "--miners", "256");
    let rounds = value(args, "--rounds", "20");
    let json = args.iter().any(|a| a == "--json");
    let rust_out = cmd!(sh, "cargo run --release --locked -q -p dojo-transport --example fanout -- --miners {miners} --rounds {rounds} --json")
        .read()
        .context("running the rust fan-out benchmark")?;
    let rust: serde_json::Value =
        serde_json::from_str(rust_out.lines().last().unwrap_or_default())?;

    let default_py = miners
        .parse::<usize>()
        .map_or(32, |m| m.min(32))
        .to_string();
    let py_miners = value(args, "--python-miners", &default_py).to_owned();
    let (python, rust_same_n) = if args.iter().any(|a| a == "--no-python") {
        (None, None)
    } else {
        match python_run(sh, &py_miners, rounds) {
            Ok(v) if py_miners == miners => (Some(v), Some(rust.clone())),
            Ok(v) => (Some(v), Some(rust_run(sh, &py_miners, rounds)?)),
            Err(e) => {
                eprintln!("xtask: python bittensor side-by-side skipped: {e:#}");
                (None, None)
            }
        }
    };
    let ratio = |key: &str, sub: &str| -> Option<f64> {
        let p = python.as_ref()?[key][sub].as_f64()?;
        let r = rust_same_n.as_ref()?[key][sub].as_f64()?;
        Some(p / r)
    };
    let p99_ratio = ratio("call_ms", "p99");
    let rps_ratio = python
        .as_ref()
        .zip(rust_same_n.as_ref())
        .and_then(|(p, r)| Some(r["requests_per_s"].as_f64()? / p["requests_per_s"].as_f64()?));
    if json {
        let out = serde_json::json!({
            "rust": rust,
            "python": python,
            "rust_same_miners_as_python": rust_same_n,
            "python_over_rust_p99": p99_ratio,
            "rust_over_python_requests_per_s": rps_ratio,
        });
        println!("{out}");
        return Ok(());
    }
    let line = |name: &str, v: &serde_json::Value| {
        println!(
            "{name:>16}: {} miners x {} rounds  ok {}  call p50 {:.2} ms  p99 {:.2} ms  round p99 {:.2} ms  {:.0} req/s",
            v["miners"],
            v["rounds"],
            v["ok"],
            v["call_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
            v["call_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            v["round_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            v["requests_per_s"].as_f64().unwrap_or(f64::NAN),
        );
    };
    line("dojo (rust gRPC)", &rust);
    println!(
        "{:>16}  round p99 target < 25 ms: {}",
        "",
        if rust["meets_target"] == true {
            "met"
        } else {
            "NOT met"
        }
    );
    if let (Some(p), Some(r)) = (&python, &rust_same_n) {
        if r != &rust {
            line("dojo (rust gRPC)", r);
        }
        line("bittensor (py)", p);
        println!(
            "   ratio: python p99 / rust p99 = {:.1}x, rust req/s / python req/s = {:.1}x",
            p99_ratio.unwrap_or(f64::NAN),
            rps_ratio.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

fn rust_run(sh: &Shell, miners: &str, rounds: &str) -> Result<serde_json::Value> {
    let out = cmd!(
        sh,
        "cargo run --release --locked -q -p dojo-transport --example fanout -- --miners {miners} --rounds {rounds} --json"
    )
    .read()
    .context("running the rust fan-out benchmark")?;
    Ok(serde_json::from_str(
        out.lines().last().unwrap_or_default(),
    )?)
}

fn python_run(sh: &Shell, miners: &str, rounds: &str) -> Result<serde_json::Value> {
    let py = crate::python::ensure_venv(
        sh,
        "bittensor-bench",
        "crates/dojo-transport/bench/python/requirements.txt",
    )?;
    let script = "crates/dojo-transport/bench/python/fanout.py";
    let out = cmd!(sh, "{py} {script} --miners {miners} --rounds {rounds}")
        .read()
        .context("running the python fan-out")?;
    Ok(serde_json::from_str(
        out.lines().last().unwrap_or_default(),
    )?)
}
