//! The drop window as a PNG: per minute, releases, our attempts, our wins and rivals' wins
//! (from the simulator's race log). Text is drawn with an embedded DejaVu Sans (the `dejavu`
//! crate) through plotters' ab_glyph backend, so no system font or fontconfig is needed.

use crate::report::MinuteRow;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::OnceLock;

const FONT: &str = "sans-serif";

/// A bar series: its legend, its colour and its value per minute.
type Series = (&'static str, RGBColor, fn(&MinuteRow) -> u32);

fn register_font() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let regular =
            plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let bold = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
        regular.is_ok() && bold.is_ok()
    });
    anyhow::ensure!(ok, "the embedded DejaVu font could not be loaded");
    Ok(())
}

/// Writes a grouped bar chart of `minutes` to `path` (PNG, 1200 x 600).
pub fn drop_window_png(path: &Path, title: &str, minutes: &[MinuteRow]) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (1200, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let n = minutes.len().max(1);
    let series: [Series; 4] = [
        ("releases", RGBColor(120, 120, 120), |m| m.releases),
        ("our attempts", RGBColor(66, 133, 244), |m| m.our_attempts),
        ("our wins", RGBColor(52, 168, 83), |m| m.our_wins),
        ("rivals' wins", RGBColor(234, 67, 53), |m| m.rival_wins),
    ];
    let top = minutes
        .iter()
        .flat_map(|m| series.iter().map(move |(_, _, f)| f(m)))
        .max()
        .unwrap_or(0)
        .max(1);
    let top = top + top / 5 + 1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 24).into_font().style(FontStyle::Bold))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0u32..top)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let labels: Vec<String> = minutes.iter().map(|m| m.minute.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(30))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            labels.get(i as usize).cloned().unwrap_or_default()
        })
        .x_desc("minute (UTC)")
        .y_desc("count")
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let width = 0.8 / series.len() as f64;
    for (k, (name, color, value)) in series.iter().enumerate() {
        let color = *color;
        let offset = -0.4 + width * k as f64;
        chart
            .draw_series(minutes.iter().enumerate().map(|(i, m)| {
                let x0 = i as f64 + offset;
                Rectangle::new([(x0, 0), (x0 + width * 0.9, value(m))], color.filled())
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
