//! Simulated human workers for a miner's worker page (`dojo-miner`, human provider), for devnet
//! experiments (`cargo xtask devnet`): populations of honest, lazy, random, reverse, copycat and
//! sybil workers that join the page with a key and submit through its JSON API, the same path a
//! worker's browser takes.
//!
//! * [`api`]: the page's JSON API as a client.
//! * [`truth`]: the synthetic API's ground-truth log, followed as it grows, matched by the SHA-256
//!   of completion content (validators rename and reorder completions per miner).
//! * [`population`]: each population's answer, a pure function of the task, the ground truth and
//!   a seeded RNG, in a canonical order independent of the miner's ids.
//! * [`share`]: the directory honest and sybil workers publish answers to and copycats copy from.
//! * [`sim`]: the polling loop with backoff, re-joining after a miner restart, and counters.
//!
//! `docs/worksim.md` describes the populations and the binary's flags.

pub mod api;
pub mod population;
pub mod share;
pub mod sim;
pub mod truth;

pub use population::Population;
pub use sim::{Config, ConfigError, CounterSnapshot, Simulator};
