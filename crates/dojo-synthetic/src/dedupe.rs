//! Dedupe of new questions against past ones: exact (normalised-text hash), near-duplicate (MinHash
//! with LSH banding), and optionally semantic (cosine similarity of embeddings from an [`Encoder`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Turns text into an embedding vector. `dojo-reward`'s `SentenceEncoder` (all-MiniLM-L6-v2 on
/// ONNX Runtime) is the real one; the synthetic API's binary adapts it to this trait.
pub trait Encoder: Send + Sync + std::fmt::Debug {
    fn embed(&self, text: &str) -> Result<Vec<f32>, String>;
}

const PERM: usize = 64;
const BANDS: usize = 16;
const ROWS: usize = PERM / BANDS;
const SHINGLE: usize = 3;

/// Why a question was rejected.
#[derive(Clone, Debug, PartialEq)]
pub enum Duplicate {
    Exact,
    Near { jaccard: f64 },
    Semantic { cosine: f64 },
}

/// Lowercase, letters and digits only, single spaces.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The normalised-text hash used for exact duplicates.
pub fn text_hash(text: &str) -> u64 {
    fnv1a(normalise(text).as_bytes())
}

/// MinHash signature over word 3-shingles.
pub fn minhash(text: &str) -> Vec<u64> {
    let norm = normalise(text);
    let words: Vec<&str> = norm.split(' ').filter(|w| !w.is_empty()).collect();
    let mut shingles: HashSet<u64> = HashSet::new();
    if words.len() < SHINGLE {
        shingles.insert(fnv1a(norm.as_bytes()));
    } else {
        for w in words.windows(SHINGLE) {
            shingles.insert(fnv1a(w.join(" ").as_bytes()));
        }
    }
    (0..PERM)
        .map(|i| {
            let salt = mix(i as u64 + 1);
            shingles
                .iter()
                .map(|s| mix(s ^ salt))
                .min()
                .unwrap_or(u64::MAX)
        })
        .collect()
}

/// Estimated Jaccard similarity of two signatures.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    let d = na.sqrt() * nb.sqrt();
    if d > 0.0 && dot.is_finite() {
        dot / d
    } else {
        0.0
    }
}

/// One remembered question.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub hash: u64,
    pub signature: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

/// A bounded store of past questions. Serialise [`Deduper::entries`] to persist it.
#[derive(Debug)]
pub struct Deduper {
    capacity: usize,
    near_threshold: f64,
    semantic_threshold: f64,
    entries: VecDeque<Entry>,
    exact: HashMap<u64, usize>,
    bands: HashMap<(usize, u64), Vec<u64>>,
    encoder: Option<Arc<dyn Encoder>>,
}

impl Deduper {
    /// `near_threshold`: estimated Jaccard at or above which a question is a near duplicate.
    pub fn new(capacity: usize, near_threshold: f64) -> Self {
        Self {
            capacity: capacity.max(1),
            near_threshold,
            semantic_threshold: 0.97,
            entries: VecDeque::new(),
            exact: HashMap::new(),
            bands: HashMap::new(),
            encoder: None,
        }
    }

    /// Adds semantic dedupe: a question whose embedding has cosine similarity `threshold` or more
    /// with a remembered one is a duplicate.
    pub fn with_encoder(mut self, encoder: Arc<dyn Encoder>, threshold: f64) -> Self {
        self.encoder = Some(encoder);
        self.semantic_threshold = threshold;
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    fn band_keys(sig: &[u64]) -> impl Iterator<Item = (usize, u64)> + '_ {
        (0..BANDS).map(move |b| {
            let mut h = 0u64;
            for v in sig.iter().skip(b * ROWS).take(ROWS) {
                h = mix(h ^ v);
            }
            (b, h)
        })
    }

    /// Checks `text` against the store without remembering it.
    pub fn check(&self, text: &str) -> Result<Entry, Duplicate> {
        let hash = text_hash(text);
        if self.exact.contains_key(&hash) {
            return Err(Duplicate::Exact);
        }
        let signature = minhash(text);
        let mut seen = HashSet::new();
        for key in Self::band_keys(&signature) {
            for h in self.bands.get(&key).into_iter().flatten() {
                if !seen.insert(*h) {
                    continue;
                }
                if let Some(e) = self.entries.iter().find(|e| e.hash == *h) {
                    let j = jaccard(&signature, &e.signature);
                    if j >= self.near_threshold {
                        return Err(Duplicate::Near { jaccard: j });
                    }
                }
            }
        }
        let embedding = match &self.encoder {
            Some(enc) => match enc.embed(text) {
                Ok(v) => {
                    for e in &self.entries {
                        if let Some(other) = &e.embedding {
                            let c = cosine(&v, other);
                            if c >= self.semantic_threshold {
                                return Err(Duplicate::Semantic { cosine: c });
                            }
                        }
                    }
                    Some(v)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "encoder failed; semantic dedupe skipped for this question");
                    None
                }
            },
            None => None,
        };
        Ok(Entry {
            hash,
            signature,
            embedding,
        })
    }

    /// Remembers an entry returned by [`Self::check`] (or loaded from disk), evicting the oldest.
    pub fn insert(&mut self, entry: Entry) {
        if self.exact.contains_key(&entry.hash) {
            return;
        }
        while self.entries.len() >= self.capacity {
            if let Some(old) = self.entries.pop_front() {
                self.exact.remove(&old.hash);
                for key in Self::band_keys(&old.signature) {
                    if let Some(v) = self.bands.get_mut(&key) {
                        v.retain(|h| *h != old.hash);
                        if v.is_empty() {
                            self.bands.remove(&key);
                        }
                    }
                }
            }
        }
        for key in Self::band_keys(&entry.signature) {
            self.bands.entry(key).or_default().push(entry.hash);
        }
        self.exact.insert(entry.hash, self.entries.len());
        self.entries.push_back(entry);
    }

    /// [`Self::check`] then [`Self::insert`].
    pub fn admit(&mut self, text: &str) -> Result<(), Duplicate> {
        let e = self.check(text)?;
        self.insert(e);
        Ok(())
    }
}
