//! Task seeds: topics with their weights and requirement counts, personas, and few-shot examples.
//!
//! The embedded default is `seeds/default.json`; operators pass their own file of the same shape to
//! change the mix without rebuilding.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::task::Topic;

const DEFAULT_SEEDS: &str = include_str!("../seeds/default.json");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicSeed {
    pub topic: Topic,
    pub weight: f64,
    pub requirement_counts: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub topic: Topic,
    pub question: String,
    pub requirements: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seeds {
    pub topics: Vec<TopicSeed>,
    pub personas: Vec<String>,
    pub examples: Vec<Example>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed file is not valid JSON of the seed shape: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("seed file has no {0}")]
    Missing(&'static str),
    #[error(
        "topic {topic} has weight {weight}; weights must be finite and non-negative with a positive sum"
    )]
    BadWeight { topic: Topic, weight: f64 },
    #[error("topic {0} has an empty or zero requirement count list")]
    BadCounts(Topic),
}

/// What one task is seeded with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    pub topic: Topic,
    pub persona: String,
    pub requirements: usize,
}

impl Seeds {
    pub fn embedded() -> Self {
        // The embedded file is checked by a unit test, so this cannot fail in a released build.
        Self::parse(DEFAULT_SEEDS).unwrap_or_else(|_| Self {
            topics: Vec::new(),
            personas: Vec::new(),
            examples: Vec::new(),
        })
    }

    pub fn parse(json: &str) -> Result<Self, SeedError> {
        let s: Seeds = serde_json::from_str(json)?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), SeedError> {
        if self.topics.is_empty() {
            return Err(SeedError::Missing("topics"));
        }
        if self.personas.iter().all(|p| p.trim().is_empty()) {
            return Err(SeedError::Missing("personas"));
        }
        for t in &self.topics {
            if !t.weight.is_finite() || t.weight < 0.0 {
                return Err(SeedError::BadWeight {
                    topic: t.topic,
                    weight: t.weight,
                });
            }
            if t.requirement_counts.is_empty() || t.requirement_counts.contains(&0) {
                return Err(SeedError::BadCounts(t.topic));
            }
        }
        let sum: f64 = self.topics.iter().map(|t| t.weight).sum();
        if sum <= 0.0 {
            return Err(SeedError::BadWeight {
                topic: self.topics[0].topic,
                weight: sum,
            });
        }
        Ok(())
    }

    /// Draws a topic by weight, a persona and a requirement count uniformly.
    pub fn sample(&self, rng: &mut impl Rng) -> Seed {
        let sum: f64 = self.topics.iter().map(|t| t.weight).sum();
        let mut x = rng.random::<f64>() * sum;
        let mut chosen = &self.topics[self.topics.len() - 1];
        for t in &self.topics {
            if x < t.weight {
                chosen = t;
                break;
            }
            x -= t.weight;
        }
        let personas: Vec<&String> = self
            .personas
            .iter()
            .filter(|p| !p.trim().is_empty())
            .collect();
        let persona = personas[rng.random_range(0..personas.len())].clone();
        let requirements =
            chosen.requirement_counts[rng.random_range(0..chosen.requirement_counts.len())];
        Seed {
            topic: chosen.topic,
            persona,
            requirements,
        }
    }

    /// Up to `n` examples, preferring the given topic, for few-shot prompts.
    pub fn examples_for(&self, topic: Topic, n: usize, rng: &mut impl Rng) -> Vec<&Example> {
        let mut same: Vec<&Example> = self.examples.iter().filter(|e| e.topic == topic).collect();
        let mut other: Vec<&Example> = self.examples.iter().filter(|e| e.topic != topic).collect();
        shuffle(&mut same, rng);
        shuffle(&mut other, rng);
        same.into_iter().chain(other).take(n).collect()
    }
}

pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut impl Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
