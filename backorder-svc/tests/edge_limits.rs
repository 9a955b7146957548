//! Issue 13 (hardening at the edges), over gRPC on both backends: zip bombs through
//! `ImportFile`, short error messages for huge bad values, bounded repeated fields, strict
//! catalog names, price tiers and order extensions.

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::testkit::{TestServer, with_key};
use pb::account_service_client::AccountServiceClient;
use pb::backorder_service_client::BackorderServiceClient;
use pb::catalog_service_client::CatalogServiceClient;
use pb::drop_list_service_client::DropListServiceClient;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use tonic_types::StatusExt;

async fn spawn_app(url: &str) -> TestServer {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock: SharedClock = Arc::new(ManualClock::new(start));
    backorder_svc::testkit::serve(url, clock, None).await
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// An invalid-argument status with a short message naming `field`, and short details.
#[track_caller]
fn assert_short_invalid(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let message = status.message();
    assert!(
        message.len() <= 256,
        "the message is {} bytes: {}...",
        message.len(),
        message.chars().take(300).collect::<String>()
    );
    assert!(message.contains(field), "{message} does not name {field}");
    if let Some(bad) = status.get_details_bad_request() {
        for violation in &bad.field_violations {
            assert!(
                violation.description.len() <= 256 && violation.field.len() <= 256,
                "details of {} + {} bytes",
                violation.field.len(),
                violation.description.len()
            );
        }
    }
}

/// Finding 3: a zip of a few hundred KB that unpacks to millions of lines is refused quickly,
/// before anything is written, with bounded memory and few progress messages.
async fn zip_bombs_are_refused_quickly(url: String) {
    let app = spawn_app(&url).await;
    let mut zipped = Vec::new();
    {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1))
            .large_file(true);
        writer.start_file("bomb.csv", options).unwrap();
        let block = "bomb.com;2026-03-03 10:00:00\n".repeat(10_000);
        // 2.5 million lines, 72 MB unpacked.
        for _ in 0..250 {
            writer.write_all(block.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
    }
    assert!(zipped.len() < 1024 * 1024, "{} bytes", zipped.len());
    let before = rss_kib();
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        let response = DropListServiceClient::new(app.channel.clone())
            .import_file(with_key(
                &app.operator_key,
                pb::ImportFileRequest {
                    content: zipped.clone(),
                    file_name: "bomb.zip".into(),
                    ..Default::default()
                },
            ))
            .await;
        let mut messages = 0;
        match response {
            Err(status) => Err((status, messages)),
            Ok(stream) => {
                let mut stream = stream.into_inner();
                while let Some(message) = stream.next().await {
                    match message {
                        Ok(_) => messages += 1,
                        Err(status) => return Err((status, messages)),
                    }
                }
                Ok(messages)
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the import was still running after 60 s"));
    let (status, messages) = match outcome {
        Ok(messages) => panic!("the bomb was imported ({messages} progress messages)"),
        Err(refused) => refused,
    };
    assert!(
        matches!(
            status.code(),
            Code::InvalidArgument | Code::ResourceExhausted
        ),
        "{status:?}"
    );
    assert!(status.message().contains("content"), "{}", status.message());
    assert!(status.message().contains("limit"), "{}", status.message());
    assert!(messages <= 20, "{messages} progress messages");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 150 * 1024, "the process grew by {grown} KiB");
    // Nothing was written.
    let listed = DropListServiceClient::new(app.channel.clone())
        .query_drop_list(with_key(
            &app.operator_key,
            pb::QueryDropListRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total, 0);

    // A line longer than the limit is refused too (a plain CSV, no zip).
    let long = format!("{}.com;2026-03-03 10:00:00\n", "a".repeat(100_000));
    let status = DropListServiceClient::new(app.channel.clone())
        .import_file(with_key(
            &app.operator_key,
            pb::ImportFileRequest {
                content: long.into_bytes(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "content");
    assert!(status.message().contains("limit"), "{}", status.message());

    // Repeated lines of one name are written once, with few progress messages.
    let repeated = "same.com;2026-03-03 10:00:00\n".repeat(30_000);
    let response = DropListServiceClient::new(app.channel.clone())
        .import_file(with_key(
            &app.operator_key,
            pb::ImportFileRequest {
                content: repeated.into_bytes(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let mut stream = response.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.next().await {
        messages.push(message.unwrap());
    }
    assert!(messages.len() <= 20, "{} progress messages", messages.len());
    let last = messages.last().unwrap();
    assert!(last.done);
    assert_eq!(last.inserted, 1);
}

async fn open_account(app: &TestServer) -> String {
    AccountServiceClient::new(app.channel.clone())
        .create_account(with_key(
            &app.operator_key,
            pb::CreateAccountRequest {
                display_name: "edge".into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id
}

/// Finding 4: a bad value of 100 KB gives a short message that still names the field.
async fn huge_bad_values_give_short_messages(url: String) {
    let app = spawn_app(&url).await;
    let key = &app.operator_key;
    let account = open_account(&app).await;
    let huge = format!("{}!", "x".repeat(100_000));
    let mut orders = BackorderServiceClient::new(app.channel.clone());
    let mut drop_list = DropListServiceClient::new(app.channel.clone());
    let mut catalog = CatalogServiceClient::new(app.channel.clone());

    let status = orders
        .create_backorder(with_key(
            key,
            pb::CreateBackorderRequest {
                domain: huge.clone(),
                class: pb::BackorderClass::Backorder as i32,
                account_id: account.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "domain");

    let status = orders
        .create_backorder(with_key(
            key,
            pb::CreateBackorderRequest {
                domain: "fine-name.com".into(),
                class: pb::BackorderClass::Backorder as i32,
                account_id: account.clone(),
                extensions: [(format!("X-{huge}"), "v".to_string())].into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "extensions");

    for query in [
        pb::DropListQuery {
            keywords: vec![huge.clone()],
            ..Default::default()
        },
        pb::DropListQuery {
            deletion_days: vec![huge.clone()],
            ..Default::default()
        },
        pb::DropListQuery {
            finalization_dates: vec![huge.clone()],
            ..Default::default()
        },
        pb::DropListQuery {
            zones: vec![huge.clone()],
            ..Default::default()
        },
        pb::DropListQuery {
            regexp: huge.clone(),
            ..Default::default()
        },
    ] {
        let status = drop_list
            .query_drop_list(with_key(
                key,
                pb::QueryDropListRequest {
                    query: Some(query),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_short_invalid(&status, "query.");
    }

    let status = catalog
        .upsert_tld(with_key(
            key,
            pb::UpsertTldRequest {
                tld: Some(pb::Tld {
                    name: "com".into(),
                    required_extensions: vec![huge.clone()],
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "tld.required_extensions");

    let status = AccountServiceClient::new(app.channel.clone())
        .create_account(with_key(
            key,
            pb::CreateAccountRequest {
                display_name: "x".into(),
                currency_code: huge.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "currency_code");
}

/// Finding 7: 10,000 repeated entries are refused as bad input naming the field and the
/// limit, never an internal error.
async fn repeated_fields_are_bounded(url: String) {
    let app = spawn_app(&url).await;
    let key = &app.operator_key;
    let mut drop_list = DropListServiceClient::new(app.channel.clone());
    let many = |value: i32| vec![value; 10_000];
    let queries = [
        (
            "query.filters",
            pb::DropListQuery {
                filters: many(pb::DropListFilter::NoHyphens as i32),
                ..Default::default()
            },
        ),
        (
            "query.lengths",
            pb::DropListQuery {
                lengths: many(5),
                ..Default::default()
            },
        ),
        (
            "query.scores",
            pb::DropListQuery {
                scores: many(5),
                ..Default::default()
            },
        ),
        (
            "query.deletion_days",
            pb::DropListQuery {
                deletion_days: vec!["2026-03-03".into(); 10_000],
                ..Default::default()
            },
        ),
        (
            "query.finalization_dates",
            pb::DropListQuery {
                finalization_dates: vec!["2026-03-03".into(); 10_000],
                ..Default::default()
            },
        ),
        (
            "query.keywords",
            pb::DropListQuery {
                keywords: vec!["shop".into(); 10_000],
                ..Default::default()
            },
        ),
    ];
    for (field, query) in queries {
        let status = drop_list
            .query_drop_list(with_key(
                key,
                pb::QueryDropListRequest {
                    query: Some(query),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_short_invalid(&status, field);
        assert!(status.message().contains("at most"), "{}", status.message());
    }
    let status = drop_list
        .create_alert(with_key(
            key,
            pb::CreateAlertRequest {
                alert: Some(pb::Alert {
                    account_id: open_account(&app).await,
                    keywords: vec!["shop".into()],
                    filters: many(pb::DropListFilter::NoIdns as i32),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "alert.filters");

    let status = CatalogServiceClient::new(app.channel.clone())
        .upsert_tld(with_key(
            key,
            pb::UpsertTldRequest {
                tld: Some(pb::Tld {
                    name: "com".into(),
                    required_extensions: vec!["X-A".into(); 10_000],
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "tld.required_extensions");

    let status = BackorderServiceClient::new(app.channel.clone())
        .list_backorders(with_key(
            key,
            pb::ListBackordersRequest {
                statuses: many(1),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "statuses");
}

/// Finding 8: catalog names like domain labels, documented tier names, bounded extensions.
async fn lenient_input_is_refused(url: String) {
    let app = spawn_app(&url).await;
    let key = &app.operator_key;
    let mut catalog = CatalogServiceClient::new(app.channel.clone());
    for name in [
        "localhost",
        "127.0.0.1",
        "xn--zz.com",
        "99999999999999999999999",
        "ab--cd",
        "test",
    ] {
        let status = catalog
            .upsert_tld(with_key(
                key,
                pb::UpsertTldRequest {
                    tld: Some(pb::Tld {
                        name: name.into(),
                        ..Default::default()
                    }),
                },
            ))
            .await
            .expect_err(name);
        assert_short_invalid(&status, "tld.name");
    }
    for name in ["co.uk", "xn--6frz82g", "example-tld", "me.uk"] {
        catalog
            .upsert_tld(with_key(
                key,
                pb::UpsertTldRequest {
                    tld: Some(pb::Tld {
                        name: name.into(),
                        ..Default::default()
                    }),
                },
            ))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }

    for tier in ["\t", "-1", "1", "_x", " gold", "Gold"] {
        let status = catalog
            .set_price(with_key(
                key,
                pb::SetPriceRequest {
                    price: Some(pb::Price {
                        price_tier: tier.into(),
                        tld: "com".into(),
                        class: pb::BackorderClass::Backorder as i32,
                        amount: Some(pb::Money {
                            currency_code: "USD".into(),
                            amount: "10.00".into(),
                        }),
                    }),
                },
            ))
            .await
            .expect_err(tier);
        assert_short_invalid(&status, "price_tier");
        let status = AccountServiceClient::new(app.channel.clone())
            .create_account(with_key(
                key,
                pb::CreateAccountRequest {
                    display_name: "tiered".into(),
                    currency_code: "USD".into(),
                    price_tier: tier.into(),
                    ..Default::default()
                },
            ))
            .await;
        assert_short_invalid(&status.expect_err(tier), "price_tier");
    }

    let account = open_account(&app).await;
    let mut orders = BackorderServiceClient::new(app.channel.clone());
    let extensions = (0..10_000)
        .map(|i| (format!("X-FIELD-{i}"), "v".to_string()))
        .collect();
    let status = orders
        .create_backorder(with_key(
            key,
            pb::CreateBackorderRequest {
                domain: "many-extensions.com".into(),
                class: pb::BackorderClass::Backorder as i32,
                account_id: account.clone(),
                extensions,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "extensions");
    assert!(status.message().contains("at most"), "{}", status.message());
    let status = orders
        .create_backorder(with_key(
            key,
            pb::CreateBackorderRequest {
                domain: "long-extension.com".into(),
                class: pb::BackorderClass::Backorder as i32,
                account_id: account,
                extensions: [("X-NOTE".to_string(), "v".repeat(10_000))].into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_short_invalid(&status, "extensions");
}

macro_rules! suite {
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

suite!(
    zip_bombs_are_refused_quickly,
    huge_bad_values_give_short_messages,
    repeated_fields_are_bounded,
    lenient_input_is_refused,
);
