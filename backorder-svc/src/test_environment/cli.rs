//! `backorder-svc test-account open`: the operator opens a reseller's test account — account,
//! login and play money — in one command, on the test environment's database.

use crate::clock::{SharedClock, SystemClock};
use crate::config::{EnvironmentKind, TestAccountOpenArgs, test_database};
use crate::domain::account::{Caller, PriceTier};
use crate::domain::money::{Currency, Money};
use crate::usecases::UseCases;
use crate::usecases::test_accounts::{OpenTestAccount, OpenedTestAccount};
use crate::{bootstrap, store};
use rand::Rng;
use std::sync::Arc;

/// Where the password comes from.
pub enum Password {
    Given(String),
    /// Generated here and printed once.
    Generate,
}

/// Characters of generated passwords: letters and digits without look-alikes (0/O, 1/l/I),
/// so that a password read aloud or retyped survives.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const GENERATED_PASSWORD_CHARS: usize = 20;

fn generated_password() -> String {
    let mut rng = rand::rng();
    (0..GENERATED_PASSWORD_CHARS)
        .map(|_| PASSWORD_ALPHABET[rng.random_range(0..PASSWORD_ALPHABET.len())] as char)
        .collect()
}

/// Opens the account and returns what to print.
pub async fn open(
    live_database_url: &str,
    args: TestAccountOpenArgs,
    password: Password,
) -> anyhow::Result<String> {
    let currency =
        Currency::parse(&args.currency).map_err(|e| anyhow::anyhow!("--currency: {e}"))?;
    let play_money = match args.play_money.trim() {
        "0" => Money::zero(currency),
        text => Money::parse_positive(currency, text)
            .map_err(|e| anyhow::anyhow!("--play-money: {e}"))?,
    };
    let price_tier = PriceTier::validate(&args.price_tier).ok_or_else(|| {
        anyhow::anyhow!("--price-tier: a lower-case letter, then up to 31 of a-z, 0-9, `_`, `-`")
    })?;
    let Some(url) = test_database(&args.test_database_url, live_database_url)? else {
        anyhow::bail!("--test-database-url is `off`: there is no test environment to open it in");
    };
    super::ensure_database(&args.test_database_url, live_database_url, &url).await?;
    let store = store::connect(&url)
        .await
        .map_err(|e| anyhow::anyhow!("the test environment's database: {e}"))?;
    let clock: SharedClock = Arc::new(SystemClock);
    // The service may never have run on it yet: the catalog and operator key come first.
    let first = bootstrap::first_start(&store, &clock).await?;
    let mut out = String::new();
    if let Some(secret) = first.operator_secret {
        out.push_str(&format!(
            "Test environment operator API key (shown once, keep it safe): {secret}\n"
        ));
    }
    let (password, generated) = match password {
        Password::Given(password) => (password, false),
        Password::Generate => (generated_password(), true),
    };
    let uc = UseCases::new(store, clock, None).with_environment(EnvironmentKind::Test);
    let opened = uc
        .open_test_account(
            &Caller::Shell,
            OpenTestAccount {
                display_name: args.name,
                price_tier,
                login: args.login,
                password: password.clone(),
                play_money,
            },
        )
        .await?;
    out.push_str(&report(
        &opened,
        &crate::app::redact(&url),
        generated.then_some(password.as_str()),
    ));
    Ok(out)
}

fn report(opened: &OpenedTestAccount, database: &str, generated_password: Option<&str>) -> String {
    let account = &opened.account;
    let mut out = format!(
        "opened test account {} {:?} ({}, price tier {}) in the test environment ({database})\n\
         login:       {}\n",
        account.id,
        account.display_name,
        account.currency,
        account.price_tier.as_str(),
        opened.login,
    );
    if let Some(password) = generated_password {
        out.push_str(&format!(
            "password:    {password}   (generated, shown once: pass it on safely)\n"
        ));
    }
    out.push_str(&format!(
        "play money:  {} available\n\
         The reseller calls the command API with s_entity=1234 (or at /ote/api/call.cgi), \
         s_login={} and the password.\n",
        opened.balance.available, opened.login
    ));
    out
}
