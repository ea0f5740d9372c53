//! Preference pairs: the `{prompt, chosen, rejected}` JSONL format of Hugging Face preference
//! datasets, and a deterministic generator of pairs whose preference is known by construction.
//!
//! The generator takes a good answer from the built-in corpus (`data/corpus.jsonl`, hand-written
//! prompts with answers that meet every stated requirement) and degrades it one way at a time.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One preference judgement: `chosen` is better than `rejected` for `prompt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferencePair {
    /// The prompt.
    pub prompt: String,
    /// The preferred response.
    pub chosen: String,
    /// The dispreferred response.
    pub rejected: String,
    /// How `rejected` was made, for generated pairs (a [`Degradation`] name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Why a pairs file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PairsError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a `{prompt, chosen, rejected}` object.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads a JSONL file of `{"prompt", "chosen", "rejected"}` objects (extra fields ignored, blank
/// lines skipped). Invalid UTF-8 or JSON is an error naming the line.
pub fn read_jsonl(path: &Path) -> Result<Vec<PreferencePair>, PairsError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| PairsError::Io {
        path: p.clone(),
        source: e,
    })?;
    parse_jsonl(std::io::BufReader::new(file), &p)
}

/// [`read_jsonl`] over any reader; `name` labels errors.
pub fn parse_jsonl(reader: impl BufRead, name: &str) -> Result<Vec<PreferencePair>, PairsError> {
    #[derive(Deserialize)]
    struct Row {
        prompt: String,
        chosen: String,
        rejected: String,
        #[serde(default)]
        kind: Option<String>,
    }
    let mut out = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let bytes = line.map_err(|e| PairsError::Io {
            path: name.to_owned(),
            source: e,
        })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| PairsError::Parse {
            path: name.to_owned(),
            line: i + 1,
            message: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(text).map_err(|e| PairsError::Parse {
            path: name.to_owned(),
            line: i + 1,
            message: format!("expected {{\"prompt\", \"chosen\", \"rejected\"}}: {e}"),
        })?;
        out.push(PreferencePair {
            prompt: row.prompt,
            chosen: row.chosen,
            rejected: row.rejected,
            kind: row.kind,
        });
    }
    Ok(out)
}

/// Writes pairs as JSONL.
pub fn write_jsonl(path: &Path, pairs: &[PreferencePair]) -> Result<(), PairsError> {
    let p = path.display().to_string();
    let io = |e| PairsError::Io {
        path: p.clone(),
        source: e,
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for pair in pairs {
        let line = serde_json::to_string(pair).map_err(|e| PairsError::Parse {
            path: p.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        writeln!(f, "{line}").map_err(io)?;
    }
    f.flush().map_err(io)
}

/// One corpus item: a prompt and a good answer as sentences; `requirement` indexes the sentence that
/// meets the prompt's explicit requirement.
#[derive(Clone, Debug, Deserialize)]
pub struct CorpusItem {
    /// The prompt.
    pub prompt: String,
    /// The good answer, sentence by sentence.
    pub sentences: Vec<String>,
    /// Index of the sentence that satisfies the prompt's explicit requirement.
    pub requirement: usize,
}

impl CorpusItem {
    /// The good answer.
    pub fn answer(&self) -> String {
        self.sentences.join(" ")
    }
}

/// The built-in corpus (48 hand-written items).
pub fn corpus() -> Vec<CorpusItem> {
    include_str!("../data/corpus.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        // The file is compiled in and covered by a test, so a parse failure is a build defect.
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// How a good answer is made worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Degradation {
    /// Cut off after a random fraction (20–60 %) of its words.
    Truncated,
    /// The same words in random order.
    Shuffled,
    /// A good answer to a different prompt.
    OffTopic,
    /// One sentence repeated several times instead of the answer.
    Repetition,
    /// The prompt's words stuffed in a few times, with a sentence of the answer.
    KeywordStuffing,
    /// The sentence meeting the prompt's explicit requirement removed.
    RequirementDropped,
}

impl Degradation {
    /// All kinds, in a fixed order.
    pub const ALL: [Self; 6] = [
        Self::Truncated,
        Self::Shuffled,
        Self::OffTopic,
        Self::Repetition,
        Self::KeywordStuffing,
        Self::RequirementDropped,
    ];

    /// Stable name, used as [`PreferencePair::kind`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::Shuffled => "shuffled",
            Self::OffTopic => "off_topic",
            Self::Repetition => "repetition",
            Self::KeywordStuffing => "keyword_stuffing",
            Self::RequirementDropped => "requirement_dropped",
        }
    }

    fn apply(self, items: &[CorpusItem], idx: usize, rng: &mut ChaCha8Rng) -> String {
        let item = &items[idx];
        let answer = item.answer();
        let words: Vec<&str> = answer.split_whitespace().collect();
        match self {
            Self::Truncated => {
                let keep = ((words.len() as f64) * rng.random_range(0.2..0.6)).ceil() as usize;
                words[..keep.clamp(1, words.len().max(1))].join(" ")
            }
            Self::Shuffled => {
                let mut w = words.clone();
                w.shuffle(rng);
                w.join(" ")
            }
            Self::OffTopic => {
                let other = (idx + rng.random_range(1..items.len())) % items.len();
                items[other].answer()
            }
            Self::Repetition => {
                let s = &item.sentences[rng.random_range(0..item.sentences.len())];
                let n = rng.random_range(3..6);
                vec![s.as_str(); n].join(" ")
            }
            Self::KeywordStuffing => {
                let keywords: Vec<&str> = item
                    .prompt
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 3)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let mut out = vec![item.sentences[0].clone()];
                for _ in 0..rng.random_range(2..4) {
                    let mut k = keywords.clone();
                    k.shuffle(rng);
                    out.push(k.join(" "));
                }
                out.join(" ")
            }
            Self::RequirementDropped => item
                .sentences
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != item.requirement)
                .map(|(_, s)| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// Generates `variants` pairs per corpus item and degradation kind, deterministically from `seed`.
/// `chosen` is always the item's full good answer.
pub fn generate(items: &[CorpusItem], variants: usize, seed: u64) -> Vec<PreferencePair> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    if items.len() < 2 {
        return out;
    }
    for (idx, item) in items.iter().enumerate() {
        for kind in Degradation::ALL {
            for _ in 0..variants {
                let rejected = kind.apply(items, idx, &mut rng);
                if rejected == item.answer() {
                    continue;
                }
                out.push(PreferencePair {
                    prompt: item.prompt.clone(),
                    chosen: item.answer(),
                    rejected,
                    kind: Some(kind.name().to_owned()),
                });
            }
        }
    }
    out
}

/// Splits corpus items into (train, held-out) by prompt, so held-out pairs never share a prompt or
/// a chosen answer with training pairs.
pub fn split_items(
    items: &[CorpusItem],
    holdout: usize,
    seed: u64,
) -> (Vec<CorpusItem>, Vec<CorpusItem>) {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let holdout = holdout.min(items.len());
    let test: BTreeSet<usize> = idx[..holdout].iter().copied().collect();
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for (i, it) in items.iter().enumerate() {
        if test.contains(&i) {
            te.push(it.clone())
        } else {
            tr.push(it.clone())
        }
    }
    (tr, te)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn corpus_parses_completely() {
        let n = include_str!("../data/corpus.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        let c = corpus();
        assert_eq!(c.len(), n);
        assert!(
            c.iter()
                .all(|i| i.requirement < i.sentences.len() && i.sentences.len() >= 3)
        );
    }

    #[test]
    fn generator_is_deterministic_and_degrades() {
        let c = corpus();
        let a = generate(&c, 2, 9);
        assert_eq!(a, generate(&c, 2, 9));
        assert_ne!(a, generate(&c, 2, 10));
        assert!(a.iter().all(|p| p.chosen != p.rejected));
        for k in Degradation::ALL {
            assert!(
                a.iter().any(|p| p.kind.as_deref() == Some(k.name())),
                "{k:?} missing"
            );
        }
    }

    #[test]
    fn split_is_by_prompt() {
        let (tr, te) = split_items(&corpus(), 12, 52);
        assert_eq!(te.len(), 12);
        assert!(te.iter().all(|t| tr.iter().all(|x| x.prompt != t.prompt)));
    }

    #[test]
    fn jsonl_round_trip_and_errors() {
        let ps = generate(&corpus()[..3], 1, 1);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.jsonl");
        write_jsonl(&f, &ps).unwrap();
        assert_eq!(read_jsonl(&f).unwrap(), ps);
        let bad = b"{\"prompt\":\"q\",\"chosen\":\"a\",\"rejected\":\"b\"}\n\n{\"prompt\":\"q\"}\n";
        let e = parse_jsonl(&bad[..], "x").unwrap_err().to_string();
        assert!(e.starts_with("x:3:"), "{e}");
        let e = parse_jsonl(&b"{\"prompt\":\"\xff\"}\n"[..], "y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid UTF-8"), "{e}");
    }

    proptest! {
        #[test]
        fn parse_jsonl_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_jsonl(&bytes[..], "fuzz");
        }
    }
}
