//! Prometheus metrics of the running validator, rendered in the text exposition format on
//! `/metrics`, and `/healthz`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

/// Counter and gauge families, by name and label set.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), f64>>,
    gauges: Mutex<BTreeMap<&'static str, f64>>,
    /// Labelled gauge families (per-miner series), each replaced whole on update so a miner that
    /// left does not linger.
    families: Mutex<BTreeMap<&'static str, Vec<(String, f64)>>>,
    /// Last metagraph block seen (for `/healthz`).
    pub last_block: AtomicU64,
    /// Unix ms of the last completed loop iteration of any loop.
    pub last_progress_ms: AtomicI64,
}

fn label_text(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(",")
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "dojo_rounds_total",
        "counter",
        "Task rounds by outcome (sent, skipped_no_miners, synthetic_not_ready, synthetic_error).",
    ),
    (
        "dojo_tasks_sent_total",
        "counter",
        "Task sends to miners by outcome (acked, declined, timeout, refused, rejected, failed).",
    ),
    (
        "dojo_responses_total",
        "counter",
        "Collected miner results by outcome.",
    ),
    (
        "dojo_rejections_total",
        "counter",
        "Refused miner results by reason.",
    ),
    ("dojo_heartbeats_total", "counter", "Heartbeats by outcome."),
    ("dojo_tasks_scored_total", "counter", "Tasks scored."),
    (
        "dojo_scoring_seconds_total",
        "counter",
        "Time spent in scoring passes.",
    ),
    (
        "dojo_scoring_passes_total",
        "counter",
        "Scoring passes applied.",
    ),
    (
        "dojo_weights_set_total",
        "counter",
        "Weight submissions accepted by the chain, by kind (set, commit, reveal).",
    ),
    (
        "dojo_weight_errors_total",
        "counter",
        "Weight submissions the chain refused, by error.",
    ),
    (
        "dojo_chain_errors_total",
        "counter",
        "Chain reads that failed, by call.",
    ),
    (
        "dojo_store_errors_total",
        "counter",
        "Database operations that failed, by step.",
    ),
    (
        "dojo_wandb_dropped_total",
        "counter",
        "Event records not uploaded to wandb, by reason (full: the upload queue was full; closed: the uploader had exited).",
    ),
    (
        "dojo_active_miners",
        "gauge",
        "Miners that acknowledged the last heartbeat.",
    ),
    (
        "dojo_metagraph_block",
        "gauge",
        "Block of the last metagraph sync.",
    ),
    (
        "dojo_weights_last_block",
        "gauge",
        "Block at which weights last landed on chain (a set, or a reveal); 0 before the first.",
    ),
    (
        "dojo_probes_sent_total",
        "counter",
        "Reward-modelling era: preference-pair accuracy probes sent (one per probe task).",
    ),
    (
        "dojo_v2_assignments_total",
        "counter",
        "Dojo v2 generation and vote assignments sent, by role and outcome.",
    ),
    (
        "dojo_v2_responses_total",
        "counter",
        "Dojo v2 completions and votes fetched, by role and outcome.",
    ),
    (
        "dojo_v2_tasks_total",
        "counter",
        "Dojo v2 tasks that left their vote phase (collected) or had nothing to vote on (void).",
    ),
    (
        "dojo_miner_ema",
        "gauge",
        "Moving average of each miner's score after the last scoring pass, by uid and hotkey.",
    ),
    (
        "dojo_miner_task_score",
        "gauge",
        "Mean task score of each miner over every task scored so far, by uid and hotkey.",
    ),
];

impl Metrics {
    /// Adds `v` to a counter.
    pub fn add(&self, name: &'static str, labels: &[(&str, &str)], v: f64) {
        let mut c = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *c.entry((name, label_text(labels))).or_default() += v;
    }

    /// Adds 1 to a counter.
    pub fn inc(&self, name: &'static str, labels: &[(&str, &str)]) {
        self.add(name, labels, 1.0);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &'static str, v: f64) {
        self.gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name, v);
    }

    /// Replaces every series of a labelled gauge family.
    pub fn set_family(&self, name: &'static str, series: Vec<(Vec<(&str, String)>, f64)>) {
        let series = series
            .into_iter()
            .map(|(labels, v)| {
                let refs: Vec<(&str, &str)> =
                    labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                (label_text(&refs), v)
            })
            .collect();
        self.families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name, series);
    }

    /// A gauge's value (0 when never set), for tests; with labels, that series of a family.
    pub fn gauge(&self, name: &'static str, labels: &[(&str, &str)]) -> Option<f64> {
        if labels.is_empty() {
            return self
                .gauges
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(name)
                .copied();
        }
        let want = label_text(labels);
        self.families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)?
            .iter()
            .find(|(l, _)| *l == want)
            .map(|(_, v)| *v)
    }

    /// A counter's value (0 when never touched), for tests and logs.
    pub fn get(&self, name: &'static str, labels: &[(&str, &str)]) -> f64 {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(name, label_text(labels)))
            .copied()
            .unwrap_or(0.0)
    }

    /// Sum of a counter over all label sets.
    pub fn total(&self, name: &'static str) -> f64 {
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|((n, _), _)| *n == name)
            .map(|(_, v)| v)
            .sum()
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let gauges = self
            .gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let families = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = String::new();
        for (name, kind, help) in HELP {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            if let Some(series) = families.get(name) {
                for (labels, v) in series {
                    out.push_str(&format!("{name}{{{labels}}} {v}\n"));
                }
                continue;
            }
            if name.starts_with("dojo_miner_") {
                // A per-miner family with no miner yet has no series.
                continue;
            }
            if *kind == "gauge" {
                out.push_str(&format!(
                    "{name} {}\n",
                    gauges.get(name).copied().unwrap_or(0.0)
                ));
                continue;
            }
            for ((n, labels), v) in &counters {
                if n == name {
                    if labels.is_empty() {
                        out.push_str(&format!("{name} {v}\n"));
                    } else {
                        out.push_str(&format!("{name}{{{labels}}} {v}\n"));
                    }
                }
            }
        }
        out
    }

    pub(crate) fn progress(&self) {
        self.last_progress_ms
            .store(crate::service::now_ms(), Ordering::Relaxed);
    }
}

/// `/metrics` and `/healthz` over `metrics`.
pub fn router(metrics: std::sync::Arc<Metrics>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(m): State<std::sync::Arc<Metrics>>| async move {
                ([("content-type", "text/plain; version=0.0.4")], m.render())
            }),
        )
        .route(
            "/healthz",
            get(|State(m): State<std::sync::Arc<Metrics>>| async move {
                let block = m.last_block.load(Ordering::Relaxed);
                let body = format!(
                    "{{\"status\":\"{}\",\"metagraph_block\":{block},\"last_progress_ms\":{}}}",
                    if block > 0 { "ok" } else { "starting" },
                    m.last_progress_ms.load(Ordering::Relaxed)
                );
                let code = if block > 0 {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (code, [("content-type", "application/json")], body).into_response()
            }),
        )
        .with_state(metrics)
}
