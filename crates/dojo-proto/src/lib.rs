//! Wire types of the Dojo subnet and their conversions to domain types.
//!
//! # Brief overview
//!
//! * [`v1`]: code generated from `proto/dojo/v1/*.proto` (prost messages, the tonic `Miner` client
//!   in [`v1::miner_client`] and server in [`v1::miner_server`], and the Dojo v2 roles' `MinerRoles`
//!   service in [`v1::miner_roles_client`] / [`v1::miner_roles_server`]).
//! * [`convert`]: `From`/`TryFrom` between [`v1`] messages and `dojo_types` (task, acknowledgement,
//!   worker results, score feedback, ranking, the v2 generation and vote
//!   assignments and their results). Decoding never panics: every malformed or unknown
//!   value becomes a [`WireError`].
//!
//! This is the only crate with protobuf codegen. Services use `dojo_types`; only transport code
//! touches the generated structs.

pub mod convert;

/// Generated code for protobuf package `dojo.v1`.
#[allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic
)]
pub mod v1 {
    tonic::include_proto!("dojo.v1");
}

pub use convert::WireError;
