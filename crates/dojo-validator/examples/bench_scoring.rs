//! Side-by-side benchmark of the scoring replay against the Python reference on the same generated
//! round (run by `cargo xtask bench-scoring`). Prints time per round for both, the ratio and the
//! largest absolute difference between their scores.

#![allow(clippy::print_stdout)]

#[path = "../tests/support/round.rs"]
mod round;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use dojo_scoring::{ColumnarRound, GroundTruth, RoundScores};
use dojo_validator::replay::{self, ReplayOutput};
use rayon::prelude::*;
use round::Shape;

struct Args {
    python: String,
    json: bool,
    tasks: usize,
    miners: usize,
    completions: usize,
    repeat: usize,
    /// Only this mechanism (the v0 Python reference takes minutes on a loaded machine).
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        python: "python3".into(),
        json: false,
        tasks: 1000,
        miners: 256,
        completions: 4,
        repeat: 5,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--python" => a.python = val(),
            "--json" => a.json = true,
            "--tasks" => a.tasks = val().parse().expect("--tasks"),
            "--miners" => a.miners = val().parse().expect("--miners"),
            "--completions" => a.completions = val().parse().expect("--completions"),
            "--repeat" => a.repeat = val().parse().expect("--repeat"),
            "--mechanism" => a.only = Some(val()),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("ran at least once"))
}

fn max_diff(a: &ReplayOutput, b: &ReplayOutput) -> f64 {
    let mut worst: f64 = 0.0;
    for (x, y) in a.tasks.iter().zip(&b.tasks) {
        assert_eq!(
            x.scores.len(),
            y.scores.len(),
            "task {}: scored miners differ",
            x.task_id
        );
        let ys: std::collections::BTreeMap<_, _> = y.scores.iter().cloned().collect();
        for (h, v) in &x.scores {
            worst = worst.max((v - ys[h]).abs());
        }
    }
    worst
}

/// Largest difference between the columnar scores and the Python reference's.
fn columnar_diff(round: &ColumnarRound, out: &RoundScores, py: &ReplayOutput) -> f64 {
    let mut worst: f64 = 0.0;
    for ((m, scores), y) in round.tasks.iter().zip(&out.tasks).zip(&py.tasks) {
        let ys: std::collections::BTreeMap<_, _> = y.scores.iter().cloned().collect();
        let scores = scores.as_ref().map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            scores.len(),
            ys.len(),
            "task {}: scored miners differ",
            m.task
        );
        for (&i, v) in m.miners().iter().zip(scores) {
            let h = round.hotkeys.get(i).expect("interned");
            worst = worst.max((v - ys[h]).abs());
        }
    }
    worst
}

fn main() {
    let a = args();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../dojo-scoring/tests/python/reference.py"
    );
    let shape = Shape {
        tasks: a.tasks,
        max_miners: a.miners,
        max_completions: a.completions,
        noisy: false,
        fixed: true,
    };
    let threads = rayon::current_num_threads();
    let mut report = serde_json::Map::new();
    for (i, name) in ["dojo-v1-ground-truth", "dojo-v0-consensus"]
        .into_iter()
        .enumerate()
    {
        if a.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let input = round::round(name, shape, 1000 + i as u64);
        let mech = replay::mechanism(&input).expect("mechanism");
        let tasks = replay::tasks(&input).expect("tasks");
        let (rust_s, rust_out) = best_of(a.repeat, || {
            replay::score_tasks(mech.as_ref(), &tasks).expect("score")
        });
        if std::env::var_os("BENCH_BREAKDOWN").is_some() {
            let (only, scored) = best_of(a.repeat, || {
                tasks
                    .iter()
                    .map(|t| mech.score_task(t).expect("score"))
                    .collect::<Vec<_>>()
            });
            let (agg, _) = best_of(a.repeat, || mech.aggregate(&scored));
            eprintln!(
                "breakdown {name}: score_task {:.3} ms, aggregate {:.3} ms",
                only * 1e3,
                agg * 1e3
            );
        }
        let (par_s, _) = best_of(a.repeat, || {
            tasks
                .par_iter()
                .map(|t| mech.score_task(t).expect("score"))
                .collect::<Vec<_>>()
        });
        // v1 also runs on the columnar round a validator keeps (built outside the timing, as the
        // map-based tasks are): one matrix per task, hotkeys interned once.
        let columnar = (name == "dojo-v1-ground-truth").then(|| {
            let round = ColumnarRound::from_tasks(&tasks).expect("columnar round");
            let gt = GroundTruth::default();
            let (col_s, col_out) = best_of(a.repeat, || gt.score_round(&round));
            let (col_par_s, _) = best_of(a.repeat, || {
                round
                    .tasks
                    .par_iter()
                    .map(|m| gt.score_matrix(m, &round.hotkeys))
                    .collect::<Vec<_>>()
            });
            (round, col_s, col_par_s, col_out)
        });
        eprintln!(
            "bench-scoring: {name}: rust {:.3} ms/round; running the Python reference",
            rust_s * 1e3
        );
        // The Python reference is slow (per-miner scipy/sklearn calls): one timed run for v0.
        let py_repeat = if name == "dojo-v0-consensus" {
            1
        } else {
            a.repeat.min(3)
        };
        let mut child = Command::new(&a.python)
            .args([script, "bench", &py_repeat.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start python");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&serde_json::to_vec(&input).expect("json"))
            .expect("write");
        let out = child.wait_with_output().expect("python");
        assert!(out.status.success(), "python reference failed");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("python output");
        let py_s = v["seconds_per_round"].as_f64().expect("seconds_per_round");
        let py_out: ReplayOutput =
            serde_json::from_value(v["output"].clone()).expect("python scores");
        let diff = max_diff(&rust_out, &py_out);
        if let Some((round, col_s, col_par_s, col_out)) = &columnar {
            let col_diff = columnar_diff(round, col_out, &py_out);
            report.insert(
                format!("{name} (columnar)"),
                serde_json::json!({
                    "rust_seconds_per_round": col_s,
                    "rust_parallel_seconds_per_round": col_par_s,
                    "rust_parallel_threads": threads,
                    "python_seconds_per_round": py_s,
                    "speedup": py_s / col_s,
                    "parallel_speedup": py_s / col_par_s,
                    "max_abs_diff": col_diff,
                    "target_speedup": 200.0,
                }),
            );
        }
        report.insert(
            name.to_owned(),
            serde_json::json!({
                "rust_seconds_per_round": rust_s,
                "rust_parallel_seconds_per_round": par_s,
                "rust_parallel_threads": threads,
                "python_seconds_per_round": py_s,
                "speedup": py_s / rust_s,
                "parallel_speedup": py_s / par_s,
                "max_abs_diff": diff,
            }),
        );
    }
    let round =
        serde_json::json!({"tasks": a.tasks, "miners": a.miners, "completions": a.completions});
    if a.json {
        report.insert("round".into(), round);
        println!("{}", serde_json::Value::Object(report));
        return;
    }
    println!(
        "round: {} tasks x {} miners x {} completions",
        a.tasks, a.miners, a.completions
    );
    println!(
        "{:<22} {:>12} {:>14} {:>12} {:>9} {:>12} {:>10}",
        "mechanism",
        "rust ms",
        "rust ms (par)",
        "python ms",
        "speedup",
        "par speedup",
        "max |diff|"
    );
    for (name, v) in &report {
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let target = match v["target_speedup"].as_f64() {
            Some(t) if f("speedup") >= t => format!("  target >= {t}x (1 thread): met"),
            Some(t) => format!("  target >= {t}x (1 thread): NOT met"),
            None => String::new(),
        };
        println!(
            "{:<32} {:>12.3} {:>14.3} {:>12.1} {:>8.0}x {:>11.0}x {:>10.1e}{target}",
            name,
            f("rust_seconds_per_round") * 1e3,
            f("rust_parallel_seconds_per_round") * 1e3,
            f("python_seconds_per_round") * 1e3,
            f("speedup"),
            f("parallel_speedup"),
            f("max_abs_diff"),
        );
    }
    // Wall times on a shared machine say little without the load they ran under.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
