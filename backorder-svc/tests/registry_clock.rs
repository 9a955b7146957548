//! One clock drives both services: the backorder service follows the registry simulator's
//! clock-watch stream, and the simulator's advance returns only after our scheduler acted.

use backorder_proto::registry::v1 as registry;
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::domain::account::PriceTier;
use backorder_svc::domain::catalog::BackorderClass;
use backorder_svc::domain::drop_list::DropName;
use backorder_svc::domain::lifecycle::Status;
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::ledger::{Movement, MovementRequest};
use backorder_svc::lifecycle::placement::{self, OrderRequest};
use backorder_svc::lifecycle::registry_clock;
use backorder_svc::store::drop_list::DropListEntry;
use backorder_svc::store::orders::Placement;
use backorder_svc::store::{AccountCreation, NewAccount};
use backorder_svc::supervision::{Part, Supervision};
use chrono::Duration;
use registry::sim_control_client::SimControlClient;
use registry_sim::sim::SimOptions;
use registry_sim::{Scenario, Sim};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_ticks_drive_the_scheduler() {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
        let _ = sim_stopped.await;
    }));

    let db = backorder_svc::testkit::sqlite();
    let store = backorder_svc::store::connect(&db.url).await.unwrap();
    let start = registry_clock::registry_now(&url).await.unwrap();
    let manual = Arc::new(ManualClock::new(start));
    let clock: SharedClock = manual.clone();
    backorder_svc::bootstrap::first_start(&store, &clock)
        .await
        .unwrap();
    let usd = Currency::parse("USD").unwrap();
    let new = NewAccount {
        display_name: "r".into(),
        currency: usd,
        price_tier: PriceTier::default_tier(),
    };
    let AccountCreation::Created(account) =
        store.create_account(new, None, "t", start).await.unwrap()
    else {
        panic!("account not created");
    };
    let deposit = MovementRequest {
        scope: "operator".into(),
        request_id: "d".into(),
        movement: Movement::Deposit {
            account: account.id,
            amount: Money::new(usd, 10_000),
        },
        memo: String::new(),
        actor: "t".into(),
    };
    store.execute_movement(deposit, start).await.unwrap();
    // Lock window opens one virtual hour from now.
    let drop = start + Duration::hours(75);
    let entry = DropListEntry::listed(
        DropName::parse("ticked.com").unwrap(),
        drop,
        drop - Duration::hours(2),
    );
    store.upsert_drop_batch(&[entry], start).await.unwrap();
    let request = OrderRequest {
        domain: "ticked.com".into(),
        class: Some(BackorderClass::Backorder),
        ..Default::default()
    };
    let new = placement::validate(&store, &account, request, start)
        .await
        .unwrap();
    let Placement::Created { order, .. } = store
        .create_backorder(new, None, true, "t", start)
        .await
        .unwrap()
    else {
        panic!("order not created");
    };

    let (stop_follow, follow_stopped) = tokio::sync::oneshot::channel::<()>();
    let (joined, has_joined) = tokio::sync::oneshot::channel();
    let follower = tokio::spawn(registry_clock::follow(
        url.clone(),
        store.clone(),
        manual.clone(),
        None,
        Some(joined),
        Supervision::new(manual.clone(), None),
        async {
            let _ = follow_stopped.await;
        },
    ));
    let mut control = SimControlClient::connect(url.clone()).await.unwrap();
    has_joined.await.unwrap();

    control
        .advance_clock(registry::AdvanceClockRequest {
            by: Some(prost_types::Duration {
                seconds: 1800,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        clock.now(),
        start + Duration::minutes(30),
        "our clock is the registry's"
    );
    assert_eq!(
        store.get_backorder(order.id).await.unwrap().unwrap().status,
        Status::Requested
    );

    control
        .advance_clock(registry::AdvanceClockRequest {
            by: Some(prost_types::Duration {
                seconds: 1800,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    // The advance returned only after our tick was acknowledged, so the pass has run.
    assert_eq!(clock.now(), start + Duration::hours(1));
    assert_eq!(
        store.get_backorder(order.id).await.unwrap().unwrap().status,
        Status::Active
    );

    let _ = stop_follow.send(());
    follower.await.unwrap();
    let _ = stop_sim.send(());
}

/// Serves `sim` on `address` (retrying while the old listener's port is still held); the
/// address it got, and what stops it.
async fn serve_sim(
    sim: Arc<Sim>,
    address: std::net::SocketAddr,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut tries = 0;
    let listener = loop {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => break listener,
            Err(error) if tries < 50 => {
                tries += 1;
                eprintln!("rebinding {address}: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot bind {address} again: {error}"),
        }
    };
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, sim, async {
        let _ = stopped.await;
    }));
    (address, stop)
}

/// Finding 4 of issue 11: the clock stream drops (here the simulator's server goes away and
/// comes back); the follower joins again and catches up instead of freezing our time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_joins_again_after_the_registry_restarts() {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let (address, stop_sim) = serve_sim(Arc::clone(&sim), "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{address}");
    let db = backorder_svc::testkit::sqlite();
    let store = backorder_svc::store::connect(&db.url).await.unwrap();
    let start = registry_clock::registry_now(&url).await.unwrap();
    let manual = Arc::new(ManualClock::new(start));
    let clock: SharedClock = manual.clone();
    let supervision = Supervision::new(clock.clone(), None);
    let (stop_follow, follow_stopped) = tokio::sync::oneshot::channel::<()>();
    let (joined, has_joined) = tokio::sync::oneshot::channel();
    let follower = tokio::spawn(registry_clock::follow(
        url.clone(),
        store.clone(),
        manual.clone(),
        None,
        Some(joined),
        supervision.clone(),
        async {
            let _ = follow_stopped.await;
        },
    ));
    has_joined.await.unwrap();
    let advance = |seconds| {
        let url = url.clone();
        async move {
            let mut control = SimControlClient::connect(url).await.unwrap();
            control
                .advance_clock(registry::AdvanceClockRequest {
                    by: Some(prost_types::Duration { seconds, nanos: 0 }),
                })
                .await
                .unwrap();
        }
    };
    advance(60).await;
    assert_eq!(clock.now(), start + Duration::minutes(1));

    // The simulator's server restarts; virtual time moves on while we are away.
    let _ = stop_sim.send(());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (_, stop_sim) = serve_sim(Arc::clone(&sim), address).await;
    advance(600).await;
    let caught_up = start + Duration::minutes(11);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while clock.now() < caught_up && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        clock.now(),
        caught_up,
        "our clock must follow the registry again after its restart"
    );
    // From now on every advance waits for us again.
    advance(60).await;
    assert_eq!(clock.now(), caught_up + Duration::minutes(1));
    let status = supervision.status(Part::RegistryClock);
    assert!(
        status.last_error.is_some(),
        "the lost stream is on record: {status:?}"
    );
    assert_eq!(status.failures_in_row, 0, "working again: {status:?}");

    let _ = stop_follow.send(());
    follower.await.unwrap();
    let _ = stop_sim.send(());
}

/// Health and the status call say when a background part is not working: the registry goes
/// away, so the clock follower fails; its health entry turns NOT_SERVING and
/// `GetServiceStatus` shows the error; when the registry is back it is SERVING again. The
/// production wiring (`app::serve`), over gRPC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_status_show_a_part_that_is_not_working() {
    use backorder_proto::backorder::v1 as pb;
    use backorder_svc::config::{Cli, Command};
    use clap::Parser;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let (address, stop_sim) = serve_sim(Arc::clone(&sim), "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{address}");

    let db = backorder_svc::testkit::sqlite();
    let operator = {
        let store = backorder_svc::store::connect(&db.url).await.unwrap();
        let clock: SharedClock = Arc::new(ManualClock::new(
            registry_clock::registry_now(&url).await.unwrap(),
        ));
        backorder_svc::bootstrap::first_start(&store, &clock)
            .await
            .unwrap()
            .operator_secret
            .unwrap()
    };
    let cli = Cli::try_parse_from([
        "backorder-svc",
        "serve",
        "--clock",
        "registry",
        "--registry-url",
        &url,
        "--http-listen",
        "127.0.0.1:0",
        "--test-database-url",
        "off",
    ])
    .unwrap();
    let Some(Command::Serve(args)) = cli.command else {
        panic!("serve expected");
    };
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_url = format!("http://{}", service.local_addr().unwrap());
    let (joined, has_joined) = tokio::sync::oneshot::channel();
    let hooks = backorder_svc::app::Hooks {
        joined_registry_clock: Some(joined),
        ..Default::default()
    };
    let (stop_service, service_stopped) = tokio::sync::oneshot::channel::<()>();
    let database_url = db.url.clone();
    let served = tokio::spawn(async move {
        backorder_svc::app::serve(&database_url, args, service, hooks, async {
            let _ = service_stopped.await;
        })
        .await
    });
    has_joined.await.unwrap();
    let channel = tonic::transport::Channel::from_shared(service_url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel.clone());
    let mut operator_api = pb::operator_service_client::OperatorServiceClient::new(channel.clone());
    let status_of = |part: &'static str| {
        let mut health = health.clone();
        async move {
            let answer = health
                .check(HealthCheckRequest {
                    service: format!("backorder.{part}"),
                })
                .await
                .unwrap_or_else(|e| panic!("health of {part}: {e}"));
            ServingStatus::try_from(answer.into_inner().status).unwrap()
        }
    };
    let wait_for = |part: &'static str, wanted: ServingStatus| async move {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let now = status_of(part).await;
            if now == wanted || tokio::time::Instant::now() > deadline {
                return now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    assert_eq!(
        wait_for("registry_clock", ServingStatus::Serving).await,
        ServingStatus::Serving
    );
    assert_eq!(status_of("scheduler").await, ServingStatus::Serving);
    assert_eq!(status_of("drop_list_feed").await, ServingStatus::Serving);
    // Issue 13, finding 8: `GetClock` tells the configured mode, not `MANUAL`.
    let clock = operator_api
        .get_clock(backorder_svc::testkit::with_key(
            &operator,
            pb::GetClockRequest {},
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        pb::ClockMode::try_from(clock.mode),
        Ok(pb::ClockMode::Registry),
        "{clock:?}"
    );

    // The registry goes away: the follower cannot join again.
    let _ = stop_sim.send(());
    assert_eq!(
        wait_for("registry_clock", ServingStatus::NotServing).await,
        ServingStatus::NotServing
    );
    let status = operator_api
        .get_service_status(backorder_svc::testkit::with_key(
            &operator,
            pb::GetServiceStatusRequest {},
        ))
        .await
        .unwrap()
        .into_inner();
    let part = status
        .parts
        .iter()
        .find(|p| p.name == "registry_clock")
        .unwrap();
    assert!(part.enabled && !part.serving, "{part:?}");
    assert!(part.failures_in_row >= 3, "{part:?}");
    assert!(!part.last_error.is_empty(), "{part:?}");
    assert!(part.last_success_at.is_some(), "{part:?}");
    let catcher = status.parts.iter().find(|p| p.name == "catcher").unwrap();
    assert!(
        !catcher.enabled,
        "no accreditation, no catcher: {catcher:?}"
    );
    assert_eq!(status.unresolved_drops, 0);
    // The rest of the service still answers.
    assert_eq!(status_of("scheduler").await, ServingStatus::Serving);

    // The registry is back: the follower joins again and says so.
    let (_, stop_sim) = serve_sim(Arc::clone(&sim), address).await;
    assert_eq!(
        wait_for("registry_clock", ServingStatus::Serving).await,
        ServingStatus::Serving
    );
    let _ = stop_service.send(());
    served.await.unwrap().unwrap();
    let _ = stop_sim.send(());
}
