//! Feedback providers: who turns a task into answers.
//!
//! Every provider sits behind [`Provider`]. Automatic ones ([`reward_model`], [`llm_api`]) judge a
//! task as soon as it is stored and return one [`WorkerResult`]; the human one
//! ([`HumanProvider`]) returns nothing and lets workers answer on the worker page.
//!
//! Automatic providers produce one *preference* per completion in `[0, 1]` (higher is better);
//! [`answers_from_preferences`] maps those into what each criterion asks for, so every provider
//! fills criteria the same way.
//!
//! The Dojo v2 roles reach providers as follows. A *vote* task is judged like any task (one
//! ranking criterion; the completion ranked first is the provider's vote), so every provider
//! votes. A *generation* task asks for a completion: [`Provider::check_generation`] says whether
//! the provider writes one (`llm_api` does, so do humans on the worker page; a reward model
//! cannot) and [`Provider::generate`] writes it.

pub mod llm_api;
#[cfg(feature = "mturk")]
pub mod mturk;
pub mod reward_model;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;

use dojo_types::task::{
    Answer, CodeFile, Completion, CompletionAnswer, CompletionContent, Generated, GenerationTask,
    ScoringMethod, Task, TaskType, WorkerResult,
};
use dojo_types::{CompletionId, Criterion, Score};

/// A boxed future, so providers can sit behind `dyn Provider`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a provider could not judge a task.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The backend (model, API) failed; the task stays unanswered and is retried after a restart.
    #[error("{provider} failed: {message}")]
    Backend {
        /// Provider name.
        provider: &'static str,
        /// What failed.
        message: String,
    },
    /// The backend answered with something unusable for this task.
    #[error("{provider} gave an unusable answer: {message}")]
    BadAnswer {
        /// Provider name.
        provider: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// Turns tasks into answers.
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// Which method this is (reported in heartbeats).
    fn method(&self) -> ScoringMethod;

    /// Whether this provider can answer `task`; `Err(reason)` makes the miner decline it.
    fn check(&self, task: &Task) -> Result<(), String>;

    /// Judges `task` now (`Some`), or `None` when answers come later from humans.
    fn judge<'a>(
        &'a self,
        task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>>;

    /// How many results one task may collect.
    fn max_results(&self) -> u32 {
        1
    }

    /// Delivers every result for `task` into `out` as it arrives, returning when no more will
    /// come. By default that is [`Provider::judge`]'s one result; a provider whose answers trickle
    /// in (MTurk workers) sends each one as soon as it has it, so a result is stored even when the
    /// deadline cuts the rest short, and keeps the handle of its outside job (the HIT) in
    /// `ledger`, so a restarted miner resumes that job instead of starting a second one.
    fn collect<'a>(
        &'a self,
        task: &'a Task,
        ledger: &'a dyn JobLedger,
        out: tokio::sync::mpsc::Sender<WorkerResult>,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        let _ = ledger;
        Box::pin(async move {
            if let Some(result) = self.judge(task).await? {
                // The receiver lives as long as this call's caller; a closed one means shutdown.
                let _ = out.send(result).await;
            }
            Ok(())
        })
    }

    /// Whether this provider writes a completion for `task` (the v2 generator role);
    /// `Err(reason)` makes the miner decline it. By default it does not.
    fn check_generation(&self, task: &GenerationTask) -> Result<(), String> {
        let _ = task;
        Err(format!(
            "the {} provider does not write completions",
            self.method()
        ))
    }

    /// Writes the completion for `task` now (`Some`), or `None` when a human writes it on the
    /// worker page.
    fn generate<'a>(
        &'a self,
        task: &'a GenerationTask,
    ) -> BoxFuture<'a, Result<Option<Generated>, ProviderError>> {
        let _ = task;
        Box::pin(async { Ok(None) })
    }
}

/// Durable memory of the one outside job (an MTurk HIT) a provider started for one task.
///
/// The miner's store implements it per task; what is recorded survives a restart or a SIGKILL.
pub trait JobLedger: Send + Sync {
    /// The handle recorded for this task, if any.
    fn handle(&self) -> BoxFuture<'_, Result<Option<String>, ProviderError>>;
    /// Records `handle` for this task (a second call for the same task keeps the first handle).
    fn record<'a>(&'a self, handle: &'a str) -> BoxFuture<'a, Result<(), ProviderError>>;
}

/// Human workers on the miner's worker page: nothing happens until they submit.
#[derive(Debug, Clone, Copy)]
pub struct HumanProvider {
    /// Results collected per task (`--max_results`).
    pub max_results: u32,
}

impl Provider for HumanProvider {
    fn method(&self) -> ScoringMethod {
        ScoringMethod::Human
    }
    fn check(&self, task: &Task) -> Result<(), String> {
        renderable(task)
    }
    fn judge<'a>(
        &'a self,
        _task: &'a Task,
    ) -> BoxFuture<'a, Result<Option<WorkerResult>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }
    fn max_results(&self) -> u32 {
        self.max_results
    }
    fn check_generation(&self, task: &GenerationTask) -> Result<(), String> {
        if task.task_type != TaskType::CodeGeneration {
            return Err(
                "workers write only code-generation tasks (one page) on the worker page".to_owned(),
            );
        }
        Ok(())
    }
}

/// A written single-file page as the completion of a generation task: one `index.html`, at most
/// [`MAX_COMPLETION_BYTES`], not blank. `id` becomes the completion id (the miner's own).
pub fn page_completion(id: &str, html: &str) -> Result<Completion, String> {
    if html.trim().is_empty() {
        return Err("the page is empty".to_owned());
    }
    if html.len() > MAX_COMPLETION_BYTES {
        return Err(format!(
            "the page is {} bytes, over the {MAX_COMPLETION_BYTES}-byte limit",
            html.len()
        ));
    }
    Ok(Completion {
        id: CompletionId::new(id).map_err(|e| e.to_string())?,
        content: CompletionContent::Code {
            files: vec![CodeFile {
                filename: "index.html".to_owned(),
                content: html.to_owned(),
                language: "html".to_owned(),
            }],
            installation_commands: String::new(),
        },
    })
}

/// Largest completion the page renders, in bytes (a page of code or text; more is declined).
pub const MAX_COMPLETION_BYTES: usize = 512 * 1024;

/// Whether every completion can be shown to a worker: text, dialogue, or code with at least one
/// non-empty file, each under [`MAX_COMPLETION_BYTES`]. Media is not rendered yet.
pub fn renderable(task: &Task) -> Result<(), String> {
    for c in &task.completions {
        let size = match &c.content {
            CompletionContent::Text(t) => t.len(),
            CompletionContent::Dialogue(turns) => {
                if turns.is_empty() {
                    return Err(format!("completion {} is an empty dialogue", c.id));
                }
                turns.iter().map(|t| t.message.len()).sum()
            }
            CompletionContent::Code { files, .. } => {
                if files.iter().all(|f| f.content.trim().is_empty()) {
                    return Err(format!("completion {} has no code to show", c.id));
                }
                files.iter().map(|f| f.content.len()).sum()
            }
            CompletionContent::Media(_) => {
                return Err(format!(
                    "completion {} is media, which this miner does not render",
                    c.id
                ));
            }
        };
        if size > MAX_COMPLETION_BYTES {
            return Err(format!(
                "completion {} is {size} bytes, over the {MAX_COMPLETION_BYTES}-byte limit",
                c.id
            ));
        }
    }
    Ok(())
}

/// A completion as one text for a model: text as is, dialogue as `role: message` lines, code as
/// its files (name line, then content), in order. An HTML page stays HTML source: the models read
/// markup as text.
pub fn flatten(content: &CompletionContent) -> String {
    match content {
        CompletionContent::Text(t) => t.clone(),
        CompletionContent::Dialogue(turns) => turns
            .iter()
            .map(|t| {
                let who = match t.role {
                    dojo_types::task::Role::User => "user",
                    dojo_types::task::Role::Assistant => "assistant",
                };
                format!("{who}: {}", t.message)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        CompletionContent::Code {
            files,
            installation_commands,
        } => {
            let mut out = String::new();
            if !installation_commands.trim().is_empty() {
                out.push_str("# install: ");
                out.push_str(installation_commands.trim());
                out.push('\n');
            }
            for f in files {
                out.push_str("// file: ");
                out.push_str(&f.filename);
                out.push('\n');
                out.push_str(&f.content);
                out.push('\n');
            }
            out
        }
        CompletionContent::Media(files) => files
            .iter()
            .map(|f| format!("[{} {}]", f.mime_type, f.filename))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Whether an automatic provider can fill every criterion (free text needs a human).
pub fn automatic_criteria(task: &Task) -> Result<(), String> {
    if task
        .criteria
        .iter()
        .any(|c| matches!(c, Criterion::Text { .. }))
    {
        return Err("text feedback criteria need human workers".to_owned());
    }
    Ok(())
}

/// What an automatic provider accepts: criteria it can fill and completions it can read.
pub fn check_automatic(task: &Task) -> Result<(), String> {
    automatic_criteria(task)?;
    renderable(task)
}

/// Answers for every criterion from one preference in `[0, 1]` per completion (higher is better):
///
/// * `Ranking`: ranks by descending preference (ties keep completion order), 0 best.
/// * `Score { min, max }`: `min + p·(max − min)`.
/// * `MultiScore` whose options are the task's completion ids (the Dojo v1 form): one `Score` per
///   completion, mapped like `Score`.
/// * other `MultiScore`: the same mapped value for every option.
///
/// `Text` criteria are skipped (see [`automatic_criteria`]). Preferences outside `[0, 1]` are
/// clamped; a non-finite one is an error.
pub fn answers_from_preferences(
    task: &Task,
    prefs: &[(CompletionId, f64)],
) -> Result<Vec<CompletionAnswer>, String> {
    if let Some((id, p)) = prefs.iter().find(|(_, p)| !p.is_finite()) {
        return Err(format!("preference for {id} is {p}"));
    }
    let ids: HashSet<&str> = task.completions.iter().map(|c| c.id.as_str()).collect();
    let mut out = Vec::new();
    for criterion in &task.criteria {
        match criterion {
            Criterion::Ranking => {
                let mut order: Vec<usize> = (0..prefs.len()).collect();
                order.sort_by(|&a, &b| prefs[b].1.total_cmp(&prefs[a].1).then(a.cmp(&b)));
                let mut ranks = vec![0u32; prefs.len()];
                for (rank, &i) in order.iter().enumerate() {
                    ranks[i] = u32::try_from(rank).unwrap_or(u32::MAX);
                }
                for (i, (id, _)) in prefs.iter().enumerate() {
                    out.push(CompletionAnswer {
                        completion: id.clone(),
                        answer: Answer::Rank(ranks[i]),
                    });
                }
            }
            Criterion::Score { min, max } => {
                for (id, p) in prefs {
                    out.push(CompletionAnswer {
                        completion: id.clone(),
                        answer: Answer::Score(scaled(*p, *min, *max)?),
                    });
                }
            }
            Criterion::MultiScore { options, min, max } => {
                let per_completion = !options.is_empty()
                    && options.len() == ids.len()
                    && options.iter().all(|o| ids.contains(o.as_str()));
                for (id, p) in prefs {
                    let s = scaled(*p, *min, *max)?;
                    let answer = if per_completion {
                        Answer::Score(s)
                    } else {
                        Answer::MultiScore(options.iter().map(|o| (o.clone(), s)).collect())
                    };
                    out.push(CompletionAnswer {
                        completion: id.clone(),
                        answer,
                    });
                }
            }
            Criterion::Text { .. } => {}
        }
    }
    Ok(out)
}

fn scaled(p: f64, min: f64, max: f64) -> Result<Score, String> {
    Score::new(min + p.clamp(0.0, 1.0) * (max - min)).map_err(|e| e.to_string())
}

/// The logistic function, mapping a reward-model logit into `(0, 1)`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests;
