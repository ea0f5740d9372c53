//! Fan-out benchmark: one validator sends one signed task to N miner axons on loopback.
//!
//! `cargo xtask bench-fanout --miners 256 [--rounds 20] [--json]` runs this in release mode. Each
//! axon is a full `serve_miner` stack (signature, nonce, blacklist, priority gate) on its own port
//! whose metagraph cache holds the validator's hotkey, so every call is signed by the dendrite and
//! verified by the axon; only its per-caller rate limit is raised, out of the measured rounds' way.
//!
//! By default the axons run outside the validator, as in a deployment: this binary re-executes
//! itself as `ceil(N / --per-process)` miner processes (32 axons each unless told), each serving
//! its axons on one current-thread runtime and printing their addresses and hotkeys; the
//! validator (this process) waits until all are up, measures, and kills them. `--in-process`
//! serves every axon as a task of the validator's own runtime instead. `--pin` (Linux) keeps the
//! validator on the first CPU and the miner processes on the others, so the two halves do not take
//! each other's core. After one warm-up round (connections opened), every round broadcasts one
//! task to all miners; the figures are per-call round trips over all rounds, per-round wall time,
//! and the CPU time the validator and the miners spent in the measured rounds.

#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dojo_identity::Keypair;
use dojo_proto::v1::{self, miner_server::Miner};
use dojo_transport::{
    AxonConfig, AxonLayer, AxonTarget, CallerInfo, Dendrite, DendriteConfig, MetagraphCache,
    RateLimit, serve_miner,
};
use dojo_types::{Hotkey, Uid};
use tonic::{Request, Response, Status};

type BoxError = Box<dyn std::error::Error>;

/// A loaded 2-core machine can take tens of seconds to start a few hundred axons.
const STARTUP_DEADLINE: Duration = Duration::from_secs(180);
/// The validator waits for all its miners, so the target is on the round.
const TARGET_ROUND_P99_MS: f64 = 25.0;

#[derive(Clone, Copy)]
struct AckMiner;

#[tonic::async_trait]
impl Miner for AckMiner {
    async fn send_task(
        &self,
        r: Request<v1::SendTaskRequest>,
    ) -> Result<Response<v1::TaskAck>, Status> {
        let id = r.into_inner().task.map(|t| t.task_id).unwrap_or_default();
        Ok(Response::new(v1::TaskAck {
            miner_task_id: format!("m-{id}"),
        }))
    }
    async fn fetch_results(
        &self,
        _: Request<v1::FetchResultsRequest>,
    ) -> Result<Response<v1::TaskResults>, Status> {
        Err(Status::unimplemented("bench"))
    }
    async fn send_score_feedback(
        &self,
        _: Request<v1::ScoreFeedback>,
    ) -> Result<Response<v1::FeedbackAck>, Status> {
        Ok(Response::new(v1::FeedbackAck {}))
    }
    async fn heartbeat(
        &self,
        _: Request<v1::HeartbeatRequest>,
    ) -> Result<Response<v1::HeartbeatAck>, Status> {
        Ok(Response::new(v1::HeartbeatAck {
            ack: true,
            ..Default::default()
        }))
    }
    async fn rank_completions(
        &self,
        _: Request<v1::RankingRequest>,
    ) -> Result<Response<v1::RankingResult>, Status> {
        Err(Status::unimplemented("bench"))
    }
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    value(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn task(round: usize) -> v1::SendTaskRequest {
    v1::SendTaskRequest {
        task: Some(v1::Task {
            task_id: format!("bench-{round}"),
            prompt: "Write a function that reverses a linked list.".to_owned(),
            task_type: v1::TaskType::CodeGeneration as i32,
            completions: (0..4)
                .map(|i| v1::Completion {
                    completion_id: format!("c{i}"),
                    content: Some(v1::completion::Content::Text("x".repeat(512))),
                })
                .collect(),
            criteria: vec![v1::Criterion {
                kind: Some(v1::criterion::Kind::Score(v1::ScoreCriterion {
                    min: 1.0,
                    max: 100.0,
                })),
            }],
            expire_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
    }
}

/// The metagraph every axon holds: the validator registered with a permit and stake.
fn registered(validator: Hotkey) -> Arc<MetagraphCache> {
    let cache = Arc::new(MetagraphCache::new());
    cache.replace(
        1,
        [(
            validator,
            CallerInfo {
                uid: Uid(0),
                stake: 1e6,
                validator_permit: true,
            },
        )],
    );
    cache
}

/// Starts miner `i`'s axon on a free loopback port, served until the runtime ends.
async fn spawn_axon(i: usize, cache: Arc<MetagraphCache>) -> Result<AxonTarget, BoxError> {
    let key = Keypair::from_uri(&format!("//BenchMiner{i}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let target = AxonTarget {
        addr: listener.local_addr()?,
        hotkey: key.ss58(),
    };
    let mut config = AxonConfig::new(key.ss58());
    // One validator sends every axon a call per round, faster than the default 20 per second
    // once rounds take under 50 ms; the bench measures fan-out, not the rate limit.
    config.rate_limit = RateLimit {
        per_second: 10_000.0,
        burst: 10_000,
    };
    let layer = AxonLayer::new(config, cache);
    tokio::spawn(async move {
        let _ = serve_miner(AckMiner, listener, layer, std::future::pending()).await;
    });
    Ok(target)
}

/// Child mode: `--serve-miners K --first I --validator SS58 [--cpus 1,2]` serves miners
/// `I..I+K`, prints `axon ADDR HOTKEY` for each and then `ready`, and exits when stdin closes.
fn serve_miners(args: &[String]) -> Result<(), BoxError> {
    let count = arg(args, "--serve-miners", 0);
    let first = arg(args, "--first", 0);
    let validator: Hotkey = value(args, "--validator")
        .ok_or("--serve-miners needs --validator")?
        .parse()?;
    if let Some(cpus) = value(args, "--cpus") {
        let cpus = cpus
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<usize>, _>>()?;
        set_affinity(&cpus)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let cache = registered(validator);
        let mut lines = String::new();
        for i in first..first + count {
            let t = spawn_axon(i, cache.clone()).await?;
            lines.push_str(&format!("axon {} {}\n", t.addr, t.hotkey));
        }
        lines.push_str("ready\n");
        let mut out = std::io::stdout().lock();
        out.write_all(lines.as_bytes())?;
        out.flush()?;
        drop(out);
        // The validator holds the other end of stdin; it closes however the validator ends.
        let _ = tokio::task::spawn_blocking(|| {
            std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink())
        })
        .await;
        Ok(())
    })
}

/// The miner processes; dropping this kills them, so an early error leaves no orphans.
struct MinerProcesses {
    children: Vec<Child>,
}

impl Drop for MinerProcesses {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
    }
}

impl MinerProcesses {
    /// Starts `miners` axons in processes of `per_process` and waits until all report ready.
    /// Must be called on the main thread: the parent-death signal follows the thread that forks.
    fn start(
        miners: usize,
        per_process: usize,
        validator: &Hotkey,
        cpus: Option<&str>,
    ) -> Result<(Self, Vec<AxonTarget>), BoxError> {
        let exe = std::env::current_exe()?;
        let mut procs = MinerProcesses {
            children: Vec::new(),
        };
        let (tx, rx) = mpsc::channel::<(usize, Option<String>)>();
        let mut first = 0;
        while first < miners {
            let count = per_process.min(miners - first);
            let mut cmd = Command::new(&exe);
            cmd.arg("--serve-miners")
                .arg(count.to_string())
                .arg("--first")
                .arg(first.to_string())
                .arg("--validator")
                .arg(validator.as_ref());
            if let Some(c) = cpus {
                cmd.arg("--cpus").arg(c);
            }
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            die_with_parent(&mut cmd);
            let mut child = cmd.spawn()?;
            let stdout = child.stdout.take().ok_or("miner process without stdout")?;
            let idx = procs.children.len();
            procs.children.push(child);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((idx, Some(line))).is_err() {
                        return;
                    }
                }
                let _ = tx.send((idx, None));
            });
            first += count;
        }
        drop(tx);
        let n = procs.children.len();
        let mut slots: Vec<Vec<AxonTarget>> = vec![Vec::new(); n];
        let mut ready = 0;
        let deadline = Instant::now() + STARTUP_DEADLINE;
        while ready < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let (i, line) = rx.recv_timeout(left).map_err(|_| {
                format!(
                    "{ready} of {n} miner processes ready after {} s",
                    STARTUP_DEADLINE.as_secs()
                )
            })?;
            let Some(line) = line else {
                return Err(format!("miner process {i} exited before it was ready").into());
            };
            if line == "ready" {
                ready += 1;
                continue;
            }
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("axon"), Some(addr), Some(hotkey)) => slots[i].push(AxonTarget {
                    addr: addr.parse()?,
                    hotkey: hotkey.parse()?,
                }),
                _ => return Err(format!("miner process {i} printed {line:?}").into()),
            }
        }
        let targets = slots.into_iter().flatten().collect();
        Ok((procs, targets))
    }

    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only prctl runs between fork and exec, and it is async-signal-safe. Closing stdin
    // already ends a miner process; the signal also covers one stuck before it reads stdin.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

/// Pins the calling thread, and the threads it starts later, to `cpus`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_affinity(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data whose all-zero value is the empty set; sched_setaffinity
    // only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn set_affinity(_: &[usize]) -> std::io::Result<()> {
    Err(std::io::Error::other("--pin needs Linux"))
}

/// User + system CPU time of a process so far (all its threads), from procfs.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn cpu_ms(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after it start with the state (field 3).
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks * 1e3 / hz as f64)
}

#[cfg(not(target_os = "linux"))]
fn cpu_ms(_: &str) -> Option<f64> {
    None
}

fn loadavg() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

struct Measured {
    warm_ok: usize,
    per_call: Vec<f64>,
    per_round: Vec<f64>,
    failures: usize,
    /// Failed calls by outcome (and the axon's reason when it refused).
    failure_kinds: std::collections::BTreeMap<String, usize>,
    wall_s: f64,
    validator_cpu_ms: Option<f64>,
    miners_cpu_ms: Option<f64>,
}

async fn measure(
    validator: Keypair,
    targets: &[AxonTarget],
    rounds: usize,
    miner_pids: &[u32],
) -> Measured {
    let dendrite = Dendrite::new(
        validator,
        DendriteConfig {
            timeout: Duration::from_secs(5),
            ..DendriteConfig::default()
        },
    );
    let send = |mut c: dojo_proto::v1::miner_client::MinerClient<dojo_transport::AxonChannel>,
                r| async move { c.send_task(r).await };
    let warm = dendrite.broadcast(targets, task(0), send).await;
    let warm_ok = warm.iter().filter(|o| o.success().is_some()).count();

    let cpu = || {
        let miners = (!miner_pids.is_empty())
            .then(|| {
                miner_pids
                    .iter()
                    .map(|p| cpu_ms(&p.to_string()))
                    .sum::<Option<f64>>()
            })
            .flatten();
        (cpu_ms("self"), miners)
    };
    let mut per_call = Vec::with_capacity(targets.len() * rounds);
    let mut per_round = Vec::with_capacity(rounds);
    let mut failures = 0usize;
    let mut failure_kinds = std::collections::BTreeMap::<String, usize>::new();
    let cpu_before = cpu();
    let start = Instant::now();
    for round in 1..=rounds {
        let t = Instant::now();
        let out = dendrite.broadcast(targets, task(round), send).await;
        per_round.push(t.elapsed().as_secs_f64() * 1e3);
        for o in &out {
            match o.success() {
                Some(_) => per_call.push(o.elapsed().as_secs_f64() * 1e3),
                None => {
                    failures += 1;
                    let kind = match o.reject_reason() {
                        Some(r) => format!("rejected:{r}"),
                        None => o.kind().to_owned(),
                    };
                    *failure_kinds.entry(kind).or_default() += 1;
                }
            }
        }
    }
    let wall_s = start.elapsed().as_secs_f64();
    let cpu_after = cpu();
    let per_round_cpu = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / rounds as f64);
    per_call.sort_by(f64::total_cmp);
    per_round.sort_by(f64::total_cmp);
    Measured {
        warm_ok,
        per_call,
        per_round,
        failures,
        failure_kinds,
        wall_s,
        validator_cpu_ms: per_round_cpu(cpu_before.0, cpu_after.0),
        miners_cpu_ms: per_round_cpu(cpu_before.1, cpu_after.1),
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve-miners") {
        return serve_miners(&args);
    }
    let miners = arg(&args, "--miners", 256);
    let rounds = arg(&args, "--rounds", 20).max(1);
    let per_process = arg(&args, "--per-process", 32).max(1);
    let json = args.iter().any(|a| a == "--json");
    let in_process = args.iter().any(|a| a == "--in-process");
    let pin = args.iter().any(|a| a == "--pin");
    if pin && in_process {
        return Err(
            "--pin separates the validator from miner processes; not with --in-process".into(),
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let miner_cpus = if pin {
        if cores < 2 {
            return Err("--pin needs at least 2 CPUs".into());
        }
        // Before any thread or runtime starts, so that all of the validator's threads inherit it.
        set_affinity(&[0])?;
        Some(
            (1..cores)
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","),
        )
    } else {
        None
    };

    let validator = Keypair::from_uri("//BenchValidator")?;
    let load_before = loadavg();
    let (procs, targets) = if in_process {
        (None, Vec::new())
    } else {
        let (p, t) = MinerProcesses::start(
            miners,
            per_process,
            &validator.ss58(),
            miner_cpus.as_deref(),
        )?;
        (Some(p), t)
    };
    let pids = procs.as_ref().map(MinerProcesses::pids).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let m = rt.block_on(async {
        let targets = if in_process {
            let cache = registered(validator.ss58());
            let mut t = Vec::with_capacity(miners);
            for i in 0..miners {
                t.push(spawn_axon(i, cache.clone()).await?);
            }
            t
        } else {
            targets
        };
        Ok::<_, BoxError>(measure(validator, &targets, rounds, &pids).await)
    })?;
    drop(procs);
    let load_after = loadavg();

    let ok = m.per_call.len();
    let rps = ok as f64 / m.wall_s;
    let (p50, p99, max) = (
        pct(&m.per_call, 50.0),
        pct(&m.per_call, 99.0),
        m.per_call.last().copied().unwrap_or(f64::NAN),
    );
    let (r50, r99) = (pct(&m.per_round, 50.0), pct(&m.per_round, 99.0));
    let processes = pids.len();
    let meets = r99 < TARGET_ROUND_P99_MS;
    if json {
        let v = serde_json::json!({
            "impl": "dojo-rust-grpc",
            "mode": if in_process { "in-process" } else { "processes" },
            "miner_processes": processes,
            "axons_per_process": if in_process { miners } else { per_process.min(miners) },
            "pinned": miner_cpus.as_ref().map(|m| serde_json::json!({"validator_cpus": "0", "miner_cpus": m})),
            "miners": miners,
            "rounds": rounds,
            "cores": cores,
            "warmup_ok": m.warm_ok,
            "ok": ok,
            "failures": m.failures,
            "failure_kinds": m.failure_kinds,
            "call_ms": {"p50": p50, "p99": p99, "max": max},
            "round_ms": {"p50": r50, "p99": r99},
            "requests_per_s": rps,
            // In-process, the validator's figure includes the axons it serves.
            "cpu_ms_per_round": {"validator": m.validator_cpu_ms, "miners": m.miners_cpu_ms},
            "loadavg": {"before": load_before, "after": load_after},
            "target_round_p99_ms": TARGET_ROUND_P99_MS,
            "meets_target": meets,
        });
        println!("{v}");
        return Ok(());
    }
    println!(
        "fan-out: 1 validator -> {miners} miner axons on loopback, {rounds} rounds, {cores} cores"
    );
    match &miner_cpus {
        _ if in_process => {
            println!("  miners: axons served by the validator's own runtime (--in-process)")
        }
        Some(c) => println!(
            "  miners: {processes} separate processes of up to {per_process} axons; validator pinned to cpu 0, miners to cpus {c}"
        ),
        None => println!("  miners: {processes} separate processes of up to {per_process} axons"),
    }
    println!(
        "  load average before {}  after {}",
        load_before.as_deref().unwrap_or("?"),
        load_after.as_deref().unwrap_or("?")
    );
    println!(
        "  ok {ok} / {}, failures {} (warm-up ok {})",
        miners * rounds,
        m.failures,
        m.warm_ok
    );
    if !m.failure_kinds.is_empty() {
        let kinds: Vec<String> = m
            .failure_kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        println!("  failed calls: {}", kinds.join(", "));
    }
    println!("  per call round trip  p50 {p50:.2} ms  p99 {p99:.2} ms  max {max:.2} ms");
    let verdict = if meets { "met" } else { "NOT met" };
    println!(
        "  per round (all {miners}) p50 {r50:.2} ms  p99 {r99:.2} ms  (target round p99 < 25 ms: {verdict})"
    );
    let ms = |v: Option<f64>| v.map_or("?".to_owned(), |v| format!("{v:.1} ms"));
    if in_process {
        println!(
            "  cpu per round (user + system): {} for the validator and its axons",
            ms(m.validator_cpu_ms)
        );
    } else {
        println!(
            "  cpu per round (user + system): validator {}, miner processes {}",
            ms(m.validator_cpu_ms),
            ms(m.miners_cpu_ms)
        );
    }
    println!("  throughput {rps:.0} requests/s");
    Ok(())
}
