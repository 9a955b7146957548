//! The registrar commands (EPP-shaped): login, check, create, info, restore. gRPC creates
//! and rival creates go through the same `create_as`, so both face the same rules.

use super::build::auth_code;
use super::{Domain, Session, SessionState, World, add_years, refused};
use crate::duration::SimDuration;
use crate::epp::{Code, Outcome};
use crate::lifecycle::State;
use crate::limits::SessionRate;
use crate::names::DomainName;
use crate::race::AttemptOutcome;
use crate::scenario::TldConfig;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::collections::BTreeMap;

/// A create's parameters beyond the name.
#[derive(Clone, Debug, Default)]
pub struct CreateRequest {
    pub period_years: u32,
    pub auth_code: Option<String>,
    pub extensions: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct CreateAnswer {
    pub outcome: Outcome,
    pub domain: String,
    /// Set when the create registered the name.
    pub registered: Option<(DateTime<Utc>, DateTime<Utc>, String)>,
    pub server_time: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct CheckAnswer {
    pub domain: String,
    pub outcome: Outcome,
    pub available: bool,
    pub reason: String,
    pub premium: bool,
}

#[derive(Clone, Debug)]
pub struct InfoAnswer {
    pub outcome: Outcome,
    pub domain: Option<Domain>,
    pub rgp_status: String,
    /// Only for the sponsoring registrar.
    pub auth_code: String,
}

impl World {
    pub fn login(&mut self, registrar_id: &str, password: &str) -> Result<String, Outcome> {
        let Some(&r) = self.registrar_index.get(registrar_id) else {
            return Err(refused(
                Code::AuthorizationError,
                format!("unknown registrar `{registrar_id}` or wrong password"),
            ));
        };
        if self.registrars[r].password.as_deref() != Some(password) {
            return Err(refused(
                Code::AuthorizationError,
                format!("unknown registrar `{registrar_id}` or wrong password"),
            ));
        }
        // Sessions left idle past the timeout (a crashed client's) give their slots back.
        self.expire_idle_sessions(r);
        let registrar = &mut self.registrars[r];
        if registrar.open_sessions >= registrar.max_sessions {
            return Err(refused(
                Code::SessionLimitExceeded,
                format!(
                    "registrar `{registrar_id}` already holds {} sessions (limit {})",
                    registrar.open_sessions, registrar.max_sessions
                ),
            ));
        }
        registrar.open_sessions += 1;
        let token = format!(
            "{registrar_id}-{}-{:016x}",
            self.sessions.len(),
            self.token_rng.random::<u64>()
        );
        self.session_tokens
            .insert(token.clone(), self.sessions.len());
        self.sessions.push(Session {
            registrar: r,
            rate: SessionRate::default(),
            state: SessionState::Open,
            last_used: self.now,
        });
        Ok(token)
    }

    /// Ends a session. An expired session answers 2201 "session expired" like any other
    /// command on it; its token is forgotten either way.
    pub fn logout(&mut self, token: &str) -> Outcome {
        let outcome = match self.session(token) {
            Ok(s) => {
                self.close(s, SessionState::LoggedOut);
                Outcome::ok()
            }
            Err(outcome) => outcome,
        };
        self.session_tokens.remove(token);
        outcome
    }

    /// The open session behind `token`, marked as used now. A session idle past its
    /// registrar's timeout is closed here (its slot is freed) and answers 2201.
    fn session(&mut self, token: &str) -> Result<usize, Outcome> {
        let unknown = || {
            refused(
                Code::AuthorizationError,
                "unknown or closed session: log in first",
            )
        };
        let s = self
            .session_tokens
            .get(token)
            .copied()
            .ok_or_else(unknown)?;
        match self.sessions[s].state {
            SessionState::Open if self.idle_expired(s) => {
                self.close(s, SessionState::Expired);
                Err(self.expired(s))
            }
            SessionState::Open => {
                self.sessions[s].last_used = self.now;
                Ok(s)
            }
            SessionState::Expired => Err(self.expired(s)),
            SessionState::LoggedOut => Err(unknown()),
        }
    }

    /// Whether session `s` has been idle for longer than its registrar's timeout.
    fn idle_expired(&self, s: usize) -> bool {
        let session = &self.sessions[s];
        self.registrars[session.registrar]
            .idle_timeout
            .is_some_and(|timeout| self.now.signed_duration_since(session.last_used) > timeout)
    }

    fn expired(&self, s: usize) -> Outcome {
        let timeout = self.registrars[self.sessions[s].registrar]
            .idle_timeout
            .unwrap_or_default();
        refused(
            Code::AuthorizationError,
            format!(
                "session expired: idle for more than {}; log in again",
                SimDuration(timeout)
            ),
        )
    }

    /// Closes every session of registrar `r` that is idle past the timeout. Sessions are
    /// visited in login order, so the result depends only on virtual time.
    fn expire_idle_sessions(&mut self, r: usize) {
        if self.registrars[r].idle_timeout.is_none() || self.registrars[r].open_sessions == 0 {
            return;
        }
        for s in 0..self.sessions.len() {
            if self.sessions[s].registrar == r
                && self.sessions[s].state == SessionState::Open
                && self.idle_expired(s)
            {
                self.close(s, SessionState::Expired);
            }
        }
    }

    fn close(&mut self, s: usize, state: SessionState) {
        if self.sessions[s].state != SessionState::Open {
            return;
        }
        self.sessions[s].state = state;
        let registrar = &mut self.registrars[self.sessions[s].registrar];
        registrar.open_sessions = registrar.open_sessions.saturating_sub(1);
    }

    /// The TLD a name belongs to, or why the registry does not handle it.
    fn tld_for(&self, name: &DomainName) -> Result<(usize, &TldConfig), Outcome> {
        let (t, tld) = self
            .scenario
            .tlds
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == name.tld())
            .ok_or_else(|| {
                refused(
                    Code::ParameterPolicyError,
                    format!("TLD `.{}` is not served by this registry", name.tld()),
                )
            })?;
        if !tld.zones().iter().any(|z| z == name.zone()) {
            return Err(refused(
                Code::ParameterPolicyError,
                format!(
                    "`{name}` is not registrable: .{} takes names in {}",
                    tld.name,
                    tld.zones().join(", ")
                ),
            ));
        }
        Ok((t, tld))
    }

    /// Registry policy on a name (premium, reserved), independent of who asks.
    fn policy(&self, name: &DomainName, tld: &TldConfig) -> Result<(), Outcome> {
        let features = name.features();
        if tld.is_premium(name.label(), features.length) {
            return Err(refused(
                Code::ParameterPolicyError,
                format!("`{name}` is a premium name"),
            ));
        }
        if tld.reserved_labels.contains(name.label()) {
            return Err(refused(
                Code::ParameterPolicyError,
                format!("`{name}` is reserved"),
            ));
        }
        Ok(())
    }

    /// Checks names; an empty list is a cheap keepalive (it marks the session as used).
    pub fn check(&mut self, token: &str, names: &[String]) -> Result<Vec<CheckAnswer>, Outcome> {
        self.session(token)?;
        Ok(names.iter().map(|n| self.check_one(n)).collect())
    }

    fn check_one(&self, input: &str) -> CheckAnswer {
        let answer = |domain: &str, outcome: Outcome, reason: &str, premium: bool| CheckAnswer {
            domain: domain.to_string(),
            available: outcome.is_ok(),
            outcome,
            reason: reason.to_string(),
            premium,
        };
        let name = match DomainName::parse(input) {
            Ok(name) => name,
            Err(e) => return answer(input, refused(Code::SyntaxError, e.0), "syntax", false),
        };
        let tld = match self.tld_for(&name) {
            Ok((_, tld)) => tld,
            Err(outcome) => return answer(name.as_str(), outcome, "not served", false),
        };
        if let Err(outcome) = self.policy(&name, tld) {
            let premium = outcome.message.contains("premium");
            return answer(
                name.as_str(),
                outcome,
                if premium { "premium" } else { "reserved" },
                premium,
            );
        }
        match self.domain(name.as_str()).map(|d| d.state) {
            Some(state) if state.listed() => answer(
                name.as_str(),
                refused(Code::ObjectExists, "pending delete"),
                "pendingDelete",
                false,
            ),
            Some(state) if state.exists() => answer(
                name.as_str(),
                refused(Code::ObjectExists, "in use"),
                "in use",
                false,
            ),
            _ => answer(name.as_str(), Outcome::ok(), "", false),
        }
    }

    /// A create from a logged-in session, arriving now.
    pub fn create(&mut self, token: &str, input: &str, request: &CreateRequest) -> CreateAnswer {
        let now = self.now;
        let reply = |outcome: Outcome| CreateAnswer {
            outcome,
            domain: input.to_string(),
            registered: None,
            server_time: now,
        };
        let session = match self.session(token) {
            Ok(s) => s,
            Err(outcome) => return self.count(reply(outcome)),
        };
        let name = match DomainName::parse(input) {
            Ok(name) => name,
            Err(e) => return self.count(reply(refused(Code::SyntaxError, e.0))),
        };
        self.create_as(session, &name, now, request)
    }

    fn count(&mut self, answer: CreateAnswer) -> CreateAnswer {
        self.counters.creates += 1;
        if !answer.outcome.is_ok() {
            self.counters.rejected_creates += 1;
        }
        answer
    }

    /// A create arriving at `at` on `session`: the one path for our catcher and rivals alike.
    pub(super) fn create_as(
        &mut self,
        session: usize,
        name: &DomainName,
        at: DateTime<Utc>,
        request: &CreateRequest,
    ) -> CreateAnswer {
        let answer = self.decide_create(session, name, at, request);
        self.count(answer)
    }

    fn decide_create(
        &mut self,
        session: usize,
        name: &DomainName,
        at: DateTime<Utc>,
        request: &CreateRequest,
    ) -> CreateAnswer {
        let reply = |outcome: Outcome| CreateAnswer {
            outcome,
            domain: name.to_string(),
            registered: None,
            server_time: at,
        };
        let (t, tld) = match self.tld_for(name) {
            Ok(found) => found,
            Err(outcome) => return reply(outcome),
        };
        if let Err(outcome) = self.policy(name, tld) {
            return reply(outcome);
        }
        if let Some(missing) = tld
            .required_extensions
            .iter()
            .find(|k| !request.extensions.contains_key(*k))
        {
            return reply(refused(
                Code::ParameterPolicyError,
                format!(".{} requires the extension `{missing}`", tld.name),
            ));
        }
        let years = if request.period_years == 0 {
            1
        } else {
            request.period_years
        };
        if years > 10 {
            return reply(refused(
                Code::ParameterPolicyError,
                "period_years must be 1 to 10",
            ));
        }
        let create_interval = tld.create_interval;
        let penalty = self.scenario.exists_penalty;
        let index = self.index.get(name.as_str()).copied();

        // Limits: a refused create still shows in the race log as an attempt.
        let registrar = self.sessions[session].registrar;
        let per_second = self.registrars[registrar].creates_per_second;
        let last = self.registrars[registrar].last_create.get(&t).copied();
        let interval_refusal = match last {
            Some(last)
                if create_interval > chrono::Duration::zero() && at < last + create_interval =>
            {
                Some(format!(
                    "one create per {}s per registrar in .{}",
                    create_interval.num_seconds(),
                    self.scenario.tlds[t].name
                ))
            }
            _ => None,
        };
        let limit = match interval_refusal {
            Some(why) => Err(why),
            None => self.sessions[session]
                .rate
                .admit(at, per_second)
                .map_err(|r| r.to_string()),
        };
        if limit.is_ok() {
            self.registrars[registrar].last_create.insert(t, at);
        }
        if let Err(why) = limit {
            self.record(index, session, at, AttemptOutcome::Limited);
            return reply(refused(Code::SessionLimitExceeded, why));
        }

        if let Some(i) = index
            && self.domains[i].state.exists()
        {
            let early = self.domains[i].drop.is_some_and(|p| at < p.release);
            self.sessions[session].rate.penalize(at, penalty);
            self.record(
                index,
                session,
                at,
                if early {
                    AttemptOutcome::Early
                } else {
                    AttemptOutcome::Lost
                },
            );
            return reply(refused(
                Code::ObjectExists,
                if early {
                    "object exists (not yet released)"
                } else {
                    "object exists"
                },
            ));
        }

        let sponsor = self.registrars[registrar].id.clone();
        let code = request
            .auth_code
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| {
                auth_code(self.seed, name.as_str(), self.counters.creates as u32 + 1)
            });
        let expires = add_years(at, years);
        match index {
            Some(i) => {
                let domain = &mut self.domains[i];
                domain.state = State::Registered;
                domain.sponsor = sponsor;
                domain.auth_code = code.clone();
                domain.created = at;
                domain.expires = expires;
            }
            None => {
                let features = name.features();
                self.index.insert(name.to_string(), self.domains.len());
                self.domains.push(Domain {
                    name: name.clone(),
                    tld: t,
                    premium: false,
                    features,
                    state: State::Registered,
                    sponsor,
                    auth_code: code.clone(),
                    created: at,
                    expires,
                    drop: None,
                });
            }
        }
        self.record(index, session, at, AttemptOutcome::Won);
        CreateAnswer {
            outcome: Outcome::ok(),
            domain: name.to_string(),
            registered: Some((at, expires, code)),
            server_time: at,
        }
    }

    /// Adds an attempt to the name's race, if the name is (or was) headed for a drop.
    fn record(
        &mut self,
        index: Option<usize>,
        session: usize,
        at: DateTime<Utc>,
        outcome: AttemptOutcome,
    ) {
        let Some(i) = index else { return };
        let Some(plan) = self.domains[i].drop else {
            return;
        };
        let (catcher, registrar) = self.catcher_of(session);
        let (catcher, registrar) = (catcher.to_string(), registrar.to_string());
        let name = self.domains[i].name.to_string();
        self.races
            .entry(i)
            .or_insert_with(|| crate::race::Race::new(name, plan.release))
            .record(&catcher, &registrar, at, outcome);
    }

    pub fn info(&mut self, token: &str, input: &str) -> InfoAnswer {
        let none = |outcome: Outcome| InfoAnswer {
            outcome,
            domain: None,
            rgp_status: String::new(),
            auth_code: String::new(),
        };
        let session = match self.session(token) {
            Ok(s) => s,
            Err(outcome) => return none(outcome),
        };
        let name = match DomainName::parse(input) {
            Ok(name) => name,
            Err(e) => return none(refused(Code::SyntaxError, e.0)),
        };
        match self.domain(name.as_str()) {
            Some(domain) if domain.state.exists() => {
                let sponsor =
                    domain.sponsor == self.registrars[self.sessions[session].registrar].id;
                InfoAnswer {
                    outcome: Outcome::ok(),
                    rgp_status: domain
                        .state
                        .rgp_status(domain.created, self.now)
                        .to_string(),
                    auth_code: if sponsor {
                        domain.auth_code.clone()
                    } else {
                        String::new()
                    },
                    domain: Some(domain.clone()),
                }
            }
            _ => none(refused(
                Code::ObjectDoesNotExist,
                format!("`{name}` does not exist"),
            )),
        }
    }

    /// The sponsor restores a name in redemption (RFC 3915 restore request, approved at once).
    pub fn restore_request(&mut self, token: &str, input: &str) -> Outcome {
        let session = match self.session(token) {
            Ok(s) => s,
            Err(outcome) => return outcome,
        };
        let name = match DomainName::parse(input) {
            Ok(name) => name,
            Err(e) => return refused(Code::SyntaxError, e.0),
        };
        let Some(&i) = self
            .index
            .get(name.as_str())
            .filter(|i| self.domains[**i].state.exists())
        else {
            return refused(Code::ObjectDoesNotExist, format!("`{name}` does not exist"));
        };
        if self.domains[i].sponsor != self.registrars[self.sessions[session].registrar].id {
            return refused(
                Code::AuthorizationError,
                format!("`{name}` is sponsored by another registrar"),
            );
        }
        if self.domains[i].state != State::Redemption {
            let rgp = self.domains[i]
                .state
                .rgp_status(self.domains[i].created, self.now);
            return refused(
                Code::ParameterPolicyError,
                format!("`{name}` is not in redemptionPeriod (rgp status `{rgp}`)"),
            );
        }
        self.restore(i, self.now);
        Outcome::ok()
    }
}
