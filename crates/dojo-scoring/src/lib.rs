//! Scoring mechanisms of the Dojo subnet (Bittensor SN52), pure and exact.
//!
//! # Brief overview
//!
//! A validator sends a [`Task`] (a prompt with several completions) to miners and receives each
//! miner's [`Answer`]: a score or a rank per completion. A [`Mechanism`] turns one task's answers
//! into per-miner scores ([`TaskScores`]); [`aggregate`] combines tasks of one trigger;
//! [`MovingAverage`] keeps the running score per uid; [`weights`] turns scores into the u16 weights
//! that subtensor's `set_weights` takes.
//!
//! Mechanisms, by registry name ([`MechanismConfig`], [`NAMES`]):
//!
//! | name | era | idea |
//! |---|---|---|
//! | `rm-consensus` | A | Spearman ρ against the mean, `0.5(ρ+1)`, normalised, × accuracy |
//! | `dojo-v0-consensus` | B | ρ + κ + distance vs consensus order, softmax, ground-truth blend |
//! | `dojo-v1-ground-truth` | C | cosine with synthetic ground truth, cubic reward (the v1 mechanism) |
//! | `hfl` | C′ | text-feedback improvement + ICC score-feedback |
//! | `dojo-v2-votes` | D | PvP / PvV / trap votes and no-vote penalty, summed |
//!
//! The statistics they use live in [`stats`] and [`vector`] and follow the reference libraries the
//! subnet used (scipy, scikit-learn, pingouin, torch) exactly; the crate's tests cross-check them
//! against those libraries to 1e-9.
//!
//! # Example
//!
//! ```
//! use dojo_scoring::{Answer, MechanismConfig, Response, Task};
//! use dojo_types::{CompletionId, Hotkey, Ranking, TaskId};
//!
//! let c = |s: &str| CompletionId::new(s).unwrap();
//! let scores = |v: [f64; 3]| Answer::Scores(["a", "b", "c"].iter().map(|s| c(s)).zip(v).collect());
//! let mut task = Task::new(TaskId::new("t1").unwrap(), vec![
//!     Response { hotkey: Hotkey::new("miner-1").unwrap(), answer: scores([90.0, 50.0, 10.0]) },
//!     Response { hotkey: Hotkey::new("miner-2").unwrap(), answer: scores([10.0, 50.0, 90.0]) },
//! ]);
//! task.ground_truth = Some(Ranking::new([(c("a"), 0), (c("b"), 1), (c("c"), 2)]).unwrap());
//!
//! let mechanism = MechanismConfig::from_name("dojo-v1-ground-truth").unwrap().build().unwrap();
//! let result = mechanism.score_task(&task).unwrap();
//! assert!(result.get("miner-1") > result.get("miner-2"));
//! assert!((result.scores.iter().map(|(_, v)| v).sum::<f64>() - 1.0).abs() < 1e-12);
//! ```
//!
//! # Guarantees
//!
//! * No I/O, no clock, no global state, no RNG (the HFL jitter reproduces numpy's seeded stream).
//! * Bad input never panics: NaN scores, unknown or missing completion ids, duplicate hotkeys, ranks
//!   that are not `0..C`, empty tasks and single miners each give a typed error, a rejected
//!   response, or a documented result.
//! * Task scores of a mechanism are either all zero or sum to 1 (`dojo-v2-votes` excepted: it sums
//!   rewards and penalties).

mod columnar;
mod completion_map;
mod ema;
mod error;
mod mechanism;
mod mechanisms;
mod registry;
pub mod stats;
mod task;
pub mod vector;
pub mod weights;

pub use columnar::{ColumnarRound, HotkeyTable, RoundScores, ScoreMatrix};
pub use completion_map::CompletionMap;
pub use ema::{AbsentMiners, EmaUpdate, MovingAverage};
pub use error::{ResponseError, ScoringError, StatsError, WeightError};
pub use mechanism::{Aggregation, Mechanism, aggregate};
pub use mechanisms::dojo_v0::{DojoV0, DojoV0Params};
pub use mechanisms::ground_truth::{GroundTruth, GroundTruthParams};
pub use mechanisms::hfl::{Hfl, HflParams};
pub use mechanisms::rm_consensus::{ConsensusNormalisation, RmConsensus, RmConsensusParams};
pub use mechanisms::votes::{Votes, VotesParams};
pub use registry::{MechanismConfig, NAMES};
pub use task::{Answer, FeedbackTask, Response, Task, TaskScores, VoteKind, VoteTask};

/// The README's examples, compiled and run as doctests so they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
