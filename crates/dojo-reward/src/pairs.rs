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

/// A faulty answer the built-in generator cannot make by editing a good one: a refusal, a rude
/// or evasive answer, a wrong fact, a wrong sum. These pairs teach the head what the six
/// degradations above never show it; their texts are written for this project, apart from the
/// independent evaluation pairs (`models/dojo-minilm-rm/independent-pairs.jsonl`), which share no
/// prompt or sentence with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Contrast {
    /// Declines a harmless request.
    Refusal,
    /// The good answer wrapped in condescension.
    Rude,
    /// Talks around the question without answering it.
    Evasive,
    /// The same kind of answer with a wrong fact (`data/facts.jsonl`).
    WrongFact,
    /// The same working with a wrong result (generated sums).
    WrongArithmetic,
}

impl Contrast {
    /// Stable name, used as [`PreferencePair::kind`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Refusal => "refusal",
            Self::Rude => "rude",
            Self::Evasive => "evasive",
            Self::WrongFact => "wrong_fact",
            Self::WrongArithmetic => "wrong_arithmetic",
        }
    }
}

const REFUSALS: &[&str] = &[
    "I'm sorry, but I can't help with that request.",
    "I am not able to assist with this. Please consult a qualified professional instead.",
    "Unfortunately I cannot provide an answer to that question.",
    "I'd rather not get into {topic}. Is there something else I can do for you?",
    "That is not something I can discuss. I apologise for any inconvenience.",
    "As an AI, I must decline to answer questions about {topic}.",
    "I can't respond to this, as it falls outside what I'm allowed to help with.",
    "Sorry, I won't be able to explain {topic}. You may want to search online.",
    "For safety reasons I can't give instructions on {topic}. Please ask an expert.",
    "I'm not comfortable answering that. Questions like this can be misused, so I'll have to pass.",
    "I don't have enough information to help with {topic}, so I won't attempt an answer.",
    "This request goes against my guidelines, so I can't provide what you're asking for.",
    "I'm only able to help with general questions, and {topic} is not one I can take on.",
    "I must respectfully decline. It would not be appropriate for me to advise on {topic}.",
    "Please speak to a professional about {topic}; I'm not in a position to answer.",
    "I'm afraid I can't do that. Is there anything else you would like to talk about?",
    "Answering this could be risky, so I will not go into {topic}.",
    "I can't share that kind of information, even for a harmless purpose.",
];

const RUDE_OPENERS: &[&str] = &[
    "Seriously? Fine, I'll spell it out for you.",
    "This is embarrassingly basic, but here goes.",
    "Anyone with half a brain knows this already.",
    "Ugh. Try to keep up this time.",
    "I can't believe you need this explained.",
    "Pay attention, because I'm only saying it once.",
    "Wow, you really don't know? Okay.",
    "Did you even try to think before asking?",
];

const RUDE_CLOSERS: &[&str] = &[
    "Honestly, look things up yourself next time.",
    "Not that you'll remember any of this.",
    "Was that really so hard?",
    "Please stop wasting my time with questions like this.",
    "Even a child could have worked that out.",
    "Hopefully that finally gets through to you.",
];

const EVASIONS: &[&str] = &[
    "That's a really interesting question about {topic}, and people have many different views on it. It depends on a lot of factors, so there is no single answer that fits everyone.",
    "When it comes to {topic}, it is important to consider your own situation. Everyone's circumstances are different, so it is worth thinking carefully and doing some research.",
    "There are many ways to look at {topic}. Some approaches work well for some people and less well for others, so you should weigh up the options that suit you.",
    "Great question! {topic} is a broad subject with a lot of nuance. It might help to read more about it or speak to someone with experience.",
    "It really varies. {topic} can mean different things in different contexts, and the best answer will depend on what you are trying to achieve.",
    "I would say that {topic} is something to approach thoughtfully. Take your time, keep an open mind, and you will find what works for you.",
    "You asked about {topic}. That is something many people wonder about, and the answer is not always straightforward.",
    "The short answer is that it depends. There are pros and cons either way, and what matters most is what you are comfortable with.",
    "Honestly, {topic} is one of those things you learn best by trying. Give it a go and see how it turns out.",
    "Experts disagree about {topic}, so it is hard to say anything definite. It might be best to keep an eye on new developments.",
    "I'd suggest looking into {topic} a bit more. There are plenty of books, videos and websites that cover it in depth.",
    "It is a good idea to keep things simple and not overthink {topic}. Most of the time things work themselves out.",
    "There is no right or wrong answer here. Everyone approaches {topic} in their own way, and that is fine.",
    "{topic} can be tricky. The important thing is to stay patient and be careful, and to ask for help if you need it.",
];

/// The prompt's subject for templates: the prompt without its question form.
fn topic(prompt: &str) -> String {
    let first = prompt
        .split(['?', '.', '!'])
        .next()
        .unwrap_or(prompt)
        .trim();
    let lower = first.to_lowercase();
    for lead in [
        "how does ",
        "how do i ",
        "how do ",
        "what is ",
        "what are ",
        "what's ",
        "why do ",
        "why does ",
        "explain ",
        "describe ",
        "give me ",
        "tell me about ",
        "write ",
        "how can i ",
    ] {
        if let Some(rest) = lower.strip_prefix(lead) {
            return rest.to_owned();
        }
    }
    lower
}

/// One fact question with a right and a wrong answer (`data/facts.jsonl`).
#[derive(Clone, Debug, Deserialize)]
pub struct FactItem {
    /// The question.
    pub prompt: String,
    /// A correct answer.
    pub right: String,
    /// The same kind of answer, confidently wrong.
    pub wrong: String,
}

/// The built-in fact questions.
pub fn facts() -> Vec<FactItem> {
    include_str!("../data/facts.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        // Compiled in and covered by a test, like the corpus.
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Refusal, rude and evasive pairs for corpus `items`, `variants` each.
pub fn generate_tone(items: &[CorpusItem], variants: usize, seed: u64) -> Vec<PreferencePair> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for item in items {
        let good = item.answer();
        let t = topic(&item.prompt);
        for _ in 0..variants {
            let refusal = REFUSALS[rng.random_range(0..REFUSALS.len())].replace("{topic}", &t);
            let rude = format!(
                "{} {} {}",
                RUDE_OPENERS[rng.random_range(0..RUDE_OPENERS.len())],
                good,
                RUDE_CLOSERS[rng.random_range(0..RUDE_CLOSERS.len())]
            );
            let mut evasive = EVASIONS[rng.random_range(0..EVASIONS.len())].replace("{topic}", &t);
            if let Some(c) = evasive.get(..1) {
                evasive = c.to_uppercase() + &evasive[1..];
            }
            for (kind, rejected) in [
                (Contrast::Refusal, refusal),
                (Contrast::Rude, rude),
                (Contrast::Evasive, evasive),
            ] {
                out.push(PreferencePair {
                    prompt: item.prompt.clone(),
                    chosen: good.clone(),
                    rejected,
                    kind: Some(kind.name().to_owned()),
                });
            }
        }
    }
    out
}

/// Wrong-fact pairs, one per fact item.
pub fn generate_facts(items: &[FactItem]) -> Vec<PreferencePair> {
    items
        .iter()
        .map(|f| PreferencePair {
            prompt: f.prompt.clone(),
            chosen: f.right.clone(),
            rejected: f.wrong.clone(),
            kind: Some(Contrast::WrongFact.name().to_owned()),
        })
        .collect()
}

/// Number formatting for generated sums: at most two decimals, no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// A worked answer with its result left open.
type Worked = Box<dyn Fn(&str) -> String>;

/// `n` arithmetic questions with a worked right answer and the same working with a wrong result.
pub fn generate_arithmetic(n: usize, seed: u64) -> Vec<PreferencePair> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let a = f64::from(rng.random_range(2u32..100));
        let b = f64::from(rng.random_range(2u32..50));
        let (prompt, result, answer): (String, f64, Worked) = match rng.random_range(0..8) {
            0 => (
                format!("What is {a} times {b}?"),
                a * b,
                Box::new(move |r| format!("{a} × {b} = {r}.")),
            ),
            1 => {
                let p = f64::from(5 * rng.random_range(1u32..20));
                let base = f64::from(10 * rng.random_range(2u32..60));
                (
                    format!("What is {p}% of {base}?"),
                    p / 100.0 * base,
                    Box::new(move |r| format!("{p}% of {base} is {r}.")),
                )
            }
            2 => {
                let h = f64::from(rng.random_range(2u32..9));
                let speed = f64::from(5 * rng.random_range(6u32..25));
                let d = h * speed;
                (
                    format!("A car covers {d} km in {h} hours. What is its average speed?"),
                    speed,
                    Box::new(move |r| {
                        format!("Average speed is distance over time: {d} ÷ {h} = {r} km/h.")
                    }),
                )
            }
            3 => {
                let k = rng.random_range(2u32..12);
                let price = f64::from(rng.random_range(105u32..2000)) / 100.0;
                let kf = f64::from(k);
                (
                    format!(
                        "I buy {k} notebooks at ${} each. How much do I pay?",
                        num(price)
                    ),
                    kf * price,
                    Box::new(move |r| format!("You pay {k} × ${} = ${r} in total.", num(price))),
                )
            }
            4 => (
                format!("What do you get if you add {a} and {b}?"),
                a + b,
                Box::new(move |r| format!("{a} + {b} = {r}.")),
            ),
            5 => {
                let w = f64::from(rng.random_range(3u32..30));
                let l = f64::from(rng.random_range(3u32..30));
                (
                    format!("A garden is {w} m wide and {l} m long. What is its area?"),
                    w * l,
                    Box::new(move |r| format!("The area is {w} × {l} = {r} square metres.")),
                )
            }
            6 => {
                let hours = f64::from(rng.random_range(2u32..48));
                (
                    format!("How many minutes are in {hours} hours?"),
                    hours * 60.0,
                    Box::new(move |r| format!("There are {hours} × 60 = {r} minutes.")),
                )
            }
            _ => {
                let c = f64::from(rng.random_range(2u32..100));
                (
                    format!("What is the average of {a}, {b} and {c}?"),
                    (a + b + c) / 3.0,
                    Box::new(move |r| {
                        format!("Add them and divide by three: ({a} + {b} + {c}) ÷ 3 = {r}.")
                    }),
                )
            }
        };
        // A plausible slip: a nearby number, a digit off, or out by a factor of ten.
        let wrong = match rng.random_range(0..3) {
            0 => {
                result
                    + f64::from(rng.random_range(1u32..10))
                        * if rng.random_bool(0.5) { 1.0 } else { -1.0 }
            }
            1 => result * if rng.random_bool(0.5) { 10.0 } else { 0.1 },
            _ => result * rng.random_range(1.1..1.5),
        };
        let (right, wrong) = (num(result), num(wrong));
        if right == wrong || wrong.starts_with('-') {
            continue;
        }
        out.push(PreferencePair {
            prompt,
            chosen: answer(&right),
            rejected: answer(&wrong),
            kind: Some(Contrast::WrongArithmetic.name().to_owned()),
        });
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
    fn contrast_data_is_well_formed() {
        let f = facts();
        let n = include_str!("../data/facts.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        assert_eq!(f.len(), n);
        assert!(f.iter().all(|x| x.right != x.wrong));
        let c = corpus();
        let tone = generate_tone(&c[..4], 2, 3);
        assert_eq!(tone.len(), 4 * 2 * 3);
        assert_eq!(tone, generate_tone(&c[..4], 2, 3));
        assert!(
            tone.iter()
                .all(|p| p.chosen != p.rejected && !p.rejected.contains('{'))
        );
        let a = generate_arithmetic(200, 5);
        assert_eq!(a, generate_arithmetic(200, 5));
        for p in &a {
            let right = crate::arithmetic::check(&p.prompt, &p.chosen);
            let wrong = crate::arithmetic::check(&p.prompt, &p.rejected);
            assert!(right.wrong == 0 && right.right > 0, "{p:?} {right:?}");
            assert!(wrong.wrong > 0, "{p:?} {wrong:?}");
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
