//! The backorder status machine of spec/lifecycle.md: statuses, the one table of allowed
//! transitions, a domain's times, and what the scheduler must do next for an order. Pure.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Requested,
    Active,
    Processing,
    Successful,
    AuctionPending,
    AuctionWon,
    AuctionLost,
    Failed,
    Cancelled,
}

impl Status {
    pub const ALL: [Self; 9] = [
        Self::Requested,
        Self::Active,
        Self::Processing,
        Self::Successful,
        Self::AuctionPending,
        Self::AuctionWon,
        Self::AuctionLost,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Active => "ACTIVE",
            Self::Processing => "PROCESSING",
            Self::Successful => "SUCCESSFUL",
            Self::AuctionPending => "AUCTION_PENDING",
            Self::AuctionWon => "AUCTION_WON",
            Self::AuctionLost => "AUCTION_LOST",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Open orders can still be cancelled or changed by the client.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Active)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Successful
                | Self::AuctionWon
                | Self::AuctionLost
                | Self::Failed
                | Self::Cancelled
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    Unfunded,
    NotCaught,
    LostToPriority,
    PaymentDefault,
    DomainNotDropped,
}

impl FailureReason {
    pub const ALL: [Self; 5] = [
        Self::Unfunded,
        Self::NotCaught,
        Self::LostToPriority,
        Self::PaymentDefault,
        Self::DomainNotDropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unfunded => "UNFUNDED",
            Self::NotCaught => "NOT_CAUGHT",
            Self::LostToPriority => "LOST_TO_PRIORITY",
            Self::PaymentDefault => "PAYMENT_DEFAULT",
            Self::DomainNotDropped => "DOMAIN_NOT_DROPPED",
        }
    }

    pub fn from_db(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The spec's transition table; `None` as `from` is placement. Nothing else may happen.
// One arm per row of the spec's table reads better than one long `matches!`.
#[allow(clippy::match_like_matches_macro)]
pub fn is_allowed(from: Option<Status>, to: Status, reason: Option<FailureReason>) -> bool {
    use FailureReason as R;
    use Status as S;
    match (from, to, reason) {
        (None, S::Requested, None) => true,
        (Some(S::Requested), S::Active, None) => true,
        (Some(S::Requested | S::Active), S::Cancelled, None) => true,
        (Some(S::Active), S::Requested, None) => true,
        (Some(S::Active), S::Processing, None) => true,
        (Some(S::Requested), S::Failed, Some(R::Unfunded)) => true,
        (
            Some(S::Processing),
            S::Failed,
            Some(R::NotCaught | R::LostToPriority | R::DomainNotDropped),
        ) => true,
        (Some(S::Processing), S::Successful | S::AuctionPending, None) => true,
        (Some(S::AuctionPending), S::AuctionWon | S::AuctionLost, None) => true,
        (Some(S::AuctionPending), S::Failed, Some(R::PaymentDefault)) => true,
        _ => false,
    }
}

/// How long before the drop orders close, and how long before that funds are locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leads {
    pub finalization: Duration,
    pub lock: Duration,
}

/// What the drop list says about an order's domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Not on the list: the registry has not scheduled the deletion.
    Unscheduled,
    /// It was on the list and left it before dropping: the registrant restored it.
    Restored,
    Listed(Times),
}

/// The times of one domain (spec/lifecycle.md, "Times for one domain").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub drop_time: DateTime<Utc>,
    pub finalization_at: DateTime<Utc>,
    pub lock_from: DateTime<Utc>,
}

impl Times {
    pub fn new(drop_time: DateTime<Utc>, leads: Leads) -> Self {
        let finalization_at = drop_time - leads.finalization;
        Self {
            drop_time,
            finalization_at,
            lock_from: finalization_at - leads.lock,
        }
    }
}

/// What a scheduler pass does with one open order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// REQUESTED in the lock window: try to hold the price (ACTIVE, or LOW_BALANCE if short).
    PlaceHold,
    /// ACTIVE at finalization: the order is valid (PROCESSING).
    Finalize,
    /// REQUESTED at finalization without a hold: FAILED(UNFUNDED).
    Unfunded,
    /// ACTIVE but the domain was restored: release the hold and sleep (REQUESTED).
    Sleep,
}

pub fn next_step(status: Status, schedule: Schedule, now: DateTime<Utc>) -> Option<Step> {
    match (status, schedule) {
        (Status::Requested, Schedule::Listed(t)) if now >= t.finalization_at => {
            Some(Step::Unfunded)
        }
        (Status::Requested, Schedule::Listed(t)) if now >= t.lock_from => Some(Step::PlaceHold),
        (Status::Active, Schedule::Listed(t)) if now >= t.finalization_at => Some(Step::Finalize),
        (Status::Active, Schedule::Restored) => Some(Step::Sleep),
        _ => None,
    }
}

/// Lite post-drop orders ("daily deals") are taken from 18:00 to 04:00 UTC (the next day).
pub fn in_daily_deal_window(now: DateTime<Utc>) -> bool {
    use chrono::Timelike;
    let seconds = now.num_seconds_from_midnight();
    !(4 * 3600..18 * 3600).contains(&seconds)
}

/// When the daily-deal window that sells a drop's lite post-drop orders closes: the first
/// 04:00 UTC after its drop time. Orders of a drop that was not caught by then fail.
pub fn daily_deal_window_close(drop_time: DateTime<Utc>) -> DateTime<Utc> {
    let four = drop_time
        .date_naive()
        .and_hms_opt(4, 0, 0)
        .expect("04:00:00 is a valid time")
        .and_utc();
    if four > drop_time {
        four
    } else {
        four + Duration::days(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn leads() -> Leads {
        Leads {
            finalization: Duration::hours(2),
            lock: Duration::hours(72),
        }
    }

    #[test]
    fn times_follow_the_drop() {
        let times = Times::new(at("2026-12-10T19:00:00Z"), leads());
        assert_eq!(times.finalization_at, at("2026-12-10T17:00:00Z"));
        assert_eq!(times.lock_from, at("2026-12-07T17:00:00Z"));
    }

    #[test]
    fn the_scheduler_acts_at_the_window_edges() {
        let listed = Schedule::Listed(Times::new(at("2026-12-10T19:00:00Z"), leads()));
        let before_lock = at("2026-12-07T16:59:59Z");
        assert_eq!(next_step(Status::Requested, listed, before_lock), None);
        assert_eq!(
            next_step(Status::Requested, listed, at("2026-12-07T17:00:00Z")),
            Some(Step::PlaceHold)
        );
        assert_eq!(
            next_step(Status::Active, listed, at("2026-12-10T16:59:59Z")),
            None
        );
        assert_eq!(
            next_step(Status::Active, listed, at("2026-12-10T17:00:00Z")),
            Some(Step::Finalize)
        );
        assert_eq!(
            next_step(Status::Requested, listed, at("2026-12-10T17:00:00Z")),
            Some(Step::Unfunded)
        );
        assert_eq!(
            next_step(Status::Active, Schedule::Restored, before_lock),
            Some(Step::Sleep)
        );
        assert_eq!(
            next_step(Status::Requested, Schedule::Restored, before_lock),
            None
        );
        assert_eq!(
            next_step(Status::Active, Schedule::Unscheduled, before_lock),
            None
        );
    }

    #[test]
    fn only_the_spec_transitions_are_allowed() {
        let mut allowed = 0;
        for from in Status::ALL.map(Some).into_iter().chain([None]) {
            for to in Status::ALL {
                for reason in FailureReason::ALL.map(Some).into_iter().chain([None]) {
                    if is_allowed(from, to, reason) {
                        allowed += 1;
                        assert!(
                            from.is_none_or(|f| !f.is_terminal()),
                            "{from:?} is terminal"
                        );
                    }
                }
            }
        }
        // The spec's rows, a row with two sources or targets counted per pair, FAILED per
        // reason (PROCESSING fails as NOT_CAUGHT, LOST_TO_PRIORITY or DOMAIN_NOT_DROPPED).
        assert_eq!(allowed, 15);
        assert!(!is_allowed(
            Some(Status::Processing),
            Status::Cancelled,
            None
        ));
        assert!(!is_allowed(
            Some(Status::Requested),
            Status::Processing,
            None
        ));
    }

    #[test]
    fn daily_deal_windows_close_at_the_next_four_am() {
        assert_eq!(
            daily_deal_window_close(at("2026-12-10T19:30:00Z")),
            at("2026-12-11T04:00:00Z")
        );
        assert_eq!(
            daily_deal_window_close(at("2026-12-11T01:00:00Z")),
            at("2026-12-11T04:00:00Z")
        );
        assert_eq!(
            daily_deal_window_close(at("2026-12-11T04:00:00Z")),
            at("2026-12-12T04:00:00Z")
        );
    }

    #[test]
    fn daily_deal_window_edges() {
        assert!(!in_daily_deal_window(at("2026-12-10T17:59:59Z")));
        assert!(in_daily_deal_window(at("2026-12-10T18:00:00Z")));
        assert!(in_daily_deal_window(at("2026-12-11T03:59:59Z")));
        assert!(!in_daily_deal_window(at("2026-12-11T04:00:00Z")));
    }
}
