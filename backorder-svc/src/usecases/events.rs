//! The per-account event log, read after a cursor.

use super::{UseCaseResult, UseCases, listing_scope};
use crate::domain::account::{AccountId, Caller};
use crate::domain::event::Event;

impl UseCases {
    /// Events after the cursor `after` (0: from the start), at most `limit`: the caller's
    /// own account's; the operator's for the named account or all.
    pub async fn list_events(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        after: i64,
        limit: u32,
    ) -> UseCaseResult<Vec<Event>> {
        let account = listing_scope(caller, account)?;
        Ok(self.store.list_events(account, after, limit).await?)
    }
}
