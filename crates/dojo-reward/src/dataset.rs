//! Reading a preference dataset in Hugging Face's shape, as `dojo-validator export` writes it:
//! rows with `prompt`, `chosen` and `rejected` text columns (other columns are ignored), in JSON
//! Lines or Parquet, given as a file or as the export directory holding `train.jsonl` or
//! `train.parquet`.

use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::pairs::{PairsError, PreferencePair, read_jsonl};

/// Why a dataset could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// The JSON Lines file is unreadable or malformed.
    #[error(transparent)]
    Jsonl(#[from] PairsError),
    /// The path is neither a `.jsonl`/`.parquet` file nor a directory with `train.jsonl` or
    /// `train.parquet`.
    #[error(
        "{path}: not a dataset (expected a .jsonl or .parquet file, or an export directory with train.jsonl or train.parquet)"
    )]
    NotADataset {
        /// What was given.
        path: PathBuf,
    },
    /// The Parquet file is unreadable or malformed.
    #[error("{path}: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The data file a path names: itself, or the export directory's `train.jsonl` / `train.parquet`.
pub fn resolve(path: &Path) -> Result<PathBuf, DatasetError> {
    if path.is_dir() {
        for name in ["train.parquet", "train.jsonl"] {
            if path.join(name).is_file() {
                return Ok(path.join(name));
            }
        }
    } else if path.is_file() {
        return Ok(path.to_path_buf());
    }
    Err(DatasetError::NotADataset {
        path: path.to_path_buf(),
    })
}

/// Reads every row of the dataset at `path` (see the module docs).
pub fn read(path: &Path) -> Result<Vec<PreferencePair>, DatasetError> {
    let file = resolve(path)?;
    match file.extension().and_then(|e| e.to_str()) {
        Some("parquet") => read_parquet(&file),
        Some("jsonl" | "json") => Ok(read_jsonl(&file)?),
        _ => Err(DatasetError::NotADataset { path: file }),
    }
}

fn read_parquet(path: &Path) -> Result<Vec<PreferencePair>, DatasetError> {
    let err = |message: String| DatasetError::Parquet {
        path: path.to_path_buf(),
        message,
    };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| err(format!("not a Parquet file: {e}")))?
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        let cols = ["prompt", "chosen", "rejected"]
            .map(|name| text_column(&batch, name).map_err(|m| err(m.clone())));
        let [prompt, chosen, rejected] = cols;
        let (prompt, chosen, rejected) = (prompt?, chosen?, rejected?);
        for row in 0..batch.num_rows() {
            let cell = |c: &Vec<Option<String>>, name: &str| {
                c[row]
                    .clone()
                    .ok_or_else(|| err(format!("row {}: `{name}` is null", out.len() + 1)))
            };
            out.push(PreferencePair {
                prompt: cell(&prompt, "prompt")?,
                chosen: cell(&chosen, "chosen")?,
                rejected: cell(&rejected, "rejected")?,
                kind: None,
            });
        }
    }
    Ok(out)
}

/// One string column of `batch` by name, as owned cells.
fn text_column(batch: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, String> {
    let col = batch.column_by_name(name).ok_or_else(|| {
        format!("no `{name}` column (a preference dataset has prompt, chosen, rejected)")
    })?;
    let cells = match col.data_type() {
        DataType::Utf8 => col
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        DataType::LargeUtf8 => col
            .as_string::<i64>()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        DataType::Utf8View => col
            .as_string_view()
            .iter()
            .map(|v| v.map(str::to_owned))
            .collect(),
        other => return Err(format!("column `{name}` is {other}, not text")),
    };
    debug_assert_eq!(col.len(), batch.num_rows());
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;

    use super::*;

    fn write(path: &Path, cols: Vec<(&str, ArrayRef)>) {
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch =
            RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect()).unwrap();
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn text(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    #[test]
    fn reads_parquet_and_jsonl_exports() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("train.parquet"),
            vec![
                ("task_id", text(&[Some("t1"), Some("t2")])),
                ("prompt", text(&[Some("q1"), Some("q2")])),
                ("chosen", text(&[Some("good"), Some("fine")])),
                ("rejected", text(&[Some("bad"), Some("worse")])),
            ],
        );
        let rows = read(dir.path()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[1].prompt.as_str(),
                rows[1].chosen.as_str(),
                rows[1].rejected.as_str()
            ),
            ("q2", "fine", "worse")
        );
        let j = dir.path().join("x.jsonl");
        std::fs::write(
            &j,
            "{\"prompt\":\"q\",\"chosen\":\"a\",\"rejected\":\"b\",\"task_id\":\"t\"}\n",
        )
        .unwrap();
        assert_eq!(read(&j).unwrap().len(), 1);
    }

    #[test]
    fn bad_datasets_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a dataset"), "{e}");
        let p = dir.path().join("a.parquet");
        write(
            &p,
            vec![
                ("prompt", text(&[Some("q")])),
                ("chosen", text(&[Some("a")])),
            ],
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("no `rejected` column"), "{e}");
        write(
            &p,
            vec![
                ("prompt", text(&[Some("q")])),
                ("chosen", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
                ("rejected", text(&[Some("b")])),
            ],
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("`chosen` is Int64"), "{e}");
        write(
            &p,
            vec![
                ("prompt", text(&[Some("q"), None])),
                ("chosen", text(&[Some("a"), Some("a")])),
                ("rejected", text(&[Some("b"), Some("b")])),
            ],
        );
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("row 2: `prompt` is null"), "{e}");
        std::fs::write(&p, b"PAR1 not really").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("not a Parquet file"), "{e}");
    }
}
