//! Integration tests of dojo-synthetic: LLM client against a loopback mock server, the LLM generator
//! against a real llama.cpp server, offline pages in headless Chromium, and the performance
//! augmentations measured in Chromium over WebDriver.

mod browser;
mod llm_mock;
mod llm_real;
mod perf;

/// Reads an env var that `cargo xtask setup` exports (skip locally, fail under `DOJO_CI=1`).
pub(crate) fn require_env(name: &str) -> Option<String> {
    dojo_test_utils::require_env(name)
}
