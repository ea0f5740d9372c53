//! `dojo-validator export`: the collected data as a preference dataset in Hugging Face's shape
//! (the `prompt` / `chosen` / `rejected` columns that TRL's reward and DPO trainers read), as JSON
//! Lines or Parquet.
//!
//! One row per (task, chosen, rejected) pair that the ground truth orders: a task with C
//! completions gives C·(C−1)/2 rows, `chosen` always the one the ground truth ranks better. Each
//! row also carries what the miners said about both completions (the mean of the miners' scores
//! for each, over accepted score answers), the full ground-truth order, and which miners answered.
//! Only scored tasks are exported: their results are final.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder, UInt32Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use dojo_scoring::Answer;
use dojo_types::task::{CompletionContent, Role};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::store::{Store, StoreError, StoredTask};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (`train.jsonl`).
    Jsonl,
    /// Apache Parquet, Snappy-compressed (`train.parquet`).
    Parquet,
}

impl Format {
    /// The file written inside the output directory; `train.*` is the split name Hugging Face's
    /// `datasets` infers from a file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Jsonl => "train.jsonl",
            Format::Parquet => "train.parquet",
        }
    }
}

/// Export errors.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Writing the output failed.
    #[error("writing {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building a column batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

/// One preference pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PreferenceRow {
    /// Validator-side task id.
    pub task_id: String,
    /// The prompt.
    pub prompt: String,
    /// The completion the ground truth ranks better, as text.
    pub chosen: String,
    /// The completion it ranks worse.
    pub rejected: String,
    /// Completion id of `chosen`.
    pub chosen_id: String,
    /// Completion id of `rejected`.
    pub rejected_id: String,
    /// Ground-truth rank of `chosen` (0 = best).
    pub chosen_rank: u32,
    /// Ground-truth rank of `rejected`.
    pub rejected_rank: u32,
    /// Mean miner score of `chosen`; `None` when no accepted answer scored it.
    pub chosen_score: Option<f64>,
    /// Mean miner score of `rejected`.
    pub rejected_score: Option<f64>,
    /// The task's completion ids, best first (the ground truth).
    pub ground_truth: Vec<String>,
    /// Uids of the miners whose answers were accepted.
    pub miner_uids: Vec<u32>,
    /// Their hotkeys, in the same order.
    pub miner_hotkeys: Vec<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The file.
    pub path: PathBuf,
    /// Tasks read.
    pub tasks: u64,
    /// Rows written.
    pub rows: u64,
}

fn text_of(c: &CompletionContent) -> String {
    match c {
        CompletionContent::Text(t) => t.clone(),
        CompletionContent::Dialogue(turns) => turns
            .iter()
            .map(|t| {
                let role = match t.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                format!("{role}: {}", t.message)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        CompletionContent::Code {
            files,
            installation_commands,
        } => {
            let mut out = String::new();
            if !installation_commands.is_empty() {
                out.push_str(&format!("# install\n{installation_commands}\n"));
            }
            for f in files {
                out.push_str(&format!("# {}\n{}\n", f.filename, f.content));
            }
            out
        }
        // Binary media has no text form; the row names the files so the pair stays identifiable.
        CompletionContent::Media(files) => files
            .iter()
            .map(|f| format!("[{} {}]", f.mime_type, f.filename))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The preference pairs of one stored task.
pub fn pairs(stored: &StoredTask) -> Vec<PreferenceRow> {
    let uid_of: BTreeMap<&str, u32> = stored
        .assignments
        .iter()
        .map(|a| (a.hotkey.as_str(), u32::from(a.uid.0)))
        .collect();
    let mut sums: BTreeMap<&str, (f64, u32)> = BTreeMap::new();
    let mut miner_uids = Vec::new();
    let mut miner_hotkeys = Vec::new();
    for r in &stored.responses {
        let Some(answer) = &r.answer else { continue };
        miner_uids.push(uid_of.get(r.hotkey.as_str()).copied().unwrap_or(u32::MAX));
        miner_hotkeys.push(r.hotkey.to_string());
        if let Answer::Scores(m) = answer {
            for (cid, v) in m.iter() {
                if v.is_finite() {
                    let e = sums.entry(cid.as_str()).or_default();
                    e.0 += v;
                    e.1 += 1;
                }
            }
        }
    }
    let mean = |cid: &str| sums.get(cid).map(|(s, n)| s / f64::from(*n));
    let text: BTreeMap<&str, String> = stored
        .task
        .completions
        .iter()
        .map(|c| (c.id.as_str(), text_of(&c.content)))
        .collect();
    let order: Vec<(&str, u32)> = {
        let mut o: Vec<(&str, u32)> = stored.truth.iter().map(|(c, r)| (c.as_str(), r)).collect();
        o.sort_by_key(|(_, r)| *r);
        o
    };
    let ground_truth: Vec<String> = order.iter().map(|(c, _)| (*c).to_owned()).collect();
    let mut rows = Vec::new();
    for (i, (better, br)) in order.iter().enumerate() {
        for (worse, wr) in &order[i + 1..] {
            rows.push(PreferenceRow {
                task_id: stored.task.id.to_string(),
                prompt: stored.task.prompt.clone(),
                chosen: text.get(better).cloned().unwrap_or_default(),
                rejected: text.get(worse).cloned().unwrap_or_default(),
                chosen_id: (*better).to_owned(),
                rejected_id: (*worse).to_owned(),
                chosen_rank: *br,
                rejected_rank: *wr,
                chosen_score: mean(better),
                rejected_score: mean(worse),
                ground_truth: ground_truth.clone(),
                miner_uids: miner_uids.clone(),
                miner_hotkeys: miner_hotkeys.clone(),
            });
        }
    }
    rows
}

/// The Parquet / Arrow schema of [`PreferenceRow`].
pub fn schema() -> Schema {
    let list = |name: &str, item: DataType| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", item, true))),
            false,
        )
    };
    Schema::new(vec![
        Field::new("task_id", DataType::Utf8, false),
        Field::new("prompt", DataType::Utf8, false),
        Field::new("chosen", DataType::Utf8, false),
        Field::new("rejected", DataType::Utf8, false),
        Field::new("chosen_id", DataType::Utf8, false),
        Field::new("rejected_id", DataType::Utf8, false),
        Field::new("chosen_rank", DataType::UInt32, false),
        Field::new("rejected_rank", DataType::UInt32, false),
        Field::new("chosen_score", DataType::Float64, true),
        Field::new("rejected_score", DataType::Float64, true),
        list("ground_truth", DataType::Utf8),
        list("miner_uids", DataType::UInt32),
        list("miner_hotkeys", DataType::Utf8),
    ])
}

fn batch(schema: &Arc<Schema>, rows: &[PreferenceRow]) -> Result<RecordBatch, ExportError> {
    let strings = |f: fn(&PreferenceRow) -> &str| -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let u32s = |f: fn(&PreferenceRow) -> u32| -> ArrayRef {
        let mut b = UInt32Builder::new();
        for r in rows {
            b.append_value(f(r));
        }
        Arc::new(b.finish())
    };
    let f64s = |f: fn(&PreferenceRow) -> Option<f64>| -> ArrayRef {
        let mut b = Float64Builder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    };
    let string_lists = |f: fn(&PreferenceRow) -> &[String]| -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new());
        for r in rows {
            for s in f(r) {
                b.values().append_value(s);
            }
            b.append(true);
        }
        Arc::new(b.finish())
    };
    let mut uids = ListBuilder::new(UInt32Builder::new());
    for r in rows {
        uids.values().append_slice(&r.miner_uids);
        uids.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.task_id),
        strings(|r| &r.prompt),
        strings(|r| &r.chosen),
        strings(|r| &r.rejected),
        strings(|r| &r.chosen_id),
        strings(|r| &r.rejected_id),
        u32s(|r| r.chosen_rank),
        u32s(|r| r.rejected_rank),
        f64s(|r| r.chosen_score),
        f64s(|r| r.rejected_score),
        string_lists(|r| &r.ground_truth),
        Arc::new(uids.finish()),
        string_lists(|r| &r.miner_hotkeys),
    ];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

enum Sink {
    Jsonl(BufWriter<File>),
    Parquet(Box<ArrowWriter<File>>, Arc<Schema>),
}

/// Rows per Parquet write (one record batch).
const BATCH_ROWS: usize = 4096;

/// Writes every scored task's pairs to `dir/train.{jsonl,parquet}` (creating `dir`), calling
/// `progress(done, total)` after each task. Accuracy probes (the reward-modelling era's held-out
/// pairs) are left out: exporting them would hand the held-out set to whoever trains on the data.
pub async fn export(
    store: &Store,
    format: Format,
    dir: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<Summary, ExportError> {
    let path = dir.join(format.file_name());
    let io = |source| ExportError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut ids = store.tasks_in("scored", None, i64::MAX).await?;
    let mut kept = Vec::with_capacity(ids.len());
    for id in ids.drain(..) {
        if !store.is_probe(&id).await? {
            kept.push(id);
        }
    }
    let ids = kept;
    let total = ids.len() as u64;
    // Written next to the target and renamed at the end, so an interrupted export never leaves a
    // truncated file under the final name.
    let tmp = dir.join(format!(".{}.partial", format.file_name()));
    let file = File::create(&tmp).map_err(io)?;
    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(BufWriter::new(file)),
        Format::Parquet => {
            let schema = Arc::new(schema());
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            Sink::Parquet(
                Box::new(ArrowWriter::try_new(file, schema.clone(), Some(props))?),
                schema,
            )
        }
    };
    let mut pending: Vec<PreferenceRow> = Vec::new();
    let mut rows = 0u64;
    for (i, id) in ids.iter().enumerate() {
        let stored = store.load(id).await?;
        let new = pairs(&stored);
        rows += new.len() as u64;
        match &mut sink {
            Sink::Jsonl(w) => {
                for r in &new {
                    serde_json::to_writer(&mut *w, r).map_err(|e| io(std::io::Error::other(e)))?;
                    w.write_all(b"\n").map_err(io)?;
                }
            }
            Sink::Parquet(w, schema) => {
                pending.extend(new);
                if pending.len() >= BATCH_ROWS {
                    w.write(&batch(schema, &pending)?)?;
                    pending.clear();
                }
            }
        }
        progress(i as u64 + 1, total);
    }
    match sink {
        Sink::Jsonl(mut w) => {
            w.flush().map_err(io)?;
            w.get_ref().sync_all().map_err(io)?;
        }
        Sink::Parquet(mut w, schema) => {
            if !pending.is_empty() {
                w.write(&batch(&schema, &pending)?)?;
            }
            w.close()?;
        }
    }
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(Summary {
        path,
        tasks: total,
        rows,
    })
}
