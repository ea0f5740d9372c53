//! Report model (sections of metrics, tables and plots) and its outputs: `metrics.jsonl`, PNG plots
//! and a self-contained `report.html`.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::LabError;

/// A named number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// Name, e.g. `length_bias.spearman`.
    pub name: String,
    /// Value.
    pub value: f64,
}

/// A table of preformatted cells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Caption.
    pub title: String,
    /// Header.
    pub columns: Vec<String>,
    /// Rows (same width as `columns`).
    pub rows: Vec<Vec<String>>,
}

/// Plot data; rendered to PNG when the report is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Plot {
    /// Points, optionally with the `y = x` diagonal.
    Scatter {
        /// File stem.
        name: String,
        /// Title.
        title: String,
        /// X axis label.
        x_label: String,
        /// Y axis label.
        y_label: String,
        /// Points.
        points: Vec<(f64, f64)>,
        /// Draw `y = x`.
        diagonal: bool,
    },
    /// Histogram of values.
    Histogram {
        /// File stem.
        name: String,
        /// Title.
        title: String,
        /// X axis label.
        x_label: String,
        /// Values.
        values: Vec<f64>,
        /// Bin count.
        bins: usize,
    },
    /// Labelled bars.
    Bars {
        /// File stem.
        name: String,
        /// Title.
        title: String,
        /// Y axis label.
        y_label: String,
        /// Bar labels.
        labels: Vec<String>,
        /// Bar heights.
        values: Vec<f64>,
    },
}

impl Plot {
    /// File stem.
    pub fn name(&self) -> &str {
        match self {
            Plot::Scatter { name, .. } | Plot::Histogram { name, .. } | Plot::Bars { name, .. } => {
                name
            }
        }
    }
}

/// What one step contributes to the report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Section {
    /// Step id.
    pub step: String,
    /// Heading.
    pub title: String,
    /// Headline numbers.
    pub metrics: Vec<Metric>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Plots.
    pub plots: Vec<Plot>,
    /// Sentences for the reader (findings, caveats).
    pub notes: Vec<String>,
}

impl Section {
    /// An empty section for `step`.
    pub fn new(step: &str, title: impl Into<String>) -> Self {
        Self {
            step: step.to_owned(),
            title: title.into(),
            ..Self::default()
        }
    }

    /// Adds a metric when it is defined (undefined statistics are skipped, never written as NaN).
    pub fn metric(&mut self, name: impl Into<String>, value: Option<f64>) {
        if let Some(v) = value.filter(|v| v.is_finite()) {
            self.metrics.push(Metric {
                name: name.into(),
                value: v,
            });
        }
    }
}

/// Formats a number for tables.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

/// Optional number for tables.
pub fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), fmt_num)
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes `metrics.jsonl` (one `{step, name, value}` per line).
pub fn write_metrics(path: &Path, sections: &[Section]) -> Result<(), LabError> {
    let mut out = String::new();
    for s in sections {
        for m in &s.metrics {
            let line = serde_json::json!({"step": s.step, "name": m.name, "value": m.value});
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    std::fs::write(path, out).map_err(|e| LabError::io("writing", path, e))
}

/// Step status shown in the report header.
#[derive(Debug, Clone)]
pub struct StepLine {
    /// Step id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// `ran` or `cached`.
    pub status: String,
    /// Seconds spent.
    pub seconds: f64,
    /// Cache key prefix.
    pub key: String,
}

/// Renders plots into `dir/plots` and writes `dir/report.html`.
pub fn write_html(
    dir: &Path,
    name: &str,
    description: Option<&str>,
    steps: &[StepLine],
    sections: &[Section],
) -> Result<(), LabError> {
    let plots_dir = dir.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(|e| LabError::io("creating", &plots_dir, e))?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>\
body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}\
table{{border-collapse:collapse;margin:0.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:14px}}\
th{{background:#f0f0f0}}img{{max-width:100%;border:1px solid #ddd;margin:4px 0}}.note{{background:#fff8e0;padding:6px 10px;border-left:4px solid #e0b000}}\
</style></head><body><h1>{t}</h1>",
        t = esc(name)
    );
    if let Some(d) = description {
        let _ = write!(h, "<p>{}</p>", esc(d));
    }
    h.push_str("<h2>Steps</h2><table><tr><th>step</th><th>kind</th><th>status</th><th>seconds</th><th>cache key</th></tr>");
    for s in steps {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td><code>{}</code></td></tr>",
            esc(&s.id),
            esc(&s.kind),
            esc(&s.status),
            s.seconds,
            esc(&s.key)
        );
    }
    h.push_str("</table>");
    for s in sections {
        let _ = write!(
            h,
            "<h2>{} <small>({})</small></h2>",
            esc(&s.title),
            esc(&s.step)
        );
        for n in &s.notes {
            let _ = write!(h, "<p class=\"note\">{}</p>", esc(n));
        }
        if !s.metrics.is_empty() {
            h.push_str("<table><tr><th>metric</th><th>value</th></tr>");
            for m in &s.metrics {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    esc(&m.name),
                    fmt_num(m.value)
                );
            }
            h.push_str("</table>");
        }
        for t in &s.tables {
            let _ = write!(h, "<h3>{}</h3><table><tr>", esc(&t.title));
            for c in &t.columns {
                let _ = write!(h, "<th>{}</th>", esc(c));
            }
            h.push_str("</tr>");
            for r in &t.rows {
                h.push_str("<tr>");
                for c in r {
                    let _ = write!(h, "<td>{}</td>", esc(c));
                }
                h.push_str("</tr>");
            }
            h.push_str("</table>");
        }
        for p in &s.plots {
            let file = format!("{}-{}.png", file_stem(&s.step), file_stem(p.name()));
            crate::plot::render(p, &plots_dir.join(&file))?;
            let _ = write!(
                h,
                "<div><img src=\"plots/{}\" alt=\"{}\"></div>",
                esc(&file),
                esc(p.name())
            );
        }
    }
    h.push_str("</body></html>\n");
    let path = dir.join("report.html");
    std::fs::write(&path, h).map_err(|e| LabError::io("writing", &path, e))
}

fn file_stem(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
