//! Clock modes. `manual` time moves only through the control API and nothing here reads a
//! real clock; `system` follows the wall clock; `accelerated` runs from the scenario start at
//! a multiple of real speed (for demos).

use chrono::{DateTime, Duration, Utc};
use std::str::FromStr;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockMode {
    Manual,
    System,
    Accelerated(f64),
}

impl FromStr for ClockMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "manual" => Ok(ClockMode::Manual),
            "system" => Ok(ClockMode::System),
            other => {
                let factor = other
                    .strip_prefix("accelerated:")
                    .and_then(|f| f.parse::<f64>().ok())
                    .filter(|f| f.is_finite() && *f > 0.0)
                    .ok_or_else(|| format!("clock `{other}`: expected manual, system or accelerated:FACTOR (FACTOR > 0)"))?;
                Ok(ClockMode::Accelerated(factor))
            }
        }
    }
}

impl std::fmt::Display for ClockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockMode::Manual => f.write_str("manual"),
            ClockMode::System => f.write_str("system"),
            ClockMode::Accelerated(factor) => write!(f, "accelerated:{factor}"),
        }
    }
}

/// Maps real time onto virtual time for the running modes.
#[derive(Clone, Copy, Debug)]
pub struct VirtualClock {
    mode: ClockMode,
    anchor: Option<(Instant, DateTime<Utc>)>,
}

impl VirtualClock {
    pub fn new(mode: ClockMode) -> Self {
        VirtualClock { mode, anchor: None }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn factor(&self) -> f64 {
        match self.mode {
            ClockMode::Manual => 0.0,
            ClockMode::System => 1.0,
            ClockMode::Accelerated(factor) => factor,
        }
    }

    /// Where a fresh world starts: the wall clock (whole seconds) in system mode, otherwise
    /// the scenario's own start.
    pub fn start_for(&self, scenario_start: DateTime<Utc>) -> DateTime<Utc> {
        match self.mode {
            ClockMode::System => {
                let now = Utc::now();
                now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos()))
            }
            ClockMode::Manual | ClockMode::Accelerated(_) => scenario_start,
        }
    }

    /// Starts counting from `start` (accelerated mode); a no-op for the other modes.
    pub fn anchor(&mut self, start: DateTime<Utc>) {
        if let ClockMode::Accelerated(_) = self.mode {
            self.anchor = Some((Instant::now(), start));
        }
    }

    /// The current virtual time in the running modes; `None` in manual mode, where the
    /// world's own time is the only time.
    pub fn now(&self) -> Option<DateTime<Utc>> {
        match self.mode {
            ClockMode::Manual => None,
            ClockMode::System => Some(Utc::now()),
            ClockMode::Accelerated(factor) => self.anchor.map(|(real, virtual_start)| {
                let elapsed = real.elapsed().as_secs_f64() * factor;
                virtual_start + Duration::microseconds((elapsed * 1e6) as i64)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!("manual".parse::<ClockMode>(), Ok(ClockMode::Manual));
        assert_eq!("system".parse::<ClockMode>(), Ok(ClockMode::System));
        assert_eq!(
            "accelerated:60".parse::<ClockMode>(),
            Ok(ClockMode::Accelerated(60.0))
        );
        assert!("accelerated:0".parse::<ClockMode>().is_err());
        assert!("fast".parse::<ClockMode>().is_err());
    }

    #[test]
    fn manual_clock_has_no_time_of_its_own() {
        let start = DateTime::parse_from_rfc3339("2026-03-02T18:55:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut clock = VirtualClock::new(ClockMode::Manual);
        clock.anchor(start);
        assert_eq!(clock.now(), None);
        assert_eq!(clock.start_for(start), start);
    }

    #[test]
    fn accelerated_clock_runs_from_the_start() {
        let start = DateTime::parse_from_rfc3339("2026-03-02T18:55:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut clock = VirtualClock::new(ClockMode::Accelerated(1000.0));
        clock.anchor(start);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let now = clock.now().unwrap();
        assert!(now >= start + Duration::seconds(4), "{now}");
    }
}
