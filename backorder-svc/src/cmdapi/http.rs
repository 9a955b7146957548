//! The HTTP/1.1 side of the command API: `/api/call.cgi` (environment by `s_entity`) and
//! `/ote/api/call.cgi` (the test environment by address), GET or POST. Every answer is
//! HTTP 200 with a `[RESPONSE]` body: the SDKs discard the bodies of other statuses.

use super::CommandApi;
use super::reply::{Code, Reply};
use super::request::Environment;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::any;
use std::sync::Arc;
use std::time::Instant;

/// Largest request body: far above any command (2,000 parameters of a few bytes), far below
/// anything that could hurt memory.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub const LIVE_PATH: &str = "/api/call.cgi";
pub const TEST_PATH: &str = "/ote/api/call.cgi";

pub fn router(api: Arc<CommandApi>) -> Router {
    Router::new()
        .route(LIVE_PATH, any(live))
        .route(TEST_PATH, any(test))
        .with_state(api)
}

async fn live(
    State(api): State<Arc<CommandApi>>,
    RawQuery(query): RawQuery,
    body: Body,
) -> impl IntoResponse {
    answer(api, None, query, body).await
}

async fn test(
    State(api): State<Arc<CommandApi>>,
    RawQuery(query): RawQuery,
    body: Body,
) -> impl IntoResponse {
    answer(api, Some(Environment::Test), query, body).await
}

async fn answer(
    api: Arc<CommandApi>,
    by_path: Option<Environment>,
    query: Option<String>,
    body: Body,
) -> impl IntoResponse {
    let started = Instant::now();
    let reply = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => {
            api.call(by_path, query.unwrap_or_default().as_bytes(), &body)
                .await
        }
        Err(_) => Reply::error(
            Code::InvalidSyntax,
            format!("the request body is over {} KiB", MAX_BODY_BYTES / 1024),
        ),
    };
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reply.render(started.elapsed().as_secs_f64()),
    )
}
