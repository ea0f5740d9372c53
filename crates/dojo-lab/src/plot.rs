//! PNG rendering with plotters' bitmap backend. Text uses the bundled DejaVu Sans through the
//! `ab_glyph` feature, so no system fonts or fontconfig are needed.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::error::LabError;
use crate::report::Plot;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (800, 500);

pub(crate) fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "bundled font is invalid".to_owned())
        })
        .clone()
}

pub(crate) fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0, hi + 1.0);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Renders one plot to `path`.
pub fn render(plot: &Plot, path: &Path) -> Result<(), LabError> {
    let name = plot.name().to_owned();
    let fail = |e: String| LabError::Plot {
        name: name.clone(),
        message: e,
    };
    ensure_font().map_err(&fail)?;
    draw(plot, path).map_err(|e| fail(e.to_string()))
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(plot: &Plot, path: &Path) -> DrawResult {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    match plot {
        Plot::Scatter {
            title,
            x_label,
            y_label,
            points,
            diagonal,
            ..
        } => {
            let (x0, x1) = range(points.iter().map(|p| p.0));
            let (y0, y1) = range(points.iter().map(|p| p.1));
            let (x0, x1, y0, y1) = if *diagonal {
                let (lo, hi) = (x0.min(y0), x1.max(y1));
                (lo, hi, lo, hi)
            } else {
                (x0, x1, y0, y1)
            };
            let mut ch = ChartBuilder::on(&root)
                .caption(title, (FAMILY, 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            ch.configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .draw()?;
            if *diagonal {
                ch.draw_series(LineSeries::new([(x0, x0), (x1, x1)], RED.stroke_width(1)))?;
            }
            ch.draw_series(
                points
                    .iter()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .map(|&p| Circle::new(p, 3, BLUE.mix(0.6).filled())),
            )?;
        }
        Plot::Histogram {
            title,
            x_label,
            values,
            bins,
            ..
        } => {
            let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            let (lo, hi) = range(finite.iter().copied());
            let bins = (*bins).max(1);
            let width = (hi - lo) / bins as f64;
            let mut counts = vec![0u32; bins];
            for v in &finite {
                let b = (((v - lo) / width) as usize).min(bins - 1);
                counts[b] += 1;
            }
            let top = f64::from(counts.iter().copied().max().unwrap_or(1).max(1)) * 1.1;
            let mut ch = ChartBuilder::on(&root)
                .caption(title, (FAMILY, 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(lo..hi, 0f64..top)?;
            ch.configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc("count")
                .draw()?;
            ch.draw_series(counts.iter().enumerate().map(|(i, c)| {
                let a = lo + width * i as f64;
                Rectangle::new(
                    [(a, 0.0), (a + width, f64::from(*c))],
                    BLUE.mix(0.5).filled(),
                )
            }))?;
        }
        Plot::Bars {
            title,
            y_label,
            labels,
            values,
            ..
        } => {
            let n = values.len().max(1);
            let (mut y0, mut y1) = range(values.iter().copied().chain(std::iter::once(0.0)));
            if y0 > 0.0 {
                y0 = 0.0;
            }
            if y1 < 0.0 {
                y1 = 0.0;
            }
            let mut ch = ChartBuilder::on(&root)
                .caption(title, (FAMILY, 22))
                .margin(12)
                .x_label_area_size(60)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)?;
            ch.configure_mesh()
                .disable_x_mesh()
                .x_labels(n.min(30))
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        labels.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_desc(y_label.as_str())
                .draw()?;
            ch.draw_series(values.iter().enumerate().map(|(i, v)| {
                let x = i as f64;
                Rectangle::new([(x - 0.35, 0.0), (x + 0.35, *v)], BLUE.mix(0.6).filled())
            }))?;
        }
    }
    root.present()?;
    Ok(())
}
