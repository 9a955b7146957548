//! The gRPC API over real TCP on 127.0.0.1 port 0: authentication, roles, account scoping,
//! and bad input, on both backends.

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::testkit::with_key;
use pb::account_service_client::AccountServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::sync::Arc;
use tonic::{Code, Request};

type App = backorder_svc::testkit::TestServer;

async fn spawn_app(url: &str) -> App {
    let clock: SharedClock = Arc::new(SystemClock);
    backorder_svc::testkit::serve(url, clock, None).await
}

fn usd(amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "USD".into(),
        amount: amount.into(),
    })
}

async fn open_account(app: &App, name: &str) -> (String, String) {
    let mut accounts = AccountServiceClient::new(app.channel.clone());
    let account = accounts
        .create_account(with_key(
            &app.operator_key,
            pb::CreateAccountRequest {
                display_name: name.into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let key = accounts
        .create_api_key(with_key(
            &app.operator_key,
            pb::CreateApiKeyRequest {
                role: pb::ApiKeyRole::Account as i32,
                account_id: account.id.clone(),
                label: "test".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    (account.id, key.secret)
}

async fn deposit(
    app: &App,
    account: &str,
    amount: &str,
    request_id: &str,
) -> Result<pb::Transfer, tonic::Status> {
    AccountServiceClient::new(app.channel.clone())
        .create_deposit(with_key(
            &app.operator_key,
            pb::CreateDepositRequest {
                account_id: account.into(),
                amount: usd(amount),
                request_id: request_id.into(),
                memo: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn balance(app: &App, key: &str, account: &str) -> Result<pb::Balance, tonic::Status> {
    AccountServiceClient::new(app.channel.clone())
        .get_balance(with_key(
            key,
            pb::GetBalanceRequest {
                account_id: account.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn deposit_and_read_the_balance(app: App) {
    let (account, key) = open_account(&app, "reseller").await;
    deposit(&app, &account, "100.00", "dep-1").await.unwrap();
    let again = deposit(&app, &account, "100.00", "dep-1").await.unwrap();
    let view = balance(&app, &key, "").await.unwrap();
    assert_eq!(
        view.balance.unwrap().amount,
        "100.00",
        "the retry did not deposit twice"
    );
    assert_eq!(view.available.unwrap().amount, "100.00");
    assert_eq!(again.request_id, "dep-1");
    let health = tonic_health::pb::health_client::HealthClient::new(app.channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        health.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let report = OperatorServiceClient::new(app.channel.clone())
        .check_ledger(with_key(&app.operator_key, pb::CheckLedgerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(report.ok, "{:?}", report.invariants);
    assert_eq!(report.client_balances[0].amount, "100.00");
}

async fn keys_are_checked_on_every_call(app: App) {
    let (account, key) = open_account(&app, "a").await;
    let (other, _) = open_account(&app, "b").await;
    let mut accounts = AccountServiceClient::new(app.channel.clone());
    let missing = accounts
        .get_balance(Request::new(pb::GetBalanceRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(
        missing.message().contains("authorization"),
        "{}",
        missing.message()
    );
    let wrong = balance(&app, "bo_not-a-key", "").await.unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let foreign = balance(&app, &key, &other).await.unwrap_err();
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let operator_call = accounts
        .create_deposit(with_key(
            &key,
            pb::CreateDepositRequest {
                account_id: account.clone(),
                amount: usd("5"),
                request_id: "x".into(),
                memo: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(operator_call.code(), Code::PermissionDenied);
    let keys = accounts
        .list_api_keys(with_key(&key, pb::ListApiKeysRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(keys.api_keys.len(), 1, "an account sees only its own keys");
    accounts
        .revoke_api_key(with_key(
            &app.operator_key,
            pb::RevokeApiKeyRequest {
                api_key_id: keys.api_keys[0].id.clone(),
            },
        ))
        .await
        .unwrap();
    let revoked = balance(&app, &key, "").await.unwrap_err();
    assert_eq!(revoked.code(), Code::Unauthenticated);
    assert!(revoked.message().contains("revoked"));
}

async fn bad_input_is_refused_and_changes_nothing(app: App) {
    let (account, key) = open_account(&app, "a").await;
    deposit(&app, &account, "10.00", "seed").await.unwrap();
    let cases: [(&str, Option<pb::Money>, &str, Code, &str); 7] = [
        (
            "zero",
            usd("0"),
            "r1",
            Code::InvalidArgument,
            "amount.amount",
        ),
        (
            "negative",
            usd("-1.00"),
            "r2",
            Code::InvalidArgument,
            "amount.amount",
        ),
        (
            "over-precise",
            usd("1.001"),
            "r3",
            Code::InvalidArgument,
            "decimal places",
        ),
        (
            "unknown currency",
            Some(pb::Money {
                currency_code: "XYZ".into(),
                amount: "1".into(),
            }),
            "r4",
            Code::InvalidArgument,
            "amount.currency_code",
        ),
        (
            "other currency",
            Some(pb::Money {
                currency_code: "EUR".into(),
                amount: "1".into(),
            }),
            "r5",
            Code::InvalidArgument,
            "account's currency",
        ),
        (
            "no request id",
            usd("1"),
            "",
            Code::InvalidArgument,
            "request_id",
        ),
        (
            "reused request id",
            usd("11.00"),
            "seed",
            Code::AlreadyExists,
            "request_id",
        ),
    ];
    for (what, amount, request_id, code, needle) in cases {
        let status = AccountServiceClient::new(app.channel.clone())
            .create_deposit(with_key(
                &app.operator_key,
                pb::CreateDepositRequest {
                    account_id: account.clone(),
                    amount,
                    request_id: request_id.into(),
                    memo: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{what}: {}", status.message());
        assert!(
            status.message().contains(needle),
            "{what}: {}",
            status.message()
        );
    }
    let unknown = deposit(&app, "99999", "1", "r6").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let overdraw = AccountServiceClient::new(app.channel.clone())
        .create_withdrawal(with_key(
            &app.operator_key,
            pb::CreateWithdrawalRequest {
                account_id: account.clone(),
                amount: usd("10.01"),
                request_id: "w".into(),
                memo: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(overdraw.code(), Code::FailedPrecondition);
    let bad_currency = AccountServiceClient::new(app.channel.clone())
        .create_account(with_key(
            &app.operator_key,
            pb::CreateAccountRequest {
                display_name: "x".into(),
                currency_code: "usd".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_currency.code(), Code::InvalidArgument);
    assert!(
        bad_currency.message().starts_with("currency_code:"),
        "{}",
        bad_currency.message()
    );
    let view = balance(&app, &key, "").await.unwrap();
    assert_eq!(view.balance.unwrap().amount, "10.00", "nothing changed");
}

macro_rules! api_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    super::$test(super::spawn_app(&db.url).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    super::$test(super::spawn_app(&db.url).await).await;
                }
            )*
        }
    };
}

api_suite!(
    deposit_and_read_the_balance,
    keys_are_checked_on_every_call,
    bad_input_is_refused_and_changes_nothing,
);
