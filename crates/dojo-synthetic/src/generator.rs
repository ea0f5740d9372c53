//! The generator trait and its two implementations: [`OfflineGenerator`] (embedded, deterministic)
//! and [`LlmGenerator`] (an OpenAI-compatible model writes questions and answers).

use std::future::Future;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::answer::AnswerGenerator;
use crate::augment;
use crate::instructor::{Instructor, Question};
use crate::llm::{LlmClient, LlmError};
use crate::obfuscate::{random_completion_id, random_task_id};
use crate::offline::OfflineGenerator;
use crate::seeds::{Seeds, shuffle};
use crate::task::{Augmentation, CodeFile, Completion, Family, SyntheticTask, TaskError, TaskMeta};

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("LLM call failed: {0}")]
    Llm(#[from] LlmError),
    #[error("generated task is inconsistent: {0}")]
    Task(#[from] TaskError),
    #[error("augmentation {augmentation:?} produced an answer identical to the original")]
    IdenticalAugment { augmentation: Augmentation },
    #[error("{0}")]
    Unsupported(String),
}

/// Something that makes tasks with known ground truth.
pub trait Generator: Send + Sync + 'static {
    /// A short name for logs and metrics (`offline`, `llm/<model>`).
    fn name(&self) -> String;

    /// A new task; `seed` makes the choice of topic, persona and augmentations reproducible.
    fn generate(&self, seed: u64) -> impl Future<Output = Result<SyntheticTask, GenError>> + Send;

    /// Up to `n` augmented versions of a free-form question (v2 `get-question-augment`).
    fn augment_question(
        &self,
        question: &str,
        n: usize,
        seed: u64,
    ) -> impl Future<Output = Result<Vec<String>, GenError>> + Send;

    /// An answer page for a free-form question (v2 `order-answer`).
    fn answer_question(
        &self,
        question: &str,
        seed: u64,
    ) -> impl Future<Output = Result<CodeFile, GenError>> + Send;
}

/// Removes one numbered or bulleted requirement line per augment: the only edit that is safe on
/// text the generator did not write.
fn drop_requirement_lines(question: &str, n: usize, seed: u64) -> Result<Vec<String>, GenError> {
    let lines: Vec<&str> = question.lines().collect();
    let mut reqs: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.starts_with("- ")
                || t.starts_with("* ")
                || t.split_once(". ")
                    .is_some_and(|(d, _)| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|(i, _)| i)
        .collect();
    if reqs.len() < 2 {
        return Err(GenError::Unsupported(
            "the question has fewer than two list items to remove".to_owned(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    shuffle(&mut reqs, &mut rng);
    Ok(reqs
        .into_iter()
        .take(n.clamp(1, 3))
        .map(|skip| {
            lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect())
}

impl Generator for OfflineGenerator {
    fn name(&self) -> String {
        "offline".to_owned()
    }

    async fn generate(&self, seed: u64) -> Result<SyntheticTask, GenError> {
        Ok(self.task(seed)?)
    }

    async fn augment_question(
        &self,
        question: &str,
        n: usize,
        seed: u64,
    ) -> Result<Vec<String>, GenError> {
        drop_requirement_lines(question, n, seed)
    }

    async fn answer_question(&self, _question: &str, _seed: u64) -> Result<CodeFile, GenError> {
        Err(GenError::Unsupported(
            "the offline generator answers only its own questions; use the answers of /api/generate-question".to_owned(),
        ))
    }
}

/// Writes questions and answers with an LLM; augmentations are exact by construction: the question
/// family answers a changed question, the answer and performance families edit the base page.
#[derive(Clone, Debug)]
pub struct LlmGenerator {
    seeds: Seeds,
    client: LlmClient,
    instructor: Instructor,
    answers: AnswerGenerator,
}

impl LlmGenerator {
    pub fn new(seeds: Seeds, client: LlmClient, question_tokens: u32, answer_tokens: u32) -> Self {
        Self {
            seeds,
            instructor: Instructor::new(client.clone(), question_tokens),
            answers: AnswerGenerator::new(client.clone(), answer_tokens),
            client,
        }
    }

    pub fn client(&self) -> &LlmClient {
        &self.client
    }

    pub fn instructor(&self) -> &Instructor {
        &self.instructor
    }

    pub fn answers(&self) -> &AnswerGenerator {
        &self.answers
    }

    async fn augmented_page(
        &self,
        question: &Question,
        base: &CodeFile,
        aug: Augmentation,
        seed: u64,
        rng: &mut ChaCha8Rng,
    ) -> Result<(CodeFile, Option<String>), GenError> {
        if let Some(html) = augment::apply(&base.content, aug, rng) {
            return Ok((CodeFile::html(html), None));
        }
        // Spec §5.3: an augmented answer identical to the base is retried once, then rejected.
        for attempt in 0..2u64 {
            let q2 = self.instructor.augment(question, aug).await?;
            let page = self
                .answers
                .answer(&q2.question, seed.wrapping_add(attempt + 1))
                .await?
                .merge();
            if page.content != base.content {
                return Ok((page, Some(q2.question)));
            }
        }
        Err(GenError::IdenticalAugment { augmentation: aug })
    }
}

impl Generator for LlmGenerator {
    fn name(&self) -> String {
        format!("llm/{}", self.client.config().model)
    }

    async fn generate(&self, seed: u64) -> Result<SyntheticTask, GenError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let s = self.seeds.sample(&mut rng);
        let question = self.instructor.question(&self.seeds, &s, seed).await?;
        let base = self.answers.answer(&question.question, seed).await?.merge();
        let model = self.client.config().model.clone();
        let mut completions = vec![Completion {
            id: random_completion_id(&mut rng),
            model: model.clone(),
            files: vec![base.clone()],
            augmentation: Augmentation::Original,
            augmented_prompt: None,
        }];
        for rank in 1..=3u32 {
            let family = Family::ALL[rng.random_range(0..Family::ALL.len())];
            let aug = family.member(rank).unwrap_or(Augmentation::Original);
            let (page, augmented_prompt) = self
                .augmented_page(&question, &base, aug, seed, &mut rng)
                .await?;
            completions.push(Completion {
                id: random_completion_id(&mut rng),
                model: model.clone(),
                files: vec![page],
                augmentation: aug,
                augmented_prompt,
            });
        }
        shuffle(&mut completions, &mut rng);
        let meta = TaskMeta {
            id: random_task_id(&mut rng),
            prompt: question.question.clone(),
            topic: s.topic,
            persona: s.persona,
            requirements: question.requirements,
            generator: self.name(),
            seed: Some(seed),
        };
        Ok(SyntheticTask::from_completions(meta, completions)?)
    }

    async fn augment_question(
        &self,
        question: &str,
        n: usize,
        seed: u64,
    ) -> Result<Vec<String>, GenError> {
        let q = Question {
            question: question.to_owned(),
            requirements: vec![question.to_owned()],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::new();
        for _ in 0..n.clamp(1, 3) {
            let aug = Family::Question
                .member(rng.random_range(1..=3))
                .unwrap_or(Augmentation::RemoveRequirement);
            out.push(self.instructor.augment(&q, aug).await?.question);
        }
        Ok(out)
    }

    async fn answer_question(&self, question: &str, seed: u64) -> Result<CodeFile, GenError> {
        Ok(self.answers.answer(question, seed).await?.merge())
    }
}
