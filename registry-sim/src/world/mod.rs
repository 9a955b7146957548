//! The simulated registry at one virtual instant: domains and their lifecycle, the
//! pending-delete list, registrar sessions, rival catchers and the race log. `World` never
//! reads a clock: time moves only through [`World::advance_to`], and every random draw comes
//! from a stream derived from the run's seed.

mod build;
mod registrar;

pub use registrar::{CheckAnswer, CreateAnswer, CreateRequest, InfoAnswer};

use crate::epp::Code;
use crate::events::{Agenda, Event};
use crate::feed::{ChangeKind, Entry, Feed};
use crate::lifecycle::State;
use crate::limits::SessionRate;
use crate::names::{DomainName, LabelFeatures};
use crate::race::Race;
use crate::scenario::Scenario;
use crate::schedule::Reveal;
use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// When and how a listed name drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DropPlan {
    pub date: NaiveDate,
    pub release: DateTime<Utc>,
    pub reveal: Reveal,
}

#[derive(Clone, Debug)]
pub struct Domain {
    pub name: DomainName,
    /// Index into the scenario's TLDs.
    pub tld: usize,
    pub features: LabelFeatures,
    pub premium: bool,
    pub state: State,
    pub sponsor: String,
    pub auth_code: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    /// Set while the name is headed for a release (and kept after it, for the race log).
    pub drop: Option<DropPlan>,
}

#[derive(Clone, Debug)]
struct Registrar {
    id: String,
    /// `None` for rival accreditations: nobody logs in to them over gRPC.
    password: Option<String>,
    max_sessions: u32,
    creates_per_second: u32,
    catcher: String,
    /// Sessions counted against `max_sessions`. A session past its idle timeout still counts
    /// until the registry notices (at this registrar's next login or at its next use).
    open_sessions: u32,
    /// A session unused for longer than this is closed (`None`: never, as for rivals).
    idle_timeout: Option<Duration>,
    /// Last create per TLD index, for TLDs with a per-registrar create interval.
    last_create: HashMap<usize, DateTime<Utc>>,
}

#[derive(Clone, Debug)]
struct Session {
    registrar: usize,
    rate: SessionRate,
    state: SessionState,
    /// The last command on the session (its login at first), in virtual time.
    last_used: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SessionState {
    Open,
    LoggedOut,
    /// Closed by the registry after its registrar's idle timeout.
    Expired,
}

/// Counters for the status and statistics calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub creates: i64,
    pub rejected_creates: i64,
    pub drops: i64,
}

pub struct World {
    scenario: Arc<Scenario>,
    seed: u64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    domains: Vec<Domain>,
    index: HashMap<String, usize>,
    agenda: Agenda,
    feed: Feed,
    registrars: Vec<Registrar>,
    registrar_index: HashMap<String, usize>,
    sessions: Vec<Session>,
    session_tokens: HashMap<String, usize>,
    /// Per rival, its sessions (accreditation-major) as indices into `sessions`.
    rival_sessions: Vec<Vec<usize>>,
    races: BTreeMap<usize, Race>,
    /// Released names in release order.
    released: Vec<usize>,
    counters: Counters,
    token_rng: ChaCha8Rng,
}

impl World {
    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.index.get(name).map(|i| &self.domains[*i])
    }

    /// Every domain of the population, in generation order (for tests and tools).
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    pub fn pending_events(&self) -> usize {
        self.agenda.len()
    }

    /// Runs every event due up to and including `until`, in arrival order, then sets the
    /// clock to `until`. Moving backwards is a no-op: virtual time never rewinds.
    pub fn advance_to(&mut self, until: DateTime<Utc>) {
        while let Some((at, event)) = self.agenda.pop_due(until) {
            self.now = self.now.max(at);
            self.handle(at, event);
        }
        self.now = self.now.max(until);
    }

    fn handle(&mut self, at: DateTime<Utc>, event: Event) {
        match event {
            Event::Delete(i) => {
                if self.domains[i].state == State::AutoRenewGrace {
                    self.domains[i].state = State::Redemption;
                    self.list(i, at);
                }
            }
            Event::EnterPendingDelete(i) => {
                if self.domains[i].state == State::Redemption {
                    self.domains[i].state = State::PendingDelete;
                }
            }
            Event::RegistrantRestore(i) => {
                if self.domains[i].state == State::Redemption {
                    self.restore(i, at);
                }
            }
            Event::PrepareRace(i) => self.prepare_race(i),
            Event::Release(i) => self.release(i, at),
            Event::RivalCreate { domain, session } => {
                let name = self.domains[domain].name.clone();
                let tld = &self.scenario.tlds[self.domains[domain].tld];
                // Rivals know the registry's rules and always send the required extensions.
                let extensions = tld
                    .required_extensions
                    .iter()
                    .map(|k| (k.clone(), "rival".to_string()))
                    .collect();
                let request = CreateRequest {
                    period_years: 1,
                    auth_code: None,
                    extensions,
                };
                self.create_as(session, &name, at, &request);
            }
        }
    }

    fn list(&mut self, i: usize, at: DateTime<Utc>) {
        let domain = &self.domains[i];
        if let Some(plan) = domain.drop {
            let entry = Entry {
                domain: domain.name.to_string(),
                tld: self.scenario.tlds[domain.tld].name.clone(),
                reveal: plan.reveal,
            };
            self.feed.add(entry, at);
        }
    }

    fn restore(&mut self, i: usize, at: DateTime<Utc>) {
        let domain = &mut self.domains[i];
        domain.state = State::Registered;
        domain.drop = None;
        // A restore renews: the registrant paid for another year from the old expiry.
        domain.expires = domain
            .expires
            .max(at)
            .checked_add_months(Months::new(12))
            .unwrap_or(domain.expires);
        let name = domain.name.to_string();
        self.feed.take(&name, ChangeKind::Removed, at);
    }

    fn prepare_race(&mut self, i: usize) {
        let domain = &self.domains[i];
        let Some(plan) = domain.drop else { return };
        if !matches!(domain.state, State::PendingDelete | State::Redemption) {
            return;
        }
        let tld = self.scenario.tlds[domain.tld].name.clone();
        let mut arrivals = Vec::new();
        for (r, rival) in self.scenario.rivals.iter().enumerate() {
            let mut rng = crate::rng::derive(
                self.seed,
                &[
                    b"rival",
                    rival.name.as_bytes(),
                    domain.name.as_str().as_bytes(),
                ],
            );
            for planned in rival.plan(&tld, &domain.features, plan.release, &plan.reveal, &mut rng)
            {
                let session = self.rival_sessions[r][planned.session as usize];
                // A plan made late (a name dropping right at the start) cannot reach back in time.
                arrivals.push((
                    planned.arrival.max(self.now),
                    Event::RivalCreate { domain: i, session },
                ));
            }
        }
        for (at, event) in arrivals {
            self.agenda.schedule(at, event);
        }
    }

    fn release(&mut self, i: usize, at: DateTime<Utc>) {
        let domain = &mut self.domains[i];
        let Some(plan) = domain.drop else { return };
        if domain.state != State::PendingDelete || plan.release != at {
            return;
        }
        domain.state = State::Available;
        let name = domain.name.to_string();
        self.feed.take(&name, ChangeKind::Dropped, at);
        self.races
            .entry(i)
            .or_insert_with(|| Race::new(name, plan.release));
        self.released.push(i);
        self.counters.drops += 1;
    }

    /// The per-drop race log, in release order, optionally only for some TLDs.
    pub fn races(&self, tlds: &[String]) -> Vec<&Race> {
        self.released
            .iter()
            .filter(|i| {
                tlds.is_empty() || tlds.contains(&self.scenario.tlds[self.domains[**i].tld].name)
            })
            .filter_map(|i| self.races.get(i))
            .collect()
    }

    /// The race log as text, one line per drop: byte-identical for identical runs.
    pub fn race_log(&self) -> String {
        self.races(&[])
            .iter()
            .map(|r| r.log_line() + "\n")
            .collect()
    }

    fn catcher_of(&self, session: usize) -> (&str, &str) {
        let registrar = &self.registrars[self.sessions[session].registrar];
        (&registrar.catcher, &registrar.id)
    }
}

/// The expiry after `years` years (EPP periods are whole years here).
fn add_years(from: DateTime<Utc>, years: u32) -> DateTime<Utc> {
    from.checked_add_months(Months::new(12 * years))
        .unwrap_or(from + Duration::days(365 * i64::from(years)))
}

/// A refusal with its EPP code; short because every command has several.
fn refused(code: Code, message: impl Into<String>) -> crate::epp::Outcome {
    crate::epp::Outcome::new(code, message)
}

#[cfg(test)]
mod tests;
