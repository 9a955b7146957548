//! The command API against gRPC over the same use case, in one run, on 127.0.0.1:
//!
//! ```text
//! cargo bench -p backorder-svc --bench command_api                       # SQLite
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p backorder-svc --bench command_api
//! ```
//!
//! `CMD_BENCH_CALLS` orders (default 1000) placed from `CMD_BENCH_TASKS` concurrent clients
//! (default 4) with `AddDomainApplication` over HTTP (one keep-alive connection per client,
//! in a session, as the SDK's `login()` does), then the same number with gRPC
//! `CreateBackorder`; then as many reads, `StatusDomainApplication` against `GetBackorder`.
//! Prints each rate and the ratio command API / gRPC (the gRPC figure is the baseline: the
//! same use case without the text protocol). A login with a password on every request runs
//! argon2 each time; its rate is printed too, over `CMD_BENCH_PASSWORD_CALLS` (default 50).

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::testkit::{self, with_key};
use pb::account_service_client::AccountServiceClient;
use pb::backorder_service_client::BackorderServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive HTTP/1.1 connection posting forms to `/api/call.cgi`.
struct Http {
    stream: BufReader<TcpStream>,
}

impl Http {
    async fn connect(address: SocketAddr) -> Http {
        Http {
            stream: BufReader::new(TcpStream::connect(address).await.unwrap()),
        }
    }

    async fn post(&mut self, body: &str) -> String {
        let request = format!(
            "POST /api/call.cgi HTTP/1.1\r\nHost: bench\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.unwrap();
        String::from_utf8(body).unwrap()
    }
}

fn property(reply: &str, name: &str) -> Option<String> {
    let prefix = format!("property[{name}][0] = ");
    reply
        .lines()
        .find_map(|line| line.strip_prefix(&prefix).map(str::to_string))
}

fn report(what: &str, calls: usize, started: Instant) -> f64 {
    let rate = calls as f64 / started.elapsed().as_secs_f64();
    println!("  {what:<48} {rate:>9.1} calls/s");
    rate
}

async fn run(backend: &str, live: &str, test: &str) {
    let calls = env_number("CMD_BENCH_CALLS", 1000);
    let tasks = env_number("CMD_BENCH_TASKS", 4).max(1);
    let password_calls = env_number("CMD_BENCH_PASSWORD_CALLS", 50);
    let clock: SharedClock = Arc::new(SystemClock);
    let envs = testkit::serve_environments(live, test, clock).await;
    let server = &envs.live;
    let account = AccountServiceClient::new(server.channel.clone())
        .create_account(with_key(
            &server.operator_key,
            pb::CreateAccountRequest {
                display_name: "bench".into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .id;
    OperatorServiceClient::new(server.channel.clone())
        .set_account_login(with_key(
            &server.operator_key,
            pb::SetAccountLoginRequest {
                account_id: account.clone(),
                login: "bench".into(),
                password: "bench-password".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let key = AccountServiceClient::new(server.channel.clone())
        .create_api_key(with_key(
            &server.operator_key,
            pb::CreateApiKeyRequest {
                role: pb::ApiKeyRole::Account as i32,
                account_id: account.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let mut http = Http::connect(envs.http).await;
    let session = property(
        &http
            .post("s_login=bench&s_pw=bench-password&command=StartSession&timeout=3600")
            .await,
        "SESSION",
    )
    .expect("a session");
    println!("{backend}: {calls} calls from {tasks} clients");

    let per_task = calls / tasks;
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (session, address) = (session.clone(), envs.http);
        handles.push(tokio::spawn(async move {
            let mut http = Http::connect(address).await;
            let mut ids = Vec::new();
            for i in 0..per_task {
                let reply = http
                    .post(&format!(
                        "s_session={session}&command=AddDomainApplication&class=BACKORDER\
                         &domain=cmd-{task}-{i}.com"
                    ))
                    .await;
                ids.push(property(&reply, "APPLICATION").unwrap_or_else(|| panic!("{reply}")));
            }
            ids
        }));
    }
    let mut cmd_ids = Vec::new();
    for handle in handles {
        cmd_ids.extend(handle.await.unwrap());
    }
    let add_cmd = report("AddDomainApplication (command API)", cmd_ids.len(), started);

    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let (key, channel) = (key.clone(), server.channel.clone());
        handles.push(tokio::spawn(async move {
            let mut client = BackorderServiceClient::new(channel);
            let mut ids = Vec::new();
            for i in 0..per_task {
                let placed = client
                    .create_backorder(with_key(
                        &key,
                        pb::CreateBackorderRequest {
                            domain: format!("grpc-{task}-{i}.com"),
                            class: pb::BackorderClass::Backorder as i32,
                            ..Default::default()
                        },
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                ids.push(placed.backorder.unwrap().id);
            }
            ids
        }));
    }
    let mut grpc_ids = Vec::new();
    for handle in handles {
        grpc_ids.extend(handle.await.unwrap());
    }
    let add_grpc = report("CreateBackorder (gRPC, baseline)", grpc_ids.len(), started);

    let started = Instant::now();
    let mut handles = Vec::new();
    for ids in cmd_ids.chunks(per_task.max(1)) {
        let (session, address, ids) = (session.clone(), envs.http, ids.to_vec());
        handles.push(tokio::spawn(async move {
            let mut http = Http::connect(address).await;
            for id in ids {
                let reply = http
                    .post(&format!(
                        "s_session={session}&command=StatusDomainApplication&application={id}"
                    ))
                    .await;
                assert!(reply.contains("code = 200"), "{reply}");
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let status_cmd = report(
        "StatusDomainApplication (command API)",
        cmd_ids.len(),
        started,
    );

    let started = Instant::now();
    let mut handles = Vec::new();
    for ids in grpc_ids.chunks(per_task.max(1)) {
        let (key, channel, ids) = (key.clone(), server.channel.clone(), ids.to_vec());
        handles.push(tokio::spawn(async move {
            let mut client = BackorderServiceClient::new(channel);
            for id in ids {
                client
                    .get_backorder(with_key(&key, pb::GetBackorderRequest { backorder_id: id }))
                    .await
                    .unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let status_grpc = report("GetBackorder (gRPC, baseline)", grpc_ids.len(), started);

    let started = Instant::now();
    for _ in 0..password_calls {
        let reply = http
            .post("s_login=bench&s_pw=bench-password&command=CheckAuthentication")
            .await;
        assert!(reply.contains("code = 200"), "{reply}");
    }
    report(
        "CheckAuthentication with a password (argon2)",
        password_calls,
        started,
    );
    println!(
        "  ratio command API / gRPC: create {:.2}, status {:.2}",
        add_cmd / add_grpc,
        status_cmd / status_grpc
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let (live, test) = (testkit::sqlite(), testkit::sqlite());
    run("SQLite", &live.url, &test.url).await;
    if let (Some(live), Some(test)) = (testkit::postgres().await, testkit::postgres().await) {
        run("PostgreSQL", &live.url, &test.url).await;
    }
}
