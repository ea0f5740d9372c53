//! Tests of the simulated worker populations: answers (through `Simulator::decide`, with a real
//! ground-truth file and share directory), property tests of every answer's shape, the
//! ground-truth follower, and the whole path against a real in-process miner's worker page.

mod answers;
mod fake;
mod faults;
mod fixtures;
mod miner;
mod props;
mod truth;
