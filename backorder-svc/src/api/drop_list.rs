//! `backorder.v1.DropListService`: query and export (any key), imports (operator), keyword
//! alerts (per account). Long imports run in a task and stream progress messages.

use super::drop_list_convert::{
    alert_filter_in, alert_id, alert_out, csv_line, entry_out, field_error, progress_out, query_in,
};
use super::error::{ApiError, ApiResult};
use super::{Context, account_id};
use crate::domain::drop_list::Paging;
use crate::drop_list::{FileFormat, ImportReport};
use crate::store::PageRequest;
use crate::usecases::drop_list::{Import, ImportFile};
use crate::usecases::{UseCaseError, UseCases};
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
}

impl DropListApi {
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    fn uc(&self) -> &UseCases {
        &self.ctx.uc
    }
}

/// Runs an import in a task; progress goes out as it happens, the summary last.
fn spawn_import(import: Import) -> Streamed<pb::ImportProgress> {
    let (sender, receiver) = mpsc::channel(64);
    let progress = sender.clone();
    tokio::spawn(async move {
        let result = import.run(&mut progress_sender(progress)).await;
        let last = result.map(|report| progress_out(&report, true));
        let _ = sender.send(last.map_err(Status::from)).await;
    });
    Box::pin(ReceiverStream::new(receiver))
}

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
        let caller = self.ctx.caller(&request).await?;
        let body = request.into_inner();
        let query = query_in(body.query.as_ref())?;
        let paging = Paging::parse(i64::from(body.first), i64::from(body.limit))
            .map_err(|e| field_error("", e))?;
        let page = self.uc().query_drop_list(&caller, &query, paging).await?;
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
        let caller = self.ctx.caller(&request).await?;
        let query = query_in(request.get_ref().query.as_ref())?;
        let rows = self.uc().export_drop_list(&caller, query);
        let stream = ReceiverStream::new(rows).map(|row| {
            row.map(|entry| entry_out(&entry))
                .map_err(|e| Status::from(UseCaseError::from(e)))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    type ExportDropListCsvStream = Streamed<pb::CsvChunk>;

    async fn export_drop_list_csv(
        &self,
        request: Request<pb::ExportDropListRequest>,
    ) -> Result<Response<Self::ExportDropListCsvStream>, Status> {
        let caller = self.ctx.caller(&request).await?;
        let query = query_in(request.get_ref().query.as_ref())?;
        let mut rows = self.uc().export_drop_list(&caller, query);
        let (sender, receiver) = mpsc::channel(8);
        tokio::spawn(async move {
            let mut chunk = String::new();
            while let Some(row) = rows.recv().await {
                match row {
                    Ok(entry) => chunk.push_str(&csv_line(&entry)),
                    Err(error) => {
                        let _ = sender
                            .send(Err(Status::from(UseCaseError::from(error))))
                            .await;
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
        let caller = self.ctx.operator(&request).await?;
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
        let import = self.uc().import_from_registry(&caller, zones)?;
        Ok(Response::new(spawn_import(import)))
    }

    type ImportFileStream = Streamed<pb::ImportProgress>;

    async fn import_file(
        &self,
        request: Request<pb::ImportFileRequest>,
    ) -> Result<Response<Self::ImportFileStream>, Status> {
        let caller = self.ctx.operator(&request).await?;
        let body = request.into_inner();
        let format = file_format(body.format)?;
        let file = ImportFile {
            content: body.content.into(),
            format,
            full_list: body.full_list,
            file_name: body.file_name,
        };
        let import = self.uc().import_file(&caller, file).await?;
        Ok(Response::new(spawn_import(import)))
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
        let account = account_id("alert.account_id", &alert.account_id)?;
        let filter = alert_filter_in(&alert)?;
        let created = self
            .uc()
            .create_alert(&caller, account, &filter)
            .await
            .map_err(|e| rename_account_field(e, "alert.account_id"))?;
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
            .uc()
            .list_alerts(&caller, PageRequest { after, limit })
            .await?;
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
        self.uc().delete_alert(&caller, id).await?;
        Ok(Response::new(pb::DeleteAlertResponse {}))
    }
}

/// The alert's account is named as `alert.account_id` in this call.
fn rename_account_field(error: UseCaseError, field: &str) -> UseCaseError {
    match error {
        UseCaseError::Invalid { field: named, rule } if named == "account_id" => {
            UseCaseError::invalid(field, rule)
        }
        other => other,
    }
}
