//! `reward_model`: an ONNX reward model (`dojo-reward`) scores each completion.
//!
//! Text and dialogue completions are flattened to text ([`super::flatten`]) and paired with the
//! prompt. The model truncates every pair to its `max_length` tokens (256 for the shipped
//! `dojo-minilm-rm`), longest side first, so for an HTML page that would be only its first few
//! hundred tokens of markup. Code tasks therefore go to the code-task model when one is set
//! ([`RewardModelProvider::with_code_model`], the shipped model's `code-head.json`): every
//! completion's files are merged into one page ([`dojo_reward::code::digest::assemble`]) and that
//! model scores the page from its digest (visible text, styles, script structure). A task is a
//! code task when all its completions are code, so one model ranks all of a task's completions.
//!
//! Either way the logit goes through the logistic function into `(0, 1)` and then into each
//! criterion's range ([`super::answers_from_preferences`]).

use std::sync::Arc;

use dojo_reward::{RewardInput, RewardModel};
use dojo_types::task::{CompletionContent, ScoringMethod, Task, WorkerResult};

use super::{BoxFuture, Provider, ProviderError, answers_from_preferences, flatten, sigmoid};

/// The worker id reward-model results are stored under.
pub const WORKER_ID: &str = "reward-model";

/// Scores with any [`RewardModel`] (in production an `OnnxRewardModel`, and for code tasks a
/// `CodeRewardModel` over the same encoder).
#[derive(Debug, Clone)]
pub struct RewardModelProvider {
    model: Arc<dyn RewardModel>,
    code: Option<Arc<dyn RewardModel>>,
}

impl RewardModelProvider {
    /// A provider over `model`, for every task.
    pub fn new(model: Arc<dyn RewardModel>) -> Self {
        RewardModelProvider { model, code: None }
    }

    /// Code tasks go to `code`, which reads `(prompt, page source)`.
    pub fn with_code_model(mut self, code: Arc<dyn RewardModel>) -> Self {
        self.code = Some(code);
        self
    }

    /// The model for `task` and the text it reads of each completion.
    fn inputs(&self, task: &Task) -> (Arc<dyn RewardModel>, Vec<String>) {
        let all_code = !task.completions.is_empty()
            && task
                .completions
                .iter()
                .all(|c| matches!(c.content, CompletionContent::Code { .. }));
        match &self.code {
            Some(code) if all_code => {
                let pages = task
                    .completions
                    .iter()
                    .map(|c| match &c.content {
                        CompletionContent::Code { files, .. } => {
                            dojo_reward::code::digest::assemble(files)
                        }
                        other => flatten(other),
                    })
                    .collect();
                (code.clone(), pages)
            }
            _ => (
                self.model.clone(),
                task.completions
                    .iter()
                    .map(|c| flatten(&c.content))
                    .collect(),
            ),
        }
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
            let (model, texts) = self.inputs(task);
            tracing::debug!(target: "miner::provider", task = %task.id, model = model.name(), "reward model judging");
            let prompt = task.prompt.clone();
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use dojo_reward::RewardError;
    use dojo_types::task::{Answer, CodeFile, Completion, TaskType};
    use dojo_types::{CompletionId, Criterion, TaskId};

    use super::*;

    /// Records what it was asked to score; scores by a fixed rule.
    #[derive(Debug)]
    struct Recorder {
        name: &'static str,
        seen: Mutex<Vec<String>>,
        rule: fn(&str) -> f32,
    }

    impl Recorder {
        fn new(name: &'static str, rule: fn(&str) -> f32) -> Arc<Self> {
            Arc::new(Self {
                name,
                seen: Mutex::new(Vec::new()),
                rule,
            })
        }
        fn seen(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl RewardModel for Recorder {
        fn name(&self) -> &str {
            self.name
        }
        fn score_batch(&self, batch: &[RewardInput<'_>]) -> Result<Vec<f32>, RewardError> {
            let mut seen = self.seen.lock().unwrap();
            Ok(batch
                .iter()
                .map(|i| {
                    seen.push(i.completion.to_owned());
                    (self.rule)(i.completion)
                })
                .collect())
        }
    }

    fn task(contents: Vec<CompletionContent>) -> Task {
        Task {
            id: TaskId::new("t").unwrap(),
            previous: None,
            prompt: "make a page".into(),
            task_type: TaskType::CodeGeneration,
            completions: contents
                .into_iter()
                .enumerate()
                .map(|(i, content)| Completion {
                    id: CompletionId::new(format!("c{i}")).unwrap(),
                    content,
                })
                .collect(),
            criteria: vec![Criterion::Ranking],
            expire_at_unix_ms: i64::MAX,
        }
    }

    fn code(files: &[(&str, &str)]) -> CompletionContent {
        CompletionContent::Code {
            files: files
                .iter()
                .map(|(n, c)| CodeFile {
                    filename: (*n).into(),
                    content: (*c).into(),
                    language: String::new(),
                })
                .collect(),
            installation_commands: String::new(),
        }
    }

    fn ranks(r: &WorkerResult) -> Vec<u32> {
        r.answers
            .iter()
            .map(|a| match a.answer {
                Answer::Rank(k) => k,
                _ => u32::MAX,
            })
            .collect()
    }

    #[tokio::test]
    async fn code_tasks_go_to_the_code_model_with_merged_pages() {
        let text = Recorder::new("text", |_| 0.0);
        // Prefers pages with a script: only the code path sees the merged `<script>`.
        let code_model = Recorder::new("code", |p| if p.contains("<script>") { 2.0 } else { -2.0 });
        let provider = RewardModelProvider::new(text.clone()).with_code_model(code_model.clone());
        let t = task(vec![
            code(&[("index.html", "<p>plain</p>")]),
            code(&[("index.html", "<p>app</p>"), ("app.js", "go();")]),
        ]);
        let r = provider.judge(&t).await.unwrap().unwrap();
        assert!(text.seen().is_empty(), "{:?}", text.seen());
        let seen = code_model.seen();
        assert_eq!(seen.len(), 2);
        assert!(
            !seen[0].contains("// file:"),
            "pages, not flattened text: {seen:?}"
        );
        assert!(seen[1].contains("<script>\ngo();\n</script>"), "{seen:?}");
        assert_eq!(ranks(&r), vec![1, 0]);
    }

    #[tokio::test]
    async fn text_mixed_and_code_without_a_code_model_use_the_text_model() {
        let text = Recorder::new("text", |c| c.len() as f32);
        let code_model = Recorder::new("code", |_| 0.0);
        let provider = RewardModelProvider::new(text.clone()).with_code_model(code_model.clone());
        let mixed = task(vec![
            CompletionContent::Text("a longer answer".into()),
            code(&[("index.html", "<p>x</p>")]),
        ]);
        provider.judge(&mixed).await.unwrap().unwrap();
        assert!(code_model.seen().is_empty());
        assert_eq!(text.seen().len(), 2);
        assert!(
            text.seen()[1].starts_with("// file: index.html"),
            "{:?}",
            text.seen()
        );

        let plain = RewardModelProvider::new(text.clone());
        plain
            .judge(&task(vec![code(&[("index.html", "<p>y</p>")])]))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(text.seen().len(), 3);
    }
}
