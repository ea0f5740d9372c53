//! The Dojo miner service.
//!
//! # Brief overview
//!
//! * [`service`]: request handling in domain types (accept a task, answer a result request,
//!   record feedback, heartbeat) and the decisions behind it ([`service::check_task`],
//!   [`service::result_status`]) as plain functions.
//! * [`grpc`]: the one implementation of the generated tonic `Miner` trait, converting with
//!   `dojo-proto`; requests reach it only through `dojo-transport`'s signed axon layer, which
//!   hands over the verified caller.
//! * [`store`]: SQLite (sqlx, WAL, `synchronous = FULL`): tasks namespaced by the calling
//!   validator's hotkey, worker results, score feedback, worker keys and sessions; expiry.
//! * [`provider`]: who turns tasks into answers, behind one trait: `reward_model` (ONNX, through
//!   `dojo-reward`), `llm_api` (OpenAI-compatible judge, through `dojo-llm`), `human` (the worker
//!   page).
//! * [`web`]: the worker page (axum, server-rendered HTML) and its JSON API.
//! * [`keys`]: subscription and API keys, session tokens; only hashes are stored.
//! * [`run`](mod@run): registration, `serve_axon`, and the loops (axon, metagraph refresh, expiry
//!   sweep, judging, worker page) in one `JoinSet` with one cancellation token.

pub mod grpc;
pub mod keys;
pub mod provider;
pub mod run;
pub mod service;
pub mod store;
pub mod web;

pub use run::{Identity, MinerConfig, MinerError, RunningMiner, run, start};
pub use service::{MinerService, TaskLimits};
pub use store::Store;
