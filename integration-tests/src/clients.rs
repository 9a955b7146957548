//! Typed gRPC clients of `backorder.v1` that send one API key with every call, and the
//! "not there yet" reading of `UNIMPLEMENTED`.

use backorder_proto::backorder::v1 as pb;
use pb::account_service_client::AccountServiceClient;
use pb::auction_service_client::AuctionServiceClient;
use pb::backorder_service_client::BackorderServiceClient;
use pb::catalog_service_client::CatalogServiceClient;
use pb::drop_list_service_client::DropListServiceClient;
use pb::event_service_client::EventServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

/// Adds `authorization: Bearer <key>` to every request.
#[derive(Clone)]
pub struct BearerKey(MetadataValue<Ascii>);

impl Interceptor for BearerKey {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, BearerKey>;

/// Every `backorder.v1` service, as one API key sees it. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    pub key: String,
    pub accounts: AccountServiceClient<Authed>,
    pub catalog: CatalogServiceClient<Authed>,
    pub backorders: BackorderServiceClient<Authed>,
    pub drop_list: DropListServiceClient<Authed>,
    pub events: EventServiceClient<Authed>,
    pub operator: OperatorServiceClient<Authed>,
    pub auctions: AuctionServiceClient<Authed>,
}

impl Api {
    pub fn new(channel: Channel, key: &str) -> anyhow::Result<Api> {
        let bearer = BearerKey(
            format!("Bearer {key}")
                .parse()
                .map_err(|_| anyhow::anyhow!("an API key must be ASCII"))?,
        );
        let with = |c: &Channel| InterceptedService::new(c.clone(), bearer.clone());
        Ok(Api {
            key: key.to_string(),
            accounts: AccountServiceClient::new(with(&channel)),
            catalog: CatalogServiceClient::new(with(&channel)),
            backorders: BackorderServiceClient::new(with(&channel)),
            drop_list: DropListServiceClient::new(with(&channel)),
            events: EventServiceClient::new(with(&channel)),
            operator: OperatorServiceClient::new(with(&channel)),
            auctions: AuctionServiceClient::new(with(&channel)),
        })
    }
}

/// `UNIMPLEMENTED` means "that part of the service has not landed yet": `Ok(None)`.
/// Any other error stays an error.
pub fn unless_unimplemented<T>(result: Result<T, Status>) -> Result<Option<T>, Status> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(status) if status.code() == Code::Unimplemented => Ok(None),
        Err(status) => Err(status),
    }
}

/// A one-line description of a status for reports: `FAILED_PRECONDITION: funds short`.
pub fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Whether a failed call may simply be sent again: the service was unreachable (down,
/// restarting, or killed with the call in flight), the connection broke, or the call timed
/// out. Any answer the service itself gave (bad input, not found, funds short...) is final.
pub fn is_transient(error: &anyhow::Error) -> bool {
    if let Some(status) = error.downcast_ref::<Status>() {
        return match status.code() {
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded => true,
            // hyper/h2 report a connection reset mid-call as INTERNAL.
            Code::Internal => {
                let message = status.message();
                message.contains("h2 protocol error")
                    || message.contains("transport error")
                    || message.contains("connection")
            }
            _ => false,
        };
    }
    error.downcast_ref::<tonic::transport::Error>().is_some()
        || error
            .downcast_ref::<tokio::time::error::Elapsed>()
            .is_some()
}

/// How a client retries a call that failed in transit.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Each attempt is given up after this long (a call to a killed service can hang).
    pub attempt_timeout: std::time::Duration,
    /// Pause between attempts.
    pub pause: std::time::Duration,
    /// Give up (with the last error) after this long in all.
    pub give_up_after: std::time::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempt_timeout: std::time::Duration::from_secs(15),
            pause: std::time::Duration::from_millis(50),
            give_up_after: std::time::Duration::from_secs(120),
        }
    }
}

/// Calls `call` until it succeeds or fails with a final answer ([`is_transient`]); the
/// caller makes every attempt the same request (same `request_id`), so a retry after a lost
/// answer gets the first answer. Returns the result and how many attempts failed in transit.
pub async fn retry<T, E, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    mut call: F,
) -> anyhow::Result<(T, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: Into<anyhow::Error>,
{
    let started = std::time::Instant::now();
    let mut failed = 0u32;
    loop {
        let error: anyhow::Error = match tokio::time::timeout(policy.attempt_timeout, call()).await
        {
            Ok(Ok(value)) => return Ok((value, failed)),
            Ok(Err(error)) => error.into(),
            Err(elapsed) => elapsed.into(),
        };
        if !is_transient(&error) {
            return Err(error.context(format!("{what} (after {failed} failed attempts)")));
        }
        failed += 1;
        if started.elapsed() >= policy.give_up_after {
            return Err(error.context(format!(
                "{what}: still failing after {failed} attempts in {:.0?}",
                started.elapsed()
            )));
        }
        tokio::time::sleep(policy.pause).await;
    }
}
