//! The subnet's scoring mechanisms, one module each.

pub(crate) mod dojo_v0;
pub(crate) mod ground_truth;
pub(crate) mod hfl;
mod mt19937;
pub(crate) mod rm_consensus;
pub(crate) mod votes;
