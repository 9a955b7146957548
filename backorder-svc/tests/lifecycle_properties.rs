//! Property test of the order lifecycle on both backends: random placements, cancels,
//! prepayments, deposits, drop-list changes (schedules, moves, restores), retries and clock
//! moves with scheduler passes. After every step: every status change in the audit log is a
//! transition of the spec's table, and every ledger invariant holds (invariant 4: exactly one
//! pending hold for ACTIVE, PROCESSING and AUCTION_PENDING orders, none otherwise).
//!
//! Cases per backend: `LIFECYCLE_PROPTEST_CASES` (default 16).

use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::domain::account::{Account, AccountId, PriceTier};
use backorder_svc::domain::catalog::BackorderClass;
use backorder_svc::domain::drop_list::DropName;
use backorder_svc::domain::lifecycle::{FailureReason, Status, is_allowed};
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::ledger::{Movement, MovementRequest, invariants};
use backorder_svc::lifecycle::placement::{self, OrderRequest};
use backorder_svc::lifecycle::scheduler;
use backorder_svc::store::drop_list::DropListEntry;
use backorder_svc::store::orders::Placement;
use backorder_svc::store::{
    AccountCreation, AuditFilter, IdempotencyKey, NewAccount, PageRequest, SharedStore,
};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::sync::Arc;

const DOMAINS: [&str; 5] = ["p0.com", "p1.com", "p2.net", "p3.com", "q0.se"];

#[derive(Debug, Clone)]
enum Op {
    Place {
        account: usize,
        domain: usize,
        lite: bool,
        request: Option<u8>,
    },
    Cancel {
        order: usize,
    },
    Pay {
        order: usize,
    },
    Deposit {
        account: usize,
        dollars: i64,
    },
    Schedule {
        domain: usize,
        hours_ahead: i64,
    },
    Restore {
        domain: usize,
    },
    Advance {
        minutes: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..DOMAINS.len(), any::<bool>(), proptest::option::of(0u8..4))
            .prop_map(|(account, domain, lite, request)| Op::Place { account, domain, lite, request }),
        1 => (0..32usize).prop_map(|order| Op::Cancel { order }),
        1 => (0..32usize).prop_map(|order| Op::Pay { order }),
        2 => (0..2usize, 1..80i64).prop_map(|(account, dollars)| Op::Deposit { account, dollars }),
        2 => (0..DOMAINS.len(), 1..100i64).prop_map(|(domain, hours_ahead)| Op::Schedule { domain, hours_ahead }),
        1 => (0..DOMAINS.len()).prop_map(|domain| Op::Restore { domain }),
        4 => (1..3000i64).prop_map(|minutes| Op::Advance { minutes }),
    ]
}

struct World {
    store: SharedStore,
    manual: Arc<ManualClock>,
    clock: SharedClock,
    accounts: Vec<Account>,
    orders: Vec<i64>,
    audit_seen: i64,
}

impl World {
    async fn new(url: &str) -> Self {
        let store = backorder_svc::store::connect(url).await.unwrap();
        let manual = Arc::new(ManualClock::new("2026-12-01T12:00:00Z".parse().unwrap()));
        let clock: SharedClock = manual.clone();
        backorder_svc::bootstrap::first_start(&store, &clock)
            .await
            .unwrap();
        let mut accounts = Vec::new();
        for i in 0..2 {
            let new = NewAccount {
                display_name: format!("r{i}"),
                currency: Currency::parse("USD").unwrap(),
                price_tier: PriceTier::default_tier(),
            };
            match store
                .create_account(new, None, "prop", clock.now())
                .await
                .unwrap()
            {
                AccountCreation::Created(account) => accounts.push(account),
                other => panic!("{other:?}"),
            }
        }
        Self {
            store,
            manual,
            clock,
            accounts,
            orders: Vec::new(),
            audit_seen: 0,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn apply(&mut self, op: Op, step: usize) {
        let now = self.now();
        match op {
            Op::Place {
                account,
                domain,
                lite,
                request,
            } => {
                let class = if lite {
                    BackorderClass::LiteBackorder
                } else {
                    BackorderClass::Backorder
                };
                let owner = self.accounts[account].clone();
                let validated = placement::validate(
                    &self.store,
                    &owner,
                    OrderRequest {
                        domain: DOMAINS[domain].into(),
                        class: Some(class),
                        ..Default::default()
                    },
                    now,
                )
                .await;
                let Ok(new) = validated else { return };
                let key = request.map(|r| IdempotencyKey {
                    scope: format!("account:{}", owner.id),
                    request_id: format!("place-{r}"),
                });
                match self
                    .store
                    .create_backorder(new, key, true, "prop", now)
                    .await
                {
                    Ok(Placement::Created { order, .. }) => self.orders.push(order.id),
                    Ok(Placement::Existing { order, .. }) => assert!(
                        self.orders.contains(&order.id),
                        "step {step}: a replay returned an unknown order"
                    ),
                    // Same request id, other payload; or a daily deal without the money.
                    Err(_) => {}
                }
            }
            Op::Cancel { order } => {
                if let Some(id) = self.order(order) {
                    let _ = self.store.cancel_backorder(id, "prop", now).await;
                }
            }
            Op::Pay { order } => {
                if let Some(id) = self.order(order) {
                    let _ = self.store.pay_backorder(id, None, "prop", now).await;
                }
            }
            Op::Deposit { account, dollars } => {
                let request = MovementRequest {
                    scope: "operator".into(),
                    request_id: format!("dep-{step}"),
                    movement: Movement::Deposit {
                        account: AccountId(self.accounts[account].id.0),
                        amount: Money::new(Currency::parse("USD").unwrap(), dollars * 100),
                    },
                    memo: String::new(),
                    actor: "prop".into(),
                };
                self.store.execute_movement(request, now).await.unwrap();
            }
            Op::Schedule {
                domain,
                hours_ahead,
            } => {
                let drop = now + Duration::hours(hours_ahead);
                let entry = DropListEntry::listed(
                    DropName::parse(DOMAINS[domain]).unwrap(),
                    drop,
                    drop - Duration::hours(2),
                );
                self.store.upsert_drop_batch(&[entry], now).await.unwrap();
            }
            Op::Restore { domain } => {
                self.store
                    .mark_drop_removed(&[DOMAINS[domain].to_string()], now)
                    .await
                    .unwrap();
            }
            Op::Advance { minutes } => {
                self.manual.advance(Duration::minutes(minutes)).unwrap();
                scheduler::run_pass(&self.store, &self.clock).await.unwrap();
            }
        }
    }

    fn order(&self, index: usize) -> Option<i64> {
        (!self.orders.is_empty()).then(|| self.orders[index % self.orders.len()])
    }

    async fn check(&mut self, step: usize, op: &Op) {
        let snapshot = self.store.ledger_snapshot().await.unwrap();
        for result in invariants::check(&snapshot) {
            assert!(
                result.holds(),
                "step {step} ({op:?}): {}: {:?}",
                result.name,
                result.violations
            );
        }
        loop {
            let page = self
                .store
                .list_audit(
                    AuditFilter::default(),
                    PageRequest {
                        after: Some(self.audit_seen),
                        limit: 500,
                    },
                )
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            self.audit_seen = last.id;
            for entry in page.iter().filter(|e| e.backorder_id.is_some()) {
                let Some(new) = entry.new_status.as_deref() else {
                    continue;
                };
                let from = entry
                    .old_status
                    .as_deref()
                    .map(|s| Status::from_db(s).unwrap());
                let to = Status::from_db(new).unwrap();
                let reasons = FailureReason::ALL.map(Some).into_iter().chain([None]);
                let allowed = reasons
                    .into_iter()
                    .any(|reason| is_allowed(from, to, reason));
                assert!(
                    allowed,
                    "step {step} ({op:?}): order {:?} moved {from:?} -> {to:?}",
                    entry.backorder_id
                );
            }
        }
    }
}

async fn run_case(url: &str, ops: Vec<Op>) {
    let mut world = World::new(url).await;
    for (step, op) in ops.into_iter().enumerate() {
        world.apply(op.clone(), step).await;
        world.check(step, &op).await;
    }
}

fn cases() -> u32 {
    std::env::var("LIFECYCLE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
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
    fn sqlite_lifecycle_keeps_the_table_and_the_holds(ops in proptest::collection::vec(op(), 1..40)) {
        runtime().block_on(async {
            let db = backorder_svc::testkit::sqlite();
            run_case(&db.url, ops).await;
        });
    }

    #[test]
    fn postgres_lifecycle_keeps_the_table_and_the_holds(ops in proptest::collection::vec(op(), 1..40)) {
        runtime().block_on(async {
            let Some(db) = backorder_svc::testkit::postgres().await else { return };
            run_case(&db.url, ops).await;
        });
    }
}
