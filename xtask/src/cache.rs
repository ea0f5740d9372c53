//! Where the project keeps what it installs: Python venvs, native libraries, built models.

use std::path::PathBuf;

/// The workspace root (the parent of `xtask/`).
///
/// `cargo xtask` (`cargo run`) sets `CARGO_MANIFEST_DIR` at run time; it is read then, not baked in
/// with `env!`, because a target directory kept across fresh clones (CI's) can reuse an xtask binary
/// built in another checkout, which would then test that checkout.
pub(crate) fn project_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The project cache: `$DOJO_CACHE_DIR` or `<repo>/.dojo-cache`. CI points it outside the clone so
/// that installs survive between runs; everything in it can be rebuilt by `cargo xtask setup`.
pub(crate) fn cache_dir() -> PathBuf {
    match std::env::var_os("DOJO_CACHE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => project_root().join(".dojo-cache"),
    }
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR` and config), from `cargo metadata`.
pub(crate) fn target_dir(sh: &xshell::Shell) -> anyhow::Result<PathBuf> {
    let meta = xshell::cmd!(sh, "cargo metadata --format-version 1 --no-deps")
        .quiet()
        .read()?;
    let v: serde_json::Value = serde_json::from_str(&meta)?;
    let dir = v["target_directory"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("cargo metadata has no target_directory"))?;
    Ok(PathBuf::from(dir))
}
