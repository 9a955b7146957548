//! Private auctions as a seat sees them: bids, payment, and the operator's confirmation of a
//! payment made outside. A seat never sees other seats' maxima or identities: the view is
//! computed here from the stored auction and the caller's seat only.

use super::{
    UseCaseError, UseCaseResult, UseCases, idempotency, own_account, require_operator,
    require_write,
};
use crate::domain::account::Caller;
use crate::domain::auction;
use crate::domain::money::Money;
use crate::store::auctions::{AuctionPhase, AuctionRecord, PaymentSource};
use chrono::{DateTime, Utc};

/// Where an auction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuctionState {
    Scheduled,
    Open,
    AwaitingPayment,
    Settled,
}

/// Where the caller's seat stands (None when the operator looks without a seat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BidderStatus {
    Leading,
    Outbid,
    NoBid,
    Won,
    Lost,
}

/// An auction as one seat (or the operator, with no seat) sees it at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionView {
    pub id: i64,
    pub domain: String,
    pub state: AuctionState,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub current_price: Money,
    /// While open only.
    pub minimum_next_bid: Option<Money>,
    pub opening_bid: Money,
    pub number_of_bids: u64,
    pub number_of_bidders: u64,
    pub number_of_seats: u64,
    /// The seat (backorder id) the view is for.
    pub seat: Option<i64>,
    pub bidder_status: Option<BidderStatus>,
    pub my_maximum: Option<Money>,
    pub payment_deadline: Option<DateTime<Utc>>,
}

/// A bid as a seat places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceBid {
    pub auction: i64,
    /// The seat (backorder id) to bid through; an account caller may leave it out (its
    /// first seat), the operator must name it.
    pub seat: Option<i64>,
    pub maximum: Money,
    pub request_id: Option<String>,
}

/// The auction as `seat` sees it at `now` (the operator, with no seat, sees the public part).
pub fn view(auction: &AuctionRecord, seat: Option<i64>, now: DateTime<Utc>) -> AuctionView {
    let bids = auction.live_bids();
    let standing = auction::standing(&auction.rules, &bids);
    let open = auction.phase == AuctionPhase::Open;
    let state = match auction.phase {
        AuctionPhase::Open if now < auction.start_time => AuctionState::Scheduled,
        AuctionPhase::Open => AuctionState::Open,
        AuctionPhase::AwaitingPayment => AuctionState::AwaitingPayment,
        AuctionPhase::Settled => AuctionState::Settled,
    };
    let in_currency = |minor: i64| Money::new(auction.currency, minor);
    let my_maximum =
        seat.and_then(|s| bids.iter().filter(|b| b.seat == s).map(|b| b.maximum).max());
    let bidder_status = match seat {
        None => None,
        Some(s) if !open => Some(if auction.winner_order_id == Some(s) {
            BidderStatus::Won
        } else {
            BidderStatus::Lost
        }),
        Some(s) if standing.leader == Some(s) => Some(BidderStatus::Leading),
        Some(_) if my_maximum.is_some() => Some(BidderStatus::Outbid),
        Some(_) => Some(BidderStatus::NoBid),
    };
    let price = if open {
        standing.price
    } else {
        auction.price.unwrap_or(standing.price)
    };
    AuctionView {
        id: auction.id,
        domain: auction.domain.clone(),
        state,
        start_time: auction.start_time,
        end_time: auction.end_time,
        current_price: in_currency(price),
        minimum_next_bid: open.then(|| in_currency(standing.minimum_next_bid)),
        opening_bid: in_currency(auction.rules.opening_bid),
        number_of_bids: u64::try_from(standing.number_of_bids).unwrap_or(u64::MAX),
        number_of_bidders: u64::try_from(standing.number_of_bidders).unwrap_or(u64::MAX),
        number_of_seats: u64::try_from(auction.live_seats().len()).unwrap_or(u64::MAX),
        seat,
        bidder_status,
        my_maximum: my_maximum.map(in_currency),
        payment_deadline: auction.payment_deadline,
    }
}

/// The seat the caller acts or looks through: the named one (it must be the caller's),
/// else the caller's first. The operator may look without a seat. Someone else's auction
/// answers as an absent one.
fn seat_of(
    caller: &Caller,
    auction: &AuctionRecord,
    named: Option<i64>,
) -> UseCaseResult<Option<i64>> {
    let mine = |order: i64| match caller {
        Caller::Operator { .. } | Caller::Shell => true,
        Caller::Account { account_id, .. } => auction
            .seat(order)
            .is_some_and(|s| s.seat.account == *account_id),
    };
    match (named, caller) {
        (Some(order), _) if auction.seat(order).is_some() && mine(order) => Ok(Some(order)),
        (Some(order), _) => {
            let message = format!(
                "backorder {order} has no seat of yours in auction {}",
                auction.id
            );
            Err(if auction.seat(order).is_some() {
                UseCaseError::NotYours(message)
            } else {
                UseCaseError::NotFound(message)
            })
        }
        (None, Caller::Operator { .. } | Caller::Shell) => Ok(None),
        (None, Caller::Account { .. }) => auction
            .seats
            .iter()
            .map(|s| s.seat.order_id)
            .find(|&order| mine(order))
            .map(Some)
            .ok_or_else(|| UseCaseError::NotYours(format!("auction {} not found", auction.id))),
    }
}

impl UseCases {
    async fn auction(&self, id: i64) -> UseCaseResult<AuctionRecord> {
        self.store
            .get_auction(id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound(format!("auction {id} not found")))
    }

    /// An auction through the named seat, or the caller's first.
    pub async fn get_auction(
        &self,
        caller: &Caller,
        id: i64,
        seat: Option<i64>,
    ) -> UseCaseResult<AuctionView> {
        let auction = self.auction(id).await?;
        let seat = seat_of(caller, &auction, seat)?;
        Ok(view(&auction, seat, self.clock.now()))
    }

    /// The auctions the caller has a seat in (all for the operator), newest first, and the
    /// total.
    pub async fn list_auctions(
        &self,
        caller: &Caller,
        offset: u32,
        limit: u32,
    ) -> UseCaseResult<(Vec<AuctionView>, i64)> {
        let (auctions, total) = self
            .store
            .list_auctions(own_account(caller), offset, limit)
            .await?;
        let now = self.clock.now();
        let views = auctions
            .iter()
            .map(|auction| Ok(view(auction, seat_of(caller, auction, None)?, now)))
            .collect::<UseCaseResult<Vec<_>>>()?;
        Ok((views, total))
    }

    /// A maximum bid through a seat (proxy bidding).
    pub async fn place_bid(&self, caller: &Caller, bid: PlaceBid) -> UseCaseResult<AuctionView> {
        require_write(caller)?;
        let auction = self.auction(bid.auction).await?;
        let Some(seat) = seat_of(caller, &auction, bid.seat)? else {
            return Err(UseCaseError::invalid(
                "backorder_id",
                "is required when the operator bids: name the seat",
            ));
        };
        let now = self.clock.now();
        let updated = self
            .store
            .place_bid(
                auction.id,
                seat,
                bid.maximum,
                idempotency(caller, bid.request_id),
                &caller.actor(),
                now,
            )
            .await?;
        Ok(view(&updated, Some(seat), now))
    }

    /// The winner pays the price from its balance.
    pub async fn pay_auction(&self, caller: &Caller, id: i64) -> UseCaseResult<AuctionView> {
        require_write(caller)?;
        let auction = self.auction(id).await?;
        // A caller without a seat learns nothing, not even that the auction exists or
        // whether it is open: as absent, as from every other auction call.
        seat_of(caller, &auction, None)?;
        let winner = auction.winner_order_id.ok_or_else(|| {
            UseCaseError::WrongStatus(format!(
                "auction {} has no winner yet; payment is due after it closes",
                auction.id
            ))
        })?;
        let seat = seat_of(caller, &auction, Some(winner)).map_err(|_| {
            UseCaseError::PermissionDenied(format!("only the winner pays auction {}", auction.id))
        })?;
        let now = self.clock.now();
        let paid = self
            .store
            .pay_auction(auction.id, PaymentSource::Balance, &caller.actor(), now)
            .await?;
        Ok(view(&paid, seat, now))
    }

    /// The operator confirms that the winner paid outside the platform.
    pub async fn confirm_auction_payment(
        &self,
        caller: &Caller,
        id: i64,
        memo: &str,
    ) -> UseCaseResult<AuctionView> {
        require_operator(caller)?;
        require_write(caller)?;
        if memo.trim().is_empty() {
            return Err(UseCaseError::invalid(
                "memo",
                "is required: say how and when the winner paid",
            ));
        }
        let auction = self.auction(id).await?;
        let now = self.clock.now();
        let paid = self
            .store
            .pay_auction(
                auction.id,
                PaymentSource::Outside {
                    memo: memo.trim().to_string(),
                },
                &caller.actor(),
                now,
            )
            .await?;
        Ok(view(&paid, paid.winner_order_id, now))
    }
}
