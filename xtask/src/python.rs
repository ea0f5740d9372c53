//! Python virtual environments for reference implementations and interop tests.
//!
//! Each venv is built from a pinned requirements file from the Python registry and is rebuilt when that
//! file changes (its hash is stored next to the venv).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

use crate::cache::{cache_dir, project_root};

/// Ensures the venv `name` exists with the packages of `requirements` (relative to the repo root),
/// returning the path of its `python` executable.
pub(crate) fn ensure_venv(sh: &Shell, name: &str, requirements: &str) -> Result<PathBuf> {
    let req_path = project_root().join(requirements);
    let req = std::fs::read_to_string(&req_path).with_context(|| format!("reading {}", req_path.display()))?;
    let dir = cache_dir().join("venv").join(name);
    let python = dir.join("bin/python");
    let stamp = dir.join(".requirements");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(req.as_str()) {
        return Ok(python);
    }
    eprintln!("xtask: creating Python venv `{name}` from {requirements} (first run only)");
    let host = host_python();
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))?;
    cmd!(sh, "{host} -m venv --clear {dir}").run().context("creating venv")?;
    cmd!(sh, "{python} -m pip install --quiet --disable-pip-version-check -r {req_path}")
        .run()
        .with_context(|| format!("installing {requirements} into venv {name}"))?;
    std::fs::write(&stamp, req)?;
    Ok(python)
}

fn host_python() -> String {
    std::env::var("DOJO_HOST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
