//! Protobuf time types at the edge.

use chrono::{DateTime, Duration, Utc};

pub fn from_pb(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

pub fn to_pb(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn duration_pb(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: duration.num_seconds(),
        nanos: duration.subsec_nanos(),
    }
}

pub fn duration_from_pb(duration: Option<&prost_types::Duration>) -> Option<Duration> {
    let d = duration?;
    Some(Duration::seconds(d.seconds) + Duration::nanoseconds(i64::from(d.nanos)))
}

/// The next `hour`:00 UTC strictly after `time` (auctions start at the next 20:00).
pub fn next_hour_of_day(time: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    let day = time.date_naive();
    let today = day.and_hms_opt(hour, 0, 0).expect("a valid hour").and_utc();
    if today > time {
        today
    } else {
        today + Duration::days(1)
    }
}
