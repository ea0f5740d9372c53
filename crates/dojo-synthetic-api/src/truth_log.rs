//! The ground-truth log (`--ground-truth-log`): one JSON line per task handed out, written and
//! flushed before the response leaves, so a simulated worker can look up any task it is sent.
//!
//! Validators give every miner fresh completion ids and a fresh order but forward the content
//! unchanged, so completions are identified by the SHA-256 of their content, not by id.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::wire::{SyntheticQa, WireResponse};

/// Opening or appending to the ground-truth log failed.
#[derive(Debug, thiserror::Error)]
#[error("ground-truth log {}: {source}", path.display())]
pub struct TruthLogError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// SHA-256 (hex) of a completion's content: the bytes of its files' `content`, concatenated in
/// the order served (a completion is normally one `index.html`).
pub fn content_sha256(r: &WireResponse) -> String {
    let mut h = Sha256::new();
    for f in &r.completion.files {
        h.update(f.content.as_bytes());
    }
    hex(&h.finalize())
}

#[derive(Debug, Serialize)]
struct FileLine<'a> {
    filename: &'a str,
    content_sha256: String,
}

#[derive(Debug, Serialize)]
struct CompletionLine<'a> {
    id: &'a str,
    content_sha256: String,
    /// 0 = best.
    rank: Option<u32>,
    augmentation: Option<&'a str>,
    files: Vec<FileLine<'a>>,
    /// The content itself (files concatenated), so a simulated generator can deliver a page of a
    /// known quality for a Dojo v2 generation task.
    html: String,
}

#[derive(Debug, Serialize)]
struct TaskLine<'a> {
    qa_id: &'a str,
    prompt_sha256: String,
    /// The augmented prompts (a Dojo v2 trap generator is sent one instead of the prompt).
    augmented_prompt_sha256: Vec<String>,
    completions: Vec<CompletionLine<'a>>,
}

/// One log line (without the newline) for a served task.
pub fn line(qa: &SyntheticQa) -> String {
    let task = TaskLine {
        qa_id: &qa.metadata.task_id,
        prompt_sha256: hex_sha256(qa.prompt.as_bytes()),
        augmented_prompt_sha256: qa
            .augmented_prompts
            .iter()
            .map(|p| hex_sha256(p.as_bytes()))
            .collect(),
        completions: qa
            .responses
            .iter()
            .map(|r| CompletionLine {
                id: &r.cid,
                content_sha256: content_sha256(r),
                rank: qa.ground_truth.get(&r.cid).copied(),
                augmentation: qa.metadata.augmentations.get(&r.cid).map(String::as_str),
                files: r
                    .completion
                    .files
                    .iter()
                    .map(|f| FileLine {
                        filename: &f.filename,
                        content_sha256: hex_sha256(f.content.as_bytes()),
                    })
                    .collect(),
                html: r
                    .completion
                    .files
                    .iter()
                    .map(|f| f.content.as_str())
                    .collect(),
            })
            .collect(),
    };
    // Serialising plain strings and integers cannot fail.
    serde_json::to_string(&task).unwrap_or_default()
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct TruthLog {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl TruthLog {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &Path) -> Result<Self, TruthLogError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| TruthLogError {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends the task's line and flushes it. One `write_all` per line under the lock keeps
    /// lines whole when requests run concurrently.
    pub fn append(&self, qa: &SyntheticQa) -> Result<(), TruthLogError> {
        let mut text = line(qa);
        text.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(text.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|source| TruthLogError {
                path: self.path.clone(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_carries_each_page_and_the_augmented_prompts() {
        let qa: SyntheticQa = serde_json::from_value(serde_json::json!({
            "prompt": "build a clock",
            "question_model": "m",
            "responses": [
                {"model": "m", "cid": "c1", "completion": {"files": [
                    {"filename": "index.html", "content": "<p>good</p>", "language": "html"}]}},
                {"model": "m", "cid": "c2", "completion": {"files": [
                    {"filename": "index.html", "content": "<p>bad</p>", "language": "html"}]}},
            ],
            "ground_truth": {"c1": 0, "c2": 1},
            "augmented_prompts": ["build a broken clock"],
            "topic": "t",
            "persona": "p",
            "metadata": {"augment_type": "a", "generator": "g", "task_id": "q", "augmentations": {}},
        }))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line(&qa)).unwrap();
        assert_eq!(v["completions"][1]["html"], "<p>bad</p>");
        assert_eq!(v["completions"][1]["rank"], 1);
        assert_eq!(
            v["augmented_prompt_sha256"][0],
            hex_sha256(b"build a broken clock")
        );
        assert_eq!(
            v["completions"][0]["content_sha256"],
            hex_sha256(b"<p>good</p>")
        );
    }
}
