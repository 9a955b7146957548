//! Property test of the ledger on both backends: random sequences of deposits, withdrawals,
//! holds, captures, releases and same-id retries, checked after every step against a plain
//! reference model and against every invariant of spec/ledger.md.
//!
//! Cases per backend: `LEDGER_PROPTEST_CASES` (default 24; try 10000 for a long local run).

use backorder_svc::domain::account::{AccountId, PriceTier};
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::ledger::{LedgerError, Movement, MovementRequest, invariants};
use backorder_svc::store::{AccountCreation, NewAccount, SharedStore};
use chrono::{DateTime, Utc};
use proptest::prelude::*;

const ACCOUNTS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        account: usize,
        cents: i64,
    },
    Withdraw {
        account: usize,
        cents: i64,
    },
    Hold {
        account: usize,
        cents: i64,
    },
    /// Capture `percent` of a hold (100 = in full).
    Capture {
        hold: usize,
        percent: i64,
    },
    Release {
        hold: usize,
    },
    /// Send an earlier request again with the same id.
    Retry {
        earlier: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let account = 0..ACCOUNTS;
    let cents = 1i64..5_000;
    prop_oneof![
        3 => (account.clone(), cents.clone()).prop_map(|(account, cents)| Op::Deposit { account, cents }),
        2 => (account.clone(), cents.clone()).prop_map(|(account, cents)| Op::Withdraw { account, cents }),
        3 => (account, cents).prop_map(|(account, cents)| Op::Hold { account, cents }),
        2 => (0usize..16, 0i64..=100).prop_map(|(hold, percent)| Op::Capture { hold, percent }),
        2 => (0usize..16).prop_map(|hold| Op::Release { hold }),
        2 => (0usize..64).prop_map(|earlier| Op::Retry { earlier }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum HoldModel {
    Pending,
    Resolved,
}

/// The reference: balances and holds kept in plain integers.
#[derive(Debug, Default)]
struct Model {
    balance: [i64; ACCOUNTS],
    reserved: [i64; ACCOUNTS],
    /// (account, amount, state, transfer id)
    holds: Vec<(usize, i64, HoldModel, i64)>,
}

/// An outcome as the test compares it.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Transfer(i64),
    ShortFunds,
    AlreadyResolved,
}

fn outcome(result: Result<backorder_svc::ledger::Transfer, LedgerError>) -> Outcome {
    match result {
        Ok(transfer) => Outcome::Transfer(transfer.id),
        Err(LedgerError::InsufficientFunds { .. }) => Outcome::ShortFunds,
        Err(LedgerError::HoldAlreadyResolved(_)) => Outcome::AlreadyResolved,
        Err(other) => panic!("unexpected ledger error: {other:?}"),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

async fn run_case(store: SharedStore, ops: Vec<Op>) {
    let usd = Currency::parse("USD").unwrap();
    let money = |cents| Money::new(usd, cents);
    let mut ids = Vec::new();
    for i in 0..ACCOUNTS {
        let new = NewAccount {
            display_name: format!("a{i}"),
            currency: usd,
            price_tier: PriceTier::default_tier(),
        };
        match store
            .create_account(new, None, "prop", now())
            .await
            .unwrap()
        {
            AccountCreation::Created(account) => ids.push(account.id),
            other => panic!("{other:?}"),
        }
    }
    let mut model = Model::default();
    let mut sent: Vec<(MovementRequest, Outcome)> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let id = |account: usize| -> AccountId { ids[account] };
        let available = |m: &Model, a: usize| m.balance[a] - m.reserved[a];
        let mut new_hold = None;
        let (movement, expected): (Movement, Option<Outcome>) = match op {
            Op::Retry { earlier } => {
                if sent.is_empty() {
                    continue;
                }
                let (request, first) = sent[earlier % sent.len()].clone();
                let again = outcome(store.execute_movement(request, now()).await);
                assert_eq!(again, first, "step {step}: a retry changed the outcome");
                check(&store, &ids, &model, step).await;
                continue;
            }
            Op::Deposit { account, cents } => {
                model.balance[account] += cents;
                (
                    Movement::Deposit {
                        account: id(account),
                        amount: money(cents),
                    },
                    None,
                )
            }
            Op::Withdraw { account, cents } => {
                let ok = available(&model, account) >= cents;
                if ok {
                    model.balance[account] -= cents;
                }
                (
                    Movement::Withdrawal {
                        account: id(account),
                        amount: money(cents),
                    },
                    (!ok).then_some(Outcome::ShortFunds),
                )
            }
            Op::Hold { account, cents } => {
                let ok = available(&model, account) >= cents;
                if ok {
                    model.reserved[account] += cents;
                    new_hold = Some((account, cents));
                }
                (
                    Movement::Hold {
                        account: id(account),
                        amount: money(cents),
                        backorder_id: None,
                    },
                    (!ok).then_some(Outcome::ShortFunds),
                )
            }
            Op::Capture { .. } | Op::Release { .. } if model.holds.is_empty() => continue,
            Op::Capture { hold, percent } => {
                let index = hold % model.holds.len();
                let (account, amount, state, hold_id) = model.holds[index];
                let part = amount * percent / 100;
                let expected = match state {
                    HoldModel::Pending => {
                        model.reserved[account] -= amount;
                        model.balance[account] -= part;
                        model.holds[index].2 = HoldModel::Resolved;
                        None
                    }
                    HoldModel::Resolved => Some(Outcome::AlreadyResolved),
                };
                (
                    Movement::Capture {
                        hold_id,
                        amount: Some(money(part)),
                    },
                    expected,
                )
            }
            Op::Release { hold } => {
                let index = hold % model.holds.len();
                let (account, amount, state, hold_id) = model.holds[index];
                let expected = match state {
                    HoldModel::Pending => {
                        model.reserved[account] -= amount;
                        model.holds[index].2 = HoldModel::Resolved;
                        None
                    }
                    HoldModel::Resolved => Some(Outcome::AlreadyResolved),
                };
                (Movement::Release { hold_id }, expected)
            }
        };
        let request = MovementRequest {
            scope: "operator".into(),
            request_id: format!("step-{step}"),
            movement: movement.clone(),
            memo: String::new(),
            actor: "prop".into(),
        };
        let got = outcome(store.execute_movement(request.clone(), now()).await);
        match (&expected, &got) {
            (None, Outcome::Transfer(transfer_id)) => {
                if let Some((account, cents)) = new_hold {
                    model
                        .holds
                        .push((account, cents, HoldModel::Pending, *transfer_id));
                }
            }
            (Some(want), got) => assert_eq!(want, got, "step {step}: {movement:?}"),
            (None, got) => panic!("step {step}: {movement:?} should succeed, got {got:?}"),
        }
        sent.push((request, got));
        check(&store, &ids, &model, step).await;
    }
}

async fn check(store: &SharedStore, ids: &[AccountId], model: &Model, step: usize) {
    for (i, id) in ids.iter().enumerate() {
        let view = store.balance(*id).await.unwrap().unwrap();
        assert_eq!(
            (view.balance.minor, view.reserved.minor),
            (model.balance[i], model.reserved[i]),
            "step {step}: account {i} differs from the model"
        );
        assert!(view.available.minor >= 0);
    }
    let snapshot = store.ledger_snapshot().await.unwrap();
    for result in invariants::check(&snapshot) {
        assert!(
            result.holds(),
            "step {step}: {}: {:?}",
            result.name,
            result.violations
        );
    }
}

fn cases() -> u32 {
    std::env::var("LEDGER_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn sqlite_ledger_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        runtime().block_on(async {
            let db = backorder_svc::testkit::sqlite();
            let store = backorder_svc::store::connect(&db.url).await.unwrap();
            run_case(store, ops).await;
        });
    }

    #[test]
    fn postgres_ledger_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        runtime().block_on(async {
            let Some(db) = backorder_svc::testkit::postgres().await else { return };
            let store = backorder_svc::store::connect(&db.url).await.unwrap();
            run_case(store, ops).await;
        });
    }
}
