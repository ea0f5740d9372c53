//! Runs the `dojo-lab` binary on the bundled examples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lab")
}

fn lab(args: &[&str], out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dojo-lab"))
        .args(args)
        .arg("--lab.out")
        .arg(out)
        .arg("--no-progress")
        .output()
        .expect("spawn dojo-lab")
}

fn run_dir(out: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("out dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "cache"))
        .collect();
    dirs.sort();
    dirs.pop().expect("a run directory")
}

fn metric(dir: &Path, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).expect("metrics.jsonl");
    text.lines().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["name"] == name).then(|| v["value"].as_f64()).flatten()
    })
}

#[test]
fn network_example_finds_the_canned_answer_group() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = lab(
        &[
            "run",
            examples()
                .join("network.yaml")
                .to_str()
                .expect("utf-8 path"),
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = run_dir(tmp.path());
    for f in [
        "report.html",
        "metrics.jsonl",
        "config.yaml",
        "run.log",
        "steps.json",
        "plots/network-leaderboard.png",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    assert_eq!(metric(&dir, "identical.groups"), Some(1.0));
    assert_eq!(metric(&dir, "identical.uids"), Some(3.0));
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(
        html.contains("3, 7, 11"),
        "the canned-answer miners are reported as one group"
    );
}

#[test]
fn baselines_example_is_cached_on_the_second_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = examples().join("baselines.yaml");
    let cfg = cfg.to_str().expect("utf-8 path");
    let first = lab(&["run", cfg], tmp.path());
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = lab(&["run", cfg], tmp.path());
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.lines()
            .any(|l| l.contains("by_length") && l.contains("cached")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("length") && l.contains("not needed")),
        "{err}"
    );
    let dir = run_dir(tmp.path());
    assert_eq!(
        metric(&dir, "length_bias.win_rate"),
        Some(1.0),
        "the length baseline is fully length-biased"
    );
}

#[test]
fn bad_config_fails_before_work_with_the_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = tmp.path().join("bad.yaml");
    std::fs::write(
        &cfg,
        "name: bad\nsteps:\n  - data:\n      id: d\n      path: missing.jsonl\n",
    )
    .expect("write");
    let out = lab(
        &["run", cfg.to_str().expect("utf-8 path")],
        &tmp.path().join("runs"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:5: step `d`: data file") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        !tmp.path().join("runs").exists(),
        "no run directory for a rejected config"
    );
}

/// The length-bias probe against the shipped model (installed by `cargo xtask setup`, which
/// exports `DOJO_REWARD_MODEL_DIR`). Skipped without it, except in CI (`DOJO_CI=1`).
#[test]
fn length_bias_example_runs_against_the_shipped_model() {
    let Some(model) = dojo_test_utils::require_env("DOJO_REWARD_MODEL_DIR") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-lab"))
        .args([
            "run",
            examples()
                .join("length-bias.yaml")
                .to_str()
                .expect("utf-8 path"),
        ])
        .arg("--lab.out")
        .arg(tmp.path())
        .arg("--no-progress")
        .arg("--reward.shipped-dir")
        .arg(&model)
        .output()
        .expect("spawn dojo-lab");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = run_dir(tmp.path());
    for m in [
        "length_bias.mean_delta",
        "length_bias.win_rate",
        "length_bias.spearman_length",
        "pair_accuracy",
    ] {
        assert!(
            metric(&dir, m).is_some_and(f64::is_finite),
            "metric {m} missing"
        );
    }
}

fn chart(input: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dojo-lab"))
        .args(["chart", "devnet", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .output()
        .expect("spawn dojo-lab")
}

fn png_ok(path: &Path) -> usize {
    let bytes = std::fs::read(path).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG magic");
    bytes.len()
}

#[test]
fn chart_devnet_draws_one_or_many_panels_and_rejects_bad_reports() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let miners = |shift: f64| {
        (0..6)
            .map(|i| {
                let q = f64::from(i) / 5.0;
                serde_json::json!({
                    "uid": i, "hotkey": format!("hk{i}"),
                    "population": if i % 2 == 0 { "honest" } else { "copier" },
                    "true_quality": q, "score": q, "weight": q,
                    "incentive": (q * 0.3 + shift).min(1.0), "emission": 1000 * i,
                })
            })
            .collect::<Vec<_>>()
    };
    let single = tmp.path().join("single.json");
    let report = serde_json::json!({
        "mechanism": "yuma-ranked", "rounds": 4, "miners": miners(0.0), "summary": {"spearman": 1.0},
    });
    std::fs::write(&single, report.to_string()).expect("write");
    let png = tmp.path().join("single.png");
    let out = chart(&single, &png);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("1 panels, 6 miners, 2 populations"), "{said}");
    let one = png_ok(&png);
    assert!(one > 5_000, "a drawn chart, not a blank page: {one} bytes");

    let study = tmp.path().join("study.json");
    let report = serde_json::json!({"study": [
        {"mechanism": "a", "miners": miners(0.0)},
        {"mechanism": "b", "miners": miners(0.1)},
        {"mechanism": "c", "miners": miners(0.2)},
    ]});
    std::fs::write(&study, report.to_string()).expect("write");
    let png = tmp.path().join("study.png");
    let out = chart(&study, &png);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(png_ok(&png) > one, "three panels need a bigger image");

    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"mechanism": "x", "miners": [{"population": "a"}]}"#,
    )
    .expect("write");
    let png = tmp.path().join("bad.png");
    let out = chart(&bad, &png);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.json") && err.contains("true_quality"),
        "{err}"
    );
    assert!(!png.exists(), "no image for a bad report");
}
