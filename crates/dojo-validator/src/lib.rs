//! The Dojo validator service.
//!
//! # Brief overview
//!
//! * [`replay`]: recompute miner scores from an exported round, the logic behind
//!   `dojo-validator score`. Operators and auditors use it to check what a validator paid.
//! * [`view`]: per-miner obfuscation of completion ids and order, and the mapping back.
//! * [`bridge`]: a miner's worker results → one scoring answer, with typed rejections.
//! * [`duel`]: Dojo v2 round planning (PvP, PvV, trap pairings) and the bridge to v2 vote scoring,
//!   driven by the service's v2 round under `dojo-v2-votes`.
//! * [`probe`]: the reward-modelling era's accuracy probes (held-out preference pairs).
//! * [`scores`]: the moving average kept by uid and hotkey.
//! * [`schedule`]: when and how weights go on chain (rate limit, version key, commit-reveal v2).
//! * [`service`]: `dojo-validator run`'s loops over any [`dojo_types::chain::Chain`].
//! * [`metrics`]: Prometheus `/metrics` and `/healthz`.
//! * [`store`]: SQLite/PostgreSQL persistence, one transaction per state change.
//! * [`wandb`]: optional upload of the per-task event records to Weights & Biases.
//! * [`export`]: the collected data as a Hugging Face preference dataset (JSONL or Parquet).

pub mod bridge;
pub mod duel;
pub mod export;
pub mod metrics;
pub mod probe;
pub mod replay;
pub mod schedule;
pub mod scores;
pub mod service;
pub mod store;
pub mod view;
pub mod wandb;
