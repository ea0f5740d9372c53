//! Synthetic Dojo tasks whose quality order is known exactly (spec §5).
//!
//! # Brief overview
//!
//! * [`seeds`]: topics × personas × requirement counts (and few-shot examples) from an editable JSON
//!   file; `seeds/default.json` is embedded.
//! * [`instructor`]: self-instruct prompts that turn a seed into a question with its requirements.
//! * [`answer`]: asks for a `CodeAnswer` and merges it into one `index.html`.
//! * [`augment`]: the answer and performance families of §5.3 applied by program to any page.
//! * [`offline`]: the embedded generator; real canvas pages from templates, every augmentation
//!   applied when the page is assembled, deterministic under a seed.
//! * [`generator`]: the [`Generator`] trait, with [`OfflineGenerator`] and [`LlmGenerator`].
//! * [`llm`]: the OpenAI-compatible client (structured outputs, retries, backoff, 429, metrics).
//! * [`obfuscate`]: random completion ids, per-miner order, JS/HTML minification and encoding.
//! * [`dedupe`]: exact, MinHash and optional embedding dedupe against past questions.
//!
//! # Ground truth
//!
//! Rank 0 is the answer to the question as asked; ranks 1, 2 and 3 are each drawn from one family
//! (question, answer or performance) and that family's member of the same rank. A
//! [`SyntheticTask`] can only be built (or deserialised) when its ground-truth ids are exactly its
//! completion ids and each rank matches its completion's augmentation.

pub mod answer;
pub mod augment;
pub mod dedupe;
pub mod generator;
pub mod instructor;
// The client moved to `dojo-llm`; the path `dojo_synthetic::llm` stays for existing callers.
pub use dojo_llm as llm;
pub mod obfuscate;
pub mod offline;
pub mod seeds;
pub mod task;

pub use generator::{GenError, Generator, LlmGenerator};
pub use offline::OfflineGenerator;
pub use seeds::Seeds;
pub use task::{
    Augmentation, CodeFile, Completion, Family, SyntheticTask, TaskError, TaskMeta, Topic,
};

#[cfg(test)]
mod tests;
