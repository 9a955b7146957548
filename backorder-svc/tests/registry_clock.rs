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

/// Serves `sim` on `address` (retrying while the old listener's port is still held).
async fn serve_sim(
    sim: Arc<Sim>,
    address: std::net::SocketAddr,
) -> tokio::sync::oneshot::Sender<()> {
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
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, sim, async {
        let _ = stopped.await;
    }));
    stop
}

/// Finding 4 of issue 11: the clock stream drops (here the simulator's server goes away and
/// comes back); the follower joins again and catches up instead of freezing our time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_follower_joins_again_after_the_registry_restarts() {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let url = format!("http://{address}");
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
        let _ = sim_stopped.await;
    }));
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
    let stop_sim = serve_sim(Arc::clone(&sim), address).await;
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
