//! Injected time. Business logic reads `Clock::now`, never the system clock, so tests and
//! simulations drive time (spec/README.md, "Time").

use crate::domain::lifecycle::latest_time;
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

/// Why the manual clock did not move.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("time: the clock never moves backwards (now {now}, asked for {asked})")]
    Backwards {
        now: DateTime<Utc>,
        asked: DateTime<Utc>,
    },
    /// The time asked for is after 9999-12-31T23:59:59Z (or `now + by` is not even
    /// representable): every time the service holds stays in RFC 3339's years, so adding
    /// days to any of them can never overflow.
    #[error("the clock cannot go past 9999-12-31T23:59:59Z (now {now}, asked for {asked})")]
    OutOfRange { now: DateTime<Utc>, asked: String },
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let mut now = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
        if to > latest_time() {
            return Err(ClockError::OutOfRange {
                now: *now,
                asked: to.to_rfc3339(),
            });
        }
        if to < *now {
            return Err(ClockError::Backwards {
                now: *now,
                asked: to,
            });
        }
        *now = to;
        Ok(to)
    }

    /// Moves the clock by `by` (checked: never a panic, whatever `by` is).
    pub fn advance(&self, by: chrono::Duration) -> Result<DateTime<Utc>, ClockError> {
        let current = self.now();
        let to = current
            .checked_add_signed(by)
            .ok_or_else(|| ClockError::OutOfRange {
                now: current,
                asked: format!("{current} + {by}"),
            })?;
        self.set(to)
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

    #[test]
    fn manual_clock_stays_within_year_9999() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let clock = ManualClock::new(start);
        for by in [chrono::Duration::days(10_000 * 365), chrono::Duration::MAX] {
            assert!(
                matches!(clock.advance(by), Err(ClockError::OutOfRange { .. })),
                "{by}"
            );
        }
        let beyond = DateTime::from_timestamp(253_402_300_800, 0).unwrap();
        assert!(matches!(
            clock.set(beyond),
            Err(ClockError::OutOfRange { .. })
        ));
        assert!(matches!(
            clock.set(DateTime::<Utc>::MAX_UTC),
            Err(ClockError::OutOfRange { .. })
        ));
        assert_eq!(clock.now(), start, "refusals leave it alone");
        let last = "9999-12-31T23:59:59Z".parse().unwrap();
        clock.set(last).unwrap();
        assert!(clock.advance(chrono::Duration::seconds(1)).is_err());
        assert_eq!(clock.now(), last);
    }
}
