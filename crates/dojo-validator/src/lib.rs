//! The Dojo validator service.
//!
//! # Brief overview
//!
//! * [`replay`]: recompute miner scores from an exported round, the logic behind
//!   `dojo-validator score`. Operators and auditors use it to check what a validator paid.

pub mod replay;
