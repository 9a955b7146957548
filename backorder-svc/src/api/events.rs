//! EventService: the per-account event stream with resume from a cursor. The stream reads
//! the events table after the cursor and then polls it; the table is the source of truth, so
//! a reconnect with the last cursor neither loses nor repeats an event, on any replica.

use super::backorders::{reason_pb, status_pb};
use super::convert::{money, page_size, timestamp};
use super::error::{ApiError, ApiResult};
use super::{Context, account_id};
use crate::domain::event::{Event, EventType};
use crate::domain::lifecycle::{FailureReason, Status};
use crate::usecases::listing_scope;
use backorder_proto::backorder::v1 as pb;
use pb::event_service_server::EventService;
use std::pin::Pin;
use std::time::Duration;
use tokio_stream::Stream;
use tonic::{Request, Response, Status as GrpcStatus};

/// How often an idle stream looks for new events.
const POLL: Duration = Duration::from_millis(200);
const BATCH: u32 = 500;

#[derive(Debug, Clone)]
pub struct EventApi {
    ctx: Context,
}

impl EventApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }
}

fn type_pb(kind: EventType) -> pb::EventType {
    match kind {
        EventType::StatusChanged => pb::EventType::StatusChanged,
        EventType::LowBalance => pb::EventType::LowBalance,
        EventType::AlertMatch => pb::EventType::AlertMatch,
        EventType::AuctionInvitation => pb::EventType::AuctionInvitation,
        EventType::AuctionOutbid => pb::EventType::AuctionOutbid,
        EventType::AuctionExtended => pb::EventType::AuctionExtended,
        EventType::AuctionClosed => pb::EventType::AuctionClosed,
        EventType::AuctionWon => pb::EventType::AuctionWon,
        EventType::AuctionLost => pb::EventType::AuctionLost,
        EventType::DomainAssigned => pb::EventType::DomainAssigned,
        EventType::FundsChanged => pb::EventType::FundsChanged,
    }
}

fn status_of(text: Option<&str>) -> i32 {
    text.and_then(Status::from_db)
        .map_or(pb::BackorderStatus::Unspecified, status_pb) as i32
}

pub fn event_pb(stored: &Event) -> pb::Event {
    let e = &stored.event;
    pb::Event {
        cursor: stored.id.to_string(),
        r#type: type_pb(e.kind) as i32,
        account_id: e.account.to_string(),
        time: Some(timestamp(e.at)),
        backorder_id: e.backorder_id.map(|id| id.to_string()).unwrap_or_default(),
        domain: e.domain.clone().unwrap_or_default(),
        auction_id: e.auction_id.map(|id| id.to_string()).unwrap_or_default(),
        old_status: status_of(e.old_status.as_deref()),
        new_status: status_of(e.new_status.as_deref()),
        failure_reason: reason_pb(e.failure_reason.as_deref().and_then(FailureReason::from_db))
            as i32,
        message: e.message.clone(),
        amount: e.amount.map(money),
        alert_id: e.alert_id.map(|id| id.to_string()).unwrap_or_default(),
    }
}

fn cursor(text: &str) -> ApiResult<i64> {
    if text.trim().is_empty() {
        return Ok(0);
    }
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|c| *c >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                "after_cursor",
                "must be the cursor of an event this service sent",
            )
        })
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, GrpcStatus>> + Send>>;

#[tonic::async_trait]
impl EventService for EventApi {
    type StreamEventsStream = EventStream;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        // The account whose events the caller reads: its own, or for the operator one or
        // all; refused now rather than in the stream.
        let account = listing_scope(&caller, account_id("account_id", &req.account_id)?)?;
        let mut after = cursor(&req.after_cursor)?;
        let uc = self.ctx.uc.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let batch = match uc.list_events(&caller, account, after, BATCH).await {
                    Ok(batch) => batch,
                    Err(error) => {
                        let _ = tx.send(Err(GrpcStatus::from(error))).await;
                        return;
                    }
                };
                for event in &batch {
                    after = event.id;
                    if tx.send(Ok(event_pb(event))).await.is_err() {
                        return; // the client went away
                    }
                }
                if batch.len() < BATCH as usize {
                    tokio::select! {
                        _ = tx.closed() => return,
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let account = account_id("account_id", &req.account_id)?;
        let after = cursor(&req.after_cursor)?;
        let events = self
            .ctx
            .uc
            .list_events(&caller, account, after, page_size(req.page_size)?)
            .await?;
        Ok(Response::new(pb::ListEventsResponse {
            next_cursor: events.last().map_or(after, |e| e.id).to_string(),
            events: events.iter().map(event_pb).collect(),
        }))
    }
}
