//! Axon/dendrite over loopback: honest calls, every refusal, floods, and per-target outcomes.

mod connections;
mod fanout;
mod fixtures;
mod security;
