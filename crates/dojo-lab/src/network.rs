//! Network analysis over a validator's step-event log: leaderboard by uid, score distribution,
//! completion diversity, groups of miners answering identically, and timing.
//!
//! The event format is the openvalidators per-step event (one JSON object per line, fields as in
//! [`StepEvent`]); loguru-serialised lines (`{"record": {"extra": {...}}}`) are unwrapped, and the
//! wandb `_timestamp` column is accepted for `timestamp`. Unknown keys (per-model reward columns)
//! are ignored.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::NetworkConfig;
use crate::error::LabError;
use crate::report::{Plot, Section, Table, fmt_num, fmt_opt};
use crate::stats;

/// One validator step: a prompt sent to `uids` and what each answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepEvent {
    /// Task name (`augment`, `followup0`, `answer0`, …).
    #[serde(default)]
    pub name: String,
    /// Chain block.
    #[serde(default)]
    pub block: u64,
    /// Wall time of the whole step, seconds.
    #[serde(default)]
    pub step_length: f64,
    /// Prompt sent to the miners.
    #[serde(default)]
    pub prompt: String,
    /// Queried uids; the per-uid lists are aligned to this.
    pub uids: Vec<u16>,
    /// Raw completions (`""` for failures).
    pub completions: Vec<String>,
    /// Response times, seconds.
    #[serde(default)]
    pub completion_times: Vec<f64>,
    /// Final reward per uid (`null` when not scored).
    pub rewards: Vec<Option<f64>>,
    /// Unix time of the event, seconds.
    #[serde(default, alias = "_timestamp")]
    pub timestamp: f64,
    /// Run the event belongs to.
    #[serde(default)]
    pub run_id: String,
    /// Validator hotkey.
    #[serde(default)]
    pub hotkey: String,
}

/// Reads a JSONL event log; a line that is not an event is an error naming the line.
pub fn read_events(path: &Path) -> Result<Vec<StepEvent>, LabError> {
    let f = std::fs::File::open(path).map_err(|e| LabError::io("opening", path, e))?;
    let mut out = Vec::new();
    for (n, line) in BufReader::new(f).lines().enumerate() {
        let line_no = n as u64 + 1;
        let line = line.map_err(|e| LabError::io("reading", path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |m: String| LabError::Data {
            path: path.to_owned(),
            line: line_no,
            message: m,
        };
        let mut v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| bad(format!("not JSON: {e}")))?;
        if let Some(extra) = v.pointer("/record/extra").cloned() {
            let ts = v.pointer("/record/time/timestamp").cloned();
            v = extra;
            if let (Some(ts), Some(obj)) = (ts, v.as_object_mut()) {
                obj.entry("timestamp").or_insert(ts);
            }
        }
        let ev: StepEvent =
            serde_json::from_value(v).map_err(|e| bad(format!("not a step event: {e}")))?;
        out.push(ev);
    }
    Ok(out)
}

/// Count, distinct uids and rewards of one distinct answer.
type AnswerStats = (usize, Vec<u16>, Vec<f64>);

struct Response<'a> {
    uid: u16,
    completion: &'a str,
    reward: Option<f64>,
    time: Option<f64>,
}

#[derive(Default)]
struct UidStats<'a> {
    calls: usize,
    successes: usize,
    rewards: Vec<f64>,
    times: Vec<f64>,
    counts: HashMap<&'a str, usize>,
}

fn short(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        format!("{t}…")
    } else {
        t
    }
}

/// Runs the network analysis.
pub(crate) fn run(
    step: &str,
    cfg: &NetworkConfig,
    events: &[StepEvent],
) -> Result<Section, LabError> {
    let mut s = Section::new(step, format!("Network analysis `{step}`"));
    let mut responses = Vec::new();
    let mut misaligned = 0usize;
    for ev in events {
        let n = ev.uids.len();
        if ev.completions.len() != n
            || ev.rewards.len() != n
            || !(ev.completion_times.is_empty() || ev.completion_times.len() == n)
        {
            misaligned += 1;
            continue;
        }
        for i in 0..n {
            responses.push(Response {
                uid: ev.uids[i],
                completion: ev.completions[i].as_str(),
                reward: ev.rewards[i].filter(|r| r.is_finite()),
                time: ev
                    .completion_times
                    .get(i)
                    .copied()
                    .filter(|t| t.is_finite()),
            });
        }
    }
    if misaligned > 0 {
        s.notes.push(format!(
            "{misaligned} events skipped: per-uid lists of different lengths"
        ));
    }
    s.metric("events", Some((events.len() - misaligned) as f64));
    s.metric("responses", Some(responses.len() as f64));

    let mut by_uid: BTreeMap<u16, UidStats<'_>> = BTreeMap::new();
    for r in &responses {
        let u = by_uid.entry(r.uid).or_default();
        u.calls += 1;
        if let Some(t) = r.time {
            u.times.push(t);
        }
        if !r.completion.trim().is_empty() {
            u.successes += 1;
            *u.counts.entry(r.completion.trim()).or_default() += 1;
            if let Some(x) = r.reward {
                u.rewards.push(x);
            }
        }
    }
    s.metric("uids", Some(by_uid.len() as f64));

    // Leaderboard.
    let mut board: Vec<(u16, &UidStats<'_>, f64)> = by_uid
        .iter()
        .map(|(u, st)| (*u, st, stats::mean(&st.rewards).unwrap_or(0.0)))
        .collect();
    board.sort_by(|a, b| {
        b.2.total_cmp(&a.2)
            .then(b.1.calls.cmp(&a.1.calls))
            .then(a.0.cmp(&b.0))
    });
    let mut lb = Table {
        title: format!("Leaderboard (top {} uids by mean reward)", cfg.top),
        columns: [
            "uid",
            "calls",
            "success rate",
            "mean reward",
            "total reward",
            "unique answers",
            "mean time (s)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    for (uid, st, mean) in board.iter().take(cfg.top) {
        lb.rows.push(vec![
            uid.to_string(),
            st.calls.to_string(),
            fmt_num(st.successes as f64 / st.calls.max(1) as f64),
            fmt_num(*mean),
            fmt_num(st.rewards.iter().sum()),
            fmt_opt(diversity(st)),
            fmt_opt(stats::mean(&st.times)),
        ]);
    }
    s.tables.push(lb);
    s.plots.push(Plot::Bars {
        name: "leaderboard".to_owned(),
        title: "Mean reward of the top uids".to_owned(),
        y_label: "mean reward".to_owned(),
        labels: board
            .iter()
            .take(cfg.top)
            .map(|b| b.0.to_string())
            .collect(),
        values: board.iter().take(cfg.top).map(|b| b.2).collect(),
    });

    // Score distribution.
    let mut all_rewards: Vec<f64> = responses.iter().filter_map(|r| r.reward).collect();
    s.metric("reward.mean", stats::mean(&all_rewards));
    s.metric("reward.sd", stats::std_dev(&all_rewards));
    s.metric(
        "reward.zero_share",
        stats::mean(
            &all_rewards
                .iter()
                .map(|r| if *r == 0.0 { 1.0 } else { 0.0 })
                .collect::<Vec<_>>(),
        ),
    );
    s.plots.push(Plot::Histogram {
        name: "reward_distribution".to_owned(),
        title: "Reward distribution (all responses)".to_owned(),
        x_label: "reward".to_owned(),
        values: all_rewards.clone(),
        bins: 30,
    });
    s.metric("reward.p50", stats::quantile(&mut all_rewards, 0.5));
    s.metric("reward.p90", stats::quantile(&mut all_rewards, 0.9));

    // Completion diversity.
    let success: Vec<&Response<'_>> = responses
        .iter()
        .filter(|r| !r.completion.trim().is_empty())
        .collect();
    s.metric(
        "success_rate",
        Some(success.len() as f64 / responses.len().max(1) as f64),
    );
    let mut global: HashMap<&str, AnswerStats> = HashMap::new();
    for r in &success {
        let e = global.entry(r.completion.trim()).or_default();
        e.0 += 1;
        if !e.1.contains(&r.uid) {
            e.1.push(r.uid);
        }
        if let Some(x) = r.reward {
            e.2.push(x);
        }
    }
    s.metric(
        "diversity.unique_share",
        Some(global.len() as f64 / success.len().max(1) as f64),
    );
    let mut common: Vec<(&str, &AnswerStats)> = global.iter().map(|(k, v)| (*k, v)).collect();
    common.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    s.tables.push(Table {
        title: "Most common completions".to_owned(),
        columns: ["completion", "count", "uids", "mean reward"]
            .map(str::to_owned)
            .to_vec(),
        rows: common
            .iter()
            .take(cfg.top)
            .map(|(c, v)| {
                vec![
                    short(c, 80),
                    v.0.to_string(),
                    v.1.len().to_string(),
                    fmt_opt(stats::mean(&v.2)),
                ]
            })
            .collect(),
    });
    s.plots.push(Plot::Scatter {
        name: "diversity_vs_reward".to_owned(),
        title: "Per-uid answer diversity vs mean reward".to_owned(),
        x_label: "unique answers / successful answers".to_owned(),
        y_label: "mean reward".to_owned(),
        points: by_uid
            .values()
            .filter_map(|st| Some((diversity(st)?, stats::mean(&st.rewards)?)))
            .collect(),
        diagonal: false,
    });

    // Groups of miners with identical outputs.
    let groups = identical_groups(&by_uid, cfg);
    s.metric("identical.groups", Some(groups.len() as f64));
    s.metric(
        "identical.uids",
        Some(groups.iter().map(Vec::len).sum::<usize>() as f64),
    );
    let mut gt = Table {
        title: format!(
            "Groups of uids sharing their top-{} answers (similarity ≥ {})",
            cfg.top_completions, cfg.min_similarity
        ),
        columns: [
            "group",
            "uids",
            "shared answer",
            "mean reward",
            "mean time (s)",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    for (i, g) in groups.iter().enumerate() {
        let rewards: Vec<f64> = g
            .iter()
            .flat_map(|u| by_uid[u].rewards.iter().copied())
            .collect();
        let times: Vec<f64> = g
            .iter()
            .flat_map(|u| by_uid[u].times.iter().copied())
            .collect();
        let top = top_answers(&by_uid[&g[0]], 1)
            .into_iter()
            .next()
            .unwrap_or_default();
        gt.rows.push(vec![
            (i + 1).to_string(),
            g.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
            short(top, 80),
            fmt_opt(stats::mean(&rewards)),
            fmt_opt(stats::mean(&times)),
        ]);
    }
    if !groups.is_empty() {
        s.notes.push(format!(
            "{} group(s) of miners return the same top answers; identical outputs across uids suggest a shared cache or proxy",
            groups.len()
        ));
    }
    s.tables.push(gt);

    // Timing.
    let mut times: Vec<f64> = responses.iter().filter_map(|r| r.time).collect();
    s.metric("time.mean_s", stats::mean(&times));
    let step_lengths: Vec<f64> = events
        .iter()
        .map(|e| e.step_length)
        .filter(|v| *v > 0.0)
        .collect();
    s.metric("time.step_length_mean_s", stats::mean(&step_lengths));
    let (tx, ry): (Vec<f64>, Vec<f64>) = success
        .iter()
        .filter_map(|r| Some((r.time?, r.reward?)))
        .unzip();
    s.metric("time.spearman_time_reward", stats::spearman(&tx, &ry));
    s.plots.push(Plot::Histogram {
        name: "completion_times".to_owned(),
        title: "Completion time distribution".to_owned(),
        x_label: "seconds".to_owned(),
        values: times.clone(),
        bins: 30,
    });
    s.metric("time.p50_s", stats::quantile(&mut times, 0.5));
    s.metric("time.p95_s", stats::quantile(&mut times, 0.95));
    let stamps: Vec<f64> = events
        .iter()
        .map(|e| e.timestamp)
        .filter(|t| *t > 0.0)
        .collect();
    if let (Some(t0), Some(t1)) = (
        stamps.iter().copied().reduce(f64::min),
        stamps.iter().copied().reduce(f64::max),
    ) {
        let buckets = (((t1 - t0) / cfg.time_bucket_s).floor() as usize + 1).min(500);
        let mut counts = vec![0.0; buckets];
        for t in &stamps {
            let b = (((t - t0) / cfg.time_bucket_s) as usize).min(buckets - 1);
            counts[b] += 1.0;
        }
        s.plots.push(Plot::Bars {
            name: "throughput".to_owned(),
            title: format!("Events per {} s", fmt_num(cfg.time_bucket_s)),
            y_label: "events".to_owned(),
            labels: (0..buckets)
                .map(|b| format!("+{}", fmt_num(b as f64 * cfg.time_bucket_s)))
                .collect(),
            values: counts,
        });
    }
    Ok(s)
}

fn diversity(st: &UidStats<'_>) -> Option<f64> {
    if st.successes == 0 {
        None
    } else {
        Some(st.counts.len() as f64 / st.successes as f64)
    }
}

fn top_answers<'a>(st: &UidStats<'a>, k: usize) -> Vec<&'a str> {
    let mut v: Vec<(&str, usize)> = st.counts.iter().map(|(c, n)| (*c, *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().take(k).map(|x| x.0).collect()
}

/// Union-find over uids whose top answers overlap enough, as the seeds' network-embedding plot
/// (similarity = shared top answers / `top_completions`). Uids whose top answers are all unique
/// to them (the normal case) form no group.
fn identical_groups(by_uid: &BTreeMap<u16, UidStats<'_>>, cfg: &NetworkConfig) -> Vec<Vec<u16>> {
    let uids: Vec<u16> = by_uid.keys().copied().collect();
    let tops: Vec<Vec<&str>> = uids
        .iter()
        .map(|u| top_answers(&by_uid[u], cfg.top_completions))
        .collect();
    let mut parent: Vec<usize> = (0..uids.len()).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for i in 0..uids.len() {
        for j in i + 1..uids.len() {
            if tops[i].is_empty() || tops[j].is_empty() {
                continue;
            }
            let shared = tops[i].iter().filter(|a| tops[j].contains(a)).count();
            if shared as f64 / cfg.top_completions as f64 >= cfg.min_similarity - 1e-12 {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                parent[a] = b;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<u16>> = BTreeMap::new();
    for (i, uid) in uids.iter().enumerate() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(*uid);
    }
    let mut out: Vec<Vec<u16>> = groups.into_values().filter(|g| g.len() > 1).collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    out
}
