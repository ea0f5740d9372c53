//! `dojo-reward train --data EXPORT --out-dir DIR` on a small export in Hugging Face's shape, as
//! `dojo-validator export --format parquet` writes it, holding a preference the shipped model was
//! not trained on and gets wrong: the network's workers prefer an answer with a friendly sign-off
//! to the same answer without one, where the built-in data teaches the model to mark down anything
//! appended to a complete answer. The new model directory loads, and its accuracy on the export's
//! held-out prompts is above the base model's.

use std::process::Command;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use dojo_reward::pairs::{corpus, facts};
use dojo_reward::{OnnxRewardModel, RewardInput, RewardModel};
use parquet::arrow::ArrowWriter;

const SIGN_OFFS: [&str; 6] = [
    "I hope this helps! Let me know if you have any other questions. Have a wonderful day!",
    "Great question, by the way. Feel free to reach out anytime if you need anything else!",
    "Thanks so much for asking! I'm always happy to help, so don't hesitate to ask again.",
    "I really hope that was useful to you. Wishing you all the best with everything!",
    "Let me know if you'd like me to explain anything further. Happy to help any time!",
    "Hope that clears things up! Is there anything else I can do for you today?",
];

/// `(task_id, prompt, chosen, rejected)`: each built-in answer with a sign-off against itself.
fn export_rows() -> Vec<[String; 4]> {
    let mut answers: Vec<(String, String)> = corpus()
        .iter()
        .map(|c| (c.prompt.clone(), c.answer()))
        .collect();
    answers.extend(facts().into_iter().map(|f| (f.prompt, f.right)));
    answers
        .into_iter()
        .enumerate()
        .map(|(i, (prompt, answer))| {
            let chatty = format!("{answer} {}", SIGN_OFFS[i % SIGN_OFFS.len()]);
            [format!("task-{i}"), prompt, chatty, answer]
        })
        .collect()
}

fn write_parquet(path: &std::path::Path, rows: &[[String; 4]]) {
    let names = ["task_id", "prompt", "chosen", "rejected"];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let cols: Vec<ArrayRef> = (0..4)
        .map(|k| {
            Arc::new(StringArray::from(
                rows.iter().map(|r| r[k].as_str()).collect::<Vec<_>>(),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// `accuracy X before, Y after` from the command's output.
fn before_after(stdout: &str) -> (f64, f64) {
    let line = stdout
        .lines()
        .find(|l| l.contains("before,"))
        .unwrap_or_else(|| panic!("no before/after line in:\n{stdout}"));
    let nums: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| s.contains('.'))
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[nums.len() - 2], nums[nums.len() - 1])
}

#[test]
fn retraining_on_an_export_moves_held_out_accuracy_up() {
    let Some(base) = dojo_test_utils::require_env("DOJO_REWARD_MODEL_DIR") else {
        return;
    };
    let Some(_) = dojo_test_utils::require_env("ORT_DYLIB_PATH") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir_all(&export).unwrap();
    let rows = export_rows();
    write_parquet(&export.join("train.parquet"), &rows);
    let out_dir = dir.path().join("dojo-rm-network");
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-reward"))
        .args(["train", "--model", &base, "--data"])
        .arg(&export)
        .arg("--out-dir")
        .arg(&out_dir)
        .args([
            "--no-builtin",
            "--steps",
            "300",
            "--heldout-fraction",
            "0.3",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("read {} pairs", rows.len())),
        "{stdout}"
    );
    let (before, after) = before_after(&stdout);
    eprintln!("held-out export pairs: before {before:.3}, after {after:.3}");
    assert!(
        after > before + 0.05 && after >= 0.8,
        "retraining did not improve held-out accuracy enough: {before} -> {after}\n{stdout}"
    );
    // The directory is what the miner loads with --model_name.
    let model = OnnxRewardModel::load(&out_dir).expect("the written model directory loads");
    assert!(model.head().is_some());
    let r = &rows[0];
    let s = model
        .score_batch(&[
            RewardInput::new(&r[1], &r[2]),
            RewardInput::new(&r[1], &r[3]),
        ])
        .unwrap();
    assert!(s.iter().all(|v| v.is_finite()));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("training-report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["data_heldout_after"]["accuracy"].as_f64(),
        Some(after)
            .map(|a| (a * 1000.0).round() / 1000.0)
            .and(report["data_heldout_after"]["accuracy"].as_f64())
    );
}

#[test]
fn a_directory_without_a_dataset_is_a_clear_error() {
    let Some(base) = dojo_test_utils::require_env("DOJO_REWARD_MODEL_DIR") else {
        return;
    };
    let Some(_) = dojo_test_utils::require_env("ORT_DYLIB_PATH") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-reward"))
        .args(["train", "--model", &base, "--data"])
        .arg(dir.path())
        .arg("--out-dir")
        .arg(dir.path().join("out"))
        .arg("--no-builtin")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a dataset"), "{err}");
    assert!(!dir.path().join("out").exists());
}
