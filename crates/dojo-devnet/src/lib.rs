//! An embedded Bittensor devnet that behaves like subtensor where validators and miners can tell.
//!
//! # Brief overview
//!
//! * [`epoch`]: the Yuma epoch (original and Yuma3 with liquid alpha), sparse, in subtensor's
//!   `substrate-fixed` arithmetic, bit-exact with the chain. A pure function of an [`EpochInput`]
//!   snapshot, also reachable as `dojo-devnet epoch --input FILE`.
//! * [`state`]: chain state and extrinsics (`burned_register`, `serve_axon`, `set_weights` with the
//!   15-step validation order, commit-reveal v2, admin stake/faucet), a block clock and epochs.
//! * [`Devnet`]: the running chain: state behind a lock, a block clock task, crash-safe persistence
//!   (atomic rename of a fsynced snapshot after every change), and the `Chain` port implementation.
//! * [`grpc`]: the `dojo.chain.v1` gRPC server over a [`Devnet`], and [`grpc::RemoteChain`], a
//!   client implementing `Chain` for other processes.

pub mod epoch;
pub mod grpc;
mod node;
mod persist;
pub mod state;

pub use epoch::{EpochError, EpochInput, EpochNeuron, EpochOutput, run_epoch};
pub use node::{Devnet, DevnetConfig};
pub use state::{State, SubnetParams};
