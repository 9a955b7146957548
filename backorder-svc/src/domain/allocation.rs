//! Who gets a caught domain (spec/allocation-and-auctions.md, "Who gets the domain"): the one
//! table that turns the valid orders of a caught domain into a winner, the seats of a private
//! auction, or nobody. Pure: the service reads the orders and applies the outcome.

use super::account::AccountId;
use super::catalog::BackorderClass;
use chrono::{DateTime, Utc};

/// A valid order of the caught domain: PROCESSING regular orders and lite post-drop orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub order_id: i64,
    pub account: AccountId,
    pub class: BackorderClass,
    pub created_at: DateTime<Utc>,
}

/// The outcome for every candidate. Exactly one of `winner` (SUCCESSFUL) or `seats` (two or
/// more, AUCTION_PENDING) is set unless there were no candidates; everyone else is
/// FAILED(LOST_TO_PRIORITY). Each list is in priority order: regular orders before lite ones,
/// each by creation time then order id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allocation {
    pub winner: Option<i64>,
    pub seats: Vec<i64>,
    pub lost_to_priority: Vec<i64>,
}

/// Applies the spec's table. `candidates`: the valid orders of the caught domain, in any
/// order; `auctions_allowed`: false for first-come-first-served TLDs.
pub fn allocate(candidates: &[Candidate], auctions_allowed: bool) -> Allocation {
    let regular = in_priority_order(candidates, BackorderClass::Backorder);
    let lite = in_priority_order(candidates, BackorderClass::LiteBackorder);
    // Only regular orders ever get seats: a lite order never takes part in an auction, and
    // two or more regular orders on an auction TLD means nobody wins outright.
    if auctions_allowed && regular.len() >= 2 {
        return Allocation {
            winner: None,
            seats: regular,
            lost_to_priority: lite,
        };
    }
    // Otherwise the first in line wins: any regular order beats every lite order.
    let mut line = regular.into_iter().chain(lite);
    Allocation {
        winner: line.next(),
        seats: Vec::new(),
        lost_to_priority: line.collect(),
    }
}

/// The order ids of one class, earliest first; the id breaks ties of equal creation times so
/// the outcome never depends on the order the rows were read in.
fn in_priority_order(candidates: &[Candidate], class: BackorderClass) -> Vec<i64> {
    let mut of_class: Vec<&Candidate> = candidates.iter().filter(|c| c.class == class).collect();
    of_class.sort_by_key(|c| (c.created_at, c.order_id));
    of_class.into_iter().map(|c| c.order_id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const REGULAR: BackorderClass = BackorderClass::Backorder;
    const LITE: BackorderClass = BackorderClass::LiteBackorder;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn order(order_id: i64, account: i64, class: BackorderClass, created: &str) -> Candidate {
        Candidate {
            order_id,
            account: AccountId(account),
            class,
            created_at: at(created),
        }
    }

    #[test]
    fn no_valid_order_gives_nothing() {
        assert_eq!(allocate(&[], true), Allocation::default());
        assert_eq!(allocate(&[], false), Allocation::default());
    }

    #[test]
    fn a_single_regular_order_wins_over_every_lite_order() {
        let candidates = [
            order(3, 1, LITE, "2026-01-01T00:00:00Z"),
            order(7, 2, REGULAR, "2026-03-01T00:00:00Z"),
            order(5, 3, LITE, "2026-02-01T00:00:00Z"),
        ];
        for auctions_allowed in [true, false] {
            let allocation = allocate(&candidates, auctions_allowed);
            assert_eq!(allocation.winner, Some(7));
            assert!(allocation.seats.is_empty());
            assert_eq!(allocation.lost_to_priority, vec![3, 5]);
        }
    }

    #[test]
    fn first_come_first_served_gives_it_to_the_earliest_regular_order() {
        let candidates = [
            order(1, 1, REGULAR, "2026-01-02T00:00:00Z"),
            order(2, 2, REGULAR, "2026-01-01T00:00:00Z"),
            order(3, 3, LITE, "2025-12-01T00:00:00Z"),
            order(4, 4, REGULAR, "2026-01-03T00:00:00Z"),
        ];
        let allocation = allocate(&candidates, false);
        assert_eq!(allocation.winner, Some(2));
        assert!(allocation.seats.is_empty());
        assert_eq!(allocation.lost_to_priority, vec![1, 4, 3]);
    }

    #[test]
    fn two_or_more_regular_orders_go_to_auction_and_lite_orders_lose() {
        let candidates = [
            order(1, 1, REGULAR, "2026-01-02T00:00:00Z"),
            order(2, 2, REGULAR, "2026-01-01T00:00:00Z"),
            order(3, 3, LITE, "2025-12-01T00:00:00Z"),
        ];
        let allocation = allocate(&candidates, true);
        assert_eq!(allocation.winner, None);
        assert_eq!(allocation.seats, vec![2, 1]);
        assert_eq!(allocation.lost_to_priority, vec![3]);
    }

    #[test]
    fn two_orders_of_one_account_are_two_seats() {
        let candidates = [
            order(8, 5, REGULAR, "2026-01-01T00:00:00Z"),
            order(9, 5, REGULAR, "2026-01-01T00:00:01Z"),
        ];
        let allocation = allocate(&candidates, true);
        assert_eq!(allocation.seats, vec![8, 9]);
        assert_eq!(allocation.winner, None);
    }

    #[test]
    fn without_regular_orders_the_earliest_lite_order_wins() {
        let candidates = [
            order(4, 1, LITE, "2026-01-02T00:00:00Z"),
            order(6, 2, LITE, "2026-01-01T00:00:00Z"),
            order(5, 3, LITE, "2026-01-03T00:00:00Z"),
        ];
        for auctions_allowed in [true, false] {
            let allocation = allocate(&candidates, auctions_allowed);
            assert_eq!(allocation.winner, Some(6));
            assert!(allocation.seats.is_empty());
            assert_eq!(allocation.lost_to_priority, vec![4, 5]);
        }
    }

    #[test]
    fn equal_creation_times_go_by_order_id() {
        let same = "2026-01-01T00:00:00Z";
        let lite = [order(9, 1, LITE, same), order(2, 2, LITE, same)];
        assert_eq!(allocate(&lite, true).winner, Some(2));
        let regular = [order(9, 1, REGULAR, same), order(2, 2, REGULAR, same)];
        assert_eq!(allocate(&regular, false).winner, Some(2));
        assert_eq!(allocate(&regular, true).seats, vec![2, 9]);
    }

    /// The spec's table written as plainly as possible, to check `allocate` against.
    fn reference(candidates: &[Candidate], auctions_allowed: bool) -> Allocation {
        let mut regular = Vec::new();
        let mut lite = Vec::new();
        for c in candidates {
            if c.class == REGULAR {
                regular.push((c.created_at, c.order_id));
            } else {
                lite.push((c.created_at, c.order_id));
            }
        }
        regular.sort();
        lite.sort();
        let regular: Vec<i64> = regular.into_iter().map(|(_, id)| id).collect();
        let lite: Vec<i64> = lite.into_iter().map(|(_, id)| id).collect();

        let mut result = Allocation::default();
        if regular.len() == 1 {
            result.winner = Some(regular[0]);
            result.lost_to_priority = lite;
        } else if regular.len() >= 2 && !auctions_allowed {
            result.winner = Some(regular[0]);
            result.lost_to_priority = regular[1..].to_vec();
            result.lost_to_priority.extend(lite);
        } else if regular.len() >= 2 && auctions_allowed {
            result.seats = regular;
            result.lost_to_priority = lite;
        } else if !lite.is_empty() {
            result.winner = Some(lite[0]);
            result.lost_to_priority = lite[1..].to_vec();
        }
        result
    }

    fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
        // Few distinct times and accounts so ties and duplicate accounts are common.
        let one = (1i64..4, any::<bool>(), 0i64..5).prop_map(|(account, lite, minute)| {
            (
                AccountId(account),
                if lite { LITE } else { REGULAR },
                minute,
            )
        });
        proptest::collection::vec(one, 0..8).prop_flat_map(|rows| {
            let n = rows.len();
            // Distinct order ids in a random order, so input order and ids are unrelated.
            Just((1..=n as i64).collect::<Vec<_>>())
                .prop_shuffle()
                .prop_map(move |ids| {
                    rows.iter()
                        .zip(ids)
                        .map(|(&(account, class, minute), order_id)| Candidate {
                            order_id,
                            account,
                            class,
                            created_at: at("2026-01-01T00:00:00Z")
                                + chrono::Duration::minutes(minute),
                        })
                        .collect()
                })
        })
    }

    proptest! {
        #[test]
        fn matches_the_reference_and_places_every_order_once(
            candidates in candidates(),
            auctions_allowed in any::<bool>(),
        ) {
            let allocation = allocate(&candidates, auctions_allowed);
            prop_assert_eq!(&allocation, &reference(&candidates, auctions_allowed));

            let mut placed: Vec<i64> = allocation.winner.into_iter()
                .chain(allocation.seats.iter().copied())
                .chain(allocation.lost_to_priority.iter().copied())
                .collect();
            placed.sort();
            let mut given: Vec<i64> = candidates.iter().map(|c| c.order_id).collect();
            given.sort();
            prop_assert_eq!(placed, given);

            // Exactly one of a winner or an auction of two or more, unless nobody asked.
            let auction = allocation.seats.len() >= 2;
            prop_assert!(allocation.seats.is_empty() || auction);
            prop_assert_eq!(
                allocation.winner.is_some() || auction,
                !candidates.is_empty()
            );
            prop_assert!(!(allocation.winner.is_some() && auction));
        }
    }
}
