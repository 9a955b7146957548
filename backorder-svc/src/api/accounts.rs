//! AccountService: accounts, operator bookings, balances, transfer history, API keys.

use super::convert::{self, money, money_in, next_token, page_size, page_token_id, timestamp};
use super::error::{ApiError, ApiResult};
use super::{Context, account_id};
use crate::domain::account::{Account, AccountId, AccountState, Caller, PriceTier};
use crate::ledger::{HoldState, Transfer, TransferKind};
use crate::store::{
    AccountChanges, ApiKeyRecord, KeyRole, NewAccount, PageRequest, TransferFilter,
};
use crate::usecases::UseCases;
use crate::usecases::accounts::{Booking, BookingKind, display_name};
use backorder_proto::backorder::v1 as pb;
use pb::account_service_server::AccountService;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct AccountApi {
    ctx: Context,
}

impl AccountApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn uc(&self) -> &UseCases {
        &self.ctx.uc
    }

    /// Deposits, withdrawals and adjustments share everything but the kind.
    async fn book(
        &self,
        caller: &Caller,
        account_text: &str,
        amount: Option<&pb::Money>,
        request_id: String,
        memo: String,
        kind: BookingKind,
    ) -> ApiResult<pb::Transfer> {
        let account = AccountId::parse(account_text).ok_or_else(|| {
            ApiError::invalid("account_id", "must be an account id such as \"42\"")
        })?;
        let amount = money_in("amount", amount, kind != BookingKind::Adjustment)?;
        let transfer = self
            .uc()
            .book(
                caller,
                Booking {
                    account,
                    kind,
                    amount,
                    request_id,
                    memo,
                },
            )
            .await?;
        Ok(transfer_pb(&transfer))
    }
}

pub fn account_pb(account: &Account) -> pb::Account {
    pb::Account {
        id: account.id.to_string(),
        display_name: account.display_name.clone(),
        currency_code: account.currency.code().to_string(),
        price_tier: account.price_tier.as_str().to_string(),
        state: match account.state {
            AccountState::Active => pb::AccountState::Active,
            AccountState::Suspended => pb::AccountState::Suspended,
            AccountState::Closed => pb::AccountState::Closed,
        } as i32,
        create_time: Some(timestamp(account.created_at)),
    }
}

fn kind_pb(kind: TransferKind) -> pb::TransferKind {
    match kind {
        TransferKind::Deposit => pb::TransferKind::Deposit,
        TransferKind::Withdrawal => pb::TransferKind::Withdrawal,
        TransferKind::Adjustment => pb::TransferKind::Adjustment,
        TransferKind::Hold => pb::TransferKind::Hold,
        TransferKind::Capture => pb::TransferKind::Capture,
        TransferKind::Release => pb::TransferKind::Release,
        TransferKind::AuctionPayment => pb::TransferKind::AuctionPayment,
    }
}

fn kind_from_pb(value: i32) -> ApiResult<TransferKind> {
    let kind = pb::TransferKind::try_from(value)
        .map_err(|_| ApiError::invalid("kinds", format!("{value} is not a transfer kind")))?;
    TransferKind::ALL
        .into_iter()
        .find(|k| kind_pb(*k) == kind)
        .ok_or_else(|| ApiError::invalid("kinds", "must not be TRANSFER_KIND_UNSPECIFIED"))
}

pub fn transfer_pb(transfer: &Transfer) -> pb::Transfer {
    pb::Transfer {
        id: transfer.id.to_string(),
        kind: kind_pb(transfer.kind) as i32,
        debit_account: transfer.debit_account.clone(),
        credit_account: transfer.credit_account.clone(),
        amount: Some(money(transfer.amount)),
        pending_id: transfer
            .pending_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        hold_state: match transfer.hold_state {
            None => pb::HoldState::Unspecified,
            Some(HoldState::Pending) => pb::HoldState::Pending,
            Some(HoldState::Posted) => pb::HoldState::Posted,
            Some(HoldState::Voided) => pb::HoldState::Voided,
        } as i32,
        backorder_id: transfer
            .backorder_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        request_id: transfer.request_id.clone().unwrap_or_default(),
        memo: transfer.memo.clone(),
        create_time: Some(timestamp(transfer.created_at)),
    }
}

fn key_pb(key: &ApiKeyRecord) -> pb::ApiKey {
    pb::ApiKey {
        id: key.id.to_string(),
        role: match key.role {
            KeyRole::Account => pb::ApiKeyRole::Account,
            KeyRole::Operator => pb::ApiKeyRole::Operator,
        } as i32,
        account_id: key.account_id.map(|a| a.to_string()).unwrap_or_default(),
        label: key.label.clone(),
        prefix: key.prefix.clone(),
        create_time: Some(timestamp(key.created_at)),
        revoke_time: key.revoked_at.map(timestamp),
    }
}

fn state_from_pb(value: i32) -> ApiResult<Option<AccountState>> {
    match pb::AccountState::try_from(value) {
        Ok(pb::AccountState::Unspecified) => Ok(None),
        Ok(pb::AccountState::Active) => Ok(Some(AccountState::Active)),
        Ok(pb::AccountState::Suspended) => Ok(Some(AccountState::Suspended)),
        Ok(pb::AccountState::Closed) => Ok(Some(AccountState::Closed)),
        Err(_) => Err(ApiError::invalid(
            "state",
            format!("{value} is not an account state"),
        )),
    }
}

/// Empty: the default tier (create) or unchanged (update); otherwise the documented rule.
fn tier(text: &str) -> ApiResult<Option<PriceTier>> {
    if text.is_empty() {
        return Ok(None);
    }
    super::catalog::new_tier("price_tier", text).map(Some)
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let new = NewAccount {
            display_name: display_name(&req.display_name)?,
            currency: convert::currency("currency_code", &req.currency_code)?,
            price_tier: tier(&req.price_tier)?.unwrap_or_else(PriceTier::default_tier),
        };
        let account = self
            .uc()
            .create_account(&caller, new, convert::optional_text(&req.request_id))
            .await?;
        Ok(Response::new(account_pb(&account)))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let id = account_id("account_id", &request.get_ref().account_id)?;
        Ok(Response::new(account_pb(
            &self.uc().get_account(&caller, id).await?,
        )))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let limit = page_size(req.page_size)?;
        let page = PageRequest {
            after: page_token_id(&req.page_token)?,
            limit,
        };
        let (accounts, total) = self.uc().list_accounts(&caller, page).await?;
        Ok(Response::new(pb::ListAccountsResponse {
            next_page_token: next_token(&accounts, limit, |a| a.id),
            accounts: accounts.iter().map(account_pb).collect(),
            total_size: total,
        }))
    }

    async fn update_account(
        &self,
        request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let id = account_id("account_id", &req.account_id)?;
        let changes = AccountChanges {
            display_name: if req.display_name.trim().is_empty() {
                None
            } else {
                Some(display_name(&req.display_name)?)
            },
            price_tier: tier(&req.price_tier)?,
            state: state_from_pb(req.state)?,
        };
        let updated = self.uc().update_account(&caller, id, changes).await?;
        Ok(Response::new(account_pb(&updated)))
    }

    async fn create_deposit(
        &self,
        request: Request<pb::CreateDepositRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let transfer = self
            .book(
                &caller,
                &req.account_id,
                req.amount.as_ref(),
                req.request_id,
                req.memo,
                BookingKind::Deposit,
            )
            .await?;
        Ok(Response::new(transfer))
    }

    async fn create_withdrawal(
        &self,
        request: Request<pb::CreateWithdrawalRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let transfer = self
            .book(
                &caller,
                &req.account_id,
                req.amount.as_ref(),
                req.request_id,
                req.memo,
                BookingKind::Withdrawal,
            )
            .await?;
        Ok(Response::new(transfer))
    }

    async fn create_adjustment(
        &self,
        request: Request<pb::CreateAdjustmentRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let transfer = self
            .book(
                &caller,
                &req.account_id,
                req.amount.as_ref(),
                req.request_id,
                req.memo,
                BookingKind::Adjustment,
            )
            .await?;
        Ok(Response::new(transfer))
    }

    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let id = account_id("account_id", &request.get_ref().account_id)?;
        let balance = self.uc().balance(&caller, id).await?;
        Ok(Response::new(pb::Balance {
            account_id: balance.account.to_string(),
            balance: Some(money(balance.view.balance)),
            reserved: Some(money(balance.view.reserved)),
            available: Some(money(balance.view.available)),
        }))
    }

    async fn list_transfers(
        &self,
        request: Request<pb::ListTransfersRequest>,
    ) -> Result<Response<pb::ListTransfersResponse>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let id = account_id("account_id", &req.account_id)?;
        let limit = page_size(req.page_size)?;
        super::convert::at_most("kinds", req.kinds.len(), 20)?;
        let filter = TransferFilter {
            kinds: req
                .kinds
                .iter()
                .map(|k| kind_from_pb(*k))
                .collect::<ApiResult<_>>()?,
            backorder_id: match req.backorder_id.trim() {
                "" => None,
                text => Some(text.parse().map_err(|_| {
                    ApiError::invalid("backorder_id", "must be a backorder id such as \"10700\"")
                })?),
            },
        };
        let page = PageRequest {
            after: page_token_id(&req.page_token)?,
            limit,
        };
        let transfers = self.uc().list_transfers(&caller, id, filter, page).await?;
        Ok(Response::new(pb::ListTransfersResponse {
            next_page_token: next_token(&transfers, limit, |t| t.id),
            transfers: transfers.iter().map(transfer_pb).collect(),
        }))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let req = request.into_inner();
        let role = match pb::ApiKeyRole::try_from(req.role) {
            Ok(pb::ApiKeyRole::Account) => KeyRole::Account,
            Ok(pb::ApiKeyRole::Operator) => KeyRole::Operator,
            _ => {
                return Err(ApiError::invalid(
                    "role",
                    "must be API_KEY_ROLE_ACCOUNT or API_KEY_ROLE_OPERATOR",
                )
                .into());
            }
        };
        let account = match role {
            // Refused before parsing, so any text there gets the rule itself.
            KeyRole::Operator if !req.account_id.trim().is_empty() => {
                return Err(
                    ApiError::invalid("account_id", "must be empty for operator keys").into(),
                );
            }
            _ => account_id("account_id", &req.account_id)?,
        };
        let created = self
            .uc()
            .create_api_key(&caller, role, account, &req.label)
            .await?;
        Ok(Response::new(pb::CreateApiKeyResponse {
            api_key: Some(key_pb(&created.key)),
            secret: created.secret,
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let req = request.into_inner();
        let account = account_id("account_id", &req.account_id)?;
        let limit = page_size(req.page_size)?;
        let page = PageRequest {
            after: page_token_id(&req.page_token)?,
            limit,
        };
        let keys = self.uc().list_api_keys(&caller, account, page).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            next_page_token: next_token(&keys, limit, |k| k.id),
            api_keys: keys.iter().map(key_pb).collect(),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::ApiKey>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let id: i64 = request
            .get_ref()
            .api_key_id
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid("api_key_id", "must be a key id such as \"3\""))?;
        let revoked = self.uc().revoke_api_key(&caller, id).await?;
        Ok(Response::new(key_pb(&revoked)))
    }
}
