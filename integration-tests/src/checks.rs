//! The end-to-end invariants, checked on a [`Snapshot`] read through the public APIs only:
//!
//! - **ledger**: `OperatorService/CheckLedger` reports every invariant of spec/ledger.md
//!   holding; the trial balance conserves money per currency; the accounts' balances add up
//!   to the ledger's client total.
//! - **charging**: per account, `balance = deposits - withdrawals + adjustments - fees of
//!   orders that got their domain (SUCCESSFUL, AUCTION_WON) - auction payments`, and
//!   `reserved = prices of orders holding funds (ACTIVE, PROCESSING, AUCTION_PENDING)`;
//!   every capture belongs to an order that got its domain. So no other order was charged.
//! - **holders**: a domain is held by at most one order (SUCCESSFUL or AUCTION_WON); only
//!   domains the simulator's race log says our catcher won are held; no order for such a
//!   domain failed NOT_CAUGHT. Once domain assignment is live (`ListDomains` answers), each
//!   domain we won is held by exactly one order (or, before settlement, is in an auction),
//!   and `ListDomains` lists it once, for the holder's account.

use crate::harness::{Harness, OURS, by_domain, failure_name, status_name, won_by_us};
use crate::money::{cents, cents_of, cents_or_zero, format};
use backorder_proto::backorder::v1 as pb;
use backorder_proto::registry::v1 as registry;
use chrono::{DateTime, Utc};
use pb::{BackorderStatus as S, TransferKind as K};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Everything the checks read, at one virtual instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub accounts: Vec<AccountView>,
    pub orders: Vec<pb::Backorder>,
    pub ledger: pb::CheckLedgerResponse,
    pub race_log: registry::Statistics,
    /// `None` while `ListDomains` answers UNIMPLEMENTED.
    pub domains: Option<Vec<pb::Domain>>,
    /// Catalog entries that are first-come-first-served (no auctions).
    pub fcfs: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: pb::Account,
    pub balance: pb::Balance,
    pub transfers: Vec<pb::Transfer>,
}

/// How far the day is: before settlement an auction may still be open or unpaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    Running,
    /// Every auction settled: each domain we won has exactly one holder (once live).
    Settled,
}

/// The checks of one phase, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseCheck {
    pub phase: String,
    pub virtual_time: String,
    pub ledger_ok: bool,
    pub violations: Vec<String>,
}

const HOLDING: [S; 3] = [S::Active, S::Processing, S::AuctionPending];
const CHARGED: [S; 2] = [S::Successful, S::AuctionWon];

fn is(order: &pb::Backorder, statuses: &[S]) -> bool {
    statuses.iter().any(|s| *s as i32 == order.status)
}

impl Snapshot {
    pub async fn take(harness: &Harness) -> anyhow::Result<Snapshot> {
        let at = harness.now().await?;
        let mut accounts = Vec::new();
        let mut token = String::new();
        loop {
            let page = harness
                .operator
                .accounts
                .clone()
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 1000,
                    page_token: token,
                })
                .await?
                .into_inner();
            for account in page.accounts {
                let balance = harness.balance(&account.id).await?;
                let transfers = harness.transfers(&account.id).await?;
                accounts.push(AccountView {
                    account,
                    balance,
                    transfers,
                });
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        Ok(Snapshot {
            at,
            accounts,
            orders: harness.backorders().await?,
            ledger: harness.check_ledger().await?,
            race_log: harness.race_log().await?,
            domains: harness.domains().await?,
            fcfs: fcfs_entries(harness).await?,
        })
    }

    /// Every violation of every check; empty when all hold.
    pub fn violations(&self, phase: Phase) -> Vec<String> {
        let mut all = self.ledger_violations();
        all.extend(self.charge_violations());
        all.extend(self.holder_violations(phase));
        all.extend(self.allocation_violations());
        all
    }

    /// Who got each allocated domain, against the spec's table as a plain reference: the
    /// orders valid at the catch are those that reached SUCCESSFUL, an auction status,
    /// PAYMENT_DEFAULT or LOST_TO_PRIORITY; regular beats lite; one regular order, or an FCFS
    /// TLD, or lite only: the earliest wins; two or more regular on an auction TLD: every
    /// regular order gets a seat.
    pub fn allocation_violations(&self) -> Vec<String> {
        let reason = |o: &pb::Backorder, r: pb::FailureReason| {
            o.status == S::Failed as i32 && o.failure_reason == r as i32
        };
        let mut by_domain: BTreeMap<&str, Vec<&pb::Backorder>> = BTreeMap::new();
        for order in &self.orders {
            let valid_at_catch = is(
                order,
                &[
                    S::Successful,
                    S::AuctionPending,
                    S::AuctionWon,
                    S::AuctionLost,
                ],
            ) || reason(order, pb::FailureReason::LostToPriority)
                || reason(order, pb::FailureReason::PaymentDefault);
            if valid_at_catch {
                by_domain
                    .entry(order.domain.as_str())
                    .or_default()
                    .push(order);
            }
        }
        let mut violations = Vec::new();
        for (domain, mut orders) in by_domain {
            let created = |o: &&pb::Backorder| {
                (
                    o.create_time.map(|t| (t.seconds, t.nanos)),
                    o.id.parse::<i64>().unwrap_or(0),
                )
            };
            orders.sort_by_key(created);
            let (regular, lite): (Vec<&pb::Backorder>, Vec<&pb::Backorder>) = orders
                .iter()
                .partition(|o| o.class == pb::BackorderClass::Backorder as i32);
            let auction =
                regular.len() >= 2 && !orders.first().is_some_and(|o| self.fcfs.contains(&o.tld));
            let seat = [S::AuctionPending, S::AuctionWon, S::AuctionLost];
            for (i, order) in regular.iter().chain(lite.iter()).enumerate() {
                let expected_ok = if auction {
                    if i < regular.len() {
                        is(order, &seat) || reason(order, pb::FailureReason::PaymentDefault)
                    } else {
                        reason(order, pb::FailureReason::LostToPriority)
                    }
                } else if i == 0 {
                    is(order, &[S::Successful])
                } else {
                    reason(order, pb::FailureReason::LostToPriority)
                };
                if !expected_ok {
                    violations.push(format!(
                        "allocation of {domain}: backorder {} ({}, {}{}) is status {} but the spec's table says {}",
                        order.id,
                        if order.class == pb::BackorderClass::Backorder as i32 { "regular" } else { "lite" },
                        if i == 0 { "first" } else { "later" },
                        if auction { ", auction TLD" } else { "" },
                        S::try_from(order.status).map(|s| s.as_str_name()).unwrap_or("?"),
                        if auction && i < regular.len() { "a seat" } else if i == 0 { "SUCCESSFUL" } else { "LOST_TO_PRIORITY" },
                    ));
                }
            }
        }
        violations
    }

    pub fn check(&self, name: &str, phase: Phase) -> PhaseCheck {
        PhaseCheck {
            phase: name.to_string(),
            virtual_time: self.at.to_rfc3339(),
            ledger_ok: self.ledger_violations().is_empty(),
            violations: self.violations(phase),
        }
    }

    pub fn ledger_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.ledger.ok {
            out.push("CheckLedger: ok = false".to_string());
        }
        for invariant in &self.ledger.invariants {
            if !invariant.holds {
                out.push(format!(
                    "CheckLedger invariant {:?} fails: {}",
                    invariant.invariant,
                    invariant.violations.join("; ")
                ));
            }
        }
        // Conservation, recomputed from the trial balance.
        let mut sums: BTreeMap<&str, [i64; 4]> = BTreeMap::new();
        for line in &self.ledger.trial_balance {
            let entry = sums.entry(line.currency_code.as_str()).or_default();
            for (slot, amount) in entry.iter_mut().zip([
                &line.debits_pending,
                &line.debits_posted,
                &line.credits_pending,
                &line.credits_posted,
            ]) {
                match cents_of(amount) {
                    Ok(value) => *slot += value,
                    Err(e) => out.push(format!("trial balance {}: {e}", line.ledger_account)),
                }
            }
        }
        for (currency, [dp, dpo, cp, cpo]) in sums {
            if dp != cp || dpo != cpo {
                out.push(format!(
                    "trial balance {currency}: pending debits {} vs credits {}, posted debits {} vs credits {}",
                    format(dp),
                    format(cp),
                    format(dpo),
                    format(cpo)
                ));
            }
        }
        let balances: i64 = self
            .accounts
            .iter()
            .map(|a| cents_or_zero(a.balance.balance.as_ref()).unwrap_or(0))
            .sum();
        let ledger_total: i64 = self
            .ledger
            .client_balances
            .iter()
            .map(|m| cents(m).unwrap_or(0))
            .sum();
        if balances != ledger_total {
            out.push(format!(
                "GetBalance totals {} but CheckLedger's client balances total {}",
                format(balances),
                format(ledger_total)
            ));
        }
        out
    }

    pub fn charge_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for view in &self.accounts {
            let id = &view.account.id;
            let client = format!("client:{id}");
            let mine: Vec<&pb::Backorder> =
                self.orders.iter().filter(|o| &o.account_id == id).collect();
            let price = |o: &pb::Backorder| cents_or_zero(o.price.as_ref()).unwrap_or(0);
            let fees: i64 = mine
                .iter()
                .filter(|o| is(o, &CHARGED))
                .map(|o| price(o))
                .sum();
            let held: i64 = mine
                .iter()
                .filter(|o| is(o, &HOLDING))
                .map(|o| price(o))
                .sum();
            let charged_ids: BTreeSet<&str> = mine
                .iter()
                .filter(|o| is(o, &CHARGED))
                .map(|o| o.id.as_str())
                .collect();
            let mut flows = 0i64;
            let mut captured: BTreeMap<&str, i64> = BTreeMap::new();
            for t in &view.transfers {
                let amount = cents_or_zero(t.amount.as_ref()).unwrap_or(0);
                let signed = if t.credit_account == client {
                    amount
                } else if t.debit_account == client {
                    -amount
                } else {
                    0
                };
                match K::try_from(t.kind) {
                    Ok(K::Deposit | K::Withdrawal | K::Adjustment | K::AuctionPayment) => {
                        flows += signed;
                    }
                    Ok(K::Capture) => {
                        *captured.entry(t.backorder_id.as_str()).or_default() += amount;
                    }
                    _ => {}
                }
            }
            for (order, amount) in &captured {
                if !charged_ids.contains(order) {
                    let status = self
                        .orders
                        .iter()
                        .find(|o| &o.id.as_str() == order)
                        .map_or("unknown".to_string(), |o| status_name(o.status));
                    out.push(format!(
                        "account {id}: order {order} ({status}) was charged {} but did not get its domain",
                        format(*amount)
                    ));
                }
            }
            for order in mine.iter().filter(|o| is(o, &CHARGED)) {
                let got = captured.get(order.id.as_str()).copied().unwrap_or(0);
                if got != price(order) {
                    out.push(format!(
                        "account {id}: order {} ({}) got its domain; captured {} of its price {}",
                        order.id,
                        status_name(order.status),
                        format(got),
                        format(price(order))
                    ));
                }
            }
            let balance = cents_or_zero(view.balance.balance.as_ref()).unwrap_or(i64::MIN);
            let reserved = cents_or_zero(view.balance.reserved.as_ref()).unwrap_or(i64::MIN);
            let available = cents_or_zero(view.balance.available.as_ref()).unwrap_or(i64::MIN);
            if balance != flows - fees {
                out.push(format!(
                    "account {id}: balance {} but deposits, withdrawals, adjustments and auction payments {} minus fees of orders that got their domain {} make {}",
                    format(balance),
                    format(flows),
                    format(fees),
                    format(flows - fees)
                ));
            }
            if reserved != held {
                out.push(format!(
                    "account {id}: reserved {} but orders holding funds (ACTIVE, PROCESSING, AUCTION_PENDING) add up to {}",
                    format(reserved),
                    format(held)
                ));
            }
            if available != balance - reserved || available < 0 {
                out.push(format!(
                    "account {id}: available {} with balance {} and reserved {}",
                    format(available),
                    format(balance),
                    format(reserved)
                ));
            }
        }
        out
    }

    pub fn holder_violations(&self, phase: Phase) -> Vec<String> {
        let mut out = Vec::new();
        let won = won_by_us(&self.race_log);
        let orders = by_domain(&self.orders);
        for (domain, list) in &orders {
            let holders: Vec<&&pb::Backorder> = list.iter().filter(|o| is(o, &CHARGED)).collect();
            if holders.len() > 1 {
                out.push(format!(
                    "{domain} is held by {} orders: {}",
                    holders.len(),
                    holders
                        .iter()
                        .map(|o| o.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !holders.is_empty() && !won.contains(*domain) {
                out.push(format!(
                    "{domain} is held by order {} but the race log does not say `{OURS}` won it",
                    holders[0].id
                ));
            }
            if won.contains(*domain) {
                for order in list.iter().filter(|o| {
                    o.status == S::Failed as i32
                        && o.failure_reason == pb::FailureReason::NotCaught as i32
                }) {
                    out.push(format!(
                        "{domain}: order {} failed {} though `{OURS}` won it",
                        order.id,
                        failure_name(order.failure_reason)
                    ));
                }
            }
        }
        let Some(domains) = &self.domains else {
            return out;
        };
        // Domain assignment is live: tighten "at most one" to "exactly one".
        let mut listed: BTreeMap<&str, Vec<&pb::Domain>> = BTreeMap::new();
        for d in domains {
            listed.entry(d.domain.as_str()).or_default().push(d);
            if !won.contains(&d.domain) {
                out.push(format!(
                    "ListDomains lists {} (account {}) but the race log does not say `{OURS}` won it",
                    d.domain, d.account_id
                ));
            }
        }
        for domain in &won {
            let list = orders.get(domain.as_str()).cloned().unwrap_or_default();
            let holders: Vec<&&pb::Backorder> = list.iter().filter(|o| is(o, &CHARGED)).collect();
            let in_auction = list.iter().any(|o| o.status == S::AuctionPending as i32);
            let assigned = listed.get(domain.as_str()).cloned().unwrap_or_default();
            let settled_ok = holders.len() == 1;
            let ok = match phase {
                Phase::Settled => settled_ok,
                Phase::Running => settled_ok || (holders.is_empty() && in_auction),
            };
            if !ok {
                out.push(format!(
                    "{domain}: `{OURS}` won it; {} orders hold it{} ({} orders for it: {})",
                    holders.len(),
                    if in_auction {
                        ", an auction is open"
                    } else {
                        ""
                    },
                    list.len(),
                    list.iter()
                        .map(|o| format!("{} {}", o.id, status_name(o.status)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            match (holders.first(), assigned.as_slice()) {
                (Some(holder), [one]) => {
                    if one.account_id != holder.account_id || one.backorder_id != holder.id {
                        out.push(format!(
                            "{domain}: assigned to account {} (order {}) but held by order {} of account {}",
                            one.account_id, one.backorder_id, holder.id, holder.account_id
                        ));
                    }
                }
                (Some(holder), listed) => out.push(format!(
                    "{domain}: held by order {} but ListDomains lists it {} times",
                    holder.id,
                    listed.len()
                )),
                (None, []) => {}
                (None, listed) => out.push(format!(
                    "{domain}: nobody holds it but ListDomains lists it {} times",
                    listed.len()
                )),
            }
        }
        out
    }
}

/// The catalog entries that are first-come-first-served.
async fn fcfs_entries(harness: &Harness) -> anyhow::Result<BTreeSet<String>> {
    let mut fcfs = BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = harness
            .operator
            .catalog
            .clone()
            .list_tlds(pb::ListTldsRequest {
                page_size: 1000,
                page_token: token,
            })
            .await?
            .into_inner();
        fcfs.extend(
            page.tlds
                .into_iter()
                .filter(|t| t.first_come_first_served)
                .map(|t| t.name),
        );
        if page.next_page_token.is_empty() {
            return Ok(fcfs);
        }
        token = page.next_page_token;
    }
}
