//! Builds a world from a scenario and a seed: generates the population, plans every drop and
//! puts the lifecycle events on the agenda.

use super::{Domain, DropPlan, Registrar, Session, SessionState, World};
use crate::events::{Agenda, Event};
use crate::feed::Feed;
use crate::lifecycle::State;
use crate::limits::SessionRate;
use crate::names::DomainName;
use crate::population::generate_labels;
use crate::rng::derive;
use crate::scenario::{Scenario, TldConfig};
use crate::schedule::DropName;
use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A generated name before its drop is planned.
struct Draft {
    name: DomainName,
    tld: usize,
    sponsor: String,
    /// `Some((deleted_at, restore_at))` for names the registrant will restore.
    restore: Option<(DateTime<Utc>, DateTime<Utc>)>,
    session: u32,
    /// Seconds between expiry and deletion (inside the auto-renew grace).
    grace_used: i64,
    registered_years: u32,
}

fn random_between(rng: &mut impl Rng, from: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    let micros = span.num_microseconds().unwrap_or(0).max(1);
    from + Duration::microseconds(rng.random_range(0..micros))
}

pub(super) fn auth_code(seed: u64, domain: &str, generation: u32) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = derive(
        seed,
        &[b"auth", domain.as_bytes(), &generation.to_le_bytes()],
    );
    (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

impl World {
    /// A fresh world at the scenario's start (or at `start` when given, for the system clock).
    pub fn new(scenario: Arc<Scenario>, seed: u64, start: Option<DateTime<Utc>>) -> World {
        let start = start.unwrap_or(scenario.start);
        let mut world = World {
            seed,
            start,
            now: start,
            domains: Vec::new(),
            index: HashMap::new(),
            agenda: Agenda::default(),
            feed: Feed::default(),
            registrars: Vec::new(),
            registrar_index: HashMap::new(),
            sessions: Vec::new(),
            session_tokens: HashMap::new(),
            rival_sessions: Vec::new(),
            races: BTreeMap::new(),
            released: Vec::new(),
            counters: Default::default(),
            token_rng: derive(seed, &[b"session-tokens"]),
            scenario,
        };
        world.add_registrars();
        let drafts = world.draft_population();
        world.plan_population(drafts);
        world
    }

    fn add_registrars(&mut self) {
        let scenario = Arc::clone(&self.scenario);
        for r in &scenario.registrars {
            self.push_registrar(Registrar {
                id: r.id.clone(),
                password: Some(r.password.clone()),
                max_sessions: r.sessions,
                creates_per_second: r.creates_per_second,
                catcher: r.catcher.clone(),
                open_sessions: 0,
                idle_timeout: r.session_idle_timeout,
                last_create: HashMap::new(),
            });
        }
        for rival in &scenario.rivals {
            let mut sessions = Vec::new();
            for id in &rival.accreditations {
                let registrar = self.push_registrar(Registrar {
                    id: id.clone(),
                    password: None,
                    max_sessions: rival.sessions_per_accreditation,
                    creates_per_second: rival.creates_per_second,
                    catcher: rival.name.clone(),
                    open_sessions: rival.sessions_per_accreditation,
                    // Rivals' sessions live for the whole run: they act only through
                    // `create_as`, and their races must not depend on idle time.
                    idle_timeout: None,
                    last_create: HashMap::new(),
                });
                for _ in 0..rival.sessions_per_accreditation {
                    sessions.push(self.sessions.len());
                    self.sessions.push(Session {
                        registrar,
                        rate: SessionRate::default(),
                        state: SessionState::Open,
                        last_used: self.start,
                    });
                }
            }
            self.rival_sessions.push(sessions);
        }
    }

    fn push_registrar(&mut self, registrar: Registrar) -> usize {
        let index = self.registrars.len();
        self.registrar_index.insert(registrar.id.clone(), index);
        self.registrars.push(registrar);
        index
    }

    fn draft_population(&self) -> Vec<Draft> {
        let population = &self.scenario.population;
        let mut drafts = Vec::new();
        for (t, tld) in self.scenario.tlds.iter().enumerate() {
            let mut rng = derive(self.seed, &[b"population", tld.name.as_bytes()]);
            let labels =
                generate_labels(&mut rng, &population.shape, tld.names, &mut HashSet::new());
            let zones = tld.zones();
            for label in labels {
                let zone = zones
                    .choose(&mut rng)
                    .cloned()
                    .unwrap_or_else(|| tld.name.clone());
                let Ok(name) = DomainName::parse(&format!("{label}.{zone}")) else {
                    continue;
                };
                let restore = rng.random_bool(population.restore_share).then(|| {
                    let half = population.restore_within / 2;
                    let deleted = random_between(&mut rng, self.start, half);
                    let restored = random_between(&mut rng, deleted + Duration::seconds(1), half);
                    (deleted, restored)
                });
                drafts.push(Draft {
                    name,
                    tld: t,
                    sponsor: population
                        .sponsors
                        .choose(&mut rng)
                        .cloned()
                        .unwrap_or_default(),
                    restore,
                    session: rng.random_range(0..population.drop_days),
                    grace_used: rng.random_range(0..tld.auto_renew_grace.num_seconds().max(1)),
                    registered_years: rng.random_range(1..=10),
                });
            }
        }
        drafts
    }

    fn plan_population(&mut self, drafts: Vec<Draft>) {
        let scenario = Arc::clone(&self.scenario);
        // Names dropping in the same session are planned together (a batch has an order).
        let mut groups: BTreeMap<(usize, NaiveDate), Vec<usize>> = BTreeMap::new();
        for (d, draft) in drafts.iter().enumerate() {
            let tld = &scenario.tlds[draft.tld];
            let date = match draft.restore {
                Some((deleted, _)) => tld
                    .schedule
                    .nth_session(deleted + tld.redemption + tld.pending_delete, 0),
                None => tld.schedule.nth_session(self.start, draft.session),
            };
            groups.entry((draft.tld, date)).or_default().push(d);
        }
        let mut plans: Vec<Option<DropPlan>> = vec![None; drafts.len()];
        for ((t, date), members) in &groups {
            let tld = &scenario.tlds[*t];
            let names: Vec<DropName<'_>> = members
                .iter()
                .map(|d| DropName {
                    domain: drafts[*d].name.as_str(),
                    seed: self.seed,
                })
                .collect();
            let times = tld.schedule.plan(self.seed, &tld.name, *date, &names);
            for (d, release) in members.iter().zip(times) {
                plans[*d] = Some(DropPlan {
                    date: *date,
                    release,
                    reveal: tld.schedule.reveal(*date, release),
                });
            }
        }
        let earliest_offset = scenario
            .rivals
            .iter()
            .map(|r| r.strategy.earliest_offset())
            .min()
            .unwrap_or_default();
        for (draft, plan) in drafts.into_iter().zip(plans) {
            let Some(plan) = plan else { continue };
            self.add_domain(&scenario.tlds[draft.tld], draft, plan, earliest_offset);
        }
    }

    fn add_domain(
        &mut self,
        tld: &TldConfig,
        draft: Draft,
        plan: DropPlan,
        earliest_offset: Duration,
    ) {
        let i = self.domains.len();
        let pending_from = plan.release - tld.pending_delete;
        let deleted = match draft.restore {
            Some((deleted, _)) => deleted,
            None => pending_from - tld.redemption,
        };
        let expires = deleted - Duration::seconds(draft.grace_used);
        let created = expires
            .checked_sub_months(Months::new(12 * draft.registered_years))
            .unwrap_or(expires);
        let state = if deleted > self.start {
            State::AutoRenewGrace
        } else if pending_from > self.start {
            State::Redemption
        } else {
            State::PendingDelete
        };
        let features = draft.name.features();
        let domain = Domain {
            premium: tld.is_premium(draft.name.label(), features.length),
            auth_code: auth_code(self.seed, draft.name.as_str(), 0),
            features,
            tld: draft.tld,
            state,
            sponsor: draft.sponsor,
            created,
            expires,
            drop: Some(plan),
            name: draft.name,
        };
        self.index.insert(domain.name.to_string(), i);
        self.domains.push(domain);
        match state {
            State::AutoRenewGrace => self.agenda.schedule(deleted, Event::Delete(i)),
            _ => self.list(i, self.start),
        }
        if pending_from > self.start {
            self.agenda
                .schedule(pending_from, Event::EnterPendingDelete(i));
        }
        if let Some((_, restore_at)) = draft.restore {
            self.agenda
                .schedule(restore_at, Event::RegistrantRestore(i));
        }
        // Rivals plan a race shortly before their first possible fire.
        let prepare =
            plan.release.min(plan.reveal.drop_time + earliest_offset) - Duration::seconds(1);
        self.agenda
            .schedule(prepare.max(self.start), Event::PrepareRace(i));
        self.agenda.schedule(plan.release, Event::Release(i));
    }
}
