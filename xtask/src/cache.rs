//! Where the project keeps what it installs: Python venvs, native libraries, built models.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

/// The project cache: `$DOJO_CACHE_DIR` or `<repo>/.dojo-cache`. CI points it outside the clone so
/// that installs survive between runs; everything in it can be rebuilt by `cargo xtask setup`.
pub(crate) fn cache_dir() -> PathBuf {
    match std::env::var_os("DOJO_CACHE_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => project_root().join(".dojo-cache"),
    }
}
