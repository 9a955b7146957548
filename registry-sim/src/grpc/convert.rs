//! Conversions between the simulator's types and the wire types, in one place.

use crate::api;
use crate::clock::ClockMode;
use crate::epp::{Code, Outcome};
use crate::feed::{Change, ChangeKind, Entry};
use crate::race::Race;
use crate::schedule::Precision;
use crate::sim::SimError;
use chrono::{DateTime, Duration, Utc};
use tonic::Status;

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: time.timestamp_subsec_nanos() as i32,
    }
}

pub fn from_timestamp(
    field: &str,
    ts: Option<prost_types::Timestamp>,
) -> Result<DateTime<Utc>, Status> {
    let ts = ts.ok_or_else(|| Status::invalid_argument(format!("{field}: required")))?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).unwrap_or(0))
        .ok_or_else(|| Status::invalid_argument(format!("{field}: out of range")))
}

pub fn duration(d: Duration) -> prost_types::Duration {
    let micros = d.num_microseconds().unwrap_or(i64::MAX);
    prost_types::Duration {
        seconds: micros / 1_000_000,
        nanos: ((micros % 1_000_000) * 1_000) as i32,
    }
}

pub fn from_duration(
    field: &str,
    d: Option<prost_types::Duration>,
) -> Result<Option<Duration>, Status> {
    match d {
        None => Ok(None),
        Some(d) => Duration::try_seconds(d.seconds)
            .map(|s| Some(s + Duration::nanoseconds(i64::from(d.nanos))))
            .ok_or_else(|| Status::invalid_argument(format!("{field}: out of range"))),
    }
}

pub fn result(outcome: &Outcome) -> Option<api::Result> {
    let code = match outcome.code {
        Code::Ok => api::ResultCode::Ok,
        Code::SyntaxError => api::ResultCode::SyntaxError,
        Code::AuthorizationError => api::ResultCode::AuthorizationError,
        Code::ObjectExists => api::ResultCode::ObjectExists,
        Code::ObjectDoesNotExist => api::ResultCode::ObjectDoesNotExist,
        Code::ParameterPolicyError => api::ResultCode::ParameterPolicyError,
        Code::SessionLimitExceeded => api::ResultCode::SessionLimitExceeded,
    };
    Some(api::Result {
        code: code as i32,
        message: outcome.message.clone(),
    })
}

pub fn precision(p: Precision) -> api::DropTimePrecision {
    match p {
        Precision::Exact => api::DropTimePrecision::Exact,
        Precision::Window => api::DropTimePrecision::Window,
        Precision::Day => api::DropTimePrecision::Day,
    }
}

pub fn entry(e: &Entry) -> api::PendingDelete {
    api::PendingDelete {
        domain: e.domain.clone(),
        tld: e.tld.clone(),
        drop_time: Some(timestamp(e.reveal.drop_time)),
        drop_window_end: Some(timestamp(e.reveal.window_end)),
        precision: precision(e.reveal.precision) as i32,
    }
}

pub fn change(c: &Change) -> api::PendingDeleteChange {
    let kind = match c.kind {
        ChangeKind::Added => api::ChangeKind::Added,
        ChangeKind::Removed => api::ChangeKind::Removed,
        ChangeKind::Dropped => api::ChangeKind::Dropped,
    };
    api::PendingDeleteChange {
        sequence: c.sequence,
        kind: kind as i32,
        entry: Some(entry(&c.entry)),
        time: Some(timestamp(c.time)),
    }
}

pub fn clock_mode(mode: ClockMode) -> api::ClockMode {
    match mode {
        ClockMode::Manual => api::ClockMode::Manual,
        ClockMode::System => api::ClockMode::System,
        ClockMode::Accelerated(_) => api::ClockMode::Accelerated,
    }
}

pub fn drop_record(race: &Race, tld: &str) -> api::DropRecord {
    api::DropRecord {
        domain: race.domain.clone(),
        release_time: Some(timestamp(race.release)),
        winner: race
            .winner
            .as_ref()
            .map(|w| w.catcher.clone())
            .unwrap_or_default(),
        winner_registrar: race
            .winner
            .as_ref()
            .map(|w| w.registrar.clone())
            .unwrap_or_default(),
        win_time: race.winner.as_ref().map(|w| timestamp(w.at)),
        winning_margin: race.winning_margin().map(duration),
        attempts: race
            .catchers
            .iter()
            .map(|(catcher, a)| api::CatcherAttempts {
                catcher: catcher.clone(),
                attempts: a.attempts as i32,
                first_arrival_after_release: a
                    .first_after_release
                    .map(|t| duration(t - race.release)),
                early_attempts: a.early as i32,
                limited_attempts: a.limited as i32,
            })
            .collect(),
        tld: tld.to_string(),
    }
}

pub fn sim_error(e: SimError) -> Status {
    match e {
        SimError::NotManual(_) => Status::failed_precondition(e.to_string()),
        SimError::InvalidArgument(_) | SimError::Scenario(_) => {
            Status::invalid_argument(e.to_string())
        }
    }
}
