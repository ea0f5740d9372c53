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

/// Points the user cache (`$XDG_CACHE_HOME/dojo`, else `~/.cache/dojo`) at the project cache, so
/// that an installed binary (`cargo install --path bins/...`) run anywhere finds what `setup`
/// installed without any variable: binaries look there after `$DOJO_CACHE_DIR`. A real directory
/// there is left alone (it is someone's cache); a link is replaced (the latest setup wins).
pub(crate) fn link_user_cache() -> anyhow::Result<Option<PathBuf>> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match std::env::home_dir() {
            Some(h) => h.join(".cache"),
            None => return Ok(None),
        },
    };
    let link = base.join("dojo");
    let target = std::fs::canonicalize(cache_dir())?;
    match std::fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            if std::fs::read_link(&link)? == target {
                return Ok(Some(link));
            }
            std::fs::remove_file(&link)?;
        }
        Ok(_) => {
            if std::fs::canonicalize(&link)? != target {
                eprintln!(
                    "note: {} is a directory, not linked to {}; installed binaries look there \
                     unless DOJO_CACHE_DIR is set",
                    link.display(),
                    target.display()
                );
            }
            return Ok(Some(link));
        }
        Err(_) => std::fs::create_dir_all(&base)?,
    }
    std::os::unix::fs::symlink(&target, &link)?;
    Ok(Some(link))
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
