//! The registry's pending-delete feed (`registry.v1.PendingDeleteFeed`) as an import source:
//! a paged snapshot is a full-list import; the change stream after the snapshot's sequence
//! keeps the list current between snapshots.

use super::import::{ImportReport, Scope, import_lines};
use super::source::{LineParse, SourceLine};
use crate::clock::SharedClock;
use crate::domain::drop_list::DropName;
use crate::store::{SharedStore, StoreError};
use crate::supervision::{Part, SharedSupervision};
use backorder_proto::registry::v1 as feed;
use chrono::{DateTime, Utc};
use feed::pending_delete_feed_client::PendingDeleteFeedClient;
use std::future::Future;
use std::time::Duration;
use tonic::transport::Channel;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("registry feed: {0}")]
    Unreachable(String),
    #[error("registry feed: {0}")]
    Status(#[from] tonic::Status),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const PAGE_SIZE: i32 = 1000;

pub async fn connect(url: &str) -> Result<PendingDeleteFeedClient<Channel>, FeedError> {
    let channel = Channel::from_shared(url.to_string())
        .map_err(|e| FeedError::Unreachable(format!("{url:?} is not a URL: {e}")))?
        .connect_timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| FeedError::Unreachable(format!("cannot connect to {url}: {e}")))?;
    Ok(PendingDeleteFeedClient::new(channel))
}

fn timestamp(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

/// The end of the published release window; None when the list gives the exact time.
fn window_end(entry: &feed::PendingDelete, drop_time: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if entry.precision == feed::DropTimePrecision::Exact as i32 {
        return None;
    }
    timestamp(entry.drop_window_end.as_ref()).filter(|end| *end > drop_time)
}

fn line_of(position: u64, entry: &feed::PendingDelete) -> SourceLine {
    let drop_time = timestamp(entry.drop_time.as_ref());
    SourceLine {
        line: position,
        content: format!(
            "{};{}",
            entry.domain,
            drop_time.map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        ),
        parse: match drop_time {
            Some(drop_time) => LineParse::Entry {
                domain: entry.domain.clone(),
                drop_time,
                window_end: window_end(entry, drop_time),
            },
            None => LineParse::Bad {
                domain: Some(entry.domain.clone()),
                reason: "drop_time: missing or invalid in the feed entry".into(),
            },
        },
    }
}

/// Every page of the current list, and the change sequence to watch from. The first page's
/// sequence is used: changes during paging are then replayed, and upserts are idempotent.
pub async fn snapshot(
    client: &mut PendingDeleteFeedClient<Channel>,
    tlds: &[String],
) -> Result<(Vec<SourceLine>, i64), FeedError> {
    let mut lines = Vec::new();
    let mut token = String::new();
    let mut sequence = None;
    loop {
        let page = client
            .list_pending_deletes(feed::ListPendingDeletesRequest {
                tlds: tlds.to_vec(),
                page_size: PAGE_SIZE,
                page_token: token,
            })
            .await?
            .into_inner();
        sequence.get_or_insert(page.sequence);
        for entry in &page.entries {
            let position = u64::try_from(lines.len()).unwrap_or(u64::MAX) + 1;
            lines.push(line_of(position, entry));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    Ok((lines, sequence.unwrap_or(0)))
}

/// A full-list import from the feed (for `tlds`, or everything), as of the clock's now.
pub async fn import_snapshot(
    store: &SharedStore,
    clock: &SharedClock,
    client: &mut PendingDeleteFeedClient<Channel>,
    tlds: &[String],
    progress: &mut (dyn FnMut(&ImportReport) + Send),
) -> Result<(ImportReport, i64), FeedError> {
    let (lines, sequence) = snapshot(client, tlds).await?;
    let scope = Scope::Full((!tlds.is_empty()).then(|| tlds.to_vec()));
    let report = import_lines(store, clock.now(), lines, scope, progress).await?;
    Ok((report, sequence))
}

/// Applies one change: added or updated names are upserted, removed (restored) names leave
/// the list, dropped names stay (their drop time takes them off the searchable list).
pub async fn apply_change(
    store: &SharedStore,
    clock: &SharedClock,
    change: &feed::PendingDeleteChange,
) -> Result<(), FeedError> {
    let Some(entry) = &change.entry else {
        return Ok(());
    };
    match feed::ChangeKind::try_from(change.kind) {
        Ok(feed::ChangeKind::Added | feed::ChangeKind::Updated) => {
            let line = line_of(u64::try_from(change.sequence).unwrap_or(0), entry);
            let report =
                import_lines(store, clock.now(), vec![line], Scope::Partial, &mut |_| {}).await?;
            if let Some(error) = report.errors.first() {
                tracing::warn!(sequence = change.sequence, reason = %error.reason, "feed change skipped");
            }
        }
        Ok(feed::ChangeKind::Removed) => match DropName::parse(&entry.domain) {
            Ok(name) => {
                store.mark_drop_removed(&[name.domain], clock.now()).await?;
            }
            Err(reason) => {
                tracing::warn!(sequence = change.sequence, %reason, "feed change skipped")
            }
        },
        Ok(feed::ChangeKind::Dropped | feed::ChangeKind::Unspecified) | Err(_) => {}
    }
    Ok(())
}

/// Follows the change stream after `after` until it ends or `stop` resolves; returns the
/// last sequence applied.
pub async fn follow(
    store: &SharedStore,
    clock: &SharedClock,
    client: &mut PendingDeleteFeedClient<Channel>,
    after: i64,
    tlds: &[String],
    stop: impl Future<Output = ()>,
) -> Result<i64, FeedError> {
    let mut stream = client
        .watch_pending_deletes(feed::WatchPendingDeletesRequest {
            after_sequence: after,
            tlds: tlds.to_vec(),
        })
        .await?
        .into_inner();
    let mut last = after;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(last),
            next = stream.message() => match next? {
                Some(change) => {
                    apply_change(store, clock, &change).await?;
                    last = change.sequence;
                }
                None => return Ok(last),
            },
        }
    }
}

/// After a failed round, the next is tried this soon (or at the interval, if sooner).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The schedule of `serve --registry-url`: a snapshot at start and every `interval`, and the
/// change stream in between. A failed round is recorded in `supervision` and retried after
/// 30 s (or the interval, if shorter).
pub async fn run_schedule(
    store: SharedStore,
    clock: SharedClock,
    url: String,
    interval: Duration,
    supervision: SharedSupervision,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let round = async {
            let mut client = connect(&url).await?;
            let (report, sequence) =
                import_snapshot(&store, &clock, &mut client, &[], &mut |_| {}).await?;
            tracing::info!(
                inserted = report.inserted,
                updated = report.updated,
                unchanged = report.unchanged,
                removed = report.removed,
                bad_lines = report.bad_lines,
                "drop list imported from the registry feed"
            );
            supervision.succeeded(Part::DropListFeed).await;
            supervision.set_detail(
                Part::DropListFeed,
                format!(
                    "last snapshot: {} new, {} updated, {} removed, {} bad lines; following changes from {sequence}",
                    report.inserted, report.updated, report.removed, report.bad_lines
                ),
            );
            follow(
                &store,
                &clock,
                &mut client,
                sequence,
                &[],
                tokio::time::sleep(interval),
            )
            .await
        };
        let finished = tokio::select! {
            result = round => Some(result),
            _ = shutdown.changed() => None,
        };
        match finished {
            None => return,
            Some(Err(error)) => {
                tracing::warn!(%error, "drop-list feed import failed; retrying later");
                supervision
                    .failed(Part::DropListFeed, error.to_string())
                    .await;
                tokio::select! {
                    () = tokio::time::sleep(interval.min(RETRY_AFTER_FAILURE)) => {}
                    _ = shutdown.changed() => return,
                }
            }
            // The stream ended early (the registry restarted): take a new snapshot soon.
            Some(Ok(_)) => tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.changed() => return,
            },
        }
    }
}
