//! Money at the edges, over gRPC on both backends: concurrent deposits and withdrawals on one
//! account (no deadlock, no error, exact result), amounts past the documented bound, and
//! lenient decimal syntax the API promises to refuse (docs/ledger.md).

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::testkit::with_key;
use pb::account_service_client::AccountServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::sync::Arc;
use tonic::Code;

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

async fn open_account(app: &App, name: &str) -> String {
    AccountServiceClient::new(app.channel.clone())
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
        .into_inner()
        .id
}

async fn deposit(app: &App, account: &str, amount: &str, id: &str) -> Result<(), tonic::Status> {
    AccountServiceClient::new(app.channel.clone())
        .create_deposit(with_key(
            &app.operator_key,
            pb::CreateDepositRequest {
                account_id: account.into(),
                amount: usd(amount),
                request_id: id.into(),
                memo: String::new(),
            },
        ))
        .await
        .map(|_| ())
}

async fn withdraw(app: &App, account: &str, amount: &str, id: &str) -> Result<(), tonic::Status> {
    AccountServiceClient::new(app.channel.clone())
        .create_withdrawal(with_key(
            &app.operator_key,
            pb::CreateWithdrawalRequest {
                account_id: account.into(),
                amount: usd(amount),
                request_id: id.into(),
                memo: String::new(),
            },
        ))
        .await
        .map(|_| ())
}

async fn adjust(app: &App, account: &str, amount: &str, id: &str) -> Result<(), tonic::Status> {
    AccountServiceClient::new(app.channel.clone())
        .create_adjustment(with_key(
            &app.operator_key,
            pb::CreateAdjustmentRequest {
                account_id: account.into(),
                amount: usd(amount),
                request_id: id.into(),
                memo: "test".into(),
            },
        ))
        .await
        .map(|_| ())
}

async fn balance_of(app: &App, account: &str) -> String {
    AccountServiceClient::new(app.channel.clone())
        .get_balance(with_key(
            &app.operator_key,
            pb::GetBalanceRequest {
                account_id: account.into(),
            },
        ))
        .await
        .expect("GetBalance")
        .into_inner()
        .balance
        .unwrap()
        .amount
}

async fn assert_ledger_ok(app: &App) {
    let report = OperatorServiceClient::new(app.channel.clone())
        .check_ledger(with_key(&app.operator_key, pb::CheckLedgerRequest {}))
        .await
        .expect("CheckLedger")
        .into_inner();
    assert!(report.ok, "{:?}", report.invariants);
}

const TASKS: usize = 8;
const CALLS: usize = 50;

/// 8 tasks x 50 calls on one account, deposits and withdrawals interleaved: before the lock
/// order fix PostgreSQL deadlocked (INTERNAL) on most of them.
async fn mixed_deposits_and_withdrawals_on_one_account(app: App) {
    let account = open_account(&app, "busy").await;
    // Enough that no withdrawal can be short whatever the interleaving.
    deposit(&app, &account, "10000.00", "seed").await.unwrap();
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let app = app.clone();
        let account = account.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            for call in 0..CALLS {
                let id = format!("t{task}-c{call}");
                let result = if (task + call) % 2 == 0 {
                    deposit(&app, &account, "1.00", &id).await
                } else {
                    withdraw(&app, &account, "0.50", &id).await
                };
                if let Err(status) = result {
                    errors.push(format!("{id}: {:?} {}", status.code(), status.message()));
                }
            }
            errors
        }));
    }
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.unwrap());
    }
    assert!(
        errors.is_empty(),
        "{} of {} calls failed, e.g. {:?}",
        errors.len(),
        TASKS * CALLS,
        &errors[..errors.len().min(5)]
    );
    // Half deposits of 1.00, half withdrawals of 0.50: +100.00 net over 400 calls.
    assert_eq!(balance_of(&app, &account).await, "10100.00");
    assert_ledger_ok(&app).await;
}

/// A deposit at i64::MAX minor units, two that together pass it, and a negative adjustment at
/// i64::MIN: refused before the database with a clear code, the ledger still fine afterwards.
async fn huge_amounts_are_refused_and_the_ledger_stays_fine(app: App) {
    let account = open_account(&app, "rich").await;
    let other = open_account(&app, "other").await;
    deposit(&app, &other, "5.00", "other-seed").await.unwrap();
    for (what, amount) in [
        ("i64::MAX", "92233720368547758.07"),
        ("half of it", "46116860184273879.04"),
        ("just past the bound", "100000000000.01"),
    ] {
        let status = deposit(&app, &account, amount, &format!("huge-{what}"))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{what}: {}",
            status.message()
        );
        assert!(
            status.message().starts_with("amount.amount:") && status.message().contains("at most"),
            "{what}: {}",
            status.message()
        );
    }
    let status = adjust(&app, &account, "-92233720368547758.08", "neg-huge")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    assert!(
        status.message().starts_with("amount.amount:"),
        "{}",
        status.message()
    );
    // The bound itself is a valid amount; the counter bound (100 x the amount bound) stops
    // the deposits before any counter can overflow: cash's debits reach it first.
    let mut accepted = 0u64;
    let refusal = loop {
        match deposit(
            &app,
            &account,
            "100000000000.00",
            &format!("at-bound-{accepted}"),
        )
        .await
        {
            Ok(()) => accepted += 1,
            Err(status) => break status,
        }
        assert!(accepted <= 100, "the counter bound never stopped a deposit");
    };
    assert_eq!(
        refusal.code(),
        Code::FailedPrecondition,
        "{}",
        refusal.message()
    );
    assert!(refusal.message().contains("limit"), "{}", refusal.message());
    assert!(
        accepted >= 99,
        "only {accepted} deposits at the bound accepted"
    );
    assert_eq!(
        balance_of(&app, &account).await,
        format!("{}.00", 100_000_000_000u64 * accepted)
    );
    assert_eq!(balance_of(&app, &other).await, "5.00");
    assert_ledger_ok(&app).await;
}

/// Each lenient spelling the API promises to refuse, as a deposit: INVALID_ARGUMENT naming the
/// field and the rule, nothing moved, and a long bad value quoted only by a short prefix.
async fn lenient_amounts_are_refused(app: App) {
    let account = open_account(&app, "strict").await;
    let long = "9".repeat(10_000);
    let cases = [
        " 1.00", "1.00 ", "+1.00", "1.", "00001.00", "01", "1.001", "1.000", ".5", "1e3", "1_0",
        "١", "0x10", &long,
    ];
    for (n, amount) in cases.iter().enumerate() {
        let status = deposit(&app, &account, amount, &format!("lenient-{n}"))
            .await
            .unwrap_err();
        let shown = &amount[..amount.len().min(20)];
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{shown:?}: {}",
            status.message()
        );
        assert!(
            status.message().starts_with("amount.amount:"),
            "{shown:?}: {}",
            status.message()
        );
        assert!(
            status.message().len() < 300,
            "{shown:?}: message of {} bytes",
            status.message().len()
        );
    }
    assert_eq!(balance_of(&app, &account).await, "0.00");
    deposit(&app, &account, "1.5", "fine").await.unwrap();
    assert_eq!(balance_of(&app, &account).await, "1.50");
    assert_ledger_ok(&app).await;
}

macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    super::$test(super::spawn_app(&db.url).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    super::$test(super::spawn_app(&db.url).await).await;
                }
            )*
        }
    };
}

suite!(
    mixed_deposits_and_withdrawals_on_one_account,
    huge_amounts_are_refused_and_the_ledger_stays_fine,
    lenient_amounts_are_refused,
);
