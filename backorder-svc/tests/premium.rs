//! Registry premium names are refused at placement: the service asks the registry (here the
//! simulator's `smoke` scenario, whose premium .com labels are cars, bet, vip and anything of
//! two characters or fewer).

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::lifecycle::premium::RegistryPremiumCheck;
use backorder_svc::testkit::with_key;
use backorder_svc::usecases::UseCases;
use pb::account_service_client::AccountServiceClient;
use pb::backorder_service_client::BackorderServiceClient;
use registry_sim::sim::SimOptions;
use registry_sim::{Scenario, Sim};
use std::sync::Arc;
use tonic::Code;
use tonic::transport::Channel;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premium_names_are_refused() {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let registry_url = format!("http://{}", sim_listener.local_addr().unwrap());
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(sim_listener, Arc::clone(&sim), async {
        let _ = sim_stopped.await;
    }));

    let db = backorder_svc::testkit::sqlite();
    let store = backorder_svc::store::connect(&db.url).await.unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let operator = backorder_svc::bootstrap::first_start(&store, &clock)
        .await
        .unwrap()
        .operator_secret
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let premium = RegistryPremiumCheck::new(registry_url.clone(), "ours-1:ours-secret").unwrap();
    let uc =
        UseCases::new(store, clock, Some(Arc::new(premium))).with_registry_url(Some(registry_url));
    let options = backorder_svc::server::Options::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(backorder_svc::server::run_with(
        listener,
        uc,
        options,
        async {
            let _ = stopped.await;
        },
    ));
    let channel = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let account = AccountServiceClient::new(channel.clone())
        .create_account(with_key(
            &operator,
            pb::CreateAccountRequest {
                display_name: "r".into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut orders = BackorderServiceClient::new(channel);
    let place = |domain: &str| {
        with_key(
            &operator,
            pb::CreateBackorderRequest {
                account_id: account.id.clone(),
                domain: domain.into(),
                class: pb::BackorderClass::Backorder as i32,
                ..Default::default()
            },
        )
    };
    for premium in ["cars.com", "vip.com", "ab.com"] {
        let refused = orders.create_backorder(place(premium)).await.unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{premium}: {}",
            refused.message()
        );
        assert!(
            refused.message().contains("premium"),
            "{}",
            refused.message()
        );
    }
    // Asked again: answered from the cache, the same way.
    assert!(orders.create_backorder(place("cars.com")).await.is_err());
    let ordinary = orders
        .create_backorder(place("ordinary-name.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ordinary.backorder.unwrap().domain, "ordinary-name.com");

    let _ = stop.send(());
    let _ = stop_sim.send(());
}
