//! Finding and loading the ONNX Runtime shared library, and the one process-wide ORT environment.
//!
//! `ort` is built with `load-dynamic`: nothing is linked at build time and, left alone, ort panics at
//! the first API call when it cannot find the library. Every path here is resolved explicitly and a
//! missing library is a [`LoadError::RuntimeMissing`] that names the command installing it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::LoadError;

/// The ONNX Runtime release this crate is built against (`ort` rc.15, C API 31).
pub const ORT_VERSION: &str = "1.31.1";

/// The command that installs the library into the project cache.
pub const INSTALL_HINT: &str = "run `cargo xtask setup` in a dojo checkout (it installs ONNX Runtime and links \
     ~/.cache/dojo to its cache), or `cargo xtask setup-ort` (add `--gpu` for CUDA) and export the \
     printed ORT_DYLIB_PATH";

/// Where inference runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    /// ONNX Runtime's CPU execution provider.
    #[default]
    Cpu,
    /// The CUDA execution provider on GPU `device_id`. Needs the `cuda` feature and the
    /// `onnxruntime-gpu` library; failing to register is an error, never a silent CPU fallback.
    Cuda {
        /// CUDA device ordinal.
        device_id: i32,
    },
}

/// Resolves the ONNX Runtime library: `explicit`, else `$ORT_DYLIB_PATH`, else the project cache
/// (`$DOJO_CACHE_DIR`, else the user cache `~/.cache/dojo` that `cargo xtask setup` links) where
/// `cargo xtask setup-ort` puts it.
pub fn resolve_dylib(explicit: Option<&Path>, device: Device) -> Result<PathBuf, LoadError> {
    let mut tried = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_path_buf());
    } else {
        if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
            candidates.push(PathBuf::from(p));
        }
        let flavour = match device {
            Device::Cpu => "cpu",
            Device::Cuda { .. } => "gpu",
        };
        for cache in cache_dirs() {
            candidates.push(
                cache
                    .join("onnxruntime")
                    .join(ORT_VERSION)
                    .join(flavour)
                    .join(format!("libonnxruntime.so.{ORT_VERSION}")),
            );
        }
    }
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
        tried.push(c);
    }
    Err(LoadError::RuntimeMissing { tried })
}

/// Project cache candidates, most specific first: `$DOJO_CACHE_DIR`, then the user cache
/// [`user_cache_dir`], which `cargo xtask setup` links to the cache it filled. No path of the
/// source tree is compiled in, so an installed binary behaves the same wherever it was built.
pub(crate) fn cache_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("DOJO_CACHE_DIR").filter(|d| !d.is_empty()) {
        v.push(PathBuf::from(d));
    }
    v.extend(user_cache_dir());
    v
}

/// The per-user cache location: `$XDG_CACHE_HOME/dojo`, else `$HOME/.cache/dojo`.
pub fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::home_dir().map(|h| h.join(".cache")))?;
    Some(base.join("dojo"))
}

/// The `tracing` filter directive that keeps ONNX Runtime's own messages at WARN and above; the
/// binaries add it to their default filter (a `-v` or an explicit `RUST_LOG` replaces it).
pub const QUIET_RUNTIME_LOGS: &str = "ort=warn";

/// The most detailed ONNX Runtime severity the installed subscriber would show.
fn runtime_log_level() -> ort::logging::LogLevel {
    use ort::logging::LogLevel;
    if tracing::enabled!(target: "ort", tracing::Level::TRACE) {
        LogLevel::Verbose
    } else if tracing::enabled!(target: "ort", tracing::Level::INFO) {
        LogLevel::Info
    } else {
        LogLevel::Warning
    }
}

/// ONNX Runtime allows one environment per process and one loaded library; both live here.
static ENVIRONMENT: Mutex<Option<(PathBuf, ort::environment::Environment)>> = Mutex::new(None);

/// The process-wide ORT environment, loading the library at `dylib` on first use.
///
/// A later call naming a different library gets the already-loaded one (ONNX Runtime cannot be
/// unloaded); this is logged.
pub(crate) fn environment(dylib: &Path) -> Result<ort::environment::Environment, LoadError> {
    let mut guard = ENVIRONMENT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((loaded, env)) = guard.as_ref() {
        if loaded != dylib {
            tracing::warn!(loaded = %loaded.display(), requested = %dylib.display(), "ONNX Runtime already loaded; reusing it");
        }
        return Ok(env.clone());
    }
    let builder = ort::init_from(dylib).map_err(|e| LoadError::RuntimeLoad {
        path: dylib.to_path_buf(),
        message: e.to_string(),
    })?;
    let env = builder
        .with_name("dojo-reward")
        .with_telemetry(false)
        .build()
        .map_err(|e| LoadError::RuntimeLoad {
            path: dylib.to_path_buf(),
            message: e.to_string(),
        })?;
    // ort forwards every ONNX Runtime message to `tracing` (target `ort`); asking the runtime for
    // only what the subscriber shows spares it formatting verbose allocator lines nobody reads.
    env.set_log_level(runtime_log_level());
    tracing::info!(path = %dylib.display(), "loaded ONNX Runtime");
    *guard = Some((dylib.to_path_buf(), env.clone()));
    Ok(env)
}
