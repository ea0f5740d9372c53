//! What each simulated population answers: pure functions of the task, the ground truth and a
//! seeded RNG.
//!
//! Answers are computed in the task's *canonical order* (completions sorted by content hash), not
//! the order or ids a miner was shown, so two miners sent the same task content under different
//! ids and orders agree (sybils), and a published answer can be copied onto another miner's ids
//! (copycats).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::api::{AnswerInput, Criterion, Task};
use crate::truth::sha256_hex;

/// A simulated worker population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Population {
    /// Ground-truth quality plus Gaussian noise.
    Honest,
    /// The page's default for everything (alias `constant`).
    Lazy,
    /// Uniform random scores (alias `random-baseline`).
    Random,
    /// Anti-correlated with ground truth: `1 - quality` plus noise.
    Reverse,
    /// Copies an answer another simulator published for the same task content.
    Copycat,
    /// Honest answers whose noise depends only on the seed and the task content, so every sybil
    /// with the same seed gives the same answer.
    Sybil,
}

impl Population {
    /// Every population, with its canonical name.
    pub const ALL: [Population; 6] = [
        Population::Honest,
        Population::Lazy,
        Population::Random,
        Population::Reverse,
        Population::Copycat,
        Population::Sybil,
    ];

    /// Canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            Population::Honest => "honest",
            Population::Lazy => "lazy",
            Population::Random => "random",
            Population::Reverse => "reverse",
            Population::Copycat => "copycat",
            Population::Sybil => "sybil",
        }
    }

    /// Whether answers need ground truth.
    pub fn needs_truth(self) -> bool {
        matches!(
            self,
            Population::Honest | Population::Reverse | Population::Sybil
        )
    }

    /// Whether submitted answers are published to the share directory for copycats.
    pub fn publishes(self) -> bool {
        matches!(self, Population::Honest | Population::Sybil)
    }
}

impl fmt::Display for Population {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Population {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "honest" => Population::Honest,
            "lazy" | "constant" => Population::Lazy,
            "random" | "random-baseline" => Population::Random,
            "reverse" => Population::Reverse,
            "copycat" => Population::Copycat,
            "sybil" => Population::Sybil,
            other => {
                return Err(format!(
                    "unknown population {other:?}: one of honest, lazy (constant), random \
                     (random-baseline), reverse, copycat, sybil"
                ));
            }
        })
    }
}

/// A task's completions in canonical order: content hashes sorted, with the index each has in the
/// miner's task.
#[derive(Debug, Clone, PartialEq)]
pub struct Canonical {
    /// Content hash of each canonical position.
    pub hashes: Vec<String>,
    /// `order[p]` = index in `task.completions` of canonical position `p`.
    pub order: Vec<usize>,
    /// Hash of the task content (prompt, completion contents, criteria shape): the key of the
    /// share directory and of a sybil's RNG.
    pub task_hash: String,
}

impl Canonical {
    /// The canonical view of `task`.
    pub fn of(task: &Task) -> Self {
        let hashes: Vec<String> = task
            .completions
            .iter()
            .map(|c| sha256_hex(c.content.as_bytes()))
            .collect();
        let mut order: Vec<usize> = (0..hashes.len()).collect();
        // Identical contents are interchangeable, so ties may fall in any stable order.
        order.sort_by(|&a, &b| hashes[a].cmp(&hashes[b]));
        let sorted: Vec<String> = order.iter().map(|&i| hashes[i].clone()).collect();
        let mut key = String::from("dojo-worksim task v1\n");
        key.push_str(&sha256_hex(task.prompt.as_bytes()));
        key.push('\n');
        for h in &sorted {
            key.push_str(h);
            key.push('\n');
        }
        for c in &task.criteria {
            // Per-completion options are this miner's completion ids: not part of the content.
            let shape = match c {
                Criterion::Ranking => "ranking".to_owned(),
                Criterion::Score { min, max } => format!("score {min} {max}"),
                Criterion::MultiScore {
                    per_completion: true,
                    min,
                    max,
                    ..
                } => format!("multi-score per-completion {min} {max}"),
                Criterion::MultiScore {
                    options, min, max, ..
                } => format!("multi-score {min} {max} {}", options.join("\u{1f}")),
                Criterion::Text { min_len, max_len } => format!("text {min_len} {max_len}"),
            };
            key.push_str(&shape);
            key.push('\n');
        }
        Canonical {
            hashes: sorted,
            order,
            task_hash: sha256_hex(key.as_bytes()),
        }
    }
}

/// The answer to one criterion, per canonical position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "values", rename_all = "kebab-case")]
pub enum CriterionAnswer {
    /// `score` per completion.
    Scores(Vec<f64>),
    /// `rank` per completion (a permutation of `0..C`).
    Ranks(Vec<u32>),
    /// `scores` (option → score) per completion.
    MultiScores(Vec<BTreeMap<String, f64>>),
    /// `text` per completion.
    Texts(Vec<String>),
}

/// A whole answer in canonical order: what is submitted, published and copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalAnswer {
    /// [`Canonical::task_hash`] of the task it answers.
    pub task_hash: String,
    /// One per criterion, in the task's order.
    pub criteria: Vec<CriterionAnswer>,
}

/// A standard normal draw (Box–Muller; `rand_distr` is not in the tree).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The RNG of one answer: from the seed, the task content and a salt. Sybils use an empty salt so
/// every sybil with the same seed draws the same numbers for the same task content.
pub fn answer_rng(seed: u64, task_hash: &str, salt: &str) -> ChaCha8Rng {
    let mut key = Vec::new();
    key.extend_from_slice(b"dojo-worksim rng v1\0");
    key.extend_from_slice(&seed.to_le_bytes());
    key.extend_from_slice(task_hash.as_bytes());
    key.push(0);
    key.extend_from_slice(salt.as_bytes());
    let mut seed_bytes = [0u8; 32];
    seed_bytes.copy_from_slice(&sha2::Sha256::digest(&key));
    ChaCha8Rng::from_seed(seed_bytes)
}

/// Latent quality in `[0, 1]` per canonical position, or `None` for a population that does not
/// compute one (lazy answers the page default; copycats copy).
///
/// `truth`: ground-truth quality per canonical position (needed by honest, reverse and sybil).
pub fn latent(
    population: Population,
    truth: Option<&[f64]>,
    noise: f64,
    rng: &mut ChaCha8Rng,
    n: usize,
) -> Option<Vec<f64>> {
    let noisy = |q: f64, rng: &mut ChaCha8Rng| {
        let e = if noise > 0.0 {
            noise * gaussian(rng)
        } else {
            0.0
        };
        (q + e).clamp(0.0, 1.0)
    };
    match population {
        Population::Honest | Population::Sybil => {
            Some(truth?.iter().map(|&q| noisy(q, &mut *rng)).collect())
        }
        Population::Reverse => Some(truth?.iter().map(|&q| noisy(1.0 - q, &mut *rng)).collect()),
        Population::Random => Some((0..n).map(|_| rng.random::<f64>()).collect()),
        Population::Lazy | Population::Copycat => None,
    }
}

/// Which of a prompt's `n` known pages (best first) a writer of `population` delivers for a
/// Dojo v2 generation task, or `None` for the page the lazy and copying writers hand in (an empty
/// one: there is nothing to copy before anyone has written). A writer picks the page its latent
/// quality ranks highest, so honest writers deliver the best page, reverse ones the worst,
/// random ones any; an `augmented` prompt (a trap) is followed as written by honest and sybil
/// writers, which delivers the degraded page.
pub fn page_choice(
    population: Population,
    n: usize,
    augmented: bool,
    noise: f64,
    rng: &mut ChaCha8Rng,
) -> Option<usize> {
    if n == 0 {
        return None;
    }
    if augmented && matches!(population, Population::Honest | Population::Sybil) {
        return Some(n - 1);
    }
    let denom = n.saturating_sub(1).max(1) as f64;
    let truth: Vec<f64> = (0..n).map(|r| 1.0 - r as f64 / denom).collect();
    let latent = latent(population, Some(&truth), noise, rng, n)?;
    latent
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
}

/// The page lazy and copying writers hand in.
pub const EMPTY_PAGE: &str = "<!doctype html><html><body></body></html>";

/// The page's slider step for a range (whole numbers from a range of 10 up).
fn step(min: f64, max: f64) -> f64 {
    if max - min >= 10.0 {
        1.0
    } else {
        (max - min) / 100.0
    }
}

/// `l ∈ [0, 1]` as a score the page's slider could give in `[min, max]`.
pub fn to_score(l: f64, min: f64, max: f64) -> f64 {
    let raw = min + l.clamp(0.0, 1.0) * (max - min);
    let s = step(min, max);
    let v = if s > 0.0 {
        min + ((raw - min) / s).round() * s
    } else {
        raw
    };
    v.clamp(min, max)
}

/// The slider's starting value: the rounded midpoint.
pub fn default_score(min: f64, max: f64) -> f64 {
    ((min + max) / 2.0).round().clamp(min, max)
}

/// Ranks by descending latent (0 = highest); ties by canonical position.
pub fn ranks_of(latent: &[f64]) -> Vec<u32> {
    let mut idx: Vec<usize> = (0..latent.len()).collect();
    idx.sort_by(|&a, &b| latent[b].total_cmp(&latent[a]).then(a.cmp(&b)));
    let mut ranks = vec![0u32; latent.len()];
    for (r, &i) in idx.iter().enumerate() {
        ranks[i] = u32::try_from(r).unwrap_or(u32::MAX);
    }
    ranks
}

fn text_of(population: Population, min_len: u32, max_len: u32) -> String {
    // No spaces: the page trims answers, so a cut ending in a space would come out too short.
    let mut t = format!("simulated-{population}-worker");
    let min = min_len as usize;
    let max = max_len as usize;
    while t.chars().count() < min {
        t.push('.');
    }
    t.chars().take(max.max(min)).collect()
}

/// The answer a population gives from latent qualities (canonical order); `None` latent is the
/// page's default: the slider midpoint everywhere and ranks in the order the page shows.
pub fn answer_from_latent(
    task: &Task,
    canonical: &Canonical,
    population: Population,
    latent: Option<&[f64]>,
) -> CanonicalAnswer {
    let n = canonical.order.len();
    let criteria = task
        .criteria
        .iter()
        .map(|c| match c {
            Criterion::Ranking => CriterionAnswer::Ranks(match latent {
                Some(l) => ranks_of(l),
                // The page preselects rank i for the i-th response shown.
                None => canonical
                    .order
                    .iter()
                    .map(|&i| u32::try_from(i).unwrap_or(u32::MAX))
                    .collect(),
            }),
            Criterion::Score { min, max }
            | Criterion::MultiScore {
                per_completion: true,
                min,
                max,
                ..
            } => CriterionAnswer::Scores(match latent {
                Some(l) => l.iter().map(|&x| to_score(x, *min, *max)).collect(),
                None => vec![default_score(*min, *max); n],
            }),
            Criterion::MultiScore {
                options, min, max, ..
            } => CriterionAnswer::MultiScores(
                (0..n)
                    .map(|p| {
                        let v = match latent {
                            Some(l) => to_score(l[p], *min, *max),
                            None => default_score(*min, *max),
                        };
                        options.iter().map(|o| (o.clone(), v)).collect()
                    })
                    .collect(),
            ),
            Criterion::Text { min_len, max_len } => {
                CriterionAnswer::Texts(vec![text_of(population, *min_len, *max_len); n])
            }
        })
        .collect();
    CanonicalAnswer {
        task_hash: canonical.task_hash.clone(),
        criteria,
    }
}

/// Why a canonical answer does not fit a task (a copied answer from a different shape).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("answer does not fit the task: {0}")]
pub struct Misfit(pub String);

/// The submission for `task` from a canonical answer, mapped onto this miner's ids; checks the
/// answer fits (one value per completion and criterion, of the right kind, in range).
pub fn to_submission(
    task: &Task,
    canonical: &Canonical,
    answer: &CanonicalAnswer,
) -> Result<Vec<AnswerInput>, Misfit> {
    let n = canonical.order.len();
    if answer.criteria.len() != task.criteria.len() {
        return Err(Misfit(format!(
            "{} criteria answered, the task has {}",
            answer.criteria.len(),
            task.criteria.len()
        )));
    }
    let mut out = Vec::with_capacity(n * task.criteria.len());
    for (ci, (c, a)) in task.criteria.iter().zip(&answer.criteria).enumerate() {
        let len = match a {
            CriterionAnswer::Scores(v) => v.len(),
            CriterionAnswer::Ranks(v) => v.len(),
            CriterionAnswer::MultiScores(v) => v.len(),
            CriterionAnswer::Texts(v) => v.len(),
        };
        if len != n {
            return Err(Misfit(format!(
                "criterion {ci}: {len} values for {n} completions"
            )));
        }
        let in_range = |v: f64, min: f64, max: f64| v.is_finite() && (min..=max).contains(&v);
        for p in 0..n {
            let cid = task.completions[canonical.order[p]].id.clone();
            let mut input = AnswerInput {
                completion_id: cid,
                criterion: ci,
                score: None,
                scores: None,
                rank: None,
                text: None,
            };
            match (c, a) {
                (Criterion::Ranking, CriterionAnswer::Ranks(r)) => {
                    let mut seen = r.clone();
                    seen.sort_unstable();
                    if seen.iter().enumerate().any(|(i, &x)| x as usize != i) {
                        return Err(Misfit(format!("criterion {ci}: ranks are not 0..{n}")));
                    }
                    input.rank = Some(r[p]);
                }
                (
                    Criterion::Score { min, max }
                    | Criterion::MultiScore {
                        per_completion: true,
                        min,
                        max,
                        ..
                    },
                    CriterionAnswer::Scores(s),
                ) => {
                    if !in_range(s[p], *min, *max) {
                        return Err(Misfit(format!(
                            "criterion {ci}: score {} out of range",
                            s[p]
                        )));
                    }
                    input.score = Some(s[p]);
                }
                (
                    Criterion::MultiScore {
                        options, min, max, ..
                    },
                    CriterionAnswer::MultiScores(m),
                ) => {
                    if m[p].len() != options.len()
                        || options
                            .iter()
                            .any(|o| !m[p].get(o).is_some_and(|&v| in_range(v, *min, *max)))
                    {
                        return Err(Misfit(format!(
                            "criterion {ci}: option scores missing or out of range"
                        )));
                    }
                    input.scores = Some(m[p].clone());
                }
                (Criterion::Text { min_len, max_len }, CriterionAnswer::Texts(t)) => {
                    let len = t[p].trim().chars().count();
                    if len < *min_len as usize || len > *max_len as usize {
                        return Err(Misfit(format!("criterion {ci}: text length {len}")));
                    }
                    input.text = Some(t[p].clone());
                }
                _ => return Err(Misfit(format!("criterion {ci}: wrong kind of answer"))),
            }
            out.push(input);
        }
    }
    Ok(out)
}

/// The whole answer of a computing population (not copycat): latent from truth and the RNG, then
/// the criteria. `None` when the population needs ground truth and `truth` is `None`.
pub fn compute(
    task: &Task,
    canonical: &Canonical,
    population: Population,
    truth: Option<&[f64]>,
    noise: f64,
    rng: &mut ChaCha8Rng,
) -> Option<CanonicalAnswer> {
    if population.needs_truth() && truth.is_none() {
        return None;
    }
    let l = latent(population, truth, noise, rng, canonical.order.len());
    Some(answer_from_latent(
        task,
        canonical,
        population,
        l.as_deref(),
    ))
}

/// The page default answer (what lazy workers submit, and the fallback of the others).
pub fn lazy(task: &Task, canonical: &Canonical) -> CanonicalAnswer {
    answer_from_latent(task, canonical, Population::Lazy, None)
}
