//! The real `backorder-svc` binary as a child process, for crash tests: start it on a
//! database with fixed flags, kill it with SIGKILL, start it again on the same database with
//! the same flags, as an operator's supervisor would.
//!
//! - The binary is the workspace's `target/<profile>/backorder-svc`, found next to the test
//!   executable (`target/<profile>/deps/..`); [`service_binary`] builds it with `cargo build
//!   -p backorder-svc --bin backorder-svc` when it is missing or older than the service
//!   library the test was linked with (`KILL_NINE_BIN` names another binary).
//! - Every run listens on the same loopback port, so clients keep one address and simply
//!   retry while the service is down (connection refused).
//! - Every run logs (stdout and stderr: the operator key line and the tracing output,
//!   `NO_COLOR`) to its own file `run-NNN.log` in a folder the caller chooses;
//!   [`ChildService::tail`] shows the end of it when something fails.
//! - The first start on a new database prints the operator API key once:
//!   [`ChildService::operator_key`] reads it from the first run's log.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tonic::transport::Channel;

/// The line `backorder-svc serve` prints a new database's operator key on.
pub const OPERATOR_KEY_LINE: &str = "Operator API key (shown once, keep it safe): ";

#[derive(Debug, Clone)]
pub struct ChildOptions {
    /// `--database-url`: `sqlite://PATH` or `postgres://...` (the same for every run).
    pub database_url: String,
    /// `--registry-url` (the simulator); the service runs with `--clock registry`.
    pub registry_url: String,
    /// `--catcher-registrar` values.
    pub catcher_registrars: Vec<String>,
    /// More `serve` flags, verbatim.
    pub extra_args: Vec<String>,
    /// Where each run's log goes.
    pub log_dir: PathBuf,
    /// `RUST_LOG` of the child.
    pub rust_log: String,
}

/// One start of the binary.
#[derive(Debug, Clone)]
pub struct Run {
    pub number: u32,
    pub log: PathBuf,
    pub started: Instant,
    /// How it ended: `None` while running (or killed and not reaped yet).
    pub exit: Option<ExitStatus>,
    pub killed: bool,
}

#[derive(Debug)]
pub struct ChildService {
    pub binary: PathBuf,
    pub options: ChildOptions,
    pub listen: SocketAddr,
    /// `http://127.0.0.1:PORT`, the same for every run.
    pub url: String,
    pub runs: Vec<Run>,
    child: Option<Child>,
}

impl ChildService {
    /// Picks a free loopback port for every run of the service; starts nothing yet.
    pub fn new(binary: PathBuf, options: ChildOptions) -> anyhow::Result<ChildService> {
        std::fs::create_dir_all(&options.log_dir)?;
        let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        Ok(ChildService {
            binary,
            options,
            listen,
            url: format!("http://{listen}"),
            runs: Vec::new(),
            child: None,
        })
    }

    /// A channel to the service that connects lazily and reconnects after a restart.
    pub fn channel(&self) -> anyhow::Result<Channel> {
        Ok(Channel::from_shared(self.url.clone())?
            .connect_timeout(Duration::from_secs(2))
            .connect_lazy())
    }

    /// The command line of every run (without the binary).
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--database-url".into(),
            self.options.database_url.clone(),
            "serve".into(),
            "--listen".into(),
            self.listen.to_string(),
            "--clock".into(),
            "registry".into(),
            "--registry-url".into(),
            self.options.registry_url.clone(),
            // Tests run side by side: no fixed ports, no second database.
            "--http-listen".into(),
            "127.0.0.1:0".into(),
            "--test-database-url".into(),
            "off".into(),
        ];
        for registrar in &self.options.catcher_registrars {
            args.push("--catcher-registrar".into());
            args.push(registrar.clone());
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    /// Starts the next run (the previous one must have ended). Returns at once: see
    /// [`ChildService::wait_until`] for readiness.
    pub fn start(&mut self) -> anyhow::Result<&Run> {
        anyhow::ensure!(self.child.is_none(), "the service is still running");
        let number = u32::try_from(self.runs.len()).unwrap_or(u32::MAX) + 1;
        let log = self.options.log_dir.join(format!("run-{number:03}.log"));
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        let mut command = Command::new(&self.binary);
        command
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("RUST_LOG", &self.options.rust_log)
            .env("NO_COLOR", "1");
        // Only the flags above configure the child: nothing from the test's environment
        // (DATABASE_URL names the PostgreSQL server of the tests, not this database).
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().to_string();
            if name == "DATABASE_URL" || name.starts_with("BACKORDER_") {
                command.env_remove(&name);
            }
        }
        let child = command
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        self.runs.push(Run {
            number,
            log,
            started: Instant::now(),
            exit: None,
            killed: false,
        });
        Ok(self.runs.last().expect("just pushed"))
    }

    /// The current run, if the service was started.
    pub fn current(&self) -> Option<&Run> {
        self.runs.last()
    }

    /// Whether the current run is alive; an exit is recorded (and is an error for the caller
    /// to report with [`ChildService::tail`]).
    pub fn is_running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(status)) => {
                if let Some(run) = self.runs.last_mut() {
                    run.exit = Some(status);
                }
                self.child = None;
                false
            }
            Err(_) => false,
        }
    }

    /// SIGKILL (`Child::kill` on unix), then reaps the process.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            anyhow::bail!("kill: the service is not running");
        };
        let killed = child.kill();
        let status = child.wait()?;
        if let Some(run) = self.runs.last_mut() {
            run.exit = Some(status);
            run.killed = killed.is_ok();
        }
        killed.map_err(|e| anyhow::anyhow!("SIGKILL: {e}"))
    }

    /// Polls `ready` (every 20 ms) until it answers true, the run exits, or `timeout`.
    pub async fn wait_until<F, Fut>(
        &mut self,
        timeout: Duration,
        mut ready: F,
    ) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                anyhow::bail!(
                    "backorder-svc run {} exited ({:?}) before it was ready; its log ends:\n{}",
                    self.runs.len(),
                    self.current().and_then(|r| r.exit),
                    self.tail(40)
                );
            }
            if ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "backorder-svc run {} was not ready within {timeout:?}; its log ends:\n{}",
                    self.runs.len(),
                    self.tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The operator key the first run printed (a new database's bootstrap).
    pub async fn operator_key(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let first = self
            .runs
            .first()
            .ok_or_else(|| anyhow::anyhow!("the service was never started"))?
            .log
            .clone();
        let mut key = None;
        self.wait_until(timeout, || {
            key = std::fs::read_to_string(&first).ok().and_then(|log| {
                log.lines()
                    .find_map(|line| line.split_once(OPERATOR_KEY_LINE))
                    .map(|(_, key)| key.trim().to_string())
            });
            std::future::ready(key.is_some())
        })
        .await
        .map_err(|e| e.context("the first start prints the operator key"))?;
        key.ok_or_else(|| anyhow::anyhow!("no operator key"))
    }

    /// The last `lines` lines of the current run's log.
    pub fn tail(&self, lines: usize) -> String {
        self.current()
            .map_or_else(|| "(never started)".into(), |run| tail(&run.log, lines))
    }
}

impl Drop for ChildService {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The last `lines` lines of a file.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            format!("  [{}]\n  {}", path.display(), all[from..].join("\n  "))
        }
        Err(e) => format!("  [{}: {e}]", path.display()),
    }
}

/// The `backorder-svc` binary to run: `KILL_NINE_BIN` if set; else the workspace's own,
/// next to the test executable, built (`cargo build -p backorder-svc --bin backorder-svc`)
/// when it is missing or older than the newest `libbackorder_svc` the build produced.
pub fn service_binary() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("KILL_NINE_BIN") {
        let path = PathBuf::from(path);
        anyhow::ensure!(
            path.is_file(),
            "KILL_NINE_BIN={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> -> target/<profile>
    let deps = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no folder", exe.display()))?;
    let profile_dir = if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    let binary = profile_dir.join(format!("backorder-svc{}", std::env::consts::EXE_SUFFIX));
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let newest_lib = std::fs::read_dir(profile_dir.join("deps"))
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libbackorder_svc-") && name.ends_with(".rlib")
        })
        .filter_map(|entry| modified(&entry.path()))
        .max();
    let fresh = match (modified(&binary), newest_lib) {
        (Some(bin), Some(lib)) => bin >= lib,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !fresh {
        build_service(profile_dir)?;
    }
    anyhow::ensure!(
        binary.is_file(),
        "{} is missing after the build",
        binary.display()
    );
    Ok(binary)
}

/// `cargo build -p backorder-svc --bin backorder-svc` in the workspace, in the profile the
/// test was built with.
fn build_service(profile_dir: &Path) -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow::anyhow!("integration-tests has no parent folder"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "-p", "backorder-svc", "--bin", "backorder-svc"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        command.arg("--release");
    }
    if let Some(target) = profile_dir.parent() {
        command.env("CARGO_TARGET_DIR", target);
    }
    let started = SystemTime::now();
    eprintln!("kill -9: building backorder-svc ({command:?})");
    let status = command.status()?;
    anyhow::ensure!(
        status.success(),
        "cargo build of backorder-svc failed: {status}"
    );
    eprintln!(
        "kill -9: built backorder-svc in {:.0?}",
        started.elapsed().unwrap_or_default()
    );
    Ok(())
}
