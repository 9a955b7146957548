//! The service over gRPC with a manual clock, as the order-lifecycle and auction suites drive
//! it: accounts with keys and deposits, drop-list imports, orders, clock moves with a
//! scheduler pass, the ledger check. Each suite includes it with `mod app_common;`.
#![allow(dead_code)]

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::testkit::with_key;
use chrono::{DateTime, Utc};
use pb::account_service_client::AccountServiceClient;
use pb::backorder_service_client::BackorderServiceClient;
use pb::drop_list_service_client::DropListServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

pub const REGULAR: pb::BackorderClass = pb::BackorderClass::Backorder;
pub const LITE: pb::BackorderClass = pb::BackorderClass::Litebackorder;

pub fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

pub struct App {
    pub channel: Channel,
    pub operator: String,
    pub clock: Arc<ManualClock>,
    pub server: backorder_svc::testkit::TestServer,
    /// The database, for tests that must write what the API refuses (rows from older
    /// versions).
    pub url: String,
}

pub async fn spawn_app(url: &str) -> App {
    let manual = Arc::new(ManualClock::new(at("2026-12-01T00:00:00Z")));
    let clock: SharedClock = manual.clone();
    let server = backorder_svc::testkit::serve(url, clock, None).await;
    App {
        channel: server.channel.clone(),
        operator: server.operator_key.clone(),
        clock: manual,
        server,
        url: url.to_string(),
    }
}

impl App {
    pub fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }
    pub fn orders(&self) -> BackorderServiceClient<Channel> {
        BackorderServiceClient::new(self.channel.clone())
    }
    pub fn operator_api(&self) -> OperatorServiceClient<Channel> {
        OperatorServiceClient::new(self.channel.clone())
    }

    /// An account with `deposit` USD and its key.
    pub async fn account(&self, deposit: &str) -> (String, String) {
        let account = self
            .accounts()
            .create_account(with_key(
                &self.operator,
                pb::CreateAccountRequest {
                    display_name: "reseller".into(),
                    currency_code: "USD".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let key = self
            .accounts()
            .create_api_key(with_key(
                &self.operator,
                pb::CreateApiKeyRequest {
                    role: pb::ApiKeyRole::Account as i32,
                    account_id: account.id.clone(),
                    label: "t".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .secret;
        if deposit != "0" {
            self.deposit(&account.id, deposit).await;
        }
        (account.id, key)
    }

    pub async fn deposit(&self, account: &str, amount: &str) {
        self.accounts()
            .create_deposit(with_key(
                &self.operator,
                pb::CreateDepositRequest {
                    account_id: account.into(),
                    amount: Some(pb::Money {
                        currency_code: "USD".into(),
                        amount: amount.into(),
                    }),
                    request_id: format!("dep-{account}-{amount}-{}", rand_suffix()),
                    memo: String::new(),
                },
            ))
            .await
            .unwrap();
    }

    pub async fn balance(&self, key: &str) -> (String, String) {
        let b = self
            .accounts()
            .get_balance(with_key(key, pb::GetBalanceRequest::default()))
            .await
            .unwrap()
            .into_inner();
        (b.balance.unwrap().amount, b.reserved.unwrap().amount)
    }

    /// Puts names on the drop list (`full`: the file is the whole list of its zones).
    pub async fn drop_list(&self, lines: &[(&str, &str)], full: bool) {
        let content: String = lines.iter().map(|(d, t)| format!("{d};{t}\n")).collect();
        let mut progress = DropListServiceClient::new(self.channel.clone())
            .import_file(with_key(
                &self.operator,
                pb::ImportFileRequest {
                    content: content.into_bytes(),
                    format: pb::ImportFileFormat::Csv as i32,
                    file_name: "test.csv".into(),
                    full_list: full,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        let mut last = None;
        while let Some(message) = progress.next().await {
            last = Some(message.unwrap());
        }
        let last = last.unwrap();
        assert!(last.done && last.bad_lines == 0, "{last:?}");
    }

    pub async fn place(
        &self,
        key: &str,
        domain: &str,
        class: pb::BackorderClass,
    ) -> Result<pb::CreateBackorderResponse, tonic::Status> {
        self.orders()
            .create_backorder(with_key(
                key,
                pb::CreateBackorderRequest {
                    domain: domain.into(),
                    class: class as i32,
                    ..Default::default()
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn order(&self, key: &str, id: &str) -> pb::Backorder {
        self.orders()
            .get_backorder(with_key(
                key,
                pb::GetBackorderRequest {
                    backorder_id: id.into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn status(&self, key: &str, id: &str) -> pb::BackorderStatus {
        pb::BackorderStatus::try_from(self.order(key, id).await.status).unwrap()
    }

    /// Moves the manual clock to `time` (RFC 3339) and runs a scheduler pass.
    pub async fn set_time(&self, time: &str) -> pb::RunSchedulerResponse {
        self.clock.set(at(time)).unwrap();
        self.operator_api()
            .run_scheduler(with_key(&self.operator, pb::RunSchedulerRequest {}))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn ledger_ok(&self) {
        let report = self
            .operator_api()
            .check_ledger(with_key(&self.operator, pb::CheckLedgerRequest {}))
            .await
            .unwrap()
            .into_inner();
        assert!(report.ok, "{:?}", report.invariants);
    }
}

pub fn rand_suffix() -> u64 {
    rand::random()
}
