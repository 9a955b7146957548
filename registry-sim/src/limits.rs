//! Registrar limits in virtual time: creates per second per session, a minimum interval
//! between a registrar's creates in one TLD, and the penalty after creating a name that
//! still exists.

use chrono::{DateTime, Duration, Utc};
use std::collections::VecDeque;

/// Rate state of one session.
#[derive(Clone, Debug, Default)]
pub struct SessionRate {
    /// Arrival times of counted creates in the last second.
    recent: VecDeque<DateTime<Utc>>,
    penalty_until: Option<DateTime<Utc>>,
}

/// Why a create was refused with 2502.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    Penalized { until: DateTime<Utc> },
    RateExceeded { per_second: u32 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Penalized { until } => write!(
                f,
                "session penalized until {} for creating a name that exists",
                until.to_rfc3339()
            ),
            Refusal::RateExceeded { per_second } => write!(
                f,
                "more than {per_second} creates per second on this session"
            ),
        }
    }
}

impl SessionRate {
    /// Admits a create at `at` or says why not. An admitted create counts against the rate;
    /// a refused one does not (otherwise a flood would lock a session forever).
    pub fn admit(&mut self, at: DateTime<Utc>, per_second: u32) -> Result<(), Refusal> {
        if let Some(until) = self.penalty_until
            && at < until
        {
            return Err(Refusal::Penalized { until });
        }
        while self
            .recent
            .front()
            .is_some_and(|t| *t <= at - Duration::seconds(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= per_second as usize {
            return Err(Refusal::RateExceeded { per_second });
        }
        self.recent.push_back(at);
        Ok(())
    }

    pub fn penalize(&mut self, at: DateTime<Utc>, penalty: Duration) {
        if penalty > Duration::zero() {
            self.penalty_until = Some(at + penalty);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::milliseconds(ms)
    }

    #[test]
    fn sliding_second_window() {
        let mut rate = SessionRate::default();
        assert!(rate.admit(t(0), 2).is_ok());
        assert!(rate.admit(t(100), 2).is_ok());
        assert_eq!(
            rate.admit(t(999), 2),
            Err(Refusal::RateExceeded { per_second: 2 })
        );
        assert!(
            rate.admit(t(1000), 2).is_ok(),
            "the first create left the window"
        );
    }

    #[test]
    fn penalty_blocks_until_it_ends() {
        let mut rate = SessionRate::default();
        rate.penalize(t(0), Duration::milliseconds(200));
        assert_eq!(
            rate.admit(t(199), 5),
            Err(Refusal::Penalized { until: t(200) })
        );
        assert!(rate.admit(t(200), 5).is_ok());
    }
}
