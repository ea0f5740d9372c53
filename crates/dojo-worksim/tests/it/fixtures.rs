use std::io::Write as _;
use std::path::{Path, PathBuf};

use dojo_worksim::api::{Completion, Criterion, Task};
use dojo_worksim::truth::sha256_hex;

/// Content of completion `i` of a task (the same for every miner).
pub(crate) fn content(i: usize) -> String {
    format!("<!doctype html><p>response number {i}</p>")
}

/// A task with completions `contents` shown in `order` under ids `prefix-k`, criteria score
/// 1..100 and ranking.
pub(crate) fn task(id: &str, prefix: &str, order: &[usize], expire_at_ms: i64) -> Task {
    Task {
        id: id.to_owned(),
        role: "judge".to_owned(),
        task_type: "code-generation".to_owned(),
        prompt: "Build a page with a bouncing ball".to_owned(),
        expire_at_ms,
        criteria: vec![
            Criterion::Score {
                min: 1.0,
                max: 100.0,
            },
            Criterion::Ranking,
        ],
        completions: order
            .iter()
            .enumerate()
            .map(|(k, &i)| Completion {
                id: format!("{prefix}-{k}"),
                kind: "code".to_owned(),
                content: content(i),
            })
            .collect(),
    }
}

/// One ground-truth line: completion `i` has true rank `ranks[i]`.
pub(crate) fn truth_line(qa_id: &str, ranks: &[u32]) -> String {
    let completions: Vec<serde_json::Value> = ranks
        .iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({"id": format!("gt-{i}"), "content_sha256": sha256_hex(content(i).as_bytes()), "rank": r})
        })
        .collect();
    format!(
        "{}\n",
        serde_json::json!({"qa_id": qa_id, "prompt_sha256": "00", "completions": completions})
    )
}

pub(crate) fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

pub(crate) fn far_future() -> i64 {
    now_ms() + 3_600_000
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub(crate) fn gt_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("ground-truth.jsonl")
}
