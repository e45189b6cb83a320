//! The comparison plot: one panel per workload with each server's median
//! headline figure as a bar and its min–max as a whisker (SVG).

use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::report::number;
use super::results::Results;
use super::servers::Server;
use super::workloads::{Workload, WorkloadId};

/// Panels per row.
const COLUMNS: usize = 3;
/// Size of one panel, pixels.
const PANEL: (u32, u32) = (420, 330);

/// A fixed colour per server.
fn colour(s: Server) -> RGBColor {
    match s {
        Server::Rpoe | Server::RpoeWorkers(_) => RGBColor(217, 95, 2),
        Server::Mio => RGBColor(31, 119, 180),
        Server::Tokio => RGBColor(44, 160, 44),
        Server::TokioFramed => RGBColor(166, 216, 84),
        Server::PoeSeed => RGBColor(117, 112, 179),
        Server::PoeTcp => RGBColor(127, 127, 127),
    }
}

/// Draw the plot into `path`.
pub fn svg(
    path: &Path,
    title: &str,
    results: &Results,
    workloads: &[Workload],
    servers: &[Server],
) -> Result<(), String> {
    draw(path, title, results, workloads, servers).map_err(|e| format!("{}: {e}", path.display()))
}

fn draw(
    path: &Path,
    title: &str,
    results: &Results,
    workloads: &[Workload],
    servers: &[Server],
) -> Result<(), Box<dyn std::error::Error>> {
    let panels: Vec<&Workload> = workloads
        .iter()
        .filter(|w| w.id != WorkloadId::Scaling)
        .collect();
    let rows = panels.len().div_ceil(COLUMNS).max(1);
    let size = (PANEL.0 * COLUMNS as u32, PANEL.1 * rows as u32 + 40);
    let root = SVGBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let areas = root.split_evenly((rows, COLUMNS));
    for (w, area) in panels.into_iter().zip(areas.iter()) {
        panel(area, w, results, servers)?;
    }
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    w: &Workload,
    results: &Results,
    servers: &[Server],
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let metric = &w.metrics()[0];
    let spreads: Vec<_> = servers
        .iter()
        .map(|s| results.spread(w.id, *s, metric))
        .collect();
    let top = spreads
        .iter()
        .flatten()
        .map(|s| s.max)
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.2 } else { 1.0 };
    let arrow = if metric.higher_is_better {
        "↑ better"
    } else {
        "↓ better"
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{} — {} ({arrow})", w.title(), metric.label),
            ("sans-serif", 13),
        )
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(52)
        .build_cartesian_2d(
            // A segmented range includes its end: n servers, n segments.
            (0..servers.len().saturating_sub(1)).into_segmented(),
            0.0..top,
        )?;
    let names: Vec<String> = servers.iter().map(|s| s.label()).collect();
    let axis_decimals = if top >= 100.0 {
        0
    } else if top >= 10.0 {
        1
    } else {
        2
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(servers.len())
        .x_label_style(("sans-serif", 10))
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_label_formatter(&|y| number(*y, axis_decimals))
        .draw()?;
    for (i, (s, sp)) in servers.iter().zip(&spreads).enumerate() {
        let Some(sp) = sp else { continue };
        chart.draw_series(
            Histogram::vertical(&chart)
                .style(colour(*s).filled())
                .margin(14)
                .data([(i, sp.median)]),
        )?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![
                (SegmentValue::CenterOf(i), sp.min),
                (SegmentValue::CenterOf(i), sp.max),
            ],
            BLACK.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            number(sp.median, metric.decimals),
            (SegmentValue::CenterOf(i), sp.max + top * 0.03),
            ("sans-serif", 11).into_font().color(&BLACK),
        )))?;
    }
    Ok(())
}
