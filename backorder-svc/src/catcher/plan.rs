//! The catch plan of one drop, as a pure state machine advanced once per catcher step (no
//! I/O, no clock reads: the step passes `now` and the registry's answers in).
//!
//! - Before the expected release (`drop_time`) nothing happens: a create on a name that still
//!   exists is refused and penalizes the session.
//! - An exact release time gets a create at that very instant (within `DIRECT_FIRE`), without
//!   a Check first; a window (or a missed instant) is Check-polled every step, and a create
//!   goes out in the step that sees the name available.
//! - Every create is written ahead (the runner commits it before sending). A create whose
//!   answer is unknown (lost on the network, or sent by a process that crashed) leaves the
//!   drop open until the registry's Info says who holds the name: ours is CAUGHT, whoever's
//!   process sent the create.
//! - Decisions: a create that wins is CAUGHT at once; a name in use is NOT_CAUGHT only once
//!   Info names a holder that is not one of our accreditations; still pending delete at
//!   `deadline` (the window's end, or the exact time, plus the grace) is NOT_DROPPED. A create
//!   refused for policy (2306, 2005) will never succeed: NOT_CAUGHT. With the registry out of
//!   reach at the deadline, a drop without unanswered creates is decided from what was seen
//!   (orders are never held forever); one with unanswered creates waits for the registry.
//! - A create answered "exists" or "rate limited" decides nothing: the next Check does.

use super::registry::{Availability, Capacity, CreateResult, Holder};
use crate::store::catching::{CatchOutcome, CatchReport, CatchTarget};
use chrono::{DateTime, Duration, Utc};

/// How late after an exact release a first create is still sent without a Check (a step
/// that comes later, e.g. after a restart, checks first: the name may be taken already).
pub const DIRECT_FIRE: Duration = Duration::seconds(2);

/// What a plan wants from the registry in this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Wait,
    Check,
    Create,
    /// Ask who holds the name (Info) before deciding anything.
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: CatchTarget,
    grace: Duration,
    attempts: u32,
    first_attempt_at: Option<DateTime<Utc>>,
    release_seen_at: Option<DateTime<Utc>>,
    fired_at_release: bool,
    /// Creates sent whose answer is unknown: one of them may have won.
    unanswered: u32,
    /// A Check answered "in use": NOT_CAUGHT once Info confirms the holder is not us.
    seen_registered: bool,
    outcome: Option<CatchOutcome>,
}

impl Plan {
    /// A plan resumes from the creates written ahead for the drop (a restart, another
    /// process): their count, the first one's time, and those still without an answer.
    pub fn new(target: CatchTarget, grace: Duration) -> Self {
        let history = target.attempts;
        Self {
            target,
            grace,
            attempts: history.sent,
            first_attempt_at: history.first_sent_at,
            release_seen_at: None,
            fired_at_release: history.sent > 0,
            unanswered: history.unanswered,
            seen_registered: false,
            outcome: None,
        }
    }

    /// Creates sent whose answer is unknown.
    pub fn unanswered(&self) -> u32 {
        self.unanswered
    }

    /// The list gives the exact release time (not a window).
    pub fn is_exact(&self) -> bool {
        self.target.window_end.is_none()
    }

    /// Still pending delete at this moment: the name did not drop.
    pub fn deadline(&self) -> DateTime<Utc> {
        // Saturates at the end of time rather than panicking on an absurd grace or list time.
        self.target
            .window_end
            .unwrap_or(self.target.drop_time)
            .checked_add_signed(self.grace)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    pub fn is_decided(&self) -> bool {
        self.outcome.is_some()
    }

    /// What to do at `now`, before asking the registry anything. Daily-deal-only targets
    /// have their release in the past, so they are checked at once like any late target.
    pub fn begin_step(&mut self, now: DateTime<Utc>) -> Action {
        if self.is_decided() {
            return Action::Wait;
        }
        if self.unanswered > 0 {
            return Action::Info;
        }
        if now < self.target.drop_time {
            return Action::Wait;
        }
        if self.is_exact()
            && !self.fired_at_release
            && !self.target.daily_deals_only
            && now - self.target.drop_time < DIRECT_FIRE
        {
            self.fired_at_release = true;
            return Action::Create;
        }
        Action::Check
    }

    /// The registry's Check answer at `now`.
    pub fn checked(&mut self, availability: &Availability, now: DateTime<Utc>) -> Action {
        if self.is_decided() {
            return Action::Wait;
        }
        match availability {
            Availability::Available => {
                self.release_seen_at.get_or_insert(now);
                Action::Create
            }
            Availability::Registered => {
                // Someone has it; whether that someone is us (a create of another process,
                // or one whose answer was lost) only Info can tell.
                self.seen_registered = true;
                Action::Info
            }
            Availability::PendingDelete | Availability::NotAllowed(_) => {
                if now >= self.deadline() {
                    self.outcome = Some(CatchOutcome::NotDropped);
                }
                Action::Wait
            }
        }
    }

    /// A create this plan sent at `now`, and how it ended.
    pub fn created(&mut self, result: &CreateResult, now: DateTime<Utc>) {
        self.attempts += 1;
        self.first_attempt_at.get_or_insert(now);
        match result {
            CreateResult::Won {
                registrar,
                auth_code,
                registered_at,
            } => {
                // A won create is the registry saying "available" too.
                self.release_seen_at.get_or_insert(*registered_at);
                self.outcome = Some(CatchOutcome::Caught {
                    registrar: registrar.clone(),
                    auth_code: auth_code.clone(),
                    registered_at: *registered_at,
                });
            }
            CreateResult::Refused { .. } => self.outcome = Some(CatchOutcome::NotCaught),
            CreateResult::Exists | CreateResult::RateLimited => {}
        }
    }

    /// A create this plan sent at `now` whose answer never came (lost on the network): it
    /// may have won, so the registry is asked who holds the name before anything else.
    pub fn sent_unanswered(&mut self, now: DateTime<Utc>) {
        self.attempts += 1;
        self.first_attempt_at.get_or_insert(now);
        self.fired_at_release = true;
        self.unanswered += 1;
    }

    /// The registry's Info answer: who holds the name at `now`. The caller has settled the
    /// unanswered creates in the store before telling the plan.
    pub fn held(&mut self, holder: &Holder, now: DateTime<Utc>) {
        if self.is_decided() {
            return;
        }
        self.unanswered = 0;
        match holder {
            // Registered at or after this drop's time by one of ours: our create won.
            Holder::Ours {
                registrar,
                auth_code,
                registered_at,
            } if *registered_at >= self.target.drop_time => {
                self.release_seen_at.get_or_insert(*registered_at);
                self.outcome = Some(CatchOutcome::Caught {
                    registrar: registrar.clone(),
                    auth_code: auth_code.clone(),
                    registered_at: *registered_at,
                });
            }
            Holder::Ours { .. } | Holder::Other { .. } => {
                self.outcome = Some(CatchOutcome::NotCaught);
            }
            // Nobody holds it: no create of ours took effect. Go on as before.
            Holder::Nobody => {
                self.seen_registered = false;
                if now >= self.deadline() && self.release_seen_at.is_none() {
                    self.outcome = Some(CatchOutcome::NotDropped);
                }
            }
        }
    }

    /// The registry could not be asked at `now`. Past the deadline a drop without unanswered
    /// creates is decided from what was seen, so its orders are not held forever: a name
    /// seen released or taken is NOT_CAUGHT, one never seen released NOT_DROPPED. With a
    /// create unanswered nothing is decided: it may have won.
    pub fn registry_unreachable(&mut self, now: DateTime<Utc>) {
        if self.is_decided() || self.unanswered > 0 || now < self.deadline() {
            return;
        }
        self.outcome = Some(if self.seen_registered || self.release_seen_at.is_some() {
            CatchOutcome::NotCaught
        } else {
            CatchOutcome::NotDropped
        });
    }

    /// The store refused the decided result: `unanswered` creates of this drop have no
    /// answer there (e.g. the answers were not saved). Ask the registry again.
    pub fn reopen(&mut self, unanswered: u32) {
        if !matches!(self.outcome, Some(CatchOutcome::Caught { .. })) {
            self.outcome = None;
            self.unanswered = self.unanswered.max(unanswered).max(1);
        }
    }

    /// The result to record, once decided.
    pub fn report(&self) -> Option<CatchReport> {
        Some(CatchReport {
            domain: self.target.domain.clone(),
            drop_time: self.target.drop_time,
            outcome: self.outcome.clone()?,
            attempts: self.attempts,
            first_attempt_at: self.first_attempt_at,
            release_seen_at: self.release_seen_at,
        })
    }
}

/// Spreads `wanted` creates (in priority order) over the accreditations' free creates: each
/// goes to the accreditation with the most room left; ties go to the next one in turn
/// (`turn`, kept by the caller across steps), so accreditations take turns even when one
/// create a step leaves them all equal. `None` for a create that finds no room: it waits
/// for a later step.
pub fn assign(wanted: usize, capacity: &[Capacity], turn: &mut usize) -> Vec<Option<String>> {
    let mut free: Vec<u32> = capacity.iter().map(|c| c.free).collect();
    let n = free.len();
    (0..wanted)
        .map(|_| {
            let mut best: Option<usize> = None;
            for i in (0..n).map(|k| (*turn + k) % n) {
                if free[i] > 0 && best.is_none_or(|b| free[i] > free[b]) {
                    best = Some(i);
                }
            }
            let best = best?;
            free[best] -= 1;
            *turn = (best + 1) % n;
            Some(capacity[best].registrar.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::catching::AttemptHistory;
    use std::collections::BTreeMap;

    fn at(text: &str) -> DateTime<Utc> {
        format!("2026-03-02T{text}Z").parse().unwrap()
    }

    fn target(drop: &str, window_end: Option<&str>) -> CatchTarget {
        CatchTarget {
            domain: "name.com".into(),
            tld: "com".into(),
            drop_time: at(drop),
            window_end: window_end.map(at),
            extensions: BTreeMap::new(),
            daily_deals_only: false,
            attempts: AttemptHistory::default(),
        }
    }

    fn someone_else() -> Holder {
        Holder::Other {
            registrar: "rival-1".into(),
        }
    }

    fn ours(time: &str) -> Holder {
        Holder::Ours {
            registrar: "ours-2".into(),
            auth_code: "code".into(),
            registered_at: at(time),
        }
    }

    fn plan(drop: &str, window_end: Option<&str>) -> Plan {
        Plan::new(target(drop, window_end), Duration::hours(1))
    }

    fn won(time: &str) -> CreateResult {
        CreateResult::Won {
            registrar: "ours-1".into(),
            auth_code: "code".into(),
            registered_at: at(time),
        }
    }

    #[test]
    fn nothing_before_the_release() {
        let mut exact = plan("19:01:35", None);
        assert_eq!(exact.begin_step(at("19:01:34")), Action::Wait);
        let mut window = plan("19:00:00", Some("19:10:00"));
        assert_eq!(window.begin_step(at("18:59:59")), Action::Wait);
        assert_eq!(window.attempts, 0);
    }

    #[test]
    fn exact_time_fires_at_once_and_wins() {
        let mut p = plan("19:01:35", None);
        assert_eq!(p.begin_step(at("19:01:35")), Action::Create);
        p.created(&won("19:01:35"), at("19:01:35"));
        let report = p.report().unwrap();
        assert_eq!(report.attempts, 1);
        assert_eq!(report.first_attempt_at, Some(at("19:01:35")));
        assert_eq!(report.release_seen_at, Some(at("19:01:35")));
        assert!(
            matches!(report.outcome, CatchOutcome::Caught { ref registrar, .. } if registrar == "ours-1")
        );
        assert_eq!(p.begin_step(at("19:01:36")), Action::Wait, "decided: stop");
    }

    #[test]
    fn exact_time_not_yet_released_falls_back_to_checks() {
        let mut p = plan("19:01:35", None);
        assert_eq!(p.begin_step(at("19:01:35")), Action::Create);
        p.created(&CreateResult::Exists, at("19:01:35"));
        assert!(!p.is_decided(), "exists at the instant decides nothing");
        assert_eq!(p.begin_step(at("19:01:36")), Action::Check);
        assert_eq!(
            p.checked(&Availability::PendingDelete, at("19:01:36")),
            Action::Wait
        );
        assert_eq!(p.begin_step(at("19:01:37")), Action::Check);
        assert_eq!(
            p.checked(&Availability::Available, at("19:01:37")),
            Action::Create
        );
        p.created(&won("19:01:37"), at("19:01:37"));
        let report = p.report().unwrap();
        assert_eq!(report.attempts, 2);
        assert_eq!(report.first_attempt_at, Some(at("19:01:35")));
        assert_eq!(report.release_seen_at, Some(at("19:01:37")));
    }

    #[test]
    fn a_late_first_step_on_an_exact_time_checks_first() {
        let mut p = plan("19:01:35", None);
        assert_eq!(p.begin_step(at("19:01:40")), Action::Check);
        assert_eq!(
            p.checked(&Availability::Registered, at("19:01:40")),
            Action::Info,
            "in use: ask who holds it before deciding"
        );
        assert!(!p.is_decided());
        p.held(&someone_else(), at("19:01:40"));
        let report = p.report().unwrap();
        assert_eq!(report.outcome, CatchOutcome::NotCaught);
        assert_eq!((report.attempts, report.first_attempt_at), (0, None));
    }

    #[test]
    fn window_is_polled_and_lost_to_a_rival() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        assert_eq!(
            p.begin_step(at("19:00:00")),
            Action::Check,
            "no blind create"
        );
        p.checked(&Availability::PendingDelete, at("19:00:00"));
        assert_eq!(p.begin_step(at("19:03:00")), Action::Check);
        assert_eq!(
            p.checked(&Availability::Available, at("19:03:00")),
            Action::Create
        );
        p.created(&CreateResult::Exists, at("19:03:00"));
        assert_eq!(p.begin_step(at("19:03:01")), Action::Check);
        assert_eq!(
            p.checked(&Availability::Registered, at("19:03:01")),
            Action::Info
        );
        p.held(&someone_else(), at("19:03:01"));
        let report = p.report().unwrap();
        assert_eq!(report.outcome, CatchOutcome::NotCaught);
        assert_eq!(report.attempts, 1);
        assert_eq!(report.release_seen_at, Some(at("19:03:00")));
    }

    #[test]
    fn rate_limited_creates_are_retried_on_the_next_sighting() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        p.begin_step(at("19:02:00"));
        p.checked(&Availability::Available, at("19:02:00"));
        p.created(&CreateResult::RateLimited, at("19:02:00"));
        assert!(!p.is_decided());
        p.begin_step(at("19:02:01"));
        assert_eq!(
            p.checked(&Availability::Available, at("19:02:01")),
            Action::Create
        );
        p.created(&won("19:02:01"), at("19:02:01"));
        let report = p.report().unwrap();
        assert_eq!(report.release_seen_at, Some(at("19:02:00")));
        assert_eq!(report.attempts, 2);
    }

    #[test]
    fn not_dropped_after_window_end_plus_grace() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        p.begin_step(at("20:09:59"));
        p.checked(&Availability::PendingDelete, at("20:09:59"));
        assert!(!p.is_decided());
        p.begin_step(at("20:10:00"));
        p.checked(&Availability::PendingDelete, at("20:10:00"));
        assert_eq!(p.report().unwrap().outcome, CatchOutcome::NotDropped);

        let mut exact = plan("19:01:35", None);
        assert_eq!(exact.deadline(), at("20:01:35"));
        exact.begin_step(at("20:01:35"));
        exact.checked(&Availability::NotAllowed("reserved".into()), at("20:01:35"));
        assert_eq!(exact.report().unwrap().outcome, CatchOutcome::NotDropped);
    }

    #[test]
    fn available_after_the_deadline_is_still_tried() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        p.begin_step(at("21:00:00"));
        assert_eq!(
            p.checked(&Availability::Available, at("21:00:00")),
            Action::Create
        );
        assert!(!p.is_decided());
    }

    #[test]
    fn daily_deals_with_a_past_release_are_checked_at_once() {
        let mut t = target("19:01:35", None);
        t.daily_deals_only = true;
        let mut p = Plan::new(t, Duration::hours(1));
        assert_eq!(p.begin_step(at("19:01:35")), Action::Check);
        assert_eq!(
            p.checked(&Availability::Available, at("19:01:35")),
            Action::Create
        );
    }

    #[test]
    fn policy_refusals_end_the_plan() {
        let mut p = plan("19:01:35", None);
        p.begin_step(at("19:01:35"));
        p.created(
            &CreateResult::Refused {
                code: 2306,
                message: "requires the extension".into(),
            },
            at("19:01:35"),
        );
        assert_eq!(p.report().unwrap().outcome, CatchOutcome::NotCaught);
    }

    #[test]
    fn a_lost_create_answer_is_reconciled_by_info_and_can_be_ours() {
        let mut p = plan("19:01:35", None);
        assert_eq!(p.begin_step(at("19:01:35")), Action::Create);
        p.sent_unanswered(at("19:01:35"));
        assert!(!p.is_decided());
        assert_eq!(p.begin_step(at("19:01:36")), Action::Info, "no Check first");
        p.held(&ours("19:01:35"), at("19:01:36"));
        let report = p.report().unwrap();
        assert!(matches!(
            report.outcome,
            CatchOutcome::Caught { ref registrar, .. } if registrar == "ours-2"
        ));
        assert_eq!(report.attempts, 1);
        assert_eq!(report.release_seen_at, Some(at("19:01:35")));
    }

    #[test]
    fn a_restarted_plan_asks_before_anything_even_in_use() {
        // A crash between our winning create and the commit of its result: the restarted
        // plan finds one unanswered attempt and a name in use.
        let mut t = target("19:01:35", None);
        t.attempts = AttemptHistory {
            sent: 1,
            first_sent_at: Some(at("19:01:35")),
            unanswered: 1,
        };
        let mut p = Plan::new(t, Duration::hours(1));
        assert_eq!(p.begin_step(at("19:01:37")), Action::Info);
        p.held(&ours("19:01:35"), at("19:01:37"));
        let report = p.report().unwrap();
        assert!(matches!(report.outcome, CatchOutcome::Caught { .. }));
        assert_eq!(report.first_attempt_at, Some(at("19:01:35")));
    }

    #[test]
    fn a_create_that_had_no_effect_goes_back_to_polling_without_a_second_blind_create() {
        let mut t = target("19:01:35", None);
        t.attempts = AttemptHistory {
            sent: 1,
            first_sent_at: Some(at("19:01:35")),
            unanswered: 1,
        };
        let mut p = Plan::new(t, Duration::hours(1));
        assert_eq!(p.begin_step(at("19:01:35")), Action::Info);
        p.held(&Holder::Nobody, at("19:01:35"));
        assert!(!p.is_decided());
        assert_eq!(p.begin_step(at("19:01:36")), Action::Check);
    }

    #[test]
    fn an_old_registration_of_ours_is_not_this_drops_catch() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        p.begin_step(at("19:05:00"));
        p.checked(&Availability::Registered, at("19:05:00"));
        p.held(&ours("18:00:00"), at("19:05:00"));
        assert_eq!(p.report().unwrap().outcome, CatchOutcome::NotCaught);
    }

    #[test]
    fn out_of_reach_at_the_deadline_decides_only_without_unanswered_creates() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        p.registry_unreachable(at("20:09:59"));
        assert!(!p.is_decided(), "before the deadline: keep trying");
        p.registry_unreachable(at("20:10:00"));
        assert_eq!(p.report().unwrap().outcome, CatchOutcome::NotDropped);

        let mut seen = plan("19:00:00", Some("19:10:00"));
        seen.begin_step(at("19:02:00"));
        seen.checked(&Availability::Available, at("19:02:00"));
        seen.registry_unreachable(at("21:00:00"));
        assert_eq!(seen.report().unwrap().outcome, CatchOutcome::NotCaught);

        let mut open = plan("19:00:00", Some("19:10:00"));
        open.begin_step(at("19:02:00"));
        open.checked(&Availability::Available, at("19:02:00"));
        open.sent_unanswered(at("19:02:00"));
        open.registry_unreachable(at("23:00:00"));
        assert!(
            !open.is_decided(),
            "a create without an answer may have won"
        );
        assert_eq!(open.begin_step(at("23:00:01")), Action::Info);
    }

    #[test]
    fn a_refused_record_reopens_the_question() {
        let mut p = plan("19:00:00", Some("19:10:00"));
        p.begin_step(at("19:02:00"));
        p.checked(&Availability::Registered, at("19:02:00"));
        p.held(&someone_else(), at("19:02:00"));
        assert!(p.is_decided());
        p.reopen(2);
        assert!(!p.is_decided());
        assert_eq!(p.begin_step(at("19:02:01")), Action::Info);
    }

    #[test]
    fn absurd_times_do_not_panic() {
        let mut p = Plan::new(target("19:00:00", None), Duration::MAX);
        assert_eq!(p.deadline(), DateTime::<Utc>::MAX_UTC);
        let mut far = target("19:00:00", None);
        far.drop_time = DateTime::<Utc>::MAX_UTC;
        let mut q = Plan::new(far, Duration::hours(1));
        assert_eq!(q.begin_step(DateTime::<Utc>::MIN_UTC), Action::Wait);
        assert_eq!(q.begin_step(DateTime::<Utc>::MAX_UTC), Action::Create);
        p.registry_unreachable(DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn creates_spread_over_accreditations_within_their_room() {
        let capacity = vec![
            Capacity {
                registrar: "a".into(),
                free: 2,
            },
            Capacity {
                registrar: "b".into(),
                free: 1,
            },
            Capacity {
                registrar: "c".into(),
                free: 0,
            },
        ];
        let mut turn = 0;
        let assigned = assign(5, &capacity, &mut turn);
        assert_eq!(
            assigned,
            vec![
                Some("a".into()),
                Some("b".into()),
                Some("a".into()),
                None,
                None
            ]
        );
        let even = [
            Capacity {
                registrar: "a".into(),
                free: 2,
            },
            Capacity {
                registrar: "b".into(),
                free: 2,
            },
        ];
        let mut turn = 0;
        // One create a step: the accreditations take turns.
        let steps: Vec<_> = (0..3).map(|_| assign(1, &even, &mut turn)).collect();
        assert_eq!(
            steps,
            vec![
                vec![Some("a".into())],
                vec![Some("b".into())],
                vec![Some("a".into())]
            ]
        );
        assert!(assign(1, &[], &mut turn).iter().all(Option::is_none));
    }
}
