//! Scoring replay: recompute miner scores from an exported round (`dojo-validator score`).
//!
//! The format is documented in `docs/scoring-replay.md`. Input errors name the task and the field.

use std::collections::{BTreeMap, BTreeSet};

use dojo_scoring::{Answer, FeedbackTask, MechanismConfig, Response, Task, VoteKind, VoteTask};
use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};
use serde::{Deserialize, Serialize};

/// Why a replay input was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The document is not valid JSON of the expected shape.
    #[error("input is not a valid replay document: {0}")]
    Json(#[from] serde_json::Error),
    /// Unknown mechanism or invalid parameters.
    #[error("mechanism {name:?}: {reason}")]
    Mechanism {
        /// The name given.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A task field is invalid.
    #[error("task {task} (index {index}): field `{field}`: {reason}")]
    Field {
        /// Task id as given (or `?`).
        task: String,
        /// Position in `tasks`.
        index: usize,
        /// The field path.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Scoring refused a whole task (e.g. duplicate hotkeys).
    #[error("task {task}: {source}")]
    Scoring {
        /// Task id.
        task: String,
        /// The scoring error.
        #[source]
        source: dojo_scoring::ScoringError,
    },
}

/// A replay document as read from JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    /// Registry name of the mechanism.
    pub mechanism: String,
    /// Mechanism parameters; defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// The tasks of the round.
    pub tasks: Vec<ReplayTask>,
}

/// One task of a replay document.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayTask {
    /// Task id.
    pub task_id: String,
    /// Ground truth: completion id → rank, 0 = best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<BTreeMap<String, u32>>,
    /// Miner responses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responses: Vec<ReplayResponse>,
    /// Vote task kind (`pvp`, `pvv`, `trap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Generator hotkey → completion id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generators: Option<BTreeMap<String, String>>,
    /// The validator's completion (PvV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator_completion: Option<String>,
    /// The trap generator (trap tasks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_generator: Option<String>,
    /// Voter hotkey → chosen completion id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub votes: Option<BTreeMap<String, String>>,
    /// Hotkeys assigned to vote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<String>>,
    /// HFL: parent score of the selected completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_score: Option<f64>,
    /// HFL: completion id → author hotkey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authors: Option<BTreeMap<String, String>>,
    /// HFL: the validator's completion order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_order: Option<Vec<String>>,
}

/// One miner's answer: exactly one of `scores` and `ranks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayResponse {
    /// Miner hotkey.
    pub hotkey: String,
    /// Completion id → score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<BTreeMap<String, f64>>,
    /// Completion id → rank (0 = best).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranks: Option<BTreeMap<String, u32>>,
}

/// Replay output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayOutput {
    /// Mechanism used.
    pub mechanism: String,
    /// Per-task scores.
    pub tasks: Vec<TaskOutput>,
    /// Per-miner score of the round: mean over tasks (sum for `dojo-v2-votes`).
    pub miner_scores: BTreeMap<String, f64>,
}

/// Scores of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutput {
    /// Task id.
    pub task_id: String,
    /// Hotkey → task score, in the order the responses were given.
    #[serde(with = "score_map")]
    pub scores: Vec<(Hotkey, f64)>,
    /// Responses that were left out, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<Rejected>,
    /// Set when the task could not be scored under the chosen semantics (it is left out of
    /// `miner_scores`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A JSON object written from (and read into) a list of unique hotkeys with scores, so that
/// scoring output needs no re-keying.
mod score_map {
    use std::collections::BTreeMap;

    use dojo_types::Hotkey;
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[(Hotkey, f64)], s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, x) in v {
            m.serialize_entry(k.as_str(), x)?;
        }
        m.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(Hotkey, f64)>, D::Error> {
        Ok(BTreeMap::<Hotkey, f64>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

/// A response left out of scoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// Whose response.
    pub hotkey: String,
    /// Why.
    pub reason: String,
}

/// Parses a replay document from JSON text.
pub fn parse(json: &str) -> Result<ReplayInput, ReplayError> {
    Ok(serde_json::from_str(json)?)
}

/// Shares one allocation per distinct hotkey and completion id across the whole round, so the
/// scoring hot paths compare ids by pointer first.
#[derive(Default)]
struct Interner {
    hotkeys: std::collections::HashMap<String, Hotkey>,
    cids: std::collections::HashMap<String, CompletionId>,
}

struct Ctx<'a> {
    task: &'a str,
    index: usize,
    ids: std::cell::RefCell<&'a mut Interner>,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, reason: impl std::fmt::Display) -> ReplayError {
        ReplayError::Field {
            task: self.task.to_owned(),
            index: self.index,
            field: field.into(),
            reason: reason.to_string(),
        }
    }
    fn hotkey(&self, field: impl Into<String>, s: &str) -> Result<Hotkey, ReplayError> {
        let mut ids = self.ids.borrow_mut();
        if let Some(h) = ids.hotkeys.get(s) {
            return Ok(h.clone());
        }
        let h = Hotkey::new(s).map_err(|e| self.err(field, e))?;
        ids.hotkeys.insert(s.to_owned(), h.clone());
        Ok(h)
    }
    fn cid(&self, field: impl Into<String>, s: &str) -> Result<CompletionId, ReplayError> {
        let mut ids = self.ids.borrow_mut();
        if let Some(c) = ids.cids.get(s) {
            return Ok(c.clone());
        }
        let c = CompletionId::new(s).map_err(|e| self.err(field, e))?;
        ids.cids.insert(s.to_owned(), c.clone());
        Ok(c)
    }
}

fn to_task(t: &ReplayTask, index: usize, ids: &mut Interner) -> Result<Task, ReplayError> {
    let ctx = Ctx {
        task: if t.task_id.is_empty() {
            "?"
        } else {
            &t.task_id
        },
        index,
        ids: std::cell::RefCell::new(ids),
    };
    let id = TaskId::new(&t.task_id).map_err(|e| ctx.err("task_id", e))?;
    let mut responses = Vec::with_capacity(t.responses.len());
    for (i, r) in t.responses.iter().enumerate() {
        let hotkey = ctx.hotkey(format!("responses[{i}].hotkey"), &r.hotkey)?;
        let answer = match (&r.scores, &r.ranks) {
            (Some(s), None) => Answer::Scores(
                s.iter()
                    .map(|(k, v)| Ok((ctx.cid(format!("responses[{i}].scores"), k)?, *v)))
                    .collect::<Result<_, ReplayError>>()?,
            ),
            (None, Some(s)) => Answer::Ranks(
                s.iter()
                    .map(|(k, v)| Ok((ctx.cid(format!("responses[{i}].ranks"), k)?, *v)))
                    .collect::<Result<_, ReplayError>>()?,
            ),
            _ => {
                return Err(ctx.err(
                    format!("responses[{i}]"),
                    "needs exactly one of `scores` and `ranks`",
                ));
            }
        };
        responses.push(Response { hotkey, answer });
    }
    let mut task = Task::new(id, responses);
    if let Some(gt) = &t.ground_truth {
        let pairs = gt
            .iter()
            .map(|(k, v)| Ok((ctx.cid("ground_truth", k)?, *v)))
            .collect::<Result<Vec<_>, ReplayError>>()?;
        task.ground_truth = Some(Ranking::new(pairs).map_err(|e| ctx.err("ground_truth", e))?);
    }
    if let Some(kind) = &t.kind {
        let kind = match kind.as_str() {
            "pvp" => VoteKind::Pvp,
            "pvv" => VoteKind::Pvv,
            "trap" => VoteKind::Trap,
            other => return Err(ctx.err("kind", format!("{other:?} is not one of pvp, pvv, trap"))),
        };
        let map = |field: &str,
                   m: &Option<BTreeMap<String, String>>|
         -> Result<BTreeMap<Hotkey, CompletionId>, ReplayError> {
            m.iter()
                .flatten()
                .map(|(h, c)| {
                    Ok((
                        ctx.hotkey(format!("{field}.{h}"), h)?,
                        ctx.cid(format!("{field}.{h}"), c)?,
                    ))
                })
                .collect()
        };
        task.votes = Some(VoteTask {
            kind,
            generators: map("generators", &t.generators)?,
            validator_completion: t
                .validator_completion
                .as_deref()
                .map(|c| ctx.cid("validator_completion", c))
                .transpose()?,
            negative_generator: t
                .negative_generator
                .as_deref()
                .map(|h| ctx.hotkey("negative_generator", h))
                .transpose()?,
            votes: map("votes", &t.votes)?,
            voters: t
                .voters
                .iter()
                .flatten()
                .map(|h| ctx.hotkey("voters", h))
                .collect::<Result<_, _>>()?,
        });
    } else if t.generators.is_some() || t.votes.is_some() {
        return Err(ctx.err("kind", "vote tasks need `kind` (pvp, pvv or trap)"));
    }
    if t.previous_score.is_some() || t.authors.is_some() || t.completion_order.is_some() {
        let previous_score = t
            .previous_score
            .ok_or_else(|| ctx.err("previous_score", "required for feedback tasks"))?;
        let order = t
            .completion_order
            .as_ref()
            .ok_or_else(|| ctx.err("completion_order", "required for feedback tasks"))?;
        let completion_order: Vec<CompletionId> = order
            .iter()
            .map(|c| ctx.cid("completion_order", c))
            .collect::<Result<_, _>>()?;
        if completion_order.iter().collect::<BTreeSet<_>>().len() != completion_order.len() {
            return Err(ctx.err("completion_order", "completion ids repeat"));
        }
        let authors = t
            .authors
            .iter()
            .flatten()
            .map(|(c, h)| {
                Ok((
                    ctx.cid("authors", c)?,
                    ctx.hotkey(format!("authors.{c}"), h)?,
                ))
            })
            .collect::<Result<_, ReplayError>>()?;
        task.feedback = Some(FeedbackTask {
            previous_score,
            authors,
            completion_order,
        });
    }
    Ok(task)
}

/// Builds the mechanism a document names.
pub fn mechanism(input: &ReplayInput) -> Result<Box<dyn dojo_scoring::Mechanism>, ReplayError> {
    let bad = |reason: String| ReplayError::Mechanism {
        name: input.mechanism.clone(),
        reason,
    };
    if !dojo_scoring::NAMES.contains(&input.mechanism.as_str()) {
        return Err(bad(format!(
            "unknown; known mechanisms: {}",
            dojo_scoring::NAMES.join(", ")
        )));
    }
    let doc = serde_json::json!({
        "mechanism": input.mechanism,
        "params": input.params.clone().unwrap_or_else(|| serde_json::json!({})),
    });
    let config: MechanismConfig =
        serde_json::from_value(doc).map_err(|e| bad(format!("params: {e}")))?;
    config.build().map_err(|e| bad(e.to_string()))
}

/// Converts every task, failing on the first malformed one.
pub fn tasks(input: &ReplayInput) -> Result<Vec<Task>, ReplayError> {
    let mut ids = Interner::default();
    input
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| to_task(t, i, &mut ids))
        .collect()
}

/// Recomputes the scores of a round.
pub fn run(input: &ReplayInput) -> Result<ReplayOutput, ReplayError> {
    let mech = mechanism(input)?;
    let tasks = tasks(input)?;
    score_tasks(mech.as_ref(), &tasks)
}

/// Scores already-converted tasks (the part the benchmark times).
pub fn score_tasks(
    mech: &dyn dojo_scoring::Mechanism,
    tasks: &[Task],
) -> Result<ReplayOutput, ReplayError> {
    // Degenerate tasks are reported but left out of the aggregate, as the original skipped them.
    // An empty TaskScores stands in for a degenerate task so it contributes nothing to the aggregate.
    let mut scored = Vec::with_capacity(tasks.len());
    let mut errors = Vec::with_capacity(tasks.len());
    for task in tasks {
        match mech.score_task(task) {
            Ok(s) => {
                scored.push(s);
                errors.push(None);
            }
            Err(e @ dojo_scoring::ScoringError::Degenerate { .. }) => {
                scored.push(dojo_scoring::TaskScores::default());
                errors.push(Some(e.to_string()));
            }
            Err(source) => {
                return Err(ReplayError::Scoring {
                    task: task.id.to_string(),
                    source,
                });
            }
        }
    }
    let miner_scores = mech
        .aggregate(&scored)
        .into_iter()
        .map(|(h, v)| (h.to_string(), v))
        .collect();
    let outputs = tasks
        .iter()
        .zip(scored)
        .zip(errors)
        .map(|((task, s), error)| TaskOutput {
            task_id: task.id.to_string(),
            rejected: s
                .rejected
                .iter()
                .map(|(h, e)| Rejected {
                    hotkey: h.to_string(),
                    reason: e.to_string(),
                })
                .collect(),
            scores: s.scores,
            error,
        })
        .collect();
    Ok(ReplayOutput {
        mechanism: mech.name().to_owned(),
        tasks: outputs,
        miner_scores,
    })
}
