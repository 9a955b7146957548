//! Progress of a long phase on stderr: a bar on a terminal; plain lines (at most one every
//! few seconds, and one at the end) when stderr is piped or redirected, so a run in CI or
//! under `| tee` still shows where it is; nothing when progress is off.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a plain line is written at most.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Option<Plain>,
}

#[derive(Debug)]
struct Plain {
    phase: String,
    length: u64,
    started: Instant,
    /// When the last line was written, and the last position and message seen.
    state: Mutex<(Instant, u64, String)>,
}

impl Progress {
    /// A phase of `length` units (seconds of virtual time, names, ...).
    pub fn new(enabled: bool, phase: &str, length: u64) -> Self {
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
                ProgressStyle::with_template(
                    "{prefix:>14} [{bar:40.cyan/blue}] {percent:>3}% {msg} ({elapsed})",
                )
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
        Self {
            bar: None,
            plain: Some(Plain {
                phase: phase.to_string(),
                length,
                started: now,
                state: Mutex::new((now, 0, String::new())),
            }),
        }
    }

    pub fn update(&self, position: u64, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(position);
            bar.set_message(message.to_string());
        }
        if let Some(plain) = &self.plain {
            let mut state = plain.state.lock().unwrap_or_else(|e| e.into_inner());
            *state = (state.0, position, message.to_string());
            if state.0.elapsed() >= PLAIN_EVERY {
                state.0 = Instant::now();
                plain.line(position, message);
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
        if let Some(plain) = &self.plain {
            let state = plain.state.lock().unwrap_or_else(|e| e.into_inner());
            plain.line(state.1, &format!("{} (done)", state.2));
        }
    }
}

impl Plain {
    fn line(&self, position: u64, message: &str) {
        let percent = position.min(self.length) * 100 / self.length;
        eprintln!(
            "{:>14}: {percent:>3}% {message} ({:.0?} so far)",
            self.phase,
            self.started.elapsed()
        );
    }
}
