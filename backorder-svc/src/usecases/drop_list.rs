//! The drop list: query and export (any caller), imports (operator), keyword alerts (per
//! account).

use super::{
    UseCaseError, UseCaseResult, UseCases, account_in_scope, own_account, require_operator,
    require_write,
};
use crate::clock::SharedClock;
use crate::domain::account::{AccountId, Caller};
use crate::domain::drop_list::{DropQuery, LabelFilter, Paging};
use crate::drop_list::{
    FileFormat, ImportError, ImportReport, LIMITS, Scope, check_file, feed, import_file,
};
use crate::store::drop_list::{DropAlert, DropListEntry, DropPage};
use crate::store::{PageRequest, SharedStore, StoreResult};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::mpsc;

/// A drop-list file to import.
#[derive(Debug, Clone)]
pub struct ImportFile {
    pub content: Arc<[u8]>,
    /// None: told from the content.
    pub format: Option<FileFormat>,
    /// The file is the full list of the zones it names: rows of those zones it lacks go.
    pub full_list: bool,
    /// For the log only.
    pub file_name: String,
}

/// An import checked and ready to run (typically in a task of its own, reporting progress).
#[derive(Debug)]
pub struct Import {
    store: SharedStore,
    job: Job,
}

#[derive(Debug)]
enum Job {
    Registry {
        url: String,
        zones: Vec<String>,
        clock: SharedClock,
    },
    File {
        content: Arc<[u8]>,
        format: Option<FileFormat>,
        total: u64,
        scope: Scope,
        now: DateTime<Utc>,
    },
}

impl Import {
    /// Runs the import; `progress` hears of it as it goes.
    pub async fn run(
        self,
        progress: &mut (dyn FnMut(&ImportReport) + Send),
    ) -> UseCaseResult<ImportReport> {
        match self.job {
            Job::Registry { url, zones, clock } => {
                let mut client = feed::connect(&url)
                    .await
                    .map_err(|e| UseCaseError::Unavailable(e.to_string()))?;
                let (report, _) =
                    feed::import_snapshot(&self.store, &clock, &mut client, &zones, progress)
                        .await
                        .map_err(|e| match e {
                            feed::FeedError::Store(store) => UseCaseError::from(store),
                            other => UseCaseError::Unavailable(other.to_string()),
                        })?;
                Ok(report)
            }
            Job::File {
                content,
                format,
                total,
                scope,
                now,
            } => import_file(&self.store, now, content, format, total, scope, progress)
                .await
                .map_err(|e| match e {
                    ImportError::Store(store) => UseCaseError::from(store),
                    ImportError::File(file) => UseCaseError::invalid("content", file.0),
                }),
        }
    }
}

impl UseCases {
    /// One page of the searchable drop list and the total that match.
    pub async fn query_drop_list(
        &self,
        _caller: &Caller,
        query: &DropQuery,
        paging: Paging,
    ) -> UseCaseResult<DropPage> {
        Ok(self
            .store
            .query_drop_list(query, paging.first, paging.limit, self.clock.now())
            .await?)
    }

    /// Every searchable row that matches, streamed in the query's order.
    pub fn export_drop_list(
        &self,
        _caller: &Caller,
        query: DropQuery,
    ) -> mpsc::Receiver<StoreResult<DropListEntry>> {
        self.store.export_drop_list(query, self.clock.now())
    }

    /// An import of the registry's pending-delete feed (all zones, or the named ones), when
    /// a feed is configured (operator).
    pub fn import_from_registry(
        &self,
        caller: &Caller,
        zones: Vec<String>,
    ) -> UseCaseResult<Import> {
        require_operator(caller)?;
        require_write(caller)?;
        let Some(url) = self.registry_url.clone() else {
            return Err(UseCaseError::Refused(
                "no registry feed is configured: start the server with --registry-url".into(),
            ));
        };
        Ok(Import {
            store: self.store.clone(),
            job: Job::Registry {
                url,
                zones,
                clock: self.clock.clone(),
            },
        })
    }

    /// An import of a file (operator). A broken container, or a file over a limit (size,
    /// unpacked size, line length, lines), is refused before anything is written: the file
    /// is read once to count, without keeping it unpacked, then streamed into the import.
    pub async fn import_file(&self, caller: &Caller, file: ImportFile) -> UseCaseResult<Import> {
        require_operator(caller)?;
        require_write(caller)?;
        if file.content.is_empty() {
            return Err(UseCaseError::invalid("content", "is empty"));
        }
        let counted = {
            let content = file.content.clone();
            let format = file.format;
            tokio::task::spawn_blocking(move || check_file(&content, format, &LIMITS))
                .await
                .map_err(|e| UseCaseError::Internal(format!("file check failed: {e}")))?
        };
        let total = counted.map_err(|e| UseCaseError::invalid("content", e.0))?;
        let scope = if file.full_list {
            Scope::FullForZonesSeen
        } else {
            Scope::Partial
        };
        let file_name = crate::domain::truncate(&file.file_name, 200);
        tracing::info!(file = %file_name, lines = total, "drop-list file import");
        Ok(Import {
            store: self.store.clone(),
            job: Job::File {
                content: file.content,
                format: file.format,
                total,
                scope,
                now: self.clock.now(),
            },
        })
    }

    /// A keyword alert for an account (its own for an account caller).
    pub async fn create_alert(
        &self,
        caller: &Caller,
        account: Option<AccountId>,
        filter: &LabelFilter,
    ) -> UseCaseResult<DropAlert> {
        require_write(caller)?;
        let account = account_in_scope(caller, account)?;
        self.store
            .get_account(account)
            .await?
            .ok_or_else(|| UseCaseError::NotFound(format!("account {} not found", account.0)))?;
        Ok(self
            .store
            .create_drop_alert(account, filter, self.clock.now())
            .await?)
    }

    /// The caller's alerts (every account's for the operator).
    pub async fn list_alerts(
        &self,
        caller: &Caller,
        page: PageRequest<i64>,
    ) -> UseCaseResult<Vec<DropAlert>> {
        Ok(self
            .store
            .list_drop_alerts(own_account(caller), page)
            .await?)
    }

    /// Deletes one of the caller's alerts; another account's alert is "not found" (its
    /// existence is not ours to reveal).
    pub async fn delete_alert(&self, caller: &Caller, id: i64) -> UseCaseResult<()> {
        require_write(caller)?;
        let deleted = self
            .store
            .delete_drop_alert(own_account(caller), id)
            .await?;
        if !deleted {
            return Err(UseCaseError::NotFound(format!("alert {id} not found")));
        }
        Ok(())
    }
}
