//! Human-readable durations (`250ms`, `5s`, `10m`, `1h`, `45d`) and times of day (`19:00:00`)
//! as scenario files spell them. Parsing happens during deserialization so a bad value is
//! reported by the TOML parser with its line.

use chrono::{Duration, NaiveTime};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A non-negative duration read from a scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SimDuration(pub Duration);

impl SimDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("invalid duration `{text}`: missing unit (ms, s, m, h or d)"))?;
        let (number, unit) = text.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: `{number}` is not a number"))?;
        let unit_ms = match unit {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            other => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        // Microsecond resolution is finer than any latency a scenario describes.
        let micros = (value * unit_ms * 1_000.0).round() as i64;
        Ok(SimDuration(Duration::microseconds(micros)))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.num_milliseconds();
        if ms % 86_400_000 == 0 && ms != 0 {
            write!(f, "{}d", ms / 86_400_000)
        } else if ms % 1_000 == 0 {
            write!(f, "{}s", ms / 1_000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SimDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A duration that may be negative (`-50ms`): offsets around a published drop time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDuration(pub Duration);

impl SignedDuration {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.strip_prefix('-') {
            Some(rest) => SimDuration::parse(rest).map(|d| SignedDuration(-d.get())),
            None => SimDuration::parse(text.strip_prefix('+').unwrap_or(text))
                .map(|d| SignedDuration(d.get())),
        }
    }
}

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SignedDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A UTC time of day, `HH:MM` or `HH:MM:SS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeOfDay(pub NaiveTime);

impl TimeOfDay {
    pub fn parse(text: &str) -> Result<Self, String> {
        NaiveTime::parse_from_str(text, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
            .map(TimeOfDay)
            .map_err(|_| format!("invalid time of day `{text}`: expected HH:MM:SS (UTC)"))
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        TimeOfDay::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(
            SimDuration::parse("250ms").unwrap().get(),
            Duration::milliseconds(250)
        );
        assert_eq!(
            SimDuration::parse("5s").unwrap().get(),
            Duration::seconds(5)
        );
        assert_eq!(
            SimDuration::parse("10m").unwrap().get(),
            Duration::minutes(10)
        );
        assert_eq!(
            SimDuration::parse("1.5h").unwrap().get(),
            Duration::minutes(90)
        );
        assert_eq!(SimDuration::parse("45d").unwrap().get(), Duration::days(45));
    }

    #[test]
    fn refuses_missing_or_unknown_units() {
        assert!(
            SimDuration::parse("5")
                .unwrap_err()
                .contains("missing unit")
        );
        assert!(
            SimDuration::parse("5x")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(SimDuration::parse("-5s").is_err());
        assert_eq!(
            SignedDuration::parse("-50ms").unwrap().0,
            Duration::milliseconds(-50)
        );
    }

    #[test]
    fn parses_times_of_day() {
        assert_eq!(
            TimeOfDay::parse("19:00").unwrap().0,
            NaiveTime::from_hms_opt(19, 0, 0).unwrap()
        );
        assert!(TimeOfDay::parse("25:00:00").is_err());
    }
}
