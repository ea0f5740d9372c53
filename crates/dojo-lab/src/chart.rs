//! `dojo-lab chart devnet`: each miner's incentive against its true quality, one colour per
//! population, from the JSON report a devnet experiment writes (docs/lab.md).

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde::Deserialize;

use crate::error::LabError;
use crate::plot::{FAMILY, ensure_font, range};

/// One miner of a devnet report; fields the chart does not draw are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DevnetMiner {
    /// Which simulated population the miner belongs to (the legend entry).
    pub population: String,
    /// The quality the simulation gave it (x).
    pub true_quality: f64,
    /// Incentive the chain paid, in [0, 1] (y).
    pub incentive: f64,
}

/// One mechanism's miners (a panel).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DevnetPanel {
    /// Scoring mechanism name (the panel title).
    pub mechanism: String,
    /// Epoch rounds the report covers, when given.
    #[serde(default)]
    pub rounds: Option<u64>,
    /// The miners.
    pub miners: Vec<DevnetMiner>,
}

/// A miner as the report writes it: automated miners (a reward model) have no true quality known
/// in advance (`null`) and are left out of the chart.
#[derive(Debug, Deserialize)]
struct RawMiner {
    population: String,
    /// Required, but may be `null`.
    true_quality: serde_json::Value,
    incentive: f64,
}

/// A study entry: a mechanism that was not run has `skipped` and no miners.
#[derive(Debug, Deserialize)]
struct RawPanel {
    mechanism: String,
    #[serde(default)]
    rounds: Option<u64>,
    #[serde(default)]
    miners: Vec<RawMiner>,
    #[serde(default)]
    skipped: Option<String>,
}

fn drawable(miners: Vec<RawMiner>) -> Vec<DevnetMiner> {
    miners
        .into_iter()
        .filter_map(|m| {
            Some(DevnetMiner {
                population: m.population,
                true_quality: m.true_quality.as_f64()?,
                incentive: m.incentive,
            })
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct Report {
    #[serde(default)]
    mechanism: Option<String>,
    #[serde(default)]
    rounds: Option<u64>,
    #[serde(default)]
    miners: Option<Vec<RawMiner>>,
    #[serde(default)]
    study: Option<Vec<RawPanel>>,
}

/// Parses a report: `{"mechanism", "miners": [...]}` (one panel) or `{"study": [{"mechanism",
/// "miners"}, ...]}` (one panel per mechanism).
pub fn parse_devnet_report(text: &str, path: &Path) -> Result<Vec<DevnetPanel>, LabError> {
    let bad = |line: u64, message: String| LabError::Data {
        path: path.to_owned(),
        line,
        message,
    };
    let r: Report = serde_json::from_str(text).map_err(|e| bad(e.line() as u64, e.to_string()))?;
    let panels = match (r.study, r.miners) {
        (Some(study), _) => study
            .into_iter()
            .filter(|p| p.skipped.is_none())
            .map(|p| DevnetPanel {
                mechanism: p.mechanism,
                rounds: p.rounds,
                miners: drawable(p.miners),
            })
            .collect(),
        (None, Some(miners)) => vec![DevnetPanel {
            mechanism: r
                .mechanism
                .ok_or_else(|| bad(0, "missing field `mechanism`".into()))?,
            rounds: r.rounds,
            miners: drawable(miners),
        }],
        (None, None) => {
            return Err(bad(
                0,
                "expected a `miners` array or a `study` array of {mechanism, miners}".into(),
            ));
        }
    };
    if panels.is_empty() {
        return Err(bad(0, "`study` is empty".into()));
    }
    for p in &panels {
        if let Some(m) = p
            .miners
            .iter()
            .find(|m| !(m.true_quality.is_finite() && m.incentive.is_finite()))
        {
            return Err(bad(
                0,
                format!(
                    "mechanism {}: a {} miner has a non-finite true_quality or incentive",
                    p.mechanism, m.population
                ),
            ));
        }
    }
    Ok(panels)
}

/// What [`devnet_chart`] drew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSummary {
    /// Panels (mechanisms).
    pub panels: usize,
    /// Points over all panels.
    pub points: usize,
    /// Distinct populations.
    pub populations: usize,
}

const PANEL: (u32, u32) = (800, 500);

/// Reads the report at `input` and writes the chart to `out` (PNG).
pub fn devnet_chart(input: &Path, out: &Path) -> Result<ChartSummary, LabError> {
    let text = std::fs::read_to_string(input).map_err(|source| LabError::Io {
        action: "reading",
        path: input.to_owned(),
        source,
    })?;
    let panels = parse_devnet_report(&text, input)?;
    // Colours follow the population's place in the whole study, so panels agree.
    let mut colours: BTreeMap<&str, usize> = BTreeMap::new();
    for m in panels.iter().flat_map(|p| &p.miners) {
        let next = colours.len();
        colours.entry(m.population.as_str()).or_insert(next);
    }
    let fail = |message: String| LabError::Plot {
        name: out.display().to_string(),
        message,
    };
    ensure_font().map_err(&fail)?;
    draw(&panels, &colours, out).map_err(|e| fail(e.to_string()))?;
    Ok(ChartSummary {
        panels: panels.len(),
        points: panels.iter().map(|p| p.miners.len()).sum(),
        populations: colours.len(),
    })
}

fn draw(
    panels: &[DevnetPanel],
    colours: &BTreeMap<&str, usize>,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let cols = (panels.len() as f64).sqrt().ceil() as usize;
    let rows = panels.len().div_ceil(cols);
    let size = (PANEL.0 * cols as u32, PANEL.1 * rows as u32);
    let root = BitMapBackend::new(out, size).into_drawing_area();
    root.fill(&WHITE)?;
    for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols))) {
        let (x0, x1) = range(panel.miners.iter().map(|m| m.true_quality));
        let (_, y1) = range(panel.miners.iter().map(|m| m.incentive).chain([0.0]));
        let title = match panel.rounds {
            Some(r) => format!(
                "{}: incentive vs true quality ({r} rounds)",
                panel.mechanism
            ),
            None => format!("{}: incentive vs true quality", panel.mechanism),
        };
        let mut ch = ChartBuilder::on(&area)
            .caption(title, (FAMILY, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..y1.max(1e-9))?;
        ch.configure_mesh()
            .x_desc("true quality")
            .y_desc("incentive")
            .draw()?;
        for (population, &i) in colours {
            let points: Vec<(f64, f64)> = panel
                .miners
                .iter()
                .filter(|m| m.population == *population)
                .map(|m| (m.true_quality, m.incentive))
                .collect();
            if points.is_empty() {
                continue;
            }
            let colour = Palette99::pick(i).to_rgba();
            ch.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.mix(0.75).filled())),
            )?
            .label(*population)
            .legend(move |(x, y)| Circle::new((x + 8, y), 4, colour.filled()));
        }
        ch.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FAMILY, 14))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_report_shapes_parse_and_bad_ones_say_why() {
        let p = Path::new("r.json");
        let one = r#"{"mechanism":"yuma","rounds":3,"miners":[
            {"uid":0,"hotkey":"h","population":"honest","true_quality":0.9,"score":1,"weight":1,"incentive":0.5,"emission":7}]}"#;
        let panels = parse_devnet_report(one, p).unwrap();
        assert_eq!(panels.len(), 1);
        assert_eq!(panels[0].mechanism, "yuma");
        assert_eq!(panels[0].rounds, Some(3));
        let study = r#"{"study":[{"mechanism":"a","miners":[]},{"mechanism":"b","miners":[]}]}"#;
        assert_eq!(parse_devnet_report(study, p).unwrap().len(), 2);
        let e = parse_devnet_report(r#"{"mechanism":"x"}"#, p).unwrap_err();
        assert!(e.to_string().contains("`miners`"), "{e}");
        let e = parse_devnet_report(
            r#"{"mechanism":"x","miners":[{"population":"a","incentive":1}]}"#,
            p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("true_quality"), "{e}");
        assert!(parse_devnet_report("{not json", p).is_err());
        // A reward-model miner has no known quality; a mechanism that was not run has no miners.
        let mixed = r#"{"study":[{"mechanism":"a","miners":[
            {"population":"honest","true_quality":0.5,"incentive":0.2},
            {"population":"reward-model","true_quality":null,"incentive":0.1}]},
            {"mechanism":"v2","skipped":"no v2 round"}]}"#;
        let panels = parse_devnet_report(mixed, p).unwrap();
        assert_eq!(panels.len(), 1);
        assert_eq!(panels[0].miners.len(), 1);
    }
}
