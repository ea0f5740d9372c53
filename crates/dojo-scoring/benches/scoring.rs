//! Micro-benchmarks of the mechanisms on a deterministic round.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dojo_scoring::{Answer, MechanismConfig, Response, Task};
use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

fn task(rng: &mut ChaCha8Rng, miners: usize, c: usize, ranks: bool) -> Task {
    let cids: Vec<CompletionId> = (0..c)
        .map(|i| CompletionId::new(format!("c{i}")).unwrap())
        .collect();
    let responses = (0..miners)
        .map(|i| {
            let answer = if ranks {
                let mut p: Vec<u32> = (0..c as u32).collect();
                p.shuffle(rng);
                Answer::Ranks(cids.iter().cloned().zip(p).collect())
            } else {
                Answer::Scores(
                    cids.iter()
                        .map(|cid| (cid.clone(), f64::from(rng.random_range(1..=100))))
                        .collect(),
                )
            };
            Response {
                hotkey: Hotkey::new(format!("h{i}")).unwrap(),
                answer,
            }
        })
        .collect();
    let mut t = Task::new(TaskId::new("t").unwrap(), responses);
    let mut p: Vec<u32> = (0..c as u32).collect();
    p.shuffle(rng);
    t.ground_truth = Some(Ranking::new(cids.into_iter().zip(p)).unwrap());
    t
}

fn bench(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (name, ranks) in [
        ("dojo-v1-ground-truth", false),
        ("dojo-v0-consensus", true),
        ("rm-consensus", false),
    ] {
        let m = MechanismConfig::from_name(name).unwrap().build().unwrap();
        let t = task(&mut rng, 256, 4, ranks);
        c.bench_function(&format!("{name}/task-256x4"), |b| {
            b.iter(|| m.score_task(black_box(&t)).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
