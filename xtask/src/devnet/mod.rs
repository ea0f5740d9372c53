//! `cargo xtask devnet`: a whole subnet on loopback, from the real binaries as separate processes —
//! the devnet chain, the synthetic API (offline generator), validators and miners whose human
//! workers are simulated populations (`dojo-worksim`) — and a table of who earned what.
//!
//! xtask links no project crate: it drives the binaries through their flags, the one stdout line
//! each prints when it has bound its port, `dojo-devnet admin` (JSON on stdout) and `/metrics`.

mod http;
mod procs;
mod report;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use xshell::{Shell, cmd};

use procs::{Proc, Spec, check_interrupted, sleep};
use report::Row;

const USAGE: &str = "\
cargo xtask devnet [flags]

Runs a local subnet from the real binaries (chain, synthetic API, validators, miners with simulated
workers), then prints who earned what: uid, role, population, true quality, task score, EMA score,
weight, consensus, incentive, dividends, emission.

Flags:
  --miners N           miners (default 12); populations are assigned from the default mix, or --populations
  --populations LIST   comma-separated, e.g. honest:0.05,honest:0.3,lazy,random,reverse,copycat,sybil,sybil,reward-model
                       (honest:NOISE is a worker with Gaussian noise NOISE on a 0..1 quality scale)
  --validators N       validators (default 1)
  --rounds R           task rounds to score before reading the chain (default 12)
  --mechanism NAME     scoring mechanism (default dojo-v1-ground-truth; also rm-consensus, dojo-v0-consensus)
  --seed S             seed of the synthetic tasks and the simulated workers (default 7)
  --study              run the same populations under every mechanism and write the comparison table
  --chaos              kill and restart a miner and the validator mid-run, drop 30 % of miner responses
                       and delay 10 % past the deadline
  --commit-reveal on|off  commit-reveal weights (default on, as on the devnet)
  --json FILE          also write the result as JSON (default: <out>/devnet.json)
  --png FILE           chart of incentive against true quality (default: <out>/incentive.png)
  --out DIR            logs, wallets, databases (default: <target>/devnet)
  --release            build and run release binaries
  --no-reward-model    leave out the reward-model miner (skips installing ONNX Runtime and the model)
  --tempo N            blocks per epoch (default 20); --block-ms MS block time (default 250)
";

/// Scoring mechanisms the study compares, in the order of the subnet's history.
const STUDY: [&str; 4] = [
    "rm-consensus",
    "dojo-v0-consensus",
    "dojo-v1-ground-truth",
    "dojo-v2-votes",
];
/// Mechanisms the devnet runs: all of them (under `dojo-v2-votes` the validator runs Dojo v2
/// rounds, whose pages the simulated workers write and on which every miner votes).
const ROUND_MECHANISMS: [&str; 4] = STUDY;

const NETUID: &str = "1";
const TAO: u64 = 1_000_000_000;

#[derive(Clone, Debug)]
struct Opts {
    populations: Vec<Population>,
    validators: usize,
    rounds: usize,
    mechanism: String,
    seed: u64,
    study: bool,
    chaos: bool,
    commit_reveal: bool,
    json: Option<PathBuf>,
    png: Option<PathBuf>,
    out: Option<PathBuf>,
    release: bool,
    tempo: u32,
    block_ms: u64,
}

/// A miner's worker population.
#[derive(Clone, Debug, PartialEq)]
struct Population {
    kind: String,
    noise: Option<f64>,
}

impl Population {
    fn parse(s: &str) -> Result<Self> {
        let (kind, noise) = match s.split_once(':') {
            Some((k, n)) => (
                k,
                Some(
                    n.parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .with_context(|| format!("bad noise in `{s}` (want e.g. honest:0.2)"))?,
                ),
            ),
            None => (s, None),
        };
        const KINDS: [&str; 7] = [
            "honest",
            "lazy",
            "random",
            "reverse",
            "copycat",
            "sybil",
            "reward-model",
        ];
        if !KINDS.contains(&kind) {
            bail!("unknown population `{kind}` (one of {})", KINDS.join(", "));
        }
        let noise = match kind {
            "honest" | "sybil" => Some(noise.unwrap_or(0.1)),
            _ => noise,
        };
        Ok(Self {
            kind: kind.to_owned(),
            noise,
        })
    }

    /// The quality of the work the population does itself: 1 − noise for workers who judge the
    /// task, 0 for those who do not (lazy, random, reverse, copycat). Sybils judge, once for all of
    /// them. The reward-model miner's quality is not known in advance.
    fn true_quality(&self) -> Option<f64> {
        match self.kind.as_str() {
            "honest" | "sybil" => Some((1.0 - self.noise.unwrap_or(0.0)).max(0.0)),
            "reward-model" => None,
            _ => Some(0.0),
        }
    }
}

/// The default mix: honest workers of falling quality, one of each attack, two colluding sybils and
/// a reward-model miner; more miners are more honest workers.
fn default_mix(n: usize, reward_model: bool) -> Vec<Population> {
    let mut base: Vec<&str> = vec![
        "honest:0.05",
        "honest:0.2",
        "lazy",
        "honest:0.4",
        "random",
        "honest:0.7",
        "reverse",
        "copycat",
        "sybil:0.1",
        "sybil:0.1",
        "reward-model",
        "honest:0.1",
        "honest:0.3",
        "honest:0.55",
    ];
    if !reward_model {
        base.retain(|p| *p != "reward-model");
    }
    let extra = ["honest:0.15", "honest:0.45", "honest:0.25", "honest:0.6"];
    (0..n)
        .map(|i| {
            let s = base.get(i).copied().unwrap_or(extra[i % extra.len()]);
            Population::parse(s).expect("default populations parse")
        })
        .collect()
}

fn parse_args(args: &[String]) -> Result<Opts> {
    let mut miners = 12usize;
    let mut populations = None;
    let mut reward_model = true;
    let mut o = Opts {
        populations: Vec::new(),
        validators: 1,
        rounds: 12,
        mechanism: "dojo-v1-ground-truth".to_owned(),
        seed: 7,
        study: false,
        chaos: false,
        commit_reveal: true,
        json: None,
        png: None,
        out: None,
        release: false,
        tempo: 20,
        block_ms: 250,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .with_context(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--miners" => miners = val()?.parse().context("--miners")?,
            "--populations" => {
                populations = Some(
                    val()?
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Population::parse)
                        .collect::<Result<Vec<_>>>()?,
                );
            }
            "--validators" => o.validators = val()?.parse().context("--validators")?,
            "--rounds" => o.rounds = val()?.parse().context("--rounds")?,
            "--mechanism" => o.mechanism = val()?,
            "--seed" => o.seed = val()?.parse().context("--seed")?,
            "--study" => o.study = true,
            "--chaos" => o.chaos = true,
            "--commit-reveal" => {
                o.commit_reveal = match val()?.as_str() {
                    "on" | "true" => true,
                    "off" | "false" => false,
                    v => bail!("--commit-reveal {v}: want on or off"),
                }
            }
            "--json" => o.json = Some(val()?.into()),
            "--png" => o.png = Some(val()?.into()),
            "--out" => o.out = Some(val()?.into()),
            "--release" => o.release = true,
            "--no-reward-model" => reward_model = false,
            "--tempo" => o.tempo = val()?.parse().context("--tempo")?,
            "--block-ms" => o.block_ms = val()?.parse().context("--block-ms")?,
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown flag `{other}`\n\n{USAGE}"),
        }
    }
    o.populations = populations.unwrap_or_else(|| default_mix(miners, reward_model));
    if o.populations.is_empty() {
        bail!("no miners: pass --miners N with N ≥ 1");
    }
    if o.validators == 0 {
        bail!("--validators must be at least 1");
    }
    if o.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if !o.study && !ROUND_MECHANISMS.contains(&o.mechanism.as_str()) {
        bail!(
            "unknown mechanism `{}` (one of {})",
            o.mechanism,
            ROUND_MECHANISMS.join(", ")
        );
    }
    if o.tempo < 4 || o.block_ms == 0 {
        bail!("--tempo must be ≥ 4 blocks and --block-ms > 0");
    }
    Ok(o)
}

pub(crate) fn run(sh: &Shell, args: &[String]) -> Result<()> {
    let opts = parse_args(args)?;
    procs::install_signal_handlers();
    let target = crate::cache::target_dir(sh)?;
    let out = opts.out.clone().unwrap_or_else(|| target.join("devnet"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    eprintln!("devnet: building the binaries");
    let profile = if opts.release { "release" } else { "debug" };
    let release: &[&str] = if opts.release { &["--release"] } else { &[] };
    cmd!(
        sh,
        "cargo build --quiet {release...} -p dojo-devnet-bin -p dojo-synthetic-api-bin -p dojo-validator-bin -p dojo-miner-bin -p dojo-worksim-bin -p dojo-lab-bin"
    )
    .run()?;
    let bins = target.join(profile);

    let needs_rm = opts.populations.iter().any(|p| p.kind == "reward-model");
    let rm_env = if needs_rm {
        eprintln!("devnet: making sure ONNX Runtime and the shipped reward model are installed");
        crate::reward::setup_env(sh)?
    } else {
        Vec::new()
    };

    let runs: Vec<String> = if opts.study {
        STUDY.iter().map(|s| (*s).to_owned()).collect()
    } else {
        vec![opts.mechanism.clone()]
    };
    let mut results = Vec::new();
    for mechanism in &runs {
        let dir = if opts.study {
            out.join(mechanism)
        } else {
            out.clone()
        };
        let result = run_one(&opts, mechanism, &bins, &dir, &rm_env)?;
        results.push(result);
    }

    let (json_out, png_out) = (
        opts.json.clone().unwrap_or_else(|| {
            out.join(if opts.study {
                "study.json"
            } else {
                "devnet.json"
            })
        }),
        opts.png.clone().unwrap_or_else(|| {
            out.join(if opts.study {
                "study.png"
            } else {
                "incentive.png"
            })
        }),
    );
    let doc = if opts.study {
        println!("{}", study_table(&results));
        json!({"rounds": opts.rounds, "seed": opts.seed, "study": results})
    } else {
        results.pop().unwrap_or(Value::Null)
    };
    std::fs::write(&json_out, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", json_out.display()))?;
    let lab = bins.join("dojo-lab");
    procs::output(
        &lab,
        &[
            "chart".into(),
            "devnet".into(),
            "--input".into(),
            json_out.display().to_string(),
            "--out".into(),
            png_out.display().to_string(),
        ],
        &[],
    )
    .context("drawing the chart")?;
    eprintln!(
        "devnet: wrote {} and {}",
        json_out.display(),
        png_out.display()
    );
    Ok(())
}

/// CI's end-to-end check: a short devnet over real processes whose JSON must have every summary
/// field, a chart, and no process left behind.
pub(crate) fn smoke(sh: &Shell) -> Result<()> {
    let out = crate::cache::target_dir(sh)?.join("devnet-ci");
    let json_path = out.join("devnet.json");
    let png_path = out.join("incentive.png");
    let args: Vec<String> = [
        "--populations",
        "honest:0.05,honest:0.3,honest:0.6,lazy,copycat",
        "--rounds",
        "4",
        "--out",
        &out.display().to_string(),
        "--json",
        &json_path.display().to_string(),
        "--png",
        &png_path.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    run(sh, &args)?;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
    check_summary(&doc, 5)?;
    let png = std::fs::read(&png_path)?;
    if !png.starts_with(b"\x89PNG") || png.len() < 2000 {
        bail!(
            "{} is not a chart ({} bytes)",
            png_path.display(),
            png.len()
        );
    }
    let left = processes_mentioning(&out.display().to_string());
    if !left.is_empty() {
        bail!("processes of the devnet survived it: {left:?}");
    }
    eprintln!("devnet smoke: summary {}", doc["summary"]);
    Ok(())
}

fn check_summary(doc: &Value, miners: usize) -> Result<()> {
    for k in ["mechanism", "rounds", "miners", "summary"] {
        if doc.get(k).is_none() {
            bail!("devnet JSON has no `{k}`: {doc}");
        }
    }
    let rows = doc["miners"].as_array().context("miners is not an array")?;
    if rows.len() != miners {
        bail!("devnet JSON lists {} miners, expected {miners}", rows.len());
    }
    for r in rows {
        for k in [
            "uid",
            "hotkey",
            "population",
            "true_quality",
            "score",
            "weight",
            "incentive",
            "emission",
        ] {
            if r.get(k).is_none() {
                bail!("miner row without `{k}`: {r}");
            }
        }
    }
    let s = &doc["summary"];
    if !s["non_honest_emission_share"]
        .as_f64()
        .is_some_and(|v| (0.0..=1.0).contains(&v))
    {
        bail!("summary.non_honest_emission_share missing or out of [0, 1]: {s}");
    }
    if s.get("spearman_quality_incentive").is_none() {
        bail!("summary has no spearman_quality_incentive: {s}");
    }
    let emitted: u64 = rows.iter().filter_map(|r| r["emission"].as_u64()).sum();
    let weighted = rows
        .iter()
        .filter(|r| r["weight"].as_f64().unwrap_or(0.0) > 0.0)
        .count();
    if emitted == 0 || weighted == 0 {
        bail!("no miner received weight or emission: {doc}");
    }
    Ok(())
}

/// Pids whose command line mentions `needle` (the run's directory appears in every child's flags).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

fn study_table(results: &[Value]) -> String {
    let mut s = String::from(
        "mechanism             spearman  non-honest  lazy    random  reverse copycat sybil   stable@\n",
    );
    for r in results {
        let m = r["mechanism"].as_str().unwrap_or("?");
        if let Some(why) = r["skipped"].as_str() {
            let _ = writeln!(s, "{m:<21} not run: {why}");
            continue;
        }
        let sum = &r["summary"];
        let pct = |k: &str| {
            sum["emission_share_by_population"][k]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
        };
        let _ = writeln!(
            s,
            "{m:<21} {:>8} {:>10.1}% {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            sum["spearman_quality_incentive"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |v| format!("{v:.3}")),
            sum["non_honest_emission_share"].as_f64().unwrap_or(0.0) * 100.0,
            pct("lazy"),
            pct("random"),
            pct("reverse"),
            pct("copycat"),
            pct("sybil"),
            sum["rounds_until_stable"]
                .as_u64()
                .map_or_else(|| "-".to_owned(), |v| v.to_string()),
        );
    }
    s
}

/// One neuron's keys.
#[derive(Clone, Debug)]
struct Keys {
    wallet: String,
    coldkey: String,
    hotkey: String,
}

struct Net<'a> {
    bins: &'a Path,
    logs: PathBuf,
    wallets: PathBuf,
    endpoint: String,
    procs: Vec<Proc>,
}

impl Net<'_> {
    fn bin(&self, name: &str) -> PathBuf {
        self.bins.join(name)
    }

    fn admin(&self, args: &[&str]) -> Result<Value> {
        let mut a = vec![
            "admin".to_owned(),
            "--subtensor.chain_endpoint".to_owned(),
            self.endpoint.clone(),
        ];
        a.extend(args.iter().map(|s| (*s).to_owned()));
        let out = procs::output(&self.bin("dojo-devnet"), &a, &[])?;
        serde_json::from_str(out.trim())
            .with_context(|| format!("dojo-devnet admin {}: {out}", args.join(" ")))
    }

    fn wallet(&self, name: &str) -> Result<Keys> {
        let args: Vec<String> = [
            "wallet",
            "create",
            "--wallet.name",
            name,
            "--wallet.path",
            &self.wallets.display().to_string(),
            "--no-password",
            "--overwrite",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let out = procs::output(&self.bin("dojo-miner"), &args, &[])?;
        let field = |prefix: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .and_then(|rest| rest.split_whitespace().last())
                .map(str::to_owned)
                .with_context(|| format!("no `{prefix}` line in wallet create output:\n{out}"))
        };
        Ok(Keys {
            wallet: name.to_owned(),
            coldkey: field("coldkey ")?,
            hotkey: field("hotkey ")?,
        })
    }

    fn wallet_flags(&self, k: &Keys) -> Vec<String> {
        vec![
            "--wallet.name".into(),
            k.wallet.clone(),
            "--wallet.hotkey".into(),
            "default".into(),
            "--wallet.path".into(),
            self.wallets.display().to_string(),
        ]
    }

    fn start(&mut self, spec: Spec, timeout: Duration) -> Result<usize> {
        let p = Proc::start(spec, &self.logs, timeout)?;
        self.procs.push(p);
        Ok(self.procs.len() - 1)
    }

    fn block(&self) -> Result<u64> {
        self.admin(&["block"])?["block"]
            .as_u64()
            .context("admin block: no block")
    }

    fn shutdown(&mut self) {
        for p in &mut self.procs {
            p.terminate();
        }
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end && self.procs.iter_mut().any(Proc::alive) {
            procs::nap(Duration::from_millis(100));
        }
        for p in &mut self.procs {
            if p.alive() {
                eprintln!(
                    "devnet: {} did not stop within 10 s; killing it",
                    p.spec.name
                );
                p.kill_hard();
            }
        }
        self.procs.clear();
    }
}

impl Drop for Net<'_> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What a validator's `/metrics` says right now.
struct ValidatorView {
    scored: f64,
    ema: Vec<(u16, f64)>,
    task_score: Vec<(u16, f64)>,
}

fn read_validator(url: &str) -> Result<ValidatorView> {
    let samples = http::parse_metrics(&http::get(url)?);
    let per_uid = |name: &str| {
        samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| Some((s.label("uid")?.parse().ok()?, s.value)))
            .collect::<Vec<(u16, f64)>>()
    };
    Ok(ValidatorView {
        scored: http::sum(&samples, "dojo_tasks_scored_total", &[]),
        ema: per_uid("dojo_miner_ema"),
        task_score: per_uid("dojo_miner_task_score"),
    })
}

fn progress(label: &str, done: usize, total: usize, note: &str) {
    use std::sync::Mutex;
    // Redraw only on change: a log file of a run would otherwise fill with identical lines.
    static LAST: Mutex<String> = Mutex::new(String::new());
    let key = format!("{label}{done}{total}{note}");
    if let Ok(mut last) = LAST.lock() {
        if *last == key {
            return;
        }
        *last = key;
    }
    let width = 30;
    let filled = (done.min(total) * width) / total.max(1);
    eprint!(
        "\r{label} [{}{}] {}/{} {note}\x1b[K",
        "#".repeat(filled),
        " ".repeat(width - filled),
        done.min(total),
        total
    );
}

#[allow(clippy::too_many_lines)]
fn run_one(
    opts: &Opts,
    mechanism: &str,
    bins: &Path,
    dir: &Path,
    rm_env: &[(String, String)],
) -> Result<Value> {
    // A run starts from nothing: old wallets, chain state and databases would mix two runs.
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let logs = dir.join("logs");
    let wallets = dir.join("wallets");
    for d in [&logs, &wallets, &dir.join("share"), &dir.join("chain")] {
        std::fs::create_dir_all(d)?;
    }
    eprintln!("devnet: {mechanism}: logs in {}", logs.display());
    let started = Instant::now();
    let mut net = Net {
        bins,
        logs,
        wallets,
        endpoint: String::new(),
        procs: Vec::new(),
    };

    // The chain.
    let chain = net.start(
        Spec {
            name: "devnet".into(),
            program: net.bin("dojo-devnet"),
            args: vec![
                "--port".into(),
                "0".into(),
                "--block-time".into(),
                format!("{}ms", opts.block_ms),
                "--state-dir".into(),
                dir.join("chain").display().to_string(),
            ],
            env: vec![("RUST_LOG".into(), "warn".into())],
            ready_prefix: Some("dojo-devnet listening on".into()),
        },
        Duration::from_secs(30),
    )?;
    net.endpoint = format!(
        "http://{}",
        net.procs[chain].ready.clone().unwrap_or_default()
    );

    // Keys and the subnet: validators take the first uids, then the miners in population order.
    let owner = net.wallet("owner")?;
    let validators: Vec<Keys> = (0..opts.validators)
        .map(|i| net.wallet(&format!("validator-{i}")))
        .collect::<Result<_>>()?;
    let miners: Vec<Keys> = (0..opts.populations.len())
        .map(|i| net.wallet(&format!("miner-{i}")))
        .collect::<Result<_>>()?;
    let cr = if opts.commit_reveal { "true" } else { "false" };
    let sets = [
        format!("tempo={}", opts.tempo),
        format!("commit_reveal_weights_enabled={cr}"),
        "commit_reveal_period=1".to_owned(),
        "weights_rate_limit=5".to_owned(),
        "min_allowed_weights=1".to_owned(),
        format!("max_validators={}", opts.validators),
        "serving_rate_limit=0".to_owned(),
        "activity_cutoff=5000".to_owned(),
    ];
    let mut create: Vec<&str> = vec![
        "create-subnet",
        "--netuid",
        NETUID,
        "--owner-coldkey",
        &owner.coldkey,
    ];
    for s in &sets {
        create.push("--set");
        create.push(s);
    }
    net.admin(&create)?;
    let mut uids = Vec::new();
    for k in validators.iter().chain(&miners) {
        net.admin(&[
            "faucet",
            "--coldkey",
            &k.coldkey,
            "--amount",
            &(1000 * TAO).to_string(),
        ])?;
        let r = net.admin(&[
            "register",
            "--netuid",
            NETUID,
            "--coldkey",
            &k.coldkey,
            "--hotkey",
            &k.hotkey,
        ])?;
        uids.push(u16::try_from(
            r["uid"].as_u64().context("register: no uid")?,
        )?);
    }
    for k in &validators {
        net.admin(&[
            "stake",
            "--netuid",
            NETUID,
            "--hotkey",
            &k.hotkey,
            "--amount",
            &(10_000 * TAO).to_string(),
        ])?;
    }

    // Tasks with ground truth.
    let gt_log = dir.join("ground-truth.jsonl");
    let synth = net.start(
        Spec {
            name: "synthetic-api".into(),
            program: net.bin("dojo-synthetic-api"),
            args: vec![
                "--generator".into(),
                "offline".into(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                "0".into(),
                "--seed".into(),
                opts.seed.to_string(),
                "--ground-truth-log".into(),
                gt_log.display().to_string(),
                "--buffer.state".into(),
                dir.join("synthetic-buffer.json").display().to_string(),
            ],
            env: vec![("RUST_LOG".into(), "warn".into())],
            ready_prefix: Some("dojo-synthetic-api listening on".into()),
        },
        Duration::from_secs(60),
    )?;
    let synthetic_url = format!(
        "http://{}",
        net.procs[synth].ready.clone().unwrap_or_default()
    );

    // Miners, each with its simulated workers.
    let mut miner_procs = Vec::new();
    for (i, (k, pop)) in miners.iter().zip(&opts.populations).enumerate() {
        let data = dir.join("miners").join(format!("miner-{i}"));
        std::fs::create_dir_all(&data)?;
        let mut store = vec!["--netuid".to_owned(), NETUID.to_owned()];
        store.extend(net.wallet_flags(k));
        store.extend(["--miner.data_dir".to_owned(), data.display().to_string()]);
        let human = pop.kind != "reward-model";
        let key = if human {
            let mut a = vec!["keys".to_owned(), "generate".to_owned()];
            a.extend(store.iter().cloned());
            a.extend(["--kind".to_owned(), "subscription".to_owned()]);
            let out = procs::output(&net.bin("dojo-miner"), &a, &[])?;
            Some(
                out.lines()
                    .find_map(|l| l.strip_prefix("secret:"))
                    .map(|s| s.trim().to_owned())
                    .with_context(|| {
                        format!("no secret in `dojo-miner keys generate` output:\n{out}")
                    })?,
            )
        } else {
            None
        };
        let mut args = vec!["run".to_owned()];
        args.extend(store);
        args.extend(
            [
                "--subtensor.chain_endpoint",
                &net.endpoint,
                "--axon.ip",
                "127.0.0.1",
                "--axon.port",
                "0",
                "--neuron.metagraph_refresh_secs",
                "2",
                "--blacklist.min_stake",
                "1000",
                "--scoring_method",
                if human { "human" } else { "reward_model" },
                "--worker.host",
                "127.0.0.1",
                "--worker.port",
                "0",
                "--logging.level",
                "warn",
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        if !human {
            args.push("--worker.disable".into());
        }
        let ready = if human {
            "dojo-miner worker page on"
        } else {
            "dojo-miner axon listening on"
        };
        let idx = net.start(
            Spec {
                name: format!("miner-{i}"),
                program: net.bin("dojo-miner"),
                args,
                env: rm_env.to_vec(),
                ready_prefix: Some(ready.into()),
            },
            Duration::from_secs(60),
        )?;
        pin_ports(&mut net.procs[idx]);
        miner_procs.push(idx);
        if let Some(key) = key {
            let page = net.procs[idx].ready.clone().unwrap_or_default();
            let mut a = vec![
                "--page".to_owned(),
                page.trim_end_matches('/').to_owned(),
                "--key".to_owned(),
                key,
                "--population".to_owned(),
                pop.kind.clone(),
                "--seed".to_owned(),
                // Sybils share one seed (one answer source); everyone else draws their own noise.
                if pop.kind == "sybil" {
                    opts.seed.to_string()
                } else {
                    (opts.seed * 1000 + i as u64).to_string()
                },
                "--ground-truth-log".to_owned(),
                gt_log.display().to_string(),
                "--share-dir".to_owned(),
                dir.join("share").display().to_string(),
            ];
            if let Some(n) = pop.noise {
                a.extend(["--noise".to_owned(), n.to_string()]);
            }
            if opts.chaos {
                a.extend([
                    "--drop".to_owned(),
                    "0.3".to_owned(),
                    "--late".to_owned(),
                    "0.1".to_owned(),
                ]);
            }
            net.start(
                Spec {
                    name: format!("worksim-{i}"),
                    program: net.bin("dojo-worksim"),
                    args: a,
                    env: vec![("RUST_LOG".into(), "warn".into())],
                    ready_prefix: Some("dojo-worksim ready".into()),
                },
                Duration::from_secs(30),
            )?;
        }
    }

    // Validators.
    let mut validator_procs = Vec::new();
    for (i, k) in validators.iter().enumerate() {
        let mut args = vec!["run".to_owned(), "--netuid".to_owned(), NETUID.to_owned()];
        args.extend(net.wallet_flags(k));
        args.extend(
            [
                "--subtensor.chain_endpoint",
                &net.endpoint,
                "--synthetic.url",
                &synthetic_url,
                "--database.url",
                &format!(
                    "sqlite://{}",
                    dir.join(format!("validator-{i}.db")).display()
                ),
                "--fast",
                "--neuron.mechanism",
                mechanism,
                "--metrics.listen",
                "127.0.0.1:0",
                "--events.path",
                &dir.join(format!("validator-{i}-events.jsonl"))
                    .display()
                    .to_string(),
            ]
            .iter()
            .map(|s| (*s).to_owned()),
        );
        let idx = net.start(
            Spec {
                name: format!("validator-{i}"),
                program: net.bin("dojo-validator"),
                args,
                env: vec![("RUST_LOG".into(), "warn".into())],
                ready_prefix: Some("dojo-validator metrics on".into()),
            },
            Duration::from_secs(60),
        )?;
        pin_ports(&mut net.procs[idx]);
        validator_procs.push(idx);
    }
    let metrics_urls: Vec<String> = validator_procs
        .iter()
        .map(|&i| net.procs[i].ready.clone().unwrap_or_default())
        .collect();

    // Rounds.
    let mut history: Vec<(usize, Vec<f64>)> = Vec::new();
    let mut injected: Vec<String> = Vec::new();
    let miner_uids: Vec<u16> = uids[opts.validators..].to_vec();
    let deadline = Instant::now() + Duration::from_secs(60 + 20 * opts.rounds as u64);
    let (mut killed_miner, mut killed_validator) = (false, false);
    let mut last_scored = 0usize;
    loop {
        check_interrupted()?;
        let views: Vec<ValidatorView> = metrics_urls
            .iter()
            .filter_map(|u| read_validator(u).ok())
            .collect();
        let scored = views
            .iter()
            .map(|v| v.scored as usize)
            .min()
            .unwrap_or(0)
            .max(last_scored);
        if scored > last_scored || history.is_empty() {
            if let Some(v) = views.first() {
                let ema: Vec<f64> = miner_uids
                    .iter()
                    .map(|u| v.ema.iter().find(|(x, _)| x == u).map_or(0.0, |(_, s)| *s))
                    .collect();
                if scored > 0 {
                    history.push((scored, ema));
                }
            }
            last_scored = scored;
        }
        progress(
            &format!("devnet {mechanism}: rounds scored"),
            scored,
            opts.rounds,
            "",
        );
        if scored >= opts.rounds {
            break;
        }
        if opts.chaos && !killed_miner && scored * 3 >= opts.rounds {
            let victim = miner_procs[miner_procs.len().min(2) - 1];
            crash_and_restart(
                &mut net,
                victim,
                scored,
                Duration::from_secs(2),
                &mut injected,
            )?;
            killed_miner = true;
        }
        if opts.chaos && !killed_validator && scored * 2 >= opts.rounds {
            crash_and_restart(
                &mut net,
                validator_procs[0],
                scored,
                Duration::from_secs(1),
                &mut injected,
            )?;
            killed_validator = true;
        }
        for p in &mut net.procs {
            if !p.alive() {
                bail!(
                    "{} exited during the run; last lines of its log:\n{}",
                    p.spec.name,
                    procs::tail(&net.logs.join(format!("{}.log", p.spec.name)), 20)
                );
            }
        }
        if Instant::now() > deadline {
            bail!(
                "only {scored} of {} rounds were scored in time; see the logs in {}",
                opts.rounds,
                net.logs.display()
            );
        }
        sleep(Duration::from_millis(500))?;
    }
    eprintln!();

    // Weights on chain, then one epoch over them.
    let scored_at = net.block()?;
    let validator_uids: Vec<u16> = uids[..opts.validators].to_vec();
    let wait_until = Instant::now() + Duration::from_secs(120);
    let weights_block = loop {
        check_interrupted()?;
        let mg = net.admin(&["metagraph", "--netuid", NETUID])?;
        let all_set = validator_uids.iter().all(|u| {
            neuron(&mg, *u).is_some_and(|n| {
                n["last_update"].as_u64().unwrap_or(0) >= scored_at
                    && n["weights"].as_array().is_some_and(|w| !w.is_empty())
            })
        });
        if all_set {
            break mg["block"].as_u64().unwrap_or(scored_at);
        }
        if Instant::now() > wait_until {
            bail!(
                "validators did not put weights on chain within 120 s after the last round; see {}",
                net.logs.display()
            );
        }
        progress(
            &format!("devnet {mechanism}: waiting for weights"),
            0,
            1,
            "",
        );
        sleep(Duration::from_millis(500))?;
    };
    let epoch_block = weights_block + u64::from(opts.tempo) + 2;
    while net.block()? < epoch_block {
        check_interrupted()?;
        progress(
            &format!("devnet {mechanism}: waiting for the epoch"),
            0,
            1,
            "",
        );
        sleep(Duration::from_millis(250))?;
    }
    eprintln!();
    let mg = net.admin(&["metagraph", "--netuid", NETUID])?;
    let views: Vec<ValidatorView> = metrics_urls
        .iter()
        .filter_map(|u| read_validator(u).ok())
        .collect();

    // Rows.
    let mean_over = |f: &dyn Fn(&ValidatorView) -> Option<f64>| {
        let v: Vec<f64> = views.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let weight_rows: Vec<Vec<(u16, f64)>> = validator_uids
        .iter()
        .filter_map(|u| neuron(&mg, *u))
        .map(|n| {
            let row: Vec<(u16, f64)> = n["weights"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .filter_map(|p| Some((u16::try_from(p[0].as_u64()?).ok()?, p[1].as_f64()?)))
                        .collect()
                })
                .unwrap_or_default();
            let total: f64 = row.iter().map(|(_, w)| w).sum();
            row.into_iter()
                .map(|(u, w)| (u, if total > 0.0 { w / total } else { 0.0 }))
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    for (i, uid) in uids.iter().enumerate() {
        let n =
            neuron(&mg, *uid).with_context(|| format!("uid {uid} missing from the metagraph"))?;
        let is_validator = i < opts.validators;
        let pop = (!is_validator).then(|| &opts.populations[i - opts.validators]);
        let weight = if weight_rows.is_empty() {
            0.0
        } else {
            weight_rows
                .iter()
                .map(|r| r.iter().find(|(u, _)| u == uid).map_or(0.0, |(_, w)| *w))
                .sum::<f64>()
                / weight_rows.len() as f64
        };
        rows.push(Row {
            uid: *uid,
            hotkey: n["hotkey"].as_str().unwrap_or_default().to_owned(),
            population: pop.map_or_else(|| "validator".to_owned(), |p| p.kind.clone()),
            noise: pop.and_then(|p| p.noise),
            true_quality: pop.and_then(Population::true_quality),
            task_score: mean_over(&|v| {
                v.task_score.iter().find(|(u, _)| u == uid).map(|(_, s)| *s)
            }),
            ema: mean_over(&|v| v.ema.iter().find(|(u, _)| u == uid).map(|(_, s)| *s)),
            weight,
            consensus: n["consensus"].as_f64().unwrap_or(0.0),
            incentive: n["incentive"].as_f64().unwrap_or(0.0),
            dividends: n["dividends"].as_f64().unwrap_or(0.0),
            emission: n["emission"].as_u64().unwrap_or(0),
        });
    }
    let summary = report::summarise(&rows, &history);
    let restarts: Vec<Value> = net
        .procs
        .iter()
        .filter(|p| p.starts > 1)
        .map(|p| json!({"process": p.spec.name, "starts": p.starts}))
        .collect();
    let tasks_scored = views.iter().map(|v| v.scored).fold(0.0, f64::max);
    let extra = json!({
        "seed": opts.seed,
        "validators": opts.validators,
        "commit_reveal": opts.commit_reveal,
        "tempo": opts.tempo,
        "block_ms": opts.block_ms,
        "final_block": mg["block"],
        "tasks_scored_since_last_start": tasks_scored,
        "wall_seconds": started.elapsed().as_secs_f64(),
        "chaos": opts.chaos.then(|| json!({
            "injected": injected,
            "worker_drop_fraction": 0.3,
            "worker_late_fraction": 0.1,
            "restarts": restarts,
        })),
        "logs": net.logs.display().to_string(),
    });
    println!(
        "\n{mechanism}, {} rounds, block {}:",
        opts.rounds, mg["block"]
    );
    print!("{}", report::table(&rows));
    print!("{}", report::summary_text(&summary));
    if opts.chaos {
        println!("chaos injected: {}", injected.join("; "));
    }
    let doc = report::to_json(mechanism, opts.rounds, &rows, &summary, extra);
    net.shutdown();
    Ok(doc)
}

/// `--chaos`: SIGKILL one process, wait, start it again with the same flags, and note it.
fn crash_and_restart(
    net: &mut Net<'_>,
    idx: usize,
    scored: usize,
    pause: Duration,
    injected: &mut Vec<String>,
) -> Result<()> {
    net.procs[idx].kill_hard();
    injected.push(format!(
        "SIGKILL {} after {scored} rounds, restarted {} s later",
        net.procs[idx].spec.name,
        pause.as_secs()
    ));
    sleep(pause)?;
    let logs = net.logs.clone();
    net.procs[idx].restart(&logs, Duration::from_secs(60))
}

fn neuron(mg: &Value, uid: u16) -> Option<&Value> {
    mg["neurons"]
        .as_array()?
        .iter()
        .find(|n| n["uid"].as_u64() == Some(u64::from(uid)))
}

/// After the first start, a restart must come back on the same ports: the chain and the worker
/// simulators know the old ones.
fn pin_ports(p: &mut Proc) {
    fn host_port(s: &str) -> Option<&str> {
        let s = s.trim().trim_start_matches("http://");
        s.split('/').next().filter(|a| a.contains(':'))
    }
    fn set(args: &mut [String], flag: &str, value: &str) {
        if let Some(v) = args
            .iter()
            .position(|a| a == flag)
            .and_then(|i| args.get_mut(i + 1))
        {
            value.clone_into(v);
        }
    }
    let ready = p.ready.clone().unwrap_or_default();
    let Some(addr) = host_port(&ready).map(str::to_owned) else {
        return;
    };
    let port = addr.rsplit(':').next().unwrap_or_default().to_owned();
    if p.spec.name.starts_with("validator") {
        set(&mut p.spec.args, "--metrics.listen", &addr);
        return;
    }
    let axon = p
        .early
        .iter()
        .find_map(|l| l.trim().strip_prefix("dojo-miner axon listening on"))
        .and_then(host_port)
        .map(str::to_owned);
    if p.spec.ready_prefix.as_deref() == Some("dojo-miner worker page on") {
        set(&mut p.spec.args, "--worker.port", &port);
        if let Some(a) = axon {
            set(
                &mut p.spec.args,
                "--axon.port",
                a.rsplit(':').next().unwrap_or_default(),
            );
        }
    } else {
        set(&mut p.spec.args, "--axon.port", &port);
    }
}
