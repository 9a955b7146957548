//! DropListService over real TCP on both backends: an import from the running registry
//! simulator's feed (snapshot over gRPC, then the change stream), file imports with progress,
//! query and both exports, alerts and bad input.

use backorder_proto::backorder::v1 as pb;
use backorder_proto::registry::v1 as feed_pb;
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::drop_list::feed;
use backorder_svc::testkit::with_key;
use pb::drop_list_service_client::DropListServiceClient;
use registry_sim::sim::SimOptions;
use registry_sim::{Scenario, Sim};
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

struct App {
    channel: Channel,
    operator_key: String,
    store: backorder_svc::store::SharedStore,
    clock: SharedClock,
    _server: backorder_svc::testkit::TestServer,
}

struct RegistrySim {
    url: String,
    sim: Arc<Sim>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn start_sim() -> RegistrySim {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
        let _ = rx.await;
    }));
    RegistrySim {
        url: format!("http://{address}"),
        sim,
        _shutdown: tx,
    }
}

async fn spawn_app(
    url: &str,
    registry_url: Option<String>,
    start: chrono::DateTime<chrono::Utc>,
) -> App {
    let clock: SharedClock = Arc::new(ManualClock::new(start));
    let server = backorder_svc::testkit::serve(url, clock.clone(), registry_url).await;
    App {
        channel: server.channel.clone(),
        operator_key: server.operator_key.clone(),
        store: server.store.clone(),
        clock,
        _server: server,
    }
}

fn client(app: &App) -> DropListServiceClient<Channel> {
    DropListServiceClient::new(app.channel.clone())
}

async fn progress_of(
    stream: Result<tonic::Response<tonic::Streaming<pb::ImportProgress>>, tonic::Status>,
) -> Vec<pb::ImportProgress> {
    let mut stream = stream.unwrap().into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.next().await {
        messages.push(message.unwrap());
    }
    messages
}

async fn everything(app: &App) -> pb::QueryDropListResponse {
    client(app)
        .query_drop_list(with_key(
            &app.operator_key,
            pb::QueryDropListRequest {
                limit: 1000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn imports_from_the_running_registry_feed(db_url: String) {
    let registry = start_sim().await;
    let start = registry.sim.now();
    let app = spawn_app(&db_url, Some(registry.url.clone()), start).await;

    // The operator asks for an import: progress messages, then the summary.
    let messages = progress_of(
        client(&app)
            .import_from_registry(with_key(
                &app.operator_key,
                pb::ImportFromRegistryRequest::default(),
            ))
            .await,
    )
    .await;
    let last = messages.last().unwrap();
    assert!(last.done && messages[..messages.len() - 1].iter().all(|m| !m.done));
    let mut feed_client = feed::connect(&registry.url).await.unwrap();
    let (lines, sequence) = feed::snapshot(&mut feed_client, &[]).await.unwrap();
    assert!(!lines.is_empty());
    assert_eq!(
        (last.inserted, last.bad_lines, last.total),
        (lines.len() as i64, 0, lines.len() as i64)
    );
    assert_eq!(everything(&app).await.total, lines.len() as i64);
    for line in &lines {
        let backorder_svc::drop_list::source::LineParse::Entry {
            domain, drop_time, ..
        } = &line.parse
        else {
            panic!("{line:?}");
        };
        let stored = app.store.drop_entry(domain).await.unwrap().unwrap();
        assert_eq!(&stored.drop_time, drop_time, "{domain}");
    }

    // Follow the change stream while the registry's time moves: names are deleted into
    // redemption (ADDED) and restored (REMOVED).
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = {
        let (store, clock, mut client) =
            (app.store.clone(), app.clock.clone(), feed_client.clone());
        tokio::spawn(async move {
            feed::follow(&store, &clock, &mut client, sequence, &[], async {
                let _ = stopped.await;
            })
            .await
        })
    };
    registry
        .sim
        .advance_by(chrono::Duration::minutes(20))
        .await
        .unwrap();
    // Both services follow one time line: names released meanwhile are past, not restored.
    app.clock
        .as_manual()
        .unwrap()
        .set(registry.sim.now())
        .unwrap();
    let mut watch = feed_client
        .watch_pending_deletes(feed_pb::WatchPendingDeletesRequest {
            after_sequence: sequence,
            tlds: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    while let Ok(Ok(Some(change))) =
        tokio::time::timeout(Duration::from_millis(500), watch.message()).await
    {
        let domain = change.entry.unwrap().domain;
        match feed_pb::ChangeKind::try_from(change.kind).unwrap() {
            feed_pb::ChangeKind::Added => added.push(domain),
            feed_pb::ChangeKind::Removed => removed.push(domain),
            _ => {}
        }
    }
    assert!(
        !removed.is_empty(),
        "the smoke scenario restores some names"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut pending = 0;
        for domain in &removed {
            let row = app.store.drop_entry(domain).await.unwrap();
            if row.is_none_or(|r| r.removed_at.is_none()) {
                pending += 1;
            }
        }
        for domain in added.iter().filter(|d| !removed.contains(d)) {
            if app.store.drop_entry(domain).await.unwrap().is_none() {
                pending += 1;
            }
        }
        if pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} changes not applied"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    follower.await.unwrap().unwrap();
    let listed = everything(&app).await;
    for domain in &removed {
        assert!(
            listed.entries.iter().all(|e| &e.domain != domain),
            "{domain}"
        );
    }

    // A new snapshot agrees with what the stream did: nothing more to remove.
    let again = progress_of(
        client(&app)
            .import_from_registry(with_key(
                &app.operator_key,
                pb::ImportFromRegistryRequest::default(),
            ))
            .await,
    )
    .await;
    let summary = again.last().unwrap();
    assert_eq!(
        (summary.removed, summary.inserted, summary.bad_lines),
        (0, 0, 0)
    );
}

async fn files_exports_alerts_and_bad_input(db_url: String) {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let app = spawn_app(&db_url, None, start).await;
    let operator = app.operator_key.clone();

    // An account with an alert, before the import.
    let mut accounts = pb::account_service_client::AccountServiceClient::new(app.channel.clone());
    let account = accounts
        .create_account(with_key(
            &operator,
            pb::CreateAccountRequest {
                display_name: "watcher".into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let key = accounts
        .create_api_key(with_key(
            &operator,
            pb::CreateApiKeyRequest {
                role: pb::ApiKeyRole::Account as i32,
                account_id: account.id.clone(),
                label: "test".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let alert = client(&app)
        .create_alert(with_key(
            &key,
            pb::CreateAlertRequest {
                alert: Some(pb::Alert {
                    keywords: vec!["shop".into()],
                    keyword_match: pb::KeywordMatch::Begin as i32,
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(alert.account_id, account.id);

    // Account keys may not import.
    let denied = client(&app)
        .import_file(with_key(
            &key,
            pb::ImportFileRequest {
                content: b"a.com;2026-03-03 10:00:00\n".to_vec(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let file = "shopnow.com;2026-03-03 10:00:00\nshop-two.net;2026-03-04 11:00:00\n\
                bad line\nzeta.org;2026-03-05 12:00:00\nnope.invalidzone;2026-03-05 12:00:00\n";
    let messages = progress_of(
        client(&app)
            .import_file(with_key(
                &operator,
                pb::ImportFileRequest {
                    content: file.as_bytes().to_vec(),
                    format: pb::ImportFileFormat::Csv as i32,
                    file_name: "list.csv".into(),
                    full_list: false,
                },
            ))
            .await,
    )
    .await;
    let summary = messages.last().unwrap();
    assert!(summary.done);
    assert_eq!((summary.inserted, summary.bad_lines), (3, 2));
    let lines: Vec<i64> = summary.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 5]);
    assert!(summary.errors[1].reason.contains("not in the TLD catalog"));

    // One ALERT_MATCH per matching domain for the account.
    let events = app
        .store
        .list_events(None, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind == backorder_svc::domain::event::EventType::AlertMatch)
        .map(|e| e.event.domain.unwrap())
        .collect::<Vec<_>>();
    assert_eq!(events, ["shopnow.com", "shop-two.net"]);

    // Query, export and CSV export agree.
    let query = pb::DropListQuery {
        keywords: vec!["shop".into()],
        order_by: pb::DropListOrderBy::DeletionDayDesc as i32,
        ..Default::default()
    };
    let page = client(&app)
        .query_drop_list(with_key(
            &key,
            pb::QueryDropListRequest {
                query: Some(query.clone()),
                first: 0,
                limit: 1,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (page.first, page.last, page.count, page.limit, page.total),
        (0, 0, 1, 1, 2)
    );
    assert_eq!(page.entries[0].domain, "shop-two.net");
    assert_eq!(page.entries[0].hyphens, 1);
    let exported: Vec<String> = client(&app)
        .export_drop_list(with_key(
            &key,
            pb::ExportDropListRequest {
                query: Some(query.clone()),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .map(|e| e.unwrap().domain)
        .collect()
        .await;
    assert_eq!(exported, ["shop-two.net", "shopnow.com"]);
    let csv: Vec<u8> = client(&app)
        .export_drop_list_csv(with_key(&key, pb::ExportDropListRequest { query: None }))
        .await
        .unwrap()
        .into_inner()
        .map(|c| c.unwrap().data)
        .collect::<Vec<_>>()
        .await
        .concat();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "shop-two.net;2026-03-04 11:00:00\nshopnow.com;2026-03-03 10:00:00\nzeta.org;2026-03-05 12:00:00\n"
    );

    // Bad input: INVALID_ARGUMENT naming the field.
    let bad = |query: pb::DropListQuery, limit: i32| pb::QueryDropListRequest {
        query: Some(query),
        first: 0,
        limit,
    };
    let t = |s: i64| prost_types::Timestamp {
        seconds: s,
        nanos: 0,
    };
    let cases = [
        (bad(Default::default(), 1001), "limit"),
        (
            bad(
                pb::DropListQuery {
                    regexp: "(unclosed".into(),
                    ..Default::default()
                },
                0,
            ),
            "query.regexp",
        ),
        (
            bad(
                pb::DropListQuery {
                    min_finalization_time: Some(t(2_000)),
                    max_finalization_time: Some(t(1_000)),
                    ..Default::default()
                },
                0,
            ),
            "min_finalization_time",
        ),
        (
            bad(
                pb::DropListQuery {
                    lengths: vec![21],
                    ..Default::default()
                },
                0,
            ),
            "query.lengths[0]",
        ),
        (
            bad(
                pb::DropListQuery {
                    scores: vec![5, 11],
                    ..Default::default()
                },
                0,
            ),
            "query.scores[1]",
        ),
        (
            bad(
                pb::DropListQuery {
                    keywords: vec!["50%".into()],
                    ..Default::default()
                },
                0,
            ),
            "query.keywords[0]",
        ),
        (
            bad(
                pb::DropListQuery {
                    deletion_days: vec!["tomorrow".into()],
                    ..Default::default()
                },
                0,
            ),
            "query.deletion_days[0]",
        ),
    ];
    for (request, field) in cases {
        let status = client(&app)
            .query_drop_list(with_key(&key, request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        assert!(
            status.message().contains(field),
            "{field}: {}",
            status.message()
        );
    }
    // Without a feed configured the on-demand registry import says so.
    let status = client(&app)
        .import_from_registry(with_key(
            &operator,
            pb::ImportFromRegistryRequest::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Alerts: listed and deleted only by their account.
    let listed = client(&app)
        .list_alerts(with_key(&key, pb::ListAlertsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.alerts.len(), 1);
    client(&app)
        .delete_alert(with_key(
            &key,
            pb::DeleteAlertRequest {
                alert_id: alert.id.clone(),
            },
        ))
        .await
        .unwrap();
    let gone = client(&app)
        .delete_alert(with_key(
            &key,
            pb::DeleteAlertRequest { alert_id: alert.id },
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

macro_rules! grpc_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    super::$test(db.url.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    super::$test(db.url.clone()).await;
                }
            )*
        }
    };
}

grpc_suite!(
    imports_from_the_running_registry_feed,
    files_exports_alerts_and_bad_input,
);
