//! The operator's tools: the clock (moved by hand only in manual mode) and scheduler runs,
//! the audit log, the ledger check, the catcher's results and the service status.

use super::{UseCaseError, UseCaseResult, UseCases, require_operator, require_write};
use crate::clock::{ClockError, ManualClock};
use crate::config::ClockKind;
use crate::domain::account::Caller;
use crate::domain::name::DomainName;
use crate::ledger::invariants::{self, InvariantResult, LedgerSnapshot};
use crate::lifecycle::scheduler::{self, PassReport};
use crate::store::catching::{CatchFilter, CatchRecord};
use crate::store::{AuditEntry, AuditFilter, PageRequest};
use crate::supervision::{Part, PartStatus};
use chrono::{DateTime, Utc};

/// The service's time and how it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockView {
    pub now: DateTime<Utc>,
    pub mode: ClockKind,
}

/// The ledger as stored and the invariants checked on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheck {
    pub snapshot: LedgerSnapshot,
    pub results: Vec<InvariantResult>,
}

impl LedgerCheck {
    pub fn ok(&self) -> bool {
        self.results.iter().all(|r| r.holds())
    }
}

/// The background parts and the drops still waiting for a result.
#[derive(Debug, Clone)]
pub struct ServiceStatus {
    pub now: DateTime<Utc>,
    pub parts: Vec<(Part, PartStatus)>,
    pub unresolved_drops: i64,
}

impl UseCases {
    fn clock_view(&self) -> ClockView {
        let mode = match self.clock_kind {
            Some(kind) => kind,
            None if self.clock.as_manual().is_some() => ClockKind::Manual,
            None => ClockKind::System,
        };
        ClockView {
            now: self.clock.now(),
            mode,
        }
    }

    fn manual(&self) -> UseCaseResult<&ManualClock> {
        self.clock.as_manual().ok_or_else(|| {
            UseCaseError::Refused(
                "the clock runs on system time; start the service with --clock manual to move it"
                    .into(),
            )
        })
    }

    pub fn get_clock(&self, caller: &Caller) -> UseCaseResult<ClockView> {
        require_operator(caller)?;
        Ok(self.clock_view())
    }

    /// Sets the manual clock (never backwards), then runs one scheduler pass.
    pub async fn set_clock(&self, caller: &Caller, to: DateTime<Utc>) -> UseCaseResult<ClockView> {
        require_operator(caller)?;
        require_write(caller)?;
        self.manual()?.set(to).map_err(|e| clock_error("time", e))?;
        self.pass().await?;
        Ok(self.clock_view())
    }

    /// Moves the manual clock forward, then (when asked) runs one scheduler pass.
    pub async fn advance_clock(
        &self,
        caller: &Caller,
        by: chrono::Duration,
        run_scheduler: bool,
    ) -> UseCaseResult<ClockView> {
        require_operator(caller)?;
        require_write(caller)?;
        self.manual()?
            .advance(by)
            .map_err(|e| clock_error("by", e))?;
        if run_scheduler {
            self.pass().await?;
        }
        Ok(self.clock_view())
    }

    /// One scheduler pass at the clock's current time.
    pub async fn run_scheduler(&self, caller: &Caller) -> UseCaseResult<PassReport> {
        require_operator(caller)?;
        require_write(caller)?;
        self.pass().await
    }

    async fn pass(&self) -> UseCaseResult<PassReport> {
        Ok(scheduler::run_pass(&self.store, &self.clock).await?)
    }

    pub async fn list_audit_log(
        &self,
        caller: &Caller,
        filter: AuditFilter,
        page: PageRequest<i64>,
    ) -> UseCaseResult<Vec<AuditEntry>> {
        require_operator(caller)?;
        Ok(self.store.list_audit(filter, page).await?)
    }

    /// The six ledger invariants on a consistent snapshot.
    pub async fn check_ledger(&self, caller: &Caller) -> UseCaseResult<LedgerCheck> {
        require_operator(caller)?;
        let snapshot = self.store.ledger_snapshot().await?;
        let results = invariants::check(&snapshot);
        Ok(LedgerCheck { snapshot, results })
    }

    pub async fn service_status(&self, caller: &Caller) -> UseCaseResult<ServiceStatus> {
        require_operator(caller)?;
        let parts = self
            .supervision
            .as_ref()
            .map(|s| s.snapshot())
            .unwrap_or_default();
        let unresolved_drops = self.store.unresolved_drops().await?;
        Ok(ServiceStatus {
            now: self.clock.now(),
            parts,
            unresolved_drops,
        })
    }

    /// The catcher's decided drops (one domain's, or all), newest first, and the total.
    pub async fn list_catches(
        &self,
        caller: &Caller,
        domain: Option<&str>,
        offset: u32,
        limit: u32,
    ) -> UseCaseResult<(Vec<CatchRecord>, i64)> {
        require_operator(caller)?;
        let domain = match domain {
            None => None,
            Some(text) => Some(
                DomainName::parse(text)
                    .map_err(|e| UseCaseError::invalid("domain", e.to_string()))?
                    .ascii()
                    .to_string(),
            ),
        };
        Ok(self
            .store
            .list_catches(CatchFilter {
                domain,
                decided_since: None,
                offset,
                limit,
            })
            .await?)
    }
}

/// A refused clock move: backwards depends on the clock's state (a precondition); past year
/// 9999 is bad input on `field` (no state makes it valid).
fn clock_error(field: &str, error: ClockError) -> UseCaseError {
    match error {
        ClockError::Backwards { .. } => UseCaseError::Refused(error.to_string()),
        ClockError::OutOfRange { now, asked } => UseCaseError::invalid(
            field,
            format!(
                "the clock cannot go past 9999-12-31T23:59:59Z (now {}, asked for {asked})",
                now.to_rfc3339()
            ),
        ),
    }
}
