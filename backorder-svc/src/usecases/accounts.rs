//! Accounts, their API keys and their money: deposits, withdrawals and adjustments (the
//! operator's bookings), balances and the transfer history.

use super::{
    UseCaseError, UseCaseResult, UseCases, account_in_scope, idempotency, listing_scope,
    require_operator, require_write, required_request_id,
};
use crate::auth;
use crate::domain::account::{Account, AccountId, Caller};
use crate::domain::money::Money;
use crate::ledger::{BalanceView, Movement, MovementRequest, Transfer};
use crate::store::{
    AccountChanges, AccountCreation, ApiKeyRecord, KeyRole, NewAccount, PageRequest, TransferFilter,
};

/// The operator's bookings on a client account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingKind {
    Deposit,
    Withdrawal,
    /// A signed correction; needs a memo saying why.
    Adjustment,
}

/// A booking as the operator asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub account: AccountId,
    pub kind: BookingKind,
    /// Positive for deposits and withdrawals; signed, not zero, for adjustments.
    pub amount: Money,
    /// Required: without it a retry could move money twice.
    pub request_id: String,
    pub memo: String,
}

/// A new API key and its secret, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub key: ApiKeyRecord,
    pub secret: String,
}

/// An account's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub account: AccountId,
    pub view: BalanceView,
}

/// An account's display name: 1 to 200 characters once trimmed.
pub fn display_name(text: &str) -> UseCaseResult<String> {
    let name = text.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(UseCaseError::invalid(
            "display_name",
            "must be 1 to 200 characters",
        ));
    }
    Ok(name.to_string())
}

impl UseCases {
    async fn existing_account(&self, id: AccountId) -> UseCaseResult<Account> {
        self.store
            .get_account(id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound(format!("account {id} not found")))
    }

    /// Opens a client account (operator). A request id makes retries answer the first.
    pub async fn create_account(
        &self,
        caller: &Caller,
        new: NewAccount,
        request_id: Option<String>,
    ) -> UseCaseResult<Account> {
        require_operator(caller)?;
        require_write(caller)?;
        let key = idempotency(caller, request_id);
        let outcome = self
            .store
            .create_account(new, key.clone(), &caller.actor(), self.clock.now())
            .await?;
        match outcome {
            AccountCreation::Created(account) | AccountCreation::Replayed(account) => Ok(account),
            AccountCreation::Conflict => Err(UseCaseError::request_id_reused(format!(
                "{:?} was already used for a different request",
                key.map(|k| k.request_id).unwrap_or_default()
            ))),
        }
    }

    pub async fn get_account(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
    ) -> UseCaseResult<Account> {
        let id = account_in_scope(caller, account)?;
        self.existing_account(id).await
    }

    /// One keyset page of accounts and the total (operator).
    pub async fn list_accounts(
        &self,
        caller: &Caller,
        page: PageRequest<i64>,
    ) -> UseCaseResult<(Vec<Account>, i64)> {
        require_operator(caller)?;
        Ok(self.store.list_accounts(page).await?)
    }

    /// Changes an account's name, price tier or state (operator).
    pub async fn update_account(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        changes: AccountChanges,
    ) -> UseCaseResult<Account> {
        require_operator(caller)?;
        require_write(caller)?;
        let id = account_in_scope(caller, account)?;
        self.store
            .update_account(id, changes, &caller.actor(), self.clock.now())
            .await?
            .ok_or_else(|| UseCaseError::NotFound(format!("account {id} not found")))
    }

    /// A deposit, withdrawal or adjustment (operator). After money arrived, auctions the
    /// account won and has not paid are collected.
    pub async fn book(&self, caller: &Caller, booking: Booking) -> UseCaseResult<Transfer> {
        require_operator(caller)?;
        require_write(caller)?;
        let Booking {
            account,
            kind,
            amount,
            request_id,
            memo,
        } = booking;
        if kind == BookingKind::Adjustment {
            if amount.minor == 0 {
                return Err(UseCaseError::invalid("amount", "must not be zero"));
            }
            if memo.trim().is_empty() {
                return Err(UseCaseError::invalid(
                    "memo",
                    "is required for adjustments: say why",
                ));
            }
        }
        let request_id = required_request_id(Some(&request_id))?;
        let holder = self.existing_account(account).await?;
        if holder.currency != amount.currency {
            return Err(UseCaseError::invalid(
                "amount.currency_code",
                format!("must be the account's currency {}", holder.currency),
            ));
        }
        let movement = match kind {
            BookingKind::Deposit => Movement::Deposit { account, amount },
            BookingKind::Withdrawal => Movement::Withdrawal { account, amount },
            BookingKind::Adjustment => Movement::Adjustment { account, amount },
        };
        let transfer = self
            .store
            .execute_movement(
                MovementRequest {
                    scope: caller.idempotency_scope(),
                    request_id,
                    movement,
                    memo: memo.trim().to_string(),
                    actor: caller.actor(),
                },
                self.clock.now(),
            )
            .await?;
        if kind != BookingKind::Withdrawal {
            self.collect_auction_payments(caller, account).await;
        }
        Ok(transfer)
    }

    /// Funds arrived: auctions the account won and has not paid are collected now (the
    /// booking stands whatever happens here; the scheduler retries on its next pass).
    async fn collect_auction_payments(&self, caller: &Caller, account: AccountId) {
        match self
            .store
            .collect_auction_payments(account, &caller.actor(), self.clock.now())
            .await
        {
            Ok(0) => {}
            Ok(paid) => {
                tracing::info!(%account, paid, "auction payments collected after funds arrived")
            }
            Err(error) => {
                tracing::warn!(%account, %error, "collecting auction payments failed; the scheduler retries")
            }
        }
    }

    /// Balance, reserved (held) and available funds.
    pub async fn balance(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
    ) -> UseCaseResult<Balance> {
        let id = account_in_scope(caller, account)?;
        let view = self
            .store
            .balance(id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound(format!("account {id} not found")))?;
        Ok(Balance { account: id, view })
    }

    /// One keyset page of an account's transfers.
    pub async fn list_transfers(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        filter: TransferFilter,
        page: PageRequest<i64>,
    ) -> UseCaseResult<Vec<Transfer>> {
        let id = account_in_scope(caller, account)?;
        self.existing_account(id).await?;
        Ok(self.store.list_transfers(id, filter, page).await?)
    }

    /// Makes an API key (operator): an account key for a named account, or an operator key
    /// (no account).
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        role: KeyRole,
        account: Option<AccountId>,
        label: &str,
    ) -> UseCaseResult<NewKey> {
        require_operator(caller)?;
        require_write(caller)?;
        let account = match role {
            KeyRole::Account => {
                let id = account_in_scope(caller, account)?;
                self.existing_account(id).await?;
                Some(id)
            }
            KeyRole::Operator if account.is_none() => None,
            KeyRole::Operator => {
                return Err(UseCaseError::invalid(
                    "account_id",
                    "must be empty for operator keys",
                ));
            }
        };
        let generated = auth::generate(role, account, label.trim());
        let key = self
            .store
            .insert_api_key(generated.stored, self.clock.now())
            .await?;
        Ok(NewKey {
            key,
            secret: generated.secret,
        })
    }

    /// An account's keys, or every key for the operator naming no account.
    pub async fn list_api_keys(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        page: PageRequest<i64>,
    ) -> UseCaseResult<Vec<ApiKeyRecord>> {
        let account = listing_scope(caller, account)?;
        Ok(self.store.list_api_keys(account, page).await?)
    }

    /// Revokes a key: the operator any, an account its own account's (others look absent).
    pub async fn revoke_api_key(&self, caller: &Caller, id: i64) -> UseCaseResult<ApiKeyRecord> {
        require_write(caller)?;
        let not_found = || format!("api key {id} not found");
        let key = self
            .store
            .get_api_key(id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound(not_found()))?;
        if let Caller::Account { account_id, .. } = caller
            && key.account_id != Some(*account_id)
        {
            return Err(UseCaseError::NotYours(not_found()));
        }
        self.store
            .revoke_api_key(id, &caller.actor(), self.clock.now())
            .await?
            .ok_or_else(|| UseCaseError::NotFound(not_found()))
    }
}
