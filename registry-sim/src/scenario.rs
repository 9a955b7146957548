//! Scenario files (TOML): the registry's TLDs and their rules, the population of dropping
//! names, registrar accounts and rivals. Parsing validates everything up front; an error names
//! the file, the line and the field so that a bad scenario is refused before the server starts.

use crate::duration::{SignedDuration, SimDuration, TimeOfDay};
use crate::population::NameShape;
use crate::rivals::{Interest, Latency, Rival, Strategy};
use crate::schedule::{ReleaseOrder, Schedule};
use chrono::{DateTime, Duration, Utc, Weekday};
use serde::Deserialize;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Scenarios that ship with the simulator, by name.
pub const SHIPPED: &[(&str, &str)] = &[
    ("smoke", include_str!("../scenarios/smoke.toml")),
    ("com-day", include_str!("../scenarios/com-day.toml")),
    ("cctld-mix", include_str!("../scenarios/cctld-mix.toml")),
];

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The offending field, as a dotted path (`tlds[0].schedule.kind`), when known.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

/// Allocation policy the registry applies to released names (a fact the backorder service's
/// catalog mirrors: FCFS TLDs never hold private auctions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Fcfs,
    Auction,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TldConfig {
    pub name: String,
    /// How many names of this TLD the population holds.
    pub names: usize,
    /// Third-level zones under this TLD (`co.uk`); names are generated across all zones.
    pub third_level_zones: Vec<String>,
    /// Whether names directly under the TLD (`name.uk`) exist.
    pub second_level: bool,
    pub policy: Policy,
    pub premium_labels: BTreeSet<String>,
    /// Labels of this length or shorter are premium (0: none).
    pub premium_max_length: usize,
    pub reserved_labels: BTreeSet<String>,
    /// Extension keys a create must carry.
    pub required_extensions: Vec<String>,
    pub auto_renew_grace: Duration,
    pub redemption: Duration,
    pub pending_delete: Duration,
    /// Minimum time between two creates of one registrar in this TLD (0: no limit).
    pub create_interval: Duration,
    pub schedule: Schedule,
}

impl TldConfig {
    /// Zones names can be registered in, second level first.
    pub fn zones(&self) -> Vec<String> {
        let mut zones = Vec::new();
        if self.second_level {
            zones.push(self.name.clone());
        }
        zones.extend(self.third_level_zones.iter().cloned());
        zones
    }

    pub fn is_premium(&self, label: &str, length: usize) -> bool {
        self.premium_labels.contains(label) || length <= self.premium_max_length
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    pub shape: NameShape,
    /// Names are spread over this many drop sessions from the start.
    pub drop_days: u32,
    /// Share of names the registrant restores during redemption.
    pub restore_share: f64,
    /// Restored names are deleted and restored within this time from the start.
    pub restore_within: Duration,
    /// Registrars that sponsored the names before deletion.
    pub sponsors: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegistrarConfig {
    pub id: String,
    pub password: String,
    pub sessions: u32,
    pub creates_per_second: u32,
    /// The catcher this account belongs to in the race log.
    pub catcher: String,
    /// A session unused for longer than this is closed by the registry (`None`: never).
    /// The scenario's `limits.session_idle_timeout` unless the registrar overrides it.
    pub session_idle_timeout: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    pub start: DateTime<Utc>,
    /// Session penalty after a create on a name that still exists.
    pub exists_penalty: Duration,
    /// Default idle timeout of registrar sessions (`None`: sessions never expire).
    pub session_idle_timeout: Option<Duration>,
    pub tlds: Vec<TldConfig>,
    pub population: Population,
    pub registrars: Vec<RegistrarConfig>,
    pub rivals: Vec<Rival>,
}

/// The default sponsor when a scenario names none: an account nobody can log in to.
pub const FORMER_REGISTRAR: &str = "former-registrar";

/// The default `limits.session_idle_timeout`, as on common EPP servers.
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::seconds(600);

impl Scenario {
    /// `spec` is a path or the name of a shipped scenario (`smoke`).
    pub fn load(spec: &str) -> Result<Scenario, ScenarioError> {
        if let Some((name, text)) = SHIPPED.iter().find(|(name, _)| *name == spec) {
            return Scenario::parse(text, &format!("<shipped:{name}>"));
        }
        let text = std::fs::read_to_string(Path::new(spec)).map_err(|e| ScenarioError {
            file: spec.to_string(),
            line: 0,
            column: 0,
            field: None,
            reason: format!(
                "cannot read scenario: {e} (shipped scenarios: {})",
                SHIPPED.iter().map(|s| s.0).collect::<Vec<_>>().join(", ")
            ),
        })?;
        Scenario::parse(&text, spec)
    }

    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ScenarioError {
                file: file.into(),
                line,
                column,
                field: None,
                reason: e.message().trim().to_string(),
            }
        })?;
        Validator { text, file }.scenario(raw)
    }

    pub fn tld(&self, name: &str) -> Option<&TldConfig> {
        self.tlds.iter().find(|t| t.name == name)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    seed: u64,
    start: Spanned<String>,
    #[serde(default)]
    limits: RawLimits,
    tlds: Vec<Spanned<RawTld>>,
    #[serde(default)]
    population: Option<Spanned<RawPopulation>>,
    #[serde(default)]
    registrars: Vec<Spanned<RawRegistrar>>,
    #[serde(default)]
    rivals: Vec<Spanned<RawRival>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    exists_penalty: Option<SimDuration>,
    session_idle_timeout: Option<Spanned<SimDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTld {
    name: Spanned<String>,
    names: usize,
    #[serde(default)]
    third_level_zones: Vec<Spanned<String>>,
    second_level: Option<bool>,
    policy: Option<Spanned<String>>,
    #[serde(default)]
    premium_labels: Vec<String>,
    #[serde(default)]
    premium_max_length: usize,
    #[serde(default)]
    reserved_labels: Vec<String>,
    #[serde(default)]
    required_extensions: Vec<String>,
    auto_renew_grace: Option<SimDuration>,
    redemption: Option<SimDuration>,
    pending_delete: Option<SimDuration>,
    create_interval: Option<SimDuration>,
    schedule: Spanned<RawSchedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    kind: Spanned<String>,
    at: Option<TimeOfDay>,
    from: Option<TimeOfDay>,
    spread: Option<SimDuration>,
    window: Option<SimDuration>,
    order: Option<Spanned<String>>,
    weekday: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    drop_days: Option<u32>,
    restore_share: Option<Spanned<f64>>,
    restore_within: Option<SimDuration>,
    #[serde(default)]
    sponsors: Vec<Spanned<String>>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    two_word_share: Option<Spanned<f64>>,
    digit_share: Option<Spanned<f64>>,
    hyphen_share: Option<Spanned<f64>>,
    idn_share: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistrar {
    id: Spanned<String>,
    password: String,
    sessions: Spanned<u32>,
    creates_per_second: Spanned<u32>,
    catcher: Option<String>,
    session_idle_timeout: Option<Spanned<SimDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRival {
    name: Spanned<String>,
    accreditations: Spanned<u32>,
    sessions: Spanned<u32>,
    creates_per_second: Spanned<u32>,
    latency: Spanned<RawLatency>,
    #[serde(default)]
    interest: Option<Spanned<RawInterest>>,
    strategy: Spanned<RawStrategy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    kind: Spanned<String>,
    value: Option<SimDuration>,
    min: Option<SimDuration>,
    max: Option<SimDuration>,
    mean: Option<SimDuration>,
    stddev: Option<SimDuration>,
    median: Option<SimDuration>,
    sigma: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterest {
    #[serde(default)]
    tlds: Vec<Spanned<String>>,
    min_length: Option<usize>,
    max_length: Option<usize>,
    min_score: Option<u8>,
    digits: Option<bool>,
    hyphens: Option<bool>,
    idns: Option<bool>,
    share: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStrategy {
    kind: Spanned<String>,
    interval: Option<SimDuration>,
    attempts: Option<u32>,
    spacing: Option<SimDuration>,
    #[serde(default)]
    offsets: Vec<SignedDuration>,
}

// ---- validation ----

struct Validator<'a> {
    text: &'a str,
    file: &'a str,
}

type Result2<T> = Result<T, ScenarioError>;

impl Validator<'_> {
    fn error(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> ScenarioError {
        let (line, column) = line_col(self.text, span.start);
        ScenarioError {
            file: self.file.into(),
            line,
            column,
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    fn share(&self, value: &Option<Spanned<f64>>, field: &str, default: f64) -> Result2<f64> {
        match value {
            None => Ok(default),
            Some(v) if (0.0..=1.0).contains(v.get_ref()) => Ok(*v.get_ref()),
            Some(v) => Err(self.error(
                v.span(),
                field,
                format!("must be between 0 and 1, got {}", v.get_ref()),
            )),
        }
    }

    /// An idle timeout: `0s` means sessions never expire, anything else is at least a second
    /// (EPP servers count idle time in seconds).
    fn idle_timeout(&self, value: &Spanned<SimDuration>, field: &str) -> Result2<Option<Duration>> {
        let timeout = value.get_ref().get();
        if timeout == Duration::zero() {
            Ok(None)
        } else if timeout < Duration::seconds(1) {
            Err(self.error(
                value.span(),
                field,
                format!(
                    "must be 0s (sessions never expire) or at least 1s, got {}",
                    value.get_ref()
                ),
            ))
        } else {
            Ok(Some(timeout))
        }
    }

    fn required<T>(
        &self,
        value: Option<T>,
        span: Range<usize>,
        field: &str,
        why: &str,
    ) -> Result2<T> {
        value.ok_or_else(|| self.error(span, field, format!("missing; {why}")))
    }

    fn scenario(&self, raw: RawScenario) -> Result2<Scenario> {
        let start = DateTime::parse_from_rfc3339(raw.start.get_ref())
            .map_err(|e| {
                self.error(
                    raw.start.span(),
                    "start",
                    format!("not an RFC 3339 time: {e}"),
                )
            })?
            .with_timezone(&Utc);
        if raw.tlds.is_empty() {
            return Err(self.error(0..0, "tlds", "a scenario needs at least one [[tlds]] table"));
        }
        let mut tlds = Vec::new();
        for (i, tld) in raw.tlds.into_iter().enumerate() {
            let tld = self.tld(i, tld)?;
            if tlds.iter().any(|t: &TldConfig| t.name == tld.name) {
                return Err(self.error(
                    0..0,
                    format!("tlds[{i}].name"),
                    format!("TLD `{}` is listed twice", tld.name),
                ));
            }
            tlds.push(tld);
        }
        let session_idle_timeout = match &raw.limits.session_idle_timeout {
            Some(value) => self.idle_timeout(value, "limits.session_idle_timeout")?,
            None => Some(DEFAULT_SESSION_IDLE_TIMEOUT),
        };
        let mut registrars: Vec<RegistrarConfig> = Vec::new();
        let mut ids = HashSet::new();
        for (i, r) in raw.registrars.into_iter().enumerate() {
            let r = r.into_inner();
            let id = r.id.get_ref().clone();
            if id.is_empty() || !ids.insert(id.clone()) {
                return Err(self.error(
                    r.id.span(),
                    format!("registrars[{i}].id"),
                    format!("registrar id `{id}` is empty or used twice"),
                ));
            }
            if *r.sessions.get_ref() == 0 {
                return Err(self.error(
                    r.sessions.span(),
                    format!("registrars[{i}].sessions"),
                    "must be at least 1",
                ));
            }
            if *r.creates_per_second.get_ref() == 0 {
                return Err(self.error(
                    r.creates_per_second.span(),
                    format!("registrars[{i}].creates_per_second"),
                    "must be at least 1",
                ));
            }
            let idle = match &r.session_idle_timeout {
                Some(value) => {
                    self.idle_timeout(value, &format!("registrars[{i}].session_idle_timeout"))?
                }
                None => session_idle_timeout,
            };
            registrars.push(RegistrarConfig {
                id,
                password: r.password,
                sessions: *r.sessions.get_ref(),
                creates_per_second: *r.creates_per_second.get_ref(),
                catcher: r.catcher.unwrap_or_else(|| "ours".into()),
                session_idle_timeout: idle,
            });
        }
        let tld_names: Vec<String> = tlds.iter().map(|t| t.name.clone()).collect();
        let mut rivals = Vec::new();
        for (i, r) in raw.rivals.into_iter().enumerate() {
            let rival = self.rival(i, r.into_inner(), &tld_names)?;
            for id in &rival.accreditations {
                if !ids.insert(id.clone()) {
                    return Err(self.error(
                        0..0,
                        format!("rivals[{i}].name"),
                        format!("rival accreditation `{id}` clashes with another registrar id"),
                    ));
                }
            }
            rivals.push(rival);
        }
        let population = self.population(raw.population, &ids)?;
        let exists_penalty = raw
            .limits
            .exists_penalty
            .map(SimDuration::get)
            .unwrap_or_else(|| Duration::milliseconds(100));
        Ok(Scenario {
            name: raw.name,
            seed: raw.seed,
            start,
            exists_penalty,
            session_idle_timeout,
            tlds,
            population,
            registrars,
            rivals,
        })
    }

    fn tld(&self, i: usize, raw: Spanned<RawTld>) -> Result2<TldConfig> {
        let raw = raw.into_inner();
        let name = raw.name.get_ref().to_ascii_lowercase();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(self.error(
                raw.name.span(),
                format!("tlds[{i}].name"),
                format!("`{name}` is not a TLD (letters only)"),
            ));
        }
        let mut third_level_zones = Vec::new();
        for (z, zone) in raw.third_level_zones.iter().enumerate() {
            let value = zone.get_ref().to_ascii_lowercase();
            let ok = value
                .strip_suffix(&format!(".{name}"))
                .is_some_and(|prefix| {
                    !prefix.is_empty()
                        && !prefix.contains('.')
                        && prefix
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(self.error(
                    zone.span(),
                    format!("tlds[{i}].third_level_zones[{z}]"),
                    format!("`{value}` is not a zone directly under `{name}`"),
                ));
            }
            third_level_zones.push(value);
        }
        let second_level = raw.second_level.unwrap_or(true);
        if !second_level && third_level_zones.is_empty() {
            return Err(self.error(
                raw.name.span(),
                format!("tlds[{i}].second_level"),
                "false needs at least one third-level zone",
            ));
        }
        let policy = match raw.policy.as_ref().map(|p| p.get_ref().as_str()) {
            None | Some("fcfs") => Policy::Fcfs,
            Some("auction") => Policy::Auction,
            Some(other) => {
                let span = raw.policy.as_ref().map(|p| p.span()).unwrap_or_default();
                return Err(self.error(
                    span,
                    format!("tlds[{i}].policy"),
                    format!("unknown policy `{other}` (expected fcfs or auction)"),
                ));
            }
        };
        let schedule = self.schedule(&format!("tlds[{i}].schedule"), raw.schedule)?;
        let days = |d: Option<SimDuration>, default: i64| {
            d.map(SimDuration::get)
                .unwrap_or_else(|| Duration::days(default))
        };
        Ok(TldConfig {
            name,
            names: raw.names,
            third_level_zones,
            second_level,
            policy,
            premium_labels: raw.premium_labels.into_iter().collect(),
            premium_max_length: raw.premium_max_length,
            reserved_labels: raw.reserved_labels.into_iter().collect(),
            required_extensions: raw.required_extensions,
            auto_renew_grace: days(raw.auto_renew_grace, 45),
            redemption: days(raw.redemption, 30),
            pending_delete: days(raw.pending_delete, 5),
            create_interval: raw
                .create_interval
                .map(SimDuration::get)
                .unwrap_or_default(),
            schedule,
        })
    }

    fn schedule(&self, field: &str, raw: Spanned<RawSchedule>) -> Result2<Schedule> {
        let span = raw.span();
        let raw = raw.into_inner();
        let order = |raw_order: &Option<Spanned<String>>| -> Result2<ReleaseOrder> {
            match raw_order.as_ref().map(|o| o.get_ref().as_str()) {
                None | Some("list") => Ok(ReleaseOrder::List),
                Some("alphabetical") => Ok(ReleaseOrder::Alphabetical),
                Some("random") => Ok(ReleaseOrder::Random),
                Some(other) => Err(self.error(
                    raw_order.as_ref().map(|o| o.span()).unwrap_or_default(),
                    format!("{field}.order"),
                    format!(
                        "unknown release order `{other}` (expected list, alphabetical or random)"
                    ),
                )),
            }
        };
        let positive = |d: Option<SimDuration>, name: &str| -> Result2<Duration> {
            let d = self.required(
                d,
                span.clone(),
                &format!("{field}.{name}"),
                "a duration like \"1h\"",
            )?;
            if d.get() <= Duration::zero() {
                return Err(self.error(
                    span.clone(),
                    format!("{field}.{name}"),
                    "must be longer than zero",
                ));
            }
            Ok(d.get())
        };
        let need_time = |t: Option<TimeOfDay>, name: &str| {
            self.required(
                t.map(|t| t.0),
                span.clone(),
                &format!("{field}.{name}"),
                "a UTC time of day like \"19:00:00\"",
            )
        };
        match raw.kind.get_ref().as_str() {
            "daily-batch" => Ok(Schedule::DailyBatch { at: need_time(raw.at, "at")?, spread: positive(raw.spread, "spread")?, order: order(&raw.order)? }),
            "exact" => Ok(Schedule::Exact { from: need_time(raw.from, "from")?, window: positive(raw.window, "window")? }),
            "random-window" => Ok(Schedule::RandomWindow { from: need_time(raw.from, "from")?, window: positive(raw.window, "window")? }),
            "weekly-session" => {
                let weekday_raw = self.required(raw.weekday.as_ref(), span.clone(), &format!("{field}.weekday"), "a day like \"thu\"")?;
                let weekday: Weekday = weekday_raw
                    .get_ref()
                    .parse()
                    .map_err(|_| self.error(weekday_raw.span(), format!("{field}.weekday"), format!("`{}` is not a weekday", weekday_raw.get_ref())))?;
                Ok(Schedule::WeeklySession { weekday, at: need_time(raw.at, "at")?, spread: positive(raw.spread, "spread")?, order: order(&raw.order)? })
            }
            other => Err(self.error(
                raw.kind.span(),
                format!("{field}.kind"),
                format!("unknown schedule kind `{other}` (expected daily-batch, exact, random-window or weekly-session)"),
            )),
        }
    }

    fn population(
        &self,
        raw: Option<Spanned<RawPopulation>>,
        registrar_ids: &HashSet<String>,
    ) -> Result2<Population> {
        let Some(raw) = raw else {
            return Ok(Population {
                shape: NameShape::default(),
                drop_days: 1,
                restore_share: 0.0,
                restore_within: Duration::hours(1),
                sponsors: vec![FORMER_REGISTRAR.into()],
            });
        };
        let span = raw.span();
        let raw = raw.into_inner();
        let defaults = NameShape::default();
        let shape = NameShape {
            min_length: raw.min_length.unwrap_or(defaults.min_length),
            max_length: raw.max_length.unwrap_or(defaults.max_length),
            two_word_share: self.share(
                &raw.two_word_share,
                "population.two_word_share",
                defaults.two_word_share,
            )?,
            digit_share: self.share(
                &raw.digit_share,
                "population.digit_share",
                defaults.digit_share,
            )?,
            hyphen_share: self.share(
                &raw.hyphen_share,
                "population.hyphen_share",
                defaults.hyphen_share,
            )?,
            idn_share: self.share(&raw.idn_share, "population.idn_share", defaults.idn_share)?,
        };
        if shape.min_length == 0 || shape.min_length > shape.max_length || shape.max_length > 63 {
            return Err(self.error(
                span,
                "population.min_length",
                "lengths must satisfy 1 <= min_length <= max_length <= 63",
            ));
        }
        let mut sponsors = Vec::new();
        for (i, s) in raw.sponsors.iter().enumerate() {
            if !registrar_ids.contains(s.get_ref()) {
                return Err(self.error(
                    s.span(),
                    format!("population.sponsors[{i}]"),
                    format!("unknown registrar `{}`", s.get_ref()),
                ));
            }
            sponsors.push(s.get_ref().clone());
        }
        if sponsors.is_empty() {
            sponsors.push(FORMER_REGISTRAR.into());
        }
        let drop_days = raw.drop_days.unwrap_or(1);
        if drop_days == 0 {
            return Err(self.error(span, "population.drop_days", "must be at least 1"));
        }
        Ok(Population {
            shape,
            drop_days,
            restore_share: self.share(&raw.restore_share, "population.restore_share", 0.0)?,
            restore_within: raw
                .restore_within
                .map(SimDuration::get)
                .unwrap_or_else(|| Duration::hours(1)),
            sponsors,
        })
    }

    fn rival(&self, i: usize, raw: RawRival, tld_names: &[String]) -> Result2<Rival> {
        let field = format!("rivals[{i}]");
        let name = raw.name.get_ref().clone();
        if name.is_empty() || name == "ours" {
            return Err(self.error(
                raw.name.span(),
                format!("{field}.name"),
                "a rival needs a name other than `ours`",
            ));
        }
        for (value, key) in [
            (&raw.accreditations, "accreditations"),
            (&raw.sessions, "sessions"),
            (&raw.creates_per_second, "creates_per_second"),
        ] {
            if *value.get_ref() == 0 {
                return Err(self.error(
                    value.span(),
                    format!("{field}.{key}"),
                    "must be at least 1",
                ));
            }
        }
        let latency = self.latency(&format!("{field}.latency"), raw.latency)?;
        let interest = match raw.interest {
            None => Interest::default(),
            Some(spanned) => {
                let span = spanned.span();
                let r = spanned.into_inner();
                let mut tlds = Vec::new();
                for (t, tld) in r.tlds.iter().enumerate() {
                    if !tld_names.contains(tld.get_ref()) {
                        return Err(self.error(
                            tld.span(),
                            format!("{field}.interest.tlds[{t}]"),
                            format!("unknown TLD `{}`", tld.get_ref()),
                        ));
                    }
                    tlds.push(tld.get_ref().clone());
                }
                let defaults = Interest::default();
                let interest = Interest {
                    tlds,
                    min_length: r.min_length.unwrap_or(defaults.min_length),
                    max_length: r.max_length.unwrap_or(defaults.max_length),
                    min_score: r.min_score.unwrap_or(defaults.min_score),
                    digits: r.digits.unwrap_or(true),
                    hyphens: r.hyphens.unwrap_or(true),
                    idns: r.idns.unwrap_or(true),
                    share: self.share(&r.share, &format!("{field}.interest.share"), 1.0)?,
                };
                if interest.min_length > interest.max_length || interest.min_score > 10 {
                    return Err(self.error(
                        span,
                        format!("{field}.interest"),
                        "needs min_length <= max_length and min_score <= 10",
                    ));
                }
                interest
            }
        };
        let strategy = self.strategy(&format!("{field}.strategy"), raw.strategy)?;
        Ok(Rival {
            accreditations: (1..=*raw.accreditations.get_ref())
                .map(|k| format!("{name}-{k}"))
                .collect(),
            name,
            sessions_per_accreditation: *raw.sessions.get_ref(),
            creates_per_second: *raw.creates_per_second.get_ref(),
            latency,
            interest,
            strategy,
        })
    }

    fn latency(&self, field: &str, raw: Spanned<RawLatency>) -> Result2<Latency> {
        let span = raw.span();
        let raw = raw.into_inner();
        let need = |d: Option<SimDuration>, key: &str| {
            self.required(
                d.map(SimDuration::get),
                span.clone(),
                &format!("{field}.{key}"),
                "a duration like \"20ms\"",
            )
        };
        match raw.kind.get_ref().as_str() {
            "fixed" => Ok(Latency::Fixed(need(raw.value, "value")?)),
            "uniform" => {
                let (min, max) = (need(raw.min, "min")?, need(raw.max, "max")?);
                if min > max {
                    return Err(self.error(span, format!("{field}.min"), "must not exceed max"));
                }
                Ok(Latency::Uniform { min, max })
            }
            "normal" => Ok(Latency::Normal {
                mean: need(raw.mean, "mean")?,
                stddev: need(raw.stddev, "stddev")?,
            }),
            "lognormal" => Ok(Latency::LogNormal {
                median: need(raw.median, "median")?,
                sigma: self.required(
                    raw.sigma,
                    span.clone(),
                    &format!("{field}.sigma"),
                    "a number like 0.5",
                )?,
            }),
            other => Err(self.error(
                raw.kind.span(),
                format!("{field}.kind"),
                format!(
                    "unknown latency kind `{other}` (expected fixed, uniform, normal or lognormal)"
                ),
            )),
        }
    }

    fn strategy(&self, field: &str, raw: Spanned<RawStrategy>) -> Result2<Strategy> {
        let span = raw.span();
        let raw = raw.into_inner();
        match raw.kind.get_ref().as_str() {
            "poll" => {
                let interval = self
                    .required(
                        raw.interval,
                        span.clone(),
                        &format!("{field}.interval"),
                        "a duration like \"500ms\"",
                    )?
                    .get();
                if interval <= Duration::zero() {
                    return Err(self.error(
                        span,
                        format!("{field}.interval"),
                        "must be longer than zero",
                    ));
                }
                Ok(Strategy::Poll {
                    interval,
                    attempts: raw.attempts.unwrap_or(1).max(1),
                    spacing: raw.spacing.map(SimDuration::get).unwrap_or_default(),
                })
            }
            "scheduled" => {
                if raw.offsets.is_empty() {
                    return Err(self.error(
                        span,
                        format!("{field}.offsets"),
                        "needs at least one offset like \"-50ms\"",
                    ));
                }
                Ok(Strategy::Scheduled {
                    offsets: raw.offsets.into_iter().map(|o| o.0).collect(),
                })
            }
            other => Err(self.error(
                raw.kind.span(),
                format!("{field}.kind"),
                format!("unknown strategy kind `{other}` (expected poll or scheduled)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_scenarios_parse() {
        for (name, _) in SHIPPED {
            let scenario = Scenario::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&scenario.name, name);
            assert!(scenario.registrars.iter().any(|r| r.id == "ours-1"));
        }
        let mix = Scenario::load("cctld-mix").unwrap();
        assert_eq!(mix.tld("ca").unwrap().create_interval, Duration::seconds(5));
        assert_eq!(mix.tld("se").unwrap().schedule.kind(), "random-window");
        assert_eq!(
            mix.tld("uk").unwrap().zones(),
            ["uk", "co.uk", "org.uk", "me.uk"]
        );
        assert_eq!(Scenario::load("com-day").unwrap().tlds[0].names, 80_000);
        let idle = |name: &str| Scenario::load(name).unwrap().session_idle_timeout;
        assert_eq!(idle("smoke"), Some(Duration::seconds(120)));
        assert_eq!(idle("com-day"), Some(Duration::seconds(600)));
        assert_eq!(idle("cctld-mix"), Some(Duration::seconds(600)));
    }

    const GOOD: &str = r#"
name = "t"
seed = 1
start = "2026-03-02T18:55:00Z"

[[tlds]]
name = "com"
names = 3
schedule = { kind = "daily-batch", at = "19:00:00", spread = "10m" }
"#;

    fn refuse(text: &str) -> ScenarioError {
        Scenario::parse(text, "bad.toml").expect_err("the scenario should be refused")
    }

    #[test]
    fn a_minimal_scenario_gets_defaults() {
        let s = Scenario::parse(GOOD, "good.toml").unwrap();
        let com = &s.tlds[0];
        assert_eq!(
            (com.redemption, com.pending_delete, com.auto_renew_grace),
            (Duration::days(30), Duration::days(5), Duration::days(45))
        );
        assert_eq!(com.policy, Policy::Fcfs);
        assert_eq!(s.population.sponsors, [FORMER_REGISTRAR]);
        assert_eq!(s.session_idle_timeout, Some(Duration::seconds(600)));
    }

    #[test]
    fn session_idle_timeouts_are_validated_with_their_line() {
        const REGISTRAR: &str = "\n[[registrars]]\nid = \"r\"\npassword = \"p\"\nsessions = 1\ncreates_per_second = 1\n";
        let with_limits = |value: &str| {
            format!("{GOOD}\n[limits]\nsession_idle_timeout = \"{value}\"\n{REGISTRAR}")
        };
        let s = Scenario::parse(&with_limits("0s"), "good.toml").unwrap();
        assert_eq!(s.session_idle_timeout, None, "0s: sessions never expire");
        assert_eq!(s.registrars[0].session_idle_timeout, None);
        let s = Scenario::parse(&with_limits("2m"), "good.toml").unwrap();
        assert_eq!(
            s.registrars[0].session_idle_timeout,
            Some(Duration::seconds(120))
        );

        let e = refuse(&with_limits("500ms"));
        assert_eq!(
            (e.line, e.field.as_deref()),
            (12, Some("limits.session_idle_timeout"))
        );
        assert!(e.reason.contains("at least 1s, got 500ms"), "{e}");
        assert!(e.to_string().starts_with("bad.toml:12:"), "{e}");
        let e = refuse(&with_limits("a while"));
        assert_eq!(e.line, 12, "{e}");
        assert!(e.reason.contains("invalid duration"), "{e}");

        let own = format!("{GOOD}{REGISTRAR}session_idle_timeout = \"10ms\"\n");
        let e = refuse(&own);
        assert_eq!(
            (e.line, e.field.as_deref()),
            (16, Some("registrars[0].session_idle_timeout"))
        );
    }

    #[test]
    fn unknown_schedule_kind_names_field_and_line() {
        let e = refuse(&GOOD.replace("daily-batch", "dayly"));
        assert_eq!((e.file.as_str(), e.line), ("bad.toml", 9));
        assert_eq!(e.field.as_deref(), Some("tlds[0].schedule.kind"));
        assert!(e.reason.contains("unknown schedule kind `dayly`"), "{e}");
        assert!(e.to_string().starts_with("bad.toml:9:"), "{e}");
    }

    #[test]
    fn toml_syntax_and_type_errors_carry_lines() {
        let e = refuse(&GOOD.replace("names = 3", "names = \"three\""));
        assert_eq!(e.line, 8, "{e}");
        let e = refuse(&GOOD.replace("spread = \"10m\"", "spread = \"10 parsecs\""));
        assert_eq!(e.line, 9, "{e}");
        assert!(e.reason.contains("invalid duration"), "{e}");
        let e = refuse(&format!("{GOOD}\n[[tlds]\n"));
        assert_eq!(e.line, 11, "{e}");
        let e = refuse(&GOOD.replace("names = 3", "names = 3\ncolour = \"red\""));
        assert_eq!(e.line, 9, "{e}");
        assert!(e.reason.contains("colour"), "{e}");
    }

    #[test]
    fn semantic_errors_are_refused() {
        let e = refuse(&GOOD.replace("2026-03-02T18:55:00Z", "yesterday"));
        assert_eq!((e.line, e.field.as_deref()), (4, Some("start")));
        let e = refuse(&format!("{GOOD}\n[population]\nrestore_share = 1.5\n"));
        assert_eq!(
            (e.line, e.field.as_deref()),
            (12, Some("population.restore_share"))
        );
        let e = refuse(&format!("{GOOD}\n[population]\nsponsors = [\"ghost\"]\n"));
        assert!(e.reason.contains("unknown registrar `ghost`"), "{e}");
        let rival = r#"
[[rivals]]
name = "r"
accreditations = 1
sessions = 1
creates_per_second = 1
latency = { kind = "gaussian", mean = "1ms" }
strategy = { kind = "poll", interval = "1s" }
"#;
        let e = refuse(&format!("{GOOD}{rival}"));
        assert_eq!(
            (e.line, e.field.as_deref()),
            (16, Some("rivals[0].latency.kind"))
        );
        let e = refuse(&format!("{GOOD}{}", rival.replace("gaussian", "fixed")));
        assert_eq!(e.field.as_deref(), Some("rivals[0].latency.value"), "{e}");
        let e = refuse(&GOOD.replace("spread = \"10m\"", "spread = \"10m\", order = \"by-size\""));
        assert_eq!(e.field.as_deref(), Some("tlds[0].schedule.order"));
        let e = refuse(&GOOD.replace(
            "kind = \"daily-batch\", at = \"19:00:00\", spread = \"10m\"",
            "kind = \"weekly-session\", weekday = \"funday\", at = \"11:00\", spread = \"1h\"",
        ));
        assert_eq!(e.field.as_deref(), Some("tlds[0].schedule.weekday"));
    }
}
