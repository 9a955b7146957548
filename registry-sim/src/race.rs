//! The race log of one dropping name. The registry decides a race purely by arrival order:
//! creates are handled in virtual arrival time, and the first valid create after the release
//! wins. This module keeps what each catcher did and derives the winning margin.

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// What one catcher did for one name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatcherAttempts {
    /// Every create that reached the registry for this name (including early and refused ones).
    pub attempts: u32,
    /// Creates that arrived before the release.
    pub early: u32,
    /// Creates refused for a limit (2502).
    pub limited: u32,
    /// The first create that arrived at or after the release.
    pub first_after_release: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Win {
    pub catcher: String,
    pub registrar: String,
    pub at: DateTime<Utc>,
}

/// How one create attempt ended, as far as the race is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Arrived before the release (answered 2302).
    Early,
    /// Refused for a session or rate limit (2502).
    Limited,
    /// Valid, but the name was already taken (2302).
    Lost,
    /// The create that registered the name.
    Won,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Race {
    pub domain: String,
    pub release: DateTime<Utc>,
    pub winner: Option<Win>,
    /// Keyed by catcher name; a BTreeMap keeps the log's byte order stable.
    pub catchers: BTreeMap<String, CatcherAttempts>,
}

impl Race {
    pub fn new(domain: String, release: DateTime<Utc>) -> Self {
        Race {
            domain,
            release,
            winner: None,
            catchers: BTreeMap::new(),
        }
    }

    pub fn record(
        &mut self,
        catcher: &str,
        registrar: &str,
        at: DateTime<Utc>,
        outcome: AttemptOutcome,
    ) {
        let entry = self.catchers.entry(catcher.to_string()).or_default();
        entry.attempts += 1;
        match outcome {
            AttemptOutcome::Early => entry.early += 1,
            AttemptOutcome::Limited => entry.limited += 1,
            AttemptOutcome::Lost | AttemptOutcome::Won => {}
        }
        // Only creates the registry actually weighed compete; refused ones never could have won.
        if matches!(outcome, AttemptOutcome::Lost | AttemptOutcome::Won)
            && entry.first_after_release.is_none()
        {
            entry.first_after_release = Some(at);
        }
        if outcome == AttemptOutcome::Won {
            self.winner = Some(Win {
                catcher: catcher.into(),
                registrar: registrar.into(),
                at,
            });
        }
    }

    /// How much earlier the winner arrived than the first create of any other catcher after
    /// the release; `None` when nobody else tried.
    pub fn winning_margin(&self) -> Option<Duration> {
        let win = self.winner.as_ref()?;
        self.catchers
            .iter()
            .filter(|(name, _)| **name != win.catcher)
            .filter_map(|(_, a)| a.first_after_release)
            .min()
            .map(|runner_up| runner_up - win.at)
    }

    /// One line of the textual race log, stable byte for byte for equal races.
    pub fn log_line(&self) -> String {
        let winner = self
            .winner
            .as_ref()
            .map(|w| {
                format!(
                    "{}/{}@{}",
                    w.catcher,
                    w.registrar,
                    w.at.format("%H:%M:%S%.6f")
                )
            })
            .unwrap_or_else(|| "-".into());
        let margin = self
            .winning_margin()
            .map(|m| format!("{}us", m.num_microseconds().unwrap_or(0)))
            .unwrap_or_else(|| "-".into());
        let attempts: Vec<String> = self
            .catchers
            .iter()
            .map(|(c, a)| format!("{c}:{}/{}/{}", a.attempts, a.early, a.limited))
            .collect();
        format!(
            "{};{};{};{};{}",
            self.release.format("%Y-%m-%d %H:%M:%S%.6f"),
            self.domain,
            winner,
            margin,
            attempts.join(",")
        )
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
    fn margin_is_the_gap_to_the_first_other_catcher() {
        let mut race = Race::new("a.com".into(), t(0));
        race.record("sniper", "sniper-1", t(-5), AttemptOutcome::Early);
        race.record("ours", "ours-1", t(12), AttemptOutcome::Won);
        race.record("snapper", "snapper-1", t(30), AttemptOutcome::Lost);
        race.record("sniper", "sniper-1", t(25), AttemptOutcome::Lost);
        race.record("ours", "ours-1", t(40), AttemptOutcome::Lost);
        assert_eq!(race.winner.as_ref().unwrap().catcher, "ours");
        assert_eq!(race.winning_margin(), Some(Duration::milliseconds(13)));
        let sniper = &race.catchers["sniper"];
        assert_eq!(
            (sniper.attempts, sniper.early, sniper.first_after_release),
            (2, 1, Some(t(25)))
        );
        assert_eq!(race.catchers["ours"].attempts, 2);
    }

    #[test]
    fn lone_winner_has_no_margin_and_unclaimed_names_no_winner() {
        let mut race = Race::new("b.com".into(), t(0));
        assert_eq!(race.winning_margin(), None);
        race.record("ours", "ours-1", t(3), AttemptOutcome::Won);
        assert_eq!(race.winning_margin(), None);
        assert!(race.log_line().contains("ours/ours-1@19:00:00.003000"));
    }
}
