//! Progress of a long phase on stderr: a bar on a terminal; plain lines when stderr is piped
//! or redirected (one when the phase starts, then at most one every few seconds, and one at
//! the end), so a run in CI or under `| tee` still shows where it is; nothing when progress
//! is off.
//!
//! Each line has the phase, the count done of the total, the rate and an ETA. Units are what
//! costs wall time (names to order, clock ticks), not virtual seconds: a 1 s tick in the
//! release window and a 1 min tick after it cost about the same, so a percentage of virtual
//! time said "20 %" at 7 minutes of a 9-minute run. The rate is measured over the last
//! [`RATE_WINDOW`], so the ETA follows a phase whose ticks get slower or faster.

use indicatif::{ProgressBar, ProgressStyle};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain line is written at most.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// The rate (and so the ETA) is measured over this much recent wall time.
pub const RATE_WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Plain>,
}

#[derive(Debug)]
struct Plain {
    phase: String,
    unit: String,
    length: u64,
    started: Instant,
    state: Mutex<PlainState>,
}

#[derive(Debug)]
struct PlainState {
    last_line: Instant,
    position: u64,
    message: String,
    rate: Rate,
}

/// Recent `(when, position)` samples: the rate over the last [`RATE_WINDOW`].
#[derive(Debug, Default)]
pub struct Rate {
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    pub fn record(&mut self, at: Instant, position: u64) {
        self.samples.push_back((at, position));
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| at.duration_since(*t) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Units per second over the window; `None` until there is a measurable span.
    pub fn per_second(&self) -> Option<f64> {
        let (t0, p0) = *self.samples.front()?;
        let (t1, p1) = *self.samples.back()?;
        let secs = t1.duration_since(t0).as_secs_f64();
        (secs >= 0.5 && p1 > p0).then(|| (p1 - p0) as f64 / secs)
    }

    /// Time left for `remaining` units at the recent rate.
    pub fn eta(&self, remaining: u64) -> Option<Duration> {
        let rate = self.per_second()?;
        Some(Duration::from_secs_f64((remaining as f64 / rate).min(1e7)))
    }
}

/// `1h 02m`, `3m 20s`, `42s`.
pub fn human(duration: Duration) -> String {
    let s = duration.as_secs();
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    /// A phase of `length` units (`unit`: "names", "ticks").
    pub fn new(enabled: bool, phase: &str, unit: &str, length: u64) -> Self {
        let length = length.max(1);
        if !enabled {
            return Self {
                bar: None,
                plain: None,
            };
        }
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(length);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix:>14}} [{{bar:30.cyan/blue}}] {{pos}}/{{len}} {unit} \
                     {{per_sec}} ETA {{eta}} {{msg}} ({{elapsed}})"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(phase.to_string());
            return Self {
                bar: Some(bar),
                plain: None,
            };
        }
        let now = Instant::now();
        let plain = Plain {
            phase: phase.to_string(),
            unit: unit.to_string(),
            length,
            started: now,
            state: Mutex::new(PlainState {
                last_line: now,
                position: 0,
                message: String::new(),
                rate: Rate::default(),
            }),
        };
        eprintln!("{:>14}: started, {length} {unit}", plain.phase);
        Self {
            bar: None,
            plain: Some(plain),
        }
    }

    pub fn update(&self, position: u64, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
            bar.set_message(message.to_string());
        }
        if let Some(plain) = &self.plain {
            let mut state = plain.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            state.position = position;
            state.message = message.to_string();
            state.rate.record(now, position);
            if now.duration_since(state.last_line) >= PLAIN_EVERY {
                state.last_line = now;
                plain.line(&state, "");
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if let Some(plain) = &self.plain {
            let state = plain.state.lock().unwrap_or_else(|e| e.into_inner());
            plain.line(&state, " (done)");
        }
    }
}

impl Plain {
    fn line(&self, state: &PlainState, suffix: &str) {
        let position = state.position.min(self.length);
        let percent = position * 100 / self.length;
        let rate = state
            .rate
            .per_second()
            .map_or("-".to_string(), |r| format!("{r:.1}/s"));
        let eta = match state.rate.eta(self.length - position) {
            // A phase may end before its planned ticks (settlement, once every auction is
            // settled): its last line says so instead of an ETA.
            _ if position >= self.length || !suffix.is_empty() => "0s".to_string(),
            Some(eta) => human(eta),
            None => "?".to_string(),
        };
        eprintln!(
            "{:>14}: {position}/{} {} ({percent}%), {rate}, ETA {eta}, {} so far; {}{suffix}",
            self.phase,
            self.length,
            self.unit,
            human(self.started.elapsed()),
            state.message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_recent_and_the_eta_follows_it() {
        let t0 = Instant::now();
        let mut rate = Rate::default();
        assert_eq!(rate.per_second(), None);
        // 10 units/s for a minute, then 1 unit/s for a minute: the rate is the recent one.
        for s in 0..=60u64 {
            rate.record(t0 + Duration::from_secs(s), s * 10);
        }
        assert!((rate.per_second().unwrap() - 10.0).abs() < 0.01);
        for s in 61..=120u64 {
            rate.record(t0 + Duration::from_secs(s), 600 + (s - 60));
        }
        let r = rate.per_second().unwrap();
        assert!((r - 1.0).abs() < 0.1, "{r}");
        let eta = rate.eta(120).unwrap().as_secs();
        assert!((110..=130).contains(&eta), "{eta}");
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(200)), "3m 20s");
        assert_eq!(human(Duration::from_secs(3720)), "1h 02m");
    }
}
