//! Drop schedules: when a registry releases the names of one drop day, and how much of that
//! the public pending-delete list reveals. Pure functions of the schedule, the date, the names
//! and the seed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use rand::Rng;
use rand::seq::SliceRandom;

/// In which order a batch releases its names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseOrder {
    /// The order in which the names entered the list (their deletion order).
    List,
    Alphabetical,
    /// A seeded shuffle per TLD and day.
    Random,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// One batch a day from `at`, names one after another over `spread` (like `com`/`net`).
    DailyBatch {
        at: NaiveTime,
        spread: Duration,
        order: ReleaseOrder,
    },
    /// Each name at its own published whole second in `[from, from + window)` (like `.uk`).
    Exact { from: NaiveTime, window: Duration },
    /// Each name at an unpublished moment in `[from, from + window)` (like `.se`).
    RandomWindow { from: NaiveTime, window: Duration },
    /// One session a week (like `.ca`); the list only tells the day.
    WeeklySession {
        weekday: Weekday,
        at: NaiveTime,
        spread: Duration,
        order: ReleaseOrder,
    },
}

/// How precisely the public list reveals a release time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Exact,
    Window,
    Day,
}

/// What the public list says about one name's release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// The earliest moment the name may be released, as far as the list tells.
    pub drop_time: DateTime<Utc>,
    /// End of the window the release falls in (equal to `drop_time` when exact).
    pub window_end: DateTime<Utc>,
    pub precision: Precision,
}

/// One name to schedule on a drop day.
#[derive(Clone, Copy, Debug)]
pub struct DropName<'a> {
    pub domain: &'a str,
    /// The seed stream for this name's own random draws.
    pub seed: u64,
}

fn at(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    date.and_time(time).and_utc()
}

impl Schedule {
    pub fn kind(&self) -> &'static str {
        match self {
            Schedule::DailyBatch { .. } => "daily-batch",
            Schedule::Exact { .. } => "exact",
            Schedule::RandomWindow { .. } => "random-window",
            Schedule::WeeklySession { .. } => "weekly-session",
        }
    }

    fn is_session_day(&self, date: NaiveDate) -> bool {
        match self {
            Schedule::WeeklySession { weekday, .. } => date.weekday() == *weekday,
            _ => true,
        }
    }

    /// When the releases of a session day begin.
    pub fn slot_start(&self, date: NaiveDate) -> DateTime<Utc> {
        match self {
            Schedule::DailyBatch { at: time, .. } | Schedule::WeeklySession { at: time, .. } => {
                at(date, *time)
            }
            Schedule::Exact { from, .. } | Schedule::RandomWindow { from, .. } => at(date, *from),
        }
    }

    /// The `n`-th session day (0-based) whose releases start at or after `from`.
    pub fn nth_session(&self, from: DateTime<Utc>, n: u32) -> NaiveDate {
        let mut date = from.date_naive();
        let mut seen = 0;
        loop {
            if self.is_session_day(date) && self.slot_start(date) >= from {
                if seen == n {
                    return date;
                }
                seen += 1;
            }
            date = date.succ_opt().unwrap_or(date);
        }
    }

    /// Release times for the names dropping on `date`, in the order of `names` (list order).
    pub fn plan(
        &self,
        seed: u64,
        tld: &str,
        date: NaiveDate,
        names: &[DropName<'_>],
    ) -> Vec<DateTime<Utc>> {
        match self {
            Schedule::DailyBatch { spread, order, .. }
            | Schedule::WeeklySession { spread, order, .. } => {
                let sequence = release_sequence(*order, seed, tld, date, names);
                let start = self.slot_start(date);
                let count = names.len().max(1) as i64;
                let step_us = spread.num_microseconds().unwrap_or(0) / count;
                let mut times = vec![start; names.len()];
                for (position, index) in sequence.into_iter().enumerate() {
                    times[index] = start + Duration::microseconds(step_us * position as i64);
                }
                times
            }
            Schedule::Exact { window, .. } => {
                let seconds = window.num_seconds().max(1);
                names
                    .iter()
                    .map(|n| {
                        self.slot_start(date)
                            + Duration::seconds(name_rng(n).random_range(0..seconds))
                    })
                    .collect()
            }
            Schedule::RandomWindow { window, .. } => {
                let millis = window.num_milliseconds().max(1);
                names
                    .iter()
                    .map(|n| {
                        self.slot_start(date)
                            + Duration::milliseconds(name_rng(n).random_range(0..millis))
                    })
                    .collect()
            }
        }
    }

    /// What the public list shows for a name released at `release` on `date`.
    pub fn reveal(&self, date: NaiveDate, release: DateTime<Utc>) -> Reveal {
        match self {
            Schedule::DailyBatch { spread, .. } => Reveal {
                drop_time: self.slot_start(date),
                window_end: self.slot_start(date) + *spread,
                precision: Precision::Window,
            },
            Schedule::Exact { .. } => Reveal {
                drop_time: release,
                window_end: release,
                precision: Precision::Exact,
            },
            Schedule::RandomWindow { window, .. } => Reveal {
                drop_time: self.slot_start(date),
                window_end: self.slot_start(date) + *window,
                precision: Precision::Window,
            },
            Schedule::WeeklySession { .. } => Reveal {
                drop_time: at(date, NaiveTime::MIN),
                window_end: at(date, NaiveTime::MIN) + Duration::days(1),
                precision: Precision::Day,
            },
        }
    }
}

fn name_rng(name: &DropName<'_>) -> rand_chacha::ChaCha8Rng {
    crate::rng::derive(name.seed, &[b"release", name.domain.as_bytes()])
}

/// Indices of `names` in release order.
fn release_sequence(
    order: ReleaseOrder,
    seed: u64,
    tld: &str,
    date: NaiveDate,
    names: &[DropName<'_>],
) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..names.len()).collect();
    match order {
        ReleaseOrder::List => {}
        ReleaseOrder::Alphabetical => indices.sort_by_key(|i| names[*i].domain),
        ReleaseOrder::Random => {
            let day = date.to_string();
            indices.shuffle(&mut crate::rng::derive(
                seed,
                &[b"order", tld.as_bytes(), day.as_bytes()],
            ));
        }
    }
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).unwrap()
    }

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() // a Monday
    }

    fn names<'a>(domains: &'a [&'a str]) -> Vec<DropName<'a>> {
        domains
            .iter()
            .map(|d| DropName { domain: d, seed: 9 })
            .collect()
    }

    #[test]
    fn daily_batch_spreads_in_alphabetical_order() {
        let schedule = Schedule::DailyBatch {
            at: t(19, 0, 0),
            spread: Duration::minutes(60),
            order: ReleaseOrder::Alphabetical,
        };
        let list = names(&["c.com", "a.com", "d.com", "b.com"]);
        let times = schedule.plan(9, "com", day(), &list);
        let start = at(day(), t(19, 0, 0));
        assert_eq!(
            times,
            vec![
                start + Duration::minutes(30),
                start,
                start + Duration::minutes(45),
                start + Duration::minutes(15)
            ]
        );
        let reveal = schedule.reveal(day(), times[0]);
        assert_eq!(reveal.precision, Precision::Window);
        assert_eq!(
            (reveal.drop_time, reveal.window_end),
            (start, start + Duration::hours(1))
        );
    }

    #[test]
    fn daily_batch_list_order_keeps_input_and_random_is_seeded_permutation() {
        let list = names(&["c.com", "a.com", "d.com", "b.com", "e.com", "f.com"]);
        let listed = Schedule::DailyBatch {
            at: t(19, 0, 0),
            spread: Duration::minutes(6),
            order: ReleaseOrder::List,
        };
        let times = listed.plan(1, "com", day(), &list);
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        let random = Schedule::DailyBatch {
            at: t(19, 0, 0),
            spread: Duration::minutes(6),
            order: ReleaseOrder::Random,
        };
        let a = random.plan(1, "com", day(), &list);
        assert_eq!(a, random.plan(1, "com", day(), &list));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(
            sorted, times,
            "a random order is a permutation of the same slots"
        );
        assert_ne!(
            a,
            random.plan(2, "com", day(), &list),
            "another seed, another order"
        );
    }

    #[test]
    fn exact_releases_on_whole_published_seconds_in_window() {
        let schedule = Schedule::Exact {
            from: t(10, 0, 0),
            window: Duration::minutes(20),
        };
        let list = names(&["a.uk", "b.uk", "c.uk", "d.uk"]);
        let times = schedule.plan(9, "uk", day(), &list);
        let start = at(day(), t(10, 0, 0));
        for time in &times {
            assert!(*time >= start && *time < start + Duration::minutes(20));
            assert_eq!(time.timestamp_subsec_nanos(), 0);
            let reveal = schedule.reveal(day(), *time);
            assert_eq!(
                (reveal.drop_time, reveal.precision),
                (*time, Precision::Exact)
            );
        }
    }

    #[test]
    fn random_window_hides_the_moment() {
        let schedule = Schedule::RandomWindow {
            from: t(4, 0, 0),
            window: Duration::hours(2),
        };
        let list = names(&["a.se", "b.se", "c.se"]);
        let times = schedule.plan(9, "se", day(), &list);
        let start = at(day(), t(4, 0, 0));
        for time in &times {
            assert!(*time >= start && *time < start + Duration::hours(2));
            let reveal = schedule.reveal(day(), *time);
            assert_eq!(reveal.precision, Precision::Window);
            assert_eq!(
                (reveal.drop_time, reveal.window_end),
                (start, start + Duration::hours(2))
            );
        }
    }

    #[test]
    fn weekly_session_snaps_to_its_weekday_and_reveals_the_day() {
        let schedule = Schedule::WeeklySession {
            weekday: Weekday::Thu,
            at: t(14, 0, 0),
            spread: Duration::minutes(30),
            order: ReleaseOrder::List,
        };
        let from = at(day(), t(12, 0, 0));
        let first = schedule.nth_session(from, 0);
        assert_eq!(first, NaiveDate::from_ymd_opt(2026, 3, 5).unwrap());
        assert_eq!(
            schedule.nth_session(from, 1),
            NaiveDate::from_ymd_opt(2026, 3, 12).unwrap()
        );
        let times = schedule.plan(9, "ca", first, &names(&["a.ca", "b.ca"]));
        let reveal = schedule.reveal(first, times[1]);
        assert_eq!(reveal.precision, Precision::Day);
        assert_eq!(reveal.drop_time, at(first, NaiveTime::MIN));
        assert!(times[1] > reveal.drop_time && times[1] < reveal.window_end);
    }

    #[test]
    fn sessions_already_started_are_skipped() {
        let schedule = Schedule::DailyBatch {
            at: t(19, 0, 0),
            spread: Duration::hours(1),
            order: ReleaseOrder::List,
        };
        assert_eq!(schedule.nth_session(at(day(), t(18, 55, 0)), 0), day());
        assert_eq!(
            schedule.nth_session(at(day(), t(19, 0, 1)), 0),
            day().succ_opt().unwrap()
        );
    }
}
