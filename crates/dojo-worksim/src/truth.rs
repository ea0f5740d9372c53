//! The ground-truth log the synthetic API writes (`--ground-truth-log`): one JSON line per served
//! task, read as it grows.
//!
//! Validators show each miner fresh completion ids in their own order but keep the content, so a
//! miner's completions are matched to ground truth by the SHA-256 of their content.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TruthRecord {
    /// The synthetic task's id.
    #[serde(default)]
    pub qa_id: String,
    /// SHA-256 of the prompt.
    #[serde(default)]
    pub prompt_sha256: String,
    /// SHA-256 of each augmented prompt (what a Dojo v2 trap generator is sent).
    #[serde(default)]
    pub augmented_prompt_sha256: Vec<String>,
    /// Each completion with its true rank.
    pub completions: Vec<TruthCompletion>,
}

/// One completion of a [`TruthRecord`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TruthCompletion {
    /// The synthetic API's id (not what miners see).
    #[serde(default)]
    pub id: String,
    /// Hex SHA-256 of the content as served.
    pub content_sha256: String,
    /// 0-based, 0 = best.
    pub rank: u32,
    /// A score, when the generator gave one (unused: quality comes from the rank).
    #[serde(default)]
    pub score: Option<f64>,
    /// The content, when the log carries it (what a simulated generator delivers).
    #[serde(default)]
    pub html: Option<String>,
}

/// The pages a simulated generator can deliver for one prompt: the record's contents best first,
/// and whether the prompt was an augmented one (a trap, which an honest writer follows).
#[derive(Debug, Clone, PartialEq)]
pub struct Pages {
    /// Contents by true rank, best first.
    pub by_rank: Vec<String>,
    /// The prompt was one of the record's augmented prompts.
    pub augmented: bool,
}

/// Ground truth read so far, indexed by completion content hash.
#[derive(Debug, Default)]
pub struct TruthIndex {
    /// Per record: content hash → rank, and the record's completion count.
    records: Vec<(HashMap<String, u32>, usize)>,
    /// Content hash → records that contain it.
    by_content: HashMap<String, Vec<usize>>,
    /// Prompt hash → (contents best first, augmented), the latest record for it.
    by_prompt: HashMap<String, Pages>,
}

impl TruthIndex {
    /// Adds a record.
    pub fn insert(&mut self, record: &TruthRecord) {
        let ranks: HashMap<String, u32> = record
            .completions
            .iter()
            .map(|c| (c.content_sha256.to_ascii_lowercase(), c.rank))
            .collect();
        let n = record.completions.len();
        let idx = self.records.len();
        for h in ranks.keys() {
            self.by_content.entry(h.clone()).or_default().push(idx);
        }
        self.records.push((ranks, n));
        let mut ranked: Vec<(u32, &str)> = record
            .completions
            .iter()
            .filter_map(|c| Some((c.rank, c.html.as_deref()?)))
            .collect();
        if ranked.len() == n && n > 0 {
            ranked.sort_by_key(|(r, _)| *r);
            let by_rank: Vec<String> = ranked.into_iter().map(|(_, h)| h.to_owned()).collect();
            for (hash, augmented) in std::iter::once((&record.prompt_sha256, false))
                .chain(record.augmented_prompt_sha256.iter().map(|h| (h, true)))
            {
                self.by_prompt.insert(
                    hash.to_ascii_lowercase(),
                    Pages {
                        by_rank: by_rank.clone(),
                        augmented,
                    },
                );
            }
        }
    }

    /// What a generator can deliver for the prompt with this SHA-256, if the log has it.
    pub fn pages(&self, prompt_sha256: &str) -> Option<&Pages> {
        self.by_prompt.get(prompt_sha256)
    }

    /// Qualities for a Dojo v2 vote, whose candidates come from different writers: each from
    /// the latest record holding it, and 0 (worst) for content no record holds (a page nobody
    /// graded, such as a lazy writer's empty one). `None` when no candidate is known at all.
    pub fn vote_qualities(&self, content_hashes: &[String]) -> Option<Vec<f64>> {
        let mut any = false;
        let q = content_hashes
            .iter()
            .map(|h| {
                let Some(&i) = self.by_content.get(h).and_then(|v| v.last()) else {
                    return 0.0;
                };
                any = true;
                let (ranks, n) = &self.records[i];
                let denom = n.saturating_sub(1).max(1) as f64;
                (1.0 - f64::from(ranks[h]) / denom).clamp(0.0, 1.0)
            })
            .collect();
        any.then_some(q)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when no record was read.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The true quality `q = 1 - rank / (C - 1)` (1 best, 0 worst; 1 when C = 1) of each
    /// completion given by content hash, from the latest record holding all of them; `None` when
    /// no record does.
    pub fn qualities(&self, content_hashes: &[String]) -> Option<Vec<f64>> {
        let first = content_hashes.first()?;
        let candidates = self.by_content.get(first)?;
        let (ranks, n) = candidates
            .iter()
            .rev()
            .map(|&i| &self.records[i])
            .find(|(ranks, _)| content_hashes.iter().all(|h| ranks.contains_key(h)))?;
        let denom = n.saturating_sub(1).max(1) as f64;
        Some(
            content_hashes
                .iter()
                .map(|h| (1.0 - f64::from(ranks[h]) / denom).clamp(0.0, 1.0))
                .collect(),
        )
    }
}

/// Follows the log file: each [`TruthLog::refresh`] reads the lines appended since the last one.
/// A file that is missing is read once it appears; one that shrank (replaced) is read again from
/// its start.
#[derive(Debug)]
pub struct TruthLog {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    index: TruthIndex,
    bad_lines: u64,
}

impl TruthLog {
    /// A follower of `path` that has read nothing yet.
    pub fn new(path: &Path) -> Self {
        TruthLog {
            path: path.to_owned(),
            offset: 0,
            partial: Vec::new(),
            index: TruthIndex::default(),
            bad_lines: 0,
        }
    }

    /// What has been read.
    pub fn index(&self) -> &TruthIndex {
        &self.index
    }

    /// Lines that were not a ground-truth record (skipped, with a warning).
    pub fn bad_lines(&self) -> u64 {
        self.bad_lines
    }

    /// Reads what was appended; the number of new records. A missing file is 0 records.
    pub fn refresh(&mut self) -> std::io::Result<usize> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.offset {
            tracing::warn!(target: "worksim::truth", path = %self.path.display(), "ground-truth log shrank; reading it again from the start");
            self.offset = 0;
            self.partial.clear();
            self.index = TruthIndex::default();
        }
        if len == self.offset {
            return Ok(0);
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        f.take(len - self.offset).read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let mut added = 0;
        // Only whole lines: the writer may be half-way through one.
        while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<TruthRecord>(line) {
                Ok(r) => {
                    self.index.insert(&r);
                    added += 1;
                }
                Err(e) => {
                    self.bad_lines += 1;
                    tracing::warn!(target: "worksim::truth", error = %e, "skipping a ground-truth line that is not a record");
                }
            }
        }
        Ok(added)
    }
}
