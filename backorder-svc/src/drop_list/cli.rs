//! `backorder-svc import-drop-list FILE`: a file import with a progress bar on the terminal
//! and the summary (with the bad lines) at the end.

use super::import::{ImportReport, Scope, import_file as import_content};
use super::source::{FileFormat, LIMITS, check_file};
use crate::clock::SharedClock;
use crate::store::SharedStore;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;

pub async fn import_file(
    store: &SharedStore,
    clock: &SharedClock,
    path: &Path,
    format: Option<FileFormat>,
    full_list: bool,
) -> anyhow::Result<ImportReport> {
    let size = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?
        .len();
    anyhow::ensure!(
        size <= LIMITS.max_file_bytes,
        "{}: is {size} bytes, over the limit of {} bytes for a file",
        path.display(),
        LIMITS.max_file_bytes
    );
    let content =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", path.display()))?;
    let total = check_file(&content, format, &LIMITS)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} lines ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let scope = if full_list {
        Scope::FullForZonesSeen
    } else {
        Scope::Partial
    };
    let progress_bar = bar.clone();
    let mut progress = move |report: &ImportReport| {
        progress_bar.set_position(report.processed);
        progress_bar.set_message(format!("{} bad", report.bad_lines));
    };
    let report = import_content(
        store,
        clock.now(),
        content.into(),
        format,
        total,
        scope,
        &mut progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    bar.finish();
    Ok(report)
}

/// The summary as printed at the end of the command.
pub fn summary(report: &ImportReport) -> String {
    let mut text = format!(
        "lines: {}\ninserted: {}\nupdated: {}\nunchanged: {}\nremoved (restored): {}\nbad lines: {}\nalert events: {}\n",
        report.processed,
        report.inserted,
        report.updated,
        report.unchanged,
        report.removed,
        report.bad_lines,
        report.alert_events
    );
    for error in &report.errors {
        text.push_str(&format!(
            "  line {}: {} [{}]\n",
            error.line, error.reason, error.content
        ));
    }
    let unlisted = report.bad_lines - u64::try_from(report.errors.len()).unwrap_or(0);
    if unlisted > 0 {
        text.push_str(&format!("  ... and {unlisted} more bad lines\n"));
    }
    text
}
