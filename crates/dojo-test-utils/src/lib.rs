//! Test support shared by the workspace's integration tests; used only as a dev-dependency.
//!
//! # Brief overview
//!
//! Some tests need things `cargo xtask setup` installs (Python references, the shipped reward
//! model, a llama.cpp server, Chromium) and find them through environment variables the setup
//! exports. [`require_env`] and [`missing`] hold the one rule for when they are absent: locally the
//! test is skipped with a message; under `DOJO_CI=1` it fails, so CI never passes by skipping.

/// Whether this run is CI (`DOJO_CI` set to anything but empty or `0`).
pub fn in_ci() -> bool {
    std::env::var("DOJO_CI").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Reports a missing prerequisite: panics under CI, otherwise prints why the test is skipped and
/// returns `None`.
#[track_caller]
pub fn missing<T>(what: &str) -> Option<T> {
    assert!(
        !in_ci(),
        "{what} under DOJO_CI=1: run `cargo xtask setup` (cargo xtask ci does)"
    );
    eprintln!("skipping: {what} (run `cargo xtask setup` to install the prerequisite)");
    None
}

/// The value of `name`, which `cargo xtask setup` exports; see [`missing`] for when it is absent.
#[track_caller]
pub fn require_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => missing(&format!("{name} is not set")),
    }
}

pub mod llama;
