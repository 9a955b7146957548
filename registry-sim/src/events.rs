//! The simulator's agenda: future happenings ordered by virtual time, ties broken by the order
//! they were scheduled, so that equal-time events always run in the same order.

use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Something that happens to the registry at a virtual instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The sponsor deletes an expired name: it enters redemption and the list.
    Delete(usize),
    /// Redemption ends; the name can no longer be restored.
    EnterPendingDelete(usize),
    /// The registrant restores the name through its registrar.
    RegistrantRestore(usize),
    /// Rivals decide whether and when to chase a name that will soon drop.
    PrepareRace(usize),
    /// The name is released and open to creates.
    Release(usize),
    /// A rival's create reaches the registry.
    RivalCreate { domain: usize, session: usize },
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    at: DateTime<Utc>,
    seq: u64,
    event: Event,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse to pop the earliest first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Default)]
pub struct Agenda {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
}

impl Agenda {
    pub fn schedule(&mut self, at: DateTime<Utc>, event: Event) {
        self.heap.push(Entry {
            at,
            seq: self.next_seq,
            event,
        });
        self.next_seq += 1;
    }

    /// The earliest event due at or before `until`.
    pub fn pop_due(&mut self, until: DateTime<Utc>) -> Option<(DateTime<Utc>, Event)> {
        if self.heap.peek().is_some_and(|e| e.at <= until) {
            self.heap.pop().map(|e| (e.at, e.event))
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn pops_in_time_order_then_in_scheduling_order() {
        let t0 = DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut agenda = Agenda::default();
        agenda.schedule(t0 + Duration::milliseconds(20), Event::Release(1));
        agenda.schedule(
            t0 + Duration::milliseconds(10),
            Event::RivalCreate {
                domain: 1,
                session: 0,
            },
        );
        agenda.schedule(
            t0 + Duration::milliseconds(10),
            Event::RivalCreate {
                domain: 1,
                session: 1,
            },
        );
        agenda.schedule(t0, Event::Release(2));
        assert_eq!(
            agenda.pop_due(t0 + Duration::milliseconds(15)),
            Some((t0, Event::Release(2)))
        );
        let second = agenda.pop_due(t0 + Duration::milliseconds(15)).unwrap().1;
        let third = agenda.pop_due(t0 + Duration::milliseconds(15)).unwrap().1;
        assert_eq!(
            second,
            Event::RivalCreate {
                domain: 1,
                session: 0
            }
        );
        assert_eq!(
            third,
            Event::RivalCreate {
                domain: 1,
                session: 1
            }
        );
        assert_eq!(
            agenda.pop_due(t0 + Duration::milliseconds(15)),
            None,
            "not due yet"
        );
        assert_eq!(agenda.len(), 1);
    }
}
