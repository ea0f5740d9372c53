//! Integration tests of dojo-synthetic: LLM client against a loopback mock server, the LLM generator
//! against a real llama.cpp server, and offline pages in headless Chromium.

mod browser;
mod llm_mock;
mod llm_real;

/// Reads an env var that `cargo xtask setup` exports. Absent: the test is skipped with a message,
/// unless `DOJO_CI=1`, where a missing prerequisite is a failure.
pub(crate) fn require_env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("DOJO_CI").as_deref() == Ok("1") {
                panic!(
                    "{name} is not set but DOJO_CI=1: run the test through `cargo xtask ci` (setup installs it)"
                );
            }
            eprintln!(
                "skipping: {name} is not set (run `cargo xtask setup` to install the prerequisite)"
            );
            None
        }
    }
}
