//! The devnet's child processes: started with their output in per-process log files, each tied to
//! xtask's life (Linux parent-death signal), read for the one "ready" line that tells the address
//! they bound, and stopped with SIGTERM, then SIGKILL.

// The three libc calls below (signal, kill, prctl in pre_exec) have no safe std equivalent; without
// the parent-death signal a SIGKILLed xtask would leave two dozen servers running.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Set by the SIGINT/SIGTERM handler; every wait loop checks it.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the handler that turns Ctrl-C into an orderly shutdown of every child.
pub(crate) fn install_signal_handlers() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails with a clear message once the user pressed Ctrl-C.
pub(crate) fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted: stopping every devnet process");
    }
    Ok(())
}

/// xtask is synchronous (no tokio runtime to block), so a plain thread sleep is the right wait.
#[allow(clippy::disallowed_methods)]
pub(crate) fn nap(d: Duration) {
    std::thread::sleep(d);
}

/// Sleeps in small steps so Ctrl-C is seen promptly.
pub(crate) fn sleep(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_interrupted()?;
        nap(Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())));
    }
    Ok(())
}

/// How to (re)start one process.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// Short name for logs and the table (`miner-3`).
    pub(crate) name: String,
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    /// Text that starts the stdout line carrying the bound address; `None`: no ready line.
    pub(crate) ready_prefix: Option<String>,
}

/// A running child.
pub(crate) struct Proc {
    pub(crate) spec: Spec,
    child: Child,
    lines: Receiver<String>,
    log: PathBuf,
    /// The rest of the ready line (the bound address), once seen.
    pub(crate) ready: Option<String>,
    /// Stdout lines printed before the ready line (other bound addresses).
    pub(crate) early: Vec<String>,
    /// How many times it was started.
    pub(crate) starts: u32,
}

impl Proc {
    /// Starts `spec`, logging stdout and stderr to `<log_dir>/<name>.log`, and waits up to `timeout`
    /// for its ready line.
    pub(crate) fn start(spec: Spec, log_dir: &Path, timeout: Duration) -> Result<Self> {
        let log = log_dir.join(format!("{}.log", spec.name));
        let (child, lines) = spawn(&spec, &log)?;
        let mut p = Self {
            spec,
            child,
            lines,
            log,
            ready: None,
            early: Vec::new(),
            starts: 1,
        };
        p.await_ready(timeout)?;
        Ok(p)
    }

    fn await_ready(&mut self, timeout: Duration) -> Result<()> {
        let Some(prefix) = self.spec.ready_prefix.clone() else {
            return Ok(());
        };
        let deadline = Instant::now() + timeout;
        loop {
            check_interrupted()?;
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready; last lines of {}:\n{}",
                    self.spec.name,
                    self.log.display(),
                    tail(&self.log, 15)
                );
            }
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(rest) = line.trim().strip_prefix(prefix.as_str()) {
                        self.ready = Some(rest.trim().to_owned());
                        return Ok(());
                    }
                    self.early.push(line);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    nap(Duration::from_millis(100));
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} printed no `{prefix}` line within {timeout:?}; last lines of {}:\n{}",
                    self.spec.name,
                    self.log.display(),
                    tail(&self.log, 15)
                );
            }
        }
    }

    /// Whether it is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL now (a crash, for `--chaos`).
    pub(crate) fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the same command again (same flags, same data directories).
    pub(crate) fn restart(&mut self, log_dir: &Path, timeout: Duration) -> Result<()> {
        let (child, lines) = spawn(&self.spec, &log_dir.join(format!("{}.log", self.spec.name)))?;
        self.child = child;
        self.lines = lines;
        self.starts += 1;
        self.early.clear();
        self.await_ready(timeout)
    }

    /// Asks it to shut down (SIGTERM) without waiting.
    pub(crate) fn terminate(&mut self) {
        if self.alive() {
            // SAFETY: plain kill(2) on our own, not yet reaped, child's pid.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub(crate) fn stop(&mut self, grace: Duration) {
        if !self.alive() {
            return;
        }
        self.terminate();
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if !self.alive() {
                return;
            }
            nap(Duration::from_millis(50));
        }
        self.kill_hard();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

fn spawn(spec: &Spec, log: &Path) -> Result<(Child, Receiver<String>)> {
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    writeln!(
        file,
        "---- start: {} {}",
        spec.program.display(),
        spec.args.join(" ")
    )?;
    let stderr = file.try_clone()?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
    // The child gets SIGTERM when xtask dies for any reason (even SIGKILL), so no orphan survives.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // xtask may have died between fork and prctl.
            if libc::getppid() == 1 {
                return Err(std::io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", spec.program.display()))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = writeln!(file, "{line}");
            if tx.send(line).is_err() {
                // Nobody waits for lines any more; keep logging.
            }
        }
    });
    Ok((child, rx))
}

/// The last `n` lines of a log file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs a command to completion and returns its stdout; stderr goes to the log on failure.
pub(crate) fn output(program: &Path, args: &[String], env: &[(String, String)]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}
