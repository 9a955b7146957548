//! AuctionService: an auction as a seat sees it, bids, payment and the operator's
//! confirmation of a payment made outside. A seat never sees other seats' maxima or
//! identities: the view is computed here from the stored auction and the caller's seat only.

use super::convert::{money, money_in, page_offset, page_size, timestamp};
use super::error::{ApiError, ApiResult};
use super::{Context, request_id};
use crate::domain::account::Caller;
use crate::domain::auction;
use crate::domain::money::Money;
use crate::store::IdempotencyKey;
use crate::store::auctions::{AuctionError, AuctionPhase, AuctionRecord, PaymentSource};
use backorder_proto::backorder::v1 as pb;
use chrono::{DateTime, Utc};
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

    async fn auction(&self, id_text: &str) -> ApiResult<AuctionRecord> {
        let id = parse_id("auction_id", id_text)?;
        self.ctx
            .store
            .get_auction(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("auction {id} not found")))
    }

    /// The seat the caller acts or looks through: the named one (it must be the caller's),
    /// else the caller's first. The operator may look without a seat.
    fn seat_of(
        caller: &Caller,
        auction: &AuctionRecord,
        backorder_id: &str,
    ) -> ApiResult<Option<i64>> {
        let named = if backorder_id.trim().is_empty() {
            None
        } else {
            Some(parse_id("backorder_id", backorder_id)?)
        };
        let mine = |order: i64| match caller {
            Caller::Operator { .. } => true,
            Caller::Account { account_id, .. } => auction
                .seat(order)
                .is_some_and(|s| s.seat.account == *account_id),
        };
        match (named, caller) {
            (Some(order), _) if auction.seat(order).is_some() && mine(order) => Ok(Some(order)),
            (Some(order), _) => Err(ApiError::NotFound(format!(
                "backorder {order} has no seat of yours in auction {}",
                auction.id
            ))),
            (None, Caller::Operator { .. }) => Ok(None),
            (None, Caller::Account { .. }) => auction
                .seats
                .iter()
                .map(|s| s.seat.order_id)
                .find(|&order| mine(order))
                .map(Some)
                // Someone else's auction looks absent.
                .ok_or_else(|| ApiError::NotFound(format!("auction {} not found", auction.id))),
        }
    }
}

fn parse_id(field: &str, text: &str) -> ApiResult<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid(field, "must be an id such as \"17\""))
}

/// The auction as `seat` sees it at `now` (the operator, with no seat, sees the public part).
pub fn auction_pb(auction: &AuctionRecord, seat: Option<i64>, now: DateTime<Utc>) -> pb::Auction {
    let bids = auction.live_bids();
    let standing = auction::standing(&auction.rules, &bids);
    let open = auction.phase == AuctionPhase::Open;
    let state = match auction.phase {
        AuctionPhase::Open if now < auction.start_time => pb::AuctionState::Scheduled,
        AuctionPhase::Open => pb::AuctionState::Open,
        AuctionPhase::AwaitingPayment => pb::AuctionState::AwaitingPayment,
        AuctionPhase::Settled => pb::AuctionState::Settled,
    };
    let in_currency = |minor: i64| Some(money(Money::new(auction.currency, minor)));
    let my_maximum =
        seat.and_then(|s| bids.iter().filter(|b| b.seat == s).map(|b| b.maximum).max());
    let bidder_status = match seat {
        None => pb::BidderStatus::Unspecified,
        Some(s) if !open => {
            if auction.winner_order_id == Some(s) {
                pb::BidderStatus::Won
            } else {
                pb::BidderStatus::Lost
            }
        }
        Some(s) if standing.leader == Some(s) => pb::BidderStatus::Leading,
        Some(_) if my_maximum.is_some() => pb::BidderStatus::Outbid,
        Some(_) => pb::BidderStatus::NoBid,
    };
    let price = if open {
        standing.price
    } else {
        auction.price.unwrap_or(standing.price)
    };
    pb::Auction {
        id: auction.id.to_string(),
        domain: auction.domain.clone(),
        state: state as i32,
        start_time: Some(timestamp(auction.start_time)),
        end_time: Some(timestamp(auction.end_time)),
        current_price: in_currency(price),
        minimum_next_bid: if open {
            in_currency(standing.minimum_next_bid)
        } else {
            None
        },
        opening_bid: in_currency(auction.rules.opening_bid),
        number_of_bids: i32::try_from(standing.number_of_bids).unwrap_or(i32::MAX),
        number_of_bidders: i32::try_from(standing.number_of_bidders).unwrap_or(i32::MAX),
        number_of_seats: i32::try_from(auction.live_seats().len()).unwrap_or(i32::MAX),
        backorder_id: seat.map(|s| s.to_string()).unwrap_or_default(),
        bidder_status: bidder_status as i32,
        my_maximum: my_maximum.and_then(in_currency),
        payment_deadline: auction.payment_deadline.map(timestamp),
    }
}

impl From<AuctionError> for ApiError {
    fn from(error: AuctionError) -> Self {
        match error {
            AuctionError::NotFound(_) | AuctionError::NotASeat { .. } => {
                Self::NotFound(error.to_string())
            }
            AuctionError::CurrencyMismatch { .. } => Self::invalid(
                "maximum.currency_code",
                error
                    .to_string()
                    .trim_start_matches("maximum: ")
                    .to_string(),
            ),
            AuctionError::Bid(bid) => bid_error(bid),
            AuctionError::SeatDefaulted(_)
            | AuctionError::NotAwaitingPayment { .. }
            | AuctionError::PaymentCurrency { .. } => Self::FailedPrecondition(error.to_string()),
            AuctionError::IdempotencyConflict(_) => Self::AlreadyExists {
                field: "request_id".into(),
                rule: error
                    .to_string()
                    .trim_start_matches("request_id: ")
                    .to_string(),
            },
            AuctionError::Ledger(ledger) => ledger.into(),
            AuctionError::Order(order) => order.into(),
            AuctionError::Store(store) => store.into(),
        }
    }
}

/// Bids too low are bad input; bids at the wrong time are a precondition.
fn bid_error(error: auction::BidError) -> ApiError {
    use auction::BidError as B;
    match error {
        B::BelowMinimum { .. } | B::NotAboveOwnMaximum { .. } => {
            ApiError::invalid("maximum", error.to_string())
        }
        other => ApiError::FailedPrecondition(other.to_string()),
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
        let auction = self.auction(&message.auction_id).await?;
        let seat = Self::seat_of(&caller, &auction, &message.backorder_id)?;
        Ok(Response::new(auction_pb(
            &auction,
            seat,
            self.ctx.clock.now(),
        )))
    }

    async fn list_auctions(
        &self,
        request: Request<pb::ListAuctionsRequest>,
    ) -> Result<Response<pb::ListAuctionsResponse>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        let limit = page_size(message.page_size)?;
        let offset = page_offset(&message.page_token)?;
        let account = match &caller {
            Caller::Operator { .. } => None,
            Caller::Account { account_id, .. } => Some(*account_id),
        };
        let (auctions, total) = self
            .ctx
            .store
            .list_auctions(account, offset, limit)
            .await
            .map_err(ApiError::from)?;
        let now = self.ctx.clock.now();
        let views = auctions
            .iter()
            .map(|auction| {
                Ok(auction_pb(
                    auction,
                    Self::seat_of(&caller, auction, "")?,
                    now,
                ))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let seen = i64::from(offset) + i64::try_from(views.len()).unwrap_or(i64::MAX);
        Ok(Response::new(pb::ListAuctionsResponse {
            auctions: views,
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
        let auction = self.auction(&message.auction_id).await?;
        let Some(seat) = Self::seat_of(&caller, &auction, &message.backorder_id)? else {
            return Err(ApiError::invalid(
                "backorder_id",
                "is required when the operator bids: name the seat",
            )
            .into());
        };
        let maximum = money_in("maximum", message.maximum.as_ref(), true)?;
        let idempotency = if message.request_id.trim().is_empty() {
            None
        } else {
            Some(IdempotencyKey {
                scope: caller.idempotency_scope(),
                request_id: request_id(&message.request_id)?,
            })
        };
        let now = self.ctx.clock.now();
        let updated = self
            .ctx
            .store
            .place_bid(auction.id, seat, maximum, idempotency, &caller.actor(), now)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(auction_pb(&updated, Some(seat), now)))
    }

    async fn pay_auction(
        &self,
        request: Request<pb::PayAuctionRequest>,
    ) -> Result<Response<pb::Auction>, GrpcStatus> {
        let caller = self.ctx.caller(&request).await?;
        let message = request.get_ref();
        request_id(&message.request_id)?;
        let auction = self.auction(&message.auction_id).await?;
        // A caller without a seat learns nothing, not even that the auction exists or
        // whether it is open: NOT_FOUND, as from every other auction call.
        Self::seat_of(&caller, &auction, "")?;
        let winner = auction.winner_order_id.ok_or_else(|| {
            ApiError::FailedPrecondition(format!(
                "auction {} has no winner yet; payment is due after it closes",
                auction.id
            ))
        })?;
        let seat = Self::seat_of(&caller, &auction, &winner.to_string()).map_err(|_| {
            ApiError::PermissionDenied(format!("only the winner pays auction {}", auction.id))
        })?;
        let now = self.ctx.clock.now();
        let paid = self
            .ctx
            .store
            .pay_auction(auction.id, PaymentSource::Balance, &caller.actor(), now)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(auction_pb(&paid, seat, now)))
    }

    async fn confirm_auction_payment(
        &self,
        request: Request<pb::ConfirmAuctionPaymentRequest>,
    ) -> Result<Response<pb::Auction>, GrpcStatus> {
        let caller = self.ctx.operator(&request).await?;
        let message = request.get_ref();
        request_id(&message.request_id)?;
        if message.memo.trim().is_empty() {
            return Err(
                ApiError::invalid("memo", "is required: say how and when the winner paid").into(),
            );
        }
        let auction = self.auction(&message.auction_id).await?;
        let now = self.ctx.clock.now();
        let paid = self
            .ctx
            .store
            .pay_auction(
                auction.id,
                PaymentSource::Outside {
                    memo: message.memo.trim().to_string(),
                },
                &caller.actor(),
                now,
            )
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(auction_pb(&paid, paid.winner_order_id, now)))
    }
}
