//! The moving average of miner scores, kept by uid *and* the hotkey it belongs to (spec §4.5):
//! a uid whose hotkey changed (deregistered and taken by someone else) starts again from 0, and
//! the vector grows with the subnet.

use std::collections::BTreeMap;

use dojo_scoring::{EmaUpdate, MovingAverage, WeightError};
use dojo_types::chain::MetagraphSnapshot;
use dojo_types::{Hotkey, Uid};

/// One score per uid with the hotkey it was earned by.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreBook {
    /// `(hotkey, score)` indexed by uid; `None` for a uid not yet seen.
    pub entries: Vec<(Option<Hotkey>, f64)>,
}

/// What [`ScoreBook::sync`] changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncReport {
    /// Uids whose hotkey changed; their score was reset to 0.
    pub reset: Vec<Uid>,
    /// Uids added by growth.
    pub added: usize,
}

impl ScoreBook {
    /// Scores by uid.
    pub fn scores(&self) -> Vec<f64> {
        self.entries.iter().map(|(_, s)| *s).collect()
    }

    /// Aligns the book with `metagraph`: grows it, resets uids whose hotkey changed, and drops
    /// uids beyond the metagraph (a shrunk subnet).
    pub fn sync(&mut self, metagraph: &MetagraphSnapshot) -> SyncReport {
        let mut report = SyncReport::default();
        let n = metagraph.neurons.len();
        if self.entries.len() < n {
            report.added = n - self.entries.len();
            self.entries.resize(n, (None, 0.0));
        }
        self.entries.truncate(n);
        for neuron in &metagraph.neurons {
            let Some(e) = self.entries.get_mut(usize::from(neuron.uid.0)) else {
                continue;
            };
            match &e.0 {
                Some(h) if h == &neuron.hotkey => {}
                Some(_) => {
                    report.reset.push(neuron.uid);
                    *e = (Some(neuron.hotkey.clone()), 0.0);
                }
                None => e.0 = Some(neuron.hotkey.clone()),
            }
        }
        report
    }

    /// Folds per-hotkey rewards into the average. Hotkeys the book does not hold are skipped (they
    /// left the subnet since they were scored). On error nothing changes.
    pub fn apply(
        &mut self,
        ema: &MovingAverage,
        rewards: &BTreeMap<Hotkey, f64>,
    ) -> Result<EmaUpdate, WeightError> {
        let by_hotkey: BTreeMap<&Hotkey, Uid> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, (h, _))| h.as_ref().map(|h| (h, Uid(i as u16))))
            .collect();
        let rewards: Vec<(Uid, f64)> = rewards
            .iter()
            .filter_map(|(h, v)| by_hotkey.get(h).map(|u| (*u, *v)))
            .collect();
        let mut scores = self.scores();
        let out = ema.update(&mut scores, &rewards)?;
        for (e, s) in self.entries.iter_mut().zip(scores) {
            e.1 = s;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dojo_scoring::AbsentMiners;
    use dojo_types::chain::NeuronInfo;

    fn mg(hotkeys: &[&str]) -> MetagraphSnapshot {
        MetagraphSnapshot {
            netuid: 1,
            block: 0,
            neurons: hotkeys
                .iter()
                .enumerate()
                .map(|(i, h)| NeuronInfo {
                    uid: Uid(i as u16),
                    hotkey: Hotkey::new(*h).unwrap(),
                    coldkey: Hotkey::new("c").unwrap(),
                    alpha_stake: 0,
                    tao_stake: 0,
                    stake: 0,
                    validator_permit: false,
                    axon: None,
                    consensus: 0,
                    incentive: 0,
                    dividends: 0,
                    validator_trust: 0,
                    emission: 0,
                    last_update: 0,
                    active: true,
                    block_at_registration: 0,
                    weights: vec![],
                    bonds: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn replaced_hotkey_is_reset_and_growth_pads() {
        let ema = MovingAverage::new(0.5, AbsentMiners::Decay).unwrap();
        let mut book = ScoreBook::default();
        book.sync(&mg(&["a", "b"]));
        let r: BTreeMap<Hotkey, f64> = [("a", 1.0), ("b", 0.5)]
            .iter()
            .map(|(h, v)| (Hotkey::new(*h).unwrap(), *v))
            .collect();
        book.apply(&ema, &r).unwrap();
        assert_eq!(book.scores(), [0.5, 0.25]);
        let rep = book.sync(&mg(&["a", "x", "c"]));
        assert_eq!(rep.reset, [Uid(1)]);
        assert_eq!(rep.added, 1);
        assert_eq!(book.scores(), [0.5, 0.0, 0.0]);
        // A reward for the departed hotkey "b" goes nowhere.
        book.apply(&ema, &r).unwrap();
        assert_eq!(book.scores(), [0.75, 0.0, 0.0]);
    }
}
