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

/// The longest lead (finalization or lock) a TLD may have. Anything longer is a typo, and a
/// lead of thousands of years would push a domain's times out of the representable range.
pub const MAX_LEAD: Duration = Duration::days(365);
/// `MAX_LEAD` in seconds, as leads are stored.
pub const MAX_LEAD_SECS: i64 = 365 * 86_400;

impl Leads {
    /// Leads as the catalog stores them (whole seconds), when both are within
    /// `0..=MAX_LEAD`. A row written before the catalog refused longer leads may hold
    /// anything; such leads give no times rather than wrong ones.
    pub fn from_secs(finalization: i64, lock: i64) -> Option<Self> {
        let lead = |secs: i64| {
            (0..=MAX_LEAD_SECS)
                .contains(&secs)
                .then(|| Duration::seconds(secs))
        };
        Some(Self {
            finalization: lead(finalization)?,
            lock: lead(lock)?,
        })
    }
}

/// The first instant the service works with: 0000-01-01T00:00:00Z.
pub const EARLIEST_SECS: i64 = -62_167_219_200;
/// The last second the service works with: 9999-12-31T23:59:59Z (the range of RFC 3339,
/// and of the drop list's `YYYY-MM-DD` dates). Clock moves and drop times beyond the range
/// are refused, so adding a few days to any time the service holds can never overflow.
pub const LATEST_SECS: i64 = 253_402_300_799;

/// The earliest time the service accepts (clock, drop times).
pub fn earliest_time() -> DateTime<Utc> {
    DateTime::from_timestamp(EARLIEST_SECS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest time the service accepts (clock, drop times), to the last nanosecond of 9999.
pub fn latest_time() -> DateTime<Utc> {
    DateTime::from_timestamp(LATEST_SECS, 999_999_999).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether `time` lies within years 0000 to 9999.
pub fn in_range(time: DateTime<Utc>) -> bool {
    (earliest_time()..=latest_time()).contains(&time)
}

/// What the drop list says about an order's domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Not on the list: the registry has not scheduled the deletion.
    Unscheduled,
    /// It was on the list and left it before dropping: the registrant restored it.
    Restored,
    Listed(Times),
    /// On the list, but its times cannot be computed: its TLD's leads are outside
    /// `0..=MAX_LEAD` (stored before the catalog refused them) or the drop time is so far
    /// off that subtracting them leaves the representable range. Treated like `Unscheduled`
    /// (no hold, no failure) until an operator corrects the TLD; scheduler passes log it.
    OutOfRange,
}

impl Schedule {
    /// The schedule of a listed drop: its times, or `OutOfRange`.
    pub fn listed(drop_time: DateTime<Utc>, leads: Option<Leads>) -> Self {
        leads
            .and_then(|leads| Times::new(drop_time, leads))
            .map_or(Self::OutOfRange, Self::Listed)
    }
}

/// The times of one domain (spec/lifecycle.md, "Times for one domain").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub drop_time: DateTime<Utc>,
    pub finalization_at: DateTime<Utc>,
    pub lock_from: DateTime<Utc>,
}

impl Times {
    /// `None` when a time would leave chrono's range (never for drop times within
    /// `in_range` and leads within `MAX_LEAD`).
    pub fn new(drop_time: DateTime<Utc>, leads: Leads) -> Option<Self> {
        let finalization_at = drop_time.checked_sub_signed(leads.finalization)?;
        Some(Self {
            drop_time,
            finalization_at,
            lock_from: finalization_at.checked_sub_signed(leads.lock)?,
        })
    }
}

/// What a scheduler pass does with one open order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// REQUESTED in the lock window: try to hold the price (ACTIVE, or LOW_BALANCE if short).
    PlaceHold,
    /// ACTIVE at finalization: the order is valid (PROCESSING).
    Finalize,
    /// REQUESTED at finalization, placed before it: the last try of the hold, then
    /// finalization, as a pass in the window would have done. This is how a pass after an
    /// outage (no pass ran between the opening of the window and finalization) catches up:
    /// the hold is tried with the funds available now and, if placed, the order is finalized
    /// at once (ACTIVE, then PROCESSING); if the funds are short it is FAILED(UNFUNDED), with
    /// no LOW_BALANCE (the window is over).
    CatchUp,
    /// REQUESTED at finalization, placed after it (accepted while the drop list had no time
    /// for the name, or a later one): FAILED(UNFUNDED), as the spec has it for orders placed
    /// after finalization.
    Unfunded,
    /// ACTIVE but the domain was restored: release the hold and sleep (REQUESTED).
    Sleep,
}

impl Step {
    /// Steps that move money: they lock the account's balance row first.
    pub fn moves_money(self) -> bool {
        matches!(self, Self::PlaceHold | Self::CatchUp | Self::Sleep)
    }
}

/// What a scheduler pass at `now` does with an order in `status`, placed at `created_at`.
pub fn next_step(
    status: Status,
    schedule: Schedule,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Step> {
    match (status, schedule) {
        (Status::Requested, Schedule::Listed(t)) if now >= t.finalization_at => {
            if created_at < t.finalization_at {
                Some(Step::CatchUp)
            } else {
                Some(Step::Unfunded)
            }
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
/// 04:00 UTC after its drop time. Orders of a drop that was not caught by then fail. `None`
/// only for a drop time at the very end of chrono's range (never within `in_range`).
pub fn daily_deal_window_close(drop_time: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let four = drop_time.date_naive().and_hms_opt(4, 0, 0)?.and_utc();
    if four > drop_time {
        Some(four)
    } else {
        four.checked_add_signed(Duration::days(1))
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
        let times = Times::new(at("2026-12-10T19:00:00Z"), leads()).unwrap();
        assert_eq!(times.finalization_at, at("2026-12-10T17:00:00Z"));
        assert_eq!(times.lock_from, at("2026-12-07T17:00:00Z"));
    }

    #[test]
    fn leads_are_bounded_and_times_never_overflow() {
        assert_eq!(
            Leads::from_secs(7200, 259_200),
            Some(leads()),
            "the defaults"
        );
        assert!(Leads::from_secs(MAX_LEAD_SECS, MAX_LEAD_SECS).is_some());
        for (finalization, lock) in [
            (MAX_LEAD_SECS + 1, 0),
            (0, MAX_LEAD_SECS + 1),
            (-1, 0),
            (0, -1),
            (i64::MAX, 0),
            (0, i64::MIN),
        ] {
            assert_eq!(
                Leads::from_secs(finalization, lock),
                None,
                "{finalization} {lock}"
            );
        }
        let drop = at("2026-12-10T19:00:00Z");
        assert_eq!(Schedule::listed(drop, None), Schedule::OutOfRange);
        let huge = Leads {
            finalization: Duration::MAX,
            lock: Duration::zero(),
        };
        assert_eq!(Times::new(drop, huge), None, "no panic: out of range");
        assert_eq!(
            Times::new(DateTime::<Utc>::MIN_UTC, leads()),
            None,
            "no panic at the start of chrono's range"
        );
        // Within the service's range, the longest leads always give times.
        let longest = Leads::from_secs(MAX_LEAD_SECS, MAX_LEAD_SECS);
        for drop in [earliest_time(), latest_time()] {
            assert!(matches!(
                Schedule::listed(drop, longest),
                Schedule::Listed(_)
            ));
        }
        let seconds = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        assert!(in_range(at("0000-01-01T00:00:00Z")) && in_range(at("9999-12-31T23:59:59Z")));
        assert!(!in_range(seconds(LATEST_SECS + 1)), "10000-01-01");
        assert!(
            !in_range(seconds(EARLIEST_SECS - 1)),
            "-0001-12-31T23:59:59"
        );
    }

    #[test]
    fn the_scheduler_acts_at_the_window_edges() {
        let listed = Schedule::Listed(Times::new(at("2026-12-10T19:00:00Z"), leads()).unwrap());
        let placed = at("2026-12-01T00:00:00Z");
        let step = |status, schedule, now| next_step(status, schedule, placed, now);
        let before_lock = at("2026-12-07T16:59:59Z");
        assert_eq!(step(Status::Requested, listed, before_lock), None);
        assert_eq!(
            step(Status::Requested, listed, at("2026-12-07T17:00:00Z")),
            Some(Step::PlaceHold)
        );
        assert_eq!(
            step(Status::Requested, listed, at("2026-12-10T16:59:59Z")),
            Some(Step::PlaceHold)
        );
        assert_eq!(
            step(Status::Active, listed, at("2026-12-10T16:59:59Z")),
            None
        );
        assert_eq!(
            step(Status::Active, listed, at("2026-12-10T17:00:00Z")),
            Some(Step::Finalize)
        );
        assert_eq!(
            step(Status::Active, Schedule::Restored, before_lock),
            Some(Step::Sleep)
        );
        assert_eq!(
            step(Status::Requested, Schedule::Restored, before_lock),
            None
        );
        assert_eq!(
            step(Status::Active, Schedule::Unscheduled, before_lock),
            None
        );
        for status in [Status::Requested, Status::Active] {
            for now in [before_lock, at("2026-12-11T00:00:00Z")] {
                assert_eq!(step(status, Schedule::OutOfRange, now), None);
            }
        }
    }

    #[test]
    fn a_pass_after_finalization_tries_the_hold_of_orders_placed_before_it() {
        let listed = Schedule::Listed(Times::new(at("2026-12-10T19:00:00Z"), leads()).unwrap());
        let finalization = at("2026-12-10T17:00:00Z");
        // Whether a pass saw the window or the service was down through all of it, the pass
        // that applies finalization tries the hold first; a day later too.
        for placed in [
            at("2026-12-01T00:00:00Z"),
            at("2026-12-08T00:00:00Z"),
            at("2026-12-10T16:59:59Z"),
        ] {
            for now in [finalization, at("2026-12-11T17:00:00Z")] {
                assert_eq!(
                    next_step(Status::Requested, listed, placed, now),
                    Some(Step::CatchUp),
                    "placed {placed}, pass at {now}"
                );
            }
        }
        // Placed at or after finalization (the name was not on the list then): UNFUNDED.
        for placed in [finalization, at("2026-12-10T17:30:00Z")] {
            assert_eq!(
                next_step(
                    Status::Requested,
                    listed,
                    placed,
                    at("2026-12-10T18:00:00Z")
                ),
                Some(Step::Unfunded),
                "placed {placed}"
            );
        }
        // An order already held just finalizes.
        assert_eq!(
            next_step(
                Status::Active,
                listed,
                at("2026-12-01T00:00:00Z"),
                at("2026-12-11T00:00:00Z")
            ),
            Some(Step::Finalize)
        );
        assert!(Step::CatchUp.moves_money() && !Step::Unfunded.moves_money());
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
            Some(at("2026-12-11T04:00:00Z"))
        );
        assert_eq!(
            daily_deal_window_close(at("2026-12-11T01:00:00Z")),
            Some(at("2026-12-11T04:00:00Z"))
        );
        assert_eq!(
            daily_deal_window_close(at("2026-12-11T04:00:00Z")),
            Some(at("2026-12-12T04:00:00Z"))
        );
        assert_eq!(
            daily_deal_window_close(latest_time()),
            DateTime::from_timestamp(LATEST_SECS + 1 + 4 * 3600, 0),
            "10000-01-01T04:00:00Z"
        );
        assert_eq!(
            daily_deal_window_close(DateTime::<Utc>::MAX_UTC),
            None,
            "no panic"
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
