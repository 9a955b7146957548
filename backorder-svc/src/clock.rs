//! Injected time. Business logic reads `Clock::now`, never the system clock, so tests and
//! simulations drive time (spec/README.md, "Time").

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
    /// The manual clock behind this one, if time is moved by hand.
    fn as_manual(&self) -> Option<&ManualClock> {
        None
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Virtual time that moves only when told to, and never backwards.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
#[error("time: the clock never moves backwards (now {now}, asked for {asked})")]
pub struct BackwardsError {
    pub now: DateTime<Utc>,
    pub asked: DateTime<Utc>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, BackwardsError> {
        let mut now = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
        if to < *now {
            return Err(BackwardsError {
                now: *now,
                asked: to,
            });
        }
        *now = to;
        Ok(to)
    }

    pub fn advance(&self, by: chrono::Duration) -> Result<DateTime<Utc>, BackwardsError> {
        let current = self.now();
        self.set(current + by)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    fn as_manual(&self) -> Option<&ManualClock> {
        Some(self)
    }
}

/// Microseconds since the epoch: how both databases store times.
pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_refuses_to_go_back() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = ManualClock::new(start);
        clock.advance(chrono::Duration::seconds(5)).unwrap();
        assert_eq!(clock.now(), start + chrono::Duration::seconds(5));
        assert!(clock.set(start).is_err());
        assert_eq!(clock.now(), start + chrono::Duration::seconds(5));
    }
}
