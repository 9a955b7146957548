//! `Registry` over the simulator's EPP-shaped `registry.v1.Registrar` gRPC service, with
//! several accreditations. Each accreditation holds its sessions (logged in on first use,
//! logged in again when the registry answers 2201 "unknown session") and its creates-per-
//! second limit per session, enforced here in the injected clock's time so we never send a
//! create the registry would refuse for rate.
//!
//! Sessions heal: the tokens are kept in the store (`registry_sessions`) so a restart after
//! a crash takes its sessions back instead of leaving them to count against the registry's
//! limit until it times them out; a refused login backs off (1 s doubling to 30 s on the
//! injected clock) and is retried when a step needs the session; `logout_all` ends them on
//! a graceful shutdown.
//!
//! Extension fields: orders carry HEXONET-style keys (`X-UK-CONTACT-TYPE`); the registry
//! wants EPP-style names (`uk-contact-type`): the `X-` prefix is stripped and the rest
//! lower-cased.

use super::accreditation::Accreditation;
use super::limiter::SessionRate;
use super::registry::{Availability, Capacity, CreateResult, Holder, Registry, RegistryError};
use crate::clock::SharedClock;
use crate::store::SharedStore;
use async_trait::async_trait;
use backorder_proto::registry::v1 as epp;
use chrono::{DateTime, Duration, Utc};
use epp::ResultCode;
use epp::registrar_client::RegistrarClient;
use std::collections::BTreeMap;
use tokio::sync::Mutex;
use tonic::transport::Channel;

/// Names per Check request.
const CHECK_BATCH: usize = 500;
/// A session that just created an existing name may sit out a registry penalty; it is used
/// again only when no other session has room, for this long.
const AFTER_EXISTS: Duration = Duration::seconds(1);
/// A refused login is tried again after 1 s, doubling up to this.
const LOGIN_BACKOFF_MAX: Duration = Duration::seconds(30);

/// The registry's extension field name for an order's `X-...` key.
pub fn registry_extension_key(order_key: &str) -> String {
    let key = order_key
        .strip_prefix("X-")
        .or_else(|| order_key.strip_prefix("x-"))
        .unwrap_or(order_key);
    key.to_ascii_lowercase()
}

#[derive(Debug)]
struct Session {
    token: Option<String>,
    rate: SessionRate,
    exists_at: Option<DateTime<Utc>>,
}

#[derive(Debug)]
struct Account {
    registrar: String,
    password: String,
    sessions: Vec<Session>,
    /// Refused logins in a row, and when the next may be tried.
    login_failures: u32,
    next_login_at: Option<DateTime<Utc>>,
    last_login_error: Option<String>,
}

#[derive(Debug)]
pub struct SimRegistry {
    client: RegistrarClient<Channel>,
    clock: SharedClock,
    accounts: Mutex<Vec<Account>>,
    /// Where the session tokens are kept across restarts (none in unit tests).
    sessions: Option<SharedStore>,
}

fn code_of(result: Option<&epp::Result>) -> (i32, String) {
    result.map_or((0, "no result".into()), |r| (r.code, r.message.clone()))
}

fn time_of(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    DateTime::from_timestamp(ts.seconds, u32::try_from(ts.nanos).ok()?)
}

fn transport_error(status: tonic::Status) -> RegistryError {
    RegistryError::Unreachable(format!("{}: {}", status.code(), status.message()))
}

impl SimRegistry {
    /// A registry client for `url` (connected lazily: no I/O until the first call).
    pub fn new(
        url: &str,
        accreditations: &[Accreditation],
        clock: SharedClock,
    ) -> Result<Self, RegistryError> {
        let channel = Channel::from_shared(url.to_string())
            .map_err(|e| RegistryError::Unreachable(format!("{url:?} is not a URL: {e}")))?
            .connect_timeout(std::time::Duration::from_secs(10))
            .connect_lazy();
        let accounts = accreditations
            .iter()
            .map(|a| Account {
                registrar: a.registrar.clone(),
                password: a.password.clone(),
                sessions: (0..a.sessions.max(1))
                    .map(|_| Session {
                        token: None,
                        rate: SessionRate::new(a.creates_per_second),
                        exists_at: None,
                    })
                    .collect(),
                login_failures: 0,
                next_login_at: None,
                last_login_error: None,
            })
            .collect();
        Ok(Self {
            client: RegistrarClient::new(channel),
            clock,
            accounts: Mutex::new(accounts),
            sessions: None,
        })
    }

    /// Keeps the session tokens in `store`, so a restart takes them back.
    pub fn keeping_sessions_in(mut self, store: SharedStore) -> Self {
        self.sessions = Some(store);
        self
    }

    /// At start: takes back the sessions a previous run left open (a crash), then logs in
    /// the rest, rather than at the first drop. A token the registry no longer knows is
    /// replaced at first use (2201).
    pub async fn login_all(&self) -> Result<(), RegistryError> {
        let mut accounts = self.accounts.lock().await;
        if let Some(store) = &self.sessions {
            match store.held_sessions().await {
                Ok(held) => {
                    for session in held {
                        let slot = usize::try_from(session.slot).unwrap_or(usize::MAX);
                        if let Some(s) = accounts
                            .iter_mut()
                            .find(|a| a.registrar == session.registrar)
                            .and_then(|a| a.sessions.get_mut(slot))
                        {
                            s.token = Some(session.token);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the sessions held before"),
            }
        }
        let mut first_error = None;
        for account in accounts.iter_mut() {
            for s in 0..account.sessions.len() {
                if let Err(error) = self.token(account, s).await {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Ends every session (graceful shutdown) and forgets the kept tokens.
    pub async fn logout_every_session(&self) {
        let mut accounts = self.accounts.lock().await;
        for account in accounts.iter_mut() {
            for (slot, session) in account.sessions.iter_mut().enumerate() {
                let Some(token) = session.token.take() else {
                    continue;
                };
                let answer = self
                    .client
                    .clone()
                    .logout(epp::LogoutRequest { session_id: token })
                    .await;
                if let Err(status) = answer {
                    tracing::warn!(registrar = %account.registrar, %status, "logout failed; the registry will time the session out");
                }
                self.keep(&account.registrar, slot, None).await;
            }
        }
        tracing::info!("catcher sessions logged out");
    }

    /// Remembers (or forgets) a session's token in the store; a failure only costs a session
    /// left for the registry to time out after a crash.
    async fn keep(&self, registrar: &str, slot: usize, token: Option<&str>) {
        let Some(store) = &self.sessions else {
            return;
        };
        let slot = u32::try_from(slot).unwrap_or(u32::MAX);
        if let Err(error) = store
            .hold_session(registrar, slot, token, self.clock.now())
            .await
        {
            tracing::warn!(%registrar, %error, "could not keep the session token");
        }
    }

    async fn login(&self, account: &mut Account) -> Result<String, RegistryError> {
        let now = self.clock.now();
        if let Some(next) = account.next_login_at
            && now < next
        {
            return Err(RegistryError::Login {
                registrar: account.registrar.clone(),
                message: format!(
                    "backing off after {} refused logins (last: {}); next try at {next}",
                    account.login_failures,
                    account.last_login_error.as_deref().unwrap_or("none"),
                ),
            });
        }
        let result = self.login_once(account).await;
        match &result {
            Ok(_) => {
                account.login_failures = 0;
                account.next_login_at = None;
                account.last_login_error = None;
            }
            Err(error) => {
                account.login_failures = account.login_failures.saturating_add(1);
                let exponent = account.login_failures.saturating_sub(1).min(5);
                let wait = Duration::seconds(1i64 << exponent).min(LOGIN_BACKOFF_MAX);
                account.next_login_at = now.checked_add_signed(wait);
                account.last_login_error = Some(error.to_string());
            }
        }
        result
    }

    async fn login_once(&self, account: &Account) -> Result<String, RegistryError> {
        let answer = self
            .client
            .clone()
            .login(epp::LoginRequest {
                registrar_id: account.registrar.clone(),
                password: account.password.clone(),
            })
            .await
            .map_err(transport_error)?
            .into_inner();
        let (code, message) = code_of(answer.result.as_ref());
        if code != ResultCode::Ok as i32 {
            return Err(RegistryError::Login {
                registrar: account.registrar.clone(),
                message: format!("{code} {message}"),
            });
        }
        tracing::info!(registrar = %account.registrar, "catcher session logged in");
        Ok(answer.session_id)
    }

    /// The session's token, logging in first if it has none.
    async fn token(&self, account: &mut Account, session: usize) -> Result<String, RegistryError> {
        if let Some(token) = &account.sessions[session].token {
            return Ok(token.clone());
        }
        let token = self.login(account).await?;
        account.sessions[session].token = Some(token.clone());
        let registrar = account.registrar.clone();
        self.keep(&registrar, session, Some(&token)).await;
        Ok(token)
    }

    /// Info on `name` through `account`'s first session (logging in again once if the
    /// registry forgot the session).
    async fn info_on(
        &self,
        account: &mut Account,
        name: &str,
    ) -> Result<epp::InfoResponse, RegistryError> {
        for attempt in 0..2 {
            let token = self.token(account, 0).await?;
            let answer = self
                .client
                .clone()
                .info(epp::InfoRequest {
                    session_id: token,
                    domain: name.to_string(),
                })
                .await
                .map_err(transport_error)?
                .into_inner();
            let (code, _) = code_of(answer.result.as_ref());
            if code == ResultCode::AuthorizationError as i32 && attempt == 0 {
                account.sessions[0].token = None;
                continue;
            }
            return Ok(answer);
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The session to send a create on: one with room, preferring sessions that did not
    /// just hit an existing name, then the one with the most room.
    fn pick_session(account: &mut Account, now: DateTime<Utc>) -> Option<usize> {
        let mut best: Option<(bool, u32, usize)> = None;
        for (i, session) in account.sessions.iter_mut().enumerate() {
            let free = session.rate.free(now);
            if free == 0 {
                continue;
            }
            let fresh = session.exists_at.is_none_or(|at| now - at >= AFTER_EXISTS);
            if best.is_none_or(|(f, n, _)| (fresh, free) > (f, n)) {
                best = Some((fresh, free, i));
            }
        }
        best.map(|(_, _, i)| i)
    }

    async fn check_batch(
        &self,
        account: &mut Account,
        names: &[String],
    ) -> Result<epp::CheckResponse, RegistryError> {
        for attempt in 0..2 {
            let token = self.token(account, 0).await?;
            let answer = self
                .client
                .clone()
                .check(epp::CheckRequest {
                    session_id: token,
                    domains: names.to_vec(),
                })
                .await
                .map_err(transport_error)?
                .into_inner();
            let (code, message) = code_of(answer.result.as_ref());
            if code == ResultCode::AuthorizationError as i32 && attempt == 0 {
                // The registry forgot the session (restart, idle timeout): log in again once.
                account.sessions[0].token = None;
                continue;
            }
            if code != ResultCode::Ok as i32 {
                return Err(RegistryError::Answer { code, message });
            }
            return Ok(answer);
        }
        unreachable!("the loop returns on its second pass")
    }
}

fn availability(result: &epp::CheckResult) -> Availability {
    let code = result.result.as_ref().map_or(0, |r| r.code);
    if result.available || code == ResultCode::Ok as i32 {
        Availability::Available
    } else if code == ResultCode::ObjectExists as i32 {
        if result.reason.eq_ignore_ascii_case("pendingDelete") {
            Availability::PendingDelete
        } else {
            Availability::Registered
        }
    } else {
        let reason = if result.reason.is_empty() {
            code_of(result.result.as_ref()).1
        } else {
            result.reason.clone()
        };
        Availability::NotAllowed(reason)
    }
}

#[async_trait]
impl Registry for SimRegistry {
    async fn capacity(&self) -> Vec<Capacity> {
        let now = self.clock.now();
        let mut accounts = self.accounts.lock().await;
        accounts
            .iter_mut()
            .map(|account| Capacity {
                registrar: account.registrar.clone(),
                free: account.sessions.iter_mut().map(|s| s.rate.free(now)).sum(),
            })
            .collect()
    }

    async fn check(&self, names: &[String]) -> Result<Vec<(String, Availability)>, RegistryError> {
        let mut accounts = self.accounts.lock().await;
        let mut out = Vec::with_capacity(names.len());
        for batch in names.chunks(CHECK_BATCH) {
            // Checks are not rate limited: the first accreditation that can log in asks.
            let mut answer = Err(RegistryError::UnknownRegistrar(String::new()));
            for account in accounts.iter_mut() {
                answer = self.check_batch(account, batch).await;
                if !matches!(answer, Err(RegistryError::Login { .. })) {
                    break;
                }
            }
            for result in &answer?.results {
                out.push((result.domain.clone(), availability(result)));
            }
        }
        Ok(out)
    }

    async fn create(
        &self,
        name: &str,
        extensions: &BTreeMap<String, String>,
        registrar: &str,
    ) -> Result<CreateResult, RegistryError> {
        let now = self.clock.now();
        let mut accounts = self.accounts.lock().await;
        let account = accounts
            .iter_mut()
            .find(|a| a.registrar == registrar)
            .ok_or_else(|| RegistryError::UnknownRegistrar(registrar.to_string()))?;
        let session = Self::pick_session(account, now)
            .ok_or_else(|| RegistryError::NoCapacity(registrar.to_string()))?;
        let extensions: std::collections::HashMap<String, String> = extensions
            .iter()
            .map(|(k, v)| (registry_extension_key(k), v.clone()))
            .collect();
        let mut counted = false;
        for attempt in 0..2 {
            let token = self.token(account, session).await?;
            if !counted {
                account.sessions[session].rate.take(now);
                counted = true;
            }
            let answer = self
                .client
                .clone()
                .create(epp::CreateRequest {
                    session_id: token,
                    domain: name.to_string(),
                    period_years: 1,
                    auth_code: String::new(),
                    extensions: extensions.clone(),
                })
                .await
                .map_err(transport_error)?
                .into_inner();
            let (code, message) = code_of(answer.result.as_ref());
            let result = match ResultCode::try_from(code) {
                Ok(ResultCode::Ok) => CreateResult::Won {
                    registrar: registrar.to_string(),
                    auth_code: answer.auth_code,
                    registered_at: time_of(answer.create_time.as_ref())
                        .or_else(|| time_of(answer.server_time.as_ref()))
                        .unwrap_or(now),
                },
                Ok(ResultCode::ObjectExists) => {
                    account.sessions[session].exists_at = Some(now);
                    CreateResult::Exists
                }
                Ok(ResultCode::SessionLimitExceeded) => CreateResult::RateLimited,
                Ok(ResultCode::AuthorizationError) if attempt == 0 => {
                    // An unknown session (the registry restarted): log in again, resend once.
                    account.sessions[session].token = None;
                    continue;
                }
                _ => CreateResult::Refused { code, message },
            };
            return Ok(result);
        }
        Err(RegistryError::Answer {
            code: ResultCode::AuthorizationError as i32,
            message: format!("{registrar}: the session was refused again after a new login"),
        })
    }

    async fn holder(&self, name: &str) -> Result<Holder, RegistryError> {
        let mut accounts = self.accounts.lock().await;
        // Any accreditation that can log in may ask; the auth code is shown to the sponsor.
        let mut answer = Err(RegistryError::UnknownRegistrar(String::new()));
        for account in accounts.iter_mut() {
            answer = self.info_on(account, name).await;
            if !matches!(answer, Err(RegistryError::Login { .. })) {
                break;
            }
        }
        let mut answer = answer?;
        let (code, message) = code_of(answer.result.as_ref());
        if code == ResultCode::ObjectDoesNotExist as i32 {
            return Ok(Holder::Nobody);
        }
        if code != ResultCode::Ok as i32 {
            return Err(RegistryError::Answer { code, message });
        }
        let registered = matches!(
            epp::DomainState::try_from(answer.state),
            Ok(epp::DomainState::Registered | epp::DomainState::AutoRenewGrace)
        );
        if !registered {
            return Ok(Holder::Nobody);
        }
        let sponsor = answer.sponsoring_registrar.clone();
        let Some(ours) = accounts.iter_mut().find(|a| a.registrar == sponsor) else {
            return Ok(Holder::Other { registrar: sponsor });
        };
        if answer.auth_code.is_empty() {
            // Asked through another of our accreditations: the sponsor's session shows it.
            answer = self.info_on(ours, name).await?;
        }
        let registered_at =
            time_of(answer.create_time.as_ref()).ok_or_else(|| RegistryError::Answer {
                code,
                message: format!("Info on {name} has no create time"),
            })?;
        Ok(Holder::Ours {
            registrar: sponsor,
            auth_code: answer.auth_code,
            registered_at,
        })
    }

    async fn logout_all(&self) {
        self.logout_every_session().await;
    }

    async fn describe(&self) -> String {
        let accounts = self.accounts.lock().await;
        accounts
            .iter()
            .map(|a| {
                let open = a.sessions.iter().filter(|s| s.token.is_some()).count();
                let mut line = format!("{}: {open}/{} sessions", a.registrar, a.sessions.len());
                if let Some(error) = &a.last_login_error {
                    line.push_str(&format!(
                        ", {} refused logins (last: {error})",
                        a.login_failures
                    ));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_keys_lose_the_x_prefix_and_case() {
        assert_eq!(
            registry_extension_key("X-UK-CONTACT-TYPE"),
            "uk-contact-type"
        );
        assert_eq!(
            registry_extension_key("X-US-NEXUS-CATEGORY"),
            "us-nexus-category"
        );
        assert_eq!(registry_extension_key("plain"), "plain");
    }

    fn check_result(code: ResultCode, reason: &str) -> epp::CheckResult {
        epp::CheckResult {
            domain: "a.com".into(),
            available: code == ResultCode::Ok,
            reason: reason.into(),
            premium: reason == "premium",
            result: Some(epp::Result {
                code: code as i32,
                message: String::new(),
            }),
        }
    }

    #[test]
    fn check_answers_map_to_availability() {
        use Availability as A;
        assert_eq!(
            availability(&check_result(ResultCode::Ok, "")),
            A::Available
        );
        assert_eq!(
            availability(&check_result(ResultCode::ObjectExists, "pendingDelete")),
            A::PendingDelete
        );
        assert_eq!(
            availability(&check_result(ResultCode::ObjectExists, "in use")),
            A::Registered
        );
        assert_eq!(
            availability(&check_result(ResultCode::ParameterPolicyError, "premium")),
            A::NotAllowed("premium".into())
        );
    }

    #[test]
    fn sessions_with_room_and_no_recent_exists_first() {
        let now = DateTime::from_timestamp(1_772_478_000, 0).unwrap();
        let session = |per_second| Session {
            token: None,
            rate: SessionRate::new(per_second),
            exists_at: None,
        };
        let mut account = Account {
            registrar: "r".into(),
            password: String::new(),
            sessions: vec![session(1), session(2), session(2)],
            login_failures: 0,
            next_login_at: None,
            last_login_error: None,
        };
        assert_eq!(SimRegistry::pick_session(&mut account, now), Some(1));
        account.sessions[1].exists_at = Some(now);
        assert_eq!(SimRegistry::pick_session(&mut account, now), Some(2));
        account.sessions[2].rate.take(now);
        account.sessions[2].rate.take(now);
        account.sessions[0].rate.take(now);
        assert_eq!(
            SimRegistry::pick_session(&mut account, now),
            Some(1),
            "a penalized session is better than none"
        );
        account.sessions[1].rate.take(now);
        account.sessions[1].rate.take(now);
        assert_eq!(SimRegistry::pick_session(&mut account, now), None);
    }
}
