//! Domain types shared by every Dojo crate.
//!
//! # Brief overview
//!
//! * [`Uid`], [`Hotkey`], [`TaskId`], [`CompletionId`]: identities of neurons, tasks and the responses
//!   inside a task. They are newtypes so a hotkey can never be passed where a completion id is expected.
//! * [`Score`]: a finite `f64`. Constructing one from NaN or infinity is an error, so scoring code never
//!   has to guess what a non-finite input meant.
//! * [`Criterion`] and [`Ranking`]: what a task asks a miner for and the shape of a ranking answer.
//! * [`task`]: the messages a validator and a miner exchange (task, acknowledgement, worker results,
//!   score feedback, reward-modelling ranking), free of any wire format.
//! * [`ports`]: traits through which services reach outside systems (today the reward model).
//! * [`chain`]: the `Chain` port (metagraph, hyperparameters, weights, commit-reveal, axons,
//!   registration) with errors named after subtensor's, and the commit-reveal v2 hash.
//!
//! This crate is pure: no I/O, no async runtime, no clock. `serde` support is behind the `serde` feature.

pub mod chain;
mod criteria;
mod hotkey;
mod ids;
pub mod ports;
mod ranking;
mod score;
pub mod task;

pub use criteria::{Criterion, CriterionError};
pub use hotkey::{Hotkey, HotkeyError, SS58_PREFIX_BITTENSOR};
pub use ids::{CompletionId, IdError, MAX_ID_LEN, TaskId, Uid};
pub use ranking::{Ranking, RankingError};
pub use score::{Score, ScoreError};
