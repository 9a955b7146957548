//! The HEXONET / CentralNic Reseller command API (`/api/call.cgi`, spec/hexonet-api.md): an
//! adapter beside gRPC over the same use cases. It parses a request, authenticates it with a
//! login and password or a session, calls one use case, and renders the answer with the
//! HEXONET result codes. No rule, no store call and no clock read lives here.

mod commands;
mod errors;
pub mod http;
pub mod params;
pub mod reply;
pub mod request;

use crate::domain::account::Caller;
use crate::usecases::UseCases;
use reply::{Code, Reply};
use request::{CommandRequest, Environment};

pub use http::router;

/// The use cases of each environment. The test environment is optional (`--test-database-url
/// none`); a request for a missing one is refused like an unknown entity.
#[derive(Debug, Clone)]
pub struct CommandApi {
    live: UseCases,
    test: Option<UseCases>,
}

impl CommandApi {
    pub fn new(live: UseCases, test: Option<UseCases>) -> Self {
        Self { live, test }
    }

    /// One request, from its query string and body, to its answer. Never fails: every
    /// problem is an answer with its code.
    pub async fn call(&self, by_path: Option<Environment>, query: &[u8], body: &[u8]) -> Reply {
        let request = match request::parse(query, body) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        let environment = match environment(by_path, request.credentials.entity.as_deref()) {
            Ok(environment) => environment,
            Err(reply) => return reply,
        };
        let use_cases = match (environment, &self.test) {
            (Environment::Live, _) => &self.live,
            (Environment::Test, Some(test)) => test,
            (Environment::Test, None) => {
                return Reply::error(
                    Code::AuthenticationFailed,
                    "the test environment (s_entity 1234) is not enabled on this service",
                );
            }
        };
        let command = request.command.clone().unwrap_or_default();
        let reply = dispatch(use_cases, &request).await;
        tracing::info!(
            environment = environment.name(),
            command = %crate::domain::truncate(&command, 64),
            login = request.credentials.login.as_deref().unwrap_or("-"),
            code = reply.code().number(),
            "command API call"
        );
        reply
    }
}

/// The environment by address (`/ote/`) or by `s_entity`; both given must agree.
fn environment(by_path: Option<Environment>, entity: Option<&str>) -> Result<Environment, Reply> {
    let by_entity = match entity {
        None => None,
        Some(Environment::LIVE_ENTITY) => Some(Environment::Live),
        Some(Environment::TEST_ENTITY) => Some(Environment::Test),
        Some(other) => {
            return Err(Reply::error(
                Code::AuthenticationFailed,
                format!(
                    "s_entity: must be 54cd (live) or 1234 (test), got {}",
                    crate::domain::quote(other)
                ),
            ));
        }
    };
    match (by_path, by_entity) {
        (Some(path), Some(entity)) if path != entity => Err(Reply::error(
            Code::AuthenticationFailed,
            format!(
                "s_entity: {} is the {} environment, but this address is the {} environment's",
                entity.entity(),
                entity.name(),
                path.name()
            ),
        )),
        (Some(path), _) => Ok(path),
        (None, Some(entity)) => Ok(entity),
        (None, None) => Ok(Environment::Live),
    }
}

/// Authenticates, then runs the command.
async fn dispatch(use_cases: &UseCases, request: &CommandRequest) -> Reply {
    let credentials = &request.credentials;
    let now_session = credentials.persistent && request.command.is_none();
    let caller = match authenticate(use_cases, request).await {
        Ok(caller) => caller,
        Err(reply) => return reply,
    };
    if let Some(user) = &credentials.user
        && !is_own_login(&caller, user)
    {
        return Reply::error(
            Code::AuthorizationFailed,
            "s_user: this account has no sub-users; leave it out or name your own login",
        );
    }
    if now_session {
        // CentralNic Reseller: a login request with persistent=1 and no command.
        return commands::start_session(use_cases, &caller, &request.params, true).await;
    }
    let Some(command) = &request.command else {
        return Reply::error(Code::MissingAttribute, "COMMAND");
    };
    commands::run(use_cases, &caller, credentials, command, &request.params).await
}

fn is_own_login(caller: &Caller, user: &str) -> bool {
    caller
        .login_user()
        .is_some_and(|own| user.eq_ignore_ascii_case(own))
}

async fn authenticate(use_cases: &UseCases, request: &CommandRequest) -> Result<Caller, Reply> {
    let credentials = &request.credentials;
    if let Some(session) = &credentials.session {
        return use_cases
            .session_caller(session)
            .await
            .map_err(errors::auth_reply);
    }
    match (&credentials.login, &credentials.password) {
        (Some(login), Some(password)) => use_cases
            .login_caller(login, password)
            .await
            .map_err(errors::auth_reply),
        (None, _) => Err(Reply::error(
            Code::AuthenticationFailed,
            "s_login is missing",
        )),
        (Some(_), None) => Err(Reply::error(Code::AuthenticationFailed, "s_pw is missing")),
    }
}
