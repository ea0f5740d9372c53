//! `dojo-validator score` end to end: documented examples and bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use expect_test::expect;

fn score_stdin(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["score", "--input", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn example(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples/");
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["score", "--pretty", "--input"])
        .arg(format!("{path}{name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn votes_example_output() {
    expect![[r#"
        {
          "mechanism": "dojo-v2-votes",
          "tasks": [
            {
              "task_id": "pvp-1",
              "scores": {
                "g1": 0.6666666666666666,
                "g2": 0.3333333333333333,
                "v1": 0.3333333333333333,
                "v2": 0.3333333333333333,
                "v3": 0.3333333333333333,
                "v4": -4.0
              }
            },
            {
              "task_id": "pvv-1",
              "scores": {
                "g1": 0.5,
                "v1": 0.5,
                "v2": 0.0
              }
            },
            {
              "task_id": "trap-1",
              "scores": {
                "g1": 0.0,
                "g2": 0.0,
                "v1": -0.4,
                "v2": 0.0,
                "v3": -4.0
              }
            }
          ],
          "miner_scores": {
            "g1": 1.1666666666666665,
            "g2": 0.3333333333333333,
            "v1": 0.43333333333333324,
            "v2": 0.3333333333333333,
            "v3": -3.6666666666666665,
            "v4": -4.0
          }
        }
    "#]]
    .assert_eq(&example("votes.json"));
}

#[test]
fn ground_truth_example_scores_and_rejects() {
    let out: serde_json::Value = serde_json::from_str(&example("ground-truth.json")).unwrap();
    let t1 = &out["tasks"][0]["scores"];
    let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    // The miner that ranked exactly like the ground truth gets the largest share.
    let best = t1
        .as_object()
        .unwrap()
        .iter()
        .max_by(|a, b| a.1.as_f64().partial_cmp(&b.1.as_f64()).unwrap())
        .unwrap();
    assert_eq!(best.0, alice);
    let sum: f64 = t1
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-12);
    assert_eq!(
        out["tasks"][1]["rejected"][0]["reason"],
        "no answer for completion c"
    );
    assert!(out["miner_scores"][alice].as_f64().unwrap() > 0.5);
}

#[test]
fn output_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let input = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/ranking-consensus.json"
    );
    let status = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["score", "--input", input, "--output"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(v["miner_scores"]["m2"].as_f64().unwrap() > v["miner_scores"]["m3"].as_f64().unwrap());
}

#[track_caller]
fn fails_with(input: &str, needles: &[&str]) {
    let out = score_stdin(input);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted bad input: {input}");
    assert!(out.stdout.is_empty(), "wrote output for bad input");
    for n in needles {
        assert!(err.contains(n), "error {err:?} does not mention {n:?}");
    }
}

#[test]
fn bad_input_names_task_and_field() {
    fails_with("not json", &["not a valid replay document"]);
    fails_with(
        r#"{"mechanism": "nope", "tasks": []}"#,
        &["nope", "known mechanisms"],
    );
    fails_with(
        r#"{"mechanism": "hfl", "params": {"tf_weight": 2}, "tasks": []}"#,
        &["tf_weight"],
    );
    fails_with(
        r#"{"mechanism": "hfl", "params": {"typo": 1}, "tasks": []}"#,
        &["typo"],
    );
    fails_with(
        r#"{"mechanism": "dojo-v1-ground-truth", "tasks": [], "extra": 1}"#,
        &["extra"],
    );
    fails_with(
        r#"{"mechanism": "dojo-v1-ground-truth", "tasks": [
            {"task_id": "ok", "ground_truth": {"a": 0, "b": 1}, "responses": []},
            {"task_id": "t2", "ground_truth": {"a": 0, "b": 2}, "responses": []}]}"#,
        &["task t2", "index 1", "ground_truth", "0..2"],
    );
    fails_with(
        r#"{"mechanism": "dojo-v1-ground-truth", "tasks": [
            {"task_id": "t3", "ground_truth": {"a": 0, "b": 1},
             "responses": [{"hotkey": "h", "scores": {"a": 1}, "ranks": {"a": 0}}]}]}"#,
        &["task t3", "responses[0]", "exactly one"],
    );
    fails_with(
        r#"{"mechanism": "dojo-v1-ground-truth", "tasks": [
            {"task_id": "t4", "ground_truth": {"a": 0, "b": 1},
             "responses": [{"hotkey": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ", "scores": {"a": 1, "b": 2}}]}]}"#,
        &["task t4", "responses[0].hotkey", "checksum"],
    );
    fails_with(
        r#"{"mechanism": "rm-consensus", "tasks": [
            {"task_id": "t5", "responses": [{"hotkey": "h", "scores": {"a": 1}}, {"hotkey": "h", "scores": {"a": 2}}]}]}"#,
        &["task t5", "more than once"],
    );
    fails_with(
        r#"{"mechanism": "dojo-v2-votes", "tasks": [{"task_id": "t6", "kind": "duel", "votes": {}}]}"#,
        &["task t6", "kind", "duel"],
    );
    fails_with(
        r#"{"mechanism": "dojo-v1-ground-truth", "tasks": [{"task_id": "t7", "responses": [{"hotkey": "h", "scores": {"a": 1e999}}]}]}"#,
        &["replay document"],
    );
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_dojo-validator"))
        .args(["score", "--input", "/definitely/not/here.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /definitely/not/here.json"));
}
