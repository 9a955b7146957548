//! Persistence of private auctions and assigned domains: seats, accepted bids, closing,
//! payment, default and settlement. The bidding rules live in `domain::auction`; every change
//! here is one transaction with its ledger movements, audit rows and events.

use super::LedgerError;
use super::orders::OrderError;
use super::{IdempotencyKey, StoreError, StoreResult};
use crate::domain::account::AccountId;
use crate::domain::auction::{Bid, Rules, Seat};
use crate::domain::money::{Currency, Money};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuctionPhase {
    /// Bids are taken between start and end (before start the API calls it SCHEDULED).
    Open,
    /// Ended: the winner has until the payment deadline.
    AwaitingPayment,
    /// Paid and the domain assigned, or nobody left to win it.
    Settled,
}

impl AuctionPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::AwaitingPayment => "AWAITING_PAYMENT",
            Self::Settled => "SETTLED",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        [Self::Open, Self::AwaitingPayment, Self::Settled]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// A seat as stored: the engine's seat plus whether it was put out for not paying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRecord {
    pub seat: Seat,
    pub defaulted: bool,
}

/// An accepted bid as stored; a defaulter's bids stay in history, marked removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidRecord {
    pub id: i64,
    pub bid: Bid,
    pub removed: bool,
}

/// Everything about one auction (the API decides what a seat may see of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionRecord {
    pub id: i64,
    pub domain: String,
    pub currency: Currency,
    pub rules: Rules,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub phase: AuctionPhase,
    pub winner_order_id: Option<i64>,
    /// The price the winner owes (set from the close on).
    pub price: Option<i64>,
    pub payment_deadline: Option<DateTime<Utc>>,
    pub seats: Vec<SeatRecord>,
    pub bids: Vec<BidRecord>,
}

impl AuctionRecord {
    /// Seats still in the auction (not put out by a payment default).
    pub fn live_seats(&self) -> Vec<Seat> {
        self.seats
            .iter()
            .filter(|s| !s.defaulted)
            .map(|s| s.seat)
            .collect()
    }

    /// Bids that count (a defaulter's are removed).
    pub fn live_bids(&self) -> Vec<Bid> {
        self.bids
            .iter()
            .filter(|b| !b.removed)
            .map(|b| b.bid)
            .collect()
    }

    pub fn seat(&self, order_id: i64) -> Option<&SeatRecord> {
        self.seats.iter().find(|s| s.seat.order_id == order_id)
    }
}

/// Who pays the auction price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentSource {
    /// From the winning account's balance (it must be in the auction's currency).
    Balance,
    /// Paid outside the platform, confirmed by the operator.
    Outside { memo: String },
}

/// What one scheduler step did to an auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuctionStep {
    /// Ended: a winner owes the price (or it was free and settled at once: see `settled`).
    Closed { settled: bool },
    /// The winner paid from its balance: settled.
    Paid,
    /// The winner did not pay in time; the result was recomputed without it.
    Defaulted { settled: bool },
    /// Nothing due (another replica handled it, or the winner still cannot pay).
    Nothing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedDomain {
    pub id: i64,
    pub domain: String,
    pub domain_unicode: String,
    pub account: AccountId,
    pub order_id: i64,
    pub registrar: String,
    pub auth_code: String,
    pub assigned_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuctionError {
    #[error("auction {0} not found")]
    NotFound(i64),
    #[error("backorder {order} has no seat in auction {auction}")]
    NotASeat { auction: i64, order: i64 },
    #[error("backorder {0} was put out of the auction for not paying")]
    SeatDefaulted(i64),
    #[error("maximum: the auction is in {expected}, not {given}")]
    CurrencyMismatch { expected: String, given: String },
    #[error("{0}")]
    Bid(#[from] crate::domain::auction::BidError),
    #[error("auction {id} is {phase}; {action} needs AWAITING_PAYMENT")]
    NotAwaitingPayment {
        id: i64,
        phase: &'static str,
        action: &'static str,
    },
    #[error(
        "auction {id}: the account pays in {account}, the auction is in {auction}; the operator must confirm a payment made outside"
    )]
    PaymentCurrency {
        id: i64,
        account: String,
        auction: String,
    },
    #[error("request_id: {0:?} was already used for a different request")]
    IdempotencyConflict(String),
    #[error(transparent)]
    Ledger(LedgerError),
    #[error(transparent)]
    Order(OrderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OrderError> for AuctionError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::Store(store) => Self::Store(store),
            OrderError::Ledger(ledger) => Self::Ledger(ledger),
            other => Self::Order(other),
        }
    }
}

impl From<LedgerError> for AuctionError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Store(store) => Self::Store(store),
            other => Self::Ledger(other),
        }
    }
}

impl From<sqlx::Error> for AuctionError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}

#[async_trait]
pub trait AuctionStore {
    /// The auction settings new auctions are opened with (kept in the database so every
    /// replica opens auctions alike); `None` until configured: the defaults apply.
    async fn set_auction_settings(&self, rules: &Rules) -> StoreResult<()>;
    async fn get_auction(&self, id: i64) -> StoreResult<Option<AuctionRecord>>;
    /// Auctions in which `account` holds a seat (all auctions for `None`), newest first.
    async fn list_auctions(
        &self,
        account: Option<AccountId>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AuctionRecord>, i64)>;
    /// Accepts a maximum bid for a seat under the proxy rules (refusals change nothing).
    async fn place_bid(
        &self,
        auction_id: i64,
        order_id: i64,
        maximum: Money,
        idempotency: Option<IdempotencyKey>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuctionRecord, AuctionError>;
    /// The winner pays (from its balance, or confirmed as paid outside): the auction settles.
    async fn pay_auction(
        &self,
        auction_id: i64,
        source: PaymentSource,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuctionRecord, AuctionError>;
    /// Auctions with something due at `now`: open past their end, or awaiting payment.
    async fn auctions_due(&self, now: DateTime<Utc>) -> StoreResult<Vec<i64>>;
    /// Closes, collects or defaults one auction, whichever is due (re-checked under its lock).
    async fn advance_auction(
        &self,
        auction_id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<AuctionStep, AuctionError>;
    /// Tries to collect every auction `account` won and has not paid (funds just arrived).
    async fn collect_auction_payments(
        &self,
        account: AccountId,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<u32, AuctionError>;
    async fn list_domains(
        &self,
        account: Option<AccountId>,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<AssignedDomain>, i64)>;
    /// The latest assignment of a domain.
    async fn get_domain(&self, domain: &str) -> StoreResult<Option<AssignedDomain>>;
}
