//! AuctionService: an auction as a seat sees it (`usecases::auctions::view`), bids, payment
//! and the operator's confirmation of a payment made outside.

use super::Context;
use super::convert::{money, money_in, page_offset, page_size, timestamp};
use super::error::ApiResult;
use crate::usecases::auctions::{AuctionState, AuctionView, BidderStatus, PlaceBid};
use crate::usecases::{UseCases, optional_request_id, required_request_id};
use backorder_proto::backorder::v1 as pb;
use pb::auction_service_server::AuctionService;
use tonic::{Request, Response, Status as GrpcStatus};

#[derive(Debug, Clone)]
pub struct AuctionApi {
    ctx: Context,
}

impl AuctionApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn uc(&self) -> &UseCases {
        &self.ctx.uc
    }
}

fn parse_id(field: &str, text: &str) -> ApiResult<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| super::error::ApiError::invalid(field, "must be an id such as \"17\""))
}

/// A named seat (backorder id), or none.
fn seat_in(text: &str) -> ApiResult<Option<i64>> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        parse_id("backorder_id", text).map(Some)
    }
}

pub fn auction_pb(view: &AuctionView) -> pb::Auction {
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    pb::Auction {
        id: view.id.to_string(),
        domain: view.domain.clone(),
        state: match view.state {
            AuctionState::Scheduled => pb::AuctionState::Scheduled,
            AuctionState::Open => pb::AuctionState::Open,
            AuctionState::AwaitingPayment => pb::AuctionState::AwaitingPayment,
            AuctionState::Settled => pb::AuctionState::Settled,
        } as i32,
        start_time: Some(timestamp(view.start_time)),
        end_time: Some(timestamp(view.end_time)),
        current_price: Some(money(view.current_price)),
        minimum_next_bid: view.minimum_next_bid.map(money),
        opening_bid: Some(money(view.opening_bid)),
        number_of_bids: count(view.number_of_bids),
        number_of_bidders: count(view.number_of_bidders),
        number_of_seats: count(view.number_of_seats),
        backorder_id: view.seat.map(|s| s.to_string()).unwrap_or_default(),
        bidder_status: match view.bidder_status {
            None => pb::BidderStatus::Unspecified,
            Some(BidderStatus::Leading) => pb::BidderStatus::Leading,
            Some(BidderStatus::Outbid) => pb::BidderStatus::Outbid,
            Some(BidderStatus::NoBid) => pb::BidderStatus::NoBid,
            Some(BidderStatus::Won) => pb::BidderStatus::Won,
            Some(BidderStatus::Lost) => pb::BidderStatus::Lost,
        } as i32,
        my_maximum: view.my_maximum.map(money),
        payment_deadline: view.payment_deadline.map(timestamp),
    }
}

#[tonic::async_trait]
impl AuctionService for AuctionApi {
    async fn get_auction(
        &self,
        request: Request<pb::GetAuctionRequest>,
    ) -> Result<Response<pb::Auction>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        let id = parse_id("auction_id", &message.auction_id)?;
        let seat = seat_in(&message.backorder_id)?;
        let view = self.uc().get_auction(&caller, id, seat).await?;
        Ok(Response::new(auction_pb(&view)))
    }

    async fn list_auctions(
        &self,
        request: Request<pb::ListAuctionsRequest>,
    ) -> Result<Response<pb::ListAuctionsResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        let limit = page_size(message.page_size)?;
        let offset = page_offset(&message.page_token)?;
        let (views, total) = self.uc().list_auctions(&caller, offset, limit).await?;
        let seen = i64::from(offset) + i64::try_from(views.len()).unwrap_or(i64::MAX);
        Ok(Response::new(pb::ListAuctionsResponse {
            auctions: views.iter().map(auction_pb).collect(),
            next_page_token: if seen < total {
                seen.to_string()
            } else {
                String::new()
            },
        }))
    }

    async fn place_bid(
        &self,
        request: Request<pb::PlaceBidRequest>,
    ) -> Result<Response<pb::Auction>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        let bid = PlaceBid {
            auction: parse_id("auction_id", &message.auction_id)?,
            seat: seat_in(&message.backorder_id)?,
            maximum: money_in("maximum", message.maximum.as_ref(), true)?,
            request_id: optional_request_id(&message.request_id)?,
        };
        let view = self.uc().place_bid(&caller, bid).await?;
        Ok(Response::new(auction_pb(&view)))
    }

    async fn pay_auction(
        &self,
        request: Request<pb::PayAuctionRequest>,
    ) -> Result<Response<pb::Auction>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        required_request_id(Some(&message.request_id))?;
        let id = parse_id("auction_id", &message.auction_id)?;
        let view = self.uc().pay_auction(&caller, id).await?;
        Ok(Response::new(auction_pb(&view)))
    }

    async fn confirm_auction_payment(
        &self,
        request: Request<pb::ConfirmAuctionPaymentRequest>,
    ) -> Result<Response<pb::Auction>, GrpcStatus> {
        let caller = self.ctx.operator(&request).await?;
        let message = request.get_ref();
        required_request_id(Some(&message.request_id))?;
        let id = parse_id("auction_id", &message.auction_id)?;
        let view = self
            .uc()
            .confirm_auction_payment(&caller, id, &message.memo)
            .await?;
        Ok(Response::new(auction_pb(&view)))
    }
}
