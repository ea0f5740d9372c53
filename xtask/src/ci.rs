//! `cargo xtask ci`: if it passes locally, CI is green.

use std::time::Instant;

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

use crate::cache::cache_dir;

/// Installs everything the tests need and returns the environment the test run must see.
///
/// Each area adds its own step; steps are idempotent and cached under [`cache_dir`].
pub(crate) fn setup_env(sh: &Shell) -> Result<Vec<(String, String)>> {
    let mut env = vec![(
        "DOJO_CACHE_DIR".to_owned(),
        cache_dir().display().to_string(),
    )];
    let scoring = crate::python::ensure_venv(
        sh,
        "scoring-ref",
        "crates/dojo-scoring/tests/python/requirements.txt",
    )?;
    env.push((
        "DOJO_SCORING_PYTHON".to_owned(),
        scoring.display().to_string(),
    ));
    let wallet = crate::python::ensure_venv(
        sh,
        "wallet-interop",
        "crates/dojo-identity/tests/python/requirements.txt",
    )?;
    env.push((
        "DOJO_WALLET_PYTHON".to_owned(),
        wallet.display().to_string(),
    ));
    let dataset = crate::python::ensure_venv(
        sh,
        "dataset",
        "crates/dojo-validator/tests/python/requirements.txt",
    )?;
    env.push((
        "DOJO_DATASET_PYTHON".to_owned(),
        dataset.display().to_string(),
    ));
    let drand = crate::python::ensure_venv(
        sh,
        "drand-interop",
        "crates/dojo-chain/tests/python/requirements.txt",
    )?;
    env.push(("DOJO_DRAND_PYTHON".to_owned(), drand.display().to_string()));
    env.extend(crate::reward::setup_env(sh)?);
    env.extend(crate::synthetic::setup_env(sh)?);
    Ok(env)
}

pub(crate) fn setup(sh: &Shell) -> Result<()> {
    let env = setup_env(sh)?;
    if let Some(link) = crate::cache::link_user_cache()? {
        eprintln!(
            "user cache {} -> {} (installed binaries find ONNX Runtime and the shipped model there)",
            link.display(),
            cache_dir().display()
        );
    }
    for (k, v) in env {
        println!("{k}={v}");
    }
    Ok(())
}

fn step(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    eprintln!("\n==> {name}");
    let t = Instant::now();
    let r = f().with_context(|| format!("ci step `{name}` failed"));
    eprintln!("<== {name} ({:.1}s)", t.elapsed().as_secs_f64());
    r
}

pub(crate) fn run(sh: &Shell, args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--no-lint");
    let total = Instant::now();
    if !quick {
        step("cargo fmt --check", || {
            Ok(cmd!(sh, "cargo fmt --all --check").run()?)
        })?;
        step("cargo clippy", || {
            Ok(cmd!(
                sh,
                "cargo clippy --locked --workspace --all-targets -- -D warnings"
            )
            .run()?)
        })?;
        step("layering", || crate::layering::check(sh))?;
        step("cargo deny", || deny(sh))?;
    }
    let mut env = Vec::new();
    step("setup (test prerequisites)", || {
        env = setup_env(sh).context("installing test prerequisites")?;
        Ok(())
    })?;
    step("cargo test", || {
        let mut c = cmd!(sh, "cargo test --locked --workspace --no-fail-fast").env("DOJO_CI", "1");
        for (k, v) in &env {
            c = c.env(k, v);
        }
        Ok(c.run()?)
    })?;
    step("devnet end to end (real processes)", || {
        crate::devnet::smoke(sh)
    })?;
    eprintln!("\nci: all green in {:.0}s", total.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo deny` is checked for bans, licenses and sources. Advisories need the advisory database from
/// GitHub, which CI machines cannot reach, so they are left to the scheduled job of a networked host.
///
/// The check covers the graph of every target platform, so `cargo metadata` (which cargo-deny runs
/// offline) needs the sources of crates a Linux build never downloads (`windows-sys`, ...). They are
/// fetched first from the registry; on a warm machine this is a no-op.
fn deny(sh: &Shell) -> Result<()> {
    cmd!(sh, "cargo fetch --locked")
        .run()
        .context("fetching every platform's crates for cargo-deny's offline metadata")?;
    let root = cache_dir().join("tools");
    let bin = root.join("bin/cargo-deny");
    let have_global = cmd!(sh, "cargo deny --version")
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()
        .is_ok();
    if !have_global && !bin.exists() {
        eprintln!(
            "xtask: installing cargo-deny into {} (first run only)",
            root.display()
        );
        cmd!(
            sh,
            "cargo install --locked --quiet cargo-deny@0.20.2 --root {root}"
        )
        .run()?;
    }
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd!(sh, "cargo deny --offline check bans licenses sources")
        .env("PATH", path)
        .run()?;
    Ok(())
}
