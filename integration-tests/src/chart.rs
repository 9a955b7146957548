//! The drop window as a PNG: releases, our attempts, our wins and rivals' wins per bin (from
//! the simulator's race log). The bin is chosen by the span so the chart stays readable from
//! a 15-minute window (1-minute bins) to several days (hours): at most [`MAX_BINS`] groups of
//! bars (1,890 one-minute bars in 1,200 px were unreadable). The time axis is dated when the
//! span crosses midnight. Text is drawn with an embedded DejaVu Sans (the `dejavu` crate)
//! through plotters' ab_glyph backend, so no system font or fontconfig is needed.

use crate::report::MinuteRow;
use chrono::{DateTime, Duration, Utc};
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

/// Most groups of bars on the 1200 px chart (about 11 px a group of four bars).
pub const MAX_BINS: i64 = 100;

/// Bin sizes in minutes, the smallest that keeps the span within [`MAX_BINS`] is used.
const BIN_MINUTES: [i64; 13] = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 10080];

/// Bins of `bin` minutes needed for `span` minutes (at least one).
fn bins_of(span: i64, bin: i64) -> i64 {
    (span.max(1) + bin - 1) / bin
}

/// The bin (minutes) for a span of `span_minutes`.
pub fn bin_minutes(span_minutes: i64) -> i64 {
    BIN_MINUTES
        .iter()
        .copied()
        .find(|bin| bins_of(span_minutes, *bin) <= MAX_BINS)
        .unwrap_or(BIN_MINUTES[BIN_MINUTES.len() - 1])
}

/// A bin size as a reader says it: "1 minute", "30 minutes", "2 hours", "1 day".
pub fn bin_name(minutes: i64) -> String {
    match minutes {
        1 => "1 minute".into(),
        m if m < 60 => format!("{m} minutes"),
        60 => "1 hour".into(),
        m if m < 1440 => format!("{} hours", m / 60),
        1440 => "1 day".into(),
        m => format!("{} days", m / 1440),
    }
}

/// Per-minute rows summed into bins of `bin` minutes, from the first row's minute (rounded
/// down to the bin); every bin up to the last row is present, empty ones too.
pub fn rebin(minutes: &[MinuteRow], bin: i64) -> Vec<MinuteRow> {
    let (Some(first), Some(last)) = (
        minutes.iter().map(|m| m.start).min(),
        minutes.iter().map(|m| m.start).max(),
    ) else {
        return Vec::new();
    };
    let bin = bin.max(1);
    let origin = first - Duration::minutes(first.timestamp().div_euclid(60) % bin);
    let count = usize::try_from((last - origin).num_minutes() / bin + 1).unwrap_or(1);
    let mut bins: Vec<MinuteRow> = (0..count)
        .map(|i| {
            let start = origin + Duration::minutes(bin * i as i64);
            MinuteRow {
                start,
                minute: start.format("%H:%M").to_string(),
                releases: 0,
                our_attempts: 0,
                our_wins: 0,
                rival_wins: 0,
            }
        })
        .collect();
    for m in minutes {
        let i = usize::try_from((m.start - origin).num_minutes() / bin).unwrap_or(0);
        if let Some(b) = bins.get_mut(i) {
            b.releases += m.releases;
            b.our_attempts += m.our_attempts;
            b.our_wins += m.our_wins;
            b.rival_wins += m.rival_wins;
        }
    }
    bins
}

/// The axis label of a bin's start: the time, with the date when the chart spans more than
/// one day.
fn axis_label(start: DateTime<Utc>, dated: bool) -> String {
    if dated {
        start.format("%b %d %H:%M").to_string()
    } else {
        start.format("%H:%M").to_string()
    }
}

/// Writes a grouped bar chart of `minutes` to `path` (PNG, 1200 x 600), in bins chosen by
/// the span (`bin_minutes`); `title` gets the bin size appended.
pub fn drop_window_png(path: &Path, title: &str, minutes: &[MinuteRow]) -> anyhow::Result<()> {
    register_font()?;
    let span = match (
        minutes.iter().map(|m| m.start).min(),
        minutes.iter().map(|m| m.start).max(),
    ) {
        (Some(first), Some(last)) => (last - first).num_minutes() + 1,
        _ => 1,
    };
    let bin = bin_minutes(span);
    let binned = rebin(minutes, bin);
    let minutes = binned.as_slice();
    let dated = match (minutes.first(), minutes.last()) {
        (Some(first), Some(last)) => first.start.date_naive() != last.start.date_naive(),
        _ => false,
    };
    let day = minutes
        .first()
        .map(|m| m.start.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let per = bin_name(bin);
    let title = format!("{title}: per {}", per.strip_prefix("1 ").unwrap_or(&per));
    let x_desc = if dated {
        format!("time (UTC), bins of {}", bin_name(bin))
    } else {
        format!("time (UTC) on {day}, bins of {}", bin_name(bin))
    };
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
        .caption(&title, (FONT, 24).into_font().style(FontStyle::Bold))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0u32..top)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let labels: Vec<String> = minutes.iter().map(|m| axis_label(m.start, dated)).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(if dated { 10 } else { 16 }))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() > 0.01 || i < 0.0 {
                return String::new();
            }
            labels.get(i as usize).cloned().unwrap_or_default()
        })
        .x_desc(x_desc)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: &str, releases: u32) -> MinuteRow {
        let start: DateTime<Utc> = start.parse().unwrap();
        MinuteRow {
            start,
            minute: start.format("%H:%M").to_string(),
            releases,
            our_attempts: 0,
            our_wins: 0,
            rival_wins: 0,
        }
    }

    /// The old chart drew one bar group per minute whatever the span (1,890 for cctld-mix).
    #[test]
    fn the_bin_grows_with_the_span() {
        assert_eq!(bin_minutes(15), 1);
        assert_eq!(bin_minutes(100), 1);
        assert_eq!(bin_minutes(101), 2);
        assert_eq!(bin_minutes(1_890), 30, "cctld-mix: 31.5 hours");
        assert_eq!(bin_minutes(3 * 1440), 60);
        assert_eq!(bin_minutes(7 * 1440), 120);
        assert_eq!(bin_minutes(60 * 1440), 1440);
        assert_eq!(bin_minutes(0), 1);
        for span in [1, 15, 240, 1_890, 4_320, 20_000, 100_000] {
            assert!(bins_of(span, bin_minutes(span)) <= MAX_BINS, "{span}");
        }
        assert_eq!(bin_name(30), "30 minutes");
        assert_eq!(bin_name(120), "2 hours");
    }

    #[test]
    fn rebinning_keeps_every_count_and_dates_the_bins() {
        let rows = [
            row("2026-03-02T03:55:00Z", 1),
            row("2026-03-02T04:14:00Z", 2),
            row("2026-03-03T11:29:00Z", 4),
        ];
        let bins = rebin(&rows, 30);
        assert_eq!(
            bins.first().unwrap().start.to_rfc3339(),
            "2026-03-02T03:30:00+00:00"
        );
        assert_eq!(bins.iter().map(|b| b.releases).sum::<u32>(), 7);
        assert_eq!(bins[1].releases, 2, "04:00-04:30");
        assert_eq!(
            bins.last().unwrap().start.to_rfc3339(),
            "2026-03-03T11:00:00+00:00"
        );
        assert_eq!(axis_label(bins[1].start, true), "Mar 02 04:00");
        assert!(rebin(&[], 5).is_empty());
    }

    #[test]
    fn a_chart_of_several_days_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        let rows: Vec<MinuteRow> = (0..3 * 1440)
            .map(|m| {
                let start =
                    "2026-03-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(m);
                MinuteRow {
                    start,
                    minute: String::new(),
                    releases: u32::from(m % 7 == 0),
                    our_attempts: 1,
                    our_wins: 0,
                    rival_wins: 0,
                }
            })
            .collect();
        drop_window_png(&path, "test", &rows).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    }
}
