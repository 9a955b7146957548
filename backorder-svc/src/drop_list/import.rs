//! The import pipeline shared by files and the registry feed: validate every line before
//! anything is written (a bad line is counted and reported, never half-applied), upsert in
//! batches of one transaction each, and for a full list mark the names that left it as
//! restored. Progress is reported after every batch.

use super::source::{FileError, FileFormat, LineParse, SourceLine};
use crate::domain::drop_list::DropName;
use crate::domain::lifecycle::{self, MAX_LEAD};
use crate::store::StoreError;
use crate::store::drop_list::BatchOutcome;
use crate::store::{DropListEntry, PageRequest, SharedStore, StoreResult};
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Rows per transaction (SQLite: 1,000 per statement; PostgreSQL: one COPY). Every commit
/// rewrites each index page it touched, and random names touch pages all over the indexes,
/// so fewer, larger commits cut the write volume of a big import several times over:
/// 1,000 rows a transaction imported 1,000,000 rows on SQLite in 523 s, 10,000 in 141 s,
/// 100,000 (with a large page cache while a batch is written) in the figures of
/// docs/drop-list.md; on SQLite each commit writes nearly every leaf page of the five
/// indexes, so the write volume falls with the number of commits. A batch is what the
/// import holds in memory (about 30 MB at 100,000 rows; two with the one being written) and
/// how long it holds the write lock (a few seconds on SQLite).
pub const BATCH: usize = 100_000;
/// An import that changed at least this many rows refreshes the planner's statistics at
/// its end; small changes leave the distributions as they were.
pub const ANALYZE_AFTER: u64 = 1_000;
/// Bad lines reported in full; the rest are only counted.
pub const MAX_REPORTED_ERRORS: usize = 100;
/// Interim progress at most this often (the first and the last are always reported).
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// Lines read ahead of the writer when a file is streamed.
const READ_AHEAD: usize = 1024;

/// Why an import stopped: the store failed, or the file could not be read further.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] FileError),
}

/// Whether the import is the whole list (names missing from it were restored) or a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Partial,
    /// The whole list for these zones (a zone and its sub-zones: `uk` covers `co.uk`), or
    /// for every zone (None).
    Full(Option<Vec<String>>),
    /// The whole list for the zones the file itself contains.
    FullForZonesSeen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub reason: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub processed: u64,
    pub total: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub removed: u64,
    pub bad_lines: u64,
    pub alert_events: u64,
    /// The first bad lines (at most `MAX_REPORTED_ERRORS`).
    pub errors: Vec<LineError>,
}

/// Each catalog zone's finalization lead (`None`: the stored lead is beyond `MAX_LEAD`, a
/// row older than the catalog's bound). Zones outside the catalog are refused: nobody can
/// order them, and their finalization time would be a guess.
#[derive(Debug, Clone, Default)]
pub struct ZoneLeads(HashMap<String, Option<Duration>>);

impl ZoneLeads {
    pub async fn load(store: &SharedStore) -> StoreResult<Self> {
        let mut leads = HashMap::new();
        let mut after = None;
        loop {
            let (tlds, _) = store
                .list_tlds(PageRequest {
                    after: after.clone(),
                    limit: 1000,
                })
                .await?;
            let Some(last) = tlds.last() else { break };
            after = Some(last.name.as_str().to_string());
            for tld in &tlds {
                let lead = Duration::from_std(tld.finalization_lead)
                    .ok()
                    .filter(|lead| *lead <= MAX_LEAD);
                leads.insert(tld.name.as_str().to_string(), lead);
            }
        }
        Ok(Self(leads))
    }

    pub fn from_map(leads: HashMap<String, Duration>) -> Self {
        Self(
            leads
                .into_iter()
                .map(|(zone, lead)| (zone, Some(lead)))
                .collect(),
        )
    }

    /// The zone's lead: `None` outside the catalog, `Some(None)` when it is out of range.
    pub fn lead(&self, zone: &str) -> Option<Option<Duration>> {
        self.0.get(zone).copied()
    }
}

/// A line checked against the name rules and the catalog, ready to write. Drop times must
/// lie within years 0000 to 9999, as every time the service holds (so later arithmetic on
/// them, such as the daily-deal window or the catch deadline, cannot overflow).
pub fn validate_line(
    leads: &ZoneLeads,
    domain: &str,
    drop_time: DateTime<Utc>,
) -> Result<DropListEntry, String> {
    let name = DropName::parse(domain)?;
    let lead = leads.lead(&name.zone).ok_or_else(|| {
        format!(
            "zone: `{}` (of `{}`) is not in the TLD catalog",
            name.zone, name.domain
        )
    })?;
    if !lifecycle::in_range(drop_time) {
        return Err(format!(
            "drop date: `{}` is outside years 0000 to 9999",
            drop_time.to_rfc3339()
        ));
    }
    let finalization_at = lead
        .and_then(|lead| drop_time.checked_sub_signed(lead))
        .ok_or_else(|| {
            format!(
                "zone: the finalization lead of `{}` in the TLD catalog is out of range (0 to \
                 365 days); correct the TLD first",
                name.zone
            )
        })?;
    Ok(DropListEntry::listed(name, drop_time, finalization_at))
}

struct Run<'a> {
    store: &'a SharedStore,
    now: DateTime<Utc>,
    report: ImportReport,
    batch: Vec<DropListEntry>,
    /// Where each name of the batch is in it.
    in_batch: HashMap<String, usize>,
    progress: &'a mut (dyn FnMut(&ImportReport) + Send),
    last_progress: Option<Instant>,
    /// The batch being written while the next one is validated: names are checked (IDNA,
    /// the suffix list, the score) on this task while the database writes the previous
    /// batch. One batch at most is in flight, so memory stays at two batches and batches
    /// commit in file order.
    writing: Option<tokio::task::JoinHandle<StoreResult<BatchOutcome>>>,
}

impl Run<'_> {
    fn bad(&mut self, line: &SourceLine, reason: String) {
        self.report.bad_lines += 1;
        if self.report.errors.len() < MAX_REPORTED_ERRORS {
            self.report.errors.push(LineError {
                line: line.line,
                reason,
                content: line.content.clone(),
            });
        }
    }

    async fn push(&mut self, entry: DropListEntry) -> StoreResult<()> {
        // A name twice in one batch: the later line wins, in place (a file of one name
        // repeated millions of times is one write, not one transaction a line). The repeat
        // counts as what writing it after the first would be: unchanged or updated.
        if let Some(&at) = self.in_batch.get(&entry.domain) {
            if self.batch[at] == entry {
                self.report.unchanged += 1;
            } else {
                self.report.updated += 1;
                self.batch[at] = entry;
            }
            return Ok(());
        }
        if self.batch.len() >= BATCH {
            self.flush().await?;
        }
        self.in_batch.insert(entry.domain.clone(), self.batch.len());
        self.batch.push(entry);
        Ok(())
    }

    /// Reports progress when `PROGRESS_EVERY` has passed since the last report (always when
    /// `force`).
    fn progress(&mut self, force: bool) {
        let due = self
            .last_progress
            .is_none_or(|at| at.elapsed() >= PROGRESS_EVERY);
        if force || due {
            (self.progress)(&self.report);
            self.last_progress = Some(Instant::now());
        }
    }

    /// Starts writing the batch once the one before it has been written.
    async fn flush(&mut self) -> StoreResult<()> {
        self.finish_writing().await?;
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.in_batch.clear();
            let store = self.store.clone();
            let now = self.now;
            self.writing = Some(tokio::spawn(async move {
                store.upsert_drop_batch(&batch, now).await
            }));
        }
        Ok(())
    }

    /// Waits for the batch in flight and counts what it did.
    async fn finish_writing(&mut self) -> StoreResult<()> {
        if let Some(writing) = self.writing.take() {
            let outcome = writing
                .await
                .map_err(|error| StoreError::Corrupt(format!("batch writer failed: {error}")))??;
            self.report.inserted += outcome.inserted;
            self.report.updated += outcome.updated;
            self.report.unchanged += outcome.unchanged;
            self.report.alert_events += outcome.alert_events;
            self.progress(false);
        }
        Ok(())
    }
}

fn in_scope(zone: &str, zones: &[String]) -> bool {
    zones.iter().any(|z| {
        zone == z
            || zone
                .strip_suffix(z.as_str())
                .is_some_and(|r| r.ends_with('.'))
    })
}

/// Where an import's lines come from: a list in memory, or a file read in another thread.
enum Lines {
    Listed(std::vec::IntoIter<SourceLine>),
    Streamed(mpsc::Receiver<Result<SourceLine, FileError>>),
}

impl Lines {
    async fn next(&mut self) -> Option<Result<SourceLine, FileError>> {
        match self {
            Self::Listed(lines) => lines.next().map(Ok),
            Self::Streamed(lines) => lines.recv().await,
        }
    }
}

/// Imports the lines as of `now`. Store failures abort (the batches before stay committed:
/// each is complete on its own); bad lines never do.
pub async fn import_lines(
    store: &SharedStore,
    now: DateTime<Utc>,
    lines: Vec<SourceLine>,
    scope: Scope,
    progress: &mut (dyn FnMut(&ImportReport) + Send),
) -> StoreResult<ImportReport> {
    let total = u64::try_from(lines.len()).unwrap_or(u64::MAX);
    let lines = Lines::Listed(lines.into_iter());
    match import_from(store, now, lines, total, scope, progress).await {
        Ok(report) => Ok(report),
        Err(ImportError::Store(error)) => Err(error),
        // A list in memory has nothing left to read.
        Err(ImportError::File(error)) => Err(StoreError::Corrupt(error.to_string())),
    }
}

/// Imports a file as of `now`, reading it in a blocking thread at most `READ_AHEAD` lines
/// ahead of the writer, so memory does not grow with the file. `total` is the number of
/// lines (from `source::check_file`, which the caller runs first so that a file over a
/// limit is refused before anything is written). A file that fails while it is read stops
/// the import before any restore of a full list.
pub async fn import_file(
    store: &SharedStore,
    now: DateTime<Utc>,
    content: Arc<[u8]>,
    format: Option<FileFormat>,
    total: u64,
    scope: Scope,
    progress: &mut (dyn FnMut(&ImportReport) + Send),
) -> Result<ImportReport, ImportError> {
    let (sender, receiver) = mpsc::channel(READ_AHEAD);
    let reader = tokio::task::spawn_blocking(move || {
        let result =
            super::source::stream_file(&content, format, &super::source::LIMITS, &mut |line| {
                sender.blocking_send(Ok(line)).is_ok()
            });
        if let Err(error) = result {
            let _ = sender.blocking_send(Err(error));
        }
    });
    let report = import_from(
        store,
        now,
        Lines::Streamed(receiver),
        total,
        scope,
        progress,
    )
    .await;
    // Dropping the receiver (on an error) lets the reader stop at its next line.
    let _ = reader.await;
    report
}

async fn import_from(
    store: &SharedStore,
    now: DateTime<Utc>,
    mut lines: Lines,
    total: u64,
    scope: Scope,
    progress: &mut (dyn FnMut(&ImportReport) + Send),
) -> Result<ImportReport, ImportError> {
    let leads = ZoneLeads::load(store).await?;
    let mut run = Run {
        store,
        now,
        report: ImportReport {
            total,
            ..Default::default()
        },
        batch: Vec::with_capacity(BATCH),
        in_batch: HashMap::new(),
        progress,
        last_progress: None,
        writing: None,
    };
    run.progress(true);
    let mut seen: HashSet<String> = HashSet::new();
    let mut zones_seen: HashSet<String> = HashSet::new();
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(error) => {
                // The batch in flight is complete on its own: let it land before the
                // import reports the failure, as the batches before it did.
                run.finish_writing().await?;
                return Err(error.into());
            }
        };
        run.report.processed += 1;
        // Lines advance while a batch is written: progress stays live with large batches.
        run.progress(false);
        match &line.parse {
            LineParse::Entry {
                domain,
                drop_time,
                window_end,
            } => match validate_line(&leads, domain, *drop_time) {
                Ok(mut entry) => {
                    entry.window_end = *window_end;
                    seen.insert(entry.domain.clone());
                    zones_seen.insert(entry.zone.clone());
                    run.push(entry).await?;
                }
                Err(reason) => {
                    remember_domain(&mut seen, Some(domain));
                    run.bad(&line, reason);
                }
            },
            LineParse::Bad { domain, reason } => {
                remember_domain(&mut seen, domain.as_deref());
                run.bad(&line, reason.clone());
            }
        }
    }
    run.flush().await?;
    run.finish_writing().await?;
    let zones = match scope {
        Scope::Partial => None,
        Scope::Full(zones) => Some(zones),
        Scope::FullForZonesSeen => Some(Some(zones_seen.into_iter().collect())),
    };
    if let Some(zones) = zones {
        let gone: Vec<String> = store
            .listed_drop_domains(now)
            .await?
            .into_iter()
            .filter(|(domain, zone)| {
                !seen.contains(domain) && zones.as_ref().is_none_or(|z| in_scope(zone, z))
            })
            .map(|(domain, _)| domain)
            .collect();
        run.report.removed = store.mark_drop_removed(&gone, now).await?;
    }
    let changed = run.report.inserted + run.report.updated + run.report.removed;
    if changed >= ANALYZE_AFTER {
        // Statistics only steer plans: an import that wrote its rows has succeeded even
        // when they cannot be refreshed now (autovacuum or the next import will).
        if let Err(error) = store.refresh_drop_list_statistics().await {
            tracing::warn!(%error, "drop list: statistics not refreshed after the import");
        }
    }
    run.progress(true);
    Ok(run.report)
}

/// A bad line whose name is readable still counts as "on the list" for a full import.
fn remember_domain(seen: &mut HashSet<String>, domain: Option<&str>) {
    if let Some(name) = domain.and_then(|d| DropName::parse(d).ok()) {
        seen.insert(name.domain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalization_follows_the_zone_lead_and_unknown_zones_are_refused() {
        let leads = ZoneLeads::from_map(HashMap::from([("com".to_string(), Duration::hours(3))]));
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let entry = validate_line(&leads, "Example.com", at).unwrap();
        assert_eq!(entry.finalization_at, at - Duration::hours(3));
        let error = validate_line(&leads, "example.zz", at).unwrap_err();
        assert!(error.starts_with("zone: `zz`"), "{error}");
    }

    #[test]
    fn drop_times_beyond_year_9999_and_leads_out_of_range_are_bad_lines() {
        let mut leads =
            ZoneLeads::from_map(HashMap::from([("com".to_string(), Duration::hours(2))]));
        leads.0.insert("net".to_string(), None);
        let last = DateTime::from_timestamp(lifecycle::LATEST_SECS, 0).unwrap();
        assert!(validate_line(&leads, "last.com", last).is_ok());
        for time in [
            last + Duration::seconds(1),
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
        ] {
            let error = validate_line(&leads, "far.com", time).unwrap_err();
            assert!(error.starts_with("drop date:"), "{error}");
        }
        let error = validate_line(&leads, "stored.net", last).unwrap_err();
        assert!(error.contains("out of range"), "{error}");
    }

    #[test]
    fn scopes_cover_sub_zones() {
        let zones = vec!["uk".to_string()];
        assert!(in_scope("co.uk", &zones) && in_scope("uk", &zones));
        assert!(!in_scope("fauk", &zones) && !in_scope("com", &zones));
    }
}
