//! Orders: place, read, list, cancel, pay (prepay), change; and the domains assigned to an
//! account.

use super::{
    UseCaseError, UseCaseResult, UseCases, account_in_scope, idempotency, listing_scope,
    require_write,
};
use crate::domain::account::{AccountId, Caller};
use crate::domain::catalog::BackorderClass;
use crate::domain::lifecycle::Status;
use crate::domain::name::DomainName;
use crate::lifecycle::placement::{self, OrderRequest};
use crate::store::IdempotencyKey;
use crate::store::auctions::AssignedDomain;
use crate::store::orders::{Backorder, BackorderFilter, Contacts, OrderBy, Placement};
use std::collections::BTreeMap;

/// An order as a client places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The account to order for; an account caller may leave it out (its own).
    pub account: Option<AccountId>,
    pub domain: String,
    pub class: BackorderClass,
    pub contacts: Contacts,
    pub auth_code_wish: String,
    pub extensions: BTreeMap<String, String>,
    pub client_reference: String,
    /// Retries with the same id get the first answer.
    pub request_id: Option<String>,
    /// Whether a second open order of the account for the same domain is placed (true) or
    /// the existing one is answered (false).
    pub allow_duplicate: bool,
}

/// A placed order: new, or one that already stood (a retried request, or a duplicate not
/// allowed), and how many open orders the domain now has.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub order: Backorder,
    pub open_for_domain: i64,
    pub existing: bool,
}

/// Which orders to list, in which order, which page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOrders {
    /// The operator may leave it out (all accounts); an account caller sees its own.
    pub account: Option<AccountId>,
    pub statuses: Vec<Status>,
    pub class: Option<BackorderClass>,
    /// `*` any run, `?` one character; empty: any domain.
    pub domain_pattern: String,
    pub order_by: OrderBy,
    pub descending: bool,
    pub offset: u32,
    pub limit: u32,
}

/// What may change on an open order: contacts and the wished auth code (None: unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOrder {
    pub id: i64,
    pub contacts: Option<Contacts>,
    pub auth_code_wish: Option<String>,
}

impl UseCases {
    /// The order if the caller may see it; another account's order answers as an absent one.
    pub async fn get_order(&self, caller: &Caller, id: i64) -> UseCaseResult<Backorder> {
        let not_found = || format!("backorder {id} not found");
        match self.store.get_backorder(id).await? {
            Some(order) if visible_to(caller, order.account) => Ok(order),
            Some(_) => Err(UseCaseError::NotYours(not_found())),
            None => Err(UseCaseError::NotFound(not_found())),
        }
    }

    /// Places an order (spec/lifecycle.md, "Placing an order"). A request id already used
    /// answers the first placement, whatever validation would say now (finalization may have
    /// passed since); the same id with another domain or class is a conflict.
    pub async fn place_order(&self, caller: &Caller, order: PlaceOrder) -> UseCaseResult<Placed> {
        require_write(caller)?;
        let account_id = account_in_scope(caller, order.account)?;
        let account = self
            .store
            .get_account(account_id)
            .await?
            .ok_or_else(|| UseCaseError::NotFound(format!("account {account_id} not found")))?;
        let key = idempotency(caller, order.request_id.clone());
        if let Some(key) = &key
            && let Some(placed) = self.retried_place(key, &order.domain, order.class).await?
        {
            return Ok(placed);
        }
        let now = self.clock.now();
        let new = placement::validate(
            &self.store,
            &account,
            OrderRequest {
                domain: order.domain,
                class: Some(order.class),
                contacts: order.contacts,
                auth_code_wish: order.auth_code_wish,
                extensions: order.extensions,
                client_reference: order.client_reference,
            },
            now,
        )
        .await?;
        if let Some(premium) = &self.premium {
            let is_premium = premium
                .is_premium(&new.domain, now)
                .await
                .map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
            if is_premium {
                return Err(UseCaseError::invalid(
                    "domain",
                    format!(
                        "{} is a registry premium name and cannot be backordered",
                        new.domain
                    ),
                ));
            }
        }
        let placed = self
            .store
            .create_backorder(new, key, order.allow_duplicate, &caller.actor(), now)
            .await?;
        Ok(match placed {
            Placement::Created {
                order,
                open_for_domain,
            } => Placed {
                order,
                open_for_domain,
                existing: false,
            },
            Placement::Existing {
                order,
                open_for_domain,
            } => Placed {
                order,
                open_for_domain,
                existing: true,
            },
        })
    }

    async fn retried_place(
        &self,
        key: &IdempotencyKey,
        domain: &str,
        class: BackorderClass,
    ) -> UseCaseResult<Option<Placed>> {
        let Some((order, open)) = self.store.backorder_for_request(key).await? else {
            return Ok(None);
        };
        let same_domain = DomainName::parse(domain).is_ok_and(|name| name.ascii() == order.domain);
        if !same_domain || order.class != class {
            return Err(UseCaseError::request_id_reused(format!(
                "{:?} was already used for a different request",
                key.request_id
            )));
        }
        Ok(Some(Placed {
            order,
            open_for_domain: open,
            existing: true,
        }))
    }

    /// One page of orders and the total that match.
    pub async fn list_orders(
        &self,
        caller: &Caller,
        list: ListOrders,
    ) -> UseCaseResult<(Vec<Backorder>, i64)> {
        let account = listing_scope(caller, list.account)?;
        let domain_like = like_pattern(&list.domain_pattern)?;
        Ok(self
            .store
            .list_backorders(BackorderFilter {
                account,
                statuses: list.statuses,
                class: list.class,
                domain_like,
                order_by: list.order_by,
                descending: list.descending,
                offset: list.offset,
                limit: list.limit,
            })
            .await?)
    }

    pub async fn cancel_order(&self, caller: &Caller, id: i64) -> UseCaseResult<Backorder> {
        require_write(caller)?;
        let order = self.get_order(caller, id).await?;
        Ok(self
            .store
            .cancel_backorder(order.id, &caller.actor(), self.clock.now())
            .await?)
    }

    /// Pays (prepays) an order from the account's funds: the hold is placed now.
    pub async fn pay_order(
        &self,
        caller: &Caller,
        id: i64,
        request_id: Option<String>,
    ) -> UseCaseResult<Backorder> {
        require_write(caller)?;
        let order = self.get_order(caller, id).await?;
        Ok(self
            .store
            .pay_backorder(
                order.id,
                idempotency(caller, request_id),
                &caller.actor(),
                self.clock.now(),
            )
            .await?)
    }

    pub async fn update_order(
        &self,
        caller: &Caller,
        update: UpdateOrder,
    ) -> UseCaseResult<Backorder> {
        require_write(caller)?;
        let order = self.get_order(caller, update.id).await?;
        for text in update
            .contacts
            .iter()
            .flat_map(|c| [&c.owner, &c.admin, &c.tech, &c.billing])
            .chain(update.auth_code_wish.as_ref())
        {
            if text.chars().count() > 255 || text.contains(['\n', '\r']) {
                return Err(UseCaseError::invalid(
                    "contacts",
                    "each field must be one line of at most 255 characters",
                ));
            }
        }
        Ok(self
            .store
            .update_backorder(
                order.id,
                update.contacts,
                update.auth_code_wish,
                &caller.actor(),
                self.clock.now(),
            )
            .await?)
    }

    /// Domains assigned (caught or won) to an account, or to all for the operator.
    pub async fn list_domains(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        offset: u32,
        limit: u32,
    ) -> UseCaseResult<(Vec<AssignedDomain>, i64)> {
        let account = listing_scope(caller, account)?;
        Ok(self.store.list_domains(account, offset, limit).await?)
    }

    /// One assigned domain; another account's answers as one not assigned.
    pub async fn get_domain(&self, caller: &Caller, domain: &str) -> UseCaseResult<AssignedDomain> {
        let name = DomainName::parse(domain)
            .map_err(|e| UseCaseError::invalid("domain", e.to_string()))?;
        let not_found = || format!("domain {} is not assigned to this account", name.ascii());
        match self.store.get_domain(name.ascii()).await? {
            Some(domain) if visible_to(caller, domain.account) => Ok(domain),
            Some(_) => Err(UseCaseError::NotYours(not_found())),
            None => Err(UseCaseError::NotFound(not_found())),
        }
    }
}

/// The operator sees every account's objects; an account caller its own.
pub(crate) fn visible_to(caller: &Caller, owner: AccountId) -> bool {
    match caller {
        Caller::Operator { .. } | Caller::Shell => true,
        Caller::Account { account_id, .. } => *account_id == owner,
    }
}

/// `*` any run, `?` one character, everything else literal: a LIKE pattern.
fn like_pattern(pattern: &str) -> UseCaseResult<Option<String>> {
    let pattern = pattern.trim().to_lowercase();
    if pattern.is_empty() {
        return Ok(None);
    }
    if pattern.len() > 253 || pattern.contains(['%', '_', '\\']) {
        return Err(UseCaseError::invalid(
            "domain_pattern",
            "must be a domain pattern with '*' and '?' wildcards (no '%', '_' or '\\')",
        ));
    }
    Ok(Some(pattern.replace('*', "%").replace('?', "_")))
}
