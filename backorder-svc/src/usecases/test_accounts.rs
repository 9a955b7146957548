//! Opening a reseller's account in the test environment in one step: the account, its login
//! and its play money. Run again with the same login it finishes what a crash left half done
//! (each step is idempotent on a request id derived from the login), and refuses once the
//! account is complete.

use super::accounts::{Booking, BookingKind, display_name};
use super::{UseCaseError, UseCaseResult, UseCases, require_operator, require_write};
use crate::auth::LoginName;
use crate::auth::passwords::password_rule_violation;
use crate::config::EnvironmentKind;
use crate::domain::account::{Access, Account, Caller, PriceTier};
use crate::domain::money::Money;
use crate::ledger::BalanceView;
use crate::store::NewAccount;

/// A test account as the operator asks for it.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenTestAccount {
    pub display_name: String,
    pub price_tier: PriceTier,
    /// The reseller's login (its main login: `user`, not `user!role`).
    pub login: String,
    pub password: String,
    /// Play money deposited at once, in the account's currency (which it names); zero for
    /// none.
    pub play_money: Money,
}

impl std::fmt::Debug for OpenTestAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenTestAccount")
            .field("display_name", &self.display_name)
            .field("price_tier", &self.price_tier)
            .field("login", &self.login)
            .field("play_money", &self.play_money)
            .finish_non_exhaustive()
    }
}

/// The opened account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedTestAccount {
    pub account: Account,
    /// The login as stored (lower case).
    pub login: String,
    pub balance: BalanceView,
}

impl UseCases {
    /// Operator, test environment only: opens a reseller's test account with its login and
    /// play money. The login names the test account: one account per login.
    pub async fn open_test_account(
        &self,
        caller: &Caller,
        open: OpenTestAccount,
    ) -> UseCaseResult<OpenedTestAccount> {
        require_operator(caller)?;
        require_write(caller)?;
        if self.environment != EnvironmentKind::Test {
            return Err(UseCaseError::Refused(
                "test accounts are opened in the test environment only; live accounts are \
                 opened with CreateAccount"
                    .into(),
            ));
        }
        // Everything is checked before the first write.
        let name = display_name(&open.display_name)?;
        let login = LoginName::new(&open.login, None)?;
        if let Some(rule) = password_rule_violation(&open.password) {
            return Err(UseCaseError::invalid("password", rule));
        }
        if open.play_money.minor < 0 {
            return Err(UseCaseError::invalid("play_money", "must not be negative"));
        }
        // The login is set last: once it exists the account is complete, and a second run
        // changes nothing.
        if let Some(existing) = self.store.find_login(&login.login, None).await? {
            return Err(UseCaseError::AlreadyExists {
                field: "login".into(),
                rule: format!(
                    "{} already belongs to test account {}; its password is changed with \
                     `login set` on the test database, play money added with a deposit",
                    login.login, existing.summary.account_id
                ),
            });
        }
        let request_id = format!("open-test-account:{}", login.login);
        // A second run after a crash must ask for the same account and amount; say so in the
        // reseller's terms rather than the request id's.
        let begun_otherwise = |error: UseCaseError| match error {
            UseCaseError::AlreadyExists { field, .. } if field == "request_id" => {
                UseCaseError::AlreadyExists {
                    field: "login".into(),
                    rule: format!(
                        "a test account for {} was begun with other details (name, currency, \
                         tier or play money); run it again with the same ones",
                        login.login
                    ),
                }
            }
            other => other,
        };
        let account = self
            .create_account(
                caller,
                NewAccount {
                    display_name: name,
                    currency: open.play_money.currency,
                    price_tier: open.price_tier,
                },
                Some(request_id.clone()),
            )
            .await
            .map_err(begun_otherwise)?;
        if open.play_money.minor > 0 {
            self.book(
                caller,
                Booking {
                    account: account.id,
                    kind: BookingKind::Deposit,
                    amount: open.play_money,
                    request_id: format!("{request_id}:play-money"),
                    memo: "play money of a test account".into(),
                },
            )
            .await
            .map_err(begun_otherwise)?;
        }
        self.set_login(
            caller,
            super::logins::SetLogin {
                account: Some(account.id),
                login: login.login.clone(),
                role: None,
                access: Access::Full,
                password: open.password,
            },
        )
        .await?;
        let balance = self.balance(caller, Some(account.id)).await?.view;
        Ok(OpenedTestAccount {
            account,
            login: login.login,
            balance,
        })
    }
}
