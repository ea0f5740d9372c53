//! The bounded pre-generation buffer, the v2 answer records and the dedupe history, persisted to a
//! JSON file that is replaced atomically (write a temporary file, fsync, rename) after each change,
//! so a crash leaves either the old or the new state, and a restart keeps the buffer.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dojo_synthetic::SyntheticTask;
use dojo_synthetic::dedupe::{Deduper, Duplicate, Entry};
use serde::{Deserialize, Serialize};

use crate::wire::AnswerRecord;

const STATE_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("reading state file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {} is not valid JSON state: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("state file {} has version {found}, expected {STATE_VERSION}", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("writing state file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serialising state: {0}")]
    Serialise(#[from] serde_json::Error),
    #[error("state writer task failed: {0}")]
    Join(String),
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    version: u32,
    next_seed: u64,
    /// Kept as raw JSON so one bad task is dropped on load instead of failing the whole file.
    tasks: Vec<serde_json::Value>,
    answers: HashMap<String, AnswerRecord>,
    pairs: HashMap<String, String>,
    dedupe: Vec<Entry>,
}

struct Inner {
    tasks: VecDeque<SyntheticTask>,
    answers: HashMap<String, AnswerRecord>,
    /// `qa_id -> ans_aug_id`, so popping a question removes both answers.
    pairs: HashMap<String, String>,
    dedupe: Deduper,
    next_seed: u64,
    in_flight: usize,
    generation: u64,
}

/// What loading the state file found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub tasks: usize,
    pub rejected: usize,
}

pub struct Store {
    path: Option<PathBuf>,
    capacity: usize,
    max_answers: usize,
    inner: Mutex<Inner>,
    written: Arc<Mutex<u64>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Why a generated task was not buffered.
#[derive(Clone, Debug, PartialEq)]
pub enum Rejected {
    Duplicate(Duplicate),
}

impl Store {
    /// Opens the store, loading `path` if it exists. Tasks that fail validation are dropped and
    /// counted in the report; they are never served.
    pub fn open(
        path: Option<PathBuf>,
        capacity: usize,
        seed: u64,
        dedupe: Deduper,
    ) -> Result<(Self, LoadReport), StoreError> {
        let mut inner = Inner {
            tasks: VecDeque::new(),
            answers: HashMap::new(),
            pairs: HashMap::new(),
            dedupe,
            next_seed: seed,
            in_flight: 0,
            generation: 0,
        };
        let mut report = LoadReport::default();
        if let Some(p) = &path
            && p.exists()
        {
            let bytes = std::fs::read(p).map_err(|source| StoreError::Read {
                path: p.clone(),
                source,
            })?;
            let state: Persisted =
                serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                    path: p.clone(),
                    source,
                })?;
            if state.version != STATE_VERSION {
                return Err(StoreError::Version {
                    path: p.clone(),
                    found: state.version,
                });
            }
            for v in state.tasks {
                match serde_json::from_value::<SyntheticTask>(v) {
                    Ok(t) => {
                        inner.tasks.push_back(t);
                        report.tasks += 1;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "dropping an invalid task from the state file");
                        report.rejected += 1;
                    }
                }
            }
            inner.answers = state.answers;
            inner.pairs = state.pairs;
            for e in state.dedupe {
                inner.dedupe.insert(e);
            }
            inner.next_seed = state.next_seed;
        }
        let store = Self {
            path,
            capacity: capacity.max(1),
            max_answers: 4096,
            inner: Mutex::new(inner),
            written: Arc::new(Mutex::new(0)),
        };
        Ok((store, report))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock means a panic elsewhere; the data is still consistent per operation.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.lock().tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every change so far is on disk (always true without a state file). A task counted in
    /// `len` but not yet persisted would be lost by a crash.
    pub fn is_persisted(&self) -> bool {
        if self.path.is_none() {
            return true;
        }
        let generation = self.lock().generation;
        *self.written.lock().unwrap_or_else(|p| p.into_inner()) >= generation
    }

    pub fn answers_len(&self) -> usize {
        self.lock().answers.len()
    }

    pub fn dedupe_len(&self) -> usize {
        self.lock().dedupe.len()
    }

    /// Claims a generation slot: the seed to generate with, or `None` when buffered plus in-flight
    /// tasks already fill the buffer.
    pub fn reserve(&self) -> Option<u64> {
        let mut g = self.lock();
        if g.tasks.len() + g.in_flight >= self.capacity {
            return None;
        }
        g.in_flight += 1;
        let seed = g.next_seed;
        g.next_seed = g.next_seed.wrapping_add(1);
        Some(seed)
    }

    /// Gives back a slot whose generation failed.
    pub fn release(&self) {
        let mut g = self.lock();
        g.in_flight = g.in_flight.saturating_sub(1);
    }

    /// Buffers a generated task unless its question duplicates a past one.
    pub fn admit(&self, task: SyntheticTask) -> Result<(), Rejected> {
        let mut g = self.lock();
        g.in_flight = g.in_flight.saturating_sub(1);
        let entry = g.dedupe.check(task.prompt()).map_err(Rejected::Duplicate)?;
        g.dedupe.insert(entry);
        g.tasks.push_back(task);
        g.generation += 1;
        Ok(())
    }

    pub fn pop(&self) -> Option<SyntheticTask> {
        let mut g = self.lock();
        let t = g.tasks.pop_front();
        if t.is_some() {
            g.generation += 1;
        }
        t
    }

    /// Stores the two answers of a v2 question.
    pub fn put_pair(&self, qa_id: &str, qa: AnswerRecord, ans_aug_id: &str, aug: AnswerRecord) {
        let mut g = self.lock();
        g.answers.insert(qa_id.to_owned(), qa);
        g.answers.insert(ans_aug_id.to_owned(), aug);
        g.pairs.insert(qa_id.to_owned(), ans_aug_id.to_owned());
        self.evict_answers(&mut g);
        g.generation += 1;
    }

    pub fn put_answer(&self, id: &str, record: AnswerRecord) {
        let mut g = self.lock();
        g.answers.insert(id.to_owned(), record);
        self.evict_answers(&mut g);
        g.generation += 1;
    }

    fn evict_answers(&self, g: &mut Inner) {
        // Validators pop what they use; records left behind are dropped oldest-id-first past the cap
        // so a validator that never pops cannot grow the file without bound.
        while g.answers.len() > self.max_answers {
            let Some(k) = g.answers.keys().min().cloned() else {
                break;
            };
            g.answers.remove(&k);
            g.pairs.remove(&k);
        }
    }

    pub fn answer(&self, id: &str) -> Option<AnswerRecord> {
        self.lock().answers.get(id).cloned()
    }

    /// Removes a question's answers; `false` if the id is unknown.
    pub fn pop_qa(&self, qa_id: &str) -> bool {
        let mut g = self.lock();
        let known = g.answers.remove(qa_id).is_some();
        if let Some(aug) = g.pairs.remove(qa_id) {
            g.answers.remove(&aug);
        }
        if known {
            g.generation += 1;
        }
        known
    }

    fn snapshot(&self) -> Result<(u64, Vec<u8>), StoreError> {
        let g = self.lock();
        let state = Persisted {
            version: STATE_VERSION,
            next_seed: g.next_seed,
            tasks: g
                .tasks
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?,
            answers: g.answers.clone(),
            pairs: g.pairs.clone(),
            dedupe: g.dedupe.entries().cloned().collect(),
        };
        Ok((g.generation, serde_json::to_vec(&state)?))
    }

    /// Writes the state file if it changed since the last write. Runs the file I/O on the
    /// blocking pool; concurrent calls never write an older state over a newer one.
    pub async fn persist(&self) -> Result<(), StoreError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let (generation, bytes) = self.snapshot()?;
        let written = self.written.clone();
        tokio::task::spawn_blocking(move || {
            let mut last = written.lock().unwrap_or_else(|p| p.into_inner());
            if generation <= *last && *last != 0 {
                return Ok(());
            }
            write_atomic(&path, &bytes).map_err(|source| StoreError::Write {
                path: path.clone(),
                source,
            })?;
            *last = generation;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
    {
        let _ = d.sync_all();
    }
    Ok(())
}
