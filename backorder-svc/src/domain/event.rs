//! Events of the per-account stream: every status change, low-balance warning, auction
//! notice and keyword-alert match.

use super::account::AccountId;
use super::money::Money;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    StatusChanged,
    LowBalance,
    AlertMatch,
    AuctionInvitation,
    AuctionOutbid,
    AuctionExtended,
    AuctionClosed,
    AuctionWon,
    AuctionLost,
    DomainAssigned,
    FundsChanged,
}

impl EventType {
    pub const ALL: [Self; 11] = [
        Self::StatusChanged,
        Self::LowBalance,
        Self::AlertMatch,
        Self::AuctionInvitation,
        Self::AuctionOutbid,
        Self::AuctionExtended,
        Self::AuctionClosed,
        Self::AuctionWon,
        Self::AuctionLost,
        Self::DomainAssigned,
        Self::FundsChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StatusChanged => "STATUS_CHANGED",
            Self::LowBalance => "LOW_BALANCE",
            Self::AlertMatch => "ALERT_MATCH",
            Self::AuctionInvitation => "AUCTION_INVITATION",
            Self::AuctionOutbid => "AUCTION_OUTBID",
            Self::AuctionExtended => "AUCTION_EXTENDED",
            Self::AuctionClosed => "AUCTION_CLOSED",
            Self::AuctionWon => "AUCTION_WON",
            Self::AuctionLost => "AUCTION_LOST",
            Self::DomainAssigned => "DOMAIN_ASSIGNED",
            Self::FundsChanged => "FUNDS_CHANGED",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// An event to append, inside the transaction of the change it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub account: AccountId,
    pub kind: EventType,
    pub at: DateTime<Utc>,
    pub backorder_id: Option<i64>,
    pub domain: Option<String>,
    pub auction_id: Option<i64>,
    pub old_status: Option<String>,
    pub new_status: Option<String>,
    pub failure_reason: Option<String>,
    pub message: String,
    pub amount: Option<Money>,
    pub alert_id: Option<i64>,
    /// Set for events that must happen at most once; a second insert is silently skipped.
    pub dedupe_key: Option<String>,
}

impl NewEvent {
    pub fn new(
        account: AccountId,
        kind: EventType,
        at: DateTime<Utc>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            account,
            kind,
            at,
            backorder_id: None,
            domain: None,
            auction_id: None,
            old_status: None,
            new_status: None,
            failure_reason: None,
            message: message.into(),
            amount: None,
            alert_id: None,
            dedupe_key: None,
        }
    }
}

/// A stored event; `id` is the stream cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: i64,
    pub event: NewEvent,
}
