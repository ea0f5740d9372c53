//! Axon/dendrite over loopback: honest calls, every refusal, floods, and per-target outcomes.

mod fixtures;
mod security;
mod fanout;
