//! Rival drop-catchers: which names they chase (interest), when they fire (timing strategy)
//! and how long their creates take to reach the registry (latency). The simulator turns each
//! rival's decisions for one dropping name into create arrivals at virtual times.

use crate::names::LabelFeatures;
use crate::schedule::Reveal;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// One-way network and processing delay from a rival's fire to the registry.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    Fixed(Duration),
    Uniform {
        min: Duration,
        max: Duration,
    },
    Normal {
        mean: Duration,
        stddev: Duration,
    },
    /// Long-tailed, like real networks: `median * exp(sigma * z)`.
    LogNormal {
        median: Duration,
        sigma: f64,
    },
}

fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    // Box-Muller; `1 - u` keeps the logarithm's argument in (0, 1].
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn micros(d: Duration) -> f64 {
    d.num_microseconds().unwrap_or(i64::MAX) as f64
}

impl Latency {
    pub fn sample<R: Rng>(&self, rng: &mut R) -> Duration {
        let us = match self {
            Latency::Fixed(d) => micros(*d),
            Latency::Uniform { min, max } => {
                let (lo, hi) = (micros(*min), micros(*max));
                if hi > lo {
                    rng.random_range(lo..hi)
                } else {
                    lo
                }
            }
            Latency::Normal { mean, stddev } => {
                micros(*mean) + micros(*stddev) * standard_normal(rng)
            }
            Latency::LogNormal { median, sigma } => {
                micros(*median) * (sigma * standard_normal(rng)).exp()
            }
        };
        // A create cannot arrive before it was sent.
        Duration::microseconds(us.max(0.0).round() as i64)
    }
}

/// Which names a rival chases.
#[derive(Clone, Debug, PartialEq)]
pub struct Interest {
    /// TLDs the rival works on; empty means all.
    pub tlds: Vec<String>,
    pub min_length: usize,
    pub max_length: usize,
    pub min_score: u8,
    pub digits: bool,
    pub hyphens: bool,
    pub idns: bool,
    /// Of the names that pass the filters, the share it actually chases (its customers' demand).
    pub share: f64,
}

impl Default for Interest {
    fn default() -> Self {
        Interest {
            tlds: Vec::new(),
            min_length: 1,
            max_length: 63,
            min_score: 1,
            digits: true,
            hyphens: true,
            idns: true,
            share: 1.0,
        }
    }
}

impl Interest {
    pub fn wants<R: Rng>(&self, tld: &str, features: &LabelFeatures, rng: &mut R) -> bool {
        let tld_ok = self.tlds.is_empty() || self.tlds.iter().any(|t| t == tld);
        tld_ok
            && (self.min_length..=self.max_length).contains(&features.length)
            && features.score >= self.min_score
            && (self.digits || features.digits == 0)
            && (self.hyphens || features.hyphens == 0)
            && (self.idns || !features.idn)
            && rng.random_bool(self.share.clamp(0.0, 1.0))
    }
}

/// When a rival fires its creates for a name.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Watches the registry every `interval` (phase unknown to the registry), and once it sees
    /// the name released fires `attempts` creates `spacing` apart.
    Poll {
        interval: Duration,
        attempts: u32,
        spacing: Duration,
    },
    /// Fires at fixed offsets from the list's published drop time, whatever the real release.
    Scheduled { offsets: Vec<Duration> },
}

impl Strategy {
    /// Earliest fire relative to the published drop time (to know when to plan a race).
    pub fn earliest_offset(&self) -> Duration {
        match self {
            Strategy::Poll { .. } => Duration::zero(),
            Strategy::Scheduled { offsets } => offsets
                .iter()
                .copied()
                .min()
                .unwrap_or_default()
                .min(Duration::zero()),
        }
    }

    /// Fire times for one name.
    fn fire_times<R: Rng>(
        &self,
        release: DateTime<Utc>,
        reveal: &Reveal,
        rng: &mut R,
    ) -> Vec<DateTime<Utc>> {
        match self {
            Strategy::Poll {
                interval,
                attempts,
                spacing,
            } => {
                let phase_us = interval.num_microseconds().unwrap_or(0).max(1);
                let seen = release + Duration::microseconds(rng.random_range(0..phase_us));
                (0..*attempts).map(|k| seen + *spacing * k as i32).collect()
            }
            Strategy::Scheduled { offsets } => {
                offsets.iter().map(|o| reveal.drop_time + *o).collect()
            }
        }
    }
}

/// A rival as the simulator runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rival {
    pub name: String,
    /// Registrar ids the rival holds (its accreditations).
    pub accreditations: Vec<String>,
    pub sessions_per_accreditation: u32,
    pub creates_per_second: u32,
    pub latency: Latency,
    pub interest: Interest,
    pub strategy: Strategy,
}

/// One rival create on its way to the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedCreate {
    pub arrival: DateTime<Utc>,
    /// Index into the rival's sessions (accreditation-major).
    pub session: u32,
}

impl Rival {
    pub fn session_count(&self) -> u32 {
        self.accreditations.len() as u32 * self.sessions_per_accreditation
    }

    /// The rival's creates for one dropping name, or none if it does not chase the name.
    /// `rng` must be this (rival, name)'s own stream so that the plan is reproducible.
    pub fn plan<R: Rng>(
        &self,
        tld: &str,
        features: &LabelFeatures,
        release: DateTime<Utc>,
        reveal: &Reveal,
        rng: &mut R,
    ) -> Vec<PlannedCreate> {
        if self.session_count() == 0 || !self.interest.wants(tld, features, rng) {
            return Vec::new();
        }
        // Spread one name's attempts over sessions (and so over accreditations), starting at a
        // per-name offset so that the load is even across a batch.
        let first_session = rng.random_range(0..self.session_count());
        let mut planned: Vec<PlannedCreate> = self
            .strategy
            .fire_times(release, reveal, rng)
            .into_iter()
            .enumerate()
            .map(|(k, fire)| PlannedCreate {
                arrival: truncate_to_micros(fire + self.latency.sample(rng)),
                session: (first_session + k as u32) % self.session_count(),
            })
            .collect();
        planned.sort_by_key(|p| p.arrival);
        planned
    }
}

fn truncate_to_micros(time: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = time.timestamp_subsec_nanos();
    time - Duration::nanoseconds(i64::from(nanos % 1_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::derive;
    use crate::schedule::Precision;

    fn release() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T19:00:10Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn reveal() -> Reveal {
        let start = DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Reveal {
            drop_time: start,
            window_end: start + Duration::hours(1),
            precision: Precision::Window,
        }
    }

    fn rival(strategy: Strategy) -> Rival {
        Rival {
            name: "r".into(),
            accreditations: vec!["r-1".into(), "r-2".into()],
            sessions_per_accreditation: 2,
            creates_per_second: 10,
            latency: Latency::Uniform {
                min: Duration::milliseconds(10),
                max: Duration::milliseconds(30),
            },
            interest: Interest::default(),
            strategy,
        }
    }

    #[test]
    fn latencies_stay_in_range_and_never_negative() {
        let mut rng = derive(1, &[b"lat"]);
        let uniform = Latency::Uniform {
            min: Duration::milliseconds(10),
            max: Duration::milliseconds(20),
        };
        let normal = Latency::Normal {
            mean: Duration::milliseconds(1),
            stddev: Duration::milliseconds(50),
        };
        let lognormal = Latency::LogNormal {
            median: Duration::milliseconds(20),
            sigma: 0.5,
        };
        for _ in 0..1000 {
            let u = uniform.sample(&mut rng);
            assert!(u >= Duration::milliseconds(10) && u < Duration::milliseconds(20));
            assert!(normal.sample(&mut rng) >= Duration::zero());
            assert!(lognormal.sample(&mut rng) > Duration::zero());
        }
    }

    #[test]
    fn poll_fires_after_release_and_spreads_sessions() {
        let rival = rival(Strategy::Poll {
            interval: Duration::milliseconds(500),
            attempts: 4,
            spacing: Duration::milliseconds(20),
        });
        let features = LabelFeatures::of("garden");
        let plan = rival.plan(
            "com",
            &features,
            release(),
            &reveal(),
            &mut derive(3, &[b"x"]),
        );
        assert_eq!(plan.len(), 4);
        for create in &plan {
            assert!(create.arrival > release());
            assert!(create.arrival < release() + Duration::milliseconds(500 + 60 + 30));
        }
        let sessions: std::collections::HashSet<u32> = plan.iter().map(|p| p.session).collect();
        assert_eq!(sessions.len(), 4, "four attempts over four sessions");
        assert_eq!(
            plan,
            rival.plan(
                "com",
                &features,
                release(),
                &reveal(),
                &mut derive(3, &[b"x"])
            )
        );
    }

    #[test]
    fn scheduled_fires_from_the_published_time() {
        let rival = rival(Strategy::Scheduled {
            offsets: vec![Duration::milliseconds(-20), Duration::zero()],
        });
        assert_eq!(
            rival.strategy.earliest_offset(),
            Duration::milliseconds(-20)
        );
        let plan = rival.plan(
            "com",
            &LabelFeatures::of("garden"),
            release(),
            &reveal(),
            &mut derive(3, &[b"x"]),
        );
        // The list only revealed the window start: both creates arrive before the release.
        assert!(plan.iter().all(|p| p.arrival < release()));
    }

    #[test]
    fn interest_filters_by_tld_length_score_and_share() {
        let mut rng = derive(5, &[b"i"]);
        let picky = Interest {
            tlds: vec!["com".into()],
            max_length: 6,
            min_score: 5,
            digits: false,
            ..Interest::default()
        };
        assert!(picky.wants("com", &LabelFeatures::of("garden"), &mut rng));
        assert!(!picky.wants("net", &LabelFeatures::of("garden"), &mut rng));
        assert!(!picky.wants("com", &LabelFeatures::of("gardenhub"), &mut rng));
        assert!(!picky.wants("com", &LabelFeatures::of("web7"), &mut rng));
        let half = Interest {
            share: 0.5,
            ..Interest::default()
        };
        let chased = (0..1000)
            .filter(|_| half.wants("com", &LabelFeatures::of("garden"), &mut rng))
            .count();
        assert!((400..600).contains(&chased), "{chased}");
    }
}
