//! Integration tests of the miner library: a real in-process devnet, the real signed axon, the
//! real worker page over HTTP, SQLite in a temporary directory.

mod browser;
mod fixtures;
mod miner;
#[cfg(feature = "mturk")]
mod mturk;
mod page;
mod providers;
mod roles;
mod store;
