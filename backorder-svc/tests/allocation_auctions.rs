//! Allocation of caught domains and private auctions, over gRPC on both backends with a
//! manual clock: the spec's allocation table (single order, FCFS, auction, lite rules),
//! proxy bidding through the API, soft close, no bids, payment from the balance when funds
//! arrive, default and recompute, the operator's confirmation, assigned domains with their
//! auth codes, and the ledger invariants after every phase.

mod app_common;

use app_common::{App, LITE, REGULAR, at, spawn_app};
use backorder_proto::backorder::v1 as pb;
use backorder_svc::store::catching::{Allocated, CatchOutcome, CatchReport};
use backorder_svc::testkit::with_key;
use pb::auction_service_client::AuctionServiceClient;
use pb::event_service_client::EventServiceClient;
use tonic::Code;
use tonic::transport::Channel;

/// Drops at 19:00 (finalization 17:00); auctions of a catch at 19:00 start at 20:00 and end
/// three days later.
const DROP: &str = "2026-12-10 19:00:00";
const DROP_TIME: &str = "2026-12-10T19:00:00Z";
const LOCKED: &str = "2026-12-08T00:00:00Z";
const FINALIZED: &str = "2026-12-10T17:00:00Z";
const START: &str = "2026-12-10T20:00:00Z";
const END: &str = "2026-12-13T20:00:00Z";

fn usd(amount: &str) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "USD".into(),
        amount: amount.into(),
    })
}

fn auctions(app: &App) -> AuctionServiceClient<Channel> {
    AuctionServiceClient::new(app.channel.clone())
}

/// Places one order per (key, class) for `domain` and moves the clock to finalization, where
/// the funded ones become PROCESSING (valid). Returns the order ids in placement order.
async fn valid_orders(
    app: &App,
    domain: &str,
    orders: &[(&str, pb::BackorderClass)],
) -> Vec<String> {
    app.drop_list(&[(domain, DROP)], false).await;
    let mut ids = Vec::new();
    for (key, class) in orders {
        let placed = app.place(key, domain, *class).await.unwrap();
        ids.push(placed.backorder.unwrap().id);
    }
    finalize(app).await;
    ids
}

/// Through the lock window (holds placed) to finalization (funded orders PROCESSING).
async fn finalize(app: &App) {
    app.set_time(LOCKED).await;
    app.set_time(FINALIZED).await;
}

async fn record(app: &App, domain: &str, outcome: CatchOutcome) -> Allocated {
    let now = at("2026-12-10T19:00:01Z");
    app.clock.set(now).unwrap();
    app.server
        .store
        .record_catch(
            CatchReport {
                domain: domain.into(),
                drop_time: at(DROP_TIME),
                outcome,
                attempts: 2,
                first_attempt_at: Some(at(DROP_TIME)),
                release_seen_at: Some(at(DROP_TIME)),
            },
            "catcher",
            now,
        )
        .await
        .unwrap()
}

fn caught(auth_code: &str) -> CatchOutcome {
    CatchOutcome::Caught {
        registrar: "ours-1".into(),
        auth_code: auth_code.into(),
        registered_at: at("2026-12-10T19:00:01Z"),
    }
}

async fn failure(app: &App, key: &str, id: &str) -> pb::FailureReason {
    pb::FailureReason::try_from(app.order(key, id).await.failure_reason).unwrap()
}

async fn auction_as(app: &App, key: &str, auction: &str, seat: &str) -> pb::Auction {
    auctions(app)
        .get_auction(with_key(
            key,
            pb::GetAuctionRequest {
                auction_id: auction.into(),
                backorder_id: seat.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn bid(
    app: &App,
    key: &str,
    auction: &str,
    seat: &str,
    maximum: &str,
) -> Result<pb::Auction, tonic::Status> {
    auctions(app)
        .place_bid(with_key(
            key,
            pb::PlaceBidRequest {
                auction_id: auction.into(),
                backorder_id: seat.into(),
                maximum: usd(maximum),
                request_id: String::new(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

fn price(auction: &pb::Auction) -> (String, String) {
    (
        auction.current_price.clone().unwrap().amount,
        auction
            .minimum_next_bid
            .clone()
            .map(|m| m.amount)
            .unwrap_or_default(),
    )
}

fn bidder(auction: &pb::Auction) -> pb::BidderStatus {
    pb::BidderStatus::try_from(auction.bidder_status).unwrap()
}

async fn domain_of(app: &App, key: &str, domain: &str) -> Result<pb::Domain, tonic::Status> {
    app.orders()
        .get_domain(with_key(
            key,
            pb::GetDomainRequest {
                domain: domain.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn single_order_is_successful_and_charged(app: App) {
    let (_, key) = app.account("100").await;
    let (_, lite_key) = app.account("100").await;
    let ids = valid_orders(&app, "solo.com", &[(&key, REGULAR), (&lite_key, LITE)]).await;
    assert_eq!(
        app.status(&key, &ids[0]).await,
        pb::BackorderStatus::Processing
    );
    let allocated = record(&app, "solo.com", caught("AUTH-solo")).await;
    assert!(
        matches!(
            allocated,
            Allocated::Assigned {
                lost_to_priority: 1,
                ..
            }
        ),
        "{allocated:?}"
    );
    assert_eq!(
        app.status(&key, &ids[0]).await,
        pb::BackorderStatus::Successful
    );
    assert_eq!(
        app.balance(&key).await,
        ("70.00".into(), "0.00".into()),
        "the fee was charged"
    );
    assert_eq!(
        app.status(&lite_key, &ids[1]).await,
        pb::BackorderStatus::Failed
    );
    assert_eq!(
        failure(&app, &lite_key, &ids[1]).await,
        pb::FailureReason::LostToPriority
    );
    assert_eq!(
        app.balance(&lite_key).await,
        ("100.00".into(), "0.00".into()),
        "a lite order that lost pays nothing"
    );
    let domain = domain_of(&app, &key, "solo.com").await.unwrap();
    assert_eq!(
        (domain.auth_code.as_str(), domain.backorder_id.as_str()),
        ("AUTH-solo", ids[0].as_str())
    );
    let hidden = domain_of(&app, &lite_key, "solo.com").await.unwrap_err();
    assert_eq!(
        hidden.code(),
        Code::NotFound,
        "another account's domain looks absent"
    );
    let listed = app
        .orders()
        .list_domains(with_key(&key, pb::ListDomainsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.domains.len(), 1);
    // A retried result changes nothing.
    assert_eq!(
        record(&app, "solo.com", caught("AUTH-other")).await,
        Allocated::AlreadyRecorded
    );
    assert_eq!(
        domain_of(&app, &key, "solo.com").await.unwrap().auth_code,
        "AUTH-solo"
    );
    app.ledger_ok().await;
}

async fn fcfs_gives_the_earliest_order_even_from_one_account(app: App) {
    let (_, key) = app.account("100").await;
    app.drop_list(&[("first.co.uk", DROP)], false).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let placed = app
            .orders()
            .create_backorder(with_key(
                &key,
                pb::CreateBackorderRequest {
                    domain: "first.co.uk".into(),
                    class: REGULAR as i32,
                    extensions: [("X-UK-CONTACT-TYPE".to_string(), "IND".to_string())].into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        ids.push(placed.backorder.unwrap().id);
    }
    finalize(&app).await;
    let allocated = record(&app, "first.co.uk", caught("AUTH-uk")).await;
    assert!(
        matches!(
            allocated,
            Allocated::Assigned {
                lost_to_priority: 1,
                ..
            }
        ),
        "{allocated:?}"
    );
    assert_eq!(
        app.status(&key, &ids[0]).await,
        pb::BackorderStatus::Successful
    );
    assert_eq!(
        failure(&app, &key, &ids[1]).await,
        pb::FailureReason::LostToPriority
    );
    assert_eq!(
        app.balance(&key).await,
        ("70.00".into(), "0.00".into()),
        "charged once"
    );
    app.ledger_ok().await;
}

async fn lite_only_goes_to_the_earliest_lite_order(app: App) {
    let (_, a) = app.account("100").await;
    let (_, b) = app.account("100").await;
    let ids = valid_orders(&app, "lite.com", &[(&a, LITE), (&b, LITE)]).await;
    record(&app, "lite.com", caught("AUTH-lite")).await;
    assert_eq!(
        app.status(&a, &ids[0]).await,
        pb::BackorderStatus::Successful
    );
    assert_eq!(app.balance(&a).await.0, "85.00");
    assert_eq!(
        failure(&app, &b, &ids[1]).await,
        pb::FailureReason::LostToPriority
    );
    assert_eq!(app.balance(&b).await, ("100.00".into(), "0.00".into()));
    app.ledger_ok().await;
}

async fn not_caught_fails_every_order_and_charges_nothing(app: App) {
    let (_, a) = app.account("100").await;
    let (_, b) = app.account("100").await;
    let ids = valid_orders(
        &app,
        "gone.com",
        &[(&a, REGULAR), (&b, REGULAR), (&b, LITE)],
    )
    .await;
    let allocated = record(&app, "gone.com", CatchOutcome::NotCaught).await;
    assert_eq!(allocated, Allocated::Failed { orders: 3 });
    for (key, id) in [(&a, &ids[0]), (&b, &ids[1]), (&b, &ids[2])] {
        assert_eq!(failure(&app, key, id).await, pb::FailureReason::NotCaught);
    }
    assert_eq!(app.balance(&a).await, ("100.00".into(), "0.00".into()));
    assert_eq!(app.balance(&b).await, ("100.00".into(), "0.00".into()));
    app.ledger_ok().await;
}

async fn not_dropped_fails_with_its_own_reason(app: App) {
    let (_, c) = app.account("100").await;
    let late = valid_orders(&app, "late.com", &[(&c, REGULAR)]).await;
    let allocated = record(&app, "late.com", CatchOutcome::NotDropped).await;
    assert_eq!(allocated, Allocated::Failed { orders: 1 });
    assert_eq!(
        failure(&app, &c, &late[0]).await,
        pb::FailureReason::DomainNotDropped
    );
    assert_eq!(app.balance(&c).await, ("100.00".into(), "0.00".into()));
    app.ledger_ok().await;
}

/// Three seats on an auction TLD; returns (auction id, [(key, seat)]) and checks the
/// lite order lost to priority.
async fn open_auction(
    app: &App,
    domain: &str,
    deposits: [&str; 3],
) -> (String, Vec<(String, String)>) {
    let (_, a) = app.account(deposits[0]).await;
    let (_, b) = app.account(deposits[1]).await;
    let (_, c) = app.account(deposits[2]).await;
    let (_, lite) = app.account("100").await;
    let ids = valid_orders(
        app,
        domain,
        &[(&a, REGULAR), (&b, REGULAR), (&c, REGULAR), (&lite, LITE)],
    )
    .await;
    let Allocated::Auction {
        auction_id,
        seats: 3,
        lost_to_priority: 1,
    } = record(app, domain, caught("AUTH-auction")).await
    else {
        panic!("three regular orders open an auction");
    };
    for (key, id) in [(&a, &ids[0]), (&b, &ids[1]), (&c, &ids[2])] {
        let order = app.order(key, id).await;
        assert_eq!(order.status, pb::BackorderStatus::AuctionPending as i32);
        assert_eq!(order.auction_id, auction_id.to_string());
    }
    assert_eq!(
        failure(app, &lite, &ids[3]).await,
        pb::FailureReason::LostToPriority
    );
    let seats = vec![
        (a, ids[0].clone()),
        (b, ids[1].clone()),
        (c, ids[2].clone()),
    ];
    (auction_id.to_string(), seats)
}

async fn proxy_bidding_follows_the_spec_example(app: App) {
    let (auction, seats) = open_auction(&app, "proxy.com", ["100", "100", "100"]).await;
    let [(a, sa), (b, sb), (_c, _)] = &seats[..] else {
        unreachable!()
    };
    let before = bid(&app, a, &auction, sa, "30.00").await.unwrap_err();
    assert_eq!(before.code(), Code::FailedPrecondition, "{before:?}");
    // A stranger learns nothing of the auction, not even from PayAuction (issue 13, #6).
    let (_, stranger) = app.account("100").await;
    let stranger_pays = auctions(&app)
        .pay_auction(with_key(
            &stranger,
            pb::PayAuctionRequest {
                auction_id: auction.clone(),
                request_id: "stranger-pays".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(stranger_pays.code(), Code::NotFound, "{stranger_pays:?}");
    let stranger_looks = auction_as_result(&app, &stranger, &auction, "")
        .await
        .unwrap_err();
    assert_eq!(
        (stranger_looks.code(), stranger_looks.message()),
        (stranger_pays.code(), stranger_pays.message()),
        "the same answer as for an auction that does not exist"
    );
    let scheduled = auction_as(&app, a, &auction, sa).await;
    assert_eq!(scheduled.state, pb::AuctionState::Scheduled as i32);
    app.set_time(START).await;
    let view = bid(&app, a, &auction, sa, "30.00").await.unwrap();
    assert_eq!(price(&view), ("10.00".into(), "15.00".into()));
    assert_eq!(bidder(&view), pb::BidderStatus::Leading);
    let view = bid(&app, b, &auction, sb, "15.00").await.unwrap();
    assert_eq!(price(&view), ("20.00".into(), "25.00".into()));
    assert_eq!(bidder(&view), pb::BidderStatus::Outbid);
    let view = bid(&app, b, &auction, sb, "30.00").await.unwrap();
    assert_eq!(
        price(&view),
        ("30.00".into(), "35.00".into()),
        "equal maxima: the earlier bid leads"
    );
    assert_eq!(bidder(&view), pb::BidderStatus::Outbid);
    let view = bid(&app, b, &auction, sb, "40.00").await.unwrap();
    assert_eq!(price(&view), ("35.00".into(), "40.00".into()));
    assert_eq!(bidder(&view), pb::BidderStatus::Leading);
    let too_low = bid(&app, a, &auction, sa, "12.00").await.unwrap_err();
    assert_eq!(too_low.code(), Code::InvalidArgument);
    assert!(
        too_low.message().starts_with("maximum:"),
        "{}",
        too_low.message()
    );
    let wrong_currency = auctions(&app)
        .place_bid(with_key(
            a,
            pb::PlaceBidRequest {
                auction_id: auction.clone(),
                backorder_id: sa.clone(),
                maximum: Some(pb::Money {
                    currency_code: "EUR".into(),
                    amount: "100.00".into(),
                }),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(wrong_currency.code(), Code::InvalidArgument);
    // A's view: outbid, its own maximum, never B's maximum or identity.
    let seen_by_a = auction_as(&app, a, &auction, sa).await;
    assert_eq!(bidder(&seen_by_a), pb::BidderStatus::Outbid);
    assert_eq!(seen_by_a.my_maximum.unwrap().amount, "30.00");
    assert_eq!(
        (
            seen_by_a.number_of_bids,
            seen_by_a.number_of_bidders,
            seen_by_a.number_of_seats
        ),
        (4, 2, 3)
    );
    let not_mine = auction_as_result(&app, a, &auction, sb).await.unwrap_err();
    assert_eq!(
        not_mine.code(),
        Code::NotFound,
        "a seat cannot look through another's"
    );
    let outbid_events = events_of(&app, a, pb::EventType::AuctionOutbid).await;
    assert_eq!(outbid_events, 1, "A was outbid once (by B's 40.00)");
    app.ledger_ok().await;
}

async fn auction_as_result(
    app: &App,
    key: &str,
    auction: &str,
    seat: &str,
) -> Result<pb::Auction, tonic::Status> {
    auctions(app)
        .get_auction(with_key(
            key,
            pb::GetAuctionRequest {
                auction_id: auction.into(),
                backorder_id: seat.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn events_of(app: &App, key: &str, kind: pb::EventType) -> usize {
    EventServiceClient::new(app.channel.clone())
        .list_events(with_key(
            key,
            pb::ListEventsRequest {
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events
        .iter()
        .filter(|e| e.r#type == kind as i32)
        .count()
}

async fn soft_close_chains_and_the_winner_pays_at_close(app: App) {
    let (auction, seats) = open_auction(&app, "late-bids.com", ["100", "100", "100"]).await;
    let [(a, sa), (b, sb), (c, sc)] = &seats[..] else {
        unreachable!()
    };
    app.set_time(START).await;
    bid(&app, a, &auction, sa, "20.00").await.unwrap();
    // 2 minutes and 1 second before the end: no extension.
    app.set_time("2026-12-13T19:57:59Z").await;
    let view = bid(&app, b, &auction, sb, "25.00").await.unwrap();
    assert_eq!(view.end_time.unwrap().seconds, at(END).timestamp());
    // In the last 2 minutes: +2 minutes, and again in the new last 2 minutes.
    app.set_time("2026-12-13T19:58:00Z").await;
    let view = bid(&app, a, &auction, sa, "40.00").await.unwrap();
    assert_eq!(
        view.end_time.unwrap().seconds,
        at("2026-12-13T20:02:00Z").timestamp()
    );
    app.set_time("2026-12-13T20:01:30Z").await;
    let view = bid(&app, c, &auction, sc, "50.00").await.unwrap();
    assert_eq!(
        view.end_time.unwrap().seconds,
        at("2026-12-13T20:04:00Z").timestamp()
    );
    assert_eq!(price(&view).0, "45.00");
    assert!(events_of(&app, b, pb::EventType::AuctionExtended).await >= 2);
    // The old end passed: still open.
    app.set_time("2026-12-13T20:03:59Z").await;
    assert_eq!(
        auction_as(&app, c, &auction, sc).await.state,
        pb::AuctionState::Open as i32
    );
    let closed = app.set_time("2026-12-13T20:04:00Z").await;
    assert_eq!(
        bid(&app, a, &auction, sa, "99.00")
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let _ = closed;
    // C had the funds: paid at close, settled at once.
    let view = auction_as(&app, c, &auction, sc).await;
    assert_eq!(
        (view.state, bidder(&view)),
        (pb::AuctionState::Settled as i32, pb::BidderStatus::Won)
    );
    assert_eq!(app.status(c, sc).await, pb::BackorderStatus::AuctionWon);
    assert_eq!(
        app.balance(c).await,
        ("25.00".into(), "0.00".into()),
        "100 - 30 fee - 45 price"
    );
    for (key, seat) in [(a, sa), (b, sb)] {
        assert_eq!(
            app.status(key, seat).await,
            pb::BackorderStatus::AuctionLost
        );
        assert_eq!(
            app.balance(key).await,
            ("100.00".into(), "0.00".into()),
            "losers pay nothing"
        );
        assert_eq!(
            bidder(&auction_as(&app, key, &auction, seat).await),
            pb::BidderStatus::Lost
        );
    }
    assert_eq!(
        domain_of(&app, c, "late-bids.com").await.unwrap().auth_code,
        "AUTH-auction"
    );
    app.ledger_ok().await;
}

async fn no_bids_gives_the_earliest_seat_the_domain_for_nothing(app: App) {
    let (auction, seats) = open_auction(&app, "quiet.com", ["100", "100", "100"]).await;
    app.set_time(END).await;
    let [(a, sa), (b, sb), _] = &seats[..] else {
        unreachable!()
    };
    let view = auction_as(&app, a, &auction, sa).await;
    assert_eq!(
        (view.state, view.current_price.unwrap().amount.as_str()),
        (pb::AuctionState::Settled as i32, "0.00")
    );
    assert_eq!(app.status(a, sa).await, pb::BackorderStatus::AuctionWon);
    assert_eq!(app.balance(a).await.0, "70.00", "only the fee");
    assert_eq!(app.status(b, sb).await, pb::BackorderStatus::AuctionLost);
    app.ledger_ok().await;
}

async fn payment_when_funds_arrive_and_default_with_recompute(app: App) {
    // A bids highest but can only afford the fee; B second; C never bids.
    let (auction, seats) = open_auction(&app, "deadbeat.com", ["30", "100", "100"]).await;
    let [(a, sa), (b, sb), (c, sc)] = &seats[..] else {
        unreachable!()
    };
    app.set_time(START).await;
    bid(&app, a, &auction, sa, "60.00").await.unwrap();
    bid(&app, b, &auction, sb, "25.00").await.unwrap();
    app.set_time(END).await;
    let view = auction_as(&app, a, &auction, sa).await;
    assert_eq!(
        (view.state, bidder(&view)),
        (
            pb::AuctionState::AwaitingPayment as i32,
            pb::BidderStatus::Won
        )
    );
    assert_eq!(view.current_price.unwrap().amount, "30.00");
    assert_eq!(
        view.payment_deadline.unwrap().seconds,
        at("2026-12-20T20:00:00Z").timestamp()
    );
    let short = auctions(&app)
        .pay_auction(with_key(
            a,
            pb::PayAuctionRequest {
                auction_id: auction.clone(),
                request_id: "pay-1".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::FailedPrecondition, "{short:?}");
    let not_winner = auctions(&app)
        .pay_auction(with_key(
            b,
            pb::PayAuctionRequest {
                auction_id: auction.clone(),
                request_id: "pay-b".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(not_winner.code(), Code::PermissionDenied);
    // Seven days pass unpaid: A defaults, B wins at the price without A (the opening bid).
    app.set_time("2026-12-20T20:00:00Z").await;
    assert_eq!(
        failure(&app, a, sa).await,
        pb::FailureReason::PaymentDefault
    );
    assert_eq!(
        app.balance(a).await,
        ("30.00".into(), "0.00".into()),
        "a defaulter's fee is released"
    );
    // B had the money: collected in the same pass.
    let view = auction_as(&app, b, &auction, sb).await;
    assert_eq!(
        (view.state, bidder(&view)),
        (pb::AuctionState::Settled as i32, pb::BidderStatus::Won)
    );
    assert_eq!(view.current_price.unwrap().amount, "10.00");
    assert_eq!(
        app.balance(b).await,
        ("60.00".into(), "0.00".into()),
        "100 - 30 fee - 10 price"
    );
    assert_eq!(app.status(c, sc).await, pb::BackorderStatus::AuctionLost);
    app.ledger_ok().await;
    assert_eq!(events_of(&app, b, pb::EventType::AuctionWon).await, 1);
}

async fn funds_arriving_pay_the_auction_at_once(app: App) {
    let (auction, seats) = open_auction(&app, "later.com", ["40", "100", "100"]).await;
    let [(a, sa), (b, sb), _] = &seats[..] else {
        unreachable!()
    };
    app.set_time(START).await;
    bid(&app, a, &auction, sa, "50.00").await.unwrap();
    bid(&app, b, &auction, sb, "20.00").await.unwrap();
    app.set_time(END).await;
    assert_eq!(
        auction_as(&app, a, &auction, sa).await.state,
        pb::AuctionState::AwaitingPayment as i32
    );
    // The deposit brings the funds: collected at once.
    let account = app.order(a, sa).await.account_id;
    app.deposit(&account, "50.00").await;
    let view = auction_as(&app, a, &auction, sa).await;
    assert_eq!(view.state, pb::AuctionState::Settled as i32);
    assert_eq!(
        app.balance(a).await,
        ("35.00".into(), "0.00".into()),
        "90 - 30 fee - 25 price"
    );
    app.ledger_ok().await;
}

async fn the_operator_confirms_a_payment_made_outside(app: App) {
    let (auction, seats) = open_auction(&app, "outside.com", ["30", "100", "100"]).await;
    let [(a, sa), (b, sb), _] = &seats[..] else {
        unreachable!()
    };
    app.set_time(START).await;
    bid(&app, a, &auction, sa, "50.00").await.unwrap();
    bid(&app, b, &auction, sb, "20.00").await.unwrap();
    app.set_time(END).await;
    let confirm = |memo: &str| pb::ConfirmAuctionPaymentRequest {
        auction_id: auction.clone(),
        request_id: "confirm-1".into(),
        memo: memo.into(),
    };
    let refused = auctions(&app)
        .confirm_auction_payment(with_key(a, confirm("wire")))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let no_memo = auctions(&app)
        .confirm_auction_payment(with_key(&app.operator, confirm(" ")))
        .await
        .unwrap_err();
    assert_eq!(no_memo.code(), Code::InvalidArgument);
    let view = auctions(&app)
        .confirm_auction_payment(with_key(&app.operator, confirm("bank wire 2026-12-18")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.state, pb::AuctionState::Settled as i32);
    assert_eq!(app.status(a, sa).await, pb::BackorderStatus::AuctionWon);
    assert_eq!(
        app.balance(a).await,
        ("0.00".into(), "0.00".into()),
        "only the fee from the balance"
    );
    // A retry of the confirmation returns the settled auction.
    let again = auctions(&app)
        .confirm_auction_payment(with_key(&app.operator, confirm("bank wire 2026-12-18")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.state, pb::AuctionState::Settled as i32);
    app.ledger_ok().await;
}

macro_rules! allocation_suite {
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

allocation_suite!(
    single_order_is_successful_and_charged,
    fcfs_gives_the_earliest_order_even_from_one_account,
    lite_only_goes_to_the_earliest_lite_order,
    not_caught_fails_every_order_and_charges_nothing,
    not_dropped_fails_with_its_own_reason,
    proxy_bidding_follows_the_spec_example,
    soft_close_chains_and_the_winner_pays_at_close,
    no_bids_gives_the_earliest_seat_the_domain_for_nothing,
    payment_when_funds_arrive_and_default_with_recompute,
    funds_arriving_pay_the_auction_at_once,
    the_operator_confirms_a_payment_made_outside,
);
