//! A state-machine property test over both services (issue 6's start): random resellers,
//! deposits, orders, cancels, prepay, clock moves through the drop window, bids and payments,
//! and retries with the same request ids, with every end-to-end invariant checked after every
//! step (`integration_tests::checks`), plus a small reference model of what the calls must
//! answer (idempotent retries return the first answer; money moves only as the model says).
//!
//! Each case starts both services (SQLite in a temporary folder, or a fresh PostgreSQL
//! database), 64 cases per backend by default: `DROP_DAY_PROPTEST_CASES=10000 cargo test -p
//! integration-tests --test drop_day_properties` for a long run.

use backorder_proto::backorder::v1 as pb;
use integration_tests::checks::{Phase, Snapshot};
use integration_tests::harness::{Database, Harness, HarnessOptions, Reseller};
use integration_tests::money;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tonic::Code;

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        account: usize,
        dollars: i64,
    },
    Place {
        account: usize,
        name: usize,
        lite: bool,
    },
    Cancel {
        order: usize,
    },
    Prepay {
        order: usize,
    },
    /// Re-send an earlier request with its request id: the answer must be the first one.
    Retry {
        earlier: usize,
    },
    /// Move the clock forward (1 s ticks inside the window, 10 s outside).
    Advance {
        seconds: i64,
    },
    Bid {
        order: usize,
        dollars: i64,
    },
    Pay {
        order: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize, 1..80i64).prop_map(|(account, dollars)| Op::Deposit { account, dollars }),
        4 => (0..3usize, 0..40usize, any::<bool>())
            .prop_map(|(account, name, lite)| Op::Place { account, name, lite }),
        1 => (0..64usize).prop_map(|order| Op::Cancel { order }),
        1 => (0..64usize).prop_map(|order| Op::Prepay { order }),
        2 => (0..64usize).prop_map(|earlier| Op::Retry { earlier }),
        3 => (10..240i64).prop_map(|seconds| Op::Advance { seconds }),
        1 => (0..64usize, 10..200i64).prop_map(|(order, dollars)| Op::Bid { order, dollars }),
        1 => (0..64usize).prop_map(|order| Op::Pay { order }),
    ]
}

/// A request already sent, with what it answered, so a retry can be compared.
#[derive(Debug, Clone)]
enum Sent {
    Deposit {
        request: pb::CreateDepositRequest,
        answer: Result<String, Code>,
    },
    Place {
        account: usize,
        request: pb::CreateBackorderRequest,
        answer: Result<String, Code>,
    },
    Cancel {
        account: usize,
        request: pb::CancelBackorderRequest,
        answer: Result<i32, Code>,
    },
    Prepay {
        account: usize,
        request: pb::PayBackorderRequest,
        answer: Result<i32, Code>,
    },
}

struct Model {
    resellers: Vec<Reseller>,
    /// (account index, order id)
    orders: Vec<(usize, String)>,
    sent: Vec<Sent>,
    /// Money booked in per account (cents), by the model.
    deposited: BTreeMap<usize, i64>,
    serial: u32,
}

async fn step(h: &Harness, m: &mut Model, op: &Op) -> anyhow::Result<()> {
    m.serial += 1;
    let serial = m.serial;
    match op {
        Op::Deposit { account, dollars } => {
            let request = pb::CreateDepositRequest {
                account_id: m.resellers[*account].id.clone(),
                amount: Some(money::usd(dollars * 100)),
                request_id: format!("dep-{serial}"),
                memo: String::new(),
            };
            let answer = h
                .operator
                .accounts
                .clone()
                .create_deposit(request.clone())
                .await
                .map(|t| t.into_inner().id)
                .map_err(|s| s.code());
            if answer.is_ok() {
                *m.deposited.entry(*account).or_default() += dollars * 100;
            }
            m.sent.push(Sent::Deposit { request, answer });
        }
        Op::Place {
            account,
            name,
            lite,
        } => {
            let entries = &h.imported.entries;
            let entry = &entries[name % entries.len()];
            let tld = h.tld(&entry.zone).await?;
            let lite_ok = tld.classes.is_empty()
                || tld
                    .classes
                    .contains(&(pb::BackorderClass::Litebackorder as i32));
            let request = pb::CreateBackorderRequest {
                domain: entry.domain.clone(),
                class: if *lite && lite_ok {
                    pb::BackorderClass::Litebackorder
                } else {
                    pb::BackorderClass::Backorder
                } as i32,
                extensions: integration_tests::drop_day::extensions_for(&tld.required_extensions),
                request_id: format!("order-{serial}"),
                allow_duplicate: Some(true),
                ..Default::default()
            };
            let answer = m.resellers[*account]
                .api
                .backorders
                .clone()
                .create_backorder(request.clone())
                .await
                .map(|r| r.into_inner().backorder.map(|b| b.id).unwrap_or_default())
                .map_err(|s| s.code());
            if let Ok(id) = &answer {
                m.orders.push((*account, id.clone()));
            }
            m.sent.push(Sent::Place {
                account: *account,
                request,
                answer,
            });
        }
        Op::Cancel { order } | Op::Prepay { order } if m.orders.is_empty() => {
            let _ = order;
        }
        Op::Cancel { order } => {
            let (account, id) = m.orders[order % m.orders.len()].clone();
            let request = pb::CancelBackorderRequest {
                backorder_id: id,
                request_id: format!("cancel-{serial}"),
            };
            let answer = m.resellers[account]
                .api
                .backorders
                .clone()
                .cancel_backorder(request.clone())
                .await
                .map(|b| b.into_inner().status)
                .map_err(|s| s.code());
            m.sent.push(Sent::Cancel {
                account,
                request,
                answer,
            });
        }
        Op::Prepay { order } => {
            let (account, id) = m.orders[order % m.orders.len()].clone();
            let request = pb::PayBackorderRequest {
                backorder_id: id,
                request_id: format!("prepay-{serial}"),
            };
            let answer = m.resellers[account]
                .api
                .backorders
                .clone()
                .pay_backorder(request.clone())
                .await
                .map(|b| b.into_inner().status)
                .map_err(|s| s.code());
            m.sent.push(Sent::Prepay {
                account,
                request,
                answer,
            });
        }
        Op::Retry { earlier } => {
            if m.sent.is_empty() {
                return Ok(());
            }
            match m.sent[earlier % m.sent.len()].clone() {
                Sent::Deposit {
                    request, answer, ..
                } => {
                    let again = h
                        .operator
                        .accounts
                        .clone()
                        .create_deposit(request)
                        .await
                        .map(|t| t.into_inner().id)
                        .map_err(|s| s.code());
                    anyhow::ensure!(again == answer, "deposit retry: {again:?} vs {answer:?}");
                }
                Sent::Place {
                    account,
                    request,
                    answer,
                } => {
                    let again = m.resellers[account]
                        .api
                        .backorders
                        .clone()
                        .create_backorder(request)
                        .await
                        .map(|r| r.into_inner().backorder.map(|b| b.id).unwrap_or_default())
                        .map_err(|s| s.code());
                    // A refused placement may be accepted later (the list or the catalog
                    // may have changed); an accepted one returns the same order, also after
                    // finalization (the request id is looked up before validation).
                    if answer.is_ok() {
                        anyhow::ensure!(again == answer, "order retry: {again:?} vs {answer:?}");
                    }
                }
                Sent::Cancel {
                    account,
                    request,
                    answer,
                } => {
                    let again = m.resellers[account]
                        .api
                        .backorders
                        .clone()
                        .cancel_backorder(request)
                        .await
                        .map(|b| b.into_inner().status)
                        .map_err(|s| s.code());
                    if answer.is_ok() {
                        anyhow::ensure!(again == answer, "cancel retry: {again:?} vs {answer:?}");
                    }
                }
                Sent::Prepay {
                    account,
                    request,
                    answer,
                } => {
                    let again = m.resellers[account]
                        .api
                        .backorders
                        .clone()
                        .pay_backorder(request)
                        .await
                        .map(|b| b.into_inner().status)
                        .map_err(|s| s.code());
                    match (&answer, &again) {
                        // Accepted: a retry is accepted too (the order may have moved on).
                        (Ok(_), Ok(_)) => {}
                        // Funds short is kept for the id (spec/ledger.md): refused again,
                        // even after money arrived.
                        (Err(Code::FailedPrecondition), Err(Code::FailedPrecondition)) => {}
                        (Err(Code::FailedPrecondition), Ok(_)) => anyhow::bail!(
                            "prepay retry: a refusal for funds was accepted on a retry with the same request id: {again:?} vs {answer:?}"
                        ),
                        (Err(_), _) => {}
                        (Ok(_), Err(_)) => anyhow::bail!("prepay retry: {again:?} vs {answer:?}"),
                    }
                }
            }
        }
        Op::Advance { seconds } => {
            let now = h.now().await?;
            let step = if *seconds > 60 { 10 } else { 1 };
            h.run_until(
                now + chrono::Duration::seconds(*seconds),
                chrono::Duration::seconds(step),
            )
            .await?;
        }
        Op::Bid { order, dollars } => {
            if m.orders.is_empty() {
                return Ok(());
            }
            let (account, id) = m.orders[order % m.orders.len()].clone();
            let reseller = &m.resellers[account];
            let got = reseller
                .api
                .backorders
                .clone()
                .get_backorder(pb::GetBackorderRequest {
                    backorder_id: id.clone(),
                })
                .await?
                .into_inner();
            if got.auction_id.is_empty() {
                return Ok(());
            }
            // Refusals (not open, below the minimum) are fine; the invariants must hold.
            let _ = reseller
                .api
                .auctions
                .clone()
                .place_bid(pb::PlaceBidRequest {
                    auction_id: got.auction_id,
                    backorder_id: id,
                    maximum: Some(money::usd(dollars * 100)),
                    request_id: format!("bid-{serial}"),
                })
                .await;
        }
        Op::Pay { order } => {
            if m.orders.is_empty() {
                return Ok(());
            }
            let (account, id) = m.orders[order % m.orders.len()].clone();
            let reseller = &m.resellers[account];
            let got = reseller
                .api
                .backorders
                .clone()
                .get_backorder(pb::GetBackorderRequest { backorder_id: id })
                .await?
                .into_inner();
            if got.auction_id.is_empty() {
                return Ok(());
            }
            let _ = reseller
                .api
                .auctions
                .clone()
                .pay_auction(pb::PayAuctionRequest {
                    auction_id: got.auction_id,
                    request_id: format!("pay-{serial}"),
                })
                .await;
        }
    }
    Ok(())
}

async fn run_case(database: Database, ops: Vec<Op>) -> anyhow::Result<()> {
    let h = Harness::start(HarnessOptions {
        database,
        ..HarnessOptions::default()
    })
    .await?;
    let mut m = Model {
        resellers: Vec::new(),
        orders: Vec::new(),
        sent: Vec::new(),
        deposited: BTreeMap::new(),
        serial: 0,
    };
    for name in ["ann", "ben", "cy"] {
        m.resellers.push(h.create_reseller(name).await?);
    }
    let result = async {
        for (i, op) in ops.iter().enumerate() {
            step(&h, &mut m, op)
                .await
                .map_err(|e| anyhow::anyhow!("step {i} {op:?}: {e:#}"))?;
            let snapshot = Snapshot::take(&h).await?;
            let violations = snapshot.violations(Phase::Running);
            anyhow::ensure!(
                violations.is_empty(),
                "after step {i} {op:?}:\n  {}",
                violations.join("\n  ")
            );
            // The model's money: every account's deposits are exactly what it booked.
            for (index, reseller) in m.resellers.iter().enumerate() {
                let view = snapshot
                    .accounts
                    .iter()
                    .find(|a| a.account.id == reseller.id)
                    .ok_or_else(|| anyhow::anyhow!("account {} missing", reseller.id))?;
                let deposits: i64 = view
                    .transfers
                    .iter()
                    .filter(|t| t.kind == pb::TransferKind::Deposit as i32)
                    .map(|t| money::cents_or_zero(t.amount.as_ref()).unwrap_or(0))
                    .sum();
                let booked = m.deposited.get(&index).copied().unwrap_or(0);
                anyhow::ensure!(
                    deposits == booked,
                    "after step {i}: account {} has deposits {} but the model booked {}",
                    reseller.id,
                    money::format(deposits),
                    money::format(booked)
                );
            }
        }
        Ok(())
    }
    .await;
    h.stop().await?;
    result
}

/// Cases per backend: 64 by default (each starts both services, about 2 s);
/// `DROP_DAY_PROPTEST_CASES=10000` for a long local run.
fn cases() -> u32 {
    std::env::var("DROP_DAY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Runs one case on SQLite (`postgres` false) or on a fresh PostgreSQL database; a case
/// without a PostgreSQL passes (the testkit says loudly that it skipped; REQUIRE_POSTGRES=1
/// makes that a failure).
fn run(postgres: bool, ops: Vec<Op>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        if !postgres {
            return run_case(Database::TempSqlite, ops).await;
        }
        let Some(db) = backorder_svc::testkit::postgres().await else {
            return Ok(());
        };
        let outcome = run_case(Database::Url(db.url.clone()), ops).await;
        drop(db);
        outcome
    })
}

proptest! {
    // Failing cases shrink and are saved as regression seeds beside this file
    // (drop_day_properties.proptest-regressions), replayed first on every run.
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_step_keeps_the_invariants_on_sqlite(ops in proptest::collection::vec(op(), 8..24)) {
        let outcome = run(false, ops);
        prop_assert!(outcome.is_ok(), "{:#}", outcome.unwrap_err());
    }

    #[test]
    fn every_step_keeps_the_invariants_on_postgres(ops in proptest::collection::vec(op(), 8..24)) {
        let outcome = run(true, ops);
        prop_assert!(outcome.is_ok(), "{:#}", outcome.unwrap_err());
    }
}
