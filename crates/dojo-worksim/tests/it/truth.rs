//! The ground-truth follower: whole lines only, growth, bad lines, replacement.

use dojo_worksim::truth::{TruthLog, sha256_hex};

use crate::fixtures::*;

fn hashes(n: usize) -> Vec<String> {
    (0..n).map(|i| sha256_hex(content(i).as_bytes())).collect()
}

#[test]
fn follows_the_log_line_by_line_as_it_grows() {
    let dir = tempfile::tempdir().unwrap();
    let path = gt_path(&dir);
    let mut log = TruthLog::new(&path);
    assert_eq!(log.refresh().unwrap(), 0, "a missing file is no records");

    let line = truth_line("qa-1", &[1, 0, 2]);
    let (head, tail) = line.split_at(line.len() / 2);
    append(&path, head);
    assert_eq!(log.refresh().unwrap(), 0, "half a line is not read");
    append(&path, tail);
    append(&path, "not json\n\n");
    assert_eq!(log.refresh().unwrap(), 1);
    assert_eq!(log.bad_lines(), 1);
    // q = 1 - rank/(C-1).
    assert_eq!(log.index().qualities(&hashes(3)), Some(vec![0.5, 1.0, 0.0]));
    // In any order, and a subset of a record's completions.
    let h = hashes(3);
    assert_eq!(
        log.index().qualities(&[h[2].clone(), h[1].clone()]),
        Some(vec![0.0, 1.0])
    );
    assert_eq!(log.index().qualities(&hashes(4)), None);

    // A later record with the same contents wins.
    append(&path, &truth_line("qa-2", &[0, 2, 1]));
    assert_eq!(log.refresh().unwrap(), 1);
    assert_eq!(log.index().qualities(&hashes(3)), Some(vec![1.0, 0.0, 0.5]));

    // Replaced by a shorter file: read again from the start.
    std::fs::write(&path, truth_line("qa-3", &[1, 0])).unwrap();
    assert_eq!(log.refresh().unwrap(), 1);
    assert_eq!(log.index().len(), 1);
    assert_eq!(log.index().qualities(&hashes(2)), Some(vec![0.0, 1.0]));
}

#[test]
fn dojo_v2_pages_and_votes_come_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = gt_path(&dir);
    let completions: Vec<serde_json::Value> = [2u32, 0, 1]
        .iter()
        .enumerate()
        .map(|(i, r)| serde_json::json!({"content_sha256": sha256_hex(content(i).as_bytes()), "rank": r, "html": content(i)}))
        .collect();
    let line = serde_json::json!({
        "prompt_sha256": sha256_hex(b"build a clock"),
        "augmented_prompt_sha256": [sha256_hex(b"build a broken clock")],
        "completions": completions,
    });
    append(&path, &format!("{line}\n"));
    let mut log = TruthLog::new(&path);
    assert_eq!(log.refresh().unwrap(), 1);
    let pages = log.index().pages(&sha256_hex(b"build a clock")).unwrap();
    assert_eq!(
        pages.by_rank,
        vec![content(1), content(2), content(0)],
        "best first"
    );
    assert!(!pages.augmented);
    assert!(
        log.index()
            .pages(&sha256_hex(b"build a broken clock"))
            .unwrap()
            .augmented
    );
    assert!(log.index().pages(&sha256_hex(b"something else")).is_none());
    // A vote between a known page and one nobody graded: the unknown one is the worst.
    let h = hashes(3);
    let unknown = sha256_hex(b"<html></html>");
    assert_eq!(
        log.index().vote_qualities(&[h[1].clone(), unknown.clone()]),
        Some(vec![1.0, 0.0])
    );
    assert_eq!(log.index().vote_qualities(&[unknown]), None);
}
