//! Property tests: for any number of completions in 2..10, any noise and seed, every computing
//! population's answer is complete (each completion once per criterion) and in range.

use std::collections::HashSet;

use dojo_worksim::Population;
use dojo_worksim::api::{Completion, Criterion, Task};
use dojo_worksim::population::{Canonical, answer_rng, compute, lazy, to_submission};
use proptest::prelude::*;

fn task(c: usize, lo: f64, width: f64, text: (u32, u32)) -> Task {
    let ids: Vec<String> = (0..c).map(|i| format!("x{i}")).collect();
    Task {
        id: "mt-p".to_owned(),
        role: "judge".to_owned(),
        task_type: "code-generation".to_owned(),
        prompt: "p".to_owned(),
        expire_at_ms: 0,
        criteria: vec![
            Criterion::Score {
                min: lo,
                max: lo + width,
            },
            Criterion::Ranking,
            Criterion::MultiScore {
                options: ids.clone(),
                min: lo,
                max: lo + width,
                per_completion: true,
            },
            Criterion::MultiScore {
                options: vec!["style".into(), "speed".into()],
                min: 1.0,
                max: 5.0,
                per_completion: false,
            },
            Criterion::Text {
                min_len: text.0,
                max_len: text.0 + text.1,
            },
        ],
        completions: ids
            .iter()
            .enumerate()
            .map(|(i, id)| Completion {
                id: id.clone(),
                kind: "text".into(),
                content: format!("content {}", i % 7),
            })
            .collect(),
    }
}

proptest! {
    #[test]
    fn answers_are_complete_and_in_range(
        c in 2usize..10,
        noise in 0.0f64..3.0,
        seed in any::<u64>(),
        lo in -50.0f64..50.0,
        width in 0.5f64..200.0,
        text in (0u32..40, 0u32..40),
        pop in prop::sample::select(vec![Population::Honest, Population::Lazy, Population::Random, Population::Reverse, Population::Sybil]),
        truth_seed in any::<u64>(),
    ) {
        let t = task(c, lo, width, text);
        let canonical = Canonical::of(&t);
        // A random true ranking, as qualities in [0, 1].
        let mut rng = answer_rng(truth_seed, "truth", "");
        let mut ranks: Vec<usize> = (0..c).collect();
        for i in (1..c).rev() {
            let j = (rand::Rng::random::<u64>(&mut rng) % (i as u64 + 1)) as usize;
            ranks.swap(i, j);
        }
        let q: Vec<f64> = ranks.iter().map(|&r| 1.0 - r as f64 / (c - 1) as f64).collect();
        let mut rng = answer_rng(seed, &canonical.task_hash, "w");
        let answers = [
            compute(&t, &canonical, pop, Some(&q), noise, &mut rng).unwrap(),
            lazy(&t, &canonical),
        ];
        for a in &answers {
            let inputs = to_submission(&t, &canonical, a).unwrap();
            prop_assert_eq!(inputs.len(), c * t.criteria.len());
            let pairs: HashSet<(usize, String)> = inputs.iter().map(|x| (x.criterion, x.completion_id.clone())).collect();
            prop_assert_eq!(pairs.len(), inputs.len(), "each (criterion, completion) once");
            let mut ranks: Vec<u32> = inputs.iter().filter_map(|x| x.rank).collect();
            ranks.sort_unstable();
            prop_assert_eq!(ranks, (0..c as u32).collect::<Vec<_>>());
            for x in &inputs {
                match &t.criteria[x.criterion] {
                    Criterion::Score { min, max } | Criterion::MultiScore { min, max, per_completion: true, .. } => {
                        let s = x.score.unwrap();
                        prop_assert!(s.is_finite() && *min <= s && s <= *max, "{} outside [{}, {}]", s, min, max);
                    }
                    Criterion::MultiScore { options, min, max, .. } => {
                        let m = x.scores.as_ref().unwrap();
                        prop_assert_eq!(m.len(), options.len());
                        prop_assert!(m.values().all(|v| *min <= *v && *v <= *max));
                    }
                    Criterion::Text { min_len, max_len } => {
                        let n = x.text.as_ref().unwrap().trim().chars().count() as u32;
                        prop_assert!(*min_len <= n && n <= *max_len);
                    }
                    Criterion::Ranking => prop_assert!(x.rank.is_some()),
                }
            }
        }
    }
}
