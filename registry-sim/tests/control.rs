//! The control plane and the edges: clock modes, scenario loading and refusal, reflection and
//! health, the ccTLD schedules, and the binary's start-up checks and graceful shutdown.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::TestSim;
use registry_sim::ClockMode;
use registry_sim::api::{self, ResultCode};
use registry_sim::sim::SimOptions;
use tokio_stream::StreamExt;

fn time(ts: &Option<prost_types::Timestamp>) -> DateTime<Utc> {
    let ts = ts.as_ref().expect("timestamp");
    DateTime::from_timestamp(ts.seconds, ts.nanos as u32).expect("valid")
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_both_reflection_versions_are_served() {
    let sim = TestSim::start("smoke", SimOptions::default()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(sim.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "registry.v1.Registrar".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    use tonic_reflection::pb::v1alpha as alpha;
    let mut reflection =
        alpha::server_reflection_client::ServerReflectionClient::new(sim.channel.clone());
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answers.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in [
        "registry.v1.Registrar",
        "registry.v1.PendingDeleteFeed",
        "registry.v1.SimControl",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == service),
            "{service} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n.starts_with("backorder.")),
        "only served services are listed: {names:?}"
    );
    use tonic_reflection::pb::v1;
    let mut reflection =
        v1::server_reflection_client::ServerReflectionClient::new(sim.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1::server_reflection_request::MessageRequest::FileContainingSymbol(
                "registry.v1.SimControl".into(),
            ),
        ),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    assert!(matches!(
        answers.next().await.unwrap().unwrap().message_response,
        Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
    ));
    drop(answers);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_clock_follows_real_time_and_cannot_be_moved() {
    let sim = TestSim::start(
        "smoke",
        SimOptions {
            clock: ClockMode::System,
            ..SimOptions::default()
        },
    )
    .await;
    let mut control = sim.control();
    let clock = control
        .get_clock(api::GetClockRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(clock.mode, api::ClockMode::System as i32);
    let skew = (time(&clock.now) - Utc::now()).num_seconds().abs();
    assert!(skew <= 2, "system time is real time ({skew}s off)");
    let refused = control
        .advance_clock(api::AdvanceClockRequest {
            by: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accelerated_clock_runs_the_drop_day_by_itself_and_ticks_without_waiting() {
    let sim = TestSim::start(
        "smoke",
        SimOptions {
            clock: ClockMode::Accelerated(6000.0),
            ..SimOptions::default()
        },
    )
    .await;
    let mut control = sim.control();
    let mut ticks = control
        .watch_clock(api::WatchClockRequest {
            participant: "viewer".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = ticks.next().await.unwrap().unwrap();
    // Never acknowledged: a running clock does not wait for anyone.
    let later = ticks.next().await.unwrap().unwrap();
    assert!(later.tick > first.tick && time(&later.now) > time(&first.now));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let status = control
        .get_status(api::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let clock = status.clock.unwrap();
    assert_eq!(
        (clock.mode, clock.factor),
        (api::ClockMode::Accelerated as i32, 6000.0)
    );
    assert!(
        time(&clock.now) >= at("2026-03-02T19:30:00Z"),
        "400 ms at 6000x is 40 virtual minutes"
    );
    assert_eq!(
        status.pending_delete, 0,
        "the whole smoke drop day has passed"
    );
    assert!(status.dropped > 0);
    drop(ticks);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scenarios_are_refused_with_line_and_reason() {
    let sim = TestSim::start("smoke", SimOptions::default()).await;
    let mut control = sim.control();
    let text = "name = \"x\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\n[[tlds]]\nname = \"com\"\nnames = 1\nschedule = { kind = \"hourly\" }\n";
    let refused = control
        .load_scenario(api::LoadScenarioRequest {
            scenario_toml: text.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().starts_with("<scenario_toml>:7:"),
        "{}",
        refused.message()
    );
    assert!(
        refused
            .message()
            .contains("tlds[0].schedule.kind: unknown schedule kind `hourly`"),
        "{}",
        refused.message()
    );
    let unknown = control
        .load_scenario(api::LoadScenarioRequest {
            shipped: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
    let status = control
        .get_status(api::GetStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.scenario, "smoke",
        "a refused scenario leaves the running one alone"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cctld_schedules_and_the_ca_create_interval() {
    let sim = TestSim::start("smoke", SimOptions::default()).await;
    let mut control = sim.control();
    let status = control
        .load_scenario(api::LoadScenarioRequest {
            shipped: "cctld-mix".into(),
            seed: 11,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((status.scenario.as_str(), status.seed), ("cctld-mix", 11));
    let mut feed = sim.feed();
    let page = |tld: &str| api::ListPendingDeletesRequest {
        tlds: vec![tld.into()],
        page_size: 1000,
        page_token: String::new(),
    };
    let se = feed
        .list_pending_deletes(page("se"))
        .await
        .unwrap()
        .into_inner();
    let window = at("2026-03-02T04:00:00Z");
    assert!(se.total_size > 200);
    for e in &se.entries {
        assert_eq!(
            (e.precision, time(&e.drop_time), time(&e.drop_window_end)),
            (
                api::DropTimePrecision::Window as i32,
                window,
                window + Duration::hours(2)
            )
        );
    }
    let ca = feed
        .list_pending_deletes(page("ca"))
        .await
        .unwrap()
        .into_inner();
    let tuesday = at("2026-03-03T00:00:00Z");
    for e in &ca.entries {
        assert_eq!(
            (e.precision, time(&e.drop_time)),
            (api::DropTimePrecision::Day as i32, tuesday),
            "weekly session reveals only the day"
        );
    }

    // Run through the .se window: every .se name drops inside it, at unpublished moments.
    control
        .run_until(api::RunUntilRequest {
            until: Some(ts(window + Duration::hours(2))),
            step: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    let stats = control
        .get_statistics(api::GetStatisticsRequest {
            tlds: vec!["se".into()],
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.drops, se.total_size);
    let mut races = stats.races.clone();
    let mut token = stats.next_page_token.clone();
    while !token.is_empty() {
        let page = control
            .get_statistics(api::GetStatisticsRequest {
                tlds: vec!["se".into()],
                page_size: 100,
                page_token: token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.races.len() <= 100);
        races.extend(page.races);
        token = page.next_page_token;
    }
    assert_eq!(
        races.len() as i64,
        stats.drops,
        "pages cover every race once"
    );
    let stats = api::Statistics { races, ..stats };
    let releases: Vec<DateTime<Utc>> = stats.races.iter().map(|r| time(&r.release_time)).collect();
    assert!(
        releases
            .iter()
            .all(|r| *r >= window && *r < window + Duration::hours(2))
    );
    assert!(
        releases.windows(2).all(|w| w[0] <= w[1]),
        "the race log is in release order"
    );
    assert!(stats.races.iter().any(|r| r.winner == "nordic"));

    // .ca: one create per 5 s per registrar, whatever the session.
    let mut registrar = sim.registrar();
    let login = registrar
        .login(api::LoginRequest {
            registrar_id: "ours-1".into(),
            password: "ours-secret".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let create = |domain: &str| api::CreateRequest {
        session_id: login.session_id.clone(),
        domain: domain.into(),
        ..Default::default()
    };
    let first = registrar
        .create(create("zz-maple-one.ca"))
        .await
        .unwrap()
        .into_inner();
    let second = registrar
        .create(create("zz-maple-two.ca"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.result.unwrap().code, ResultCode::Ok as i32);
    let second = second.result.unwrap();
    assert_eq!(
        second.code,
        ResultCode::SessionLimitExceeded as i32,
        "{}",
        second.message
    );
    control
        .advance_clock(api::AdvanceClockRequest {
            by: Some(prost_types::Duration {
                seconds: 5,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    let third = registrar
        .create(create("zz-maple-two.ca"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(third.result.unwrap().code, ResultCode::Ok as i32);
    sim.stop().await;
}

#[test]
fn the_binary_refuses_a_bad_scenario_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "name = \"b\"\nseed = 1\nstart = \"2026-03-02T00:00:00Z\"\n\n[[tlds]]\nname = \"com\"\nnames = 1\nschedule = { kind = \"daily-batch\", at = \"19:00\", spread = \"soon\" }\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_registry-sim"))
        .args([
            "serve",
            "--scenario",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:8:", path.display())),
        "{stderr}"
    );
    assert!(stderr.contains("invalid duration `soon`"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn the_binary_serves_and_stops_gracefully_on_sigterm() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_registry-sim"))
        .args([
            "serve",
            "--scenario",
            "smoke",
            "--seed",
            "9",
            "--clock",
            "manual",
        ])
        .env("REGISTRY_SIM_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seed = runtime.block_on(async {
        for _ in 0..100 {
            if let Ok(mut control) = api::sim_control_client::SimControlClient::connect(format!(
                "http://127.0.0.1:{port}"
            ))
            .await
            {
                return control
                    .get_status(api::GetStatusRequest {})
                    .await
                    .unwrap()
                    .into_inner()
                    .seed;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("registry-sim did not start");
    });
    assert_eq!(seed, 9);
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful exit, got {status}");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("registry-sim did not stop on SIGTERM");
}
