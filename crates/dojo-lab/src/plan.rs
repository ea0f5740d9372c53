//! From a parsed config to an executable plan: ids resolved, the `requires` DAG ordered, files and
//! columns checked. Every mistake a config can hold is reported here, before any step runs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::config::{
    AnalysisStep, Columns, DataFormat, DataStep, ExperimentConfig, ModelKind, ModelStep,
    ProbeConfig, ProbeKind, QueryStep, StepConfig, StepKind, StoreField,
};
use crate::data;
use crate::error::LabError;
use crate::model::ModelFactory;

/// Where a model step's reward model comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    /// Constant baseline.
    Constant(f32),
    /// Length baseline.
    Length,
    /// Seeded random baseline.
    Random(u64),
    /// ONNX directory (explicit or the shipped model's install location).
    Onnx(PathBuf),
}

/// What the plan knows about each step after validation.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// A model step.
    Model(ModelSource),
    /// A data step.
    Data {
        /// Absolute or config-relative resolved path.
        path: PathBuf,
        /// Effective format.
        format: DataFormat,
        /// Columns (absent for events).
        columns: Option<Columns>,
    },
    /// A query step.
    Query {
        /// Index of its model step.
        model: usize,
        /// Index of its data step.
        data: usize,
        /// Effective store list.
        store: Vec<StoreField>,
        /// True for preference pairs.
        pairs: bool,
    },
    /// An analysis step.
    Analysis {
        /// Query steps it reads.
        queries: Vec<usize>,
        /// Model step (probes).
        model: Option<usize>,
        /// Data step (probes, network).
        data: Option<usize>,
    },
}

/// A validated experiment ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The config as parsed.
    pub config: ExperimentConfig,
    /// Config file name used in messages.
    pub file: String,
    /// Step indices in dependency order.
    pub order: Vec<usize>,
    /// Per step (same indexing as `config.steps`).
    pub resolved: Vec<Resolved>,
    /// Id → index.
    pub index: HashMap<String, usize>,
}

impl Plan {
    /// Index of the step with this id.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, line: u64, step: &str, message: impl Into<String>) -> LabError {
        LabError::Invalid {
            file: self.file.to_owned(),
            line,
            step: step.to_owned(),
            message: message.into(),
        }
    }
}

/// Validates `config` (read from `file`, with relative paths resolved against `base_dir`).
pub fn plan(
    config: ExperimentConfig,
    file: &str,
    base_dir: &Path,
    factory: &dyn ModelFactory,
) -> Result<Plan, LabError> {
    let cx = Ctx { file };
    if config.steps.is_empty() {
        return Err(cx.err(0, "-", "`steps` is empty"));
    }
    let mut index = HashMap::new();
    for (i, s) in config.steps.iter().enumerate() {
        let id = s.id();
        if id.value.trim().is_empty() {
            return Err(cx.err(id.line, "-", "step id is empty"));
        }
        if let Some(prev) = index.insert(id.value.clone(), i) {
            let prev_line = config.steps[prev].id().line;
            return Err(cx.err(
                id.line,
                &id.value,
                format!("duplicate step id (first defined on line {prev_line})"),
            ));
        }
    }
    for s in &config.steps {
        for r in s.requires() {
            if !index.contains_key(&r.value) {
                let known: Vec<&str> = config.steps.iter().map(|s| s.id().value.as_str()).collect();
                return Err(cx.err(
                    r.line,
                    &s.id().value,
                    format!(
                        "requires unknown step `{}` (steps: {})",
                        r.value,
                        known.join(", ")
                    ),
                ));
            }
            if r.value == s.id().value {
                return Err(LabError::Cycle {
                    file: file.to_owned(),
                    cycle: vec![r.value.clone(), r.value.clone()],
                });
            }
        }
    }
    let order = topo_order(&config, &index, file)?;

    let mut resolved: Vec<Option<Resolved>> = vec![None; config.steps.len()];
    for &i in &order {
        let r = match &config.steps[i] {
            StepConfig::Model(m) => Resolved::Model(check_model(&cx, m, base_dir, factory)?),
            StepConfig::Data(d) => check_data(&cx, d, base_dir)?,
            StepConfig::Query(q) => check_query(&cx, q, &config, &index, &resolved)?,
            StepConfig::Analysis(a) => check_analysis(&cx, a, &config, &index, &resolved)?,
        };
        resolved[i] = Some(r);
    }
    let resolved = resolved
        .into_iter()
        .map(|r| r.expect("every index is in the topological order"))
        .collect();
    Ok(Plan {
        config,
        file: file.to_owned(),
        order,
        resolved,
        index,
    })
}

/// Kahn-free DFS ordering that reports the first cycle it meets as a path of ids.
fn topo_order(
    config: &ExperimentConfig,
    index: &HashMap<String, usize>,
    file: &str,
) -> Result<Vec<usize>, LabError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        config: &ExperimentConfig,
        index: &HashMap<String, usize>,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<String>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..]
                    .iter()
                    .map(|&s| config.steps[s].id().value.clone())
                    .collect();
                cycle.push(config.steps[i].id().value.clone());
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        stack.push(i);
        for r in config.steps[i].requires() {
            if let Some(&j) = index.get(&r.value) {
                visit(j, config, index, marks, stack, out)?;
            }
        }
        stack.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; config.steps.len()];
    let mut out = Vec::with_capacity(config.steps.len());
    for i in 0..config.steps.len() {
        let mut stack = Vec::new();
        visit(i, config, index, &mut marks, &mut stack, &mut out).map_err(|cycle| {
            LabError::Cycle {
                file: file.to_owned(),
                cycle,
            }
        })?;
    }
    Ok(out)
}

fn check_model(
    cx: &Ctx<'_>,
    m: &ModelStep,
    base: &Path,
    factory: &dyn ModelFactory,
) -> Result<ModelSource, LabError> {
    let id = &m.id.value;
    let kind = m.kind.value;
    let only = |present: bool, key: &str, for_kind: &str| {
        if present {
            Err(cx.err(
                m.id.line,
                id,
                format!("key `{key}` only applies to `kind: {for_kind}`"),
            ))
        } else {
            Ok(())
        }
    };
    only(
        m.value.is_some() && kind != ModelKind::Constant,
        "value",
        "constant",
    )?;
    only(
        m.seed.is_some() && kind != ModelKind::Random,
        "seed",
        "random",
    )?;
    only(m.path.is_some() && kind != ModelKind::Onnx, "path", "onnx")?;
    Ok(match kind {
        ModelKind::Constant => {
            let v = m.value.unwrap_or(0.0);
            if !v.is_finite() {
                return Err(cx.err(m.id.line, id, "`value` must be finite"));
            }
            ModelSource::Constant(v)
        }
        ModelKind::Length => ModelSource::Length,
        ModelKind::Random => ModelSource::Random(m.seed.unwrap_or(0)),
        ModelKind::Onnx => {
            let Some(p) = &m.path else {
                return Err(cx.err(
                    m.kind.line,
                    id,
                    "`kind: onnx` needs `path: <model directory>`",
                ));
            };
            let full = base.join(&p.value);
            if !full.exists() {
                return Err(cx.err(
                    p.line,
                    id,
                    format!("model path {} does not exist", full.display()),
                ));
            }
            ModelSource::Onnx(full)
        }
        ModelKind::Shipped => match factory.shipped_dir() {
            Some(dir) if dir.exists() => ModelSource::Onnx(dir),
            Some(dir) => {
                return Err(cx.err(
                    m.kind.line,
                    id,
                    format!(
                        "the shipped reward model is not installed at {} (run `cargo xtask setup`)",
                        dir.display()
                    ),
                ));
            }
            None => {
                return Err(cx.err(
                    m.kind.line,
                    id,
                    "the shipped reward model location is unknown: set DOJO_REWARD_MODEL_DIR (printed by `cargo xtask setup`) or pass --reward.shipped-dir",
                ));
            }
        },
    })
}

fn check_data(cx: &Ctx<'_>, d: &DataStep, base: &Path) -> Result<Resolved, LabError> {
    let id = &d.id.value;
    let path = base.join(&d.path.value);
    if !path.is_file() {
        return Err(cx.err(
            d.path.line,
            id,
            format!("data file {} does not exist", path.display()),
        ));
    }
    let format = d
        .effective_format()
        .map_err(|m| cx.err(d.path.line, id, m))?;
    if let Some(s) = &d.sample
        && s.n.value == 0
    {
        return Err(cx.err(s.n.line, id, "`sample.n` must be at least 1"));
    }
    if format == DataFormat::Events {
        if let Some(s) = &d.schema {
            return Err(cx.err(
                s.line,
                id,
                "`schema` does not apply to `format: events` (the event format is fixed)",
            ));
        }
        return Ok(Resolved::Data {
            path,
            format,
            columns: None,
        });
    }
    let (schema, line) = match &d.schema {
        Some(s) => (s.value.clone(), s.line),
        None => (Default::default(), d.id.line),
    };
    let columns = schema
        .columns()
        .map_err(|m| cx.err(line, id, format!("schema: {m}")))?;
    let header = data::read_header(&path, format)?;
    let wanted: Vec<&str> = match &columns {
        Columns::Pairs {
            prompt,
            chosen,
            rejected,
        } => vec![prompt, chosen, rejected],
        Columns::Completions {
            prompt,
            completions,
        } => vec![prompt, completions],
    }
    .into_iter()
    .map(String::as_str)
    .collect();
    for w in wanted {
        if !header.iter().any(|h| h == w) {
            return Err(cx.err(
                line,
                id,
                format!(
                    "column `{w}` not found in {} (columns: {})",
                    path.display(),
                    header.join(", ")
                ),
            ));
        }
    }
    Ok(Resolved::Data {
        path,
        format,
        columns: Some(columns),
    })
}

fn kind_of(config: &ExperimentConfig, i: usize) -> StepKind {
    config.steps[i].kind()
}

fn check_query(
    cx: &Ctx<'_>,
    q: &QueryStep,
    config: &ExperimentConfig,
    index: &HashMap<String, usize>,
    resolved: &[Option<Resolved>],
) -> Result<Resolved, LabError> {
    let id = &q.id.value;
    let mut model = None;
    let mut data = None;
    for r in &q.requires {
        let j = index[&r.value];
        match kind_of(config, j) {
            StepKind::Model if model.is_none() => model = Some(j),
            StepKind::Data if data.is_none() => data = Some(j),
            k => {
                return Err(cx.err(
                    r.line,
                    id,
                    format!("a query requires exactly one model and one data step; `{}` is an extra {k} step", r.value),
                ));
            }
        }
    }
    let (Some(model), Some(data)) = (model, data) else {
        return Err(cx.err(
            q.id.line,
            id,
            "a query requires exactly one model step and one data step",
        ));
    };
    let pairs = match &resolved[data] {
        Some(Resolved::Data {
            columns: Some(Columns::Pairs { .. }),
            ..
        }) => true,
        Some(Resolved::Data {
            columns: Some(Columns::Completions { .. }),
            ..
        }) => false,
        _ => {
            return Err(cx.err(
                q.id.line,
                id,
                format!(
                    "data step `{}` is an event log; queries need pairs or completions",
                    config.steps[data].id().value
                ),
            ));
        }
    };
    if q.batch_size.value == 0 {
        return Err(cx.err(q.batch_size.line, id, "`batch_size` must be at least 1"));
    }
    if q.embedding_dim.value == 0 {
        return Err(cx.err(
            q.embedding_dim.line,
            id,
            "`embedding_dim` must be at least 1",
        ));
    }
    if let Some(t) = &q.truncate
        && (t.prompt_chars == Some(0) || t.completion_chars == Some(0))
    {
        return Err(cx.err(
            q.id.line,
            id,
            "`truncate` limits must be at least 1 character",
        ));
    }
    let applicable: &[StoreField] = if pairs {
        &[
            StoreField::ChosenEndScores,
            StoreField::RejectedEndScores,
            StoreField::Margins,
            StoreField::Loss,
            StoreField::TokenCounts,
            StoreField::Embeddings,
        ]
    } else {
        &[
            StoreField::Scores,
            StoreField::TokenCounts,
            StoreField::Embeddings,
        ]
    };
    let store = match &q.store {
        None => applicable.to_vec(),
        Some(s) => {
            for f in &s.value {
                if !applicable.contains(f) {
                    let what = if pairs {
                        "preference pairs"
                    } else {
                        "completions"
                    };
                    return Err(cx.err(
                        s.line,
                        id,
                        format!("`store: {f:?}` does not apply to {what}"),
                    ));
                }
            }
            let set: BTreeSet<StoreField> = s.value.iter().copied().collect();
            set.into_iter().collect()
        }
    };
    Ok(Resolved::Query {
        model,
        data,
        store,
        pairs,
    })
}

/// Columns a query result offers as targets or plot axes.
pub fn query_columns(store: &[StoreField], pairs: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    for f in store {
        match f {
            StoreField::ChosenEndScores => out.push("chosen_end_scores"),
            StoreField::RejectedEndScores => out.push("rejected_end_scores"),
            StoreField::Margins => out.push("margins"),
            StoreField::Loss => out.push("loss"),
            StoreField::Scores => out.push("scores"),
            StoreField::TokenCounts => {
                out.push("prompt_tokens");
                out.push("completion_tokens");
            }
            StoreField::Embeddings => {}
        }
    }
    if pairs
        && store.contains(&StoreField::ChosenEndScores)
        && store.contains(&StoreField::RejectedEndScores)
    {
        out.push("correct");
    }
    out
}

fn check_analysis(
    cx: &Ctx<'_>,
    a: &AnalysisStep,
    config: &ExperimentConfig,
    index: &HashMap<String, usize>,
    resolved: &[Option<Resolved>],
) -> Result<Resolved, LabError> {
    let id = &a.id.value;
    let mut queries = Vec::new();
    let mut model = None;
    let mut data = None;
    for r in &a.requires {
        let j = index[&r.value];
        match kind_of(config, j) {
            StepKind::Query => queries.push(j),
            StepKind::Model if model.is_none() => model = Some(j),
            StepKind::Data if data.is_none() => data = Some(j),
            k => {
                return Err(cx.err(
                    r.line,
                    id,
                    format!(
                        "an analysis takes at most one {k} step; `{}` is a second one",
                        r.value
                    ),
                ));
            }
        }
    }
    let tabular = !a.features.is_empty() || !a.predict.is_empty() || !a.plot.is_empty();
    if !tabular && a.probes.is_empty() && a.network.is_none() {
        return Err(cx.err(
            a.id.line,
            id,
            "the analysis does nothing: give `features`/`predict`/`plot`, `probes` or `network`",
        ));
    }
    if a.embedding_dim.value == 0 {
        return Err(cx.err(
            a.embedding_dim.line,
            id,
            "`embedding_dim` must be at least 1",
        ));
    }
    if a.batch_size.value == 0 {
        return Err(cx.err(a.batch_size.line, id, "`batch_size` must be at least 1"));
    }
    let data_is_events = data.map(|d| {
        matches!(
            &resolved[d],
            Some(Resolved::Data {
                format: DataFormat::Events,
                ..
            })
        )
    });
    if let Some(net) = &a.network {
        if data_is_events != Some(true) {
            return Err(cx.err(
                a.id.line,
                id,
                "`network` needs one data step with `format: events` in `requires`",
            ));
        }
        if net.top == 0 || net.top_completions == 0 {
            return Err(cx.err(
                a.id.line,
                id,
                "`network.top` and `network.top_completions` must be at least 1",
            ));
        }
        if !(net.min_similarity > 0.0 && net.min_similarity <= 1.0) {
            return Err(cx.err(a.id.line, id, "`network.min_similarity` must be in (0, 1]"));
        }
        if !(net.time_bucket_s.is_finite() && net.time_bucket_s > 0.0) {
            return Err(cx.err(a.id.line, id, "`network.time_bucket_s` must be > 0"));
        }
    }
    if !a.probes.is_empty() {
        if model.is_none() || data_is_events != Some(false) {
            return Err(cx.err(
                a.id.line,
                id,
                "`probes` need one model step and one (non-event) data step in `requires`",
            ));
        }
        for p in &a.probes {
            check_probe(cx, id, p)?;
        }
    }
    if data_is_events == Some(true) && a.network.is_none() {
        return Err(cx.err(
            a.id.line,
            id,
            "an `events` data step is only used by `network`",
        ));
    }
    if model.is_some() && a.probes.is_empty() {
        return Err(cx.err(
            a.id.line,
            id,
            "a model step in `requires` is only used by `probes`",
        ));
    }
    if tabular {
        if queries.is_empty() {
            return Err(cx.err(
                a.id.line,
                id,
                "`features`, `predict` and `plot` need at least one query step in `requires`",
            ));
        }
        let mut pairs_kind = None;
        let mut available: Option<BTreeSet<&'static str>> = None;
        for &q in &queries {
            let Some(Resolved::Query { store, pairs, .. }) = &resolved[q] else {
                continue;
            };
            if pairs_kind.is_some_and(|p| p != *pairs) {
                return Err(cx.err(
                    a.id.line,
                    id,
                    "all queries of an analysis must score the same kind of data",
                ));
            }
            pairs_kind = Some(*pairs);
            let cols: BTreeSet<&'static str> = query_columns(store, *pairs).into_iter().collect();
            available = Some(match available {
                None => cols,
                Some(prev) => prev.intersection(&cols).copied().collect(),
            });
        }
        let targets = available.unwrap_or_default();
        let feature_names: BTreeSet<&str> = a.features.iter().map(|f| f.name()).collect();
        for (name, e) in &a.estimators {
            e.args
                .value
                .check()
                .map_err(|m| cx.err(e.args.line, id, format!("estimator `{name}`: {m}")))?;
        }
        for (target, p) in &a.predict {
            if !targets.contains(target.as_str()) {
                return Err(cx.err(
                    p.x.line,
                    id,
                    format!(
                        "predict target `{target}` is not stored by the required queries (available: {})",
                        targets.iter().copied().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if !a.estimators.contains_key(&p.estimator.value) {
                return Err(cx.err(
                    p.estimator.line,
                    id,
                    format!("unknown estimator `{}`", p.estimator.value),
                ));
            }
            if p.x.value.is_empty() {
                return Err(cx.err(p.x.line, id, format!("predict `{target}`: `x` is empty")));
            }
            for x in &p.x.value {
                if !feature_names.contains(x.as_str()) {
                    return Err(cx.err(
                        p.x.line,
                        id,
                        format!(
                            "predict `{target}`: `{x}` is not listed in `features` ({})",
                            names_list(&feature_names)
                        ),
                    ));
                }
            }
            if !(p.test_fraction > 0.0 && p.test_fraction < 1.0) {
                return Err(cx.err(
                    p.x.line,
                    id,
                    format!("predict `{target}`: `test_fraction` must be in (0, 1)"),
                ));
            }
        }
        for entry in &a.plot {
            for (target, xs) in &entry.value {
                if !targets.contains(target.as_str()) {
                    return Err(cx.err(
                        entry.line,
                        id,
                        format!("plot target `{target}` is not stored by the required queries"),
                    ));
                }
                for x in xs {
                    let is_feature = feature_names.contains(x.as_str()) && x != "embedding";
                    if !is_feature && !targets.contains(x.as_str()) {
                        return Err(cx.err(
                            entry.line,
                            id,
                            format!("plot `{target}`: `{x}` is neither a scalar feature in `features` nor a stored column"),
                        ));
                    }
                }
            }
        }
    } else if !queries.is_empty() {
        return Err(cx.err(
            a.id.line,
            id,
            "query steps in `requires` are only used by `features`/`predict`/`plot`",
        ));
    }
    Ok(Resolved::Analysis {
        queries,
        model,
        data,
    })
}

fn names_list(s: &BTreeSet<&str>) -> String {
    if s.is_empty() {
        "none".to_owned()
    } else {
        s.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

fn check_probe(cx: &Ctx<'_>, step: &str, p: &ProbeConfig) -> Result<(), LabError> {
    let kind = p.kind.value;
    let line = p.kind.line;
    let only = |present: bool, key: &str, k: ProbeKind| {
        if present && kind != k {
            Err(cx.err(
                line,
                step,
                format!("probe key `{key}` only applies to `kind: {k:?}`"),
            ))
        } else {
            Ok(())
        }
    };
    only(p.pad_factor.is_some(), "pad_factor", ProbeKind::LengthBias)?;
    only(p.filler.is_some(), "filler", ProbeKind::LengthBias)?;
    only(p.keywords.is_some(), "keywords", ProbeKind::KeywordStuffing)?;
    only(
        p.from_prompt.is_some(),
        "from_prompt",
        ProbeKind::KeywordStuffing,
    )?;
    only(p.repeats.is_some(), "repeats", ProbeKind::Repetition)?;
    if let Some(f) = &p.pad_factor
        && !(f.value.is_finite() && f.value > 1.0 && f.value <= 100.0)
    {
        return Err(cx.err(
            f.line,
            step,
            format!("`pad_factor` must be in (1, 100], got {}", f.value),
        ));
    }
    if let Some(r) = &p.repeats
        && !(2..=50).contains(&r.value)
    {
        return Err(cx.err(
            r.line,
            step,
            format!("`repeats` must be in 2..=50, got {}", r.value),
        ));
    }
    if let Some(k) = &p.keywords
        && (k.value.is_empty() || k.value.iter().any(|w| w.trim().is_empty()))
    {
        return Err(cx.err(
            k.line,
            step,
            "`keywords` must be a non-empty list of non-empty words",
        ));
    }
    if let Some(f) = &p.filler
        && f.trim().is_empty()
    {
        return Err(cx.err(line, step, "`filler` must not be empty"));
    }
    Ok(())
}
