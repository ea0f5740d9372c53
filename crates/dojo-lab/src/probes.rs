//! Exploit probes: perturb answers in ways that should not make them better (padding, keyword
//! stuffing, repetition, copying) and measure how much the reward model pays for it.
//!
//! Every probe is paired: the same item is scored before and after the perturbation, so the
//! effect size is Cohen's d_z of the score differences, alongside the mean difference and the
//! share of items the perturbation improved. On preference pairs the probe also perturbs the
//! rejected answer and reports how often that overturns a correct ranking (the flip rate).

use dojo_types::ports::{RewardInput, RewardModel};

use crate::config::{AnalysisStep, ProbeConfig, ProbeKind};
use crate::data::Dataset;
use crate::error::LabError;
use crate::query::progress_bar;
use crate::report::{Plot, Section, Table, fmt_opt};
use crate::stats;
use crate::text;

const DEFAULT_FILLER: &str =
    "It is also worth keeping in mind that there are several different aspects to consider here.";
const DEFAULT_KEYWORDS: &[&str] = &[
    "accurate",
    "helpful",
    "detailed",
    "correct",
    "comprehensive",
    "clear",
];

struct Items {
    prompts: Vec<String>,
    chosen: Vec<String>,
    rejected: Option<Vec<String>>,
}

fn items(data: &Dataset) -> Items {
    match data {
        Dataset::Pairs(rows) => Items {
            prompts: rows.iter().map(|r| r.prompt.clone()).collect(),
            chosen: rows.iter().map(|r| r.chosen.clone()).collect(),
            rejected: Some(rows.iter().map(|r| r.rejected.clone()).collect()),
        },
        Dataset::Completions(rows) => Items {
            prompts: rows.iter().map(|r| r.prompt.clone()).collect(),
            chosen: rows.iter().map(|r| r.completion.clone()).collect(),
            rejected: None,
        },
        Dataset::Events(_) => Items {
            prompts: Vec::new(),
            chosen: Vec::new(),
            rejected: None,
        },
    }
}

struct Scorer<'a> {
    step: &'a str,
    model: &'a dyn RewardModel,
    batch: usize,
    progress: bool,
}

impl Scorer<'_> {
    fn score(
        &self,
        label: &str,
        prompts: &[String],
        texts: &[String],
    ) -> Result<Vec<f64>, LabError> {
        let bar = progress_bar(self.progress, texts.len() as u64, label);
        let mut out = Vec::with_capacity(texts.len());
        let inputs: Vec<RewardInput<'_>> = prompts
            .iter()
            .zip(texts)
            .map(|(p, t)| RewardInput::new(p, t))
            .collect();
        for chunk in inputs.chunks(self.batch) {
            let s = self
                .model
                .score_batch(chunk)
                .map_err(|source| LabError::Reward {
                    step: self.step.to_owned(),
                    source,
                })?;
            if s.len() != chunk.len() {
                return Err(LabError::Reward {
                    step: self.step.to_owned(),
                    source: dojo_types::ports::RewardError::Shape {
                        expected: chunk.len(),
                        got: s.len(),
                    },
                });
            }
            out.extend(s.into_iter().map(f64::from));
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(out)
    }
}

fn pad(s: &str, factor: f64, filler: &str) -> String {
    let target = (text::char_len(s) * factor).ceil();
    let mut out = s.to_owned();
    while text::char_len(&out) < target {
        out.push(' ');
        out.push_str(filler);
    }
    out
}

fn stuff(s: &str, prompt: &str, keywords: &[String], from_prompt: bool) -> String {
    let mut words: Vec<String> = keywords.to_vec();
    if from_prompt {
        words.extend(text::content_words(prompt));
    }
    format!("{s} {}", words.join(" "))
}

fn repeat(s: &str, n: usize) -> String {
    vec![s; n].join(" ")
}

/// One perturbation's effect.
struct Effect {
    name: String,
    deltas: Vec<f64>,
    flip_rate: Option<f64>,
    base: Vec<f64>,
    perturbed: Vec<f64>,
}

fn record(s: &mut Section, table: &mut Table, e: &Effect) {
    let mean = stats::mean(&e.deltas);
    let sd = stats::std_dev(&e.deltas);
    let dz = stats::cohens_dz(&e.deltas);
    let win = stats::mean(
        &e.deltas
            .iter()
            .map(|d| if *d > 0.0 { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    );
    s.metric(format!("{}.mean_delta", e.name), mean);
    s.metric(format!("{}.dz", e.name), dz);
    s.metric(format!("{}.win_rate", e.name), win);
    s.metric(format!("{}.flip_rate", e.name), e.flip_rate);
    table.rows.push(vec![
        e.name.clone(),
        e.deltas.len().to_string(),
        fmt_opt(mean),
        fmt_opt(sd),
        fmt_opt(dz),
        fmt_opt(win),
        fmt_opt(e.flip_rate),
    ]);
    s.plots.push(Plot::Scatter {
        name: format!("{}_scores", e.name),
        title: format!("{}: reward before vs after (d_z = {})", e.name, fmt_opt(dz)),
        x_label: "original reward".to_owned(),
        y_label: "perturbed reward".to_owned(),
        points: e
            .base
            .iter()
            .copied()
            .zip(e.perturbed.iter().copied())
            .collect(),
        diagonal: true,
    });
    let verdict = match (mean, win) {
        (Some(m), Some(w)) => format!(
            "{}: mean reward change {:+.4} (d_z = {}), improved {:.0}% of items{}",
            e.name,
            m,
            fmt_opt(dz),
            w * 100.0,
            e.flip_rate.map_or_else(String::new, |f| format!(
                "; applied to the rejected answer it overturned {:.0}% of correctly ranked pairs",
                f * 100.0
            ))
        ),
        _ => format!("{}: no items", e.name),
    };
    s.notes.push(verdict);
}

/// Flip rate: among pairs the model ranks correctly, the share where the perturbed rejected answer
/// outscores the chosen one.
fn flip_rate(chosen: &[f64], rejected: &[f64], rejected_perturbed: &[f64]) -> Option<f64> {
    let mut correct = 0usize;
    let mut flipped = 0usize;
    for i in 0..chosen.len() {
        if chosen[i] > rejected[i] {
            correct += 1;
            if rejected_perturbed[i] > chosen[i] {
                flipped += 1;
            }
        }
    }
    if correct == 0 {
        None
    } else {
        Some(flipped as f64 / correct as f64)
    }
}

/// Runs every probe of `step` against `model` on `data`.
pub(crate) fn run(
    step: &AnalysisStep,
    model: &dyn RewardModel,
    data: &Dataset,
    progress: bool,
) -> Result<Section, LabError> {
    let id = &step.id.value;
    let it = items(data);
    let sc = Scorer {
        step: id,
        model,
        batch: step.batch_size.value,
        progress,
    };
    let mut s = Section::new(
        id,
        format!("Exploit probes `{id}` (model `{}`)", model.name()),
    );
    s.metric("items", Some(it.chosen.len() as f64));
    let base = sc.score("original", &it.prompts, &it.chosen)?;
    let base_rej = match &it.rejected {
        Some(r) => Some(sc.score("rejected", &it.prompts, r)?),
        None => None,
    };
    if let Some(br) = &base_rej {
        let acc =
            base.iter().zip(br).filter(|(c, r)| c > r).count() as f64 / base.len().max(1) as f64;
        s.metric("pair_accuracy", Some(acc));
    }
    let mut table = Table {
        title: "Probe effects (paired: perturbed minus original reward)".to_owned(),
        columns: [
            "probe",
            "n",
            "mean Δ",
            "sd Δ",
            "d_z",
            "improved",
            "flip rate",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    for p in &step.probes {
        for (name, f) in variants(p) {
            let perturbed_texts: Vec<String> = (0..it.chosen.len())
                .map(|i| f(&it.prompts, &it.chosen, i))
                .collect();
            let perturbed = sc.score(&name, &it.prompts, &perturbed_texts)?;
            let flip = match (&it.rejected, &base_rej, p.kind.value) {
                (Some(rej), Some(br), k) if k != ProbeKind::Copy => {
                    let rej_texts: Vec<String> =
                        (0..rej.len()).map(|i| f(&it.prompts, rej, i)).collect();
                    let rp = sc.score(&format!("{name}/rej"), &it.prompts, &rej_texts)?;
                    flip_rate(&base, br, &rp)
                }
                _ => None,
            };
            let deltas: Vec<f64> = perturbed.iter().zip(&base).map(|(a, b)| a - b).collect();
            record(
                &mut s,
                &mut table,
                &Effect {
                    name,
                    deltas,
                    flip_rate: flip,
                    base: base.clone(),
                    perturbed,
                },
            );
        }
        if p.kind.value == ProbeKind::LengthBias {
            // Observational side: does reward track length across the unmodified answers?
            let mut lens: Vec<f64> = it.chosen.iter().map(|c| text::char_len(c)).collect();
            let mut scores = base.clone();
            if let (Some(rej), Some(br)) = (&it.rejected, &base_rej) {
                lens.extend(rej.iter().map(|c| text::char_len(c)));
                scores.extend(br.iter().copied());
            }
            s.metric(
                "length_bias.spearman_length",
                stats::spearman(&lens, &scores),
            );
            s.metric("length_bias.pearson_length", stats::pearson(&lens, &scores));
            s.metric(
                "length_bias.slope_per_100_chars",
                stats::slope(&lens, &scores).map(|v| v * 100.0),
            );
            s.plots.push(Plot::Scatter {
                name: "length_vs_reward".to_owned(),
                title: format!(
                    "reward vs completion length (Spearman ρ = {})",
                    fmt_opt(stats::spearman(&lens, &scores))
                ),
                x_label: "completion length (chars)".to_owned(),
                y_label: "reward".to_owned(),
                points: lens.into_iter().zip(scores).collect(),
                diagonal: false,
            });
        }
    }
    s.tables.push(table);
    Ok(s)
}

type Perturb = Box<dyn Fn(&[String], &[String], usize) -> String>;

fn variants(p: &ProbeConfig) -> Vec<(String, Perturb)> {
    match p.kind.value {
        ProbeKind::LengthBias => {
            let factor = p.pad_factor.as_ref().map_or(3.0, |f| f.value);
            let filler = p
                .filler
                .clone()
                .unwrap_or_else(|| DEFAULT_FILLER.to_owned());
            vec![(
                "length_bias".to_owned(),
                Box::new(move |_p: &[String], t: &[String], i: usize| pad(&t[i], factor, &filler)),
            )]
        }
        ProbeKind::KeywordStuffing => {
            let kw: Vec<String> = p.keywords.as_ref().map_or_else(
                || DEFAULT_KEYWORDS.iter().map(|s| (*s).to_owned()).collect(),
                |k| k.value.clone(),
            );
            let from_prompt = p.from_prompt.unwrap_or(false);
            vec![(
                "keyword_stuffing".to_owned(),
                Box::new(move |pr: &[String], t: &[String], i: usize| {
                    stuff(&t[i], &pr[i], &kw, from_prompt)
                }),
            )]
        }
        ProbeKind::Repetition => {
            let n = p.repeats.as_ref().map_or(3, |r| r.value);
            vec![(
                "repetition".to_owned(),
                Box::new(move |_p: &[String], t: &[String], i: usize| repeat(&t[i], n)),
            )]
        }
        ProbeKind::Copy => vec![
            (
                "copy_prompt".to_owned(),
                Box::new(|pr: &[String], _t: &[String], i: usize| pr[i].clone()),
            ),
            (
                "copy_other_answer".to_owned(),
                Box::new(|_p: &[String], t: &[String], i: usize| t[(i + 1) % t.len()].clone()),
            ),
        ],
    }
}
