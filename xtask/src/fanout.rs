//! `cargo xtask bench-fanout [--miners N] [--rounds R] [--json] [--in-process] [--pin]
//! [--per-process K] [--no-python] [--python-miners M] [--python-rounds R]`.
//!
//! Runs the release-mode fan-out benchmark of `dojo-transport` (one validator, N miner axons on
//! loopback, the miners in separate processes of K axons as in a deployment) and, with
//! `--in-process`, the same with every axon inside the validator's process. Unless `--no-python`,
//! it runs the same shape with Python bittensor 10.2's dendrite and axons (from a pinned venv),
//! also with the miners in processes of K axons, then prints all of them and the ratio. One
//! Python process of 256 axons did not finish starting within 7 minutes on a 2-core machine;
//! processes of 32 start, so the Python side defaults to N as well. Its dendrite is slower than its
//! 12 s call timeout well before 256 miners on such a machine, so failures are printed with it,
//! and `--python-rounds` shortens its run.

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
    let per_process = value(args, "--per-process", "32");
    let json = args.iter().any(|a| a == "--json");
    let flag = |name: &str| args.iter().any(|a| a == name);
    let mut shape = vec!["--per-process".to_owned(), per_process.to_owned()];
    if flag("--pin") {
        shape.push("--pin".to_owned());
    }
    let rust = rust_run(sh, miners, rounds, &shape)?;
    let in_process = if flag("--in-process") {
        Some(rust_run(sh, miners, rounds, &["--in-process".to_owned()])?)
    } else {
        None
    };

    let py_miners = value(args, "--python-miners", miners).to_owned();
    let py_rounds = value(args, "--python-rounds", rounds);
    let (python, rust_same_n) = if flag("--no-python") {
        (None, None)
    } else {
        match python_run(sh, &py_miners, py_rounds, per_process) {
            Ok(v) if py_miners == miners => (Some(v), Some(rust.clone())),
            Ok(v) => (Some(v), Some(rust_run(sh, &py_miners, rounds, &shape)?)),
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
    // Defined even when the Python side answered no call at all (its call percentiles are then empty).
    let round_ratio = ratio("round_ms", "p99");
    let rps_ratio = python
        .as_ref()
        .zip(rust_same_n.as_ref())
        .and_then(|(p, r)| Some(r["requests_per_s"].as_f64()? / p["requests_per_s"].as_f64()?));
    if json {
        let out = serde_json::json!({
            "rust": rust,
            "rust_in_process": in_process,
            "python": python,
            "rust_same_miners_as_python": rust_same_n,
            "python_over_rust_p99": p99_ratio,
            "python_over_rust_round_p99": round_ratio,
            "rust_over_python_requests_per_s": rps_ratio,
        });
        println!("{out}");
        return Ok(());
    }
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let line = |name: &str, v: &serde_json::Value| {
        println!(
            "{name:>16}: {} miners x {} rounds  ok {}  failed {}  call p50 {:.2} ms  p99 {:.2} ms  round p50 {:.2} ms  p99 {:.2} ms  {:.0} req/s",
            v["miners"],
            v["rounds"],
            v["ok"],
            v["failures"],
            f(&v["call_ms"]["p50"]),
            f(&v["call_ms"]["p99"]),
            f(&v["round_ms"]["p50"]),
            f(&v["round_ms"]["p99"]),
            f(&v["requests_per_s"]),
        );
        let miners = if v["mode"] == "in-process" {
            "axons inside the validator's process".to_owned()
        } else {
            format!(
                "miners in {} processes of up to {} axons{}",
                v["miner_processes"],
                v["axons_per_process"],
                if v["pinned"].is_object() {
                    ", validator pinned to cpu 0"
                } else {
                    ""
                }
            )
        };
        println!(
            "{:>16}  {miners}; load average {} -> {}",
            "",
            v["loadavg"]["before"].as_str().unwrap_or("?"),
            v["loadavg"]["after"].as_str().unwrap_or("?"),
        );
        if let Some(kinds) = v["failure_kinds"].as_object().filter(|k| !k.is_empty()) {
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            println!("{:>16}  failed calls: {}", "", kinds.join(", "));
        }
        if let Some(c) = v["cpu_ms_per_round"]["validator"].as_f64() {
            let miners = v["cpu_ms_per_round"]["miners"]
                .as_f64()
                .map_or(String::new(), |m| format!(", miners {m:.1} ms"));
            println!(
                "{:>16}  cpu per round (user + system): validator {c:.1} ms{miners}",
                ""
            );
        }
    };
    let target = |v: &serde_json::Value| {
        println!(
            "{:>16}  round p99 target < 25 ms: {}",
            "",
            if v["meets_target"] == true {
                "met"
            } else {
                "NOT met"
            }
        );
    };
    line("dojo (rust gRPC)", &rust);
    target(&rust);
    if let Some(v) = &in_process {
        line("dojo in-process", v);
        target(v);
    }
    if let (Some(p), Some(r)) = (&python, &rust_same_n) {
        if r != &rust {
            line("dojo (rust gRPC)", r);
        }
        line("bittensor (py)", p);
        if p["ok"].as_u64() == Some(0) {
            println!(
                "   ratio: python answered none of its {} calls; python round p99 / rust round p99 = {:.0}x",
                p["failures"],
                round_ratio.unwrap_or(f64::NAN)
            );
        } else {
            println!(
                "   ratio: python call p99 / rust call p99 = {:.1}x, python round p99 / rust round p99 = {:.1}x, rust req/s / python req/s = {:.1}x",
                p99_ratio.unwrap_or(f64::NAN),
                round_ratio.unwrap_or(f64::NAN),
                rps_ratio.unwrap_or(f64::NAN)
            );
        }
    }
    Ok(())
}

fn rust_run(sh: &Shell, miners: &str, rounds: &str, extra: &[String]) -> Result<serde_json::Value> {
    let out = cmd!(
        sh,
        "cargo run --release --locked -q -p dojo-transport --example fanout -- --miners {miners} --rounds {rounds} --json {extra...}"
    )
    .read()
    .context("running the rust fan-out benchmark")?;
    Ok(serde_json::from_str(
        out.lines().last().unwrap_or_default(),
    )?)
}

fn python_run(
    sh: &Shell,
    miners: &str,
    rounds: &str,
    per_process: &str,
) -> Result<serde_json::Value> {
    let py = crate::python::ensure_venv(
        sh,
        "bittensor-bench",
        "crates/dojo-transport/bench/python/requirements.txt",
    )?;
    let script = "crates/dojo-transport/bench/python/fanout.py";
    let out = cmd!(
        sh,
        "{py} {script} --miners {miners} --rounds {rounds} --per-process {per_process}"
    )
    .read()
    .context("running the python fan-out")?;
    Ok(serde_json::from_str(
        out.lines().last().unwrap_or_default(),
    )?)
}
