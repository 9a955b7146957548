//! The catcher, on both backends: the store's targets and results, and a whole drop window
//! raced against the in-process simulator (`smoke`, manual clock) with the service following
//! the registry clock. What we recorded is checked against the registry's own race log.

use backorder_proto::registry::v1 as registry;
use backorder_svc::catcher::{
    Accreditation, Availability, Capacity, Catcher, CreateResult, Holder, Registry, RegistryError,
    SimRegistry,
};
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::domain::account::{Account, PriceTier};
use backorder_svc::domain::catalog::{BackorderClass, TldName};
use backorder_svc::domain::drop_list::DropName;
use backorder_svc::domain::lifecycle::{FailureReason, Status};
use backorder_svc::domain::money::{Currency, Money};
use backorder_svc::drop_list::feed;
use backorder_svc::drop_list::source::{LineParse, SourceLine};
use backorder_svc::ledger::{Movement, MovementRequest};
use backorder_svc::lifecycle::placement::{self, OrderRequest};
use backorder_svc::lifecycle::{registry_clock, scheduler};
use backorder_svc::store::catching::{
    Allocated, AttemptAnswer, AttemptIntent, CatchFilter, CatchOutcome, CatchRecord, CatchReport,
};
use backorder_svc::store::drop_list::DropListEntry;
use backorder_svc::store::orders::{Backorder, BackorderFilter, OrderBy, Placement};
use backorder_svc::store::{AccountCreation, NewAccount, SharedStore};
use backorder_svc::supervision::Supervision;
use chrono::{DateTime, Duration, Utc};
use registry::registrar_client::RegistrarClient;
use registry::registrar_server::{Registrar, RegistrarServer};
use registry::sim_control_client::SimControlClient;
use registry_sim::sim::SimOptions;
use registry_sim::{Scenario, Sim};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tonic::transport::Channel;
use tonic::{Request, Response, Status as GrpcStatus};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

async fn account(store: &SharedStore, name: &str, deposit: i64, now: DateTime<Utc>) -> Account {
    let new = NewAccount {
        display_name: name.into(),
        currency: usd(),
        price_tier: PriceTier::default_tier(),
    };
    let AccountCreation::Created(account) =
        store.create_account(new, None, "t", now).await.unwrap()
    else {
        panic!("account not created");
    };
    if deposit > 0 {
        let request = MovementRequest {
            scope: "operator".into(),
            request_id: format!("deposit-{name}"),
            movement: Movement::Deposit {
                account: account.id,
                amount: Money::new(usd(), deposit),
            },
            memo: String::new(),
            actor: "t".into(),
        };
        store.execute_movement(request, now).await.unwrap();
    }
    account
}

async fn place(
    store: &SharedStore,
    account: &Account,
    domain: &str,
    class: BackorderClass,
    extensions: &[(&str, &str)],
    now: DateTime<Utc>,
) -> Backorder {
    let request = OrderRequest {
        domain: domain.into(),
        class: Some(class),
        extensions: extensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    };
    let new = placement::validate(store, account, request, now)
        .await
        .unwrap_or_else(|e| panic!("{domain}: {e}"));
    let Placement::Created { order, .. } = store
        .create_backorder(new, None, true, "t", now)
        .await
        .unwrap()
    else {
        panic!("{domain}: order not created");
    };
    order
}

async fn all_orders(store: &SharedStore) -> Vec<Backorder> {
    store
        .list_backorders(BackorderFilter {
            account: None,
            statuses: Vec::new(),
            class: None,
            domain_like: None,
            order_by: OrderBy::CreateTime,
            descending: false,
            offset: 0,
            limit: 1000,
        })
        .await
        .unwrap()
        .0
}

async fn catches(store: &SharedStore) -> Vec<CatchRecord> {
    let (records, total) = store
        .list_catches(CatchFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(records.len() as i64, total);
    records
}

/// A store on `url` on the simulator's clock (manual, at its time) with the smoke drop list
/// imported from `sim_url`, and leads short enough that orders placed at the scenario's
/// start become valid before 19:00. Returns the feed's lines too.
async fn smoke_store(url: &str, sim_url: &str) -> (SharedStore, Arc<ManualClock>, Vec<SourceLine>) {
    let store = backorder_svc::store::connect(url).await.unwrap();
    let start = registry_clock::registry_now(sim_url).await.unwrap();
    let manual = Arc::new(ManualClock::new(start));
    let clock: SharedClock = manual.clone();
    backorder_svc::bootstrap::first_start(&store, &clock)
        .await
        .unwrap();
    for tld in ["com", "uk", "co.uk", "org.uk"] {
        leads(&store, tld, 60, 60, start).await;
    }
    let mut feed_client = feed::connect(sim_url).await.unwrap();
    let (lines, _) = feed::snapshot(&mut feed_client, &[]).await.unwrap();
    feed::import_snapshot(&store, &clock, &mut feed_client, &[], &mut |_| {})
        .await
        .unwrap();
    (store, manual, lines)
}

/// Sets a catalog entry's leads.
async fn leads(store: &SharedStore, tld: &str, finalization: u64, lock: u64, now: DateTime<Utc>) {
    let mut entry = store
        .get_tld(&TldName::parse(tld).unwrap())
        .await
        .unwrap()
        .unwrap();
    entry.finalization_lead = std::time::Duration::from_secs(finalization);
    entry.lock_lead = std::time::Duration::from_secs(lock);
    store.upsert_tld(&entry, "t", now).await.unwrap();
}

// ----- the store's side --------------------------------------------------------------------

/// Targets are the drops with a valid order and no result; a result is recorded once.
async fn targets_and_results(url: &str) {
    let store = backorder_svc::store::connect(url).await.unwrap();
    let start = at("2026-03-02T12:00:00Z");
    let manual = Arc::new(ManualClock::new(start));
    let clock: SharedClock = manual.clone();
    backorder_svc::bootstrap::first_start(&store, &clock)
        .await
        .unwrap();
    let drop = at("2026-03-02T19:00:00Z");
    let entry = |domain: &str, drop: DateTime<Utc>, window_end: Option<DateTime<Utc>>| {
        let mut entry = DropListEntry::listed(
            DropName::parse(domain).unwrap(),
            drop,
            drop - Duration::hours(2),
        );
        entry.window_end = window_end;
        entry
    };
    let exact = at("2026-03-02T19:01:35Z");
    let window_end = Some(at("2026-03-02T19:10:00Z"));
    store
        .upsert_drop_batch(
            &[
                entry("alpha.com", drop, window_end),
                entry("bravo.co.uk", exact, None),
                entry("charlie.com", drop, window_end),
                entry("delta.com", drop, window_end),
                entry("echo.com", drop, window_end),
            ],
            start,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .drop_entry("alpha.com")
            .await
            .unwrap()
            .unwrap()
            .window_end,
        window_end
    );
    let rich = account(&store, "rich", 100_000, start).await;
    let poor = account(&store, "poor", 0, start).await;
    let regular = BackorderClass::Backorder;
    let first = place(&store, &rich, "alpha.com", regular, &[("X-A", "1")], start).await;
    let second = place(&store, &rich, "alpha.com", regular, &[("X-A", "2")], start).await;
    let uk = [("X-UK-CONTACT-TYPE", "IND")];
    let bravo = place(&store, &rich, "bravo.co.uk", regular, &uk, start).await;
    place(&store, &poor, "charlie.com", regular, &[], start).await;
    let echo = place(&store, &rich, "echo.com", regular, &[], start).await;
    for order in [&first, &second, &bravo, &echo] {
        store
            .pay_backorder(order.id, None, "t", start)
            .await
            .unwrap();
    }
    // echo.com is restored before its drop: its order goes back to sleep.
    store
        .mark_drop_removed(&["echo.com".to_string()], start)
        .await
        .unwrap();
    manual.set(at("2026-03-02T17:00:00Z")).unwrap();
    scheduler::run_pass(&store, &clock).await.unwrap();
    // A daily deal on a name without valid orders, after its finalization.
    let deal_time = at("2026-03-02T18:30:00Z");
    manual.set(deal_time).unwrap();
    let deal = place(
        &store,
        &rich,
        "delta.com",
        BackorderClass::LiteBackorder,
        &[],
        deal_time,
    )
    .await;
    assert!(deal.post_drop);
    scheduler::run_pass(&store, &clock).await.unwrap();
    let statuses: HashMap<i64, Status> = all_orders(&store)
        .await
        .into_iter()
        .map(|o| (o.id, o.status))
        .collect();
    assert_eq!(statuses[&first.id], Status::Processing);
    assert_eq!(statuses[&deal.id], Status::Processing);
    assert_eq!(statuses[&echo.id], Status::Requested);

    let targets = store.catch_targets(deal_time).await.unwrap();
    let summary: Vec<_> = targets
        .iter()
        .map(|t| {
            (
                t.domain.as_str(),
                t.tld.as_str(),
                t.window_end.is_some(),
                t.daily_deals_only,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("alpha.com", "com", true, false),
            ("delta.com", "com", true, true),
            ("bravo.co.uk", "co.uk", false, false),
        ],
        "unfunded, restored and order-less names are never targets"
    );
    assert_eq!(
        targets[0].extensions,
        BTreeMap::from([("X-A".to_string(), "1".to_string())]),
        "the earliest valid order's extensions"
    );
    assert_eq!(targets[0].window_end, window_end);
    assert_eq!(targets[2].drop_time, exact);

    let decided = at("2026-03-02T19:03:00Z");
    let report = CatchReport {
        domain: "alpha.com".into(),
        drop_time: drop,
        outcome: CatchOutcome::Caught {
            registrar: "ours-1".into(),
            auth_code: "secret-code".into(),
            registered_at: at("2026-03-02T19:02:59Z"),
        },
        attempts: 2,
        first_attempt_at: Some(at("2026-03-02T19:02:58Z")),
        release_seen_at: Some(at("2026-03-02T19:02:58Z")),
    };
    let allocated = store
        .record_catch(report.clone(), "catcher", decided)
        .await
        .unwrap();
    assert_ne!(allocated, Allocated::AlreadyRecorded);
    let mut retry = report.clone();
    retry.outcome = CatchOutcome::NotCaught;
    assert_eq!(
        store.record_catch(retry, "catcher", decided).await.unwrap(),
        Allocated::AlreadyRecorded,
        "one result per drop"
    );
    let later = at("2026-03-02T20:10:00Z");
    let not_dropped = CatchReport {
        domain: "delta.com".into(),
        drop_time: drop,
        outcome: CatchOutcome::NotDropped,
        attempts: 0,
        first_attempt_at: None,
        release_seen_at: None,
    };
    store
        .record_catch(not_dropped.clone(), "catcher", later)
        .await
        .unwrap();
    let left: Vec<_> = store
        .catch_targets(later)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.domain)
        .collect();
    assert_eq!(left, vec!["bravo.co.uk"]);

    let records = catches(&store).await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].report, not_dropped, "newest decision first");
    assert_eq!(records[1].report, report);
    assert_eq!(records[1].decided_at, decided);
    let (only, total) = store
        .list_catches(CatchFilter {
            domain: Some("alpha.com".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((only.len(), total), (1, 1));
    let (since, _) = store
        .list_catches(CatchFilter {
            decided_since: Some(later),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(since.len(), 1);
    assert_eq!(since[0].report.domain, "delta.com");
}

// ----- the race ------------------------------------------------------------------------------

/// A create as it passed on the wire to the registry.
#[derive(Debug, Clone)]
struct SeenCreate {
    session: String,
    domain: String,
    at: DateTime<Utc>,
}

/// A `Registrar` in front of the simulator that forwards everything and notes each create's
/// session and registry time: the per-session rate is checked on what was really sent.
struct Recorder {
    upstream: RegistrarClient<Channel>,
    creates: Arc<Mutex<Vec<SeenCreate>>>,
}

fn ts(time: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    let time = time.expect("a time");
    DateTime::from_timestamp(time.seconds, time.nanos as u32).unwrap()
}

#[tonic::async_trait]
impl Registrar for Recorder {
    async fn login(
        &self,
        request: Request<registry::LoginRequest>,
    ) -> Result<Response<registry::LoginResponse>, GrpcStatus> {
        self.upstream.clone().login(request.into_inner()).await
    }
    async fn logout(
        &self,
        request: Request<registry::LogoutRequest>,
    ) -> Result<Response<registry::LogoutResponse>, GrpcStatus> {
        self.upstream.clone().logout(request.into_inner()).await
    }
    async fn check(
        &self,
        request: Request<registry::CheckRequest>,
    ) -> Result<Response<registry::CheckResponse>, GrpcStatus> {
        self.upstream.clone().check(request.into_inner()).await
    }
    async fn create(
        &self,
        request: Request<registry::CreateRequest>,
    ) -> Result<Response<registry::CreateResponse>, GrpcStatus> {
        let request = request.into_inner();
        let session = request.session_id.clone();
        let response = self.upstream.clone().create(request).await?;
        let answer = response.get_ref();
        // A create on a session the registry timed out (idle) is refused before it is weighed
        // (2201); the catcher logs in again and resends it.
        if answer.result.as_ref().map(|r| r.code)
            == Some(registry::ResultCode::AuthorizationError as i32)
        {
            return Ok(response);
        }
        self.creates.lock().unwrap().push(SeenCreate {
            session,
            domain: answer.domain.clone(),
            at: ts(answer.server_time.as_ref()),
        });
        Ok(response)
    }
    async fn info(
        &self,
        request: Request<registry::InfoRequest>,
    ) -> Result<Response<registry::InfoResponse>, GrpcStatus> {
        self.upstream.clone().info(request.into_inner()).await
    }
    async fn restore(
        &self,
        request: Request<registry::RestoreRequest>,
    ) -> Result<Response<registry::RestoreResponse>, GrpcStatus> {
        self.upstream.clone().restore(request.into_inner()).await
    }
    async fn list_tlds(
        &self,
        request: Request<registry::ListTldsRequest>,
    ) -> Result<Response<registry::ListTldsResponse>, GrpcStatus> {
        self.upstream.clone().list_tlds(request.into_inner()).await
    }
}

/// Creates per second per session the catcher is configured with (the registry allows 5).
const CREATES_PER_SECOND: u32 = 2;

async fn run_until(control: &mut SimControlClient<Channel>, until: &str, step_secs: i64) {
    let until = at(until);
    control
        .run_until(registry::RunUntilRequest {
            until: Some(prost_types::Timestamp {
                seconds: until.timestamp(),
                nanos: 0,
            }),
            step: Some(prost_types::Duration {
                seconds: step_secs,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
}

fn is_policy_label(domain: &str) -> bool {
    let label = domain.split('.').next().unwrap_or_default();
    label.chars().count() <= 2 || ["cars", "bet", "vip", "nic", "registry"].contains(&label)
}

/// The 19:00-19:15 drops of `smoke` with orders for some names, followed tick by tick.
async fn race_the_smoke_drops(url: &str) {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
        let _ = sim_stopped.await;
    }));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder {
        upstream: RegistrarClient::connect(sim_url.clone()).await.unwrap(),
        creates: seen.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_proxy, proxy_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RegistrarServer::new(recorder))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = proxy_stopped.await;
                },
            ),
    );

    let (store, manual, lines) = smoke_store(url, &sim_url).await;
    let clock: SharedClock = manual.clone();
    let start = clock.now();
    assert_eq!(start, at("2026-03-02T18:55:00Z"));
    let mut com = Vec::new();
    let mut uk = Vec::new();
    for line in &lines {
        let LineParse::Entry {
            domain, window_end, ..
        } = &line.parse
        else {
            panic!("{line:?}");
        };
        let stored = store.drop_entry(domain).await.unwrap().unwrap();
        assert_eq!(&stored.window_end, window_end, "{domain}");
        if is_policy_label(domain) {
            continue;
        }
        if domain.ends_with(".com") {
            assert_eq!(*window_end, Some(at("2026-03-02T19:10:00Z")), "{domain}");
            com.push(domain.clone());
        } else {
            assert_eq!(*window_end, None, "{domain}: exact times have no window");
            uk.push(domain.clone());
        }
    }
    com.sort();
    uk.sort();
    assert!(com.len() >= 12 && uk.len() >= 8, "{com:?} {uk:?}");

    let rich = account(&store, "rich", 1_000_000, start).await;
    let poor = account(&store, "poor", 0, start).await;
    let regular = BackorderClass::Backorder;
    let uk_fields = [("X-UK-CONTACT-TYPE", "IND")];
    let mut targeted = BTreeSet::new();
    // Every other .com name, two orders on the first (an auction TLD), every other .uk name.
    for domain in com.iter().step_by(2) {
        place(&store, &rich, domain, regular, &[], start).await;
        targeted.insert(domain.clone());
    }
    place(&store, &rich, &com[0], regular, &[], start).await;
    for domain in uk.iter().step_by(2) {
        place(&store, &rich, domain, regular, &uk_fields, start).await;
        targeted.insert(domain.clone());
    }
    // Never valid: unfunded, or cancelled before finalization.
    place(&store, &poor, &com[1], regular, &[], start).await;
    place(&store, &poor, &uk[1], regular, &uk_fields, start).await;
    let cancelled = place(&store, &rich, &com[3], regular, &[], start).await;
    store
        .cancel_backorder(cancelled.id, "t", start)
        .await
        .unwrap();

    let accreditations: Vec<Accreditation> = ["ours-1", "ours-2"]
        .iter()
        .map(|id| {
            Accreditation::parse(&format!("{id}:ours-secret:1:{CREATES_PER_SECOND}")).unwrap()
        })
        .collect();
    let registrar = SimRegistry::new(&proxy_url, &accreditations, clock.clone()).unwrap();
    registrar.login_all().await.unwrap();
    let catcher = Arc::new(Catcher::new(
        store.clone(),
        Arc::new(registrar),
        Duration::hours(1),
    ));
    let (stop_follow, follow_stopped) = tokio::sync::oneshot::channel::<()>();
    let (joined, has_joined) = tokio::sync::oneshot::channel();
    let supervision = Supervision::new(manual.clone(), None);
    let follower = tokio::spawn(registry_clock::follow(
        sim_url.clone(),
        store.clone(),
        manual.clone(),
        Some(catcher),
        Some(joined),
        supervision.clone(),
        async {
            let _ = follow_stopped.await;
        },
    ));
    let mut control = SimControlClient::connect(sim_url.clone()).await.unwrap();
    has_joined.await.unwrap();

    run_until(&mut control, "2026-03-02T18:58:00Z", 60).await;
    run_until(&mut control, "2026-03-02T19:05:00Z", 1).await;
    // A daily deal at 19:05 on a .com name nobody ordered that the registry already released.
    let released_before = |domain: &str| {
        sim.with_world(|w| {
            w.domain(domain)
                .and_then(|d| d.drop)
                .is_some_and(|plan| plan.release < at("2026-03-02T19:05:00Z"))
        })
    };
    let deal_domain = com
        .iter()
        .skip(1)
        .step_by(2)
        .find(|d| *d != &com[1] && *d != &com[3] && released_before(d))
        .expect("a released .com name without orders")
        .clone();
    let deal = place(
        &store,
        &rich,
        &deal_domain,
        BackorderClass::LiteBackorder,
        &[],
        clock.now(),
    )
    .await;
    assert!(deal.post_drop);
    targeted.insert(deal_domain.clone());
    run_until(&mut control, "2026-03-02T19:16:00Z", 1).await;
    let _ = stop_follow.send(());
    follower.await.unwrap();
    for (part, status) in supervision.snapshot() {
        assert!(
            status.last_error.is_none(),
            "{}: {:?}",
            part.as_str(),
            status.last_error
        );
    }

    // The orders that became valid are exactly the ones we meant (statuses after that belong
    // to allocation).
    let valid: BTreeSet<String> = all_orders(&store)
        .await
        .into_iter()
        .filter(|o| {
            !matches!(
                o.status,
                Status::Requested | Status::Active | Status::Cancelled
            ) && o.failure_reason != Some(FailureReason::Unfunded)
        })
        .map(|o| o.domain)
        .collect();
    assert_eq!(valid, targeted);

    // Exactly one result per targeted drop, none for any other name.
    let records = catches(&store).await;
    let mut ours: BTreeMap<String, CatchRecord> = BTreeMap::new();
    for record in records {
        let domain = record.report.domain.clone();
        assert!(
            ours.insert(domain.clone(), record).is_none(),
            "{domain} twice"
        );
    }
    assert_eq!(
        ours.keys().cloned().collect::<BTreeSet<_>>(),
        targeted,
        "one catch row per targeted domain"
    );

    // Our records against the registry's race log.
    let stats = control
        .get_statistics(registry::GetStatisticsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut logins = HashMap::new();
    let mut info = RegistrarClient::connect(sim_url.clone()).await.unwrap();
    for id in ["ours-1", "ours-2"] {
        let login = info
            .login(registry::LoginRequest {
                registrar_id: id.into(),
                password: "ours-secret".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!login.session_id.is_empty(), "{id}: a session left for us");
        logins.insert(id.to_string(), login.session_id);
    }
    let mut raced = BTreeSet::new();
    let mut ours_attempts = 0;
    eprintln!(
        "{:<26}{:<12}{:>9}{:>17}{:>20}  winner (margin)",
        "domain", "outcome", "attempts", "seen->created", "release->our first"
    );
    for race in &stats.races {
        raced.insert(race.domain.clone());
        let attempts = race.attempts.iter().find(|a| a.catcher == "ours");
        let Some(record) = ours.get(&race.domain) else {
            assert!(
                attempts.is_none_or(|a| a.attempts == 0),
                "{}: no valid order, yet we tried: {attempts:?}",
                race.domain
            );
            continue;
        };
        let report = &record.report;
        let tried = attempts.map_or(0, |a| a.attempts);
        ours_attempts += tried;
        assert_eq!(report.attempts as i32, tried, "{}: attempts", race.domain);
        if let Some(a) = attempts {
            assert_eq!(
                a.early_attempts, 0,
                "{}: a create before the release",
                race.domain
            );
            assert_eq!(
                a.limited_attempts, 0,
                "{}: a create over the limits",
                race.domain
            );
        }
        if let Some(first) = report.first_attempt_at {
            assert!(first >= ts(race.release_time.as_ref()), "{}", race.domain);
        }
        match &report.outcome {
            CatchOutcome::Caught {
                registrar,
                auth_code,
                registered_at,
            } => {
                assert_eq!(race.winner, "ours", "{}", race.domain);
                assert_eq!(&race.winner_registrar, registrar, "{}", race.domain);
                assert_eq!(
                    *registered_at,
                    ts(race.win_time.as_ref()),
                    "{}",
                    race.domain
                );
                let answer = info
                    .info(registry::InfoRequest {
                        session_id: logins[registrar].clone(),
                        domain: race.domain.clone(),
                    })
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(&answer.sponsoring_registrar, registrar);
                assert_eq!(&answer.auth_code, auth_code, "{}: auth code", race.domain);
            }
            CatchOutcome::NotCaught => {
                assert_ne!(race.winner, "ours", "{}", race.domain);
                assert!(!race.winner.is_empty(), "{}: nobody got it", race.domain);
            }
            CatchOutcome::NotDropped => panic!("{}: released yet NOT_DROPPED", race.domain),
        }
        let release_to_create = match (&report.outcome, report.release_seen_at) {
            (CatchOutcome::Caught { registered_at, .. }, Some(seen)) => {
                format!("{} ms", (*registered_at - seen).num_milliseconds())
            }
            _ => "-".into(),
        };
        let millis = |d: Option<&prost_types::Duration>| {
            d.map_or("-".to_string(), |d| {
                format!("{} ms", d.seconds * 1000 + i64::from(d.nanos) / 1_000_000)
            })
        };
        eprintln!(
            "{:<26}{:<12}{:>9}{:>17}{:>20}  {} ({})",
            race.domain,
            report.outcome.as_str(),
            report.attempts,
            release_to_create,
            millis(attempts.and_then(|a| a.first_arrival_after_release.as_ref())),
            race.winner,
            millis(race.winning_margin.as_ref())
        );
        // Exact times are fired at the very second: nobody beats a create at the release.
        if !race.domain.ends_with(".com") {
            assert_eq!(report.outcome.as_str(), "CAUGHT", "{}", race.domain);
        }
    }
    for domain in &targeted {
        assert!(raced.contains(domain), "{domain} never dropped");
    }

    // What went over the wire: every create is one of our attempts, spread over both
    // accreditations, and no session ever sent more than its creates per second.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len() as i32, ours_attempts);
    assert!(seen.iter().all(|c| targeted.contains(&c.domain)));
    let mut by_session: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for create in &seen {
        by_session
            .entry(&create.session)
            .or_default()
            .push(create.at);
    }
    assert_eq!(by_session.len(), 2, "both sessions carried creates");
    for (session, times) in &mut by_session {
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_second = times[..=i]
                .iter()
                .filter(|s| **s > *t - Duration::seconds(1))
                .count();
            assert!(
                in_second <= CREATES_PER_SECOND as usize,
                "{session}: {in_second} creates in the second up to {t}"
            );
        }
    }
    let caught = ours
        .values()
        .filter(|r| matches!(r.report.outcome, CatchOutcome::Caught { .. }))
        .count();
    eprintln!(
        "{} targets, {caught} caught, {} creates",
        targeted.len(),
        seen.len()
    );
    let _ = stop_proxy.send(());
    let _ = stop_sim.send(());
}

macro_rules! both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    super::$test(&db.url).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    super::$test(&db.url).await;
                }
            )*
        }
    };
}

// ----- crashes, lost answers, sessions, an unreachable registry (issue 11) ------------------

/// A registry whose create reaches the simulator (and may win) but whose caller never hears
/// back: the process dies before the answer is recorded (the test drops the step).
#[derive(Debug)]
struct DiesAfterCreate {
    inner: SimRegistry,
    sent: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl Registry for DiesAfterCreate {
    async fn capacity(&self) -> Vec<Capacity> {
        self.inner.capacity().await
    }
    async fn check(&self, names: &[String]) -> Result<Vec<(String, Availability)>, RegistryError> {
        self.inner.check(names).await
    }
    async fn create(
        &self,
        name: &str,
        extensions: &BTreeMap<String, String>,
        registrar: &str,
    ) -> Result<CreateResult, RegistryError> {
        let answer = self.inner.create(name, extensions, registrar).await;
        eprintln!("{name}: the registry answered {answer:?}; the process dies before hearing it");
        self.sent.notify_one();
        std::future::pending().await
    }
    async fn holder(&self, name: &str) -> Result<Holder, RegistryError> {
        self.inner.holder(name).await
    }
    async fn logout_all(&self) {}
    async fn describe(&self) -> String {
        self.inner.describe().await
    }
}

/// The simulator (`smoke`, manual clock, nobody following it) and a store with the drop list
/// imported, leads short enough for orders placed at the start, and one funded account.
struct RecoverySetup {
    sim: Arc<Sim>,
    sim_url: String,
    control: SimControlClient<Channel>,
    store: SharedStore,
    manual: Arc<ManualClock>,
    rich: Account,
    uk: Vec<String>,
    stop_sim: tokio::sync::oneshot::Sender<()>,
}

async fn recovery_setup(url: &str) -> RecoverySetup {
    let sim = Sim::new(Scenario::load("smoke").unwrap(), SimOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(registry_sim::run(listener, Arc::clone(&sim), async {
        let _ = sim_stopped.await;
    }));
    let (store, manual, lines) = smoke_store(url, &sim_url).await;
    let start = backorder_svc::clock::Clock::now(&*manual);
    let mut uk: Vec<String> = lines
        .iter()
        .filter_map(|line| match &line.parse {
            LineParse::Entry { domain, .. }
                if !domain.ends_with(".com") && !is_policy_label(domain) =>
            {
                Some(domain.clone())
            }
            _ => None,
        })
        .collect();
    uk.sort();
    let rich = account(&store, "rich", 1_000_000, start).await;
    RecoverySetup {
        control: SimControlClient::connect(sim_url.clone()).await.unwrap(),
        sim,
        sim_url,
        store,
        manual,
        rich,
        uk,
        stop_sim,
    }
}

impl RecoverySetup {
    /// Moves the simulator and our clock to `to` (nobody follows the simulator's clock here).
    async fn move_to(&mut self, to: DateTime<Utc>) {
        self.control
            .run_until(registry::RunUntilRequest {
                until: Some(prost_types::Timestamp {
                    seconds: to.timestamp(),
                    nanos: 0,
                }),
                step: Some(prost_types::Duration {
                    seconds: 1,
                    nanos: 0,
                }),
            })
            .await
            .unwrap();
        self.manual.set(to).unwrap();
    }

    fn registry(&self, sessions: u32) -> SimRegistry {
        let accreditations = ["ours-1", "ours-2"]
            .map(|id| Accreditation::parse(&format!("{id}:ours-secret:{sessions}:5")).unwrap());
        SimRegistry::new(&self.sim_url, &accreditations, self.manual.clone()).unwrap()
    }
}

/// Finding 1 of issue 11: the process dies between our winning create and the commit of its
/// result. The restarted catcher finds the create written ahead without an answer, asks the
/// registry who holds the name, and records CAUGHT with the sponsor's auth code: the name is
/// never lost. (Before the change it Checked, saw the name in use and recorded NOT_CAUGHT.)
async fn a_crash_after_a_won_create_loses_nothing(url: &str) {
    let mut setup = recovery_setup(url).await;
    let store = setup.store.clone();
    let clock: SharedClock = setup.manual.clone();
    let domain = setup.uk[0].clone();
    let release = store.drop_entry(&domain).await.unwrap().unwrap().drop_time;
    let order = place(
        &store,
        &setup.rich,
        &domain,
        BackorderClass::Backorder,
        &[("X-UK-CONTACT-TYPE", "IND")],
        clock.now(),
    )
    .await;
    setup.move_to(release - Duration::seconds(90)).await;
    scheduler::run_pass(&store, &clock).await.unwrap();
    setup.move_to(release - Duration::seconds(30)).await;
    scheduler::run_pass(&store, &clock).await.unwrap();
    assert_eq!(
        store.get_backorder(order.id).await.unwrap().unwrap().status,
        Status::Processing
    );
    setup.move_to(release).await;

    // The first process: its create goes out at the release and wins; it dies before the
    // answer arrives.
    let sent = Arc::new(tokio::sync::Notify::new());
    let dying = Catcher::new(
        store.clone(),
        Arc::new(DiesAfterCreate {
            inner: setup.registry(1).keeping_sessions_in(store.clone()),
            sent: sent.clone(),
        }),
        Duration::hours(1),
    );
    let step = tokio::spawn(async move { dying.step(release).await });
    sent.notified().await;
    step.abort();
    assert!(step.await.unwrap_err().is_cancelled());
    let winner = setup.sim.with_world(|w| {
        w.domain(&domain)
            .map(|d| d.state.exists())
            .unwrap_or_default()
    });
    assert!(winner, "{domain}: the create registered it");
    assert!(catches(&store).await.is_empty(), "nothing recorded yet");

    // The restarted process: same store, sessions taken back from it.
    setup.move_to(release + Duration::seconds(1)).await;
    let registry = setup.registry(1).keeping_sessions_in(store.clone());
    registry
        .login_all()
        .await
        .expect("the sessions are taken back");
    let restarted = Catcher::new(store.clone(), Arc::new(registry), Duration::hours(1));
    let report = restarted.step(clock.now()).await.unwrap();
    assert_eq!(
        (report.caught, report.creates, report.asked),
        (1, 0, 1),
        "{report:?}"
    );
    let recorded = catches(&store).await;
    let [record] = recorded.as_slice() else {
        panic!("{recorded:?}");
    };
    let CatchOutcome::Caught {
        registrar,
        auth_code,
        registered_at,
    } = &record.report.outcome
    else {
        panic!("{domain}: {record:?}");
    };
    assert_eq!(*registered_at, release);
    assert_eq!(record.report.attempts, 1);
    // The auth code is the registry's, as its sponsor sees it.
    let mut info = RegistrarClient::connect(setup.sim_url.clone())
        .await
        .unwrap();
    let login = info
        .login(registry::LoginRequest {
            registrar_id: registrar.clone(),
            password: "ours-secret".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let answer = info
        .info(registry::InfoRequest {
            session_id: login.session_id,
            domain: domain.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(&answer.sponsoring_registrar, registrar);
    assert_eq!(&answer.auth_code, auth_code);
    assert_eq!(
        store.get_backorder(order.id).await.unwrap().unwrap().status,
        Status::Successful
    );
    assert_eq!(store.unresolved_drops().await.unwrap(), 0);
    let _ = setup.stop_sim.send(());
}

/// Finding 2 of issue 11: sessions left behind by a crash no longer lock the catcher out.
/// A restart takes its sessions back from the store; without them the registry times idle
/// sessions out; a graceful shutdown logs them out.
async fn sessions_left_by_a_crash_come_back(url: &str) {
    let mut setup = recovery_setup(url).await;
    let store = setup.store.clone();
    let names = vec!["anything.com".to_string()];

    let crashed = setup.registry(2).keeping_sessions_in(store.clone());
    crashed.login_all().await.unwrap();
    drop(crashed); // no logout: the process died
    let elsewhere = setup.registry(2);
    assert!(
        matches!(
            elsewhere.login_all().await,
            Err(RegistryError::Login { .. })
        ),
        "the registry still counts the crashed sessions"
    );
    let restarted = setup.registry(2).keeping_sessions_in(store.clone());
    restarted
        .login_all()
        .await
        .expect("a restart takes its sessions back");
    restarted.check(&names).await.unwrap();
    assert_eq!(store.held_sessions().await.unwrap().len(), 4);
    restarted.logout_all().await;
    assert!(store.held_sessions().await.unwrap().is_empty());

    // Logged out: another process gets them at once. It crashes too, keeping nothing.
    let careless = setup.registry(2);
    careless.login_all().await.unwrap();
    drop(careless);
    let next = setup.registry(2);
    assert!(next.login_all().await.is_err());
    let later = backorder_svc::clock::Clock::now(&*setup.manual) + Duration::seconds(121);
    setup.move_to(later).await;
    next.login_all()
        .await
        .expect("the registry timed the idle sessions out; the login is tried again");
    next.check(&names).await.unwrap();
    let _ = setup.stop_sim.send(());
}

/// A registry out of reach: a drop without unanswered creates is still decided when its
/// deadline passes (the orders are released, never held forever); one with a create that
/// may have won waits for the registry.
async fn an_unreachable_registry_holds_nothing_forever(url: &str) {
    let setup = recovery_setup(url).await;
    let store = setup.store.clone();
    let clock: SharedClock = setup.manual.clone();
    let (quiet, open) = (setup.uk[0].clone(), setup.uk[1].clone());
    let fields = [("X-UK-CONTACT-TYPE", "IND")];
    let mut orders = Vec::new();
    for domain in [&quiet, &open] {
        orders.push(
            place(
                &store,
                &setup.rich,
                domain,
                BackorderClass::Backorder,
                &fields,
                clock.now(),
            )
            .await,
        );
    }
    let mut drops = Vec::new();
    for domain in [&quiet, &open] {
        drops.push(store.drop_entry(domain).await.unwrap().unwrap().drop_time);
    }
    let latest = drops.iter().copied().max().unwrap();
    // A pass in each order's lock window, then one after each finalization.
    let mut passes: Vec<_> = drops
        .iter()
        .flat_map(|d| [*d - Duration::seconds(90), *d - Duration::seconds(30)])
        .collect();
    passes.sort();
    for at in passes {
        setup.manual.set(at).unwrap();
        scheduler::run_pass(&store, &clock).await.unwrap();
    }
    // A create on `open` was written ahead; its answer never came.
    let open_drop = store.drop_entry(&open).await.unwrap().unwrap().drop_time;
    store
        .write_attempts_ahead(
            &[AttemptIntent {
                domain: open.clone(),
                drop_time: open_drop,
                registrar: "ours-1".into(),
            }],
            open_drop,
        )
        .await
        .unwrap();
    let accreditations = [Accreditation::parse("ours-1:ours-secret:1:5").unwrap()];
    let unreachable =
        SimRegistry::new("http://127.0.0.1:1", &accreditations, clock.clone()).unwrap();
    // The quiet drop's deadline (its exact time plus the grace) falls 5 minutes after the
    // later drop.
    let grace = latest - drops[0] + Duration::minutes(5);
    let catcher = Catcher::new(store.clone(), Arc::new(unreachable), grace);
    setup.manual.set(latest + Duration::minutes(4)).unwrap();
    let report = catcher.step(clock.now()).await.unwrap();
    assert_eq!(report.not_dropped, 0, "{report:?}: before the deadline");
    setup.manual.set(latest + Duration::minutes(6)).unwrap();
    let report = catcher.step(clock.now()).await.unwrap();
    assert_eq!(
        (report.not_dropped, report.unresolved),
        (1, 1),
        "{report:?}"
    );
    let quiet_order = store.get_backorder(orders[0].id).await.unwrap().unwrap();
    assert_eq!(
        (quiet_order.status, quiet_order.failure_reason),
        (Status::Failed, Some(FailureReason::DomainNotDropped))
    );
    let open_order = store.get_backorder(orders[1].id).await.unwrap().unwrap();
    assert_eq!(
        open_order.status,
        Status::Processing,
        "it may be ours: wait"
    );
    assert_eq!(store.unresolved_drops().await.unwrap(), 1);
    // Nor may the scheduler (or anyone) decide it otherwise than CAUGHT meanwhile.
    let refused = store
        .record_catch(
            CatchReport {
                domain: open.clone(),
                drop_time: open_drop,
                outcome: CatchOutcome::NotCaught,
                attempts: 0,
                first_attempt_at: None,
                release_seen_at: None,
            },
            "t",
            clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(refused, Allocated::Unresolved { unanswered: 1 });
    // Answered WON, but the process died before the result was recorded: still ours to
    // reconcile (the auth code comes from the registry), never NOT_CAUGHT.
    store
        .reconcile_attempts(&open, open_drop, clock.now())
        .await
        .unwrap();
    let [(id, _)] = store
        .write_attempts_ahead(
            &[AttemptIntent {
                domain: open.clone(),
                drop_time: open_drop,
                registrar: "ours-2".into(),
            }],
            clock.now(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|id| (id.unwrap(), ()))
        .collect::<Vec<_>>()[..]
    else {
        panic!("one attempt");
    };
    store
        .answer_attempts(&[(id, AttemptAnswer::Won)], clock.now())
        .await
        .unwrap();
    let targets = store.catch_targets(clock.now()).await.unwrap();
    let target = targets.iter().find(|t| t.domain == open).unwrap();
    assert_eq!((target.attempts.sent, target.attempts.unanswered), (2, 1));
    let refused = store
        .record_catch(
            CatchReport {
                domain: open.clone(),
                drop_time: open_drop,
                outcome: CatchOutcome::NotDropped,
                attempts: 2,
                first_attempt_at: None,
                release_seen_at: None,
            },
            "t",
            clock.now(),
        )
        .await
        .unwrap();
    assert_eq!(refused, Allocated::Unresolved { unanswered: 1 });
    assert_eq!(store.unresolved_drops().await.unwrap(), 1);
    let _ = setup.stop_sim.send(());
}

both_backends!(
    targets_and_results,
    race_the_smoke_drops,
    a_crash_after_a_won_create_loses_nothing,
    sessions_left_by_a_crash_come_back,
    an_unreachable_registry_holds_nothing_forever,
);
