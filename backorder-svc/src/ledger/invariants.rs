//! The ledger invariants of spec/ledger.md, checked over a snapshot of the whole ledger.
//! Used by the operator's CheckLedger call and by every property test after each step.

pub use crate::domain::ledger::snapshot::{
    JournalEntry, LedgerAccountRow, LedgerSnapshot, OrderHolds,
};
use crate::domain::ledger::{Counters, LedgerAccountKind, TransferKind, counter_effects};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantResult {
    pub name: &'static str,
    pub violations: Vec<String>,
}

impl InvariantResult {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Statuses in which an order must have exactly one pending hold.
pub const HELD_STATUSES: [&str; 3] = ["ACTIVE", "PROCESSING", "AUCTION_PENDING"];

pub fn check(snapshot: &LedgerSnapshot) -> Vec<InvariantResult> {
    vec![
        InvariantResult {
            name: "1 money is conserved per currency",
            violations: conservation(snapshot),
        },
        InvariantResult {
            name: "2 no client account has negative available funds",
            violations: non_negative_available(snapshot),
        },
        InvariantResult {
            name: "3 each hold resolves once and captures never exceed it",
            violations: holds_resolve_once(snapshot),
        },
        InvariantResult {
            name: "4 held orders have exactly one pending hold, others none",
            violations: order_holds(snapshot),
        },
        InvariantResult {
            name: "5 revenue equals the captured fees",
            violations: revenue_is_captures(snapshot),
        },
        InvariantResult {
            name: "6 replaying the journal gives the stored counters",
            violations: replay_matches(snapshot),
        },
        InvariantResult {
            name: "7 no order holds money as PROCESSING once its drop is decided",
            violations: decided_drops_hold_nothing(snapshot),
        },
    ]
}

fn conservation(snapshot: &LedgerSnapshot) -> Vec<String> {
    let mut sums: BTreeMap<&str, [i128; 4]> = BTreeMap::new();
    for account in &snapshot.accounts {
        let c = &account.counters;
        let sum = sums.entry(&account.currency).or_default();
        sum[0] += i128::from(c.debits_pending);
        sum[1] += i128::from(c.credits_pending);
        sum[2] += i128::from(c.debits_posted);
        sum[3] += i128::from(c.credits_posted);
    }
    let mut violations = Vec::new();
    for (currency, [dp, cp, dpo, cpo]) in sums {
        if dp != cp {
            violations.push(format!(
                "{currency}: pending debits {dp} != pending credits {cp}"
            ));
        }
        if dpo != cpo {
            violations.push(format!(
                "{currency}: posted debits {dpo} != posted credits {cpo}"
            ));
        }
    }
    violations
}

fn non_negative_available(snapshot: &LedgerSnapshot) -> Vec<String> {
    snapshot
        .accounts
        .iter()
        .filter(|a| a.kind == LedgerAccountKind::Client && a.counters.available() < 0)
        .map(|a| format!("{}: available {}", a.name, a.counters.available()))
        .collect()
}

fn holds_resolve_once(snapshot: &LedgerSnapshot) -> Vec<String> {
    let holds: HashMap<i64, &JournalEntry> = snapshot
        .journal
        .iter()
        .filter(|t| t.kind == TransferKind::Hold)
        .map(|t| (t.id, t))
        .collect();
    let mut resolutions: HashMap<i64, usize> = HashMap::new();
    let mut violations = Vec::new();
    for entry in &snapshot.journal {
        let resolves = matches!(entry.kind, TransferKind::Capture | TransferKind::Release);
        match (resolves, entry.pending_id) {
            (false, None) => {}
            (false, Some(_)) => violations.push(format!(
                "transfer {} ({:?}) points at a hold",
                entry.id, entry.kind
            )),
            (true, None) => violations.push(format!("transfer {} resolves no hold", entry.id)),
            (true, Some(hold_id)) => {
                *resolutions.entry(hold_id).or_default() += 1;
                let Some(hold) = holds.get(&hold_id) else {
                    violations.push(format!(
                        "transfer {} resolves {hold_id}, which is not a hold",
                        entry.id
                    ));
                    continue;
                };
                if entry.kind == TransferKind::Capture && entry.amount > hold.amount {
                    violations.push(format!(
                        "capture {} of {} exceeds hold {hold_id} of {}",
                        entry.id, entry.amount, hold.amount
                    ));
                }
                if (entry.debit_account_id, entry.credit_account_id)
                    != (hold.debit_account_id, hold.credit_account_id)
                {
                    violations.push(format!(
                        "transfer {} moves between other accounts than its hold {hold_id}",
                        entry.id
                    ));
                }
            }
        }
    }
    violations.extend(
        resolutions
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(hold, count)| format!("hold {hold} resolved {count} times")),
    );
    violations.sort();
    violations
}

fn order_holds(snapshot: &LedgerSnapshot) -> Vec<String> {
    snapshot
        .orders
        .iter()
        .filter_map(|order| {
            let expected = i64::from(HELD_STATUSES.contains(&order.status.as_str()));
            (order.pending_holds != expected).then(|| {
                format!(
                    "order {} in {} has {} pending holds, expected {expected}",
                    order.backorder_id, order.status, order.pending_holds
                )
            })
        })
        .collect()
}

/// A decided drop has allocated or failed every valid order in the same transaction; a
/// PROCESSING order left beside it would hold its money forever.
fn decided_drops_hold_nothing(snapshot: &LedgerSnapshot) -> Vec<String> {
    snapshot
        .orders
        .iter()
        .filter(|order| order.status == "PROCESSING" && order.drop_decided)
        .map(|order| {
            format!(
                "order {} is PROCESSING (holding {} pending holds) but its drop is decided",
                order.backorder_id, order.pending_holds
            )
        })
        .collect()
}

fn revenue_is_captures(snapshot: &LedgerSnapshot) -> Vec<String> {
    let mut captured: HashMap<i64, i64> = HashMap::new();
    for entry in &snapshot.journal {
        if entry.kind == TransferKind::Capture {
            *captured.entry(entry.credit_account_id).or_default() += entry.amount;
        }
    }
    snapshot
        .accounts
        .iter()
        .filter(|a| a.kind == LedgerAccountKind::Revenue)
        .filter_map(|a| {
            let fees = captured.get(&a.id).copied().unwrap_or(0);
            let net = a.counters.balance();
            (net != fees).then(|| format!("{}: revenue {net} but captured fees {fees}", a.name))
        })
        .collect()
}

fn replay_matches(snapshot: &LedgerSnapshot) -> Vec<String> {
    let holds: HashMap<i64, i64> = snapshot
        .journal
        .iter()
        .filter(|t| t.kind == TransferKind::Hold)
        .map(|t| (t.id, t.amount))
        .collect();
    let mut replayed: HashMap<i64, Counters> = HashMap::new();
    for entry in &snapshot.journal {
        let hold_amount = entry
            .pending_id
            .and_then(|id| holds.get(&id).copied())
            .unwrap_or(0);
        let (debit, credit) = counter_effects(entry.kind, entry.amount, hold_amount);
        add(replayed.entry(entry.debit_account_id).or_default(), debit);
        add(replayed.entry(entry.credit_account_id).or_default(), credit);
    }
    snapshot
        .accounts
        .iter()
        .filter_map(|a| {
            let expected = replayed.get(&a.id).copied().unwrap_or_default();
            (expected != a.counters).then(|| {
                format!(
                    "{}: stored {:?} but the journal gives {:?}",
                    a.name, a.counters, expected
                )
            })
        })
        .collect()
}

fn add(total: &mut Counters, delta: Counters) {
    total.debits_pending += delta.debits_pending;
    total.debits_posted += delta.debits_posted;
    total.credits_pending += delta.credits_pending;
    total.credits_posted += delta.credits_posted;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, kind: LedgerAccountKind, counters: Counters) -> LedgerAccountRow {
        LedgerAccountRow {
            id,
            name: format!("{}:{id}", kind.as_str()),
            kind,
            currency: "USD".into(),
            counters,
        }
    }

    fn entry(id: i64, kind: TransferKind, from: i64, to: i64, amount: i64) -> JournalEntry {
        JournalEntry {
            id,
            kind,
            debit_account_id: from,
            credit_account_id: to,
            amount,
            currency: "USD".into(),
            pending_id: None,
        }
    }

    /// cash(1) -> client(2) deposit 1000; hold 400 client -> revenue(3); capture 300.
    fn healthy() -> LedgerSnapshot {
        let mut capture = entry(3, TransferKind::Capture, 2, 3, 300);
        capture.pending_id = Some(2);
        LedgerSnapshot {
            accounts: vec![
                account(
                    1,
                    LedgerAccountKind::Cash,
                    Counters {
                        debits_posted: 1000,
                        ..Default::default()
                    },
                ),
                account(
                    2,
                    LedgerAccountKind::Client,
                    Counters {
                        credits_posted: 1000,
                        debits_posted: 300,
                        ..Default::default()
                    },
                ),
                account(
                    3,
                    LedgerAccountKind::Revenue,
                    Counters {
                        credits_posted: 300,
                        ..Default::default()
                    },
                ),
            ],
            journal: vec![
                entry(1, TransferKind::Deposit, 1, 2, 1000),
                entry(2, TransferKind::Hold, 2, 3, 400),
                capture,
            ],
            orders: vec![],
        }
    }

    #[test]
    fn a_healthy_ledger_passes_every_check() {
        for result in check(&healthy()) {
            assert!(result.holds(), "{}: {:?}", result.name, result.violations);
        }
    }

    #[test]
    fn a_double_resolution_is_reported() {
        let mut snapshot = healthy();
        let mut release = entry(4, TransferKind::Release, 2, 3, 0);
        release.pending_id = Some(2);
        snapshot.journal.push(release);
        let results = check(&snapshot);
        assert!(!results[2].holds());
    }

    #[test]
    fn drifted_counters_break_conservation_and_replay() {
        let mut snapshot = healthy();
        snapshot.accounts[1].counters.credits_posted += 1;
        let results = check(&snapshot);
        assert!(!results[0].holds());
        assert!(!results[5].holds());
    }

    #[test]
    fn an_active_order_without_a_hold_is_reported() {
        let mut snapshot = healthy();
        snapshot.orders.push(OrderHolds {
            backorder_id: 9,
            status: "ACTIVE".into(),
            pending_holds: 0,
            drop_decided: false,
        });
        snapshot.orders.push(OrderHolds {
            backorder_id: 10,
            status: "CANCELLED".into(),
            pending_holds: 0,
            drop_decided: true,
        });
        let results = check(&snapshot);
        assert_eq!(results[3].violations.len(), 1);
        assert!(
            results[6].holds(),
            "a cancelled order may sit beside a decided drop"
        );
    }

    #[test]
    fn a_processing_order_of_a_decided_drop_is_reported() {
        let mut snapshot = healthy();
        snapshot.orders.push(OrderHolds {
            backorder_id: 11,
            status: "PROCESSING".into(),
            pending_holds: 1,
            drop_decided: true,
        });
        let results = check(&snapshot);
        assert_eq!(results[6].violations.len(), 1);
    }
}
