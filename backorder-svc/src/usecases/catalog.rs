//! The catalog: TLDs and prices. Any caller reads; the operator writes.

use super::{UseCaseError, UseCaseResult, UseCases, require_operator, require_write};
use crate::domain::account::Caller;
use crate::domain::catalog::{Tld, TldName};
use crate::store::{PageRequest, Price, PriceFilter, PriceKey};

impl UseCases {
    /// One keyset page of TLDs (after a name) and the total.
    pub async fn list_tlds(
        &self,
        _caller: &Caller,
        page: PageRequest<String>,
    ) -> UseCaseResult<(Vec<Tld>, i64)> {
        Ok(self.store.list_tlds(page).await?)
    }

    pub async fn get_tld(&self, _caller: &Caller, name: &TldName) -> UseCaseResult<Tld> {
        self.store
            .get_tld(name)
            .await?
            .ok_or_else(|| not_in_catalog(name))
    }

    /// Adds or replaces a TLD (operator).
    pub async fn upsert_tld(&self, caller: &Caller, tld: &Tld) -> UseCaseResult<()> {
        require_operator(caller)?;
        require_write(caller)?;
        Ok(self
            .store
            .upsert_tld(tld, &caller.actor(), self.clock.now())
            .await?)
    }

    /// Removes a TLD (operator).
    pub async fn delete_tld(&self, caller: &Caller, name: &TldName) -> UseCaseResult<()> {
        require_operator(caller)?;
        require_write(caller)?;
        let deleted = self
            .store
            .delete_tld(name, &caller.actor(), self.clock.now())
            .await?;
        if !deleted {
            return Err(not_in_catalog(name));
        }
        Ok(())
    }

    /// One offset page of prices (`page.after` is the offset). An account caller sees the
    /// prices it would pay: its tier, its currency, whatever the filter says.
    pub async fn list_prices(
        &self,
        caller: &Caller,
        mut filter: PriceFilter,
        page: PageRequest<u32>,
    ) -> UseCaseResult<Vec<Price>> {
        if let Caller::Account { account_id, .. } = caller {
            let account =
                self.store.get_account(*account_id).await?.ok_or_else(|| {
                    UseCaseError::NotFound(format!("account {account_id} not found"))
                })?;
            filter.tier = Some(account.price_tier.as_str().to_string());
            filter.currency = Some(account.currency.code().to_string());
        }
        Ok(self.store.list_prices(filter, page).await?)
    }

    /// Sets a price (operator); its TLD must be in the catalog.
    pub async fn set_price(&self, caller: &Caller, price: &Price) -> UseCaseResult<()> {
        require_operator(caller)?;
        require_write(caller)?;
        if self.store.get_tld(&price.key.tld).await?.is_none() {
            return Err(UseCaseError::NotFound(format!(
                "tld {} is not in the catalog; add it first",
                price.key.tld.as_str()
            )));
        }
        Ok(self
            .store
            .set_price(price, &caller.actor(), self.clock.now())
            .await?)
    }

    /// Removes a price (operator).
    pub async fn delete_price(&self, caller: &Caller, key: &PriceKey) -> UseCaseResult<()> {
        require_operator(caller)?;
        require_write(caller)?;
        let deleted = self
            .store
            .delete_price(key, &caller.actor(), self.clock.now())
            .await?;
        if !deleted {
            return Err(UseCaseError::NotFound("no such price".into()));
        }
        Ok(())
    }
}

fn not_in_catalog(name: &TldName) -> UseCaseError {
    UseCaseError::NotFound(format!("tld {} is not in the catalog", name.as_str()))
}
