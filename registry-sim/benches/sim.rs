//! `cargo bench -p registry-sim --bench sim`
//!
//! 1. How long the `com-day` scenario (about 80,000 drops from 19:00 UTC over an hour) takes
//!    to run through its drop window in manual mode, in wall seconds per virtual hour, driven
//!    over loopback gRPC in 1 s ticks like a test would.
//! 2. Create-handling latency (p50/p99) over loopback gRPC with the system clock.

use chrono::{DateTime, Utc};
use registry_sim::api::{
    self, registrar_client::RegistrarClient, sim_control_client::SimControlClient,
};
use registry_sim::sim::SimOptions;
use registry_sim::{ClockMode, Scenario, Sim};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// High limits so that the latency run measures the create path, not the rate limiter.
const LATENCY_SCENARIO: &str = r#"
name = "latency"
seed = 1
start = "2026-03-02T18:55:00Z"

[[tlds]]
name = "com"
names = 1000
schedule = { kind = "daily-batch", at = "19:00:00", spread = "10m" }

[[registrars]]
id = "bench"
password = "bench"
sessions = 1
creates_per_second = 1000000
"#;

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

async fn serve(
    sim: Arc<Sim>,
) -> (
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(registry_sim::run(listener, sim, async {
        let _ = stopped.await;
    }));
    (url, stop, server)
}

async fn com_day() -> anyhow::Result<()> {
    let scenario = Scenario::load("com-day")?;
    let built = Instant::now();
    let sim = Sim::new(scenario, SimOptions::default());
    let build = built.elapsed();
    let (url, stop, server) = serve(Arc::clone(&sim)).await;
    let mut control = SimControlClient::connect(url).await?;
    let status = control
        .get_status(api::GetStatusRequest {})
        .await?
        .into_inner();

    let window_start = DateTime::parse_from_rfc3339("2026-03-02T19:00:00Z")?.with_timezone(&Utc);
    let window_end = window_start + chrono::Duration::hours(1);
    let step = prost_types::Duration {
        seconds: 1,
        nanos: 0,
    };
    control
        .run_until(api::RunUntilRequest {
            until: Some(ts(window_start)),
            step: Some(step),
        })
        .await?;
    let timed = Instant::now();
    control
        .run_until(api::RunUntilRequest {
            until: Some(ts(window_end)),
            step: Some(step),
        })
        .await?;
    let window = timed.elapsed();
    let stats = control
        .get_statistics(api::GetStatisticsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await?
        .into_inner();

    println!("com-day (manual clock, 1 s ticks over loopback gRPC)");
    println!(
        "  population: {} names, {} listed; built in {:.2} s",
        status.domains,
        status.pending_delete,
        build.as_secs_f64()
    );
    println!(
        "  drop window 19:00-20:00: {} drops, {} creates ({} answered other than 1000: lost, early or limited)",
        stats.drops, stats.creates, stats.rejected_creates
    );
    for c in &stats.catchers {
        println!(
            "    {:<10} wins {:>6}  attempts {:>7}",
            c.catcher, c.wins, c.attempts
        );
    }
    println!(
        "  wall time: {:.2} s per virtual hour ({:.0}x real time)",
        window.as_secs_f64(),
        3600.0 / window.as_secs_f64()
    );
    drop(control);
    let _ = stop.send(());
    server.await??;
    Ok(())
}

async fn create_latency() -> anyhow::Result<()> {
    let scenario = Scenario::parse(LATENCY_SCENARIO, "<latency>")?;
    let sim = Sim::new(
        scenario,
        SimOptions {
            clock: ClockMode::System,
            ..SimOptions::default()
        },
    );
    let (url, stop, server) = serve(sim).await;
    let mut registrar = RegistrarClient::connect(url).await?;
    let session = registrar
        .login(api::LoginRequest {
            registrar_id: "bench".into(),
            password: "bench".into(),
        })
        .await?
        .into_inner()
        .session_id;
    let create = |i: usize| api::CreateRequest {
        session_id: session.clone(),
        domain: format!("bench-latency-{i}.com"),
        period_years: 1,
        ..Default::default()
    };
    for i in 0..200 {
        registrar.create(create(i)).await?;
    }
    const N: usize = 5000;
    let mut samples = Vec::with_capacity(N);
    let total = Instant::now();
    for i in 200..200 + N {
        let sent = Instant::now();
        let answer = registrar.create(create(i)).await?.into_inner();
        samples.push(sent.elapsed());
        assert_eq!(
            answer.result.map(|r| r.code),
            Some(api::ResultCode::Ok as i32)
        );
    }
    let elapsed = total.elapsed();
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("create latency (system clock, loopback gRPC, one client, sequential, {N} creates)");
    println!(
        "  p50 {:.0} us   p99 {:.0} us   max {:.0} us   ({:.0} creates/s)",
        us(pct(0.50)),
        us(pct(0.99)),
        us(pct(1.0)),
        N as f64 / elapsed.as_secs_f64()
    );
    drop(registrar);
    let _ = stop.send(());
    server.await??;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        com_day().await?;
        create_latency().await
    })
}
