//! Architecture invariant: the pure crates never pull in I/O crates.

use anyhow::{Result, bail};
use xshell::{Shell, cmd};

/// Crates that must stay pure (embeddable by other subnets without an async runtime or network stack).
const PURE: &[&str] = &["dojo-types", "dojo-scoring"];
/// Crates that do I/O or bind native runtimes.
const FORBIDDEN: &[&str] =
    &["tokio", "tonic", "prost", "ort", "subxt", "reqwest", "sqlx", "hyper", "axum", "mio", "tokenizers"];

pub(crate) fn check(sh: &Shell) -> Result<()> {
    let mut bad = Vec::new();
    for krate in PURE {
        // Normal (non-dev, non-build) edges only, across all features.
        let tree = cmd!(sh, "cargo tree --locked -q -p {krate} -e normal --all-features --prefix none").read()?;
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if FORBIDDEN.contains(&name) {
                bad.push(format!("{krate} depends on {name}"));
            }
        }
    }
    bad.sort();
    bad.dedup();
    if !bad.is_empty() {
        bail!("layering violated (pure crates must not depend on I/O crates):\n  {}", bad.join("\n  "));
    }
    eprintln!("xtask: layering ok ({} pure crates checked)", PURE.len());
    Ok(())
}
