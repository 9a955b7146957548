//! The test environment (OT&E) as an operator sets it up and a reseller uses it: the operator
//! opens the reseller's test account in one command, the service runs with the test
//! environment racing a registry simulator of its own (`--test-registry-url`,
//! `--test-catcher-registrar`, `--test-clock registry`), the reseller orders through
//! `/ote/api/call.cgi`, and the names our test catcher wins at the simulator end `SUCCESSFUL`
//! in the test environment, the lost ones `FAILED` — while live has no orders, no drop list
//! and no money of it. The production wiring (`app::serve`), over TCP, on SQLite.

use backorder_svc::config::{Cli, Command, TestAccountOpenArgs};
use backorder_svc::drop_list::feed;
use backorder_svc::drop_list::source::LineParse;
use backorder_svc::store::SharedStore;
use backorder_svc::test_environment::cli::Password;
use chrono::{DateTime, Utc};
use clap::Parser;
use registry_sim::sim::SimOptions;
use registry_sim::{Scenario, Sim};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The registry refuses these labels (too short, or reserved by its policy): not ordered.
fn is_policy_label(domain: &str) -> bool {
    let label = domain.split('.').next().unwrap_or_default();
    label.chars().count() <= 2 || ["cars", "bet", "vip", "nic", "registry"].contains(&label)
}

/// A port free a moment ago (the service must be told its command API's port).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One command API call with curl, as a reseller's shell would make it.
fn call(url: &str, credentials: &str, command: &str) -> String {
    let output = std::process::Command::new("curl")
        .args(["-s", "--max-time", "30", "-d", command])
        .arg(format!("{url}?{credentials}"))
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// `property[NAME][i] = value` lines of a reply, by name.
fn properties(reply: &str) -> BTreeMap<String, Vec<String>> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in reply.lines() {
        let Some(rest) = line.strip_prefix("property[") else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(']') else {
            continue;
        };
        let value = rest.split_once(" = ").map(|(_, v)| v).unwrap_or_default();
        found
            .entry(name.to_string())
            .or_default()
            .push(value.to_string());
    }
    found
}

/// Waits until `check` holds, up to 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count_orders(store: &SharedStore) -> i64 {
    let filter = backorder_svc::store::orders::BackorderFilter {
        account: None,
        statuses: Vec::new(),
        class: None,
        domain_like: None,
        order_by: backorder_svc::store::orders::OrderBy::CreateTime,
        descending: false,
        offset: 0,
        limit: 1,
    };
    store.list_backorders(filter).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_environment_races_its_own_simulator() {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", sim_listener.local_addr().unwrap());
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(sim_listener, Arc::clone(&sim), async {
        let _ = sim_stopped.await;
    }));

    let dir = tempfile::tempdir().unwrap();
    let live_url = format!("sqlite://{}", dir.path().join("live.db").display());
    let test_url = format!("sqlite://{}", dir.path().join("live-ote.db").display());

    // The operator opens the reseller's test account before the service ever ran: the
    // command places the test database beside live's and bootstraps it.
    let opened = backorder_svc::test_environment::cli::open(
        &live_url,
        TestAccountOpenArgs {
            name: "Trial Reseller Ltd".into(),
            login: "trial".into(),
            currency: "USD".into(),
            play_money: "100000.00".into(),
            price_tier: "default".into(),
            password_stdin: false,
            test_database_url: "auto".into(),
        },
        Password::Generate,
    )
    .await
    .unwrap();
    let password = opened
        .lines()
        .find_map(|l| l.strip_prefix("password:"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("a generated password is printed once: {opened}"))
        .to_string();
    assert!(opened.contains("live-ote.db"), "{opened}");
    assert!(
        opened.contains("play money:  100000.00 USD available"),
        "{opened}"
    );

    // Short leads, so orders placed at the scenario's start (18:55) are in time for the
    // 19:00-19:15 drops: the test environment's operator sets them (here on its database).
    let test_store = backorder_svc::store::connect(&test_url).await.unwrap();
    let start = backorder_svc::lifecycle::registry_clock::registry_now(&sim_url)
        .await
        .unwrap();
    for tld in ["com", "uk", "co.uk", "org.uk"] {
        let name = backorder_svc::domain::catalog::TldName::parse(tld).unwrap();
        let mut entry = test_store.get_tld(&name).await.unwrap().unwrap();
        entry.finalization_lead = Duration::from_secs(60);
        entry.lock_lead = Duration::from_secs(60);
        test_store.upsert_tld(&entry, "t", start).await.unwrap();
    }

    let http_port = free_port();
    let cli = Cli::try_parse_from([
        "backorder-svc",
        "serve",
        "--clock",
        "manual",
        "--http-listen",
        &format!("127.0.0.1:{http_port}"),
        "--test-listen",
        "off",
        "--test-registry-url",
        &sim_url,
        "--test-catcher-registrar",
        "ours-1:ours-secret:1:2",
        "--test-catcher-registrar",
        "ours-2:ours-secret:1:2",
        "--test-clock",
        "registry",
    ])
    .unwrap();
    let Some(Command::Serve(args)) = cli.command else {
        panic!("serve expected");
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop_service, service_stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn({
        let live_url = live_url.clone();
        async move {
            backorder_svc::app::serve(&live_url, args, listener, Default::default(), async {
                let _ = service_stopped.await;
            })
            .await
        }
    });

    // The test environment follows the simulator's clock and imports its drop list.
    let mut feed_client = feed::connect(&sim_url).await.unwrap();
    let (lines, _) = feed::snapshot(&mut feed_client, &[]).await.unwrap();
    let names: Vec<String> = lines
        .iter()
        .filter_map(|line| match &line.parse {
            LineParse::Entry { domain, .. } if !is_policy_label(domain) => Some(domain.clone()),
            _ => None,
        })
        .collect();
    assert!(names.len() >= 20, "{names:?}");
    eventually("the test environment joins the simulator's clock", || {
        let sim = sim.clone();
        async move { sim.clock_participants() == 1 }
    })
    .await;
    eventually(
        "the test environment imports the simulator's drop list",
        || {
            let (store, last) = (test_store.clone(), names.last().unwrap().clone());
            async move { store.drop_entry(&last).await.unwrap().is_some() }
        },
    )
    .await;

    // The reseller orders every name through the test environment's address.
    let ote = format!("http://127.0.0.1:{http_port}/ote/api/call.cgi");
    let live = format!("http://127.0.0.1:{http_port}/api/call.cgi");
    let credentials = format!("s_login=trial&s_pw={password}");
    for name in &names {
        let uk = if name.ends_with(".uk") {
            "&X-UK-CONTACT-TYPE=IND"
        } else {
            ""
        };
        let reply = call(
            &ote,
            &credentials,
            &format!("command=AddDomainApplication&class=BACKORDER&domain={name}{uk}"),
        );
        assert!(reply.contains("code = 200"), "{name}: {reply}");
    }
    // The test login is unknown to live.
    let reply = call(&live, &credentials, "command=StatusAccount");
    assert!(reply.contains("code = 530"), "{reply}");

    // The drops, tick by tick through the windows.
    sim.run_until(at("2026-03-02T18:59:50Z"), chrono::Duration::seconds(10))
        .await
        .unwrap();
    sim.run_until(at("2026-03-02T19:16:00Z"), chrono::Duration::seconds(1))
        .await
        .unwrap();
    sim.run_until(at("2026-03-02T19:40:00Z"), chrono::Duration::seconds(60))
        .await
        .unwrap();

    let reply = call(
        &ote,
        &credentials,
        "command=QueryDomainApplicationList&LIMIT=1000",
    );
    let list = properties(&reply);
    let statuses: BTreeMap<&str, &str> = list["DOMAIN"]
        .iter()
        .map(String::as_str)
        .zip(list["STATUS"].iter().map(String::as_str))
        .collect();
    assert_eq!(statuses.len(), names.len(), "{reply}");
    let races = sim.with_world(|world| {
        world
            .races(&[])
            .into_iter()
            .map(|race| {
                let winner = race.winner.as_ref().map(|w| w.catcher.clone());
                (race.domain.clone(), winner)
            })
            .collect::<BTreeMap<_, _>>()
    });
    let mut won = 0;
    for name in &names {
        let status = statuses[name.as_str()];
        match races.get(name) {
            Some(Some(catcher)) if catcher == "ours" => {
                won += 1;
                assert_eq!(status, "SUCCESSFUL", "{name}: the simulator gave it to us");
            }
            Some(_) => assert_eq!(status, "FAILED", "{name}: a rival caught it"),
            None => panic!("{name}: never released ({status})"),
        }
    }
    println!(
        "the test catcher won {won} of {} names: {statuses:?}",
        names.len()
    );
    assert!(won > 0, "the test catcher won nothing: {statuses:?}");
    let account = properties(&call(&ote, &credentials, "command=StatusAccount"));
    assert_ne!(account["BALANCE"], vec!["100000.00".to_string()], "charged");

    // Live took part in none of it.
    let live_store = backorder_svc::store::connect(&live_url).await.unwrap();
    assert_eq!(count_orders(&live_store).await, 0);
    assert!(
        live_store.drop_entry(&names[0]).await.unwrap().is_none(),
        "live has no registry configured: no drop list"
    );
    assert!(count_orders(&test_store).await >= names.len() as i64);

    let _ = stop_service.send(());
    tokio::time::timeout(Duration::from_secs(20), served)
        .await
        .expect("the service stops")
        .unwrap()
        .unwrap();
    let _ = stop_sim.send(());
}
