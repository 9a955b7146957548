//! Registry premium names are refused at placement (spec/lifecycle.md). The registry knows
//! which names are premium: we ask it with an EPP-style `Check` and cache the answer, since
//! premium status is a property of the name that changes rarely.

use crate::domain::name::DomainName;
use backorder_proto::registry::v1 as registry;
use chrono::{DateTime, Duration, Utc};
use registry::registrar_client::RegistrarClient;
use std::collections::HashMap;
use tokio::sync::Mutex;
use tonic::transport::Channel;

/// How long a registry's answer is trusted.
const CACHE_FOR: Duration = Duration::hours(24);
/// Names remembered at most: every order for a new name adds one, so without a bound the
/// cache grows with every name ever ordered.
const MAX_CACHED: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PremiumError {
    #[error("the registry cannot be reached to check premium names: {0}")]
    Unreachable(String),
    #[error("the registry refused our login ({0}); check --registry-login")]
    Login(String),
}

/// Asks the registry (simulator or real adapter) whether names are premium.
#[derive(Debug)]
pub struct RegistryPremiumCheck {
    url: String,
    registrar: String,
    password: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    client: Option<(RegistrarClient<Channel>, String)>,
    cache: HashMap<String, (bool, DateTime<Utc>)>,
}

impl RegistryPremiumCheck {
    /// `login` is `REGISTRAR:PASSWORD`.
    pub fn new(url: String, login: &str) -> Result<Self, PremiumError> {
        let (registrar, password) = login
            .split_once(':')
            .ok_or_else(|| PremiumError::Login("expected REGISTRAR:PASSWORD".into()))?;
        Ok(Self {
            url,
            registrar: registrar.to_string(),
            password: password.to_string(),
            state: Mutex::new(State::default()),
        })
    }

    async fn session(
        &self,
        state: &mut State,
    ) -> Result<(RegistrarClient<Channel>, String), PremiumError> {
        if let Some((client, session)) = &state.client {
            return Ok((client.clone(), session.clone()));
        }
        let channel = Channel::from_shared(self.url.clone())
            .map_err(|e| PremiumError::Unreachable(e.to_string()))?
            .connect()
            .await
            .map_err(|e| PremiumError::Unreachable(e.to_string()))?;
        let mut client = RegistrarClient::new(channel);
        let login = client
            .login(registry::LoginRequest {
                registrar_id: self.registrar.clone(),
                password: self.password.clone(),
            })
            .await
            .map_err(|e| PremiumError::Unreachable(e.to_string()))?
            .into_inner();
        let ok = login
            .result
            .as_ref()
            .is_some_and(|r| r.code == registry::ResultCode::Ok as i32);
        if !ok {
            let message = login.result.map(|r| r.message).unwrap_or_default();
            return Err(PremiumError::Login(message));
        }
        state.client = Some((client.clone(), login.session_id.clone()));
        Ok((client, login.session_id))
    }

    /// Whether the registry treats the name as premium, from the cache when fresh.
    pub async fn is_premium(
        &self,
        name: &DomainName,
        now: DateTime<Utc>,
    ) -> Result<bool, PremiumError> {
        let mut state = self.state.lock().await;
        if let Some((premium, at)) = state.cache.get(name.ascii())
            && now - *at < CACHE_FOR
        {
            return Ok(*premium);
        }
        // A session the registry timed out (idle) or forgot (restart) answers 2201: log in
        // again once and ask again, so the caller never sees an expired session.
        let mut answer = None;
        for _ in 0..2 {
            let (mut client, session) = self.session(&mut state).await?;
            let reply = client
                .check(registry::CheckRequest {
                    session_id: session,
                    domains: vec![name.ascii().to_string()],
                })
                .await;
            let reply = match reply {
                Ok(reply) => reply.into_inner(),
                Err(status) => {
                    // A broken connection: log in again next time.
                    state.client = None;
                    return Err(PremiumError::Unreachable(status.message().to_string()));
                }
            };
            let code = reply.result.as_ref().map(|r| r.code);
            if code.is_some_and(|c| c != registry::ResultCode::Ok as i32) {
                state.client = None;
                if code == Some(registry::ResultCode::AuthorizationError as i32) {
                    continue;
                }
                let message = reply.result.map(|r| r.message).unwrap_or_default();
                return Err(PremiumError::Unreachable(message));
            }
            answer = Some(reply);
            break;
        }
        let answer = answer.ok_or_else(|| {
            PremiumError::Unreachable(
                "the registry refused the session again after a new login".into(),
            )
        })?;
        let premium = answer
            .results
            .iter()
            .any(|r| r.domain == name.ascii() && r.premium);
        if state.cache.len() >= MAX_CACHED {
            state.cache.retain(|_, (_, at)| now - *at < CACHE_FOR);
            if state.cache.len() >= MAX_CACHED {
                // All fresh: forget them all (the registry answers again) rather than grow.
                state.cache.clear();
            }
        }
        state.cache.insert(name.ascii().to_string(), (premium, now));
        Ok(premium)
    }
}
