//! Pieces of a subtensor backend: talking to finney, testnet or a local node with subxt's dynamic
//! API (runtime metadata comes from the node, nothing is generated at build time).
//!
//! # Brief overview
//!
//! * [`Network`]: `--subtensor.network finney|test|archive|local|ws://…` resolved to an endpoint,
//!   exactly like the Python SDK.
//! * [`calls`]: dynamic payloads for `set_weights`, `set_mechanism_weights`, `commit_weights`,
//!   `reveal_weights`, `serve_axon` and `burned_register`, with subtensor's argument names; their
//!   call data matches the byte vectors of spec chain-and-wire.md §1.1.
//! * [`errors`]: pool rejections (`InvalidTransaction::Custom(code)`) and dispatch errors mapped to
//!   the typed `ChainError` the services already handle for the devnet.
//! * [`Subtensor`]: a connected client: current block, waiting for the next block with a staleness
//!   timeout, and call-data encoding against the live metadata.
//!
//! Not here yet: no type implements the `dojo_types::chain::Chain` port for subtensor, and nothing
//! signs, validates before submission or submits an extrinsic; the services reach a chain only
//! through the devnet (`dojo-devnet`, in process or over gRPC).
//!
//! This crate is the only one that depends on subxt.

pub mod calls;
mod client;
pub mod errors;
mod network;
mod reads;
pub mod shape;
mod submit;

pub use client::{Options, Subtensor};
pub use network::{Network, NetworkError};

/// `SubtensorModule`'s name in `construct_runtime!` (pallet index 7).
pub const PALLET: &str = "SubtensorModule";
