//! `backorder.v1.DropListService`: query and export (any key), imports (operator), keyword
//! alerts (per account). Long imports run in a task and stream progress messages.

use super::drop_list_convert::{
    alert_filter_in, alert_id, alert_out, csv_line, entry_out, field_error, progress_out, query_in,
};
use super::error::{ApiError, ApiResult};
use super::{Context, account_in_scope};
use crate::domain::account::Caller;
use crate::domain::drop_list::Paging;
use crate::drop_list::{
    FileFormat, ImportError, ImportReport, LIMITS, Scope, check_file, feed, import_file,
};
use crate::store::PageRequest;
use backorder_proto::backorder::v1 as pb;
use futures::Stream;
use std::pin::Pin;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

type Streamed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// CSV export chunk size: large enough for few messages, far below gRPC's 4 MiB default.
const CSV_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct DropListApi {
    ctx: Context,
    /// The registry's PendingDeleteFeed, when configured (`serve --registry-url`).
    registry_url: Option<String>,
}

impl DropListApi {
    pub fn new(ctx: Context, registry_url: Option<String>) -> Self {
        Self { ctx, registry_url }
    }

    /// Runs an import in a task; progress goes out as it happens, the summary last.
    fn spawn_import<F>(&self, work: F) -> Streamed<pb::ImportProgress>
    where
        F: FnOnce(mpsc::Sender<Result<pb::ImportProgress, Status>>) -> ImportTask + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(64);
        let task = work(sender.clone());
        tokio::spawn(async move {
            let result = task.await;
            let last = result.map(|report| progress_out(&report, true));
            let _ = sender.send(last.map_err(Status::from)).await;
        });
        Box::pin(ReceiverStream::new(receiver))
    }
}

type ImportTask = Pin<Box<dyn std::future::Future<Output = ApiResult<ImportReport>> + Send>>;

/// A progress callback that never blocks the import: when the client reads slowly, interim
/// messages are skipped (the final summary is always sent).
fn progress_sender(
    sender: mpsc::Sender<Result<pb::ImportProgress, Status>>,
) -> impl FnMut(&ImportReport) + Send {
    move |report| {
        let _ = sender.try_send(Ok(progress_out(report, false)));
    }
}

fn file_format(value: i32) -> ApiResult<Option<FileFormat>> {
    match pb::ImportFileFormat::try_from(value) {
        Ok(pb::ImportFileFormat::Unspecified) => Ok(None),
        Ok(pb::ImportFileFormat::HexonetZip) => Ok(Some(FileFormat::HexonetZip)),
        Ok(pb::ImportFileFormat::Csv) => Ok(Some(FileFormat::Csv)),
        Err(_) => Err(ApiError::invalid(
            "format",
            format!("unknown value {value}"),
        )),
    }
}

#[tonic::async_trait]
impl pb::drop_list_service_server::DropListService for DropListApi {
    async fn query_drop_list(
        &self,
        request: Request<pb::QueryDropListRequest>,
    ) -> Result<Response<pb::QueryDropListResponse>, Status> {
        self.ctx.caller(&request).await?;
        let body = request.into_inner();
        let query = query_in(body.query.as_ref())?;
        let paging = Paging::parse(i64::from(body.first), i64::from(body.limit))
            .map_err(|e| field_error("", e))?;
        let page = self
            .ctx
            .store
            .query_drop_list(&query, paging.first, paging.limit, self.ctx.clock.now())
            .await
            .map_err(ApiError::from)?;
        let count = i32::try_from(page.entries.len()).unwrap_or(i32::MAX);
        Ok(Response::new(pb::QueryDropListResponse {
            entries: page.entries.iter().map(entry_out).collect(),
            first: body.first,
            // COUNT = LAST - FIRST + 1 always holds, also for an empty page.
            last: body.first + count - 1,
            count,
            limit: i32::try_from(paging.limit).unwrap_or(i32::MAX),
            total: i64::try_from(page.total).unwrap_or(i64::MAX),
        }))
    }

    type ExportDropListStream = Streamed<pb::DropListEntry>;

    async fn export_drop_list(
        &self,
        request: Request<pb::ExportDropListRequest>,
    ) -> Result<Response<Self::ExportDropListStream>, Status> {
        self.ctx.caller(&request).await?;
        let query = query_in(request.get_ref().query.as_ref())?;
        let rows = self.ctx.store.export_drop_list(query, self.ctx.clock.now());
        let stream = ReceiverStream::new(rows).map(|row| {
            row.map(|entry| entry_out(&entry))
                .map_err(|e| Status::from(ApiError::from(e)))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    type ExportDropListCsvStream = Streamed<pb::CsvChunk>;

    async fn export_drop_list_csv(
        &self,
        request: Request<pb::ExportDropListRequest>,
    ) -> Result<Response<Self::ExportDropListCsvStream>, Status> {
        self.ctx.caller(&request).await?;
        let query = query_in(request.get_ref().query.as_ref())?;
        let mut rows = self.ctx.store.export_drop_list(query, self.ctx.clock.now());
        let (sender, receiver) = mpsc::channel(8);
        tokio::spawn(async move {
            let mut chunk = String::new();
            while let Some(row) = rows.recv().await {
                match row {
                    Ok(entry) => chunk.push_str(&csv_line(&entry)),
                    Err(error) => {
                        let _ = sender.send(Err(Status::from(ApiError::from(error)))).await;
                        return;
                    }
                }
                // Chunks end at line ends, so a client may process each on its own.
                if chunk.len() >= CSV_CHUNK_BYTES {
                    let data = std::mem::take(&mut chunk).into_bytes();
                    if sender.send(Ok(pb::CsvChunk { data })).await.is_err() {
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = sender
                    .send(Ok(pb::CsvChunk {
                        data: chunk.into_bytes(),
                    }))
                    .await;
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    type ImportFromRegistryStream = Streamed<pb::ImportProgress>;

    async fn import_from_registry(
        &self,
        request: Request<pb::ImportFromRegistryRequest>,
    ) -> Result<Response<Self::ImportFromRegistryStream>, Status> {
        self.ctx.operator(&request).await?;
        let Some(url) = self.registry_url.clone() else {
            return Err(ApiError::FailedPrecondition(
                "no registry feed is configured: start the server with --registry-url".into(),
            )
            .into());
        };
        let zones = request.into_inner().zones;
        super::convert::at_most(
            "zones",
            zones.len(),
            crate::domain::drop_list::filter::MAX_ZONES,
        )?;
        for (i, zone) in zones.iter().enumerate() {
            crate::domain::drop_list::filter::parse_zone(&format!("zones[{i}]"), zone)
                .map_err(|e| field_error("", e))?;
        }
        let (store, clock) = (self.ctx.store.clone(), self.ctx.clock.clone());
        Ok(Response::new(self.spawn_import(move |sender| {
            Box::pin(async move {
                let mut progress = progress_sender(sender);
                let mut client = feed::connect(&url)
                    .await
                    .map_err(|e| ApiError::Unavailable(e.to_string()))?;
                let (report, _) =
                    feed::import_snapshot(&store, &clock, &mut client, &zones, &mut progress)
                        .await
                        .map_err(|e| match e {
                            feed::FeedError::Store(store) => ApiError::from(store),
                            other => ApiError::Unavailable(other.to_string()),
                        })?;
                Ok(report)
            })
        })))
    }

    type ImportFileStream = Streamed<pb::ImportProgress>;

    async fn import_file(
        &self,
        request: Request<pb::ImportFileRequest>,
    ) -> Result<Response<Self::ImportFileStream>, Status> {
        self.ctx.operator(&request).await?;
        let body = request.into_inner();
        let format = file_format(body.format)?;
        if body.content.is_empty() {
            return Err(ApiError::invalid("content", "is empty").into());
        }
        // A broken container, or a file over a limit (size, unpacked size, line length,
        // lines), is refused before anything is written: the file is read once to count,
        // without keeping it unpacked, then streamed into the import.
        let content: std::sync::Arc<[u8]> = body.content.into();
        let counted = {
            let content = content.clone();
            tokio::task::spawn_blocking(move || check_file(&content, format, &LIMITS))
                .await
                .map_err(|e| ApiError::Internal(format!("file check failed: {e}")))?
        };
        let total = counted.map_err(|e| ApiError::invalid("content", e.0))?;
        let scope = if body.full_list {
            Scope::FullForZonesSeen
        } else {
            Scope::Partial
        };
        let (store, now) = (self.ctx.store.clone(), self.ctx.clock.now());
        let file_name = crate::domain::truncate(&body.file_name, 200);
        tracing::info!(file = %file_name, lines = total, "drop-list file import");
        Ok(Response::new(self.spawn_import(move |sender| {
            Box::pin(async move {
                let mut progress = progress_sender(sender);
                import_file(&store, now, content, format, total, scope, &mut progress)
                    .await
                    .map_err(|e| match e {
                        ImportError::Store(store) => ApiError::from(store),
                        ImportError::File(file) => ApiError::invalid("content", file.0),
                    })
            })
        })))
    }

    async fn create_alert(
        &self,
        request: Request<pb::CreateAlertRequest>,
    ) -> Result<Response<pb::Alert>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let alert = request
            .into_inner()
            .alert
            .ok_or_else(|| ApiError::invalid("alert", "is required"))?;
        let account = account_in_scope(&caller, &alert.account_id)
            .map_err(|e| rename_account_field(e, "alert.account_id"))?;
        let filter = alert_filter_in(&alert)?;
        self.ctx
            .store
            .get_account(account)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound(format!("account {} not found", account.0)))?;
        let created = self
            .ctx
            .store
            .create_drop_alert(account, &filter, self.ctx.clock.now())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(alert_out(&created)))
    }

    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let body = request.into_inner();
        let limit = super::convert::page_size(body.page_size)?;
        let after = super::convert::page_token_id(&body.page_token)?;
        let alerts = self
            .ctx
            .store
            .list_drop_alerts(own_account(&caller), PageRequest { after, limit })
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListAlertsResponse {
            next_page_token: super::convert::next_token(&alerts, limit, |a| a.id),
            alerts: alerts.iter().map(alert_out).collect(),
        }))
    }

    async fn delete_alert(
        &self,
        request: Request<pb::DeleteAlertRequest>,
    ) -> Result<Response<pb::DeleteAlertResponse>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let id = alert_id(&request.get_ref().alert_id)?;
        // Another account's alert is "not found": its existence is not ours to reveal.
        let deleted = self
            .ctx
            .store
            .delete_drop_alert(own_account(&caller), id)
            .await
            .map_err(ApiError::from)?;
        if !deleted {
            return Err(ApiError::NotFound(format!("alert {id} not found")).into());
        }
        Ok(Response::new(pb::DeleteAlertResponse {}))
    }
}

/// An account key sees its own account's alerts; the operator sees all.
fn own_account(caller: &Caller) -> Option<crate::domain::account::AccountId> {
    match caller {
        Caller::Account { account_id, .. } => Some(*account_id),
        Caller::Operator { .. } => None,
    }
}

fn rename_account_field(error: ApiError, field: &str) -> ApiError {
    match error {
        ApiError::InvalidArgument { rule, .. } => ApiError::invalid(field, rule),
        other => other,
    }
}
