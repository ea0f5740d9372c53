//! The reward-modelling era's accuracy check (spec §4.1, era A): besides the synthetic task, each
//! round sends every miner a few held-out preference pairs (prompt, chosen, rejected) as ordinary
//! two-completion tasks. A miner's classification accuracy is the share of those it scored with
//! `chosen ≥ rejected` (ties count as correct, as in era A), computed with `dojo-reward`'s
//! evaluator; `rm-consensus` multiplies each miner's consensus score by it, so a miner that agrees
//! with the crowd but cannot tell good from bad earns nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use dojo_reward::pairs::{PairsError, PreferencePair, read_jsonl};
use dojo_scoring::Answer;
use dojo_synthetic_api::client::default_criterion;
use dojo_types::task::{Completion, CompletionContent, Task, TaskType};
use dojo_types::{CompletionId, Criterion, Hotkey, Ranking, TaskId};
use rand::Rng;

use crate::store::Collected;

/// Held-out preference pairs to probe miners with.
#[derive(Debug, Clone)]
pub struct Probes {
    pairs: Arc<Vec<PreferencePair>>,
    /// Probe tasks per round.
    pub per_round: usize,
}

/// Why the pairs cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The file does not read.
    #[error(transparent)]
    Pairs(#[from] PairsError),
    /// The file has no usable pair.
    #[error("{0}: no preference pair with a prompt and two different, non-empty answers")]
    Empty(String),
}

const CHOSEN: &str = "a";
const REJECTED: &str = "b";

impl Probes {
    /// Reads a JSONL pairs file (`{"prompt", "chosen", "rejected"}` per line, `dojo-reward`'s
    /// format); pairs with an empty field or equal answers are skipped, since they test nothing.
    pub fn load(path: &Path, per_round: usize) -> Result<Self, ProbeError> {
        let pairs: Vec<PreferencePair> = read_jsonl(path)?
            .into_iter()
            .filter(|p| {
                !p.prompt.trim().is_empty()
                    && !p.chosen.trim().is_empty()
                    && !p.rejected.trim().is_empty()
                    && p.chosen != p.rejected
            })
            .collect();
        if pairs.is_empty() {
            return Err(ProbeError::Empty(path.display().to_string()));
        }
        Ok(Self {
            pairs: Arc::new(pairs),
            per_round,
        })
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Never true: [`Probes::load`] refuses an empty file.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// One probe task from a random pair: two text completions (the chosen one ranked best), the
    /// same score criterion as a synthetic task. Miners see it through their own view, so the ids
    /// and order they get say nothing about which answer was chosen.
    pub fn task(
        &self,
        id: TaskId,
        expire_at_unix_ms: i64,
        bounds: (f64, f64),
        rng: &mut impl Rng,
    ) -> (Task, Ranking) {
        let p = &self.pairs[rng.random_range(0..self.pairs.len())];
        let cid = |s: &str| CompletionId::new(s).expect("a valid completion id");
        let ids = [cid(CHOSEN), cid(REJECTED)];
        let criterion = match default_criterion(&ids) {
            Criterion::MultiScore { options, .. } => {
                Criterion::multi_score(options, bounds.0, bounds.1).unwrap_or(Criterion::Ranking)
            }
            other => other,
        };
        let task = Task {
            id,
            previous: None,
            prompt: p.prompt.clone(),
            task_type: TaskType::Dialogue,
            completions: vec![
                Completion {
                    id: ids[0].clone(),
                    content: CompletionContent::Text(p.chosen.clone()),
                },
                Completion {
                    id: ids[1].clone(),
                    content: CompletionContent::Text(p.rejected.clone()),
                },
            ],
            criteria: vec![criterion],
            expire_at_unix_ms,
        };
        let truth = Ranking::new([(ids[0].clone(), 0), (ids[1].clone(), 1)])
            .expect("two distinct ids rank");
        (task, truth)
    }
}

/// `score(chosen) − score(rejected)` of one answer to a probe task (for a ranking, the rank
/// difference the other way round), or `None` when it does not judge both.
fn margin(answer: &Answer) -> Option<f64> {
    match answer {
        Answer::Scores(s) => Some(s.get(CHOSEN)? - s.get(REJECTED)?),
        Answer::Ranks(r) => Some(f64::from(*r.get(REJECTED)?) - f64::from(*r.get(CHOSEN)?)),
    }
}

/// Each miner's accuracy over `probes` (the collected responses of probe tasks): the fraction of
/// its answered probes with a non-negative margin. A probe a miner was sent but did not answer
/// counts as wrong, so silence is not a way to keep a perfect record.
pub fn accuracy<'a>(probes: impl IntoIterator<Item = &'a [Collected]>) -> BTreeMap<Hotkey, f64> {
    let mut margins: BTreeMap<Hotkey, Vec<f64>> = BTreeMap::new();
    for responses in probes {
        for c in responses {
            let m = c
                .answer
                .as_ref()
                .and_then(margin)
                .filter(|m| m.is_finite())
                .unwrap_or(-1.0);
            margins.entry(c.hotkey.clone()).or_default().push(m);
        }
    }
    margins
        .into_iter()
        .map(|(h, m)| {
            // The evaluator wants the pairs only for per-kind figures, which a probe has none of.
            let pairs = vec![
                PreferencePair {
                    prompt: String::new(),
                    chosen: String::new(),
                    rejected: String::new(),
                    kind: None,
                };
                m.len()
            ];
            (h, dojo_reward::eval::report(&pairs, &m).accuracy)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_scoring::CompletionMap;
    use rand::SeedableRng;

    fn collected(h: &str, answer: Option<Answer>) -> Collected {
        Collected {
            hotkey: Hotkey::new(h).unwrap(),
            outcome: "accepted".into(),
            reason: None,
            answer,
        }
    }

    fn scores(a: f64, b: f64) -> Answer {
        let m: CompletionMap<f64> = [
            (CompletionId::new(CHOSEN).unwrap(), a),
            (CompletionId::new(REJECTED).unwrap(), b),
        ]
        .into_iter()
        .collect();
        Answer::Scores(m)
    }

    #[test]
    fn accuracy_counts_ties_as_right_and_silence_as_wrong() {
        let p1 = [
            collected("good", Some(scores(90.0, 10.0))),
            collected("bad", Some(scores(10.0, 90.0))),
            collected("quiet", None),
        ];
        let p2 = [
            collected("good", Some(scores(50.0, 50.0))),
            collected("bad", Some(scores(20.0, 80.0))),
            collected("quiet", Some(scores(70.0, 60.0))),
        ];
        let acc = accuracy([&p1[..], &p2[..]]);
        assert_eq!(acc[&Hotkey::new("good").unwrap()], 1.0);
        assert_eq!(acc[&Hotkey::new("bad").unwrap()], 0.0);
        assert_eq!(acc[&Hotkey::new("quiet").unwrap()], 0.5);
    }

    #[test]
    fn a_probe_ranks_the_chosen_answer_first() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.jsonl");
        std::fs::write(
            &f,
            "{\"prompt\":\"p\",\"chosen\":\"good\",\"rejected\":\"bad\"}\n{\"prompt\":\"p\",\"chosen\":\"same\",\"rejected\":\"same\"}\n",
        )
        .unwrap();
        let probes = Probes::load(&f, 1).unwrap();
        assert_eq!(probes.len(), 1, "the pair with equal answers tests nothing");
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (t, truth) = probes.task(TaskId::new("t").unwrap(), 5, (1.0, 100.0), &mut rng);
        assert_eq!(truth.rank(CHOSEN), Some(0));
        assert_eq!(
            t.completions[0].content,
            CompletionContent::Text("good".into())
        );
        std::fs::write(
            &f,
            "{\"prompt\":\"\",\"chosen\":\"a\",\"rejected\":\"b\"}\n",
        )
        .unwrap();
        assert!(matches!(Probes::load(&f, 1), Err(ProbeError::Empty(_))));
    }
}
