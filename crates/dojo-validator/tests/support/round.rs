//! Random replay rounds for cross-checks and benchmarks. Shared by tests and the bench example
//! through `#[path]`, so it has no crate of its own.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use dojo_validator::replay::{ReplayInput, ReplayResponse, ReplayTask};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Shape of a generated round.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub tasks: usize,
    pub max_miners: usize,
    pub max_completions: usize,
    /// Inject malformed responses (missing/unknown ids, bad ranks) now and then.
    pub noisy: bool,
    /// Use exactly `max_miners` and `max_completions` instead of random sizes.
    pub fixed: bool,
}

fn size(rng: &mut ChaCha8Rng, lo: usize, hi: usize, fixed: bool) -> usize {
    if fixed {
        hi
    } else {
        rng.random_range(lo..=hi.max(lo))
    }
}

fn cids(c: usize) -> Vec<String> {
    (0..c).map(|i| format!("c{i}")).collect()
}

fn perm(rng: &mut ChaCha8Rng, c: usize) -> Vec<u32> {
    let mut p: Vec<u32> = (0..c as u32).collect();
    p.shuffle(rng);
    p
}

fn scores(rng: &mut ChaCha8Rng, ids: &[String], noisy: bool) -> BTreeMap<String, f64> {
    let style = rng.random_range(0..10);
    let mut m: BTreeMap<String, f64> = ids
        .iter()
        .map(|c| {
            let v = match style {
                0 => 50.0,                                     // lazy miner: all equal
                1..=4 => f64::from(rng.random_range(1..=100)), // integer slider, ties likely
                _ => rng.random_range(0.0..100.0),
            };
            (c.clone(), v)
        })
        .collect();
    if noisy && rng.random_bool(0.05) {
        let k = ids[rng.random_range(0..ids.len())].clone();
        m.remove(&k);
    }
    if noisy && rng.random_bool(0.03) {
        m.insert("unknown".into(), 1.0);
    }
    m
}

/// A random round for `mechanism`.
pub fn round(mechanism: &str, shape: Shape, seed: u64) -> ReplayInput {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tasks = Vec::with_capacity(shape.tasks);
    for t in 0..shape.tasks {
        let c = size(&mut rng, 2, shape.max_completions, shape.fixed);
        let n = size(&mut rng, 1, shape.max_miners, shape.fixed);
        let ids = cids(c);
        let mut task = ReplayTask {
            task_id: format!("t{t}"),
            ..Default::default()
        };
        match mechanism {
            "dojo-v1-ground-truth" | "rm-consensus" => {
                if mechanism == "dojo-v1-ground-truth" {
                    task.ground_truth = Some(ids.iter().cloned().zip(perm(&mut rng, c)).collect());
                }
                task.responses = (0..n)
                    .map(|i| ReplayResponse {
                        hotkey: format!("h{i}"),
                        scores: Some(scores(&mut rng, &ids, shape.noisy)),
                        ranks: None,
                    })
                    .collect();
            }
            "dojo-v0-consensus" => {
                if rng.random_bool(0.7) {
                    task.ground_truth = Some(ids.iter().cloned().zip(perm(&mut rng, c)).collect());
                }
                task.responses = (0..n)
                    .map(|i| {
                        let mut p = perm(&mut rng, c);
                        if shape.noisy && rng.random_bool(0.05) {
                            p[0] = c as u32 + 3;
                        }
                        ReplayResponse {
                            hotkey: format!("h{i}"),
                            scores: None,
                            ranks: Some(ids.iter().cloned().zip(p).collect()),
                        }
                    })
                    .collect();
            }
            "hfl" => {
                task.previous_score = Some(f64::from(rng.random_range(1..=10)));
                let authors: BTreeMap<String, String> = ids
                    .iter()
                    .map(|cid| (cid.clone(), format!("h{}", rng.random_range(0..n + 2))))
                    .collect();
                task.authors = Some(authors);
                task.completion_order = Some(ids.clone());
                task.responses = (0..n)
                    .map(|i| {
                        let m = ids
                            .iter()
                            .map(|cid| {
                                let v = if rng.random_bool(0.5) {
                                    f64::from(rng.random_range(1..=10))
                                } else {
                                    rng.random_range(1.0..10.0)
                                };
                                (cid.clone(), v)
                            })
                            .collect();
                        ReplayResponse {
                            hotkey: format!("h{i}"),
                            scores: Some(m),
                            ranks: None,
                        }
                    })
                    .collect();
            }
            "dojo-v2-votes" => {
                let kind = ["pvp", "pvv", "trap"][rng.random_range(0..3)];
                task.kind = Some(kind.into());
                let g = rng.random_range(1..=c);
                let gens: BTreeMap<String, String> =
                    (0..g).map(|i| (format!("g{i}"), ids[i].clone())).collect();
                let mut choices: Vec<String> = ids[..g].to_vec();
                if kind == "pvv" {
                    task.validator_completion = Some("val".into());
                    choices.push("val".into());
                }
                if kind == "trap" {
                    task.negative_generator = Some(format!("g{}", rng.random_range(0..g)));
                }
                let voters: Vec<String> = (0..n).map(|i| format!("h{i}")).collect();
                let mut votes = BTreeMap::new();
                for v in &voters {
                    if rng.random_bool(0.7) {
                        votes.insert(
                            v.clone(),
                            choices[rng.random_range(0..choices.len())].clone(),
                        );
                    }
                }
                task.generators = Some(gens);
                task.votes = Some(votes);
                task.voters = Some(voters);
            }
            other => panic!("no generator for {other}"),
        }
        tasks.push(task);
    }
    ReplayInput {
        mechanism: mechanism.into(),
        params: None,
        tasks,
    }
}
