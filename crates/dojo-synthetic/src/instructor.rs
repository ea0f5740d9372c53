//! The Instructor (self-instruct): few-shot prompts over seed tasks that ask an LLM for a new
//! question with its list of requirements, and for augmented questions (§5.1, §5.3).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::llm::{ChatMessage, LlmClient, LlmError, Sampling};
use crate::seeds::{Seed, Seeds};
use crate::task::Augmentation;

/// A question and the requirements it lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub question: String,
    pub requirements: Vec<String>,
}

/// Longest question accepted; a model that rambles past it is producing garbage.
pub const MAX_QUESTION_CHARS: usize = 8000;

impl Question {
    /// Shape checks beyond what the JSON schema can say.
    pub fn validate(&self, expected_requirements: Option<usize>) -> Result<(), String> {
        let q = self.question.trim();
        if q.len() < 20 {
            return Err(format!("question is too short ({} chars)", q.len()));
        }
        if q.len() > MAX_QUESTION_CHARS {
            return Err(format!("question is too long ({} chars)", q.len()));
        }
        if self.requirements.is_empty() || self.requirements.len() > 8 {
            return Err(format!(
                "question has {} requirements, expected 1 to 8",
                self.requirements.len()
            ));
        }
        if let Some(n) = expected_requirements
            && self.requirements.len() != n
        {
            return Err(format!(
                "question has {} requirements, {n} were asked for",
                self.requirements.len()
            ));
        }
        if self.requirements.iter().any(|r| r.trim().len() < 3) {
            return Err("a requirement is empty".to_owned());
        }
        Ok(())
    }
}

/// The schema of a [`Question`] with 1 to 8 requirements.
pub fn question_schema() -> serde_json::Value {
    question_schema_with(None)
}

/// The schema of a [`Question`], with exactly `requirements` requirements when given, so a server
/// that constrains decoding by the schema cannot return the wrong count that
/// [`Question::validate`] would refuse. (String lengths stay out: not every strict-mode
/// server accepts `minLength`.)
pub fn question_schema_with(requirements: Option<usize>) -> serde_json::Value {
    let (min, max) = requirements.map_or((1, 8), |n| (n.clamp(1, 8), n.clamp(1, 8)));
    serde_json::json!({
        "type": "object",
        "properties": {
            "question": {"type": "string"},
            "requirements": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": min,
                "maxItems": max
            }
        },
        "required": ["question", "requirements"],
        "additionalProperties": false
    })
}

const SYSTEM: &str = "You are an expert AI prompt engineer who writes self-contained coding problems for web developers. \
Answer with one JSON object {\"question\": string, \"requirements\": [string]} and nothing else.";

/// Builds the few-shot messages for a new question from `seed`.
pub fn question_messages(seeds: &Seeds, seed: &Seed, rng: &mut impl Rng) -> Vec<ChatMessage> {
    let mut msgs = vec![ChatMessage::system(SYSTEM)];
    for ex in seeds.examples_for(seed.topic, 2, rng) {
        msgs.push(ChatMessage::user(format!(
            "Write a {} with {} user actions.",
            ex.topic.kind_phrase(),
            ex.requirements.len()
        )));
        let answer = Question {
            question: ex.question.clone(),
            requirements: ex.requirements.clone(),
        };
        msgs.push(ChatMessage::assistant(
            serde_json::to_string(&answer).unwrap_or_default(),
        ));
    }
    msgs.push(ChatMessage::user(format!(
        "Write a {} with {} user actions, suited to this persona: {}. \
         The program is a single index.html with inline JavaScript and CSS, runs in a desktop browser inside an iframe, \
         and uses no external files, storage, camera or microphone. List exactly {} requirements.",
        seed.topic.kind_phrase(),
        seed.requirements,
        seed.persona,
        seed.requirements
    )));
    msgs
}

/// Messages that ask for the question changed as `aug` says (question family only).
pub fn augment_messages(question: &Question, aug: Augmentation) -> Option<Vec<ChatMessage>> {
    let instruction = match aug {
        Augmentation::RemoveRequirement => "Remove any one requirement from the question.",
        Augmentation::ChangeRequirement => {
            "Replace one requirement with a new, distinct requirement."
        }
        Augmentation::ChangeSubject => {
            "Change the subject of the question (what is animated, simulated or played) to a similar but different one."
        }
        _ => return None,
    };
    Some(vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "{instruction} Keep everything else the same.\n\nQuestion JSON:\n{}",
            serde_json::to_string(question).unwrap_or_default()
        )),
    ])
}

/// The Instructor: asks the LLM for questions.
#[derive(Clone, Debug)]
pub struct Instructor {
    client: LlmClient,
    max_tokens: u32,
}

impl Instructor {
    pub fn new(client: LlmClient, max_tokens: u32) -> Self {
        Self { client, max_tokens }
    }

    pub async fn question(
        &self,
        seeds: &Seeds,
        seed: &Seed,
        rng_seed: u64,
    ) -> Result<Question, LlmError> {
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(rng_seed);
        let msgs = question_messages(seeds, seed, &mut rng);
        let sampling = Sampling {
            temperature: rng.random_range(0.5..0.75),
            top_p: rng.random_range(0.9..1.0),
            max_tokens: self.max_tokens,
            seed: Some(rng_seed),
        };
        let n = seed.requirements;
        self.client
            .chat_json(
                &msgs,
                "question",
                &question_schema_with(Some(n)),
                sampling,
                |q: &Question| q.validate(Some(n)),
            )
            .await
    }

    pub async fn augment(
        &self,
        question: &Question,
        aug: Augmentation,
    ) -> Result<Question, LlmError> {
        let Some(msgs) = augment_messages(question, aug) else {
            return Err(LlmError::WrongShape(format!(
                "{aug:?} is not a question augmentation"
            )));
        };
        let sampling = Sampling {
            temperature: 0.0,
            top_p: 0.9,
            max_tokens: self.max_tokens,
            seed: None,
        };
        let original = question.question.trim().to_owned();
        self.client
            .chat_json(
                &msgs,
                "question",
                &question_schema(),
                sampling,
                move |q: &Question| {
                    q.validate(None)?;
                    if q.question.trim() == original {
                        return Err("augmented question is identical to the original".to_owned());
                    }
                    Ok(())
                },
            )
            .await
    }
}
