//! JSON bodies of the synthetic API (spec §1.8). Built from domain tasks; the domain types never
//! derive these shapes themselves.

use std::collections::BTreeMap;

use dojo_synthetic::{Completion, SyntheticTask};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireFile {
    pub filename: String,
    pub content: String,
    #[serde(default)]
    pub language: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireCompletion {
    pub files: Vec<WireFile>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireResponse {
    pub model: String,
    pub completion: WireCompletion,
    pub cid: String,
}

impl From<&Completion> for WireResponse {
    fn from(c: &Completion) -> Self {
        Self {
            model: c.model.clone(),
            completion: WireCompletion {
                files: c
                    .files
                    .iter()
                    .map(|f| WireFile {
                        filename: f.filename.clone(),
                        content: f.content.clone(),
                        language: f.language.clone(),
                    })
                    .collect(),
            },
            cid: c.id.to_string(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireMetadata {
    pub augment_type: String,
    pub generator: String,
    pub task_id: String,
    /// Augmentation per completion id; the validator keeps it private like the ground truth.
    pub augmentations: BTreeMap<String, String>,
}

/// `GET /api/synthetic-gen` body.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyntheticQa {
    pub prompt: String,
    pub question_model: String,
    pub responses: Vec<WireResponse>,
    pub ground_truth: BTreeMap<String, u32>,
    pub augmented_prompts: Vec<String>,
    pub topic: String,
    pub persona: String,
    pub metadata: WireMetadata,
}

impl From<&SyntheticTask> for SyntheticQa {
    fn from(t: &SyntheticTask) -> Self {
        let mut augmented_prompts: Vec<String> = t
            .completions()
            .iter()
            .filter_map(|c| c.augmented_prompt.clone())
            .collect();
        augmented_prompts.dedup();
        Self {
            prompt: t.prompt().to_owned(),
            question_model: t.generator().to_owned(),
            responses: t.completions().iter().map(WireResponse::from).collect(),
            ground_truth: t
                .ground_truth()
                .iter()
                .map(|(c, r)| (c.to_string(), r))
                .collect(),
            augmented_prompts,
            topic: t.topic().as_str().to_owned(),
            persona: t.persona().to_owned(),
            metadata: WireMetadata {
                augment_type: t.augment_type(),
                generator: t.generator().to_owned(),
                task_id: t.id().to_string(),
                augmentations: t
                    .completions()
                    .iter()
                    .map(|c| (c.id.to_string(), c.augmentation.as_str().to_owned()))
                    .collect(),
            },
        }
    }
}

/// The `{success, body, error}` envelope of v1 routes.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope<T> {
    pub success: bool,
    pub body: Option<T>,
    pub error: Option<String>,
}

/// An answer record (what the reference keeps in Redis under `synthetic:answers:{id}`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnswerRecord {
    pub prompt: String,
    pub responses: Vec<WireResponse>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenerateQuestion {
    pub success: bool,
    pub prompt: String,
    pub qa_id: String,
    pub ans_aug_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QaIdRequest {
    pub qa_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnswerResponse {
    pub success: bool,
    pub qa_id: String,
    pub answer: AnswerRecord,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuestionAugmentRequest {
    pub question: String,
    pub num_augments: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuestionAugmentResponse {
    pub success: bool,
    pub augments: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderAnswerRequest {
    pub question: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderAnswerResponse {
    pub success: bool,
    pub ans_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Success {
    pub success: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub success: bool,
    pub error: String,
}
