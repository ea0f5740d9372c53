//! Data steps: local JSONL or CSV files mapped onto prompt/chosen/rejected/completions, or validator
//! event logs, then sampled.
//!
//! Parquet is deliberately not read: the `parquet`/`arrow` stack roughly doubles this crate's clean
//! build on the project's 2-core CI; exported datasets are converted to JSONL instead.

use std::io::{BufRead, BufReader};
use std::path::Path;

use rand::SeedableRng;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use crate::config::{Columns, DataFormat, Sample, SampleMethod};
use crate::error::LabError;
use crate::network::StepEvent;

/// A preference pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairRow {
    /// Prompt.
    pub prompt: String,
    /// Preferred completion.
    pub chosen: String,
    /// Dispreferred completion.
    pub rejected: String,
}

/// A prompt with one completion (rows with a list of completions become several rows sharing `group`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRow {
    /// Source row number (0-based) in the file.
    pub group: usize,
    /// Prompt.
    pub prompt: String,
    /// Completion.
    pub completion: String,
}

/// What a data step produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Dataset {
    /// Preference pairs.
    Pairs(Vec<PairRow>),
    /// Completions.
    Completions(Vec<CompletionRow>),
    /// Validator step events.
    Events(Vec<StepEvent>),
}

impl Dataset {
    /// Number of records.
    pub fn len(&self) -> usize {
        match self {
            Dataset::Pairs(v) => v.len(),
            Dataset::Completions(v) => v.len(),
            Dataset::Events(v) => v.len(),
        }
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Column names of a file: the CSV header, or the keys of the first JSONL object.
pub fn read_header(path: &Path, format: DataFormat) -> Result<Vec<String>, LabError> {
    match format {
        DataFormat::Csv => {
            let mut r = csv::Reader::from_path(path).map_err(|e| csv_err(path, &e))?;
            let h = r.headers().map_err(|e| csv_err(path, &e))?;
            Ok(h.iter().map(str::to_owned).collect())
        }
        DataFormat::Jsonl | DataFormat::Events => {
            let f = std::fs::File::open(path).map_err(|e| LabError::io("opening", path, e))?;
            for (n, line) in BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| LabError::io("reading", path, e))?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value =
                    serde_json::from_str(&line).map_err(|e| LabError::Data {
                        path: path.to_owned(),
                        line: n as u64 + 1,
                        message: format!("not JSON: {e}"),
                    })?;
                let serde_json::Value::Object(map) = v else {
                    return Err(LabError::Data {
                        path: path.to_owned(),
                        line: n as u64 + 1,
                        message: "expected a JSON object per line".to_owned(),
                    });
                };
                return Ok(map.keys().cloned().collect());
            }
            Err(LabError::Data {
                path: path.to_owned(),
                line: 0,
                message: "file has no records".to_owned(),
            })
        }
    }
}

fn csv_err(path: &Path, e: &csv::Error) -> LabError {
    let line = e.position().map_or(0, csv::Position::line);
    LabError::Data {
        path: path.to_owned(),
        line,
        message: e.to_string(),
    }
}

/// Reads and samples a data file.
pub fn load(
    path: &Path,
    format: DataFormat,
    columns: Option<&Columns>,
    sample_cfg: Option<&Sample>,
) -> Result<Dataset, LabError> {
    let ds = match (format, columns) {
        (DataFormat::Events, _) => Dataset::Events(crate::network::read_events(path)?),
        (_, None) => {
            return Err(LabError::Data {
                path: path.to_owned(),
                line: 0,
                message: "no column mapping".to_owned(),
            });
        }
        (DataFormat::Jsonl, Some(cols)) => load_jsonl(path, cols)?,
        (DataFormat::Csv, Some(cols)) => load_csv(path, cols)?,
    };
    if ds.is_empty() {
        return Err(LabError::Data {
            path: path.to_owned(),
            line: 0,
            message: "no records".to_owned(),
        });
    }
    Ok(match sample_cfg {
        None => ds,
        Some(s) => apply_sample(ds, s),
    })
}

fn field_str(
    path: &Path,
    line: u64,
    obj: &serde_json::Map<String, serde_json::Value>,
    col: &str,
) -> Result<String, LabError> {
    match obj.get(col) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(LabError::Data {
            path: path.to_owned(),
            line,
            message: format!("column `{col}` must be a string, got {}", type_name(other)),
        }),
        None => Err(LabError::Data {
            path: path.to_owned(),
            line,
            message: format!("column `{col}` is missing"),
        }),
    }
}

fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn load_jsonl(path: &Path, cols: &Columns) -> Result<Dataset, LabError> {
    let f = std::fs::File::open(path).map_err(|e| LabError::io("opening", path, e))?;
    let mut pairs = Vec::new();
    let mut comps = Vec::new();
    let mut row = 0usize;
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| LabError::io("reading", path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| LabError::Data {
            path: path.to_owned(),
            line: line_no,
            message: format!("not JSON: {e}"),
        })?;
        let serde_json::Value::Object(obj) = v else {
            return Err(LabError::Data {
                path: path.to_owned(),
                line: line_no,
                message: "expected a JSON object".to_owned(),
            });
        };
        match cols {
            Columns::Pairs {
                prompt,
                chosen,
                rejected,
            } => pairs.push(PairRow {
                prompt: field_str(path, line_no, &obj, prompt)?,
                chosen: field_str(path, line_no, &obj, chosen)?,
                rejected: field_str(path, line_no, &obj, rejected)?,
            }),
            Columns::Completions {
                prompt,
                completions,
            } => {
                let p = field_str(path, line_no, &obj, prompt)?;
                match obj.get(completions) {
                    Some(serde_json::Value::String(s)) => {
                        comps.push(CompletionRow {
                            group: row,
                            prompt: p,
                            completion: s.clone(),
                        });
                    }
                    Some(serde_json::Value::Array(items)) => {
                        for item in items {
                            let serde_json::Value::String(s) = item else {
                                return Err(LabError::Data {
                                    path: path.to_owned(),
                                    line: line_no,
                                    message: format!(
                                        "column `{completions}` must hold strings, found {}",
                                        type_name(item)
                                    ),
                                });
                            };
                            comps.push(CompletionRow {
                                group: row,
                                prompt: p.clone(),
                                completion: s.clone(),
                            });
                        }
                    }
                    Some(other) => {
                        return Err(LabError::Data {
                            path: path.to_owned(),
                            line: line_no,
                            message: format!(
                                "column `{completions}` must be a string or a list, got {}",
                                type_name(other)
                            ),
                        });
                    }
                    None => {
                        return Err(LabError::Data {
                            path: path.to_owned(),
                            line: line_no,
                            message: format!("column `{completions}` is missing"),
                        });
                    }
                }
            }
        }
        row += 1;
    }
    Ok(match cols {
        Columns::Pairs { .. } => Dataset::Pairs(pairs),
        Columns::Completions { .. } => Dataset::Completions(comps),
    })
}

fn load_csv(path: &Path, cols: &Columns) -> Result<Dataset, LabError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| csv_err(path, &e))?;
    let headers = r.headers().map_err(|e| csv_err(path, &e))?.clone();
    let idx = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| LabError::Data {
                path: path.to_owned(),
                line: 1,
                message: format!("column `{name}` not in header"),
            })
    };
    let mut pairs = Vec::new();
    let mut comps = Vec::new();
    match cols {
        Columns::Pairs {
            prompt,
            chosen,
            rejected,
        } => {
            let (p, c, rj) = (idx(prompt)?, idx(chosen)?, idx(rejected)?);
            for rec in r.records() {
                let rec = rec.map_err(|e| csv_err(path, &e))?;
                let get = |i: usize| rec.get(i).unwrap_or_default().to_owned();
                pairs.push(PairRow {
                    prompt: get(p),
                    chosen: get(c),
                    rejected: get(rj),
                });
            }
            Ok(Dataset::Pairs(pairs))
        }
        Columns::Completions {
            prompt,
            completions,
        } => {
            let (p, c) = (idx(prompt)?, idx(completions)?);
            for (row, rec) in r.records().enumerate() {
                let rec = rec.map_err(|e| csv_err(path, &e))?;
                comps.push(CompletionRow {
                    group: row,
                    prompt: rec.get(p).unwrap_or_default().to_owned(),
                    completion: rec.get(c).unwrap_or_default().to_owned(),
                });
            }
            Ok(Dataset::Completions(comps))
        }
    }
}

/// Picks `n` record indices out of `len`: the first `n`, or a seeded sample kept in file order.
pub fn sample_indices(len: usize, s: &Sample) -> Vec<usize> {
    let n = s.n.value.min(len);
    match s.method {
        SampleMethod::First => (0..n).collect(),
        SampleMethod::Random => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s.seed);
            let mut idx = sample(&mut rng, len, n).into_vec();
            idx.sort_unstable();
            idx
        }
    }
}

fn pick<T: Clone>(v: Vec<T>, idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| v[i].clone()).collect()
}

fn apply_sample(ds: Dataset, s: &Sample) -> Dataset {
    match ds {
        Dataset::Pairs(v) => {
            let idx = sample_indices(v.len(), s);
            Dataset::Pairs(pick(v, &idx))
        }
        Dataset::Events(v) => {
            let idx = sample_indices(v.len(), s);
            Dataset::Events(pick(v, &idx))
        }
        Dataset::Completions(v) => {
            // Sample source rows, not flattened completions, so a prompt keeps all its answers.
            let groups: Vec<usize> = {
                let mut g: Vec<usize> = v.iter().map(|r| r.group).collect();
                g.dedup();
                g
            };
            let keep: std::collections::BTreeSet<usize> = sample_indices(groups.len(), s)
                .into_iter()
                .map(|i| groups[i])
                .collect();
            Dataset::Completions(v.into_iter().filter(|r| keep.contains(&r.group)).collect())
        }
    }
}
