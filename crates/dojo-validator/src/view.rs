//! Per-miner obfuscation (spec §5.4): each miner sees the completions under fresh ids of its own
//! and in an order of its own, so ids and positions say nothing across miners and an answer copied
//! from another miner names ids this miner never saw. The view is stored with the task, and
//! [`MinerView::real`] maps a miner's ids back.

use dojo_synthetic::obfuscate::random_completion_id;
use dojo_types::task::Task;
use dojo_types::{CompletionId, Criterion};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// What one miner was shown: `(id the miner saw, real completion id)` in the order shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinerView {
    /// Shown order; first is the miner's id, second the validator's.
    pub shown: Vec<(CompletionId, CompletionId)>,
}

impl MinerView {
    /// A fresh random view of `task`.
    pub fn random(task: &Task, rng: &mut impl Rng) -> Self {
        let mut real: Vec<CompletionId> = task.completions.iter().map(|c| c.id.clone()).collect();
        real.shuffle(rng);
        let shown = real
            .into_iter()
            .map(|r| (random_completion_id(rng), r))
            .collect();
        Self { shown }
    }

    /// The real id behind an id the miner saw.
    pub fn real(&self, miner_id: &str) -> Option<&CompletionId> {
        self.shown
            .iter()
            .find(|(m, _)| m.as_str() == miner_id)
            .map(|(_, r)| r)
    }

    /// Number of completions shown.
    pub fn len(&self) -> usize {
        self.shown.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// The miner's copy of `task`: completions reordered and renamed, multi-score options likewise.
    /// `None` if the view does not match the task's completions.
    pub fn apply(&self, task: &Task) -> Option<Task> {
        let mut completions = Vec::with_capacity(self.shown.len());
        for (m, r) in &self.shown {
            let mut c = task.completions.iter().find(|c| &c.id == r)?.clone();
            c.id = m.clone();
            completions.push(c);
        }
        if completions.len() != task.completions.len() {
            return None;
        }
        let criteria = task
            .criteria
            .iter()
            .map(|c| match c {
                Criterion::MultiScore { min, max, .. } => Criterion::MultiScore {
                    options: self.shown.iter().map(|(m, _)| m.to_string()).collect(),
                    min: *min,
                    max: *max,
                },
                other => other.clone(),
            })
            .collect();
        Some(Task {
            completions,
            criteria,
            ..task.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_types::TaskId;
    use dojo_types::task::{Completion, CompletionContent, TaskType};
    use rand::SeedableRng;

    pub(crate) fn task(n: usize) -> Task {
        let completions: Vec<Completion> = (0..n)
            .map(|i| Completion {
                id: CompletionId::new(format!("c{i}")).unwrap(),
                content: CompletionContent::Text(format!("answer {i}")),
            })
            .collect();
        Task {
            id: TaskId::new("t").unwrap(),
            previous: None,
            prompt: "p".into(),
            task_type: TaskType::CodeGeneration,
            criteria: vec![Criterion::MultiScore {
                options: completions.iter().map(|c| c.id.to_string()).collect(),
                min: 1.0,
                max: 100.0,
            }],
            completions,
            expire_at_unix_ms: 0,
        }
    }

    #[test]
    fn views_hide_ids_and_map_back() {
        let t = task(4);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let a = MinerView::random(&t, &mut rng);
        let b = MinerView::random(&t, &mut rng);
        let sent = a.apply(&t).unwrap();
        for (c, (m, r)) in sent.completions.iter().zip(&a.shown) {
            assert_eq!(&c.id, m);
            assert_ne!(m.as_str(), r.as_str());
            assert_eq!(a.real(m.as_str()), Some(r));
            assert_eq!(b.real(m.as_str()), None, "ids never repeat across miners");
            let orig = t.completions.iter().find(|o| &o.id == r).unwrap();
            assert_eq!(c.content, orig.content);
        }
        let Criterion::MultiScore { options, .. } = &sent.criteria[0] else {
            panic!()
        };
        assert_eq!(
            options,
            &a.shown
                .iter()
                .map(|(m, _)| m.to_string())
                .collect::<Vec<_>>()
        );
        // Orders are independent: over many views every first position occurs.
        let firsts: std::collections::BTreeSet<_> = (0..64)
            .map(|_| MinerView::random(&t, &mut rng).shown[0].1.clone())
            .collect();
        assert_eq!(firsts.len(), 4);
    }
}
