//! The order lifecycle over gRPC on both backends, with a manual clock: placing and
//! validating, the lock window, finalization, cancel, prepay, restores, drop-time changes,
//! priority when funds are short, events with resume, the audit log.

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::Clock;
use backorder_svc::store::catching::{CatchOutcome, CatchReport};
use backorder_svc::testkit::with_key;
use pb::catalog_service_client::CatalogServiceClient;
use pb::event_service_client::EventServiceClient;
use tokio_stream::StreamExt;
use tonic::Code;

mod app_common;

use app_common::{App, LITE, REGULAR, at, spawn_app};

/// The drop used throughout: finalization 17:00, lock window from 2026-12-07 17:00.
const DROP: &str = "2026-12-10 19:00:00";

async fn placing_validates_and_reports_duplicates(app: App) {
    let (_, key) = app.account("100").await;
    let first = app.place(&key, "Bücher.com", REGULAR).await.unwrap();
    let order = first.backorder.unwrap();
    assert_eq!(
        (order.domain.as_str(), order.domain_unicode.as_str()),
        ("xn--bcher-kva.com", "bücher.com")
    );
    assert_eq!(
        pb::BackorderStatus::try_from(order.status).unwrap(),
        pb::BackorderStatus::Requested
    );
    assert_eq!(order.price.unwrap().amount, "30.00");
    assert_eq!(first.open_orders_for_domain, 1);
    let second = app.place(&key, "xn--bcher-kva.com", REGULAR).await.unwrap();
    assert_eq!(
        second.open_orders_for_domain, 2,
        "duplicates are accepted and counted"
    );
    let not_new = app
        .orders()
        .create_backorder(with_key(
            &key,
            pb::CreateBackorderRequest {
                domain: "bücher.com".into(),
                class: REGULAR as i32,
                allow_duplicate: Some(false),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(not_new.existing);
    assert_eq!(not_new.backorder.unwrap().id, order.id);

    let retry = |domain: &str| pb::CreateBackorderRequest {
        domain: domain.into(),
        class: REGULAR as i32,
        request_id: "place-1".into(),
        ..Default::default()
    };
    let a = app
        .orders()
        .create_backorder(with_key(&key, retry("retry.com")))
        .await
        .unwrap()
        .into_inner();
    let b = app
        .orders()
        .create_backorder(with_key(&key, retry("retry.com")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.backorder.unwrap().id, b.backorder.unwrap().id);
    assert!(b.existing);
    let conflict = app
        .orders()
        .create_backorder(with_key(&key, retry("other.com")))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists);

    let refusals: [(&str, pb::BackorderClass, Code, &str); 8] = [
        (
            "not a domain!.com",
            REGULAR,
            Code::InvalidArgument,
            "domain:",
        ),
        (
            "www.example.com",
            REGULAR,
            Code::InvalidArgument,
            "registrable",
        ),
        (
            "name.at",
            REGULAR,
            Code::InvalidArgument,
            "not in the catalog",
        ),
        ("name.se", LITE, Code::InvalidArgument, "class:"),
        ("name.us", REGULAR, Code::InvalidArgument, "extensions:"),
        ("name.com.fr", REGULAR, Code::InvalidArgument, "third-level"),
        (
            "name.com",
            pb::BackorderClass::Unspecified,
            Code::InvalidArgument,
            "class:",
        ),
        ("name.co.uk", REGULAR, Code::InvalidArgument, "extensions:"),
    ];
    for (domain, class, code, needle) in refusals {
        let status = app.place(&key, domain, class).await.unwrap_err();
        assert_eq!(status.code(), code, "{domain}: {}", status.message());
        assert!(
            status.message().contains(needle),
            "{domain}: {}",
            status.message()
        );
    }
    // Third level where the TLD allows it; extensions where they are required.
    app.place(&key, "name.com.ag", REGULAR).await.unwrap();
    let us = app
        .orders()
        .create_backorder(with_key(
            &key,
            pb::CreateBackorderRequest {
                domain: "name.us".into(),
                class: REGULAR as i32,
                extensions: [
                    ("X-US-NEXUS-APPPURPOSE", "P1"),
                    ("x-us-nexus-category", "C11"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(us.backorder.unwrap().extensions.len(), 2);
    app.ledger_ok().await;
}

/// Refusals a user can act on: the rule that failed and what to send or do. On the old code
/// the bad names said "is not a valid domain name" (or a rule without the label's fault),
/// `.co.uk` listed the raw `X-UK-*`, and an account in a currency without prices was told
/// `class: not supported`.
async fn refusals_name_the_rule_and_the_fix(app: App) {
    let (_, usd) = app.account("0").await;
    let names = [
        (
            "under_score.com",
            "domain: label `under_score` holds `_` (U+005F)",
        ),
        ("a..com", "domain: has an empty label"),
        (
            "ab--cd.com",
            "domain: label `ab--cd` has `--` in positions 3-4",
        ),
        ("-lead.com", "domain: label `-lead` starts with a hyphen"),
        (
            "name.co.uk",
            "extensions: .co.uk needs registry extension fields: a field starting with X-UK-, \
             such as X-UK-CONTACT-TYPE=IND",
        ),
    ];
    for (domain, expected) in names {
        let status = app.place(&usd, domain, REGULAR).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{domain}");
        assert!(
            status.message().starts_with(expected),
            "{domain}: {}",
            status.message()
        );
    }
    let huge = format!("{}.com", "x_".repeat(50_000));
    let status = app.place(&usd, &huge, REGULAR).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().len() <= 256, "{}", status.message());

    // A EUR account: the default catalog prices only USD.
    let eur = app
        .accounts()
        .create_account(with_key(
            &app.operator,
            pb::CreateAccountRequest {
                display_name: "euro reseller".into(),
                currency_code: "EUR".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let eur_key = app
        .accounts()
        .create_api_key(with_key(
            &app.operator,
            pb::CreateApiKeyRequest {
                role: pb::ApiKeyRole::Account as i32,
                account_id: eur.id.clone(),
                label: "eur".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let status = app.place(&eur_key, "name.com", REGULAR).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "domain: not supported: no BACKORDER price for .com in EUR for price tier `default`; \
         an operator adds one (CatalogService/SetPrice), or use an account in USD"
    );
    let details = tonic_types::StatusExt::get_details_bad_request(&status).unwrap();
    assert_eq!(details.field_violations[0].field, "domain");
    // The fix the message names works.
    CatalogServiceClient::new(app.channel.clone())
        .set_price(with_key(
            &app.operator,
            pb::SetPriceRequest {
                price: Some(pb::Price {
                    price_tier: "default".into(),
                    tld: "com".into(),
                    class: REGULAR as i32,
                    amount: Some(pb::Money {
                        currency_code: "EUR".into(),
                        amount: "28.00".into(),
                    }),
                }),
            },
        ))
        .await
        .unwrap();
    let placed = app.place(&eur_key, "name.com", REGULAR).await.unwrap();
    assert_eq!(placed.backorder.unwrap().price.unwrap().amount, "28.00");
    // LITEBACKORDER still has no EUR price: named, with USD as the way out.
    let status = app.place(&eur_key, "name.com", LITE).await.unwrap_err();
    assert!(
        status
            .message()
            .contains("no LITEBACKORDER price for .com in EUR"),
        "{}",
        status.message()
    );
}

async fn the_lock_window_holds_funds_and_finalization_validates(app: App) {
    let (_, key) = app.account("100").await;
    let id = app
        .place(&key, "window.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    app.set_time("2026-12-05T00:00:00Z").await;
    assert_eq!(
        app.status(&key, &id).await,
        pb::BackorderStatus::Requested,
        "not scheduled yet"
    );
    app.drop_list(&[("window.com", DROP)], false).await;
    let order = app.order(&key, &id).await;
    assert_eq!(
        order.finalization_time.unwrap().seconds,
        at("2026-12-10T17:00:00Z").timestamp()
    );
    app.set_time("2026-12-07T16:59:59Z").await;
    assert_eq!(app.status(&key, &id).await, pb::BackorderStatus::Requested);
    let pass = app.set_time("2026-12-07T17:00:00Z").await;
    assert_eq!(pass.holds_placed, 1);
    assert_eq!(app.status(&key, &id).await, pb::BackorderStatus::Active);
    assert_eq!(app.balance(&key).await, ("100.00".into(), "30.00".into()));
    app.set_time("2026-12-10T17:00:00Z").await;
    assert_eq!(app.status(&key, &id).await, pb::BackorderStatus::Processing);
    let late = app.place(&key, "window.com", REGULAR).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{}", late.message());
    assert!(late.message().contains("finalization"));
    let cancel = app
        .orders()
        .cancel_backorder(with_key(
            &key,
            pb::CancelBackorderRequest {
                backorder_id: id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::FailedPrecondition);
    let audit = app
        .operator_api()
        .list_audit_log(with_key(
            &app.operator,
            pb::ListAuditLogRequest {
                backorder_id: id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let moves: Vec<_> = audit
        .entries
        .iter()
        .map(|e| (e.old_status, e.new_status))
        .collect();
    use pb::BackorderStatus as S;
    assert_eq!(
        moves,
        vec![
            (S::Unspecified as i32, S::Requested as i32),
            (S::Requested as i32, S::Active as i32),
            (S::Active as i32, S::Processing as i32),
        ]
    );
    assert!(audit.entries.iter().all(|e| !e.actor.is_empty()));
    app.ledger_ok().await;
}

async fn short_funds_warn_once_and_priority_decides(app: App) {
    let (account, key) = app.account("40").await;
    let late_drop = app
        .place(&key, "later.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    let early_drop = app
        .place(&key, "sooner.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    app.drop_list(
        &[("later.com", "2026-12-10 20:00:00"), ("sooner.com", DROP)],
        false,
    )
    .await;
    let pass = app.set_time("2026-12-08T00:00:00Z").await;
    assert_eq!((pass.holds_placed, pass.low_balance_events), (1, 1));
    assert_eq!(
        app.status(&key, &early_drop).await,
        pb::BackorderStatus::Active,
        "earliest finalization first"
    );
    assert_eq!(
        app.status(&key, &late_drop).await,
        pb::BackorderStatus::Requested
    );
    let again = app.set_time("2026-12-08T01:00:00Z").await;
    assert_eq!(again.low_balance_events, 0, "one LOW_BALANCE per order");
    app.deposit(&account, "20").await;
    let funded = app.set_time("2026-12-08T02:00:00Z").await;
    assert_eq!(
        funded.holds_placed, 1,
        "a deposit inside the window is used by the next pass"
    );
    assert_eq!(
        app.status(&key, &late_drop).await,
        pb::BackorderStatus::Active
    );
    let events = EventServiceClient::new(app.channel.clone())
        .list_events(with_key(&key, pb::ListEventsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .events;
    let low: Vec<_> = events
        .iter()
        .filter(|e| e.r#type == pb::EventType::LowBalance as i32)
        .collect();
    assert_eq!(low.len(), 1);
    assert_eq!(low[0].backorder_id, late_drop);
    app.ledger_ok().await;
}

async fn unfunded_orders_fail_at_finalization(app: App) {
    let (_, key) = app.account("0").await;
    let id = app
        .place(&key, "broke.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    app.drop_list(&[("broke.com", DROP)], false).await;
    app.set_time("2026-12-10T16:59:59Z").await;
    assert_eq!(app.status(&key, &id).await, pb::BackorderStatus::Requested);
    app.set_time("2026-12-10T17:00:00Z").await;
    let order = app.order(&key, &id).await;
    assert_eq!(
        pb::BackorderStatus::try_from(order.status).unwrap(),
        pb::BackorderStatus::Failed
    );
    assert_eq!(order.failure_reason, pb::FailureReason::Unfunded as i32);
    app.ledger_ok().await;
}

async fn cancel_until_one_second_before_finalization(app: App) {
    let (_, key) = app.account("100").await;
    let a = app
        .place(&key, "cancel-a.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    let b = app
        .place(&key, "cancel-b.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    app.drop_list(&[("cancel-a.com", DROP), ("cancel-b.com", DROP)], false)
        .await;
    app.set_time("2026-12-08T00:00:00Z").await;
    assert_eq!(app.balance(&key).await.1, "60.00");
    app.clock.set(at("2026-12-10T16:59:59Z")).unwrap();
    let cancelled = app
        .orders()
        .cancel_backorder(with_key(
            &key,
            pb::CancelBackorderRequest {
                backorder_id: a.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, pb::BackorderStatus::Cancelled as i32);
    assert_eq!(
        app.balance(&key).await,
        ("100.00".into(), "30.00".into()),
        "the hold was released"
    );
    app.clock.set(at("2026-12-10T17:00:00Z")).unwrap();
    let refused = app
        .orders()
        .cancel_backorder(with_key(
            &key,
            pb::CancelBackorderRequest {
                backorder_id: b.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("finalization"),
        "{}",
        refused.message()
    );
    app.ledger_ok().await;
}

async fn restores_and_drop_time_changes_are_followed(app: App) {
    let (_, key) = app.account("100").await;
    let id = app
        .place(&key, "restored.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    app.drop_list(&[("restored.com", DROP), ("other.com", DROP)], true)
        .await;
    app.set_time("2026-12-08T00:00:00Z").await;
    assert_eq!(app.status(&key, &id).await, pb::BackorderStatus::Active);
    // The registrant restores it: it leaves the registry's list.
    app.drop_list(&[("other.com", DROP)], true).await;
    let pass = app.set_time("2026-12-08T01:00:00Z").await;
    assert_eq!(pass.restored, 1);
    let order = app.order(&key, &id).await;
    assert_eq!(
        pb::BackorderStatus::try_from(order.status).unwrap(),
        pb::BackorderStatus::Requested
    );
    assert!(order.drop_time.is_none(), "drop time cleared");
    assert_eq!(app.balance(&key).await.1, "0.00");
    // Scheduled again, later: the lock window moves with the drop.
    app.drop_list(
        &[("restored.com", "2026-12-20 19:00:00"), ("other.com", DROP)],
        true,
    )
    .await;
    app.set_time("2026-12-09T00:00:00Z").await;
    assert_eq!(
        app.status(&key, &id).await,
        pb::BackorderStatus::Requested,
        "window not open yet"
    );
    // Moved earlier: the window is open now.
    app.drop_list(
        &[("restored.com", "2026-12-11 19:00:00"), ("other.com", DROP)],
        true,
    )
    .await;
    app.set_time("2026-12-09T00:00:01Z").await;
    assert_eq!(app.status(&key, &id).await, pb::BackorderStatus::Active);
    app.ledger_ok().await;
}

async fn prepay_holds_at_once(app: App) {
    let (_, key) = app.account("45").await;
    let a = app
        .place(&key, "prepaid.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    let b = app
        .place(&key, "second.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    let paid = app
        .orders()
        .pay_backorder(with_key(
            &key,
            pb::PayBackorderRequest {
                backorder_id: a.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        paid.status,
        pb::BackorderStatus::Active as i32,
        "outside any window"
    );
    let again = app
        .orders()
        .pay_backorder(with_key(
            &key,
            pb::PayBackorderRequest {
                backorder_id: a.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.status, pb::BackorderStatus::Active as i32);
    assert_eq!(
        app.balance(&key).await.1,
        "30.00",
        "paying twice holds once"
    );
    let short = app
        .orders()
        .pay_backorder(with_key(
            &key,
            pb::PayBackorderRequest {
                backorder_id: b.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::FailedPrecondition);
    assert!(
        short.message().contains("funds short"),
        "{}",
        short.message()
    );
    assert_eq!(app.status(&key, &b).await, pb::BackorderStatus::Requested);
    app.ledger_ok().await;
}

async fn other_accounts_orders_look_absent(app: App) {
    let (_, key) = app.account("0").await;
    let (_, other) = app.account("0").await;
    let id = app
        .place(&key, "mine.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap()
        .id;
    for status in [
        app.orders()
            .get_backorder(with_key(
                &other,
                pb::GetBackorderRequest {
                    backorder_id: id.clone(),
                },
            ))
            .await
            .unwrap_err(),
        app.orders()
            .cancel_backorder(with_key(
                &other,
                pb::CancelBackorderRequest {
                    backorder_id: id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err(),
        app.orders()
            .get_backorder(with_key(
                &other,
                pb::GetBackorderRequest {
                    backorder_id: "999999".into(),
                },
            ))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound);
    }
    let listed = app
        .orders()
        .list_backorders(with_key(&other, pb::ListBackordersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0);
    let mine = app
        .orders()
        .list_backorders(with_key(
            &key,
            pb::ListBackordersRequest {
                domain_pattern: "mi*.com".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.total_size, 1);
}

async fn the_event_stream_resumes_without_loss_or_repeats(app: App) {
    let (_, key) = app.account("100").await;
    for i in 0..3 {
        app.place(&key, &format!("stream{i}.com"), REGULAR)
            .await
            .unwrap();
    }
    let mut stream = EventServiceClient::new(app.channel.clone())
        .stream_events(with_key(&key, pb::StreamEventsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(stream.next().await.unwrap().unwrap());
    }
    drop(stream);
    for i in 3..5 {
        app.place(&key, &format!("stream{i}.com"), REGULAR)
            .await
            .unwrap();
    }
    let mut resumed = EventServiceClient::new(app.channel.clone())
        .stream_events(with_key(
            &key,
            pb::StreamEventsRequest {
                after_cursor: seen[1].cursor.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), resumed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(event);
    }
    let domains: Vec<_> = seen.iter().map(|e| e.domain.clone()).collect();
    assert_eq!(
        domains,
        (0..5).map(|i| format!("stream{i}.com")).collect::<Vec<_>>()
    );
    let cursors: Vec<i64> = seen.iter().map(|e| e.cursor.parse().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]));
}

async fn daily_deals_take_lite_orders_after_finalization(app: App) {
    let (_, key) = app.account("100").await;
    app.drop_list(&[("deal.com", DROP), ("deal.se", DROP)], false)
        .await;
    app.set_time("2026-12-10T17:59:59Z").await;
    let early = app.place(&key, "deal.com", LITE).await.unwrap_err();
    assert_eq!(
        early.code(),
        Code::FailedPrecondition,
        "17:59:59 is outside the window"
    );
    app.set_time("2026-12-10T18:00:00Z").await;
    let deal = app
        .place(&key, "deal.com", LITE)
        .await
        .unwrap()
        .backorder
        .unwrap();
    assert_eq!(
        deal.status,
        pb::BackorderStatus::Active as i32,
        "held at placement"
    );
    assert_eq!(app.balance(&key).await.1, "15.00");
    let regular = app.place(&key, "deal.com", REGULAR).await.unwrap_err();
    assert_eq!(regular.code(), Code::FailedPrecondition);
    app.set_time("2026-12-11T03:59:59Z").await;
    app.place(&key, "deal.com", LITE).await.unwrap();
    let expired = app.set_time("2026-12-11T04:00:00Z").await;
    assert_eq!(
        app.place(&key, "deal.com", LITE).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    // Not caught when the window closed: both daily deals fail, nothing charged.
    assert_eq!(expired.daily_deals_expired, 1, "{expired:?}");
    let failed = app.order(&key, &deal.id).await;
    assert_eq!(
        (failed.status, failed.failure_reason),
        (
            pb::BackorderStatus::Failed as i32,
            pb::FailureReason::NotCaught as i32
        )
    );
    assert_eq!(app.balance(&key).await, ("100.00".into(), "0.00".into()));
    app.ledger_ok().await;
}

/// Issue 13, finding 5: a daily deal for a drop that is already decided (caught for another
/// order, taken by a rival, or caught by an earlier deal) is refused at placement; and an
/// order left PROCESSING beside a decided drop (as that bug left them) is reported by
/// CheckLedger and failed by the next scheduler pass, its money released.
async fn daily_deals_stop_once_the_drop_is_decided(app: App) {
    let (_, key) = app.account("100").await;
    app.drop_list(&[("decided.com", DROP), ("leftover.com", DROP)], false)
        .await;
    app.set_time("2026-12-10T19:05:00Z").await;
    let drop_micros = at("2026-12-10T19:00:00Z").timestamp_micros();
    app.server
        .store
        .record_catch(
            CatchReport {
                domain: "decided.com".into(),
                drop_time: at("2026-12-10T19:00:00Z"),
                outcome: CatchOutcome::NotCaught,
                attempts: 1,
                first_attempt_at: None,
                release_seen_at: None,
            },
            "catcher",
            at("2026-12-10T19:05:00Z"),
        )
        .await
        .unwrap();
    let refused = app.place(&key, "decided.com", LITE).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().starts_with("domain:"),
        "{}",
        refused.message()
    );
    assert_eq!(app.balance(&key).await, ("100.00".into(), "0.00".into()));

    // What the bug left behind: a deal PROCESSING with its money held, its drop decided.
    let deal = app
        .place(&key, "leftover.com", LITE)
        .await
        .unwrap()
        .backorder
        .unwrap();
    app.set_time("2026-12-10T19:06:00Z").await;
    assert_eq!(
        app.status(&key, &deal.id).await,
        pb::BackorderStatus::Processing
    );
    execute_sql(
        &app.url,
        &format!(
            "INSERT INTO catches (domain, drop_time, outcome, attempts, decided_at) \
             VALUES ('leftover.com', {drop_micros}, 'NOT_CAUGHT', 0, {drop_micros})"
        ),
    )
    .await;
    let report = app
        .operator_api()
        .check_ledger(with_key(&app.operator, pb::CheckLedgerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !report.ok,
        "an order held beside a decided drop is reported"
    );
    let pass = app.set_time("2026-12-10T19:07:00Z").await;
    assert_eq!(pass.orders_of_decided_drops, 1, "{pass:?}");
    let failed = app.order(&key, &deal.id).await;
    assert_eq!(
        (failed.status, failed.failure_reason),
        (
            pb::BackorderStatus::Failed as i32,
            pb::FailureReason::NotCaught as i32
        )
    );
    assert_eq!(app.balance(&key).await, ("100.00".into(), "0.00".into()));
    app.ledger_ok().await;
}

async fn suspended_accounts_place_nothing(app: App) {
    let (account, key) = app.account("0").await;
    app.accounts()
        .update_account(with_key(
            &app.operator,
            pb::UpdateAccountRequest {
                account_id: account,
                state: pb::AccountState::Suspended as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let refused = app.place(&key, "x.com", REGULAR).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("suspended"));
}

async fn a_create_retried_after_finalization_gets_the_first_answer(app: App) {
    let (_, key) = app.account("100").await;
    app.drop_list(&[("retry-late.com", DROP)], false).await;
    let request = |domain: &str| pb::CreateBackorderRequest {
        domain: domain.into(),
        class: REGULAR as i32,
        request_id: "create-1".into(),
        ..Default::default()
    };
    let first = app
        .orders()
        .create_backorder(with_key(&key, request("retry-late.com")))
        .await
        .unwrap()
        .into_inner();
    app.set_time("2026-12-10T17:00:00Z").await;
    let retry = app
        .orders()
        .create_backorder(with_key(&key, request("retry-late.com")))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.existing);
    assert_eq!(retry.backorder.unwrap().id, first.backorder.unwrap().id);
    let other = app
        .orders()
        .create_backorder(with_key(&key, request("other.com")))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::AlreadyExists);
}

async fn a_prepay_refused_for_funds_stays_refused_for_its_request_id(app: App) {
    let (account, key) = app.account("10").await;
    app.drop_list(&[("prepay-retry.com", DROP)], false).await;
    let order = app
        .place(&key, "prepay-retry.com", REGULAR)
        .await
        .unwrap()
        .backorder
        .unwrap();
    let pay = |request_id: &str| pb::PayBackorderRequest {
        backorder_id: order.id.clone(),
        request_id: request_id.into(),
    };
    let short = app
        .orders()
        .pay_backorder(with_key(&key, pay("pay-1")))
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::FailedPrecondition);
    app.deposit(&account, "50").await;
    let retried = app
        .orders()
        .pay_backorder(with_key(&key, pay("pay-1")))
        .await
        .unwrap_err();
    assert_eq!(
        (retried.code(), retried.message()),
        (short.code(), short.message()),
        "a retry with the same id can never change the outcome"
    );
    assert_eq!(
        app.status(&key, &order.id).await,
        pb::BackorderStatus::Requested
    );
    let paid = app
        .orders()
        .pay_backorder(with_key(&key, pay("pay-2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paid.status, pb::BackorderStatus::Active as i32);
    let again = app
        .orders()
        .pay_backorder(with_key(&key, pay("pay-2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.status, pb::BackorderStatus::Active as i32);
    assert_eq!(
        app.balance(&key).await,
        ("60.00".into(), "30.00".into()),
        "held once"
    );
    app.ledger_ok().await;
}

/// Issue 11, finding 5: no scheduler pass ran between the opening of the lock window and
/// finalization (the service was down). The first pass after the outage decides as if it
/// had run in time: the hold is tried with the funds available now, earliest finalization
/// first, and only an order whose hold fails is UNFUNDED (without a LOW_BALANCE: it is not
/// in a window any more, the FAILED event says why). An order placed after its finalization
/// (accepted while its name was not on the list) stays UNFUNDED, funds or not.
async fn a_pass_after_an_outage_tries_the_hold_before_finalizing(app: App) {
    let (_, rich) = app.account("100").await;
    let (_, broke) = app.account("0").await;
    let (_, short) = app.account("40").await;
    let id = |r: pb::CreateBackorderResponse| r.backorder.unwrap().id;
    let funded = id(app
        .place(&rich, "outage-funded.com", REGULAR)
        .await
        .unwrap());
    let prepaid = id(app
        .place(&rich, "outage-prepaid.com", REGULAR)
        .await
        .unwrap());
    app.orders()
        .pay_backorder(with_key(
            &rich,
            pb::PayBackorderRequest {
                backorder_id: prepaid.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let unfunded = id(app
        .place(&broke, "outage-broke.com", REGULAR)
        .await
        .unwrap());
    // Placed first but finalizing an hour later: the 40.00 go to the other order.
    let later = id(app
        .place(&short, "outage-later.com", REGULAR)
        .await
        .unwrap());
    let sooner = id(app
        .place(&short, "outage-sooner.com", REGULAR)
        .await
        .unwrap());
    app.drop_list(
        &[
            ("outage-funded.com", DROP),
            ("outage-prepaid.com", DROP),
            ("outage-broke.com", DROP),
            ("outage-later.com", "2026-12-10 20:00:00"),
            ("outage-sooner.com", DROP),
        ],
        false,
    )
    .await;
    // Placed while its name was not on the list, half an hour after what turns out to be its
    // finalization: the spec's rule for orders placed after finalization is untouched.
    app.clock.set(at("2026-12-10T17:30:00Z")).unwrap();
    let placed_late = id(app
        .place(&rich, "outage-late-listed.com", REGULAR)
        .await
        .unwrap());
    app.drop_list(&[("outage-late-listed.com", DROP)], false)
        .await;

    // The first pass since 2026-12-01: every lock window opened and closed meanwhile.
    let pass = app.set_time("2026-12-10T18:30:00Z").await;

    use pb::BackorderStatus as S;
    let outcome = |order: pb::Backorder| {
        (
            S::try_from(order.status).unwrap(),
            pb::FailureReason::try_from(order.failure_reason).unwrap(),
        )
    };
    let processing = (S::Processing, pb::FailureReason::Unspecified);
    let failed = (S::Failed, pb::FailureReason::Unfunded);
    assert_eq!(
        outcome(app.order(&rich, &funded).await),
        processing,
        "a funded order whose window passed unseen is held, then finalized"
    );
    assert_eq!(outcome(app.order(&rich, &prepaid).await), processing);
    assert_eq!(outcome(app.order(&broke, &unfunded).await), failed);
    assert_eq!(
        outcome(app.order(&short, &sooner).await),
        processing,
        "earliest finalization first"
    );
    assert_eq!(outcome(app.order(&short, &later).await), failed);
    assert_eq!(
        outcome(app.order(&rich, &placed_late).await),
        failed,
        "placed after its finalization: no catch-up"
    );
    assert_eq!(
        (
            pass.holds_placed,
            pass.finalized,
            pass.unfunded,
            pass.low_balance_events
        ),
        (2, 3, 3, 0),
        "{pass:?}"
    );
    assert_eq!(app.balance(&rich).await, ("100.00".into(), "60.00".into()));
    assert_eq!(app.balance(&short).await, ("40.00".into(), "30.00".into()));
    assert_eq!(app.balance(&broke).await, ("0.00".into(), "0.00".into()));
    let audit = app
        .operator_api()
        .list_audit_log(with_key(
            &app.operator,
            pb::ListAuditLogRequest {
                backorder_id: funded.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let moves: Vec<_> = audit
        .entries
        .iter()
        .filter(|e| e.new_status != S::Unspecified as i32)
        .map(|e| (e.old_status, e.new_status))
        .collect();
    assert_eq!(
        moves,
        vec![
            (S::Unspecified as i32, S::Requested as i32),
            (S::Requested as i32, S::Active as i32),
            (S::Active as i32, S::Processing as i32),
        ],
        "the hold and the finalization are each audited"
    );
    for key in [&broke, &short] {
        let events = EventServiceClient::new(app.channel.clone())
            .list_events(with_key(key, pb::ListEventsRequest::default()))
            .await
            .unwrap()
            .into_inner()
            .events;
        assert!(
            events
                .iter()
                .all(|e| e.r#type != pb::EventType::LowBalance as i32),
            "no LOW_BALANCE for an order failed in the same pass: {events:?}"
        );
    }
    // Nothing is left to do: a second pass changes nothing.
    let again = app.set_time("2026-12-10T18:30:01Z").await;
    assert_eq!(
        (again.holds_placed, again.finalized, again.unfunded),
        (0, 0, 0)
    );
    app.ledger_ok().await;
}

fn lead(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

const YEAR_SECS: i64 = 365 * 86_400;

async fn upsert_net(
    app: &App,
    finalization_lead: Option<prost_types::Duration>,
    lock_lead: Option<prost_types::Duration>,
) -> Result<pb::Tld, tonic::Status> {
    CatalogServiceClient::new(app.channel.clone())
        .upsert_tld(with_key(
            &app.operator,
            pb::UpsertTldRequest {
                tld: Some(pb::Tld {
                    name: "net".into(),
                    classes: vec![REGULAR as i32, LITE as i32],
                    daily_deals: true,
                    finalization_lead,
                    lock_lead,
                    ..Default::default()
                }),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Issue 11, finding 3: the catalog refuses leads over a year (and negative ones) with
/// INVALID_ARGUMENT naming the field and the rule, so no pass can meet a lead that pushes a
/// time out of range.
async fn the_catalog_refuses_leads_over_a_year(app: App) {
    let ten_thousand_years = 10_000 * YEAR_SECS;
    let refusals = [
        (
            lead(ten_thousand_years),
            None,
            "tld.finalization_lead",
            "10,000-year finalization lead",
        ),
        (
            None,
            lead(ten_thousand_years),
            "tld.lock_lead",
            "10,000-year lock lead",
        ),
        (
            lead(i64::MAX),
            None,
            "tld.finalization_lead",
            "the largest finalization lead",
        ),
        (
            lead(YEAR_SECS + 1),
            None,
            "tld.finalization_lead",
            "a year and a second",
        ),
        (None, lead(-1), "tld.lock_lead", "a negative lock lead"),
    ];
    for (finalization, lock, field, what) in refusals {
        let refused = upsert_net(&app, finalization, lock).await;
        let status = match refused {
            Ok(tld) => panic!("{what}: accepted as {tld:?}"),
            Err(status) => status,
        };
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{what}: {}",
            status.message()
        );
        assert!(
            status.message().contains(field),
            "{what}: {}",
            status.message()
        );
        assert!(
            status.message().contains("365 days") || status.message().contains("non-negative"),
            "{what}: the message states the rule: {}",
            status.message()
        );
    }
    let net = CatalogServiceClient::new(app.channel.clone())
        .get_tld(with_key(
            &app.operator,
            pb::GetTldRequest { name: "net".into() },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        net.finalization_lead.unwrap().seconds,
        7200,
        "refusals change nothing"
    );
    // The bound itself is accepted, and a pass over a listed order of that TLD runs.
    upsert_net(&app, lead(YEAR_SECS), lead(YEAR_SECS))
        .await
        .unwrap();
    let (_, key) = app.account("100").await;
    app.place(&key, "year-lead.net", REGULAR).await.unwrap();
    app.drop_list(&[("year-lead.net", "2027-12-10 19:00:00")], false)
        .await;
    let pass = app.set_time("2026-12-02T00:00:00Z").await;
    assert_eq!(pass.holds_placed, 1, "{pass:?}");
}

/// Runs one statement on the service's database, as an older version may have left it.
async fn execute_sql(url: &str, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(statement).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// Issue 11, finding 3: leads stored before the catalog's bound existed (here written
/// straight into the database) never panic a pass, a placement or a listing: the orders'
/// times cannot be computed, so they are treated as unscheduled (no hold, no failure) until
/// an operator corrects the TLD, and then they are caught up.
async fn leads_stored_out_of_bounds_do_not_panic(app: App) {
    let (_, key) = app.account("100").await;
    let id = |r: pb::CreateBackorderResponse| r.backorder.unwrap().id;
    let huge = id(app.place(&key, "stored-huge.com", REGULAR).await.unwrap());
    let far = id(app.place(&key, "stored-far.net", REGULAR).await.unwrap());
    let fine = id(app.place(&key, "stored-fine.org", REGULAR).await.unwrap());
    app.drop_list(
        &[
            ("stored-huge.com", DROP),
            ("stored-huge-2.com", DROP),
            ("stored-far.net", DROP),
            ("stored-fine.org", DROP),
        ],
        false,
    )
    .await;
    execute_sql(
        &app.url,
        "UPDATE tlds SET finalization_lead_secs = 9223372036854775807 WHERE name = 'com'",
    )
    .await;
    execute_sql(
        &app.url,
        "UPDATE tlds SET lock_lead_secs = 315360000000 WHERE name = 'net'",
    )
    .await;

    app.clock.set(at("2026-12-08T00:00:00Z")).unwrap();
    let pass = app
        .operator_api()
        .run_scheduler(with_key(&app.operator, pb::RunSchedulerRequest {}))
        .await;
    let pass = match pass {
        Ok(pass) => pass.into_inner(),
        Err(status) => panic!("the pass failed: {:?}: {}", status.code(), status.message()),
    };
    assert_eq!(pass.holds_placed, 1, "{pass:?}");
    use pb::BackorderStatus as S;
    assert_eq!(app.status(&key, &fine).await, S::Active);
    for order in [&huge, &far] {
        let order = app.order(&key, order).await;
        assert_eq!(
            (S::try_from(order.status).unwrap(), order.drop_time),
            (S::Requested, None),
            "{}: its times cannot be computed, so it is shown unscheduled",
            order.domain
        );
    }
    let placed = app.place(&key, "stored-huge-2.com", REGULAR).await;
    let refused = placed.expect_err("a listed name whose times cannot be computed");
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("com"),
        "names the TLD: {}",
        refused.message()
    );
    let listed = app
        .orders()
        .list_backorders(with_key(
            &app.operator,
            pb::ListBackordersRequest {
                order_by: pb::BackorderOrderBy::FinalizationTime as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.backorders.len(), 3);
    assert_eq!(
        listed.backorders[0].id, fine,
        "orders without times sort last"
    );
    // Past finalization, nothing fails for want of times.
    let late = app.set_time("2026-12-11T00:00:00Z").await;
    assert_eq!((late.finalized, late.unfunded), (1, 0), "{late:?}");
    assert_eq!(app.status(&key, &huge).await, S::Requested);
    // Corrected: the order is caught up (held and finalized in the next pass).
    execute_sql(
        &app.url,
        "UPDATE tlds SET finalization_lead_secs = 7200 WHERE name = 'com'",
    )
    .await;
    app.set_time("2026-12-11T00:00:01Z").await;
    assert_eq!(app.status(&key, &huge).await, S::Processing);
    app.ledger_ok().await;
}

fn timestamp(text: &str) -> prost_types::Timestamp {
    let time = at(text);
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: 0,
    }
}

/// Issue 11, finding 3: the manual clock refuses to move out of range (past year 9999)
/// with INVALID_ARGUMENT instead of panicking, and stays where it was.
async fn the_manual_clock_refuses_times_past_year_9999(app: App) {
    let operator = app.operator_api();
    let before = app.clock.now();
    let advance = |seconds: i64| pb::AdvanceClockRequest {
        by: Some(prost_types::Duration { seconds, nanos: 0 }),
        run_scheduler: Some(true),
    };
    let cases = [
        ("10,000 years", 10_000 * YEAR_SECS),
        ("the largest duration", i64::MAX),
    ];
    for (what, seconds) in cases {
        let answer = operator
            .clone()
            .advance_clock(with_key(&app.operator, advance(seconds)))
            .await;
        let status = match answer {
            Ok(clock) => panic!("advancing by {what}: accepted: {:?}", clock.into_inner()),
            Err(status) => status,
        };
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "advancing by {what}: {}",
            status.message()
        );
        assert!(status.message().contains("by"), "{}", status.message());
        assert!(status.message().contains("9999"), "{}", status.message());
    }
    let set = operator
        .clone()
        .set_clock(with_key(
            &app.operator,
            pb::SetClockRequest {
                time: Some(prost_types::Timestamp {
                    seconds: 253_402_300_800, // 10000-01-01T00:00:00Z
                    nanos: 0,
                }),
            },
        ))
        .await
        .expect_err("year 10000");
    assert_eq!(set.code(), Code::InvalidArgument, "{}", set.message());
    assert!(set.message().contains("time"), "{}", set.message());
    assert_eq!(app.clock.now(), before, "refusals leave the clock alone");
    // The last representable second is fine, with an order and a daily deal open.
    let (_, key) = app.account("100").await;
    app.drop_list(&[("last-second.com", DROP)], false).await;
    app.place(&key, "last-second.com", REGULAR).await.unwrap();
    operator
        .clone()
        .set_clock(with_key(
            &app.operator,
            pb::SetClockRequest {
                time: Some(timestamp("9999-12-31T23:59:59Z")),
            },
        ))
        .await
        .unwrap();
    let one_more = operator
        .clone()
        .advance_clock(with_key(&app.operator, advance(1)))
        .await
        .expect_err("past 9999");
    assert_eq!(one_more.code(), Code::InvalidArgument);
}

macro_rules! lifecycle_suite {
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

lifecycle_suite!(
    placing_validates_and_reports_duplicates,
    refusals_name_the_rule_and_the_fix,
    the_lock_window_holds_funds_and_finalization_validates,
    short_funds_warn_once_and_priority_decides,
    unfunded_orders_fail_at_finalization,
    cancel_until_one_second_before_finalization,
    restores_and_drop_time_changes_are_followed,
    prepay_holds_at_once,
    other_accounts_orders_look_absent,
    the_event_stream_resumes_without_loss_or_repeats,
    daily_deals_take_lite_orders_after_finalization,
    daily_deals_stop_once_the_drop_is_decided,
    suspended_accounts_place_nothing,
    a_create_retried_after_finalization_gets_the_first_answer,
    a_prepay_refused_for_funds_stays_refused_for_its_request_id,
    a_pass_after_an_outage_tries_the_hold_before_finalizing,
    the_catalog_refuses_leads_over_a_year,
    leads_stored_out_of_bounds_do_not_panic,
    the_manual_clock_refuses_times_past_year_9999,
);
