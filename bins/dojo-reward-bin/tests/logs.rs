//! ONNX Runtime's own log lines reach the terminal through `tracing`, at warnings only unless
//! `-v` asks for more.

use std::process::Command;

fn eval(extra: &[&str]) -> Option<String> {
    let model = dojo_test_utils::require_env("DOJO_REWARD_MODEL_DIR")?;
    dojo_test_utils::require_env("ORT_DYLIB_PATH")?;
    let heldout = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/dojo-minilm-rm/heldout-pairs.jsonl"
    );
    // A few pairs are enough to start the runtime and run the model once.
    let few: String = std::fs::read_to_string(heldout)
        .unwrap()
        .lines()
        .take(4)
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = std::env::temp_dir().join(format!("dojo-reward-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pairs = dir.join("pairs.jsonl");
    std::fs::write(&pairs, few).unwrap();
    let pairs = pairs.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-reward"))
        .args(extra)
        .args(["eval", "--model", &model, "--pairs", pairs, "--json"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("\"accuracy\""), "{stdout}");
    Some(String::from_utf8(out.stderr).unwrap())
}

/// Lines logged by ONNX Runtime itself at info level (ort forwards them with target
/// `ort::logging`).
fn runtime_info_lines(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains(" INFO ort::logging"))
        .count()
}

#[test]
fn runtime_info_lines_show_only_with_verbose() {
    let Some(quiet) = eval(&[]) else { return };
    assert_eq!(runtime_info_lines(&quiet), 0, "{quiet}");
    let Some(verbose) = eval(&["-v"]) else { return };
    assert!(runtime_info_lines(&verbose) > 0, "{verbose}");
}
