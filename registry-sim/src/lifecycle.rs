//! Domain states of the gTLD lifecycle with the Redemption Grace Period (RFC 3915), and how
//! they show in EPP `info` answers.

use chrono::{DateTime, Duration, Utc};

/// The add grace period after a create (RFC 3915 `addPeriod`).
pub const ADD_GRACE: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Registered,
    /// Expired; the sponsor may still renew or delete it.
    AutoRenewGrace,
    /// Deleted; the sponsor may restore it.
    Redemption,
    /// Past redemption; waits for its release, no restore.
    PendingDelete,
    /// Released and not yet registered again.
    Available,
}

impl State {
    /// Whether the domain object exists at the registry (creates answer 2302).
    pub fn exists(self) -> bool {
        self != State::Available
    }

    /// Whether the name is on the public pending-delete list.
    pub fn listed(self) -> bool {
        matches!(self, State::Redemption | State::PendingDelete)
    }

    /// EPP status values (RFC 5731) shown by `info`.
    pub fn epp_statuses(self) -> Vec<&'static str> {
        match self {
            State::Registered | State::AutoRenewGrace => vec!["ok"],
            State::Redemption | State::PendingDelete => vec!["pendingDelete"],
            State::Available => Vec::new(),
        }
    }

    /// RGP status (RFC 3915 `rgp:rgpStatus`), empty when no grace period applies.
    pub fn rgp_status(self, created: DateTime<Utc>, now: DateTime<Utc>) -> &'static str {
        match self {
            State::Registered if now < created + Duration::days(ADD_GRACE) => "addPeriod",
            State::Registered | State::Available => "",
            State::AutoRenewGrace => "autoRenewPeriod",
            State::Redemption => "redemptionPeriod",
            State::PendingDelete => "pendingDelete",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgp_statuses_follow_rfc_3915() {
        let t = DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            State::Registered.rgp_status(t, t + Duration::days(1)),
            "addPeriod"
        );
        assert_eq!(State::Registered.rgp_status(t, t + Duration::days(6)), "");
        assert_eq!(State::AutoRenewGrace.rgp_status(t, t), "autoRenewPeriod");
        assert_eq!(State::Redemption.rgp_status(t, t), "redemptionPeriod");
        assert_eq!(State::PendingDelete.rgp_status(t, t), "pendingDelete");
        assert!(
            State::Redemption.listed()
                && State::PendingDelete.listed()
                && !State::Registered.listed()
        );
        assert!(!State::Available.exists());
    }
}
