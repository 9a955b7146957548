//! Test support: a fresh database per test. SQLite always; PostgreSQL from, in order,
//! `DATABASE_URL`, a throwaway cluster from local PostgreSQL binaries, or testcontainers when
//! Docker runs. Without any of them the PostgreSQL tests say loudly that they were skipped,
//! and `REQUIRE_POSTGRES=1` (set in CI) turns that into a failure.

use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::OnceCell;

/// A database for one test; keeps its temporary folder alive.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    TestDb {
        url,
        _dir: Some(dir),
    }
}

/// A new empty PostgreSQL database, or None (after a loud message) when no server can be
/// had and `REQUIRE_POSTGRES` is not set.
pub async fn postgres() -> Option<TestDb> {
    let server = SERVER.get_or_init(find_server).await;
    let Some(admin_url) = server else {
        let required = std::env::var("REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true");
        assert!(
            !required,
            "REQUIRE_POSTGRES is set but no PostgreSQL could be found: set DATABASE_URL, install \
             PostgreSQL binaries, or run Docker"
        );
        eprintln!(
            "\n*** SKIPPED: PostgreSQL half of this test (no DATABASE_URL, no local PostgreSQL \
             binaries, no Docker). Set REQUIRE_POSTGRES=1 to make this a failure. ***\n"
        );
        return None;
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "bo_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    );
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to the PostgreSQL test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    Some(TestDb {
        url: with_database(admin_url, &name),
        _dir: None,
    })
}

/// A backorder service on 127.0.0.1 port 0 over a database, on a given clock, bootstrapped
/// (catalog, operator key). It stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub channel: tonic::transport::Channel,
    pub operator_key: String,
    pub store: crate::store::SharedStore,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn serve(
    url: &str,
    clock: crate::clock::SharedClock,
    registry_url: Option<String>,
) -> TestServer {
    serve_with_use_cases(url, clock, registry_url).await.0
}

async fn serve_with_use_cases(
    url: &str,
    clock: crate::clock::SharedClock,
    registry_url: Option<String>,
) -> (TestServer, crate::usecases::UseCases) {
    let store = crate::store::connect(url)
        .await
        .expect("open the test database");
    let first = crate::bootstrap::first_start(&store, &clock)
        .await
        .expect("first start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let address = listener.local_addr().expect("local address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let uc =
        crate::usecases::UseCases::new(store.clone(), clock, None).with_registry_url(registry_url);
    tokio::spawn(crate::server::run_with(
        listener,
        uc.clone(),
        crate::server::Options::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .expect("address")
        .connect()
        .await
        .expect("connect to the test server");
    let server = TestServer {
        channel,
        operator_key: first
            .operator_secret
            .expect("a new database prints its operator key"),
        store,
        _shutdown: stop,
    };
    (server, uc)
}

/// Both environments, each with its gRPC server, and the command API over both on
/// 127.0.0.1 port 0. Everything stops when dropped.
#[derive(Debug)]
pub struct Environments {
    pub live: TestServer,
    pub test: TestServer,
    /// The command API's address (`/api/call.cgi`, `/ote/api/call.cgi`).
    pub http: std::net::SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn serve_environments(
    live_url: &str,
    test_url: &str,
    clock: crate::clock::SharedClock,
) -> Environments {
    let (live, live_uc) = serve_with_use_cases(live_url, clock.clone(), None).await;
    let (test, test_uc) = serve_with_use_cases(test_url, clock, None).await;
    let test_uc = test_uc.with_environment(crate::config::EnvironmentKind::Test);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let http = listener.local_addr().expect("local address");
    let api = crate::cmdapi::CommandApi::new(live_uc, Some(test_uc));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, crate::cmdapi::router(std::sync::Arc::new(api)))
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Environments {
        live,
        test,
        http,
        _shutdown: stop,
    }
}

/// A request carrying `authorization: Bearer <key>`.
pub fn with_key<T>(key: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {key}").parse().expect("an ASCII key");
    request.metadata_mut().insert("authorization", value);
    request
}

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();

async fn find_server() -> Option<String> {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && (url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return Some(url);
    }
    if let Some(url) = tokio::task::spawn_blocking(local_cluster)
        .await
        .ok()
        .flatten()
    {
        return Some(url);
    }
    container().await
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

fn postgres_bin_dir() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|dir| dir.join("initdb").is_file()));
    in_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// Starts a throwaway cluster from local binaries on a free port. `initdb` refuses to run as
/// root, so as root it runs as the `postgres` user. A watcher stops the cluster when the test
/// process exits.
fn local_cluster() -> Option<String> {
    let bin = postgres_bin_dir()?;
    let dir = tempfile::Builder::new()
        .prefix("bo-pg-")
        .tempdir()
        .ok()?
        .keep();
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let run = |program: &Path, args: &[&str]| -> bool {
        let mut command = if is_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if is_root {
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .ok()?;
    }
    let data = dir.join("data");
    let data_text = data.to_str()?;
    if !run(
        &bin.join("initdb"),
        &["-D", data_text, "-U", "postgres", "-A", "trust"],
    ) {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
        dir.display()
    );
    let log = dir.join("log");
    if !run(
        &bin.join("pg_ctl"),
        &[
            "-D",
            data_text,
            "-o",
            &options,
            "-l",
            log.to_str()?,
            "-w",
            "start",
        ],
    ) {
        return None;
    }
    let stop = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; {} {} -D {data_text} -m immediate stop; rm -rf {}",
        std::process::id(),
        if is_root {
            "runuser -u postgres --"
        } else {
            ""
        },
        bin.join("pg_ctl").display(),
        dir.display()
    );
    Command::new("sh").args(["-c", &stop]).spawn().ok()?;
    Some(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

async fn container() -> Option<String> {
    use testcontainers::runners::AsyncRunner;
    if !Path::new("/var/run/docker.sock").exists() && std::env::var_os("DOCKER_HOST").is_none() {
        return None;
    }
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        testcontainers_modules::postgres::Postgres::default().start(),
    )
    .await
    .ok()?
    .ok()?;
    let port = started.get_host_port_ipv4(5432).await.ok()?;
    // The container lives as long as the test process; testcontainers' reaper removes it.
    Box::leak(Box::new(started));
    Some(format!(
        "postgres://postgres:postgres@127.0.0.1:{port}/postgres"
    ))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres?sslmode=disable", "x"),
            "postgres://u@h:5/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
