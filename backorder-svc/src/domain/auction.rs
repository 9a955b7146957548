//! The private proxy auction of spec/allocation-and-auctions.md ("Private auction",
//! "Settlement"): the increment table, when an auction runs, the standing replayed from the
//! accepted bids, accepting or refusing a new bid (with the soft close), the result, and the
//! recomputation after a payment default. Pure: amounts are integer minor units of the
//! auction's currency, the caller passes the time in, and the service stores seats and bids.
//!
//! The accepted bids, in acceptance order, are the whole state: everything else is replayed
//! from them, so the result after a default is the same replay over fewer bids and can never
//! drift from what the seats were shown.
//!
//! Which price the increment is looked up at: the amount being stepped from. The minimum next
//! bid is `price + at(price)`; a losing challenge `m` makes the price `min(leader_max, m +
//! at(m))`; a winning one leads at `min(m, leader_max + at(leader_max))`.
//!
//! Closed form of the sequential rules (checked by a property test): with one bidder the price
//! is the opening bid; otherwise it is `min(cap, second + at(second))`, where `second` is the
//! highest maximum of the other seats and `cap` is the leader's maximum that first beat it:
//! the one in force when the last bid of another seat was placed, if at least `second` (the
//! earlier bid wins ties), else the leader's first later maximum above `second`. The plain
//! `min(leader_max, second + increment)` differs exactly when the leader raised its maximum
//! after the price had been capped by it: A 30, B 30 leaves A leading at 30, and A raising to
//! 50 keeps 30 where the plain form says 35. The spec wants 30: a leader's raise never moves
//! the price.
//!
//! Increments must not decrease as the price rises. Otherwise a higher price could have a
//! lower minimum next bid, and removing a defaulter's bids could raise what the others pay:
//! with 3.51 below 20.01 and 0.01 above, B 22.50, C 20.00, D 25.00 ends with D at 22.51, but
//! without B's bid D pays 23.51.

use super::account::AccountId;
use super::money::{Currency, Money};
use chrono::{DateTime, Duration, NaiveTime, Utc};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The increment by current price: tiers that apply below a bound, and one increment above
/// every bound. Bounds increase, so every price has exactly one increment; increments are
/// positive and never decrease as the price rises (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementTable {
    tiers: Vec<Tier>,
    above: i64,
}

/// `increment` applies to prices strictly below `below` (and at or above the previous bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub increment: i64,
    pub below: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncrementTableError {
    #[error(
        "increment table is empty; write a flat increment such as \"500\" or tiers such as \
         \"500<50000,1000<100000,2500\" (minor units)"
    )]
    Empty,
    #[error(
        "increment table item {item:?} is not INCREMENT<BOUND or, last, INCREMENT \
         (whole minor units, e.g. \"500<50000\")"
    )]
    Malformed { item: String },
    #[error(
        "increment table item {item:?} has no bound; every item but the last needs one, \
         as in \"500<50000\""
    )]
    MissingBound { item: String },
    #[error(
        "increment table item {item:?} has a bound, but the last item is the increment above \
         every bound and takes none"
    )]
    BoundOnLast { item: String },
    #[error("increment {increment} must be greater than zero")]
    IncrementNotPositive { increment: i64 },
    #[error("bound {bound} must be greater than zero")]
    BoundNotPositive { bound: i64 },
    #[error("bound {bound} must be above the previous bound {previous}")]
    BoundsNotIncreasing { previous: i64, bound: i64 },
    #[error(
        "increment {increment} is below the increment {previous} of lower prices; increments \
         must not decrease as the price rises"
    )]
    IncrementsDecrease { previous: i64, increment: i64 },
}

impl IncrementTable {
    /// The spec's default: 5.00 at every price.
    pub const DEFAULT_INCREMENT: i64 = 500;

    /// One increment at every price.
    pub fn flat(increment: i64) -> Result<Self, IncrementTableError> {
        Self::tiered(Vec::new(), increment)
    }

    /// `tiers` in increasing bound order, then the increment above the last bound.
    pub fn tiered(tiers: Vec<Tier>, above: i64) -> Result<Self, IncrementTableError> {
        let increments: Vec<i64> = tiers.iter().map(|t| t.increment).chain([above]).collect();
        check_increments(&increments)?;
        let bounds: Vec<i64> = tiers.iter().map(|t| t.below).collect();
        check_bounds(&bounds)?;
        Ok(Self { tiers, above })
    }

    /// The increment at `price`.
    pub fn at(&self, price: i64) -> i64 {
        self.tiers
            .iter()
            .find(|tier| price < tier.below)
            .map_or(self.above, |tier| tier.increment)
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    pub fn above(&self) -> i64 {
        self.above
    }
}

/// Positive, and never smaller at a higher price (see the module doc).
fn check_increments(increments: &[i64]) -> Result<(), IncrementTableError> {
    if let Some(&increment) = increments.iter().find(|&&increment| increment <= 0) {
        return Err(IncrementTableError::IncrementNotPositive { increment });
    }
    match increments.windows(2).find(|pair| pair[1] < pair[0]) {
        Some(pair) => Err(IncrementTableError::IncrementsDecrease {
            previous: pair[0],
            increment: pair[1],
        }),
        None => Ok(()),
    }
}

/// Positive and strictly increasing, so every price falls in exactly one tier.
fn check_bounds(bounds: &[i64]) -> Result<(), IncrementTableError> {
    if let Some(&bound) = bounds.first().filter(|&&bound| bound <= 0) {
        return Err(IncrementTableError::BoundNotPositive { bound });
    }
    match bounds.windows(2).find(|pair| pair[1] <= pair[0]) {
        Some(pair) => Err(IncrementTableError::BoundsNotIncreasing {
            previous: pair[0],
            bound: pair[1],
        }),
        None => Ok(()),
    }
}

impl Default for IncrementTable {
    fn default() -> Self {
        Self {
            tiers: Vec::new(),
            above: Self::DEFAULT_INCREMENT,
        }
    }
}

/// Parses the configuration form: `"500"` (flat) or `"500<50000,1000<100000,2500"` (5.00
/// below 500.00, 10.00 below 1,000.00, 25.00 above), all in minor units.
impl FromStr for IncrementTable {
    type Err = IncrementTableError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim().is_empty() {
            return Err(IncrementTableError::Empty);
        }
        let items: Vec<&str> = text.split(',').map(str::trim).collect();
        let (last, bounded) = items.split_last().ok_or(IncrementTableError::Empty)?;
        let tiers = bounded
            .iter()
            .map(|item| parse_tier(item))
            .collect::<Result<Vec<_>, _>>()?;
        if last.contains('<') {
            return Err(IncrementTableError::BoundOnLast {
                item: last.to_string(),
            });
        }
        Self::tiered(tiers, parse_amount(last, last)?)
    }
}

fn parse_tier(item: &str) -> Result<Tier, IncrementTableError> {
    let (increment, below) =
        item.split_once('<')
            .ok_or_else(|| IncrementTableError::MissingBound {
                item: item.to_string(),
            })?;
    Ok(Tier {
        increment: parse_amount(increment, item)?,
        below: parse_amount(below, item)?,
    })
}

/// Whole minor units, digits only: a sign or a decimal point is a mistake worth naming.
fn parse_amount(text: &str, item: &str) -> Result<i64, IncrementTableError> {
    let text = text.trim();
    let malformed = || IncrementTableError::Malformed {
        item: item.to_string(),
    };
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    text.parse().map_err(|_| malformed())
}

/// Writes the configuration form back, so a parsed table round-trips.
impl fmt::Display for IncrementTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for tier in &self.tiers {
            write!(f, "{}<{},", tier.increment, tier.below)?;
        }
        write!(f, "{}", self.above)
    }
}

/// The auction settings (spec defaults: USD, opening 10.00, flat 5.00, 3 days from the next
/// 20:00 UTC, 2-minute soft close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Every amount here is in minor units of this currency; it names them in messages.
    pub currency: Currency,
    pub opening_bid: i64,
    pub increments: IncrementTable,
    pub length: Duration,
    pub soft_close: Duration,
    /// 0 to 23; a larger value wraps around the day.
    pub start_hour_utc: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            currency: Currency::parse("USD").expect("USD is an ISO 4217 currency"),
            opening_bid: 1000,
            increments: IncrementTable::default(),
            length: Duration::days(3),
            soft_close: Duration::minutes(2),
            start_hour_utc: 20,
        }
    }
}

impl Rules {
    fn money(&self, minor: i64) -> Money {
        Money::new(self.currency, minor)
    }

    /// `amount` plus the increment at `amount`, never overflowing.
    fn step_up(&self, amount: i64) -> i64 {
        amount.saturating_add(self.increments.at(amount))
    }
}

/// The next start hour (20:00 UTC by default) after the catch, "after" read strictly: a
/// domain caught at exactly 20:00:00 starts the next day, so bidding never opens at the very
/// instant of the catch, before the seats have even been invited.
pub fn start_time(caught_at: DateTime<Utc>, rules: &Rules) -> DateTime<Utc> {
    let hour = Duration::hours(i64::from(rules.start_hour_utc % 24));
    let same_day = caught_at.date_naive().and_time(NaiveTime::MIN).and_utc() + hour;
    if same_day > caught_at {
        same_day
    } else {
        same_day + Duration::days(1)
    }
}

/// When bids are taken: from `start` (inclusive) to `end` (exclusive). `end` moves with the
/// soft close, so the service stores the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The window of a domain caught at `caught_at`, before any extension.
    pub fn after_catch(caught_at: DateTime<Utc>, rules: &Rules) -> Self {
        let start = start_time(caught_at, rules);
        Self {
            start,
            end: start + rules.length,
        }
    }
}

/// A seat: one per regular order in the auction; `order_id` is its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seat {
    pub order_id: i64,
    pub account: AccountId,
    pub created_at: DateTime<Utc>,
}

/// An accepted bid. Bids are kept in acceptance order; the position is the tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bid {
    /// The seat's order id.
    pub seat: i64,
    pub maximum: i64,
    pub placed_at: DateTime<Utc>,
}

/// Where the auction stands after the accepted bids. Seats are shown everything but
/// `leader_maximum` and the leader's identity (they only learn whether they lead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub leader: Option<i64>,
    /// 0 with no bids.
    pub leader_maximum: i64,
    /// 0 with no bids.
    pub price: i64,
    pub number_of_bids: usize,
    pub number_of_bidders: usize,
    pub minimum_next_bid: i64,
}

/// The leader, its maximum and the price while replaying.
#[derive(Debug, Clone, Copy)]
struct Lead {
    seat: i64,
    maximum: i64,
    price: i64,
}

/// Replays the accepted bids, in acceptance order, with the proxy rules.
pub fn standing(rules: &Rules, bids: &[Bid]) -> Standing {
    let lead = bids
        .iter()
        .fold(None, |lead, bid| Some(after_bid(rules, lead, bid)));
    let bidders: BTreeSet<i64> = bids.iter().map(|bid| bid.seat).collect();
    Standing {
        leader: lead.map(|l| l.seat),
        leader_maximum: lead.map_or(0, |l| l.maximum),
        price: lead.map_or(0, |l| l.price),
        number_of_bids: bids.len(),
        number_of_bidders: bidders.len(),
        minimum_next_bid: lead.map_or(rules.opening_bid, |l| rules.step_up(l.price)),
    }
}

/// One step of the proxy rules: the system bids for each seat just enough to lead.
fn after_bid(rules: &Rules, lead: Option<Lead>, bid: &Bid) -> Lead {
    match lead {
        // The first bid leads at the opening bid, whatever its maximum.
        None => Lead {
            seat: bid.seat,
            maximum: bid.maximum,
            price: rules.opening_bid,
        },
        // A leader raising its own maximum never bids against itself.
        Some(lead) if lead.seat == bid.seat => Lead {
            maximum: lead.maximum.max(bid.maximum),
            ..lead
        },
        // Strictly more than the leader's maximum takes the lead, one increment above it.
        Some(lead) if bid.maximum > lead.maximum => Lead {
            seat: bid.seat,
            maximum: bid.maximum,
            price: bid.maximum.min(rules.step_up(lead.maximum)),
        },
        // Otherwise (ties included: the earlier bid leads) the leader answers for its seat.
        Some(lead) => Lead {
            price: lead.maximum.min(rules.step_up(bid.maximum)),
            ..lead
        },
    }
}

/// Why a bid is refused; the messages name the rule and the figures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BidError {
    #[error("order {seat} has no seat in this auction; only its seats may bid")]
    NotASeat { seat: i64 },
    #[error("the auction opens at {start}; bids before then are refused")]
    NotOpen { start: DateTime<Utc> },
    #[error("the auction ended at {end}; bids at or after the end are refused")]
    Ended { end: DateTime<Utc> },
    #[error(
        "maximum {} is below the minimum next bid {}",
        .maximum.amount_string(),
        .minimum.amount_string()
    )]
    BelowMinimum { maximum: Money, minimum: Money },
    #[error(
        "you already lead with maximum {}; a new maximum must be above it, got {}",
        .current.amount_string(),
        .maximum.amount_string()
    )]
    NotAboveOwnMaximum { maximum: Money, current: Money },
}

/// What an accepted bid changed, for the service to store and to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BidAccepted {
    /// To append to the accepted bids.
    pub bid: Bid,
    pub standing: Standing,
    /// The window after the soft close (`end` moved when `extended`).
    pub window: Window,
    /// The bid came in the last `soft_close` before the end: AUCTION_EXTENDED to every seat.
    pub extended: bool,
    /// The previous leader, when this bid took the lead from it: AUCTION_OUTBID to it. A
    /// challenge that does not take the lead learns so from `standing` at once.
    pub outbid: Option<i64>,
}

/// Accepts or refuses `seat`'s new `maximum` at `now`. Checks in order: a seat, inside the
/// window, at least the minimum next bid, and a leader must raise its own maximum. The
/// currency of the amount is checked where it is parsed (it is always `rules.currency` here).
pub fn place_bid(
    rules: &Rules,
    seats: &[Seat],
    bids: &[Bid],
    window: Window,
    seat: i64,
    maximum: i64,
    now: DateTime<Utc>,
) -> Result<BidAccepted, BidError> {
    if !seats.iter().any(|s| s.order_id == seat) {
        return Err(BidError::NotASeat { seat });
    }
    if now < window.start {
        return Err(BidError::NotOpen {
            start: window.start,
        });
    }
    if now >= window.end {
        return Err(BidError::Ended { end: window.end });
    }
    let before = standing(rules, bids);
    if maximum < before.minimum_next_bid {
        return Err(BidError::BelowMinimum {
            maximum: rules.money(maximum),
            minimum: rules.money(before.minimum_next_bid),
        });
    }
    if before.leader == Some(seat) && maximum <= before.leader_maximum {
        return Err(BidError::NotAboveOwnMaximum {
            maximum: rules.money(maximum),
            current: rules.money(before.leader_maximum),
        });
    }

    let bid = Bid {
        seat,
        maximum,
        placed_at: now,
    };
    let mut accepted = bids.to_vec();
    accepted.push(bid);
    let after = standing(rules, &accepted);
    let (window, extended) = soft_close(rules, window, now);
    Ok(BidAccepted {
        bid,
        standing: after,
        window,
        extended,
        outbid: before
            .leader
            .filter(|&previous| after.leader != Some(previous)),
    })
}

/// A bid at or after `end - soft_close` moves the end by `soft_close`, without a cap: nobody
/// wins by sniping in the last second.
fn soft_close(rules: &Rules, window: Window, now: DateTime<Utc>) -> (Window, bool) {
    if now >= window.end - rules.soft_close {
        let end = window.end + rules.soft_close;
        (Window { end, ..window }, true)
    } else {
        (window, false)
    }
}

/// Who won and what it pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Winner {
    /// The seat's order id.
    pub seat: i64,
    pub price: i64,
}

/// The result once the auction has ended: the leader at the price; with no bids, the earliest
/// seat (by order creation, then id) at 0; with no seats, nobody. `bids` are the accepted bids
/// of these seats.
pub fn result(rules: &Rules, seats: &[Seat], bids: &[Bid]) -> Option<Winner> {
    if seats.is_empty() {
        return None;
    }
    let standing = standing(rules, bids);
    match standing.leader {
        Some(seat) => Some(Winner {
            seat,
            price: standing.price,
        }),
        None => earliest_seat(seats).map(|seat| Winner {
            seat: seat.order_id,
            price: 0,
        }),
    }
}

fn earliest_seat(seats: &[Seat]) -> Option<&Seat> {
    seats.iter().min_by_key(|s| (s.created_at, s.order_id))
}

/// The seats and bids left when `defaulted_seat` does not pay: that seat goes, and so does
/// every bid of its account (from any of its seats); the account's other seats stay seats.
/// `result` over what is left is the new winner at the price the proxy rules give without the
/// defaulter. An unknown `defaulted_seat` removes nothing.
pub fn without_defaulter(
    seats: &[Seat],
    bids: &[Bid],
    defaulted_seat: i64,
) -> (Vec<Seat>, Vec<Bid>) {
    let Some(defaulter) = seats
        .iter()
        .find(|s| s.order_id == defaulted_seat)
        .map(|s| s.account)
    else {
        return (seats.to_vec(), bids.to_vec());
    };
    let defaulters_seats: BTreeSet<i64> = seats
        .iter()
        .filter(|s| s.account == defaulter)
        .map(|s| s.order_id)
        .collect();
    let remaining_seats = seats
        .iter()
        .filter(|s| s.order_id != defaulted_seat)
        .copied()
        .collect();
    let remaining_bids = bids
        .iter()
        .filter(|b| !defaulters_seats.contains(&b.seat))
        .copied()
        .collect();
    (remaining_seats, remaining_bids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const A: i64 = 1;
    const B: i64 = 2;
    const C: i64 = 3;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn seat(order_id: i64, account: i64, created: &str) -> Seat {
        Seat {
            order_id,
            account: AccountId(account),
            created_at: at(created),
        }
    }

    /// Seats 1, 2, 3 of accounts 1, 2, 3, created in that order.
    fn three_seats() -> Vec<Seat> {
        vec![
            seat(A, 1, "2026-01-01T00:00:00Z"),
            seat(B, 2, "2026-01-02T00:00:00Z"),
            seat(C, 3, "2026-01-03T00:00:00Z"),
        ]
    }

    fn rules_with(increments: &str) -> Rules {
        Rules {
            increments: increments.parse().unwrap(),
            ..Rules::default()
        }
    }

    /// An auction in progress: what the service would store.
    struct Auction {
        rules: Rules,
        seats: Vec<Seat>,
        bids: Vec<Bid>,
        window: Window,
    }

    impl Auction {
        fn new(rules: Rules, seats: Vec<Seat>) -> Self {
            let window = Window::after_catch(at("2026-03-10T12:00:00Z"), &rules);
            Self {
                rules,
                seats,
                bids: Vec::new(),
                window,
            }
        }

        /// A bid an hour into the auction, far from the soft close.
        fn bid(&mut self, seat: i64, maximum: i64) -> Result<BidAccepted, BidError> {
            self.bid_at(seat, maximum, self.window.start + Duration::hours(1))
        }

        fn bid_at(
            &mut self,
            seat: i64,
            maximum: i64,
            now: DateTime<Utc>,
        ) -> Result<BidAccepted, BidError> {
            let accepted = place_bid(
                &self.rules,
                &self.seats,
                &self.bids,
                self.window,
                seat,
                maximum,
                now,
            )?;
            self.bids.push(accepted.bid);
            self.window = accepted.window;
            Ok(accepted)
        }

        fn lead(&mut self, seat: i64, maximum: i64) -> (Option<i64>, i64, i64) {
            let s = self.bid(seat, maximum).unwrap().standing;
            (s.leader, s.price, s.minimum_next_bid)
        }

        fn result(&self) -> Option<Winner> {
            result(&self.rules, &self.seats, &self.bids)
        }

        fn standing_price(&self) -> i64 {
            standing(&self.rules, &self.bids).price
        }
    }

    #[test]
    fn the_spec_walkthrough_with_opening_10_and_flat_5() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        assert_eq!(auction.lead(A, 3000), (Some(A), 1000, 1500));

        let refused = auction.bid(B, 1200).unwrap_err();
        assert_eq!(
            refused,
            BidError::BelowMinimum {
                maximum: auction.rules.money(1200),
                minimum: auction.rules.money(1500),
            }
        );
        assert_eq!(
            refused.to_string(),
            "maximum 12.00 is below the minimum next bid 15.00"
        );

        assert_eq!(auction.lead(B, 1500), (Some(A), 2000, 2500));
        // Equal maxima: A bid 30.00 first, so A still leads, now at its maximum.
        assert_eq!(auction.lead(B, 3000), (Some(A), 3000, 3500));

        let taken = auction.bid(B, 4000).unwrap();
        assert_eq!(taken.standing.leader, Some(B));
        assert_eq!(taken.standing.price, 3500);
        assert_eq!(taken.standing.leader_maximum, 4000);
        assert_eq!(taken.standing.number_of_bids, 4);
        assert_eq!(taken.standing.number_of_bidders, 2);
        assert_eq!(taken.outbid, Some(A));
        assert!(!taken.extended);
        assert_eq!(
            auction.result(),
            Some(Winner {
                seat: B,
                price: 3500
            })
        );
    }

    #[test]
    fn equal_maxima_go_to_the_earlier_bid() {
        for (first, second) in [(A, B), (B, A)] {
            let mut auction = Auction::new(Rules::default(), three_seats());
            auction.bid(first, 5000).unwrap();
            let tie = auction.bid(second, 5000).unwrap();
            assert_eq!(tie.standing.leader, Some(first));
            assert_eq!(tie.standing.price, 5000);
            assert_eq!(tie.outbid, None);
        }
    }

    #[test]
    fn a_leader_raising_its_maximum_keeps_the_price() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        auction.bid(A, 3000).unwrap();
        assert_eq!(auction.lead(B, 1500), (Some(A), 2000, 2500));
        let raised = auction.bid(A, 10000).unwrap();
        assert_eq!(raised.standing.price, 2000);
        assert_eq!(raised.standing.minimum_next_bid, 2500);
        assert_eq!(raised.standing.leader_maximum, 10000);
        assert_eq!(raised.outbid, None);

        let same = auction.bid(A, 10000).unwrap_err();
        assert!(matches!(same, BidError::NotAboveOwnMaximum { .. }));
        assert_eq!(
            same.to_string(),
            "you already lead with maximum 100.00; a new maximum must be above it, got 100.00"
        );
        // The minimum applies to the leader too.
        assert!(matches!(
            auction.bid(A, 2400),
            Err(BidError::BelowMinimum { .. })
        ));
        assert_eq!(auction.standing_price(), 2000);
    }

    #[test]
    fn a_seat_that_lost_a_tie_takes_the_lead_one_step_above() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        auction.bid(B, 3000).unwrap();
        assert_eq!(auction.lead(A, 3000), (Some(B), 3000, 3500));
        let taken = auction.bid(A, 3500).unwrap();
        assert_eq!(taken.standing.price, 3500);
        assert_eq!(taken.outbid, Some(B));
        assert_eq!(auction.lead(A, 9000), (Some(A), 3500, 4000));
    }

    #[test]
    fn a_lone_bidder_pays_the_opening_bid_however_often_it_raises() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        assert_eq!(auction.lead(A, 3000), (Some(A), 1000, 1500));
        assert_eq!(auction.lead(A, 9000), (Some(A), 1000, 1500));
        assert_eq!(
            auction.result(),
            Some(Winner {
                seat: A,
                price: 1000
            })
        );
    }

    #[test]
    fn a_raise_after_a_tie_keeps_the_capped_price() {
        // The corner where min(leader_max, second + increment) is wrong: see the module doc.
        let mut auction = Auction::new(Rules::default(), three_seats());
        auction.bid(A, 3000).unwrap();
        assert_eq!(auction.lead(B, 3000), (Some(A), 3000, 3500));
        assert_eq!(auction.lead(A, 5000), (Some(A), 3000, 3500));
        // The next challenge is priced against A's new maximum.
        assert_eq!(auction.lead(B, 3500), (Some(A), 4000, 4500));
    }

    #[test]
    fn bids_in_the_last_two_minutes_extend_the_end_again_and_again() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        let end = auction.window.end;
        let two = Duration::minutes(2);
        let second = Duration::seconds(1);

        let early = auction.bid_at(A, 2000, end - two - second).unwrap();
        assert!(!early.extended);
        assert_eq!(early.window.end, end);

        let first = auction.bid_at(B, 3000, end - two).unwrap();
        assert!(first.extended);
        assert_eq!(first.window.end, end + two);

        // The old end is now inside the new last two minutes.
        let again = auction.bid_at(A, 4000, end).unwrap();
        assert!(again.extended);
        assert_eq!(again.window.end, end + two + two);

        let not_yet = auction.bid_at(B, 5000, end + two - second).unwrap();
        assert!(!not_yet.extended);
        assert_eq!(not_yet.window.end, end + two + two);

        assert_eq!(
            auction.bid_at(A, 9000, end + two + two),
            Err(BidError::Ended {
                end: end + two + two
            })
        );
        assert_eq!(auction.window.start + Duration::days(3), end);
    }

    #[test]
    fn bids_outside_the_window_or_from_non_seats_are_refused() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        let Window { start, end } = auction.window;
        let refused = auction.bid_at(A, 2000, end).unwrap_err();
        assert_eq!(refused, BidError::Ended { end });
        assert_eq!(
            refused.to_string(),
            "the auction ended at 2026-03-13 20:00:00 UTC; bids at or after the end are refused"
        );
        assert_eq!(
            auction.bid_at(A, 2000, start - Duration::seconds(1)),
            Err(BidError::NotOpen { start })
        );
        assert_eq!(auction.bid(99, 2000), Err(BidError::NotASeat { seat: 99 }));
        assert!(auction.bids.is_empty());
        assert!(auction.bid_at(A, 2000, start).is_ok());
        assert!(auction.bid_at(B, 3000, end - Duration::seconds(1)).is_ok());
    }

    #[test]
    fn without_bids_the_earliest_seat_wins_at_zero() {
        let rules = Rules::default();
        let seats = vec![
            seat(7, 1, "2026-01-02T00:00:00Z"),
            seat(9, 2, "2026-01-01T00:00:00Z"),
            seat(8, 3, "2026-01-01T00:00:00Z"),
        ];
        assert_eq!(
            result(&rules, &seats, &[]),
            Some(Winner { seat: 8, price: 0 })
        );
        assert_eq!(result(&rules, &[], &[]), None);
        let none = standing(&rules, &[]);
        assert_eq!(none.leader, None);
        assert_eq!((none.price, none.minimum_next_bid), (0, 1000));
        assert_eq!((none.number_of_bids, none.number_of_bidders), (0, 0));
    }

    #[test]
    fn a_default_removes_every_bid_of_the_account_and_recomputes() {
        // B and B2 are two seats of account 2.
        const B2: i64 = 4;
        let mut seats = three_seats();
        seats.push(seat(B2, 2, "2026-01-04T00:00:00Z"));
        let mut auction = Auction::new(Rules::default(), seats);
        assert_eq!(auction.lead(A, 3000), (Some(A), 1000, 1500));
        assert_eq!(auction.lead(B, 5000), (Some(B), 3500, 4000));
        assert_eq!(auction.lead(C, 4000), (Some(B), 4500, 5000));
        assert_eq!(auction.lead(B2, 6000), (Some(B2), 5500, 6000));

        let (seats, bids) = without_defaulter(&auction.seats, &auction.bids, B2);
        let remaining: Vec<i64> = seats.iter().map(|s| s.order_id).collect();
        assert_eq!(remaining, vec![A, B, C]);
        assert!(bids.iter().all(|b| b.seat == A || b.seat == C));
        // A 30.00 against C 40.00: C at 35.00.
        assert_eq!(
            result(&auction.rules, &seats, &bids),
            Some(Winner {
                seat: C,
                price: 3500
            })
        );

        let (seats, bids) = without_defaulter(&seats, &bids, C);
        assert_eq!(
            result(&auction.rules, &seats, &bids),
            Some(Winner {
                seat: A,
                price: 1000
            })
        );
    }

    #[test]
    fn a_default_leaving_no_bids_gives_it_to_the_earliest_remaining_seat_at_zero() {
        let mut auction = Auction::new(Rules::default(), three_seats());
        auction.bid(A, 3000).unwrap();
        let (seats, bids) = without_defaulter(&auction.seats, &auction.bids, A);
        assert!(bids.is_empty());
        assert_eq!(
            result(&auction.rules, &seats, &bids),
            Some(Winner { seat: B, price: 0 })
        );
        let unknown = without_defaulter(&auction.seats, &auction.bids, 99);
        assert_eq!(unknown, (auction.seats.clone(), auction.bids.clone()));
    }

    #[test]
    fn tiered_increments_step_from_the_amount_they_raise() {
        let table: IncrementTable = "500<50000,1000<100000,2500".parse().unwrap();
        let steps = [
            (0, 500),
            (49999, 500),
            (50000, 1000),
            (99999, 1000),
            (100000, 2500),
            (i64::MAX, 2500),
        ];
        for (price, increment) in steps {
            assert_eq!(table.at(price), increment, "at {price}");
        }

        let mut auction = Auction::new(rules_with("500<50000,1000<100000,2500"), three_seats());
        auction.bid(A, 60000).unwrap();
        // 490.00 + 5.00; the minimum steps from 495.00, still in the 5.00 tier.
        assert_eq!(auction.lead(B, 49000), (Some(A), 49500, 50000));
        assert_eq!(auction.lead(B, 55000), (Some(A), 56000, 57000));
        // B takes the lead one 10.00 step above A's 600.00.
        assert_eq!(auction.lead(B, 70000), (Some(B), 61000, 62000));
        assert_eq!(auction.lead(A, 200000), (Some(A), 71000, 72000));
        assert_eq!(auction.lead(B, 150000), (Some(A), 152500, 155000));

        // A takeover steps from the old leader's maximum (600.00, the 10.00 tier), not from
        // the price (455.00, the 5.00 tier).
        let mut auction = Auction::new(rules_with("500<50000,1000<100000,2500"), three_seats());
        auction.bid(A, 60000).unwrap();
        assert_eq!(auction.lead(B, 45000), (Some(A), 45500, 46000));
        assert_eq!(auction.lead(C, 70000), (Some(C), 61000, 62000));
    }

    #[test]
    fn increment_tables_parse_from_configuration() {
        assert_eq!(
            "500".parse::<IncrementTable>().unwrap(),
            IncrementTable::default()
        );
        assert_eq!(
            IncrementTable::default(),
            IncrementTable::flat(500).unwrap()
        );
        let tiered: IncrementTable = " 500 < 50000 , 1000<100000, 2500 ".parse().unwrap();
        assert_eq!(
            tiered.tiers(),
            &[
                Tier {
                    increment: 500,
                    below: 50000
                },
                Tier {
                    increment: 1000,
                    below: 100000
                }
            ]
        );
        assert_eq!(tiered.above(), 2500);
        assert_eq!(tiered.to_string(), "500<50000,1000<100000,2500");

        use IncrementTableError as E;
        let refused = [
            ("", E::Empty),
            ("  ", E::Empty),
            (
                "5.00",
                E::Malformed {
                    item: "5.00".into(),
                },
            ),
            ("-5", E::Malformed { item: "-5".into() }),
            (
                "500<",
                E::BoundOnLast {
                    item: "500<".into(),
                },
            ),
            (
                "500<,100",
                E::Malformed {
                    item: "500<".into(),
                },
            ),
            ("500,1000", E::MissingBound { item: "500".into() }),
            (
                "500<50000",
                E::BoundOnLast {
                    item: "500<50000".into(),
                },
            ),
            ("500<50000,", E::Malformed { item: "".into() }),
            ("0", E::IncrementNotPositive { increment: 0 }),
            ("0<100,5", E::IncrementNotPositive { increment: 0 }),
            ("5<0,5", E::BoundNotPositive { bound: 0 }),
            ("5<100,0", E::IncrementNotPositive { increment: 0 }),
            (
                "351<2001,1",
                E::IncrementsDecrease {
                    previous: 351,
                    increment: 1,
                },
            ),
            (
                "500<100,1000<200,700",
                E::IncrementsDecrease {
                    previous: 1000,
                    increment: 700,
                },
            ),
            (
                "500<50000,1000<40000,2500",
                E::BoundsNotIncreasing {
                    previous: 50000,
                    bound: 40000,
                },
            ),
            (
                "500<50000,1000<50000,2500",
                E::BoundsNotIncreasing {
                    previous: 50000,
                    bound: 50000,
                },
            ),
            (
                "99999999999999999999",
                E::Malformed {
                    item: "99999999999999999999".into(),
                },
            ),
        ];
        for (text, error) in refused {
            assert_eq!(text.parse::<IncrementTable>(), Err(error), "{text:?}");
        }
        assert_eq!(
            "500<50000,1000<40000,2500"
                .parse::<IncrementTable>()
                .unwrap_err()
                .to_string(),
            "bound 40000 must be above the previous bound 50000"
        );
        assert!("500<100,500<200,500".parse::<IncrementTable>().is_ok());
        assert!(IncrementTable::flat(-1).is_err());
    }

    #[test]
    fn auctions_start_at_the_next_20_utc_strictly_after_the_catch() {
        let rules = Rules::default();
        let cases = [
            ("2026-03-10T19:59:59Z", "2026-03-10T20:00:00Z"),
            ("2026-03-10T20:00:00Z", "2026-03-11T20:00:00Z"),
            ("2026-03-10T20:00:00.001Z", "2026-03-11T20:00:00Z"),
            ("2026-03-10T00:00:00Z", "2026-03-10T20:00:00Z"),
            ("2026-12-31T23:00:00Z", "2027-01-01T20:00:00Z"),
        ];
        for (caught, start) in cases {
            assert_eq!(start_time(at(caught), &rules), at(start), "{caught}");
        }
        let window = Window::after_catch(at("2026-03-10T19:59:59Z"), &rules);
        assert_eq!(window.end, at("2026-03-13T20:00:00Z"));

        let midnight = Rules {
            start_hour_utc: 0,
            ..Rules::default()
        };
        assert_eq!(
            start_time(at("2026-03-10T00:00:00Z"), &midnight),
            at("2026-03-11T00:00:00Z")
        );
    }

    /// The auction written as plainly as possible: every seat's latest maximum and the bid
    /// order, with the price in the closed form of the module doc.
    struct Reference {
        rules: Rules,
        seats: Vec<i64>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        bids: Vec<(i64, i64)>,
    }

    impl Reference {
        /// Each seat's latest maximum and the position of that bid.
        fn latest(&self) -> BTreeMap<i64, (i64, usize)> {
            let mut latest = BTreeMap::new();
            for (index, &(seat, maximum)) in self.bids.iter().enumerate() {
                latest.insert(seat, (maximum, index));
            }
            latest
        }

        /// The highest maximum; on equal maxima the earlier bid.
        fn leader(&self) -> Option<(i64, i64)> {
            let mut best: Option<(i64, i64, usize)> = None;
            for (&seat, &(maximum, index)) in &self.latest() {
                let better = match best {
                    None => true,
                    Some((_, best_max, best_index)) => {
                        maximum > best_max || (maximum == best_max && index < best_index)
                    }
                };
                if better {
                    best = Some((seat, maximum, index));
                }
            }
            best.map(|(seat, maximum, _)| (seat, maximum))
        }

        fn price(&self) -> i64 {
            let Some((leader, _)) = self.leader() else {
                return 0;
            };
            let others: Vec<i64> = self
                .latest()
                .iter()
                .filter(|(seat, _)| **seat != leader)
                .map(|(_, (maximum, _))| *maximum)
                .collect();
            let Some(&second) = others.iter().max() else {
                return self.rules.opening_bid;
            };
            let last_other = (0..self.bids.len())
                .rev()
                .find(|&i| self.bids[i].0 != leader)
                .unwrap();
            let in_force_then = self.bids[..last_other]
                .iter()
                .rev()
                .find(|(seat, _)| *seat == leader)
                .map(|(_, maximum)| *maximum);
            let later = self.bids[last_other + 1..]
                .iter()
                .filter(|(seat, _)| *seat == leader)
                .map(|(_, maximum)| *maximum);
            // The earlier bid wins a tie; a later one must be above.
            let cap = in_force_then
                .filter(|&maximum| maximum >= second)
                .into_iter()
                .chain(later.filter(|&maximum| maximum > second))
                .next()
                .unwrap();
            cap.min(second + self.rules.increments.at(second))
        }

        fn standing(&self) -> Standing {
            let leader = self.leader();
            let price = self.price();
            Standing {
                leader: leader.map(|(seat, _)| seat),
                leader_maximum: leader.map_or(0, |(_, maximum)| maximum),
                price,
                number_of_bids: self.bids.len(),
                number_of_bidders: self.latest().len(),
                minimum_next_bid: if self.bids.is_empty() {
                    self.rules.opening_bid
                } else {
                    price + self.rules.increments.at(price)
                },
            }
        }

        /// Accepts or refuses like the spec says; on acceptance, who was outbid and whether the
        /// end moved.
        fn bid(
            &mut self,
            seat: i64,
            maximum: i64,
            now: DateTime<Utc>,
        ) -> Result<(Option<i64>, bool), &'static str> {
            if !self.seats.contains(&seat) {
                return Err("not a seat");
            }
            if now < self.start {
                return Err("not open");
            }
            if now >= self.end {
                return Err("ended");
            }
            if maximum < self.standing().minimum_next_bid {
                return Err("below minimum");
            }
            let before = self.leader();
            if let Some((leader, leader_max)) = before
                && leader == seat
                && maximum <= leader_max
            {
                return Err("not above own maximum");
            }
            self.bids.push((seat, maximum));
            let extended = self.end - now <= self.rules.soft_close;
            if extended {
                self.end += self.rules.soft_close;
            }
            let after = self.leader().map(|(seat, _)| seat);
            let outbid = before
                .map(|(seat, _)| seat)
                .filter(|&seat| Some(seat) != after);
            Ok((outbid, extended))
        }
    }

    fn kind(error: &BidError) -> &'static str {
        match error {
            BidError::NotASeat { .. } => "not a seat",
            BidError::NotOpen { .. } => "not open",
            BidError::Ended { .. } => "ended",
            BidError::BelowMinimum { .. } => "below minimum",
            BidError::NotAboveOwnMaximum { .. } => "not above own maximum",
        }
    }

    fn any_table() -> impl Strategy<Value = IncrementTable> {
        let flat = (1i64..=1500).prop_map(|increment| IncrementTable::flat(increment).unwrap());
        // Increments as sums of non-negative rises so they never decrease.
        let tiered = (
            proptest::collection::vec((0i64..=800, 1i64..=5000), 1..4),
            0i64..=1500,
        )
            .prop_map(|(steps, above_rise)| {
                let (mut increment, mut below) = (0, 0);
                let tiers: Vec<Tier> = steps
                    .into_iter()
                    .map(|(rise, gap)| {
                        increment += rise.max(1);
                        below += gap;
                        Tier { increment, below }
                    })
                    .collect();
                IncrementTable::tiered(tiers, increment + above_rise).unwrap()
            });
        prop_oneof![flat, tiered]
    }

    fn any_rules() -> impl Strategy<Value = Rules> {
        (any_table(), 1i64..=3000).prop_map(|(increments, opening_bid)| Rules {
            opening_bid,
            increments,
            // A short auction so the random times often fall in the soft close.
            length: Duration::minutes(10),
            ..Rules::default()
        })
    }

    /// One to five seats (order ids 1 to n) of at most three accounts.
    fn any_seats() -> impl Strategy<Value = Vec<Seat>> {
        proptest::collection::vec((1i64..=3, 0i64..3), 1..=5).prop_map(|rows| {
            rows.into_iter()
                .zip(1..)
                .map(|((account, minute), order_id)| Seat {
                    order_id,
                    account: AccountId(account),
                    created_at: at("2026-01-01T00:00:00Z") + Duration::minutes(minute),
                })
                .collect()
        })
    }

    /// Bid attempts in time order: (seat, maximum, seconds after the start); seat 6 never
    /// exists, and the times run from before the start to after the (unextended) end.
    fn any_attempts() -> impl Strategy<Value = Vec<(i64, i64, i64)>> {
        // A coarse grid makes equal maxima common; the fine range hits every tier edge.
        let maximum = prop_oneof![(1i64..80).prop_map(|k| k * 250), 0i64..20000];
        proptest::collection::vec((1i64..=6, maximum, -30i64..700), 0..40).prop_map(
            |mut attempts| {
                attempts.sort_by_key(|&(_, _, second)| second);
                attempts
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn bidding_matches_the_reference_model(
            rules in any_rules(),
            seats in any_seats(),
            attempts in any_attempts(),
        ) {
            let start = at("2026-03-10T20:00:00Z");
            let mut window = Window { start, end: start + rules.length };
            let mut reference = Reference {
                rules: rules.clone(),
                seats: seats.iter().map(|s| s.order_id).collect(),
                start,
                end: window.end,
                bids: Vec::new(),
            };
            let mut bids = Vec::new();
            let mut previous_price = 0;
            for (seat, maximum, second) in attempts {
                let now = start + Duration::seconds(second);
                let got = place_bid(&rules, &seats, &bids, window, seat, maximum, now);
                match (got, reference.bid(seat, maximum, now)) {
                    (Ok(accepted), Ok((outbid, extended))) => {
                        let s = accepted.standing;
                        prop_assert_eq!(s, reference.standing());
                        prop_assert_eq!(accepted.outbid, outbid);
                        prop_assert_eq!(accepted.extended, extended);
                        prop_assert_eq!(accepted.window.end, reference.end);
                        prop_assert!(s.price <= s.leader_maximum);
                        prop_assert!(s.price >= previous_price);
                        prop_assert!(s.minimum_next_bid > s.price);
                        previous_price = s.price;
                        bids.push(accepted.bid);
                        window = accepted.window;
                    }
                    (Err(error), Err(expected)) => prop_assert_eq!(kind(&error), expected),
                    (got, expected) => {
                        prop_assert!(false, "engine {:?}, reference {:?}", got, expected);
                    }
                }
            }
            prop_assert_eq!(standing(&rules, &bids), reference.standing());
        }

        #[test]
        fn removing_a_defaulter_never_raises_the_price(
            rules in any_rules(),
            seats in any_seats(),
            attempts in any_attempts(),
        ) {
            let start = at("2026-03-10T20:00:00Z");
            let mut window = Window { start, end: start + rules.length };
            let mut bids = Vec::new();
            for (seat, maximum, second) in attempts {
                let now = start + Duration::seconds(second);
                if let Ok(accepted) = place_bid(&rules, &seats, &bids, window, seat, maximum, now)
                {
                    bids.push(accepted.bid);
                    window = accepted.window;
                }
            }
            // Every prefix: a default may be computed from any point of the bidding.
            for placed in 0..=bids.len() {
                let bids = &bids[..placed];
                let before = result(&rules, &seats, bids).unwrap();
                for defaulter in &seats {
                    let (left, left_bids) = without_defaulter(&seats, bids, defaulter.order_id);
                    prop_assert_eq!(left.len(), seats.len() - 1);
                    prop_assert!(left.iter().all(|s| s.order_id != defaulter.order_id));
                    let of_defaulter: BTreeSet<i64> = seats.iter()
                        .filter(|s| s.account == defaulter.account)
                        .map(|s| s.order_id)
                        .collect();
                    prop_assert!(left_bids.iter().all(|b| !of_defaulter.contains(&b.seat)));
                    prop_assert_eq!(
                        left_bids.len(),
                        bids.iter().filter(|b| !of_defaulter.contains(&b.seat)).count()
                    );
                    if let Some(after) = result(&rules, &left, &left_bids) {
                        prop_assert!(
                            after.price <= before.price,
                            "{:?} defaulting raised {} to {}",
                            defaulter, before.price, after.price
                        );
                        let s = standing(&rules, &left_bids);
                        prop_assert!(s.price <= s.leader_maximum);
                    }
                }
            }
        }

        #[test]
        fn increment_tables_round_trip_and_look_up_plainly(
            table in any_table(),
            price in 0i64..20000,
        ) {
            prop_assert_eq!(table.to_string().parse::<IncrementTable>().unwrap(), table.clone());
            let mut expected = table.above();
            for tier in table.tiers().iter().rev() {
                if price < tier.below {
                    expected = tier.increment;
                }
            }
            prop_assert_eq!(table.at(price), expected);
        }
    }
}
