//! The runner: plan, compute cache keys, run only the steps whose outputs are missing, write the
//! run directory (config, log, metrics, plots, report).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use dojo_types::ports::RewardModel;
use serde::Serialize;

use crate::cache::{Cache, step_key};
use crate::config::{ExperimentConfig, StepConfig, StepKind};
use crate::data::{self, Dataset};
use crate::error::LabError;
use crate::model::{self, ModelFactory};
use crate::plan::{Plan, Resolved, plan};
use crate::query::{self, QueryJob, QueryResult};
use crate::report::{self, Section, StepLine};
use crate::stats;

/// Where a run writes and whether it draws progress bars.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Parent of the run directories.
    pub out_dir: PathBuf,
    /// Step artifact cache (shared between runs).
    pub cache_dir: PathBuf,
    /// Draw progress bars on stderr.
    pub progress: bool,
}

/// What happened to one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    /// Step id.
    pub id: String,
    /// Kind.
    pub kind: StepKind,
    /// `ran`, `cached`, `loaded` (models) or `not needed` (models whose dependents were cached).
    pub status: &'static str,
    /// Seconds spent.
    pub seconds: f64,
    /// Cache key.
    pub key: String,
}

/// Result of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run directory.
    pub run_dir: PathBuf,
    /// Per step, in execution order.
    pub steps: Vec<StepOutcome>,
    /// Report sections.
    pub sections: Vec<Section>,
}

/// Parses and validates a config file without running anything.
pub fn prepare(config_path: &Path, factory: &dyn ModelFactory) -> Result<(Plan, String), LabError> {
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| LabError::io("reading config", config_path, e))?;
    let file = config_path.display().to_string();
    let config = ExperimentConfig::from_yaml(&text, &file)?;
    let base = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok((plan(config, &file, &base, factory)?, text))
}

/// Runs the experiment in `config_path`.
pub fn run(
    config_path: &Path,
    factory: &dyn ModelFactory,
    opts: &RunOptions,
) -> Result<RunSummary, LabError> {
    let (plan, text) = prepare(config_path, factory)?;
    execute(&plan, &text, factory, opts)
}

struct State<'a> {
    plan: &'a Plan,
    factory: &'a dyn ModelFactory,
    cache: Cache,
    keys: Vec<String>,
    progress: bool,
    models: HashMap<usize, Arc<dyn RewardModel>>,
    datasets: HashMap<usize, Dataset>,
    queries: HashMap<usize, QueryResult>,
    log: Option<std::fs::File>,
}

impl State<'_> {
    fn id(&self, i: usize) -> &str {
        &self.plan.config.steps[i].id().value
    }

    fn log(&mut self, msg: &str) {
        tracing::info!(target: "lab::run", "{msg}");
        if let Some(f) = &mut self.log {
            let ts = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let _ = writeln!(f, "{ts:.3} {msg}");
        }
    }

    fn model(&mut self, i: usize) -> Result<Arc<dyn RewardModel>, LabError> {
        if let Some(m) = self.models.get(&i) {
            return Ok(Arc::clone(m));
        }
        let Resolved::Model(src) = &self.plan.resolved[i] else {
            return Err(LabError::ModelLoad {
                step: self.id(i).to_owned(),
                message: "not a model step".to_owned(),
            });
        };
        let t = Instant::now();
        let m = model::build(self.id(i), src, self.factory)?;
        let msg = format!(
            "model `{}` loaded ({}) in {:.2}s",
            self.id(i),
            m.name(),
            t.elapsed().as_secs_f64()
        );
        self.log(&msg);
        self.models.insert(i, Arc::clone(&m));
        Ok(m)
    }

    fn data(&mut self, i: usize) -> Result<&Dataset, LabError> {
        if !self.datasets.contains_key(&i) {
            let entry = self.cache.entry(self.id(i), &self.keys[i]);
            let ds = match self.cache.load::<Dataset>(&entry)? {
                Some(ds) => ds,
                None => self.compute_data(i)?,
            };
            self.datasets.insert(i, ds);
        }
        Ok(&self.datasets[&i])
    }

    fn compute_data(&mut self, i: usize) -> Result<Dataset, LabError> {
        let Resolved::Data {
            path,
            format,
            columns,
        } = &self.plan.resolved[i]
        else {
            unreachable!("data() is only called on data steps");
        };
        let StepConfig::Data(cfg) = &self.plan.config.steps[i] else {
            unreachable!("resolved data step")
        };
        let ds = data::load(path, *format, columns.as_ref(), cfg.sample.as_ref())?;
        let entry = self.cache.entry(self.id(i), &self.keys[i]);
        self.cache.store(&entry, &ds)?;
        Ok(ds)
    }

    fn query(&mut self, i: usize) -> Result<&QueryResult, LabError> {
        if !self.queries.contains_key(&i) {
            let entry = self.cache.entry(self.id(i), &self.keys[i]);
            let q = match self.cache.load::<QueryResult>(&entry)? {
                Some(q) => q,
                None => self.compute_query(i)?,
            };
            self.queries.insert(i, q);
        }
        Ok(&self.queries[&i])
    }

    fn compute_query(&mut self, i: usize) -> Result<QueryResult, LabError> {
        let Resolved::Query {
            model, data, store, ..
        } = &self.plan.resolved[i]
        else {
            unreachable!("query() is only called on query steps");
        };
        let StepConfig::Query(cfg) = &self.plan.config.steps[i] else {
            unreachable!("resolved query step")
        };
        let m = self.model(*model)?;
        self.data(*data)?;
        let partial = self.cache.partial(self.id(i), &self.keys[i]);
        let job = QueryJob {
            step: &cfg.id.value,
            batch_size: cfg.batch_size.value,
            truncate: cfg.truncate.clone().unwrap_or_default(),
            store,
            embedding_dim: cfg.embedding_dim.value,
            partial: &partial,
            progress: self.progress,
        };
        let result = query::run(&job, m.as_ref(), &self.datasets[data])?;
        let entry = self.cache.entry(self.id(i), &self.keys[i]);
        self.cache.store(&entry, &result)?;
        let _ = std::fs::remove_file(&partial);
        Ok(result)
    }

    fn analysis(&mut self, i: usize) -> Result<Section, LabError> {
        let Resolved::Analysis {
            queries,
            model,
            data,
        } = self.plan.resolved[i].clone()
        else {
            unreachable!("analysis() is only called on analysis steps");
        };
        let StepConfig::Analysis(cfg) = &self.plan.config.steps[i] else {
            unreachable!("resolved analysis step")
        };
        let mut section = Section::new(&cfg.id.value, format!("Analysis `{}`", cfg.id.value));
        if !queries.is_empty() {
            for &q in &queries {
                self.query(q)?;
            }
            let qs: Vec<(&str, &QueryResult)> = queries
                .iter()
                .map(|q| (self.id(*q), &self.queries[q]))
                .collect();
            section = crate::analysis::run(cfg, &qs)?;
        }
        if !cfg.probes.is_empty()
            && let (Some(m), Some(d)) = (model, data)
        {
            let model = self.model(m)?;
            self.data(d)?;
            let p = crate::probes::run(cfg, model.as_ref(), &self.datasets[&d], self.progress)?;
            merge(&mut section, p);
        }
        if let (Some(net), Some(d)) = (&cfg.network, data) {
            let Dataset::Events(events) = self.data(d)? else {
                return Err(LabError::Data {
                    path: PathBuf::new(),
                    line: 0,
                    message: "network needs events".to_owned(),
                });
            };
            let n = crate::network::run(&cfg.id.value, net, events)?;
            merge(&mut section, n);
        }
        Ok(section)
    }
}

fn merge(into: &mut Section, other: Section) {
    if into.metrics.is_empty() && into.tables.is_empty() && into.plots.is_empty() {
        into.title = other.title;
    }
    into.metrics.extend(other.metrics);
    into.tables.extend(other.tables);
    into.plots.extend(other.plots);
    into.notes.extend(other.notes);
}

/// Cache keys for every step, in plan order (inputs before dependents).
pub fn compute_keys(plan: &Plan) -> Result<Vec<String>, LabError> {
    let mut keys = vec![String::new(); plan.config.steps.len()];
    for &i in &plan.order {
        let step = &plan.config.steps[i];
        let json = serde_json::to_string(step).map_err(|e| LabError::Cache {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        let external = match &plan.resolved[i] {
            Resolved::Model(src) => model::fingerprint(src)?,
            Resolved::Data { path, .. } => model::hash_path(path)?,
            _ => String::new(),
        };
        let inputs: Vec<&str> = step
            .requires()
            .iter()
            .filter_map(|r| plan.step_index(&r.value))
            .map(|j| keys[j].as_str())
            .collect();
        keys[i] = step_key(&step.kind().to_string(), &json, &inputs, &external);
    }
    Ok(keys)
}

fn make_run_dir(out: &Path, name: &str) -> Result<PathBuf, LabError> {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for n in 0..1000 {
        let dir = if n == 0 {
            out.join(format!("{stem}-{secs}"))
        } else {
            out.join(format!("{stem}-{secs}-{n}"))
        };
        match std::fs::create_dir_all(out).and_then(|()| std::fs::create_dir(&dir)) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(LabError::io("creating run directory", dir, e)),
        }
    }
    Err(LabError::io(
        "creating run directory",
        out,
        std::io::Error::other("too many runs in the same second"),
    ))
}

/// Runs a validated plan.
pub fn execute(
    plan: &Plan,
    config_text: &str,
    factory: &dyn ModelFactory,
    opts: &RunOptions,
) -> Result<RunSummary, LabError> {
    let keys = compute_keys(plan)?;
    let run_dir = make_run_dir(&opts.out_dir, &plan.config.name)?;
    let cfg_path = run_dir.join("config.yaml");
    std::fs::write(&cfg_path, config_text).map_err(|e| LabError::io("writing", &cfg_path, e))?;
    let log_path = run_dir.join("run.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| LabError::io("creating", &log_path, e))?;
    let mut st = State {
        plan,
        factory,
        cache: Cache::open(&opts.cache_dir)?,
        keys,
        progress: opts.progress,
        models: HashMap::new(),
        datasets: HashMap::new(),
        queries: HashMap::new(),
        log: Some(log),
    };
    st.log(&format!(
        "run `{}` in {}",
        plan.config.name,
        run_dir.display()
    ));
    let mut outcomes: Vec<StepOutcome> = Vec::new();
    let mut sections = Vec::new();
    for &i in &plan.order {
        let step = &plan.config.steps[i];
        let id = step.id().value.clone();
        let key = st.keys[i].clone();
        let entry = st.cache.entry(&id, &key);
        let t = Instant::now();
        let status = match step.kind() {
            StepKind::Model => "lazy",
            StepKind::Data | StepKind::Query if entry.exists() => "cached",
            StepKind::Data => {
                st.data(i)?;
                "ran"
            }
            StepKind::Query => {
                st.query(i)?;
                "ran"
            }
            StepKind::Analysis => match st.cache.load::<Section>(&entry)? {
                Some(s) => {
                    sections.push(s);
                    "cached"
                }
                None => {
                    let s = st.analysis(i)?;
                    st.cache.store(&entry, &s)?;
                    sections.push(s);
                    "ran"
                }
            },
        };
        if step.kind() == StepKind::Query {
            let q = st.query(i)?;
            sections.push(query_section(&id, q));
        }
        let seconds = t.elapsed().as_secs_f64();
        if status != "lazy" {
            st.log(&format!(
                "step `{id}` ({}) {status} in {seconds:.2}s, key {}",
                step.kind(),
                &key[..16]
            ));
        }
        outcomes.push(StepOutcome {
            id,
            kind: step.kind(),
            status,
            seconds,
            key,
        });
    }
    for o in &mut outcomes {
        if o.status == "lazy" {
            let i = plan.step_index(&o.id).unwrap_or(usize::MAX);
            o.status = if st.models.contains_key(&i) {
                "loaded"
            } else {
                "not needed"
            };
        }
    }
    // Queries first, then analyses, each in plan order.
    sections.sort_by_key(|s: &Section| !s.title.starts_with("Query"));
    report::write_metrics(&run_dir.join("metrics.jsonl"), &sections)?;
    let lines: Vec<StepLine> = outcomes
        .iter()
        .map(|o| StepLine {
            id: o.id.clone(),
            kind: o.kind.to_string(),
            status: o.status.to_owned(),
            seconds: o.seconds,
            key: o.key[..16].to_owned(),
        })
        .collect();
    report::write_html(
        &run_dir,
        &plan.config.name,
        plan.config.description.as_deref(),
        &lines,
        &sections,
    )?;
    let summary_path = run_dir.join("steps.json");
    let summary = serde_json::to_vec_pretty(&outcomes).map_err(|e| LabError::Cache {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&summary_path, summary)
        .map_err(|e| LabError::io("writing", &summary_path, e))?;
    st.log(&format!(
        "report written to {}",
        run_dir.join("report.html").display()
    ));
    Ok(RunSummary {
        run_dir,
        steps: outcomes,
        sections,
    })
}

fn query_section(id: &str, q: &QueryResult) -> Section {
    let mut s = Section::new(id, format!("Query `{id}`"));
    s.metric("rows", Some(q.len() as f64));
    for (name, col) in &q.columns {
        let name = if name == "correct" {
            "pair_accuracy"
        } else {
            name.as_str()
        };
        s.metric(format!("{name}.mean"), stats::mean(col));
    }
    if let Some(m) = q.columns.get("margins") {
        s.plots.push(report::Plot::Histogram {
            name: "margins".to_owned(),
            title: format!("`{id}`: chosen minus rejected reward"),
            x_label: "margin".to_owned(),
            values: m.clone(),
            bins: 20,
        });
    }
    if let Some(m) = q.columns.get("scores") {
        s.plots.push(report::Plot::Histogram {
            name: "scores".to_owned(),
            title: format!("`{id}`: reward distribution"),
            x_label: "reward".to_owned(),
            values: m.clone(),
            bins: 20,
        });
    }
    s
}
