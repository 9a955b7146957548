//! One store test suite, instantiated for SQLite and PostgreSQL.

use backorder_svc::catalog;
use backorder_svc::domain::account::{AccountId, AccountState, PriceTier};
use backorder_svc::domain::catalog::{BackorderClass, TldName};
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::ledger::invariants;
use backorder_svc::ledger::{HoldState, LedgerError, Movement, MovementRequest, TransferKind};
use backorder_svc::store::{
    AccountChanges, AccountCreation, IdempotencyKey, KeyRole, NewAccount, NewApiKey, PageRequest,
    PriceKey, SharedStore, TransferFilter,
};
use chrono::{DateTime, Utc};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn dollars(cents: i64) -> Money {
    Money::new(usd(), cents)
}

async fn open(store: &SharedStore, name: &str) -> AccountId {
    let new = NewAccount {
        display_name: name.into(),
        currency: usd(),
        price_tier: PriceTier::default_tier(),
    };
    match store
        .create_account(new, None, "test", now())
        .await
        .unwrap()
    {
        AccountCreation::Created(account) => account.id,
        other => panic!("{other:?}"),
    }
}

fn request(id: &str, movement: Movement) -> MovementRequest {
    MovementRequest {
        scope: "operator".into(),
        request_id: id.into(),
        movement,
        memo: String::new(),
        actor: "test".into(),
    }
}

async fn assert_invariants(store: &SharedStore) {
    let snapshot = store.ledger_snapshot().await.unwrap();
    for result in invariants::check(&snapshot) {
        assert!(result.holds(), "{}: {:?}", result.name, result.violations);
    }
}

async fn accounts_open_at_zero_and_page(store: SharedStore) {
    let a = open(&store, "a").await;
    let b = open(&store, "b").await;
    let view = store.balance(a).await.unwrap().unwrap();
    assert_eq!(
        (
            view.balance.minor,
            view.reserved.minor,
            view.available.minor
        ),
        (0, 0, 0)
    );
    let (first, total) = store
        .list_accounts(PageRequest {
            after: None,
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!((first.len(), total), (1, 2));
    assert_eq!(first[0].id, a);
    let (second, _) = store
        .list_accounts(PageRequest {
            after: Some(a.0),
            limit: 1,
        })
        .await
        .unwrap();
    assert_eq!(second[0].id, b);
    let updated = store
        .update_account(
            b,
            AccountChanges {
                state: Some(AccountState::Suspended),
                ..Default::default()
            },
            "test",
            now(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.state, AccountState::Suspended);
}

async fn account_creation_is_idempotent(store: SharedStore) {
    let key = IdempotencyKey {
        scope: "operator".into(),
        request_id: "open-1".into(),
    };
    let new = NewAccount {
        display_name: "x".into(),
        currency: usd(),
        price_tier: PriceTier::default_tier(),
    };
    let first = store
        .create_account(new.clone(), Some(key.clone()), "t", now())
        .await
        .unwrap();
    let again = store
        .create_account(new.clone(), Some(key.clone()), "t", now())
        .await
        .unwrap();
    let (AccountCreation::Created(a), AccountCreation::Replayed(b)) = (first, again) else {
        panic!("expected created then replayed");
    };
    assert_eq!(a, b);
    let other = NewAccount {
        display_name: "y".into(),
        ..new
    };
    assert_eq!(
        store
            .create_account(other, Some(key), "t", now())
            .await
            .unwrap(),
        AccountCreation::Conflict
    );
    assert_eq!(
        store
            .list_accounts(PageRequest {
                after: None,
                limit: 10
            })
            .await
            .unwrap()
            .1,
        1
    );
}

async fn deposits_and_withdrawals_move_the_balance(store: SharedStore) {
    let a = open(&store, "a").await;
    store
        .execute_movement(
            request(
                "d1",
                Movement::Deposit {
                    account: a,
                    amount: dollars(10_000),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    store
        .execute_movement(
            request(
                "w1",
                Movement::Withdrawal {
                    account: a,
                    amount: dollars(2_500),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    store
        .execute_movement(
            request(
                "adj",
                Movement::Adjustment {
                    account: a,
                    amount: dollars(-500),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    let view = store.balance(a).await.unwrap().unwrap();
    assert_eq!(view.balance.minor, 7_000);
    let history = store
        .list_transfers(
            a,
            TransferFilter::default(),
            PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        history.iter().map(|t| t.kind).collect::<Vec<_>>(),
        vec![
            TransferKind::Adjustment,
            TransferKind::Withdrawal,
            TransferKind::Deposit
        ]
    );
    let audit = store
        .list_audit(
            Default::default(),
            PageRequest {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.transfer_id.is_some()).count(),
        3,
        "one audit row per movement"
    );
    assert_invariants(&store).await;
}

async fn short_funds_are_refused_and_remembered(store: SharedStore) {
    let a = open(&store, "a").await;
    let err = store
        .execute_movement(
            request(
                "w",
                Movement::Withdrawal {
                    account: a,
                    amount: dollars(100),
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::InsufficientFunds { .. }),
        "{err:?}"
    );
    store
        .execute_movement(
            request(
                "d",
                Movement::Deposit {
                    account: a,
                    amount: dollars(1_000),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    // The same id keeps its first outcome even though the money is there now.
    let again = store
        .execute_movement(
            request(
                "w",
                Movement::Withdrawal {
                    account: a,
                    amount: dollars(100),
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(again, LedgerError::InsufficientFunds { .. }),
        "{again:?}"
    );
    assert_eq!(
        store.balance(a).await.unwrap().unwrap().balance.minor,
        1_000
    );
    assert_invariants(&store).await;
}

async fn retries_return_the_first_answer(store: SharedStore) {
    let a = open(&store, "a").await;
    let deposit = Movement::Deposit {
        account: a,
        amount: dollars(500),
    };
    let first = store
        .execute_movement(request("same", deposit.clone()), now())
        .await
        .unwrap();
    let second = store
        .execute_movement(request("same", deposit), now())
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(store.balance(a).await.unwrap().unwrap().balance.minor, 500);
    let conflict = store
        .execute_movement(
            request(
                "same",
                Movement::Deposit {
                    account: a,
                    amount: dollars(501),
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(conflict, LedgerError::IdempotencyConflict(_)),
        "{conflict:?}"
    );
}

async fn holds_resolve_exactly_once(store: SharedStore) {
    let a = open(&store, "a").await;
    store
        .execute_movement(
            request(
                "d",
                Movement::Deposit {
                    account: a,
                    amount: dollars(5_000),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    let hold = store
        .execute_movement(
            request(
                "h1",
                Movement::Hold {
                    account: a,
                    amount: dollars(3_000),
                    backorder_id: Some(7),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    let view = store.balance(a).await.unwrap().unwrap();
    assert_eq!(
        (
            view.balance.minor,
            view.reserved.minor,
            view.available.minor
        ),
        (5_000, 3_000, 2_000)
    );
    let over = store
        .execute_movement(
            request(
                "h2",
                Movement::Hold {
                    account: a,
                    amount: dollars(2_001),
                    backorder_id: None,
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(over, LedgerError::InsufficientFunds { .. }));
    let too_much = store
        .execute_movement(
            request(
                "c0",
                Movement::Capture {
                    hold_id: hold.id,
                    amount: Some(dollars(3_001)),
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(too_much, LedgerError::CaptureExceedsHold { .. }));
    store
        .execute_movement(
            request(
                "c1",
                Movement::Capture {
                    hold_id: hold.id,
                    amount: Some(dollars(1_000)),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    let view = store.balance(a).await.unwrap().unwrap();
    assert_eq!(
        (view.balance.minor, view.reserved.minor),
        (4_000, 0),
        "the rest was released"
    );
    for (id, movement) in [
        (
            "c2",
            Movement::Capture {
                hold_id: hold.id,
                amount: None,
            },
        ),
        ("r1", Movement::Release { hold_id: hold.id }),
    ] {
        let err = store
            .execute_movement(request(id, movement), now())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::HoldAlreadyResolved(_)),
            "{err:?}"
        );
    }
    assert_eq!(
        store
            .get_transfer(hold.id)
            .await
            .unwrap()
            .unwrap()
            .hold_state,
        Some(HoldState::Posted)
    );
    assert_invariants(&store).await;
}

async fn concurrent_holds_never_overspend(store: SharedStore) {
    let a = open(&store, "a").await;
    store
        .execute_movement(
            request(
                "d",
                Movement::Deposit {
                    account: a,
                    amount: dollars(1_000),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .execute_movement(
                        request(
                            &format!("h{i}"),
                            Movement::Hold {
                                account: a,
                                amount: dollars(100),
                                backorder_id: Some(i),
                            },
                        ),
                        now(),
                    )
                    .await
            })
        })
        .collect();
    let mut placed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => placed += 1,
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(placed, 10);
    assert_eq!(store.balance(a).await.unwrap().unwrap().available.minor, 0);
    assert_invariants(&store).await;
}

async fn closed_accounts_take_no_money(store: SharedStore) {
    let a = open(&store, "a").await;
    store
        .execute_movement(
            request(
                "d",
                Movement::Deposit {
                    account: a,
                    amount: dollars(100),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    store
        .update_account(
            a,
            AccountChanges {
                state: Some(AccountState::Closed),
                ..Default::default()
            },
            "t",
            now(),
        )
        .await
        .unwrap();
    let err = store
        .execute_movement(
            request(
                "d2",
                Movement::Deposit {
                    account: a,
                    amount: dollars(100),
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerError::AccountClosed(_)));
    // Paying out what is left still works.
    store
        .execute_movement(
            request(
                "w",
                Movement::Withdrawal {
                    account: a,
                    amount: dollars(100),
                },
            ),
            now(),
        )
        .await
        .unwrap();
    let missing = store
        .execute_movement(
            request(
                "x",
                Movement::Deposit {
                    account: AccountId(999),
                    amount: dollars(1),
                },
            ),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(missing, LedgerError::AccountNotFound(_)));
}

async fn api_keys_are_found_by_hash_and_revoked(store: SharedStore) {
    let key = |hash: &str| NewApiKey {
        role: KeyRole::Operator,
        account_id: None,
        label: "l".into(),
        prefix: "bo_1234".into(),
        secret_hash: hash.into(),
    };
    let first = store
        .insert_first_operator_key(key("h1"), now())
        .await
        .unwrap();
    assert!(first.is_some());
    assert!(
        store
            .insert_first_operator_key(key("h2"), now())
            .await
            .unwrap()
            .is_none(),
        "bootstrap happens once"
    );
    let found = store.find_api_key_by_hash("h1").await.unwrap().unwrap();
    let revoked = store
        .revoke_api_key(found.id, "test", now())
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.find_api_key_by_hash("h2").await.unwrap().is_none());
}

async fn the_catalog_is_seeded_once(store: SharedStore) {
    let (tlds, prices) = catalog::parse(catalog::DEFAULT_CATALOG).unwrap();
    assert!(store.seed_catalog_once(&tlds, &prices).await.unwrap());
    let se = TldName::parse("se").unwrap();
    assert!(
        store
            .get_tld(&se)
            .await
            .unwrap()
            .unwrap()
            .first_come_first_served
    );
    assert!(store.delete_tld(&se, "t", now()).await.unwrap());
    assert!(!store.seed_catalog_once(&tlds, &prices).await.unwrap());
    assert!(
        store.get_tld(&se).await.unwrap().is_none(),
        "the operator's deletion stands"
    );
    let key = PriceKey {
        tier: PriceTier::default_tier(),
        tld: TldName::parse("com").unwrap(),
        class: BackorderClass::Backorder,
        currency: usd(),
    };
    assert_eq!(
        store.get_price(&key).await.unwrap().unwrap().amount.minor,
        3_000
    );
    let (page, total) = store
        .list_tlds(PageRequest {
            after: None,
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 5);
    assert_eq!(total as usize, tlds.len() - 1);
}

async fn events_append_in_order_and_dedupe(store: SharedStore) {
    use backorder_svc::domain::event::{EventType, NewEvent};
    let a = open(&store, "a").await;
    let b = open(&store, "b").await;
    let mut low = NewEvent::new(a, EventType::LowBalance, now(), "funds short for order 1");
    low.dedupe_key = Some("low_balance:1".into());
    let first = store.append_event(&low).await.unwrap();
    assert!(first.is_some());
    assert_eq!(
        store.append_event(&low).await.unwrap(),
        None,
        "a deduplicated event is recorded once"
    );
    store
        .append_event(&NewEvent::new(b, EventType::AlertMatch, now(), "x.com"))
        .await
        .unwrap();
    store
        .append_event(&NewEvent::new(a, EventType::StatusChanged, now(), "y"))
        .await
        .unwrap();
    let mine = store.list_events(Some(a), 0, 10).await.unwrap();
    assert_eq!(
        mine.iter().map(|e| e.event.kind).collect::<Vec<_>>(),
        vec![EventType::LowBalance, EventType::StatusChanged]
    );
    let after = store.list_events(Some(a), mine[0].id, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(store.list_events(None, 0, 10).await.unwrap().len(), 3);
}

macro_rules! store_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    let store = backorder_svc::store::connect(&db.url).await.unwrap();
                    super::$test(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    let store = backorder_svc::store::connect(&db.url).await.unwrap();
                    super::$test(store).await;
                }
            )*
        }
    };
}

store_suite!(
    accounts_open_at_zero_and_page,
    account_creation_is_idempotent,
    deposits_and_withdrawals_move_the_balance,
    short_funds_are_refused_and_remembered,
    retries_return_the_first_answer,
    holds_resolve_exactly_once,
    concurrent_holds_never_overspend,
    closed_accounts_take_no_money,
    api_keys_are_found_by_hash_and_revoked,
    the_catalog_is_seeded_once,
    events_append_in_order_and_dedupe,
);
