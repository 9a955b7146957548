//! The command API (`/api/call.cgi`) as resellers' integrations use it: HEXONET's official
//! Python SDK (`hexonet-apiconnector` 4.0.2, tests/sdk/hexonet_sdk_suite.py) and the seeds'
//! own curl lines, against the service over TCP with its live and test environments, on
//! SQLite and on PostgreSQL.
//!
//! The SDK runs from a virtual environment: `HEXONET_SDK_PYTHON` names its python (`.ci/run`
//! makes one); otherwise the test makes `target/sdk-venv` itself (`python3 -m venv`, then
//! `pip install --no-deps hexonet-apiconnector==4.0.2`). Without Python or PyPI the test
//! skips loudly, and fails under `CI` or `REQUIRE_SDK=1`.

use backorder_proto::backorder::v1 as pb;
use backorder_svc::clock::{ManualClock, SharedClock};
use backorder_svc::testkit::{self, Environments, with_key};
use pb::account_service_client::AccountServiceClient;
use pb::drop_list_service_client::DropListServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const SDK: &str = "hexonet-apiconnector==4.0.2";
/// On the live drop list: the first must be a .com (the suite checks `COM_BACKORDER`).
const DROP: [&str; 4] = [
    "alphabetic-drop.com",
    "bravo-drop.net",
    "charlie-drop.com",
    "delta-drop.org",
];
const IDN: &str = "bücher-drop.com";

fn required() -> bool {
    std::env::var_os("CI").is_some_and(|v| v != "false")
        || std::env::var_os("REQUIRE_SDK").is_some()
}

/// The python of a virtual environment with the SDK, made once per target directory.
fn sdk_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("HEXONET_SDK_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/sdk-venv");
    let python = venv.join("bin/python");
    let has_sdk = |python: &PathBuf| {
        Command::new(python)
            .args(["-c", "import hexonet.apiconnector.apiclient"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_sdk(&python) {
        return Some(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "--no-deps", SDK])
            .status()
            .is_ok_and(|s| s.success());
    (made && has_sdk(&python)).then_some(python)
}

async fn operator_setup(channel: &Channel, operator: &str, who: &str, deposit: &str) -> String {
    let account = AccountServiceClient::new(channel.clone())
        .create_account(with_key(
            operator,
            pb::CreateAccountRequest {
                display_name: who.into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    if deposit != "0" {
        AccountServiceClient::new(channel.clone())
            .create_deposit(with_key(
                operator,
                pb::CreateDepositRequest {
                    account_id: account.id.clone(),
                    amount: Some(pb::Money {
                        currency_code: "USD".into(),
                        amount: deposit.into(),
                    }),
                    request_id: format!("deposit-{who}"),
                    memo: String::new(),
                },
            ))
            .await
            .unwrap();
    }
    account.id
}

/// `backorder-svc test-account open` for the SDK suite's test-environment reseller.
async fn open_test_account(live_url: &str, test_url: &str) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backorder-svc"));
    command
        .args(["--database-url", live_url, "test-account", "open"])
        .args([
            "--test-database-url",
            test_url,
            "--name",
            "Trial Reseller Ltd",
        ])
        .args(["--login", "Test.User", "--play-money", "500.00"])
        .env("BACKORDER_LOGIN_PASSWORD", "test.passw0rd")
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("run backorder-svc test-account open")
}

async fn set_login(
    channel: &Channel,
    operator: &str,
    account: &str,
    login: &str,
    role: &str,
    password: &str,
) {
    OperatorServiceClient::new(channel.clone())
        .set_account_login(with_key(
            operator,
            pb::SetAccountLoginRequest {
                account_id: account.into(),
                login: login.into(),
                role: role.into(),
                password: password.into(),
                read_only: !role.is_empty(),
            },
        ))
        .await
        .unwrap();
}

async fn drop_list(channel: &Channel, operator: &str) {
    let content: String = DROP
        .iter()
        .map(|d| format!("{d};2026-12-20T18:00:00Z\n"))
        .collect();
    let mut progress = DropListServiceClient::new(channel.clone())
        .import_file(with_key(
            operator,
            pb::ImportFileRequest {
                content: content.into_bytes(),
                format: pb::ImportFileFormat::Csv as i32,
                file_name: "drop.csv".into(),
                full_list: false,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    while let Some(message) = progress.next().await {
        message.unwrap();
    }
}

async fn run_suite(live_url: &str, test_url: &str) {
    let Some(python) = sdk_python() else {
        assert!(
            !required(),
            "the HEXONET SDK could not be installed ({SDK}); CI needs it"
        );
        eprintln!("SKIPPED: no python3 venv with {SDK} (set HEXONET_SDK_PYTHON)");
        return;
    };
    let clock: SharedClock = Arc::new(ManualClock::new("2026-12-01T00:00:00Z".parse().unwrap()));
    let envs: Environments = testkit::serve_environments(live_url, test_url, clock).await;
    let live = &envs.live;
    let funded = operator_setup(&live.channel, &live.operator_key, "funded", "1000.00").await;
    set_login(
        &live.channel,
        &live.operator_key,
        &funded,
        "reseller",
        "",
        "live-password-1",
    )
    .await;
    set_login(
        &live.channel,
        &live.operator_key,
        &funded,
        "reseller",
        "viewer",
        "viewer-password",
    )
    .await;
    let poor = operator_setup(&live.channel, &live.operator_key, "poor", "0").await;
    set_login(
        &live.channel,
        &live.operator_key,
        &poor,
        "poor.reseller",
        "",
        "poor-password",
    )
    .await;
    // The operator opens the reseller's test account in one command (the real binary).
    let opened = open_test_account(live_url, test_url).await;
    assert!(opened.status.success(), "{opened:?}");
    let printed = String::from_utf8_lossy(&opened.stdout);
    assert!(printed.contains("login:       test.user"), "{printed}");
    assert!(
        printed.contains("play money:  500.00 USD available"),
        "{printed}"
    );
    assert!(
        !printed.contains("test.passw0rd"),
        "the password is never printed: {printed}"
    );
    // Once complete, a second run changes nothing and says why.
    let again = open_test_account(live_url, test_url).await;
    let error = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "{again:?}");
    assert!(
        error.contains("test.user already belongs to test account"),
        "{error}"
    );
    drop_list(&live.channel, &live.operator_key).await;

    let base = format!("http://{}", envs.http);
    let suite = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/hexonet_sdk_suite.py");
    let output = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            Command::new(python)
                .arg(suite)
                .env("BO_LIVE_URL", format!("{base}/api/call.cgi"))
                .env("BO_OTE_URL", format!("{base}/ote/api/call.cgi"))
                .env("BO_USER", "reseller")
                .env("BO_PASS", "live-password-1")
                .env("BO_RO_ROLE", "viewer")
                .env("BO_RO_PASS", "viewer-password")
                .env("BO_POOR_USER", "poor.reseller")
                .env("BO_POOR_PASS", "poor-password")
                .env("BO_OTE_USER", "test.user")
                .env("BO_OTE_PASS", "test.passw0rd")
                .env("BO_DROP_DOMAINS", DROP.join(","))
                .env("BO_IDN_DOMAIN", IDN)
                .output()
                .expect("run the SDK suite")
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the SDK suite failed:\n{stdout}");

    // The quick-start guide's curl lines, verbatim apart from host and credentials.
    let curl = |request: &str, query: &str| {
        let output = Command::new("curl")
            .args(["-s", "-d", request])
            .arg(format!("{base}/api/call.cgi?{query}"))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let live_line = curl(
        "command=AddDomainApplication&class=BACKORDER&domain=john.com",
        "s_entity=54cd&s_login=reseller&s_pw=live-password-1",
    );
    assert!(live_line.contains("code = 200"), "{live_line}");
    assert!(
        live_line.contains("property[DOMAIN][0] = john.com"),
        "{live_line}"
    );
    // A retry with the same REQUESTID answers the first placement: one order, one hold.
    let first = curl(
        "command=AddDomainApplication&class=BACKORDER&domain=retried.com&REQUESTID=r-1",
        "s_entity=54cd&s_login=reseller&s_pw=live-password-1",
    );
    let again = curl(
        "command=AddDomainApplication&class=BACKORDER&domain=retried.com&REQUESTID=r-1",
        "s_entity=54cd&s_login=reseller&s_pw=live-password-1",
    );
    let application = |reply: &str| {
        reply
            .lines()
            .find(|l| l.starts_with("property[APPLICATION][0]"))
            .map(str::to_string)
    };
    assert!(first.contains("code = 200"), "{first}");
    assert_eq!(application(&first), application(&again), "{first}\n{again}");
    let listed = curl(
        "command=QueryDomainApplicationList&domain=retried.com",
        "s_entity=54cd&s_login=reseller&s_pw=live-password-1",
    );
    assert!(listed.contains("property[TOTAL][0] = 1"), "{listed}");
    let test_line = curl(
        "command=AddDomainApplication&class=BACKORDER&domain=doe.net",
        "s_entity=1234&s_login=test.user&s_pw=test.passw0rd",
    );
    assert!(test_line.contains("code = 200"), "{test_line}");
    let in_live = curl(
        "command=QueryDomainApplicationList&domain=doe.net",
        "s_entity=54cd&s_login=reseller&s_pw=live-password-1",
    );
    assert!(in_live.contains("property[TOTAL][0] = 0"), "{in_live}");
    let garbage = curl(
        "s_command=%ZZ%00not-a-command",
        "s_entity=54cd&s_login=reseller&s_pw=live-password-1",
    );
    assert!(garbage.starts_with("[RESPONSE]"), "{garbage}");
    assert!(!garbage.contains("code = 200"), "{garbage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_suite_on_sqlite() {
    let (live, test) = (testkit::sqlite(), testkit::sqlite());
    run_suite(&live.url, &test.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_suite_on_postgres() {
    let (Some(live), Some(test)) = (testkit::postgres().await, testkit::postgres().await) else {
        return;
    };
    run_suite(&live.url, &test.url).await;
}
