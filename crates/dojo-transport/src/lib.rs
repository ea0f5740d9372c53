//! Signed gRPC transport between validators (dendrite) and miners (axon).
//!
//! # Brief overview
//!
//! Every request carries the headers of [`headers`]: the caller's hotkey, a per-process uuid, a
//! nanosecond nonce, the axon hotkey it is meant for, the sha3-256 of the encoded request and an
//! sr25519 signature over `nonce.dendrite_hotkey.axon_hotkey.uuid.body_hash` (the message format
//! of bittensor's dendrite, so keys and tooling carry over).
//!
//! * [`axon`]: a tower layer in front of tonic that admits a request only after, in this order:
//!   well-formed headers, a valid signature (a missing one is refused), the axon hotkey being ours,
//!   a fresh nonce, the caller being registered with enough stake (and a validator permit when
//!   required), the per-caller rate limit, the body size limit and body hash, and finally a slot in
//!   the stake-priority gate. Each refusal is its own [`Rejection`] with its own gRPC status.
//! * [`dendrite`]: signs and sends one request to many axons concurrently, with per-call
//!   timeouts, reused connections and bounded concurrency; each target gets a [`CallOutcome`].
//! * [`directory`]: the port through which the axon asks "who is this caller?" and
//!   [`MetagraphCache`], a snapshot-fed implementation refreshed from the chain.
//!
//! [`Rejection`]: reject::Rejection
//! [`CallOutcome`]: dendrite::CallOutcome
//! [`MetagraphCache`]: directory::MetagraphCache

pub mod axon;
pub mod channel;
pub mod dendrite;
pub mod directory;
pub mod fuzzing;
mod gate;
pub mod headers;
pub mod reject;

pub use axon::{AxonConfig, AxonLayer, Caller, RateLimit, serve_miner, serve_miner_with_roles};
pub use channel::AxonChannel;
pub use dendrite::{AxonTarget, CallOutcome, Dendrite, DendriteConfig};
pub use directory::{CallerDirectory, CallerInfo, MetagraphCache};
pub use reject::Rejection;

#[cfg(test)]
mod tests;
