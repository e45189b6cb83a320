//! The soak's plot: RSS, descriptors, CPU, connections and lines/s over
//! time, one panel each, with the end of the warm-up marked (SVG).

use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use super::metrics::{self, Sample};
use super::report::{cpu_pct, lines_per_s};

/// Size of one panel, pixels.
const PANEL: (u32, u32) = (900, 170);

/// Draw the plot into `path`.
pub fn svg(path: &Path, samples: &[Sample], warmup: Duration) -> Result<(), String> {
    draw(path, samples, warmup).map_err(|e| format!("{}: {e}", path.display()))
}

type Series = Vec<(f64, f64)>;

fn draw(
    path: &Path,
    samples: &[Sample],
    warmup: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let minutes = |s: &Sample| s.t / 60.0;
    let mut panels: Vec<(&str, Series)> = vec![
        (
            "RSS (MiB)",
            samples
                .iter()
                .map(|s| (minutes(s), s.rss as f64 / (1024.0 * 1024.0)))
                .collect(),
        ),
        (
            "open fds",
            samples.iter().map(|s| (minutes(s), s.fds as f64)).collect(),
        ),
    ];
    let pairs = || samples.windows(2).map(|w| (&w[1], &w[0]));
    panels.push((
        "CPU (% of one CPU)",
        pairs()
            .filter_map(|(s, p)| cpu_pct(s, Some(p)).map(|v| (minutes(s), v)))
            .collect(),
    ));
    panels.push((
        "connections",
        samples
            .iter()
            .filter_map(|s| {
                let page = s.page.as_ref()?;
                Some((minutes(s), metrics::get(page, "rpoe_echo_connections")))
            })
            .collect(),
    ));
    panels.push((
        "lines/s",
        pairs()
            .filter_map(|(s, p)| lines_per_s(s, Some(p)).map(|v| (minutes(s), v)))
            .collect(),
    ));

    let size = (PANEL.0, PANEL.1 * panels.len() as u32 + 40);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "rpoe-echo soak (dashed: end of warm-up)",
        ("sans-serif", 18),
    )?;
    let areas = root.split_evenly((panels.len(), 1));
    let x_end = samples.last().map_or(1.0, minutes).max(1.0 / 60.0);
    let warm = warmup.as_secs_f64() / 60.0;
    let colour = RGBColor(217, 95, 2);
    for ((label, series), area) in panels.iter().zip(areas.iter()) {
        let top = series.iter().map(|p| p.1).fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.15 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .margin(6)
            .x_label_area_size(24)
            .y_label_area_size(60)
            .caption(*label, ("sans-serif", 13))
            .build_cartesian_2d(0.0..x_end, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("minutes")
            .x_label_style(("sans-serif", 10))
            .y_label_style(("sans-serif", 10))
            .y_labels(4)
            .draw()?;
        chart.draw_series(LineSeries::new(
            series.iter().copied(),
            colour.stroke_width(2),
        ))?;
        chart.draw_series(DashedLineSeries::new(
            [(warm, 0.0), (warm, top)],
            4,
            4,
            BLACK.stroke_width(1),
        ))?;
    }
    root.present()?;
    Ok(())
}
