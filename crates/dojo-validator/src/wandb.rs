//! Optional upload of the per-task event records to Weights & Biases (`--wandb.project`).
//!
//! wandb has no Rust client, so the records go through the official `wandb` Python package in a
//! child process (`python3 -c <wandb_sidecar.py>`), one JSON line per record on its standard
//! input. The API key is whatever that package finds itself (`WANDB_API_KEY`, or `wandb login`).
//!
//! Uploading must never slow or stop scoring: records pass through a bounded queue to a task that
//! owns the child's stdin. A full queue drops records, and once the child has exited every record
//! is dropped; both are counted in `dojo_wandb_dropped_total`. The child's exit is logged once.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

const SIDECAR: &str = include_str!("wandb_sidecar.py");

/// Lines of the child's stderr kept for the exit log.
const STDERR_TAIL: usize = 20;

/// How long `import wandb` may take at startup (it is slow on a cold disk, not this slow).
const IMPORT_TIMEOUT: Duration = Duration::from_secs(120);

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// wandb project (`--wandb.project`).
    pub project: String,
    /// wandb entity (team or user); the key's default entity when `None`.
    pub entity: Option<String>,
    /// Run name; wandb picks one when `None`.
    pub run_name: Option<String>,
    /// Python interpreter with the `wandb` package.
    pub python: PathBuf,
    /// Environment added to the child's (tests point `PYTHONPATH` at a fake `wandb` with it).
    pub env: Vec<(OsString, OsString)>,
    /// The run's `config` in wandb (the validator passes netuid, hotkey, mechanism and version).
    pub run_config: serde_json::Value,
    /// Records queued for the child at most; more are dropped.
    pub queue: usize,
}

/// Why the uploader did not start.
#[derive(Debug, thiserror::Error)]
pub enum WandbError {
    /// The interpreter could not be started.
    #[error(
        "--wandb.python {python}: cannot run it ({source}); point --wandb.python at a Python with the wandb package (`pip install wandb`), or drop --wandb.project"
    )]
    Spawn {
        /// Interpreter.
        python: String,
        /// Cause.
        source: std::io::Error,
    },
    /// `import wandb` failed.
    #[error(
        "the wandb Python package is not importable by {python}: {detail}; run `pip install wandb` for that interpreter (or pass --wandb.python), or drop --wandb.project"
    )]
    Missing {
        /// Interpreter.
        python: String,
        /// The last line of Python's error, or what else went wrong.
        detail: String,
    },
}

/// Sends records to the uploader; cheap to clone. Dropping every clone ends the run (the child
/// gets end of input and calls `wandb.finish()`).
#[derive(Debug, Clone)]
pub struct Wandb {
    tx: mpsc::Sender<String>,
}

/// The uploader task, to wait for at shutdown.
#[derive(Debug)]
pub struct Uploader {
    task: JoinHandle<Option<ExitStatus>>,
}

impl Wandb {
    /// Checks that `python -c "import wandb"` works, then starts the uploader.
    ///
    /// Must be called inside a Tokio runtime (the uploader is a task on it).
    pub async fn start(opts: Options) -> Result<(Self, Uploader), WandbError> {
        let python = opts.python.display().to_string();
        let check = command(&opts)
            .args(["-c", "import wandb"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        let out = match tokio::time::timeout(IMPORT_TIMEOUT, check).await {
            Ok(Ok(out)) => out,
            Ok(Err(source)) => return Err(WandbError::Spawn { python, source }),
            Err(_) => {
                return Err(WandbError::Missing {
                    python,
                    detail: format!("`import wandb` still running after {IMPORT_TIMEOUT:?}"),
                });
            }
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let detail = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map_or_else(|| format!("exit {}", out.status), |l| l.trim().to_owned());
            return Err(WandbError::Missing { python, detail });
        }
        let settings = serde_json::json!({
            "project": opts.project,
            "entity": opts.entity,
            "name": opts.run_name,
            "config": opts.run_config,
        });
        let mut child = command(&opts)
            .arg("-c")
            .arg(SIDECAR)
            .arg(settings.to_string())
            .stdin(Stdio::piped())
            // The validator's stdout is for its own lines (a parent reads the metrics address
            // from it); wandb's chatter would be in the way.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| WandbError::Spawn {
                python: python.clone(),
                source,
            })?;
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let stderr = child.stderr.take().map(|s| {
            let tail = tail.clone();
            // Drained all the time: a full stderr pipe would stall the child.
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(s).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::debug!(line = %line, "wandb stderr");
                    let mut t = tail
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            })
        });
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        tracing::info!(project = %opts.project, python = %python, "wandb upload on");
        let task = tokio::spawn(pump(child, rx, tail, stderr));
        Ok((Self { tx }, Uploader { task }))
    }

    /// Queues one scoring pass's records (each gets `block`); never waits.
    pub fn log(&self, events: &[serde_json::Value], block: u64, metrics: &Metrics) {
        for e in events {
            let mut e = e.clone();
            if let Some(o) = e.as_object_mut() {
                o.insert("block".into(), block.into());
            }
            let mut line = e.to_string();
            line.push('\n');
            match self.tx.try_send(line) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics.inc("dojo_wandb_dropped_total", &[("reason", "full")]);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    metrics.inc("dojo_wandb_dropped_total", &[("reason", "closed")]);
                }
            }
        }
    }
}

impl Uploader {
    /// Waits up to `grace` for the child to finish the run (every [`Wandb`] clone must be
    /// dropped first, or it is never told to), then kills it. The child's exit status, if it
    /// exited.
    pub async fn finish(self, grace: Duration) -> Option<ExitStatus> {
        let abort = self.task.abort_handle();
        match tokio::time::timeout(grace, self.task).await {
            Ok(r) => r.ok().flatten(),
            Err(_) => {
                tracing::warn!(
                    ?grace,
                    "wandb uploader still running at shutdown; killed (the run's last records may be missing)"
                );
                // Dropping the task drops the child, which kills it.
                abort.abort();
                None
            }
        }
    }
}

fn command(opts: &Options) -> Command {
    let mut c = Command::new(&opts.python);
    c.envs(opts.env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true);
    c
}

/// Feeds queued records to the child until the queue closes or the child goes.
async fn pump(
    mut child: Child,
    mut rx: mpsc::Receiver<String>,
    tail: Arc<Mutex<VecDeque<String>>>,
    stderr: Option<JoinHandle<()>>,
) -> Option<ExitStatus> {
    let mut stdin = child.stdin.take();
    let early = loop {
        let Some(w) = stdin.as_mut() else { break true };
        tokio::select! {
            line = rx.recv() => match line {
                Some(line) => {
                    if w.write_all(line.as_bytes()).await.is_err() {
                        break true;
                    }
                }
                None => break false,
            },
            _ = child.wait() => break true,
        }
    };
    // Records sent from now on are counted as dropped at once instead of queueing for no one.
    rx.close();
    // End of input: the child finishes the run and exits.
    drop(stdin);
    let status = child.wait().await;
    if let Some(s) = stderr {
        // wandb's own service process may hold the pipe open past the child's exit.
        let _ = tokio::time::timeout(Duration::from_secs(2), s).await;
    }
    let tail = tail
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    // The tail is logged quoted (`?`) so that a traceback stays on the one log line.
    match &status {
        Ok(s) if s.success() && !early => tracing::info!("wandb run finished"),
        Ok(s) => tracing::warn!(
            status = %s,
            stderr = ?tail,
            "wandb uploader exited; records are no longer uploaded (the validator keeps running)"
        ),
        Err(e) => tracing::warn!(
            error = %e,
            stderr = ?tail,
            "wandb uploader lost; records are no longer uploaded (the validator keeps running)"
        ),
    }
    status.ok()
}
