//! Drives the shipped `smoke` scenario over gRPC on real TCP with a small test catcher: RGP
//! transitions, what the list reveals, release times per schedule, registrar limits, race
//! arbitration against the rivals, byte-identical statistics for identical runs, and
//! sessions that expire when idle (`smoke`: 120 s).

mod common;

use chrono::{DateTime, Duration, Utc};
use common::TestSim;
use prost::Message;
use registry_sim::Scenario;
use registry_sim::api::{self, ResultCode};
use registry_sim::sim::SimOptions;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

type Registrar = api::registrar_client::RegistrarClient<Channel>;

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn time(ts: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    let ts = ts.as_ref().expect("timestamp");
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32).expect("valid")
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn code(result: &Option<api::Result>) -> ResultCode {
    ResultCode::try_from(result.as_ref().expect("result").code).expect("known code")
}

fn secs(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.num_seconds(),
        nanos: 0,
    }
}

async fn login(registrar: &mut Registrar, id: &str, password: &str) -> (ResultCode, String) {
    let r = registrar
        .login(api::LoginRequest {
            registrar_id: id.into(),
            password: password.into(),
        })
        .await
        .unwrap()
        .into_inner();
    (code(&r.result), r.session_id)
}

/// An empty Check: keeps a session from expiring (smoke closes sessions idle for 120 s).
async fn keepalive(registrar: &mut Registrar, session: &str) -> (ResultCode, String) {
    let r = registrar
        .check(api::CheckRequest {
            session_id: session.into(),
            domains: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let message = r
        .result
        .as_ref()
        .map(|r| r.message.clone())
        .unwrap_or_default();
    (code(&r.result), message)
}

/// The test catcher and the script keep a session alive when it has been idle this long.
const KEEPALIVE_AFTER: Duration = Duration::seconds(60);

fn create(session: &str, domain: &str) -> api::CreateRequest {
    let mut extensions = HashMap::new();
    if domain.ends_with(".uk") {
        extensions.insert("uk-contact-type".to_string(), "IND".to_string());
    }
    api::CreateRequest {
        session_id: session.into(),
        domain: domain.into(),
        period_years: 1,
        extensions,
        ..Default::default()
    }
}

/// What the test catcher did: per domain, the code and server time of each create.
type CatcherLog = Arc<Mutex<BTreeMap<String, Vec<(ResultCode, DateTime<Utc>)>>>>;

/// A small catcher: on each tick, creates exact-time names at their published second and
/// polls window names with Check, creating when they show available; a session it has not
/// used for a minute gets an empty Check so it does not expire. Acks every tick.
async fn catcher(
    sim: &TestSim,
    sessions: [String; 2],
    targets: Vec<api::PendingDelete>,
    log: CatcherLog,
) -> tokio::task::JoinHandle<()> {
    let mut control = sim.control();
    let mut registrar = sim.registrar();
    let mut ticks = control
        .watch_clock(api::WatchClockRequest {
            participant: "test-catcher".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = ticks.next().await.unwrap().unwrap();
    let id = first.participant_id.clone();
    let joined = time(&first.now);
    tokio::spawn(async move {
        let mut pending: Vec<api::PendingDelete> = targets;
        let mut turn = 0usize;
        let mut last_used = [joined; 2];
        while let Some(Ok(tick)) = ticks.next().await {
            let now = time(&tick.now);
            for (session, last) in sessions.iter().zip(last_used.iter_mut()) {
                if now - *last >= KEEPALIVE_AFTER {
                    let (alive, message) = keepalive(&mut registrar, session).await;
                    assert_eq!(alive, ResultCode::Ok, "{message}");
                    *last = now;
                }
            }
            let mut still = Vec::new();
            for target in pending.drain(..) {
                if now < time(&target.drop_time) {
                    still.push(target);
                    continue;
                }
                let exact = target.precision == api::DropTimePrecision::Exact as i32;
                if !exact {
                    let check = registrar
                        .check(api::CheckRequest {
                            session_id: sessions[0].clone(),
                            domains: vec![target.domain.clone()],
                        })
                        .await
                        .unwrap()
                        .into_inner();
                    last_used[0] = now;
                    let result = &check.results[0];
                    if !result.available {
                        if result.reason == "pendingDelete" {
                            still.push(target);
                        }
                        continue;
                    }
                }
                turn += 1;
                let answer = registrar
                    .create(create(&sessions[turn % 2], &target.domain))
                    .await
                    .unwrap()
                    .into_inner();
                last_used[turn % 2] = now;
                log.lock()
                    .unwrap()
                    .entry(target.domain.clone())
                    .or_default()
                    .push((code(&answer.result), time(&answer.server_time)));
            }
            pending = still;
            control
                .ack_tick(api::AckTickRequest {
                    participant_id: id.clone(),
                    tick: tick.tick,
                })
                .await
                .unwrap();
        }
    })
}

/// Everything one run observed.
struct Run {
    statistics: api::Statistics,
    catcher: BTreeMap<String, Vec<(ResultCode, DateTime<Utc>)>>,
    listed: Vec<api::PendingDelete>,
    csv: String,
    changes: Vec<api::PendingDeleteChange>,
    restored_by_test: String,
    list_after: i64,
}

async fn list_all(sim: &TestSim) -> (Vec<api::PendingDelete>, i64, i64) {
    let mut feed = sim.feed();
    let (mut entries, mut token, mut sequence) = (Vec::new(), String::new(), 0);
    let mut total;
    loop {
        let page = feed
            .list_pending_deletes(api::ListPendingDeletesRequest {
                tlds: vec![],
                page_size: 7,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        if entries.is_empty() {
            sequence = page.sequence;
        }
        total = page.total_size;
        assert!(page.entries.len() <= 7);
        entries.extend(page.entries);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    (entries, sequence, total)
}

/// The scripted drop day. Deterministic given the seed: the same calls at the same instants.
async fn drive(sim: &TestSim) -> Run {
    let mut registrar = sim.registrar();
    let mut control = sim.control();
    let mut feed = sim.feed();
    let start = at("2026-03-02T18:55:00Z");
    assert_eq!(
        time(
            &control
                .get_clock(api::GetClockRequest {})
                .await
                .unwrap()
                .into_inner()
                .now
        ),
        start
    );

    let (listed, sequence, total) = list_all(sim).await;
    assert_eq!(listed.len() as i64, total);
    let mut csv = String::new();
    let mut chunks = feed
        .export_pending_deletes_csv(api::ExportPendingDeletesCsvRequest { tlds: vec![] })
        .await
        .unwrap()
        .into_inner();
    while let Some(chunk) = chunks.next().await {
        csv.push_str(std::str::from_utf8(&chunk.unwrap().data).unwrap());
    }

    // Follow the list's changes from the snapshot on.
    let changes = Arc::new(Mutex::new(Vec::new()));
    let mut watch = feed
        .watch_pending_deletes(api::WatchPendingDeletesRequest {
            after_sequence: sequence,
            tlds: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    let collector = tokio::spawn({
        let changes = Arc::clone(&changes);
        async move {
            while let Some(Ok(change)) = watch.next().await {
                changes.lock().unwrap().push(change);
            }
        }
    });

    // Sessions and authentication.
    let (ok1, s1) = login(&mut registrar, "ours-1", "ours-secret").await;
    let (ok2, s2) = login(&mut registrar, "ours-1", "ours-secret").await;
    assert_eq!((ok1, ok2), (ResultCode::Ok, ResultCode::Ok));
    assert_eq!(
        login(&mut registrar, "ours-1", "ours-secret").await.0,
        ResultCode::SessionLimitExceeded,
        "two sessions per registrar"
    );
    assert_eq!(
        login(&mut registrar, "ours-2", "nope").await.0,
        ResultCode::AuthorizationError
    );
    assert_eq!(
        login(&mut registrar, "snapper-1", "").await.0,
        ResultCode::AuthorizationError
    );
    let (_, probe) = login(&mut registrar, "ours-2", "ours-secret").await;
    let (_, probe2) = login(&mut registrar, "ours-2", "ours-secret").await;
    let (_, legacy) = login(&mut registrar, "legacy", "legacy-secret").await;

    // Check: listed, premium, syntax, free.
    let listed_com = listed
        .iter()
        .find(|e| e.tld == "com")
        .unwrap()
        .domain
        .clone();
    let check = registrar
        .check(api::CheckRequest {
            session_id: probe.clone(),
            domains: vec![
                listed_com.clone(),
                "cars.com".into(),
                "bad_name.com".into(),
                "zz-fresh-probe.com".into(),
                "x.invalid".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let codes: Vec<ResultCode> = check.results.iter().map(|r| code(&r.result)).collect();
    assert_eq!(
        codes,
        [
            ResultCode::ObjectExists,
            ResultCode::ParameterPolicyError,
            ResultCode::SyntaxError,
            ResultCode::Ok,
            ResultCode::ParameterPolicyError
        ]
    );
    assert!(check.results[1].premium && check.results[3].available && !check.results[0].available);

    // Create limits: premium, syntax, missing extension, rate per session, before release.
    let premium = registrar
        .create(create(&probe, "cars.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&premium.result), ResultCode::ParameterPolicyError);
    let bad = registrar
        .create(create(&probe, "-bad.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&bad.result), ResultCode::SyntaxError);
    let no_extension = registrar
        .create(api::CreateRequest {
            session_id: probe.clone(),
            domain: "zz-fresh.co.uk".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&no_extension.result), ResultCode::ParameterPolicyError);
    let mut rate = Vec::new();
    for i in 0..6 {
        let answer = registrar
            .create(create(&probe, &format!("zz-rate{i}.com")))
            .await
            .unwrap()
            .into_inner();
        rate.push(code(&answer.result));
    }
    assert_eq!(
        rate,
        [
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::Ok,
            ResultCode::SessionLimitExceeded
        ],
        "5 creates/s per session"
    );
    let early = registrar
        .create(create(&probe2, &listed_com))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        code(&early.result),
        ResultCode::ObjectExists,
        "a create before release"
    );

    // Info: pendingDelete state; the auth code only for the sponsor.
    let info = registrar
        .info(api::InfoRequest {
            session_id: probe.clone(),
            domain: listed_com.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (info.state, info.rgp_status.as_str()),
        (api::DomainState::PendingDelete as i32, "pendingDelete")
    );
    assert_eq!(info.statuses, ["pendingDelete"]);
    assert_eq!(
        (info.sponsoring_registrar.as_str(), info.auth_code.as_str()),
        ("legacy", "")
    );
    let sponsor_view = registrar
        .info(api::InfoRequest {
            session_id: legacy.clone(),
            domain: listed_com.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sponsor_view.auth_code.len(), 12);
    let missing = registrar
        .info(api::InfoRequest {
            session_id: probe.clone(),
            domain: "zz-nothing.com".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&missing.result), ResultCode::ObjectDoesNotExist);

    // The catcher joins the clock.
    let log: CatcherLog = Arc::default();
    let catcher = catcher(sim, [s1, s2], listed.clone(), Arc::clone(&log)).await;

    // Phase 1: move in 10 s steps until a name is deleted into redemption (it joins the list).
    let mut restored_by_test = String::new();
    for _ in 0..60 {
        control
            .advance_clock(api::AdvanceClockRequest {
                by: Some(secs(Duration::seconds(10))),
            })
            .await
            .unwrap();
        // The sessions used below would expire after two idle minutes.
        for session in [&probe, &legacy] {
            assert_eq!(keepalive(&mut registrar, session).await.0, ResultCode::Ok);
        }
        let added = changes
            .lock()
            .unwrap()
            .iter()
            .find(|c| c.kind == api::ChangeKind::Added as i32)
            .cloned();
        if let Some(change) = added {
            let name = change.entry.unwrap().domain;
            let info = registrar
                .info(api::InfoRequest {
                    session_id: legacy.clone(),
                    domain: name.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                (info.state, info.rgp_status.as_str()),
                (
                    api::DomainState::RedemptionPeriod as i32,
                    "redemptionPeriod"
                )
            );
            let not_sponsor = registrar
                .restore(api::RestoreRequest {
                    session_id: probe.clone(),
                    domain: name.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(code(&not_sponsor.result), ResultCode::AuthorizationError);
            assert!(
                not_sponsor
                    .result
                    .unwrap()
                    .message
                    .contains("sponsored by another registrar"),
                "refused for the sponsor, not for the session"
            );
            let restore = registrar
                .restore(api::RestoreRequest {
                    session_id: legacy.clone(),
                    domain: name.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(code(&restore.result), ResultCode::Ok);
            let info = registrar
                .info(api::InfoRequest {
                    session_id: legacy.clone(),
                    domain: name.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                (info.state, info.rgp_status.as_str()),
                (api::DomainState::Registered as i32, "")
            );
            assert!(time(&info.expire_time) > start, "a restore renews the name");
            let again = registrar
                .restore(api::RestoreRequest {
                    session_id: legacy.clone(),
                    domain: name.clone(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                code(&again.result),
                ResultCode::ParameterPolicyError,
                "restore only during redemption"
            );
            restored_by_test = name;
            break;
        }
    }
    assert!(
        !restored_by_test.is_empty(),
        "smoke deletes a name into redemption before 19:05"
    );

    // Phase 2: every second through the drop windows; the catcher acts at each instant.
    let end = at("2026-03-02T19:16:00Z");
    let clock = control
        .run_until(api::RunUntilRequest {
            until: Some(ts(end)),
            step: Some(secs(Duration::seconds(1))),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(time(&clock.now), end);
    let statistics = control
        .get_statistics(api::GetStatisticsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let (after, _, list_after) = list_all(sim).await;
    assert!(after.is_empty());
    catcher.abort();
    let _ = catcher.await;
    collector.abort();
    let _ = collector.await;
    let changes = changes.lock().unwrap().clone();
    let catcher = log.lock().unwrap().clone();
    Run {
        statistics,
        catcher,
        listed,
        csv,
        changes,
        restored_by_test,
        list_after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_drop_day_over_grpc() {
    let sim = TestSim::start("smoke", SimOptions::default()).await;
    let scenario = Scenario::load("smoke").unwrap();
    let batch_start = at("2026-03-02T19:00:00Z");

    // Registry facts.
    let tlds = sim
        .registrar()
        .list_tlds(api::ListTldsRequest {})
        .await
        .unwrap()
        .into_inner()
        .tlds;
    let facts: Vec<(String, i32, String, Vec<String>)> = tlds
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.policy,
                t.schedule.clone(),
                t.zones.clone(),
            )
        })
        .collect();
    assert_eq!(
        facts[0],
        (
            "com".into(),
            api::AllocationPolicy::Auction as i32,
            "daily-batch".into(),
            vec!["com".to_string()]
        )
    );
    assert_eq!(
        facts[1],
        (
            "uk".into(),
            api::AllocationPolicy::Fcfs as i32,
            "exact".into(),
            vec!["uk".to_string(), "co.uk".into(), "org.uk".into()]
        )
    );
    assert_eq!(tlds[1].required_extensions, ["uk-contact-type"]);

    let run = drive(&sim).await;

    // What the list reveals follows the schedule.
    for entry in &run.listed {
        let (from, until) = (time(&entry.drop_time), time(&entry.drop_window_end));
        match entry.tld.as_str() {
            "com" => {
                assert_eq!(entry.precision, api::DropTimePrecision::Window as i32);
                assert_eq!(
                    (from, until),
                    (batch_start, batch_start + Duration::minutes(10))
                );
            }
            "uk" => {
                assert_eq!(entry.precision, api::DropTimePrecision::Exact as i32);
                assert_eq!(from, until);
                assert!(
                    from >= batch_start
                        && from < batch_start + Duration::minutes(15)
                        && from.timestamp_subsec_nanos() == 0
                );
                assert!(entry.domain.ends_with(".uk"));
            }
            other => panic!("unexpected TLD {other}"),
        }
    }
    // The CSV export is the same list, HEXONET-shaped.
    let csv_lines: Vec<&str> = run.csv.lines().collect();
    assert_eq!(csv_lines.len(), run.listed.len());
    for (line, entry) in csv_lines.iter().zip(&run.listed) {
        assert_eq!(
            *line,
            format!(
                "{};{}",
                entry.domain,
                time(&entry.drop_time).format("%Y-%m-%d %H:%M:%S")
            )
        );
    }

    // Restored names joined the list and left it without dropping.
    let kinds = |name: &str| {
        run.changes
            .iter()
            .filter(|c| c.entry.as_ref().unwrap().domain == name)
            .map(|c| c.kind)
            .collect::<Vec<_>>()
    };
    let added_later: Vec<String> = run
        .changes
        .iter()
        .filter(|c| c.kind == api::ChangeKind::Added as i32)
        .map(|c| c.entry.as_ref().unwrap().domain.clone())
        .collect();
    assert!(
        added_later.len() >= 2,
        "smoke restores a few names: {added_later:?}"
    );
    for name in &added_later {
        assert_eq!(
            kinds(name),
            [
                api::ChangeKind::Added as i32,
                api::ChangeKind::Removed as i32
            ],
            "{name}"
        );
    }
    assert!(added_later.contains(&run.restored_by_test));
    assert_eq!(
        run.list_after, 0,
        "every listed name dropped or was restored"
    );

    // Every initially listed name dropped, once, at its schedule's time.
    let stats = &run.statistics;
    assert_eq!(stats.drops as usize, run.listed.len());
    let dropped: Vec<&api::PendingDeleteChange> = run
        .changes
        .iter()
        .filter(|c| c.kind == api::ChangeKind::Dropped as i32)
        .collect();
    assert_eq!(dropped.len(), run.listed.len());
    let com: Vec<&api::DropRecord> = stats.races.iter().filter(|r| r.tld == "com").collect();
    let step_us = 600_000_000 / com.len() as i64;
    let mut alphabetical: Vec<&str> = com.iter().map(|r| r.domain.as_str()).collect();
    alphabetical.sort();
    for (i, race) in com.iter().enumerate() {
        assert_eq!(
            race.domain, alphabetical[i],
            "daily-batch releases in alphabetical order"
        );
        assert_eq!(
            time(&race.release_time),
            batch_start + Duration::microseconds(step_us * i as i64)
        );
    }
    let published: HashMap<&str, DateTime<Utc>> = run
        .listed
        .iter()
        .map(|e| (e.domain.as_str(), time(&e.drop_time)))
        .collect();
    for race in stats.races.iter().filter(|r| r.tld == "uk") {
        assert_eq!(
            time(&race.release_time),
            published[race.domain.as_str()],
            "exact names drop at their published second"
        );
    }

    // Arbitration: at exact seconds our zero-latency create wins; in the batch, whoever
    // arrives first after the release wins, and the margin is the gap to the runner-up.
    let rivals: Vec<&str> = scenario.rivals.iter().map(|r| r.name.as_str()).collect();
    let mut contested = 0;
    for race in &stats.races {
        let release = time(&race.release_time);
        let winner = race.winner.as_str();
        assert!(
            winner == "ours" || rivals.contains(&winner),
            "{} won by {winner:?}",
            race.domain
        );
        let win = time(&race.win_time);
        assert!(win >= release);
        let arrivals: Vec<(String, DateTime<Utc>)> = race
            .attempts
            .iter()
            .filter_map(|a| {
                a.first_arrival_after_release.as_ref().map(|d| {
                    (
                        a.catcher.clone(),
                        release
                            + Duration::seconds(d.seconds)
                            + Duration::nanoseconds(i64::from(d.nanos)),
                    )
                })
            })
            .collect();
        let first = arrivals.iter().min_by_key(|a| a.1).unwrap();
        assert_eq!(
            (first.0.as_str(), first.1),
            (winner, win),
            "{}: the earliest arrival wins",
            race.domain
        );
        if arrivals.len() > 1 {
            contested += 1;
            let runner_up = arrivals
                .iter()
                .filter(|a| a.0 != winner)
                .map(|a| a.1)
                .min()
                .unwrap();
            let margin = race.winning_margin.as_ref().unwrap();
            assert_eq!(
                Duration::seconds(margin.seconds) + Duration::nanoseconds(i64::from(margin.nanos)),
                runner_up - win
            );
        }
        // The catcher skips a window name that Check already shows taken.
        let ours = run
            .catcher
            .get(race.domain.as_str())
            .cloned()
            .unwrap_or_default();
        if race.tld == "uk" {
            assert_eq!(winner, "ours", "{}", race.domain);
            assert_eq!(
                ours[0],
                (ResultCode::Ok, release),
                "created at the published second"
            );
        }
        if winner == "ours" {
            assert_eq!(race.winner_registrar, "ours-1");
            assert_eq!(ours.last().unwrap(), &(ResultCode::Ok, win));
        } else if let Some(last) = ours.last() {
            assert_eq!(
                last.0,
                ResultCode::ObjectExists,
                "{}: lost to {winner}",
                race.domain
            );
        }
    }
    assert!(
        contested >= 5,
        "rivals raced for several names ({contested})"
    );
    let summary: HashMap<&str, i64> = stats
        .catchers
        .iter()
        .map(|c| (c.catcher.as_str(), c.wins))
        .collect();
    assert!(
        summary.get("snapper").copied().unwrap_or(0) > 0,
        "the polling rival beats a one-second catcher sometimes: {summary:?}"
    );
    assert!(summary["ours"] > 0);
    assert!(stats.rejected_creates > 0 && stats.creates > stats.rejected_creates);

    // Determinism: the same seed replays the same drop day byte for byte.
    let reset = sim
        .control()
        .reset(api::ResetRequest { seed: 0 })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reset.seed, scenario.seed);
    let again = drive(&sim).await;
    assert_eq!(
        again.statistics.encode_to_vec(),
        run.statistics.encode_to_vec(),
        "race logs differ between identical runs"
    );
    assert_eq!(again.catcher, run.catcher);
    assert_eq!(again.csv, run.csv);

    // Another seed, another day.
    sim.control()
        .reset(api::ResetRequest { seed: 4242 })
        .await
        .unwrap();
    let (other, _, _) = list_all(&sim).await;
    assert_ne!(
        other.iter().map(|e| &e.domain).collect::<Vec<_>>(),
        run.listed.iter().map(|e| &e.domain).collect::<Vec<_>>()
    );
    sim.stop().await;
}

/// Sessions expire after `limits.session_idle_timeout` (120 s in smoke) of virtual time: a
/// crashed client's sessions come back, a session in use stays, an expired one answers 2201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire_over_grpc() {
    let sim = TestSim::start("smoke", SimOptions::default()).await;
    let mut registrar = sim.registrar();
    let mut control = sim.control();
    let advance = |by: i64| api::AdvanceClockRequest {
        by: Some(secs(Duration::seconds(by))),
    };

    // A client takes both sessions of ours-1 and crashes without logging out.
    let (_, crashed1) = login(&mut registrar, "ours-1", "ours-secret").await;
    let (_, crashed2) = login(&mut registrar, "ours-1", "ours-secret").await;
    assert_eq!(
        login(&mut registrar, "ours-1", "ours-secret").await.0,
        ResultCode::SessionLimitExceeded
    );
    control.advance_clock(advance(120)).await.unwrap();
    assert_eq!(
        login(&mut registrar, "ours-1", "ours-secret").await.0,
        ResultCode::SessionLimitExceeded,
        "idle for exactly the timeout: still held"
    );
    control.advance_clock(advance(1)).await.unwrap();

    // Restarted, it gets both sessions back.
    let (ok_a, a) = login(&mut registrar, "ours-1", "ours-secret").await;
    let (ok_b, b) = login(&mut registrar, "ours-1", "ours-secret").await;
    assert_eq!((ok_a, ok_b), (ResultCode::Ok, ResultCode::Ok));
    assert_eq!(
        login(&mut registrar, "ours-1", "ours-secret").await.0,
        ResultCode::SessionLimitExceeded
    );
    let stale = registrar
        .create(create(&crashed1, "zz-after-crash.com"))
        .await
        .unwrap()
        .into_inner();
    let stale = stale.result.unwrap();
    assert_eq!(stale.code, ResultCode::AuthorizationError as i32);
    assert!(
        stale.message.contains("session expired"),
        "{}",
        stale.message
    );

    // a is used every 100 s and stays; b idles and expires; its slot is free for a login.
    for _ in 0..3 {
        control.advance_clock(advance(100)).await.unwrap();
        assert_eq!(keepalive(&mut registrar, &a).await.0, ResultCode::Ok);
    }
    let (expired, message) = keepalive(&mut registrar, &b).await;
    assert_eq!(expired, ResultCode::AuthorizationError);
    assert!(
        message.contains("session expired: idle for more than 120s"),
        "{message}"
    );
    let (ok_c, c) = login(&mut registrar, "ours-1", "ours-secret").await;
    assert_eq!(ok_c, ResultCode::Ok, "b's slot is free");
    let created = registrar
        .create(create(&c, "zz-after-crash.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&created.result), ResultCode::Ok);

    // Logout still frees a session at once; an expired session's logout answers 2201.
    let logout = |session: &str| api::LogoutRequest {
        session_id: session.into(),
    };
    let out = registrar.logout(logout(&a)).await.unwrap().into_inner();
    assert_eq!(code(&out.result), ResultCode::Ok);
    assert_eq!(
        login(&mut registrar, "ours-1", "ours-secret").await.0,
        ResultCode::Ok
    );
    let out = registrar
        .logout(logout(&crashed2))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(code(&out.result), ResultCode::AuthorizationError);
    sim.stop().await;
}
