//! `dojo-validator export` on both backends: a store filled with scored rounds is exported as JSONL
//! and Parquet, both read back (Parquet with the `parquet`/`arrow` crates, and once with Python's
//! `pyarrow` when `cargo xtask setup` has installed it) and checked against the ground truth.

use std::collections::BTreeMap;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use dojo_scoring::{Answer, CompletionMap};
use dojo_validator::export::{self, Format, PreferenceRow};
use dojo_validator::scores::ScoreBook;
use dojo_validator::store::{Collected, Store};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::both_backends;
use crate::store::{answer, hk, parts, task};

/// Three scored tasks (m1 scores 100, 90, 80, 70 in ground-truth order; m2 gives 50 to all), one
/// collected but unscored task and one scored accuracy probe (reward-modelling era: a held-out
/// pair, which must stay held out), neither of which may be exported.
async fn fill(store: &Store) {
    for (i, id) in ["ta", "tb", "tc", "td", "tp"].iter().enumerate() {
        let (t, truth) = task(id, 1_000 + i as i64);
        store
            .insert_round_as(&t, &truth, &parts(&t), 10, *id == "tp")
            .await
            .unwrap();
        let flat: CompletionMap<f64> = t.completions.iter().map(|c| (c.id.clone(), 50.0)).collect();
        let collected = vec![
            Collected {
                hotkey: hk("m1"),
                outcome: "accepted".into(),
                reason: None,
                answer: Some(answer(&t)),
            },
            Collected {
                hotkey: hk("m2"),
                outcome: "accepted".into(),
                reason: None,
                answer: Some(Answer::Scores(flat)),
            },
        ];
        store
            .record_collection(&t.id, &collected, 20)
            .await
            .unwrap();
        if *id != "td" {
            store
                .apply_scores(
                    &[(t.id.clone(), vec![(hk("m1"), 1.0), (hk("m2"), 0.5)])],
                    &ScoreBook::default(),
                    30,
                )
                .await
                .unwrap();
        }
    }
}

fn check(rows: &[PreferenceRow]) {
    assert_eq!(
        rows.len(),
        3 * 6,
        "C(4,2) pairs for each of the 3 scored tasks"
    );
    let tasks: BTreeMap<&str, usize> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.task_id.as_str()).or_default() += 1;
        m
    });
    assert_eq!(
        tasks.keys().copied().collect::<Vec<_>>(),
        ["ta", "tb", "tc"]
    );
    for r in rows {
        assert!(r.chosen_rank < r.rejected_rank, "{r:?}");
        assert_eq!(r.chosen, format!("<html>{}</html>", r.chosen_id));
        assert_eq!(r.rejected, format!("<html>{}</html>", r.rejected_id));
        assert!(r.prompt.starts_with(&format!("prompt of {}", r.task_id)));
        // m1 gives 100 − 10·rank, m2 gives 50: the mean is 75 − 5·rank.
        let expect = |rank: u32| Some(75.0 - 5.0 * f64::from(rank));
        assert_eq!(r.chosen_score, expect(r.chosen_rank), "{r:?}");
        assert_eq!(r.rejected_score, expect(r.rejected_rank), "{r:?}");
        let gt: Vec<String> = (0..4).map(|i| format!("{}-c{i}", r.task_id)).collect();
        assert_eq!(r.ground_truth, gt);
        assert_eq!(r.miner_uids, [1, 2]);
        assert_eq!(r.miner_hotkeys, ["m1", "m2"]);
    }
}

fn strings(b: &RecordBatch, name: &str) -> Vec<String> {
    let a = b.column_by_name(name).unwrap().as_string::<i32>();
    (0..a.len()).map(|i| a.value(i).to_owned()).collect()
}

fn u32s(b: &RecordBatch, name: &str) -> Vec<u32> {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec()
}

fn f64s(b: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let a = b
        .column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect()
}

fn string_lists(b: &RecordBatch, name: &str) -> Vec<Vec<String>> {
    let l = b.column_by_name(name).unwrap().as_list::<i32>();
    (0..l.len())
        .map(|i| {
            let v = l.value(i);
            let s = v.as_string::<i32>();
            (0..s.len()).map(|j| s.value(j).to_owned()).collect()
        })
        .collect()
}

fn read_parquet(path: &std::path::Path) -> Vec<PreferenceRow> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let uids = b.column_by_name("miner_uids").unwrap().as_list::<i32>();
        let cols = (
            strings(&b, "task_id"),
            strings(&b, "prompt"),
            strings(&b, "chosen"),
            strings(&b, "rejected"),
            strings(&b, "chosen_id"),
            strings(&b, "rejected_id"),
            u32s(&b, "chosen_rank"),
            u32s(&b, "rejected_rank"),
            f64s(&b, "chosen_score"),
            f64s(&b, "rejected_score"),
            string_lists(&b, "ground_truth"),
            string_lists(&b, "miner_hotkeys"),
        );
        for i in 0..b.num_rows() {
            rows.push(PreferenceRow {
                task_id: cols.0[i].clone(),
                prompt: cols.1[i].clone(),
                chosen: cols.2[i].clone(),
                rejected: cols.3[i].clone(),
                chosen_id: cols.4[i].clone(),
                rejected_id: cols.5[i].clone(),
                chosen_rank: cols.6[i],
                rejected_rank: cols.7[i],
                chosen_score: cols.8[i],
                rejected_score: cols.9[i],
                ground_truth: cols.10[i].clone(),
                miner_uids: uids.value(i).as_primitive::<UInt32Type>().values().to_vec(),
                miner_hotkeys: cols.11[i].clone(),
            });
        }
    }
    rows
}

async fn export_round_trip(url: String) -> Store {
    let store = Store::open(&url).await.unwrap();
    fill(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let mut calls = Vec::new();
    let s = export::export(&store, Format::Jsonl, dir.path(), |d, t| calls.push((d, t)))
        .await
        .unwrap();
    assert_eq!((s.tasks, s.rows), (3, 18));
    assert_eq!(calls, [(1, 3), (2, 3), (3, 3)], "progress after each task");
    let text = std::fs::read_to_string(dir.path().join("train.jsonl")).unwrap();
    let jsonl: Vec<PreferenceRow> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check(&jsonl);

    let s = export::export(&store, Format::Parquet, dir.path(), |_, _| {})
        .await
        .unwrap();
    assert_eq!(s.path, dir.path().join("train.parquet"));
    let parquet = read_parquet(&s.path);
    assert_eq!(parquet, jsonl, "both formats hold the same rows");
    assert!(
        !dir.path().join(".train.parquet.partial").exists(),
        "no partial file left"
    );
    store
}
both_backends!(
    export_writes_jsonl_and_parquet_that_read_back,
    export_round_trip
);

/// The Parquet file loads in Python's `pyarrow` (what Hugging Face `datasets` reads Parquet with),
/// with the columns TRL expects and the same values.
#[tokio::test]
async fn export_parquet_loads_in_pyarrow() {
    let Some(python) = dojo_test_utils::require_env("DOJO_DATASET_PYTHON") else {
        return;
    };
    let (db, url) = crate::db::Db::sqlite();
    let store = Store::open(&url).await.unwrap();
    fill(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let s = export::export(&store, Format::Parquet, dir.path(), |_, _| {})
        .await
        .unwrap();
    let script = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
rows = t.to_pylist()
print(json.dumps({"names": t.column_names, "n": t.num_rows, "first": rows[0],
                  "types": {f.name: str(f.type) for f in t.schema}}))
"#;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(&s.path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n"], 18);
    for c in [
        "prompt",
        "chosen",
        "rejected",
        "chosen_score",
        "rejected_score",
    ] {
        assert!(
            v["names"].as_array().unwrap().iter().any(|n| n == c),
            "{c} in {v}"
        );
    }
    assert_eq!(v["types"]["miner_uids"], "list<item: uint32>");
    let first: PreferenceRow = serde_json::from_value(v["first"].clone()).unwrap();
    assert_eq!(first, read_parquet(&s.path)[0]);
    db.drop_db(Some(store)).await;
}
