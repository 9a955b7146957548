//! Drop-list imports on SQLite and PostgreSQL: upserts, restores, bad lines, the HEXONET zip
//! and keyword alerts.

mod drop_list_common;

use backorder_svc::domain::account::{AccountId, PriceTier};
use backorder_svc::domain::drop_list::{Keyword, KeywordMatch, LabelFilter};
use backorder_svc::domain::event::EventType;
use backorder_svc::domain::money::Currency;
use backorder_svc::drop_list::{FileFormat, Scope, import_lines, read_file};
use backorder_svc::store::{AccountCreation, NewAccount, SharedStore};
use drop_list_common::{hours, import, now};
use std::io::Write;

async fn listed(store: &SharedStore) -> Vec<String> {
    let page = store
        .query_drop_list(&Default::default(), 0, 1000, now())
        .await
        .unwrap();
    assert_eq!(page.total as usize, page.entries.len());
    page.entries.into_iter().map(|e| e.domain).collect()
}

async fn imports_are_upserts(store: SharedStore) {
    let t = now() + hours(30);
    let first = import(
        &store,
        now(),
        &[("alpha.com", t), ("beta.net", t), ("Gamma.CO.UK", t)],
        Scope::Partial,
    )
    .await;
    assert_eq!((first.inserted, first.updated, first.unchanged), (3, 0, 0));
    let again = import(
        &store,
        now(),
        &[
            ("alpha.com", t),
            ("beta.net", t + hours(5)),
            ("gamma.co.uk", t),
        ],
        Scope::Partial,
    )
    .await;
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 1, 2));
    let beta = store.drop_entry("beta.net").await.unwrap().unwrap();
    assert_eq!(beta.drop_time, t + hours(5));
    // The catalog's finalization lead for .net (default 2 h) follows the new drop time.
    assert_eq!(beta.finalization_at, t + hours(5) - hours(2));
    let gamma = store.drop_entry("gamma.co.uk").await.unwrap().unwrap();
    assert_eq!(
        (gamma.zone.as_str(), gamma.label.as_str()),
        ("co.uk", "gamma")
    );
    assert_eq!(
        listed(&store).await,
        ["alpha.com", "beta.net", "gamma.co.uk"]
    );
}

async fn a_full_import_marks_names_that_left_as_restored(store: SharedStore) {
    let t = now() + hours(10);
    let past = now() - hours(1);
    import(
        &store,
        now() - hours(5),
        &[
            ("a.com", t),
            ("b.com", t),
            ("c.com", t),
            ("old.com", past),
            ("x.net", t),
        ],
        Scope::Partial,
    )
    .await;
    // The whole .com list without c.com (restored) and old.com (dropped an hour ago).
    let full = import(
        &store,
        now(),
        &[("a.com", t), ("b.com", t)],
        Scope::FullForZonesSeen,
    )
    .await;
    assert_eq!(full.removed, 1);
    let c = store.drop_entry("c.com").await.unwrap().unwrap();
    assert_eq!(c.removed_at, Some(now()));
    // The past row stays for the audit trail, unremoved; x.net is outside the scope.
    let old = store.drop_entry("old.com").await.unwrap().unwrap();
    assert_eq!(old.removed_at, None);
    assert_eq!(listed(&store).await, ["a.com", "b.com", "x.net"]);
    // Scheduled again: back on the list, counted as new.
    let back = import(&store, now(), &[("c.com", t + hours(24))], Scope::Partial).await;
    assert_eq!(back.inserted, 1);
    let c = store.drop_entry("c.com").await.unwrap().unwrap();
    assert_eq!((c.removed_at, c.drop_time), (None, t + hours(24)));
    // A full import for every zone.
    let all = import(&store, now(), &[("a.com", t)], Scope::Full(None)).await;
    assert_eq!(all.removed, 3);
    assert_eq!(listed(&store).await, ["a.com"]);
}

async fn bad_lines_are_reported_and_never_written(store: SharedStore) {
    let text = "domain;drop date\n\
                good.com;2026-03-05 10:00:00\n\
                only-one-field\n\
                unknown.zz;2026-03-05 10:00:00\n\
                dated.com;05/03/2026\n\
                under_score.com;2026-03-05 10:00:00\n\
                www.sub.com;2026-03-05 10:00:00\n\
                fine.net;2026-03-06 11:30:00\n\
                a;b;c\n";
    let lines = read_file(text.as_bytes(), Some(FileFormat::Csv)).unwrap();
    let mut seen_progress = Vec::new();
    let report = import_lines(&store, now(), lines, Scope::Partial, &mut |r| {
        seen_progress.push(r.processed)
    })
    .await
    .unwrap();
    assert_eq!((report.inserted, report.bad_lines), (2, 6));
    let reasons: Vec<(u64, &str)> = report
        .errors
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 6);
    assert_eq!(reasons[0].0, 3);
    assert!(reasons[0].1.contains("expected 2 fields"), "{reasons:?}");
    assert_eq!(reasons[1].0, 4);
    assert!(reasons[1].1.starts_with("zone: `zz`"), "{reasons:?}");
    assert_eq!(reasons[2].0, 5);
    assert!(reasons[2].1.starts_with("drop date:"), "{reasons:?}");
    assert_eq!(reasons[3].0, 6);
    assert!(reasons[3].1.starts_with("domain:"), "{reasons:?}");
    assert_eq!(reasons[4].0, 7);
    assert!(reasons[4].1.contains("more than one label"), "{reasons:?}");
    assert_eq!(reasons[5].0, 9);
    assert_eq!(report.errors[1].content, "unknown.zz;2026-03-05 10:00:00");
    assert_eq!(listed(&store).await, ["fine.net", "good.com"]);
    for bad in ["unknown.zz", "dated.com", "under_score.com", "www.sub.com"] {
        assert!(store.drop_entry(bad).await.unwrap().is_none(), "{bad}");
    }
    assert_eq!(seen_progress.last(), Some(&8));
}

async fn the_hexonet_zip_is_read(store: SharedStore) {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "pending_delete_com.csv",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(
        "zipped.com;2026-03-04 19:00:00\r\nbücher.com;2026-03-04 19:05:00\r\nbroken;line;here\r\n"
            .as_bytes(),
    )
    .unwrap();
    let content = zip.finish().unwrap().into_inner();
    let lines = read_file(&content, None).unwrap();
    let report = import_lines(&store, now(), lines, Scope::Partial, &mut |_| {})
        .await
        .unwrap();
    assert_eq!((report.inserted, report.bad_lines), (2, 1));
    assert_eq!(report.errors[0].line, 3);
    let idn = store
        .drop_entry("xn--bcher-kva.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(idn.domain_unicode, "bücher.com");
    assert!(idn.features.idn);
    assert_eq!(idn.drop_time.to_rfc3339(), "2026-03-04T19:05:00+00:00");
}

async fn open_account(store: &SharedStore, name: &str) -> AccountId {
    let new = NewAccount {
        display_name: name.into(),
        currency: Currency::parse("USD").unwrap(),
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

fn filter(keywords: &[&str], how: KeywordMatch, zones: &[&str]) -> LabelFilter {
    LabelFilter {
        keywords: keywords
            .iter()
            .map(|k| Keyword::parse("keywords", k).unwrap())
            .collect(),
        keyword_match: how,
        zones: zones.iter().map(|z| z.to_string()).collect(),
        ..Default::default()
    }
}

async fn alerts_fire_once_per_account_and_domain(store: SharedStore) {
    let a = open_account(&store, "a").await;
    let b = open_account(&store, "b").await;
    store
        .create_drop_alert(a, &filter(&["car"], KeywordMatch::Any, &[]), now())
        .await
        .unwrap();
    store
        .create_drop_alert(a, &filter(&["car"], KeywordMatch::Begin, &["com"]), now())
        .await
        .unwrap();
    store
        .create_drop_alert(b, &filter(&["car"], KeywordMatch::End, &["net"]), now())
        .await
        .unwrap();
    let t = now() + hours(20);
    let rows = [
        ("carshop.com", t),
        ("bestcar.net", t),
        ("boat.com", t),
        ("oldcar.com", now() - hours(1)),
    ];
    let report = import(&store, now(), &rows, Scope::Partial).await;
    assert_eq!(report.alert_events, 3);
    let events_of = |account| {
        let store = store.clone();
        async move {
            let mut hits: Vec<String> = store
                .list_events(Some(account), 0, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event.kind == EventType::AlertMatch)
                .map(|e| e.event.domain.unwrap())
                .collect();
            hits.sort();
            hits
        }
    };
    assert_eq!(events_of(a).await, ["bestcar.net", "carshop.com"]);
    assert_eq!(events_of(b).await, ["bestcar.net"]);
    // Re-import, a changed drop time, and a restore followed by a re-listing: no repeats.
    import(&store, now(), &rows, Scope::Partial).await;
    import(
        &store,
        now(),
        &[("carshop.com", t + hours(1))],
        Scope::Partial,
    )
    .await;
    store
        .mark_drop_removed(&["carshop.com".to_string()], now())
        .await
        .unwrap();
    let relisted = import(
        &store,
        now(),
        &[("carshop.com", t + hours(48))],
        Scope::Partial,
    )
    .await;
    assert_eq!((relisted.inserted, relisted.alert_events), (1, 0));
    assert_eq!(events_of(a).await, ["bestcar.net", "carshop.com"]);
    // A new matching name fires for the alert's account only.
    let more = import(&store, now(), &[("carpool.com", t)], Scope::Partial).await;
    assert_eq!(more.alert_events, 1);
    assert_eq!(
        events_of(a).await,
        ["bestcar.net", "carpool.com", "carshop.com"]
    );
    // Alerts list per account and delete only within the account.
    let mine = store
        .list_drop_alerts(
            Some(b),
            backorder_svc::store::PageRequest {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert!(!store.delete_drop_alert(Some(a), mine[0].id).await.unwrap());
    assert!(store.delete_drop_alert(Some(b), mine[0].id).await.unwrap());
}

drop_list_suite!(
    imports_are_upserts,
    a_full_import_marks_names_that_left_as_restored,
    bad_lines_are_reported_and_never_written,
    the_hexonet_zip_is_read,
    alerts_fire_once_per_account_and_domain,
);
