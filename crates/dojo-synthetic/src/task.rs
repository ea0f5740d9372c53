//! The task a generator produces: a question, its completions and their exact ground-truth ranks.

use std::collections::BTreeSet;
use std::fmt;

use dojo_types::{CompletionId, Ranking, RankingError, TaskId};
use serde::{Deserialize, Serialize};

/// What kind of page a task asks for (dojo-synthetic-api `Topics`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Topic {
    Animation,
    Science,
    Games,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Topic::Animation, Topic::Science, Topic::Games];

    /// The phrase the question prompt uses for this topic.
    pub fn kind_phrase(self) -> &'static str {
        match self {
            Topic::Animation => "interactive visualization",
            Topic::Science => "streamlined, interactive simulation",
            Topic::Games => "fun, streamlined, hyper-casual web game",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Animation => "ANIMATION",
            Topic::Science => "SCIENCE",
            Topic::Games => "GAMES",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a code answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeFile {
    pub filename: String,
    pub content: String,
    #[serde(default)]
    pub language: String,
}

impl CodeFile {
    pub fn html(content: String) -> Self {
        Self {
            filename: "index.html".to_owned(),
            content,
            language: "html".to_owned(),
        }
    }
}

/// The augmentation families of spec §5.3 (dojo-synthetic-gen "UNIFIED"). Each member's `rank()` is
/// its ground-truth rank; lower is better and 0 is the unaltered answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Augmentation {
    /// The answer to the question as asked.
    Original,
    /// Question family: the answer implements the question with one requirement removed.
    RemoveRequirement,
    /// Question family: one requirement is replaced by a feature that was not asked for.
    ChangeRequirement,
    /// Question family: the answer is about a different subject than the one asked for.
    ChangeSubject,
    /// Answer family: colours and font differ from what the question specified.
    Restyle,
    /// Answer family: user interactions are bound to other inputs (and, half the time, restyled).
    ChangeInteraction,
    /// Answer family: a runtime error is thrown in the main loop and on user actions.
    InjectError,
    /// Performance family: every user interaction takes effect one second late.
    Delay,
    /// Performance family: the animation stalls for tens of milliseconds every few frames.
    Jank,
    /// Performance family: random visual glitches are drawn over the scene.
    Glitch,
}

/// Which family of §5.3 an augmentation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Family {
    Question,
    Answer,
    Performance,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::Question, Family::Answer, Family::Performance];

    /// The member of this family whose ground-truth rank is `rank` (1..=3).
    pub fn member(self, rank: u32) -> Option<Augmentation> {
        use Augmentation as A;
        Some(match (self, rank) {
            (Family::Question, 1) => A::RemoveRequirement,
            (Family::Question, 2) => A::ChangeRequirement,
            (Family::Question, 3) => A::ChangeSubject,
            (Family::Answer, 1) => A::Restyle,
            (Family::Answer, 2) => A::ChangeInteraction,
            (Family::Answer, 3) => A::InjectError,
            (Family::Performance, 1) => A::Delay,
            (Family::Performance, 2) => A::Jank,
            (Family::Performance, 3) => A::Glitch,
            _ => return None,
        })
    }
}

impl Augmentation {
    pub fn rank(self) -> u32 {
        use Augmentation as A;
        match self {
            A::Original => 0,
            A::RemoveRequirement | A::Restyle | A::Delay => 1,
            A::ChangeRequirement | A::ChangeInteraction | A::Jank => 2,
            A::ChangeSubject | A::InjectError | A::Glitch => 3,
        }
    }

    pub fn family(self) -> Option<Family> {
        use Augmentation as A;
        match self {
            A::Original => None,
            A::RemoveRequirement | A::ChangeRequirement | A::ChangeSubject => {
                Some(Family::Question)
            }
            A::Restyle | A::ChangeInteraction | A::InjectError => Some(Family::Answer),
            A::Delay | A::Jank | A::Glitch => Some(Family::Performance),
        }
    }

    pub fn as_str(self) -> &'static str {
        use Augmentation as A;
        match self {
            A::Original => "ORIGINAL",
            A::RemoveRequirement => "REMOVE_REQUIREMENT",
            A::ChangeRequirement => "CHANGE_REQUIREMENT",
            A::ChangeSubject => "CHANGE_SUBJECT",
            A::Restyle => "RESTYLE",
            A::ChangeInteraction => "CHANGE_INTERACTION",
            A::InjectError => "INJECT_ERROR",
            A::Delay => "DELAY",
            A::Jank => "JANK",
            A::Glitch => "GLITCH",
        }
    }
}

/// One candidate answer of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completion {
    pub id: CompletionId,
    /// Who produced it: the LLM model name, or `offline/<template>`.
    pub model: String,
    pub files: Vec<CodeFile>,
    pub augmentation: Augmentation,
    /// The question this completion was generated from, when it differs from the task's prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augmented_prompt: Option<String>,
}

impl Completion {
    /// The page a browser opens: `index.html` if present, else the first file.
    pub fn index_html(&self) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.filename == "index.html")
            .or_else(|| self.files.first())
            .map(|f| f.content.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    #[error("task has no completions")]
    NoCompletions,
    #[error("completion {0} has no files")]
    EmptyCompletion(CompletionId),
    #[error("completion id {0} appears twice")]
    DuplicateCompletion(CompletionId),
    #[error("ground truth ids {truth:?} differ from completion ids {completions:?}")]
    IdMismatch {
        truth: Vec<String>,
        completions: Vec<String>,
    },
    #[error("completion {id} is {augmentation:?} but is ranked {rank}")]
    RankMismatch {
        id: CompletionId,
        augmentation: Augmentation,
        rank: u32,
    },
    #[error("invalid ground truth: {0}")]
    Ranking(#[from] RankingError),
    #[error("task prompt is empty")]
    EmptyPrompt,
}

/// A generated task whose ground truth covers exactly its completions.
///
/// The only constructor, [`SyntheticTask::new`], checks that invariant, and deserialising goes
/// through it too, so a task read back from disk or from a peer cannot break it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTask")]
pub struct SyntheticTask {
    id: TaskId,
    prompt: String,
    topic: Topic,
    persona: String,
    requirements: Vec<String>,
    completions: Vec<Completion>,
    ground_truth: Ranking,
    generator: String,
    seed: Option<u64>,
}

#[derive(Deserialize)]
struct RawTask {
    id: TaskId,
    prompt: String,
    topic: Topic,
    persona: String,
    requirements: Vec<String>,
    completions: Vec<Completion>,
    ground_truth: Ranking,
    generator: String,
    seed: Option<u64>,
}

impl TryFrom<RawTask> for SyntheticTask {
    type Error = TaskError;
    fn try_from(r: RawTask) -> Result<Self, TaskError> {
        SyntheticTask::new(
            TaskMeta {
                id: r.id,
                prompt: r.prompt,
                topic: r.topic,
                persona: r.persona,
                requirements: r.requirements,
                generator: r.generator,
                seed: r.seed,
            },
            r.completions,
            r.ground_truth,
        )
    }
}

/// Everything about a task except its completions and ground truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskMeta {
    pub id: TaskId,
    pub prompt: String,
    pub topic: Topic,
    pub persona: String,
    pub requirements: Vec<String>,
    pub generator: String,
    pub seed: Option<u64>,
}

impl SyntheticTask {
    /// Checks that completion ids are unique, non-empty, and exactly the ids of `ground_truth`, and
    /// that each completion's rank is its augmentation's rank.
    pub fn new(
        meta: TaskMeta,
        completions: Vec<Completion>,
        ground_truth: Ranking,
    ) -> Result<Self, TaskError> {
        if meta.prompt.trim().is_empty() {
            return Err(TaskError::EmptyPrompt);
        }
        if completions.is_empty() {
            return Err(TaskError::NoCompletions);
        }
        let mut ids = BTreeSet::new();
        for c in &completions {
            if c.files.is_empty() || c.files.iter().all(|f| f.content.trim().is_empty()) {
                return Err(TaskError::EmptyCompletion(c.id.clone()));
            }
            if !ids.insert(c.id.as_str()) {
                return Err(TaskError::DuplicateCompletion(c.id.clone()));
            }
        }
        let truth: BTreeSet<&str> = ground_truth.iter().map(|(c, _)| c.as_str()).collect();
        if truth != ids {
            return Err(TaskError::IdMismatch {
                truth: truth.iter().map(|s| (*s).to_owned()).collect(),
                completions: ids.iter().map(|s| (*s).to_owned()).collect(),
            });
        }
        for c in &completions {
            let rank = ground_truth.rank(c.id.as_str()).unwrap_or(u32::MAX);
            if rank != c.augmentation.rank() {
                return Err(TaskError::RankMismatch {
                    id: c.id.clone(),
                    augmentation: c.augmentation,
                    rank,
                });
            }
        }
        Ok(Self {
            id: meta.id,
            prompt: meta.prompt,
            topic: meta.topic,
            persona: meta.persona,
            requirements: meta.requirements,
            completions,
            ground_truth,
            generator: meta.generator,
            seed: meta.seed,
        })
    }

    /// Builds the ground truth from each completion's augmentation rank, then checks as [`Self::new`].
    pub fn from_completions(
        meta: TaskMeta,
        completions: Vec<Completion>,
    ) -> Result<Self, TaskError> {
        let truth = Ranking::new(
            completions
                .iter()
                .map(|c| (c.id.clone(), c.augmentation.rank())),
        )?;
        Self::new(meta, completions, truth)
    }

    pub fn id(&self) -> &TaskId {
        &self.id
    }
    pub fn prompt(&self) -> &str {
        &self.prompt
    }
    pub fn topic(&self) -> Topic {
        self.topic
    }
    pub fn persona(&self) -> &str {
        &self.persona
    }
    pub fn requirements(&self) -> &[String] {
        &self.requirements
    }
    pub fn completions(&self) -> &[Completion] {
        &self.completions
    }
    pub fn ground_truth(&self) -> &Ranking {
        &self.ground_truth
    }
    pub fn generator(&self) -> &str {
        &self.generator
    }
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The augmentation type label used in the v1 payload's `metadata.augment_type`.
    pub fn augment_type(&self) -> String {
        let mut fams: Vec<&str> = self
            .completions
            .iter()
            .filter_map(|c| c.augmentation.family())
            .map(|f| match f {
                Family::Question => "CHANGE_QUESTIONS",
                Family::Answer => "CHANGE_ANSWERS",
                Family::Performance => "CHANGE_PERFORMANCE",
            })
            .collect();
        fams.sort_unstable();
        fams.dedup();
        if fams.len() == 1 {
            fams[0].to_owned()
        } else {
            "UNIFIED".to_owned()
        }
    }

    /// Takes the task apart; rebuild with [`Self::new`] so the invariant is checked again.
    pub fn into_parts(self) -> (TaskMeta, Vec<Completion>, Ranking) {
        (
            TaskMeta {
                id: self.id,
                prompt: self.prompt,
                topic: self.topic,
                persona: self.persona,
                requirements: self.requirements,
                generator: self.generator,
                seed: self.seed,
            },
            self.completions,
            self.ground_truth,
        )
    }
}
