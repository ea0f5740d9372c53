use std::collections::BTreeMap;

use crate::CompletionId;

/// Error from building a [`Ranking`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RankingError {
    /// A ranking must rank at least one completion.
    #[error("ranking is empty")]
    Empty,
    /// A completion appeared twice.
    #[error("completion {0} is ranked twice")]
    Duplicate(CompletionId),
    /// The ranks are not exactly `0..C`.
    #[error("ranks must be exactly 0..{len} with each used once, got {ranks:?}")]
    NotAPermutation {
        /// Number of completions.
        len: usize,
        /// The ranks as given, sorted.
        ranks: Vec<u32>,
    },
}

/// A strict ranking of completions: each of the `C` completions gets a distinct rank in `0..C`,
/// with 0 the best. This is the shape of synthetic ground truth.
///
/// ```
/// use dojo_types::{CompletionId, Ranking};
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let r = Ranking::new([(c("a"), 1), (c("b"), 0)]).unwrap();
/// assert_eq!(r.best_first().map(|c| c.as_str()).collect::<Vec<_>>(), ["b", "a"]);
/// assert!(Ranking::new([(c("a"), 0), (c("b"), 2)]).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Ranking(BTreeMap<CompletionId, u32>);

impl Ranking {
    /// Builds a ranking, checking that ranks are a permutation of `0..C`.
    pub fn new(pairs: impl IntoIterator<Item = (CompletionId, u32)>) -> Result<Self, RankingError> {
        let mut map = BTreeMap::new();
        for (cid, rank) in pairs {
            if map.contains_key(&cid) {
                return Err(RankingError::Duplicate(cid));
            }
            map.insert(cid, rank);
        }
        if map.is_empty() {
            return Err(RankingError::Empty);
        }
        let mut ranks: Vec<u32> = map.values().copied().collect();
        ranks.sort_unstable();
        if ranks.iter().enumerate().any(|(i, r)| *r as usize != i) {
            return Err(RankingError::NotAPermutation { len: map.len(), ranks });
        }
        Ok(Ranking(map))
    }

    /// Number of ranked completions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: an empty ranking cannot be constructed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Rank of a completion, if it is ranked.
    pub fn rank(&self, cid: &str) -> Option<u32> {
        self.0.get(cid).copied()
    }

    /// Completion ids ordered best (rank 0) to worst.
    pub fn best_first(&self) -> impl Iterator<Item = &CompletionId> {
        let mut v: Vec<(&CompletionId, u32)> = self.0.iter().map(|(c, r)| (c, *r)).collect();
        v.sort_unstable_by_key(|(_, r)| *r);
        v.into_iter().map(|(c, _)| c)
    }

    /// `(completion, rank)` pairs in completion-id order.
    pub fn iter(&self) -> impl Iterator<Item = (&CompletionId, u32)> {
        self.0.iter().map(|(c, r)| (c, *r))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Ranking {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = BTreeMap::<CompletionId, u32>::deserialize(d)?;
        Ranking::new(m).map_err(serde::de::Error::custom)
    }
}
