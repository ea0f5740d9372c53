//! `reward_model`: an ONNX reward model (`dojo-reward`) scores each completion.
//!
//! Each completion is flattened to text ([`super::flatten`]) and paired with the prompt; the model's
//! logit goes through the logistic function into `(0, 1)` and then into each criterion's range
//! ([`super::answers_from_preferences`]). The model truncates every pair to its `max_length` tokens
//! (256 for the shipped `dojo-minilm-rm`), longest side first: for a long HTML completion only its
//! first few hundred tokens of markup are judged, so a page whose quality shows late in the file
//! (after a long `<style>` block, say) is scored on its head alone.

use std::sync::Arc;

use dojo_reward::{RewardInput, RewardModel};
use dojo_types::task::{ScoringMethod, Task, WorkerResult};

use super::{BoxFuture, Provider, ProviderError, answers_from_preferences, flatten, sigmoid};

/// The worker id reward-model results are stored under.
pub const WORKER_ID: &str = "reward-model";

/// Scores with any [`RewardModel`] (in production an `OnnxRewardModel`).
#[derive(Debug, Clone)]
pub struct RewardModelProvider {
    model: Arc<dyn RewardModel>,
}

impl RewardModelProvider {
    /// A provider over `model`.
    pub fn new(model: Arc<dyn RewardModel>) -> Self {
        RewardModelProvider { model }
    }
}

impl Provider for RewardModelProvider {
    fn method(&self) -> ScoringMethod {
        ScoringMethod::RewardModel
    }

    fn check(&self, task: &Task) -> Result<(), String> {
        super::check_automatic(task)
    }

    fn judge<'a>(
        &'a self,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>> {
        Box::pin(async move {
            let model = self.model.clone();
            let prompt = task.prompt.clone();
            let texts: Vec<String> = task
                .completions
                .iter()
                .map(|c| flatten(&c.content))
                .collect();
            // Inference is blocking CPU work: off the async workers.
            let logits = tokio::task::spawn_blocking(move || {
                let batch: Vec<RewardInput<'_>> =
                    texts.iter().map(|t| RewardInput::new(&prompt, t)).collect();
                model.score_batch(&batch)
            })
            .await
            .map_err(|e| ProviderError::Backend {
                provider: "reward_model",
                message: e.to_string(),
            })?
            .map_err(|e| ProviderError::Backend {
                provider: "reward_model",
                message: e.to_string(),
            })?;
            let prefs: Vec<_> = task
                .completions
                .iter()
                .zip(&logits)
                .map(|(c, l)| (c.id.clone(), sigmoid(f64::from(*l))))
                .collect();
            let answers = answers_from_preferences(task, &prefs).map_err(|message| {
                ProviderError::BadAnswer {
                    provider: "reward_model",
                    message,
                }
            })?;
            Ok(Some(WorkerResult {
                worker_id: WORKER_ID.to_owned(),
                answers,
            }))
        })
    }
}
