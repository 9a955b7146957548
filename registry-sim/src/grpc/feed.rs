//! `registry.v1.PendingDeleteFeed`: the list by page, its change stream, and the CSV export.

use super::convert::{change, entry};
use crate::api::{self, pending_delete_feed_server::PendingDeleteFeed};
use crate::sim::Sim;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
const CSV_CHUNK: usize = 64 * 1024;
/// Changes read from the log per lock, so a long backlog does not starve other calls.
const REPLAY_BATCH: usize = 1000;

pub struct FeedService {
    sim: Arc<Sim>,
}

impl FeedService {
    pub fn new(sim: Arc<Sim>) -> Self {
        FeedService { sim }
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn lower(tlds: Vec<String>) -> Vec<String> {
    tlds.into_iter()
        .map(|t| t.trim_start_matches('.').to_ascii_lowercase())
        .collect()
}

#[tonic::async_trait]
impl PendingDeleteFeed for FeedService {
    async fn list_pending_deletes(
        &self,
        request: Request<api::ListPendingDeletesRequest>,
    ) -> Result<Response<api::ListPendingDeletesResponse>, Status> {
        let r = request.into_inner();
        let size = match r.page_size {
            0 => DEFAULT_PAGE,
            n if n < 0 => return Err(Status::invalid_argument("page_size: must not be negative")),
            n => (n as usize).min(MAX_PAGE),
        };
        let tlds = lower(r.tlds);
        let (page, sequence) = self.sim.with_world(|w| {
            (
                w.feed().page(&tlds, &r.page_token, size),
                w.feed().sequence(),
            )
        });
        let page = page.map_err(Status::invalid_argument)?;
        Ok(Response::new(api::ListPendingDeletesResponse {
            entries: page.entries.iter().map(entry).collect(),
            next_page_token: page.next_token,
            sequence,
            total_size: page.total as i64,
        }))
    }

    type WatchPendingDeletesStream = BoxStream<api::PendingDeleteChange>;

    async fn watch_pending_deletes(
        &self,
        request: Request<api::WatchPendingDeletesRequest>,
    ) -> Result<Response<Self::WatchPendingDeletesStream>, Status> {
        let r = request.into_inner();
        let tlds = lower(r.tlds);
        let sim = Arc::clone(&self.sim);
        let (tx, rx) = mpsc::channel(256);
        let mut marks = sim.feed_marks();
        let mut closing = sim.closing();
        let epoch = sim.epoch();
        let mut cursor = r.after_sequence.max(0);
        tokio::spawn(async move {
            loop {
                // Mark the current value seen before reading, so no change slips between.
                let (mark_epoch, _) = *marks.borrow_and_update();
                if mark_epoch != epoch {
                    let _ = tx
                        .send(Err(Status::aborted(
                            "the simulation was reset: list the feed again",
                        )))
                        .await;
                    return;
                }
                let batch = sim.with_world(|w| w.feed().changes_after(cursor, &[], REPLAY_BATCH));
                if let Some(last) = batch.last() {
                    cursor = last.sequence;
                }
                for c in batch
                    .iter()
                    .filter(|c| tlds.is_empty() || tlds.contains(&c.entry.tld))
                {
                    if tx.send(Ok(change(c))).await.is_err() {
                        return;
                    }
                }
                if batch.len() == REPLAY_BATCH {
                    continue;
                }
                tokio::select! {
                    changed = marks.changed() => if changed.is_err() { return },
                    _ = tx.closed() => return,
                    _ = closing.wait_for(|c| *c) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type ExportPendingDeletesCsvStream = BoxStream<api::CsvChunk>;

    async fn export_pending_deletes_csv(
        &self,
        request: Request<api::ExportPendingDeletesCsvRequest>,
    ) -> Result<Response<Self::ExportPendingDeletesCsvStream>, Status> {
        let tlds = lower(request.into_inner().tlds);
        let csv = self.sim.with_world(|w| w.feed().csv(&tlds)).into_bytes();
        // Chunks end at line ends so that each chunk is a valid CSV fragment on its own.
        let mut chunks = Vec::new();
        let mut rest = csv.as_slice();
        while !rest.is_empty() {
            let mut end = rest.len().min(CSV_CHUNK);
            if end < rest.len() {
                end = rest[..end]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map(|i| i + 1)
                    .unwrap_or(end);
            }
            chunks.push(Ok(api::CsvChunk {
                data: rest[..end].to_vec(),
            }));
            rest = &rest[end..];
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}
