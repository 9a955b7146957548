//! Command API logins and sessions (docs/logins.md) on both backends: hashing, refusals, role
//! logins, the slowdown after repeated failures, sessions with explicit times, the operator's
//! management (store, CLI, gRPC).

use backorder_proto::backorder::v1 as pb;
use backorder_svc::auth::{
    self, AuthError, LoginError, authenticate_login, delete_login, end_session, list_logins,
    purge_expired_sessions, session_caller, set_login, start_session,
};
use backorder_svc::clock::{SharedClock, SystemClock};
use backorder_svc::config::{LoginCommand, LoginSetArgs, LoginTarget};
use backorder_svc::domain::account::PriceTier;
use backorder_svc::domain::account::{Access, AccountId, AccountState, Caller, Credential};
use backorder_svc::domain::money::Currency;
use backorder_svc::store::{AccountChanges, AccountCreation, NewAccount, SharedStore};
use backorder_svc::testkit::with_key;
use chrono::{DateTime, Duration, Utc};
use pb::account_service_client::AccountServiceClient;
use pb::operator_service_client::OperatorServiceClient;
use std::sync::Arc;
use tonic::Code;

const PASSWORD: &str = "correct horse battery";

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn at(seconds: f64) -> DateTime<Utc> {
    t0() + Duration::milliseconds((seconds * 1000.0) as i64)
}

async fn open(store: &SharedStore, name: &str) -> AccountId {
    let new = NewAccount {
        display_name: name.into(),
        currency: Currency::parse("USD").unwrap(),
        price_tier: PriceTier::default_tier(),
    };
    match store.create_account(new, None, "test", t0()).await.unwrap() {
        AccountCreation::Created(account) => account.id,
        other => panic!("{other:?}"),
    }
}

async fn set(
    store: &SharedStore,
    account: AccountId,
    login: &str,
    role: Option<&str>,
    access: Access,
    password: &str,
) -> Result<auth::LoginSet, LoginError> {
    set_login(store, account, login, role, access, password, "test", t0()).await
}

fn login_of(caller: &Caller) -> (&str, Access) {
    match caller {
        Caller::Account {
            credential: Credential::Login(login),
            access,
            ..
        } => (login, *access),
        other => panic!("a login caller expected, got {other:?}"),
    }
}

fn refused<T: std::fmt::Debug>(result: Result<T, AuthError>) {
    assert!(
        matches!(result, Err(AuthError::LoginFailed)),
        "LoginFailed expected, got {result:?}"
    );
}

async fn passwords_are_hashed_and_logins_checked(store: SharedStore) {
    let account = open(&store, "a").await;
    let created = set(&store, account, "John.Doe", None, Access::Full, PASSWORD)
        .await
        .unwrap();
    assert!(created.created);
    assert_eq!(created.login.display_name(), "john.doe");
    let stored = store.find_login("john.doe", None).await.unwrap().unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$v=19$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains(PASSWORD));
    assert_eq!(stored.summary.account_id, account);

    // Logins are case-insensitive; passwords are not.
    let caller = authenticate_login(&store, "JOHN.doe", PASSWORD, at(1.0))
        .await
        .unwrap();
    let Caller::Account { account_id, .. } = &caller else {
        panic!("{caller:?}")
    };
    assert_eq!(*account_id, account);
    assert_eq!(login_of(&caller), ("john.doe", Access::Full));
    assert!(caller.may_write());
    assert_eq!(caller.actor(), "login:john.doe");

    refused(authenticate_login(&store, "john.doe", "Correct horse battery", at(2.0)).await);
    refused(authenticate_login(&store, "nobody", PASSWORD, at(2.0)).await);
    refused(authenticate_login(&store, "john.doe!ro", PASSWORD, at(2.0)).await);
    refused(authenticate_login(&store, "no good!", PASSWORD, at(2.0)).await);
    refused(authenticate_login(&store, "john.doe", &"x".repeat(10_000), at(2.0)).await);

    // Replacing the password: the old one stops working.
    let replaced = set(
        &store,
        account,
        "john.doe",
        None,
        Access::Full,
        "another password",
    )
    .await
    .unwrap();
    assert!(!replaced.created);
    refused(authenticate_login(&store, "john.doe", PASSWORD, at(3.0)).await);
    authenticate_login(&store, "john.doe", "another password", at(3.0))
        .await
        .unwrap();
}

async fn role_logins_may_be_read_only(store: SharedStore) {
    let account = open(&store, "a").await;
    set(&store, account, "john", None, Access::Full, PASSWORD)
        .await
        .unwrap();
    let role = set(
        &store,
        account,
        "john",
        Some("RO"),
        Access::ReadOnly,
        "read only password",
    )
    .await
    .unwrap();
    assert_eq!(role.login.display_name(), "john!ro");
    assert_eq!(role.login.access, Access::ReadOnly);

    let caller = authenticate_login(&store, "John!Ro", "read only password", at(1.0))
        .await
        .unwrap();
    assert_eq!(login_of(&caller), ("john!ro", Access::ReadOnly));
    assert!(!caller.may_write());
    assert_eq!(caller.actor(), "login:john!ro");
    // Each login has its own password.
    refused(authenticate_login(&store, "john!ro", PASSWORD, at(1.0)).await);
    refused(authenticate_login(&store, "john", "read only password", at(1.0)).await);

    let logins = list_logins(&store, account).await.unwrap();
    let names: Vec<String> = logins.iter().map(|l| l.display_name()).collect();
    assert_eq!(names, ["john", "john!ro"]);

    // A name and its roles stay with one account.
    let other = open(&store, "b").await;
    match set(&store, other, "john", Some("x"), Access::Full, PASSWORD).await {
        Err(LoginError::Taken { owner, .. }) => assert_eq!(owner, account),
        result => panic!("{result:?}"),
    }

    delete_login(&store, account, "john", Some("ro"), "test", t0())
        .await
        .unwrap();
    refused(authenticate_login(&store, "john!ro", "read only password", at(2.0)).await);
    assert!(matches!(
        delete_login(&store, account, "john", Some("ro"), "test", t0()).await,
        Err(LoginError::NotFound { .. })
    ));
    // Another account cannot delete it.
    assert!(matches!(
        delete_login(&store, other, "john", None, "test", t0()).await,
        Err(LoginError::NotFound { .. })
    ));
    assert_eq!(list_logins(&store, account).await.unwrap().len(), 1);
}

async fn repeated_failures_slow_a_login_down(store: SharedStore) {
    let account = open(&store, "a").await;
    set(&store, account, "john", None, Access::Full, PASSWORD)
        .await
        .unwrap();
    let failures = |store: SharedStore| async move {
        store
            .find_login("john", None)
            .await
            .unwrap()
            .unwrap()
            .summary
    };
    for second in [0.0, 0.1, 0.2] {
        refused(authenticate_login(&store, "john", "wrong password", at(second)).await);
    }
    let login = failures(store.clone()).await;
    assert_eq!(login.failures, 3);
    assert_eq!(login.blocked_until, Some(at(1.2)));
    // Blocked: even the right password is refused, and the refusal is no new failure.
    refused(authenticate_login(&store, "john", PASSWORD, at(0.5)).await);
    refused(authenticate_login(&store, "john", "wrong password", at(1.1)).await);
    assert_eq!(failures(store.clone()).await.failures, 3);
    // The block is over: a success clears everything.
    authenticate_login(&store, "john", PASSWORD, at(1.2))
        .await
        .unwrap();
    let login = failures(store.clone()).await;
    assert_eq!((login.failures, login.blocked_until), (0, None));

    // The block doubles per further failure.
    for second in [10.0, 10.1, 10.2] {
        refused(authenticate_login(&store, "john", "wrong password", at(second)).await);
    }
    assert_eq!(failures(store.clone()).await.blocked_until, Some(at(11.2)));
    refused(authenticate_login(&store, "john", "wrong password", at(11.5)).await);
    assert_eq!(failures(store.clone()).await.blocked_until, Some(at(13.5)));
    refused(authenticate_login(&store, "john", PASSWORD, at(13.0)).await);
    authenticate_login(&store, "john", PASSWORD, at(13.5))
        .await
        .unwrap();

    // Another login is not affected by john's failures.
    set(&store, account, "jane", None, Access::Full, PASSWORD)
        .await
        .unwrap();
    for second in [20.0, 20.1, 20.2] {
        refused(authenticate_login(&store, "john", "wrong password", at(second)).await);
    }
    authenticate_login(&store, "jane", PASSWORD, at(20.3))
        .await
        .unwrap();
    // The operator setting a new password lifts the block.
    set(
        &store,
        account,
        "john",
        None,
        Access::Full,
        "brand new password",
    )
    .await
    .unwrap();
    authenticate_login(&store, "john", "brand new password", at(20.4))
        .await
        .unwrap();
}

async fn sessions_start_slide_expire_and_end(store: SharedStore) {
    let account = open(&store, "a").await;
    set(&store, account, "john", None, Access::Full, PASSWORD)
        .await
        .unwrap();
    set(
        &store,
        account,
        "john",
        Some("ro"),
        Access::ReadOnly,
        PASSWORD,
    )
    .await
    .unwrap();
    let caller = authenticate_login(&store, "john!ro", PASSWORD, at(0.0))
        .await
        .unwrap();

    // Default idle timeout 600 s, sliding on every use.
    let secret = start_session(&store, &caller, None, at(0.0)).await.unwrap();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    let session = store
        .find_command_session(&auth::sessions::session_hash(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(session.id_hash, secret, "only the hash is stored");
    assert_eq!(session.expires_at, at(600.0));
    let used = session_caller(&store, &secret, at(599.0)).await.unwrap();
    assert_eq!(used, caller, "the same caller: john!ro, read-only");
    let expires_at = |secret: String| {
        let store = store.clone();
        async move {
            store
                .find_command_session(&auth::sessions::session_hash(&secret))
                .await
                .unwrap()
                .unwrap()
                .expires_at
        }
    };
    // A use promises `now + 600 s`; the write adds a tenth, so uses in the next 60 s write
    // nothing.
    assert_eq!(expires_at(secret.clone()).await, at(1259.0));
    session_caller(&store, &secret, at(650.0)).await.unwrap();
    assert_eq!(expires_at(secret.clone()).await, at(1259.0), "not written");
    session_caller(&store, &secret, at(1100.0)).await.unwrap();
    assert_eq!(expires_at(secret.clone()).await, at(1760.0));
    // Idle from 1100 s: never cut short of 1700 s; expired at 1760 s, and deleted then.
    assert!(matches!(
        session_caller(&store, &secret, at(1760.0)).await,
        Err(AuthError::SessionNotFound)
    ));
    assert!(matches!(
        session_caller(&store, &secret, at(1100.0)).await,
        Err(AuthError::SessionNotFound)
    ));

    // Ended.
    let secret = start_session(&store, &caller, Some(3600), at(0.0))
        .await
        .unwrap();
    session_caller(&store, &secret, at(3000.0)).await.unwrap();
    end_session(&store, &secret).await.unwrap();
    assert!(matches!(
        session_caller(&store, &secret, at(3001.0)).await,
        Err(AuthError::SessionNotFound)
    ));
    assert!(matches!(
        end_session(&store, &secret).await,
        Err(AuthError::SessionNotFound)
    ));
    for bad in ["", "x", &"0".repeat(64), &"g".repeat(64)] {
        assert!(matches!(
            session_caller(&store, bad, at(1.0)).await,
            Err(AuthError::SessionNotFound)
        ));
    }

    // Timeouts are clamped to 60 s .. 1 day.
    let short = start_session(&store, &caller, Some(1), at(0.0))
        .await
        .unwrap();
    session_caller(&store, &short, at(59.0)).await.unwrap();
    // Used at 59 s: alive until 59 + 66 s.
    assert!(matches!(
        session_caller(&store, &short, at(125.0)).await,
        Err(AuthError::SessionNotFound)
    ));

    // Only login callers start sessions.
    assert!(matches!(
        start_session(&store, &Caller::account_key(1, account), None, at(0.0)).await,
        Err(AuthError::NotALogin)
    ));
    assert!(matches!(
        start_session(&store, &Caller::Operator { key_id: 1 }, None, at(0.0)).await,
        Err(AuthError::NotALogin)
    ));

    // The periodic purge deletes what has expired.
    let a = start_session(&store, &caller, Some(60), at(0.0))
        .await
        .unwrap();
    let b = start_session(&store, &caller, Some(600), at(0.0))
        .await
        .unwrap();
    assert_eq!(purge_expired_sessions(&store, at(60.0)).await.unwrap(), 1);
    assert!(matches!(
        session_caller(&store, &a, at(30.0)).await,
        Err(AuthError::SessionNotFound)
    ));
    session_caller(&store, &b, at(61.0)).await.unwrap();
    // Starting a session purges the expired ones too: the table does not grow with them.
    start_session(&store, &caller, Some(60), at(100.0))
        .await
        .unwrap();
    start_session(&store, &caller, Some(60), at(200.0))
        .await
        .unwrap();
    assert_eq!(purge_expired_sessions(&store, at(200.0)).await.unwrap(), 0);

    // A new password ends the login's sessions; deleting the login too.
    set(
        &store,
        account,
        "john",
        Some("ro"),
        Access::ReadOnly,
        "new password!",
    )
    .await
    .unwrap();
    assert!(matches!(
        session_caller(&store, &b, at(62.0)).await,
        Err(AuthError::SessionNotFound)
    ));
    let main = authenticate_login(&store, "john", PASSWORD, at(70.0))
        .await
        .unwrap();
    let c = start_session(&store, &main, None, at(70.0)).await.unwrap();
    assert_eq!(
        login_of(&session_caller(&store, &c, at(71.0)).await.unwrap()),
        ("john", Access::Full)
    );
    delete_login(&store, account, "john", None, "test", t0())
        .await
        .unwrap();
    assert!(matches!(
        session_caller(&store, &c, at(72.0)).await,
        Err(AuthError::SessionNotFound)
    ));
    // The login is gone: no new session for a caller checked before.
    refused(start_session(&store, &main, None, at(73.0)).await);
}

async fn closed_accounts_are_refused(store: SharedStore) {
    let account = open(&store, "a").await;
    set(&store, account, "john", None, Access::Full, PASSWORD)
        .await
        .unwrap();
    let caller = authenticate_login(&store, "john", PASSWORD, at(0.0))
        .await
        .unwrap();
    let secret = start_session(&store, &caller, None, at(0.0)).await.unwrap();
    store
        .update_account(
            account,
            AccountChanges {
                state: Some(AccountState::Closed),
                ..Default::default()
            },
            "test",
            at(1.0),
        )
        .await
        .unwrap();
    refused(authenticate_login(&store, "john", PASSWORD, at(2.0)).await);
    assert!(matches!(
        session_caller(&store, &secret, at(2.0)).await,
        Err(AuthError::SessionNotFound)
    ));
    assert!(matches!(
        set(&store, account, "jane", None, Access::Full, PASSWORD).await,
        Err(LoginError::AccountClosed(_))
    ));
}

async fn bad_input_is_refused_naming_the_field(store: SharedStore) {
    let account = open(&store, "a").await;
    let invalid = |result: Result<auth::LoginSet, LoginError>| match result {
        Err(LoginError::Invalid { field, rule }) => (field, rule),
        other => panic!("Invalid expected, got {other:?}"),
    };
    for (login, role, password, field, rule) in [
        ("jo", None, PASSWORD, "login", "3 to 64 characters"),
        (
            "-john",
            None,
            PASSWORD,
            "login",
            "starting with a letter or digit",
        ),
        ("john doe", None, PASSWORD, "login", "a-z, 0-9"),
        ("john!ro", None, PASSWORD, "login", "a-z, 0-9"),
        ("john", Some(""), PASSWORD, "role", "1 to 64 characters"),
        ("john", Some("r o"), PASSWORD, "role", "a-z, 0-9"),
        ("john", None, "short", "password", "8 to 128 characters"),
        (
            "john",
            None,
            "with\na newline",
            "password",
            "control characters",
        ),
    ] {
        let (f, r) = invalid(set(&store, account, login, role, Access::Full, password).await);
        assert_eq!(f, field, "{login:?} {role:?}");
        assert!(r.contains(rule), "{r}");
    }
    let long = "p".repeat(129);
    let (f, r) = invalid(set(&store, account, "john", None, Access::Full, &long).await);
    assert_eq!((f, r.contains("got 129")), ("password", true));
    assert!(matches!(
        set(
            &store,
            AccountId(999_999),
            "john",
            None,
            Access::Full,
            PASSWORD
        )
        .await,
        Err(LoginError::AccountNotFound(_))
    ));
    assert!(list_logins(&store, account).await.unwrap().is_empty());
}

async fn the_cli_sets_lists_and_deletes(store: SharedStore) {
    use backorder_svc::auth::cli;
    let account = open(&store, "a").await;
    let target = LoginTarget {
        account,
        login: "John".into(),
        role: Some("ro".into()),
    };
    let out = cli::run(
        &store,
        LoginCommand::Set(LoginSetArgs {
            target: target.clone(),
            read_only: true,
            password_stdin: true,
        }),
        Some(PASSWORD.into()),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        format!("created login john!ro for account {account} (read_only access)\n")
    );
    let caller = authenticate_login(&store, "john!ro", PASSWORD, at(1.0))
        .await
        .unwrap();
    assert!(!caller.may_write());
    let out = cli::run(&store, LoginCommand::List { account }, None, t0())
        .await
        .unwrap();
    assert_eq!(out, "john!ro\tread_only\tfailures 0\n");
    cli::run(&store, LoginCommand::Delete(target.clone()), None, t0())
        .await
        .unwrap();
    let error = cli::run(&store, LoginCommand::Delete(target), None, t0())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("has no login `john!ro`"),
        "{error}"
    );
}

async fn grpc_set_and_delete(url: &str) {
    let clock: SharedClock = Arc::new(SystemClock);
    let app = backorder_svc::testkit::serve(url, clock, None).await;
    let mut accounts = AccountServiceClient::new(app.channel.clone());
    let account = accounts
        .create_account(with_key(
            &app.operator_key,
            pb::CreateAccountRequest {
                display_name: "reseller".into(),
                currency_code: "USD".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let key = accounts
        .create_api_key(with_key(
            &app.operator_key,
            pb::CreateApiKeyRequest {
                role: pb::ApiKeyRole::Account as i32,
                account_id: account.id.clone(),
                label: "test".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let mut operator = OperatorServiceClient::new(app.channel.clone());
    let request = pb::SetAccountLoginRequest {
        account_id: account.id.clone(),
        login: "John".into(),
        role: "RO".into(),
        password: PASSWORD.into(),
        read_only: true,
    };
    let login = operator
        .set_account_login(with_key(&app.operator_key, request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(login.login, "john!ro");
    assert_eq!(login.access, pb::LoginAccess::ReadOnly as i32);
    assert!(login.created);
    assert_eq!(
        format!("accounts/{}", login.account_id).trim_start_matches("accounts/"),
        account.id.trim_start_matches("accounts/")
    );
    let caller = authenticate_login(&app.store, "john!ro", PASSWORD, Utc::now())
        .await
        .unwrap();
    assert_eq!(login_of(&caller), ("john!ro", Access::ReadOnly));

    // Account keys may not.
    let status = operator
        .set_account_login(with_key(&key, request.clone()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Bad input names the field.
    for (change, field) in [
        (
            pb::SetAccountLoginRequest {
                password: "short".into(),
                ..request.clone()
            },
            "password: must be 8 to 128 characters",
        ),
        (
            pb::SetAccountLoginRequest {
                login: "x".into(),
                ..request.clone()
            },
            "login: must be 3 to 64 characters",
        ),
        (
            pb::SetAccountLoginRequest {
                role: "r o".into(),
                ..request.clone()
            },
            "role: must be 1 to 64 characters",
        ),
        (
            pb::SetAccountLoginRequest {
                account_id: String::new(),
                ..request.clone()
            },
            "account_id: is required",
        ),
    ] {
        let status = operator
            .set_account_login(with_key(&app.operator_key, change))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    let status = operator
        .set_account_login(with_key(
            &app.operator_key,
            pb::SetAccountLoginRequest {
                account_id: "999999".into(),
                ..request.clone()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let delete = pb::DeleteAccountLoginRequest {
        account_id: account.id.clone(),
        login: "john".into(),
        role: "ro".into(),
    };
    operator
        .delete_account_login(with_key(&app.operator_key, delete.clone()))
        .await
        .unwrap();
    let status = operator
        .delete_account_login(with_key(&app.operator_key, delete))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    refused(authenticate_login(&app.store, "john!ro", PASSWORD, Utc::now()).await);
}

/// `test-account open`'s use case: the test environment only, everything checked before the
/// first write, finished by a second run after an interruption, refused once complete.
async fn test_accounts_open_once_and_finish_after_an_interruption(store: SharedStore) {
    use backorder_svc::config::EnvironmentKind;
    use backorder_svc::domain::money::Money;
    use backorder_svc::usecases::accounts::{Booking, BookingKind};
    use backorder_svc::usecases::test_accounts::OpenTestAccount;
    use backorder_svc::usecases::{UseCaseError, UseCases};

    let clock: SharedClock = Arc::new(SystemClock);
    backorder_svc::bootstrap::first_start(&store, &clock)
        .await
        .unwrap();
    let usd = Currency::parse("USD").unwrap();
    let play_money = Money::parse_positive(usd, "500.00").unwrap();
    let request = |login: &str| OpenTestAccount {
        display_name: "Trial Ltd".into(),
        price_tier: PriceTier::default_tier(),
        login: login.into(),
        password: PASSWORD.into(),
        play_money,
    };
    let accounts = |uc: UseCases| async move {
        let page = backorder_svc::store::PageRequest {
            after: None,
            limit: 100,
        };
        uc.list_accounts(&Caller::Shell, page).await.unwrap().1
    };
    let live = UseCases::new(store.clone(), clock, None);
    let error = live
        .open_test_account(&Caller::Shell, request("trial"))
        .await
        .unwrap_err();
    assert!(matches!(error, UseCaseError::Refused(_)), "{error:?}");
    let test = live.clone().with_environment(EnvironmentKind::Test);
    let reseller = Caller::account_key(1, AccountId(1));
    let error = test
        .open_test_account(&reseller, request("trial"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, UseCaseError::PermissionDenied(_)),
        "{error:?}"
    );
    for (bad, field) in [
        (
            OpenTestAccount {
                password: "short".into(),
                ..request("trial")
            },
            "password",
        ),
        (request("x"), "login"),
        (
            OpenTestAccount {
                display_name: " ".into(),
                ..request("trial")
            },
            "display_name",
        ),
    ] {
        match test.open_test_account(&Caller::Shell, bad).await {
            Err(UseCaseError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(accounts(test.clone()).await, 0, "nothing written");

    // Interrupted after the account and its play money, before the login (the steps the
    // use case takes, with its request ids): a second run finishes the same account.
    let begun = test
        .create_account(
            &Caller::Shell,
            NewAccount {
                display_name: "Trial Ltd".into(),
                currency: usd,
                price_tier: PriceTier::default_tier(),
            },
            Some("open-test-account:trial".into()),
        )
        .await
        .unwrap();
    test.book(
        &Caller::Shell,
        Booking {
            account: begun.id,
            kind: BookingKind::Deposit,
            amount: play_money,
            request_id: "open-test-account:trial:play-money".into(),
            memo: "play money of a test account".into(),
        },
    )
    .await
    .unwrap();
    let opened = test
        .open_test_account(&Caller::Shell, request("Trial"))
        .await
        .unwrap();
    assert_eq!(opened.account.id, begun.id);
    assert_eq!(opened.login, "trial");
    assert_eq!(opened.balance.balance, play_money, "the play money once");
    let caller = authenticate_login(&store, "trial", PASSWORD, Utc::now())
        .await
        .unwrap();
    assert_eq!(login_of(&caller), ("trial", Access::Full));

    // Complete: a second run refuses and changes nothing.
    match test
        .open_test_account(&Caller::Shell, request("trial"))
        .await
    {
        Err(UseCaseError::AlreadyExists { field, rule }) => {
            assert_eq!(field, "login");
            assert!(rule.contains("already belongs to test account"), "{rule}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(accounts(test.clone()).await, 1);
    let balance = test.balance(&Caller::Shell, Some(begun.id)).await.unwrap();
    assert_eq!(balance.view.balance, play_money);

    // Begun with other details: said in the operator's terms, nothing more written.
    test.create_account(
        &Caller::Shell,
        NewAccount {
            display_name: "Another Name".into(),
            currency: usd,
            price_tier: PriceTier::default_tier(),
        },
        Some("open-test-account:trial2".into()),
    )
    .await
    .unwrap();
    match test
        .open_test_account(&Caller::Shell, request("trial2"))
        .await
    {
        Err(UseCaseError::AlreadyExists { field, rule }) => {
            assert_eq!(field, "login");
            assert!(rule.contains("begun with other details"), "{rule}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(accounts(test).await, 2);
}

macro_rules! login_suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = backorder_svc::testkit::sqlite();
                    let store = backorder_svc::store::connect(&db.url).await.unwrap();
                    super::$test(store).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn grpc_set_and_delete() {
                let db = backorder_svc::testkit::sqlite();
                super::grpc_set_and_delete(&db.url).await;
            }
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = backorder_svc::testkit::postgres().await else { return };
                    let store = backorder_svc::store::connect(&db.url).await.unwrap();
                    super::$test(store).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn grpc_set_and_delete() {
                let Some(db) = backorder_svc::testkit::postgres().await else { return };
                super::grpc_set_and_delete(&db.url).await;
            }
        }
    };
}

login_suite!(
    passwords_are_hashed_and_logins_checked,
    role_logins_may_be_read_only,
    repeated_failures_slow_a_login_down,
    sessions_start_slide_expire_and_end,
    closed_accounts_are_refused,
    bad_input_is_refused_naming_the_field,
    the_cli_sets_lists_and_deletes,
    test_accounts_open_once_and_finish_after_an_interruption,
);
