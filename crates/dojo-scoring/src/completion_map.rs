use std::collections::BTreeMap;

use dojo_types::CompletionId;

/// A small map from completion id to a value, stored as one sorted vector.
///
/// Answers have a handful of completions and a round holds hundreds of thousands of them, so a
/// contiguous sorted vector (one allocation, scanned in order) is much cheaper than a tree per
/// answer. Keys are unique: collecting a repeated id keeps the last value, as a map would.
///
/// ```
/// use dojo_scoring::CompletionMap;
/// use dojo_types::CompletionId;
/// let c = |s: &str| CompletionId::new(s).unwrap();
/// let m: CompletionMap<f64> = [(c("b"), 2.0), (c("a"), 1.0), (c("b"), 3.0)].into_iter().collect();
/// assert_eq!(m.len(), 2);
/// assert_eq!(m.get("b"), Some(&3.0));
/// assert_eq!(m.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["a", "b"]);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompletionMap<V>(Vec<(CompletionId, V)>);

impl<V> CompletionMap<V> {
    /// Number of completions.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of one completion.
    pub fn get(&self, cid: &str) -> Option<&V> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(cid))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// `(id, value)` pairs in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&CompletionId, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &CompletionId> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Values in id order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<V> FromIterator<(CompletionId, V)> for CompletionMap<V> {
    fn from_iter<I: IntoIterator<Item = (CompletionId, V)>>(iter: I) -> Self {
        let mut v: Vec<(CompletionId, V)> = iter.into_iter().collect();
        // Stable sort keeps insertion order among equal ids, so the last one wins below.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(CompletionId, V)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        CompletionMap(out)
    }
}

impl<V> From<BTreeMap<CompletionId, V>> for CompletionMap<V> {
    fn from(m: BTreeMap<CompletionId, V>) -> Self {
        CompletionMap(m.into_iter().collect())
    }
}

#[cfg(feature = "serde")]
impl<V: serde::Serialize> serde::Serialize for CompletionMap<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k.as_str(), v)?;
        }
        m.end()
    }
}

#[cfg(feature = "serde")]
impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for CompletionMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<CompletionId, V>::deserialize(d)?.into())
    }
}
