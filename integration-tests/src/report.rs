//! The drop day's report: what happened, read back through the public APIs, as a struct that
//! serializes to JSON and renders as text.

use crate::checks::{PhaseCheck, Snapshot};
use crate::drop_day::{Activity, DropDay, status_counts};
use crate::harness::{OURS, status_name};
use crate::money::{cents, cents_of, cents_or_zero, format};
use crate::time::from_pb;
use backorder_proto::backorder::v1 as pb;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub simulator_seed: u64,
    pub order_seed: u64,
    pub database: String,
    /// The service took `--catcher-registrar`.
    pub catcher: bool,
    /// `ListDomains` answered (domain assignment has landed).
    pub domain_assignment_live: bool,
    /// `ListAuctions` answered (auctions have landed).
    pub auctions_live: bool,
    pub notes: Vec<String>,
    pub virtual_start: String,
    pub virtual_end: String,
    pub drop_window: [String; 2],
    pub wall_seconds: f64,
    pub drop_list: DropListSummary,
    pub activity: Activity,
    pub orders_by_status: BTreeMap<String, u32>,
    pub races: Races,
    pub auctions: Vec<AuctionRow>,
    pub accounts: Vec<AccountRow>,
    pub ledger: LedgerSummary,
    pub events: BTreeMap<String, u32>,
    pub checks: Vec<PhaseCheck>,
    pub per_minute: Vec<MinuteRow>,
    /// Every check after every phase held.
    pub ok: bool,
    /// CheckLedger held after every phase.
    pub ledger_ok: bool,
    /// Set when the run was stopped (Ctrl-C) before its end: the phase it was in. The
    /// report then covers what happened up to that point.
    pub interrupted: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DropListSummary {
    pub registry_listed: usize,
    pub service_listed: usize,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub bad_lines: i64,
    /// The lines the import refused, each with its line number, reason and content (the
    /// service returns the first 100; `bad_lines` counts them all).
    pub rejected: Vec<String>,
}

/// Rejected lines named in the text report: the first ones, then a count.
pub const REJECTED_SHOWN: usize = 20;

/// The drop list's rejected lines as report lines: at most [`REJECTED_SHOWN`] named, then how
/// many more there were (`total` counts every refused line, named or not).
pub fn rejected_lines(rejected: &[String], total: i64) -> Vec<String> {
    let mut lines: Vec<String> = rejected
        .iter()
        .take(REJECTED_SHOWN)
        .map(|line| format!("  rejected: {line}"))
        .collect();
    let shown = i64::try_from(lines.len()).unwrap_or(i64::MAX);
    let total = total.max(i64::try_from(rejected.len()).unwrap_or(i64::MAX));
    if total > shown {
        lines.push(format!(
            "  ... and {} more rejected lines ({} named in report.json)",
            total - shown,
            rejected.len()
        ));
    }
    lines
}

/// One refused import line as the report names it.
pub fn describe_rejected(error: &pb::ImportLineError) -> String {
    let content: String = error.content.chars().take(80).collect();
    let cut = if error.content.chars().count() > 80 {
        "…"
    } else {
        ""
    };
    format!("line {}: {} ({content:?}{cut})", error.line, error.reason)
}

#[derive(Debug, Clone, Serialize)]
pub struct Races {
    pub drops: i64,
    pub creates: i64,
    pub rejected_creates: i64,
    pub catchers: Vec<CatcherRow>,
    pub per_tld: Vec<TldRaces>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatcherRow {
    pub catcher: String,
    pub wins: i64,
    pub attempts: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TldRaces {
    pub tld: String,
    pub releases: u32,
    /// Drops with a valid order (held by finalization): the ones our catcher goes for.
    pub wanted: u32,
    pub caught: u32,
    pub lost_to_rivals: u32,
    pub unclaimed: u32,
    pub our_attempts: u32,
    /// Every drop of the TLD by winner (`ours`, rivals), wanted or not.
    pub winners: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuctionRow {
    pub id: String,
    pub domain: String,
    pub state: String,
    pub seats: i32,
    pub bids: i32,
    pub bidders: i32,
    pub price: String,
    pub winner: Option<String>,
    pub winner_order: Option<String>,
    pub winner_order_status: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountRow {
    pub name: String,
    pub id: String,
    pub deposited: String,
    pub balance: String,
    pub reserved: String,
    pub available: String,
    pub orders: u32,
    pub fees_charged: String,
    pub auction_payments: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LedgerSummary {
    pub ok: bool,
    pub invariants: Vec<(String, bool, usize)>,
    /// Money that came in from outside: `cash` debits minus credits (deposits - withdrawals).
    pub deposits: String,
    pub client_balances: String,
    pub revenue: String,
    pub auction_proceeds: String,
    /// deposits = client balances + revenue + auction proceeds.
    pub balanced: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MinuteRow {
    /// The minute's start (UTC, RFC 3339 in JSON); the chart bins by it.
    #[serde(serialize_with = "rfc3339")]
    pub start: DateTime<Utc>,
    pub minute: String,
    pub releases: u32,
    pub our_attempts: u32,
    pub our_wins: u32,
    pub rival_wins: u32,
}

fn rfc3339<S: serde::Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&time.to_rfc3339())
}

/// Each reseller's seat views (account id, auction), and the operator's view of each auction.
pub type AuctionViews = (Vec<(String, pb::Auction)>, Vec<pb::Auction>);

pub struct Inputs<'a> {
    pub day: &'a DropDay,
    pub snapshot: &'a Snapshot,
    pub events: &'a [pb::Event],
    pub auctions: Option<&'a AuctionViews>,
    pub wall_seconds: f64,
}

/// Orders that were valid at finalization (held): the catcher goes for their domains.
fn was_valid(order: &pb::Backorder) -> bool {
    use pb::BackorderStatus as S;
    use pb::FailureReason as F;
    let status = order.status;
    [
        S::Processing,
        S::Successful,
        S::AuctionPending,
        S::AuctionWon,
        S::AuctionLost,
    ]
    .iter()
    .any(|s| *s as i32 == status)
        || (status == S::Failed as i32
            && [
                F::NotCaught,
                F::LostToPriority,
                F::PaymentDefault,
                F::DomainNotDropped,
            ]
            .iter()
            .any(|f| *f as i32 == order.failure_reason))
}

fn sum(list: &[pb::Money]) -> i64 {
    list.iter().map(|m| cents(m).unwrap_or(0)).sum()
}

pub fn build(inputs: Inputs<'_>) -> anyhow::Result<Report> {
    let Inputs {
        day,
        snapshot,
        events,
        auctions,
        wall_seconds,
    } = inputs;
    let harness = &day.harness;
    let orders = &snapshot.orders;
    let stats = &snapshot.race_log;

    let wanted: BTreeSet<&str> = orders
        .iter()
        .filter(|o| was_valid(o))
        .map(|o| o.domain.as_str())
        .collect();
    let mut per_tld: BTreeMap<String, TldRaces> = BTreeMap::new();
    let mut minutes: BTreeMap<DateTime<Utc>, MinuteRow> = BTreeMap::new();
    for race in &stats.races {
        let row = per_tld.entry(race.tld.clone()).or_insert_with(|| TldRaces {
            tld: race.tld.clone(),
            ..TldRaces::default()
        });
        row.releases += 1;
        let ours_attempts: u32 = race
            .attempts
            .iter()
            .filter(|a| a.catcher == OURS)
            .map(|a| u32::try_from(a.attempts).unwrap_or(0))
            .sum();
        row.our_attempts += ours_attempts;
        let winner = if race.winner.is_empty() {
            "(nobody)".to_string()
        } else {
            race.winner.clone()
        };
        *row.winners.entry(winner).or_default() += 1;
        if wanted.contains(race.domain.as_str()) {
            row.wanted += 1;
            match race.winner.as_str() {
                OURS => row.caught += 1,
                "" => row.unclaimed += 1,
                _ => row.lost_to_rivals += 1,
            }
        }
        if let Some(release) = from_pb(race.release_time.as_ref()) {
            let minute = release
                .duration_trunc(TimeDelta::minutes(1))
                .unwrap_or(release);
            let m = minutes.entry(minute).or_insert_with(|| MinuteRow {
                start: minute,
                minute: minute.format("%H:%M").to_string(),
                releases: 0,
                our_attempts: 0,
                our_wins: 0,
                rival_wins: 0,
            });
            m.releases += 1;
            m.our_attempts += ours_attempts;
            match race.winner.as_str() {
                OURS => m.our_wins += 1,
                "" => {}
                _ => m.rival_wins += 1,
            }
        }
    }
    // Fill empty minutes so the chart's axis is continuous.
    if let (Some(first), Some(last)) = (
        minutes.keys().next().copied(),
        minutes.keys().next_back().copied(),
    ) {
        let mut t = first;
        while t < last {
            minutes.entry(t).or_insert_with(|| MinuteRow {
                start: t,
                minute: t.format("%H:%M").to_string(),
                releases: 0,
                our_attempts: 0,
                our_wins: 0,
                rival_wins: 0,
            });
            t += TimeDelta::minutes(1);
        }
    }

    let mut auction_rows = Vec::new();
    if let Some((seats, public)) = auctions {
        for auction in public {
            let winner = seats.iter().find(|(_, seat)| {
                seat.id == auction.id && seat.bidder_status == pb::BidderStatus::Won as i32
            });
            let winner_order = winner.map(|(_, seat)| seat.backorder_id.clone());
            auction_rows.push(AuctionRow {
                id: auction.id.clone(),
                domain: auction.domain.clone(),
                state: pb::AuctionState::try_from(auction.state)
                    .map(|s| {
                        s.as_str_name()
                            .trim_start_matches("AUCTION_STATE_")
                            .to_string()
                    })
                    .unwrap_or_default(),
                seats: auction.number_of_seats,
                bids: auction.number_of_bids,
                bidders: auction.number_of_bidders,
                price: auction
                    .current_price
                    .as_ref()
                    .map_or("-".into(), |m| m.amount.clone()),
                winner: winner.and_then(|(account, _)| {
                    day.resellers
                        .iter()
                        .find(|r| &r.id == account)
                        .map(|r| r.name.clone())
                }),
                winner_order_status: winner_order.as_ref().and_then(|id| {
                    orders
                        .iter()
                        .find(|o| &o.id == id)
                        .map(|o| status_name(o.status))
                }),
                winner_order,
            });
        }
    }

    let mut accounts = Vec::new();
    for view in &snapshot.accounts {
        let client = format!("client:{}", view.account.id);
        let mut deposited = 0;
        let mut auction_paid = 0;
        let mut fees = 0;
        for t in &view.transfers {
            let amount = cents_or_zero(t.amount.as_ref()).unwrap_or(0);
            match pb::TransferKind::try_from(t.kind) {
                Ok(pb::TransferKind::Deposit) => deposited += amount,
                Ok(pb::TransferKind::AuctionPayment) if t.debit_account == client => {
                    auction_paid += amount;
                }
                Ok(pb::TransferKind::Capture) => fees += amount,
                _ => {}
            }
        }
        let b = &view.balance;
        let show = |m: Option<&pb::Money>| m.map_or("-".to_string(), |m| m.amount.clone());
        accounts.push(AccountRow {
            name: view.account.display_name.clone(),
            id: view.account.id.clone(),
            deposited: format(deposited),
            balance: show(b.balance.as_ref()),
            reserved: show(b.reserved.as_ref()),
            available: show(b.available.as_ref()),
            orders: u32::try_from(
                orders
                    .iter()
                    .filter(|o| o.account_id == view.account.id)
                    .count(),
            )
            .unwrap_or(u32::MAX),
            fees_charged: format(fees),
            auction_payments: format(auction_paid),
        });
    }

    let ledger = &snapshot.ledger;
    let cash: i64 = ledger
        .trial_balance
        .iter()
        .filter(|l| l.ledger_account.starts_with("cash:"))
        .map(|l| cents_of(&l.debits_posted).unwrap_or(0) - cents_of(&l.credits_posted).unwrap_or(0))
        .sum();
    let clients = sum(&ledger.client_balances);
    let revenue = sum(&ledger.revenue);
    let proceeds = sum(&ledger.auction_proceeds);
    let ledger_summary = LedgerSummary {
        ok: ledger.ok,
        invariants: ledger
            .invariants
            .iter()
            .map(|i| (i.invariant.clone(), i.holds, i.violations.len()))
            .collect(),
        deposits: format(cash),
        client_balances: format(clients),
        revenue: format(revenue),
        auction_proceeds: format(proceeds),
        balanced: cash == clients + revenue + proceeds,
    };

    let mut event_counts = BTreeMap::new();
    for event in events {
        let name = pb::EventType::try_from(event.r#type)
            .map(|t| {
                t.as_str_name()
                    .trim_start_matches("EVENT_TYPE_")
                    .to_string()
            })
            .unwrap_or_else(|_| format!("TYPE_{}", event.r#type));
        *event_counts.entry(name).or_default() += 1;
    }

    let mut checks = day.checks.clone();
    checks.push(snapshot.check(
        "report",
        if day.auctions_live == Some(true) {
            crate::checks::Phase::Settled
        } else {
            crate::checks::Phase::Running
        },
    ));
    let summary = &harness.imported.summary;
    Ok(Report {
        scenario: harness.sim.scenario.clone(),
        simulator_seed: harness.sim.seed,
        order_seed: day.config.seed,
        database: harness.database.kind().to_string(),
        catcher: harness.catcher,
        domain_assignment_live: snapshot.domains.is_some(),
        auctions_live: day.auctions_live == Some(true),
        notes: harness.notes.clone(),
        virtual_start: harness.start.to_rfc3339(),
        virtual_end: snapshot.at.to_rfc3339(),
        drop_window: [day.window.0.to_rfc3339(), day.window.1.to_rfc3339()],
        wall_seconds,
        drop_list: DropListSummary {
            registry_listed: harness.registry_list.len(),
            service_listed: harness.imported.entries.len(),
            inserted: summary.inserted,
            updated: summary.updated,
            unchanged: summary.unchanged,
            bad_lines: summary.bad_lines,
            rejected: summary.errors.iter().map(describe_rejected).collect(),
        },
        activity: day.activity.clone(),
        orders_by_status: status_counts(orders),
        races: Races {
            drops: stats.drops,
            creates: stats.creates,
            rejected_creates: stats.rejected_creates,
            catchers: stats
                .catchers
                .iter()
                .map(|c| CatcherRow {
                    catcher: c.catcher.clone(),
                    wins: c.wins,
                    attempts: c.attempts,
                })
                .collect(),
            per_tld: per_tld.into_values().collect(),
        },
        auctions: auction_rows,
        accounts,
        ledger: ledger_summary,
        events: event_counts,
        ok: checks.iter().all(|c| c.violations.is_empty()),
        ledger_ok: checks.iter().all(|c| c.ledger_ok),
        checks,
        per_minute: minutes.into_values().collect(),
        interrupted: None,
    })
}

/// The report as text for a terminal.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let yes = |b: bool| if b { "yes" } else { "no (not landed yet)" };
    if let Some(phase) = &r.interrupted {
        let _ = writeln!(
            s,
            "INTERRUPTED during {phase}: a partial report, of what happened up to {}",
            r.virtual_end
        );
    }
    let _ = writeln!(
        s,
        "drop day: scenario {} (simulator seed {}, order seed {}) on {}",
        r.scenario, r.simulator_seed, r.order_seed, r.database
    );
    let _ = writeln!(
        s,
        "virtual time {} -> {}; releases {} -> {}",
        r.virtual_start, r.virtual_end, r.drop_window[0], r.drop_window[1]
    );
    let _ = writeln!(
        s,
        "catcher: {}   domain assignment: {}   auctions: {}",
        yes(r.catcher),
        yes(r.domain_assignment_live),
        yes(r.auctions_live)
    );
    for note in &r.notes {
        let _ = writeln!(s, "note: {note}");
    }
    let _ = writeln!(
        s,
        "drop list: {} names at the registry, {} in the service (ImportFromRegistry: {} inserted, {} updated, {} unchanged, {} bad lines)",
        r.drop_list.registry_listed,
        r.drop_list.service_listed,
        r.drop_list.inserted,
        r.drop_list.updated,
        r.drop_list.unchanged,
        r.drop_list.bad_lines
    );
    for line in rejected_lines(&r.drop_list.rejected, r.drop_list.bad_lines) {
        let _ = writeln!(s, "{line}");
    }
    let a = &r.activity;
    let _ = writeln!(
        s,
        "\norders: {} placed, {} refused, {} retried with the same request id (same order back), {} cancelled, {} prepaid ({} prepay refused: funds short)",
        a.placed,
        a.refused.len(),
        a.retried_same_request_id,
        a.cancelled,
        a.prepaid,
        a.prepay_refused
    );
    for refusal in a.refused.iter().take(REJECTED_SHOWN) {
        let _ = writeln!(s, "  refused: {refusal}");
    }
    if a.refused.len() > REJECTED_SHOWN {
        let _ = writeln!(
            s,
            "  ... and {} more refused orders (all in report.json)",
            a.refused.len() - REJECTED_SHOWN
        );
    }
    if !a.deposits.is_empty() {
        let deposits = a
            .deposits
            .iter()
            .map(|(name, deposit, ordered)| {
                format!(
                    "{name} {} for {} of orders",
                    format(*deposit),
                    format(*ordered)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(s, "deposits (sized to each reseller's orders): {deposits}");
    }
    let _ = writeln!(s, "orders by final status:");
    for (status, n) in &r.orders_by_status {
        let _ = writeln!(s, "  {status:<28} {n:>5}");
    }
    let _ = writeln!(
        s,
        "\nraces (simulator race log): {} drops, {} creates, {} answered other than 1000",
        r.races.drops, r.races.creates, r.races.rejected_creates
    );
    let _ = writeln!(
        s,
        "  {:<6} {:>8} {:>7} {:>7} {:>15} {:>10} {:>13}  winners of all drops",
        "tld", "releases", "wanted", "caught", "lost to rivals", "unclaimed", "our attempts"
    );
    for t in &r.races.per_tld {
        let winners = t
            .winners
            .iter()
            .map(|(w, n)| format!("{w} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "  {:<6} {:>8} {:>7} {:>7} {:>15} {:>10} {:>13}  {winners}",
            t.tld, t.releases, t.wanted, t.caught, t.lost_to_rivals, t.unclaimed, t.our_attempts
        );
    }
    for c in &r.races.catchers {
        let _ = writeln!(
            s,
            "  catcher {:<10} wins {:>4}  attempts {:>5}",
            c.catcher, c.wins, c.attempts
        );
    }
    let _ = writeln!(s, "\nauctions: {}", r.auctions.len());
    if !r.auctions_live {
        let _ = writeln!(s, "  (AuctionService answers UNIMPLEMENTED)");
    }
    for au in &r.auctions {
        let _ = writeln!(
            s,
            "  #{:<4} {:<28} {:<17} seats {} bids {:>2} bidders {} price {:>8}  winner {} ({})",
            au.id,
            au.domain,
            au.state,
            au.seats,
            au.bids,
            au.bidders,
            au.price,
            au.winner.as_deref().unwrap_or("-"),
            au.winner_order_status.as_deref().unwrap_or("-")
        );
    }
    if a.bids > 0 || !a.bids_refused.is_empty() {
        let _ = writeln!(
            s,
            "  bids placed {}, refused {}; payments {} ({} after a top-up), refused {}",
            a.bids,
            a.bids_refused.len(),
            a.payments,
            a.payment_top_ups,
            a.payments_refused.len()
        );
    }
    let _ = writeln!(s, "\naccounts:");
    let _ = writeln!(
        s,
        "  {:<8} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>10}",
        "name", "deposited", "balance", "reserved", "available", "orders", "fees", "auctions"
    );
    for acc in &r.accounts {
        let _ = writeln!(
            s,
            "  {:<8} {:>10} {:>10} {:>10} {:>10} {:>7} {:>10} {:>10}",
            acc.name,
            acc.deposited,
            acc.balance,
            acc.reserved,
            acc.available,
            acc.orders,
            acc.fees_charged,
            acc.auction_payments
        );
    }
    let l = &r.ledger;
    let _ = writeln!(
        s,
        "\nledger (CheckLedger): {}; deposits {} = balances {} + revenue {} + auction proceeds {}: {}",
        if l.ok {
            "every invariant holds"
        } else {
            "INVARIANTS FAIL"
        },
        l.deposits,
        l.client_balances,
        l.revenue,
        l.auction_proceeds,
        if l.balanced {
            "balanced"
        } else {
            "NOT BALANCED"
        }
    );
    for (name, holds, violations) in &l.invariants {
        let _ = writeln!(
            s,
            "  {:<50} {}",
            name,
            if *holds {
                "holds".to_string()
            } else {
                format!("FAILS ({violations} violations)")
            }
        );
    }
    let _ = writeln!(
        s,
        "\nevents: {}",
        r.events
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "\nchecks after each phase:");
    for c in &r.checks {
        let _ = writeln!(
            s,
            "  {:<16} at {}  {}",
            c.phase,
            c.virtual_time,
            if c.violations.is_empty() {
                "all hold".to_string()
            } else {
                format!("{} VIOLATIONS", c.violations.len())
            }
        );
        for v in c.violations.iter().take(10) {
            let _ = writeln!(s, "    - {v}");
        }
    }
    let _ = writeln!(s, "\nwall time: {:.1} s", r.wall_seconds);
    for (phase, secs) in &r.activity.phase_seconds {
        let _ = writeln!(s, "  {phase:<44} {secs:>6.1} s");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the old report a rejected line was only counted.
    #[test]
    fn rejected_lines_are_named_first_twenty_then_a_count() {
        let errors: Vec<pb::ImportLineError> = (1..=25)
            .map(|i| pb::ImportLineError {
                line: i,
                reason: format!("domain: reason {i}"),
                content: format!("bad_{i}.com;com"),
            })
            .collect();
        let named: Vec<String> = errors.iter().map(describe_rejected).collect();
        assert_eq!(named[0], "line 1: domain: reason 1 (\"bad_1.com;com\")");
        let lines = rejected_lines(&named, 130);
        assert_eq!(lines.len(), REJECTED_SHOWN + 1);
        assert!(lines[19].contains("line 20:"), "{}", lines[19]);
        assert_eq!(
            lines[20],
            "  ... and 110 more rejected lines (25 named in report.json)"
        );
        assert_eq!(
            rejected_lines(&named[..3], 3).len(),
            3,
            "no count when all are shown"
        );
        assert!(rejected_lines(&[], 0).is_empty());
        let long = pb::ImportLineError {
            line: 7,
            reason: "r".into(),
            content: "x".repeat(10_000),
        };
        assert!(describe_rejected(&long).len() < 120);
    }
}
