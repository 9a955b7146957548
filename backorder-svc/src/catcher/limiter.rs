//! Our side of a session's create limit, in the injected clock's time: at most `per_second`
//! creates in any second, counted the way the registry counts them (a sliding second: a
//! create at `t` leaves the window at `t + 1 s`).
//!
//! A sliding window rather than a token bucket: a bucket of `n` tokens refilled at `n` per
//! second lets a full burst be followed by refills within the same second (1.5 n creates in
//! one second after half a second), which a registry that counts a sliding second refuses.

use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub struct SessionRate {
    per_second: u32,
    /// Times of the creates sent in the last second, oldest first.
    sent: VecDeque<DateTime<Utc>>,
}

impl SessionRate {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: per_second.max(1),
            sent: VecDeque::new(),
        }
    }

    fn forget_before(&mut self, now: DateTime<Utc>) {
        while self
            .sent
            .front()
            .is_some_and(|t| *t <= now - Duration::seconds(1))
        {
            self.sent.pop_front();
        }
    }

    /// Creates this session may still send at `now`.
    pub fn free(&mut self, now: DateTime<Utc>) -> u32 {
        self.forget_before(now);
        self.per_second
            .saturating_sub(u32::try_from(self.sent.len()).unwrap_or(u32::MAX))
    }

    /// Counts a create at `now` if the session has one left.
    pub fn take(&mut self, now: DateTime<Utc>) -> bool {
        if self.free(now) == 0 {
            return false;
        }
        self.sent.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_478_000, 0).unwrap() + Duration::milliseconds(ms)
    }

    #[test]
    fn at_most_n_in_any_second() {
        let mut rate = SessionRate::new(2);
        assert!(rate.take(at(0)));
        assert!(rate.take(at(0)));
        assert!(!rate.take(at(500)), "a third create within the second");
        assert_eq!(rate.free(at(999)), 0);
        assert_eq!(rate.free(at(1000)), 2, "both left the window at t + 1 s");
        assert!(rate.take(at(1000)));
    }

    #[test]
    fn no_refill_burst_within_a_second() {
        // A token bucket would allow a fourth create at 500 ms; the registry would not.
        let mut rate = SessionRate::new(3);
        for _ in 0..3 {
            assert!(rate.take(at(0)));
        }
        assert!(!rate.take(at(500)));
        assert!(rate.take(at(1000)));
        assert_eq!(rate.free(at(1200)), 2);
    }

    #[test]
    fn zero_is_read_as_one() {
        let mut rate = SessionRate::new(0);
        assert!(rate.take(at(0)));
        assert!(!rate.take(at(1)));
    }
}
