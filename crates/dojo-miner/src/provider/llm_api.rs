//! `llm_api`: an LLM judges the completions through an OpenAI-compatible API (`dojo-llm`).
//!
//! Completions are shown under letters (`A`, `B`, …) rather than their opaque ids, which small
//! models copy more reliably. Two prompts:
//!
//! * **scoring** (three or more completions): one integer score 1–10 per letter, as JSON
//!   `{"scores": [{"id": "A", "score": 7}, …]}`; a score `s` becomes the preference `(s − 1) / 9`.
//! * **pairwise** (exactly two): `{"better": "A"}`; the winner's preference is 1, the loser's 0.
//!
//! Calls run at temperature 0 with JSON output requested from the server; an answer that is not
//! JSON, misses a letter, repeats one or scores out of range is retried by the client (bounded
//! attempts with backoff), then the task stays unanswered and the error is logged.
//!
//! As a v2 *generator* it writes the page for a code-generation prompt: one call asking for
//! `{"html": "<!doctype html>…"}` (a single self-contained file, inline CSS and JS, nothing
//! fetched), through its own client whose timeout suits writing a page rather than judging
//! ([`LlmApiProvider::with_generator`]).

use dojo_llm::{ChatMessage, LlmClient, Sampling};
use dojo_types::task::{Generated, GenerationTask, ScoringMethod, Task, TaskType, WorkerResult};
use serde::Deserialize;

use super::{
    BoxFuture, MAX_COMPLETION_BYTES, Provider, ProviderError, answers_from_preferences, flatten,
    page_completion,
};

/// The worker id LLM results are stored under.
pub const WORKER_ID: &str = "llm-judge";

/// Longest completion text put into a prompt, in characters; the rest is cut with a marker so a
/// huge page cannot overflow the judge's context.
pub const MAX_CHARS_PER_COMPLETION: usize = 6_000;

/// Judges with any OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct LlmApiProvider {
    client: LlmClient,
    max_tokens: u32,
    generator: LlmClient,
    generation_tokens: u32,
}

#[derive(Debug, Deserialize)]
struct Page {
    html: String,
}

/// The generation prompt: system and user messages asking for one self-contained page.
pub fn generation_messages(task: &GenerationTask) -> Vec<ChatMessage> {
    vec![
        ChatMessage::system(
            "You are an expert front-end developer. You write complete, working single-file web \
             pages and reply with JSON only.",
        ),
        ChatMessage::user(format!(
            "Write one self-contained HTML page for this request:\n{}\n\n\
             Put all CSS in a <style> element and all JavaScript in a <script> element; load \
             nothing from the network. Answer with JSON only: {{\"html\": \"<!doctype html>...\"}}",
            task.prompt
        )),
    ]
}

fn page_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"html": {"type": "string", "minLength": 1}},
        "required": ["html"],
        "additionalProperties": false
    })
}

fn validate_page(p: &Page) -> Result<(), String> {
    if !p.html.contains('<') {
        return Err("`html` holds no markup".to_owned());
    }
    if p.html.len() > MAX_COMPLETION_BYTES {
        return Err(format!(
            "`html` is {} bytes, over the {MAX_COMPLETION_BYTES}-byte limit",
            p.html.len()
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
struct Scores {
    scores: Vec<LetterScore>,
}

#[derive(Debug, Deserialize)]
struct LetterScore {
    id: String,
    score: f64,
}

#[derive(Debug, Deserialize)]
struct Pairwise {
    better: String,
}

fn letter(i: usize) -> String {
    // 26 letters, then A1, B1, … (tasks rarely carry more than four completions).
    let c = char::from(b'A' + u8::try_from(i % 26).unwrap_or(0));
    if i < 26 {
        c.to_string()
    } else {
        format!("{c}{}", i / 26)
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS_PER_COMPLETION {
        return s.to_owned();
    }
    let head: String = s.chars().take(MAX_CHARS_PER_COMPLETION).collect();
    format!("{head}\n[… truncated]")
}

/// The scoring prompt: system and user messages for `task`.
pub fn scoring_messages(task: &Task) -> Vec<ChatMessage> {
    let mut user = format!("Task given to the assistant:\n{}\n\n", task.prompt);
    for (i, c) in task.completions.iter().enumerate() {
        user.push_str(&format!(
            "Response {}:\n{}\n\n",
            letter(i),
            clip(&flatten(&c.content))
        ));
    }
    let ids: Vec<String> = (0..task.completions.len()).map(letter).collect();
    user.push_str(&format!(
        "Score every response ({}) from 1 (worst) to 10 (best) for how well it does the task. \
         Answer with JSON only: {{\"scores\": [{{\"id\": \"A\", \"score\": 7}}, ...]}}",
        ids.join(", ")
    ));
    vec![
        ChatMessage::system(
            "You are a strict, impartial judge of AI responses. You read every response in full, \
             compare them and reply with JSON only.",
        ),
        ChatMessage::user(user),
    ]
}

/// The pairwise prompt for a two-completion task.
pub fn pairwise_messages(task: &Task) -> Vec<ChatMessage> {
    let mut user = format!("Task given to the assistant:\n{}\n\n", task.prompt);
    for (i, c) in task.completions.iter().enumerate().take(2) {
        user.push_str(&format!(
            "Response {}:\n{}\n\n",
            letter(i),
            clip(&flatten(&c.content))
        ));
    }
    user.push_str(
        "Which response does the task better? Answer with JSON only: {\"better\": \"A\"} or {\"better\": \"B\"}",
    );
    vec![
        ChatMessage::system(
            "You are a strict, impartial judge of AI responses. You compare two responses and \
             reply with JSON only.",
        ),
        ChatMessage::user(user),
    ]
}

fn scores_schema(n: usize) -> serde_json::Value {
    let ids: Vec<String> = (0..n).map(letter).collect();
    serde_json::json!({
        "type": "object",
        "properties": {
            "scores": {
                "type": "array",
                "minItems": n,
                "maxItems": n,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "enum": ids},
                        "score": {"type": "integer", "minimum": 1, "maximum": 10}
                    },
                    "required": ["id", "score"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["scores"],
        "additionalProperties": false
    })
}

fn pairwise_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {"better": {"type": "string", "enum": ["A", "B"]}},
        "required": ["better"],
        "additionalProperties": false
    })
}

/// Checks a scoring answer names each of `n` letters once with a score in 1..=10.
fn validate_scores(s: &Scores, n: usize) -> Result<(), String> {
    let mut seen = vec![false; n];
    for ls in &s.scores {
        let i = (0..n)
            .find(|&i| letter(i) == ls.id.trim())
            .ok_or_else(|| format!("unknown response id {:?}", ls.id))?;
        if seen[i] {
            return Err(format!("response {} scored twice", ls.id));
        }
        if !ls.score.is_finite() || !(1.0..=10.0).contains(&ls.score) {
            return Err(format!(
                "score {} for {} is outside 1..=10",
                ls.score, ls.id
            ));
        }
        seen[i] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(format!("response {} has no score", letter(i)));
    }
    Ok(())
}

impl LlmApiProvider {
    /// A judge over `client` (use [`dojo_llm::LlmConfig::for_judging`] for its timeouts).
    /// The same client writes pages until [`LlmApiProvider::with_generator`] gives it its own.
    pub fn new(client: LlmClient) -> Self {
        LlmApiProvider {
            generator: client.clone(),
            client,
            max_tokens: 256,
            generation_tokens: 4096,
        }
    }

    /// Writes generation-task pages through `client` (use [`dojo_llm::LlmConfig::new`]'s long
    /// timeout: a page is thousands of tokens) with at most `max_tokens` tokens.
    pub fn with_generator(mut self, client: LlmClient, max_tokens: u32) -> Self {
        self.generator = client;
        self.generation_tokens = max_tokens;
        self
    }

    /// Writes the page for `task`.
    pub async fn write_page(&self, task: &GenerationTask) -> Result<String, ProviderError> {
        let sampling = Sampling {
            max_tokens: self.generation_tokens,
            ..self.sampling()
        };
        let page: Page = self
            .generator
            .chat_json(
                &generation_messages(task),
                "page",
                &page_schema(),
                sampling,
                validate_page,
            )
            .await
            .map_err(Self::backend)?;
        Ok(page.html)
    }

    fn sampling(&self) -> Sampling {
        Sampling {
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: self.max_tokens,
            seed: Some(52),
        }
    }

    fn backend(e: dojo_llm::LlmError) -> ProviderError {
        ProviderError::Backend {
            provider: "llm_api",
            message: e.to_string(),
        }
    }

    /// One preference in `[0, 1]` per completion, in task order.
    pub async fn preferences(&self, task: &Task) -> Result<Vec<f64>, ProviderError> {
        let n = task.completions.len();
        if n == 2 {
            let answer: Pairwise = self
                .client
                .chat_json(
                    &pairwise_messages(task),
                    "pairwise",
                    &pairwise_schema(),
                    self.sampling(),
                    |p: &Pairwise| match p.better.trim() {
                        "A" | "B" => Ok(()),
                        other => Err(format!("`better` must be A or B, got {other:?}")),
                    },
                )
                .await
                .map_err(Self::backend)?;
            return Ok(if answer.better.trim() == "A" {
                vec![1.0, 0.0]
            } else {
                vec![0.0, 1.0]
            });
        }
        let answer: Scores = self
            .client
            .chat_json(
                &scoring_messages(task),
                "scores",
                &scores_schema(n),
                self.sampling(),
                |s: &Scores| validate_scores(s, n),
            )
            .await
            .map_err(Self::backend)?;
        let mut prefs = vec![0.0; n];
        for ls in &answer.scores {
            if let Some(i) = (0..n).find(|&i| letter(i) == ls.id.trim()) {
                prefs[i] = (ls.score - 1.0) / 9.0;
            }
        }
        Ok(prefs)
    }
}

impl Provider for LlmApiProvider {
    fn method(&self) -> ScoringMethod {
        ScoringMethod::LlmApi
    }

    fn check(&self, task: &Task) -> Result<(), String> {
        super::check_automatic(task)
    }

    fn judge<'a>(
        &'a self,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>> {
        Box::pin(async move {
            let prefs = self.preferences(task).await?;
            let prefs: Vec<_> = task
                .completions
                .iter()
                .zip(prefs)
                .map(|(c, p)| (c.id.clone(), p))
                .collect();
            let answers = answers_from_preferences(task, &prefs).map_err(|message| {
                ProviderError::BadAnswer {
                    provider: "llm_api",
                    message,
                }
            })?;
            Ok(Some(WorkerResult {
                worker_id: WORKER_ID.to_owned(),
                answers,
            }))
        })
    }

    fn check_generation(&self, task: &GenerationTask) -> Result<(), String> {
        if task.task_type != TaskType::CodeGeneration {
            return Err(
                "the llm_api provider writes only code-generation tasks (one page)".to_owned(),
            );
        }
        Ok(())
    }

    fn generate<'a>(
        &'a self,
        task: &'a GenerationTask,
    ) -> BoxFuture<'a, Result<Option<Generated>, ProviderError>> {
        Box::pin(async move {
            let html = self.write_page(task).await?;
            let completion = page_completion(task.id.as_str(), &html).map_err(|message| {
                ProviderError::BadAnswer {
                    provider: "llm_api",
                    message,
                }
            })?;
            Ok(Some(Generated {
                completion,
                author: WORKER_ID.to_owned(),
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_distinct() {
        let v: Vec<String> = (0..60).map(letter).collect();
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!(set.len(), 60);
        assert_eq!(v[0], "A");
        assert_eq!(v[25], "Z");
    }

    #[test]
    fn score_answers_are_checked() {
        let ok = Scores {
            scores: vec![
                LetterScore {
                    id: "A".into(),
                    score: 3.0,
                },
                LetterScore {
                    id: "B".into(),
                    score: 10.0,
                },
                LetterScore {
                    id: "C".into(),
                    score: 1.0,
                },
            ],
        };
        assert_eq!(validate_scores(&ok, 3), Ok(()));
        let missing = Scores {
            scores: vec![LetterScore {
                id: "A".into(),
                score: 3.0,
            }],
        };
        assert!(
            validate_scores(&missing, 2)
                .unwrap_err()
                .contains("B has no score")
        );
        let twice = Scores {
            scores: vec![
                LetterScore {
                    id: "A".into(),
                    score: 3.0,
                },
                LetterScore {
                    id: "A".into(),
                    score: 4.0,
                },
            ],
        };
        assert!(validate_scores(&twice, 2).unwrap_err().contains("twice"));
        let range = Scores {
            scores: vec![
                LetterScore {
                    id: "A".into(),
                    score: 0.0,
                },
                LetterScore {
                    id: "B".into(),
                    score: f64::NAN,
                },
            ],
        };
        assert!(validate_scores(&range, 2).unwrap_err().contains("outside"));
    }
}
