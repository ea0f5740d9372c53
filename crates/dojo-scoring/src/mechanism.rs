use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use dojo_types::Hotkey;

use crate::error::ScoringError;
use crate::task::{Task, TaskScores};

/// How per-task scores of one scoring trigger become one score per miner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Mean over the tasks in which the miner was scored ("quality over quantity", Dojo v1).
    Mean,
    /// Sum over the window (Dojo v2 vote scoring).
    Sum,
}

/// A scoring mechanism: turns one task's responses into per-miner scores.
///
/// Every mechanism of the subnet implements this; [`crate::registry`] builds them by stable name so a
/// subnet can select one in its config.
pub trait Mechanism: Send + Sync + fmt::Debug {
    /// Stable registry name, e.g. `dojo-v1-ground-truth`.
    fn name(&self) -> &'static str;

    /// Scores one task. Bad responses are listed in [`TaskScores::rejected`]; a task-level problem is
    /// an error.
    fn score_task(&self, task: &Task) -> Result<TaskScores, ScoringError>;

    /// How scores of several tasks combine into one per miner.
    fn aggregation(&self) -> Aggregation {
        Aggregation::Mean
    }

    /// Combines per-task results with [`Mechanism::aggregation`].
    fn aggregate(&self, tasks: &[TaskScores]) -> BTreeMap<Hotkey, f64> {
        aggregate(tasks, self.aggregation())
    }
}

/// Combines per-task scores: per-hotkey mean over the tasks it appears in, or the sum.
///
/// ```
/// use dojo_scoring::{Aggregation, TaskScores, aggregate};
/// use dojo_types::Hotkey;
/// let h = Hotkey::new("h1").unwrap();
/// let t = |v| TaskScores { scores: vec![(h.clone(), v)], rejected: vec![] };
/// assert_eq!(aggregate(&[t(0.2), t(0.4)], Aggregation::Mean)[&h], 0.30000000000000004);
/// assert_eq!(aggregate(&[t(0.2), t(0.4)], Aggregation::Sum)[&h], 0.6000000000000001);
/// ```
pub fn aggregate(tasks: &[TaskScores], how: Aggregation) -> BTreeMap<Hotkey, f64> {
    // A round holds ~10^5 (task, miner) entries over a few hundred hotkeys: hash by text, then sort once.
    let mut acc: HashMap<&Hotkey, (f64, u32), FxBuild> = HashMap::default();
    for t in tasks {
        for (h, v) in &t.scores {
            let e = acc.entry(h).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|(h, (sum, n))| {
            let v = match how {
                Aggregation::Mean => sum / f64::from(n),
                Aggregation::Sum => sum,
            };
            (h.clone(), v)
        })
        .collect()
}

/// Hash maps keyed by hotkey text.
pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// The multiply-rotate hash rustc uses (FxHash): hotkeys are few and short, and SipHash's DoS
/// resistance buys nothing for keys that cost a registration each.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
