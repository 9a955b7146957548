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
