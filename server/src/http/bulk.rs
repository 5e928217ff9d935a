//! `POST /api/workflows/bulk` (a dry run, or a bulk job), `GET /api/bulk`,
//! `GET /api/bulk/{id}`, `POST /api/bulk/{id}/stop`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::{BulkJob, BulkPreview, BulkRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Query};
use super::ids::JobId;
use super::AppState;
use crate::bulk::{BulkError, Submitted};
use crate::callers::Caller;
const LIST_DEFAULT: i64 = 20;
const LIST_MAX: i64 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(bulk)).routes(routes!(list)).routes(routes!(one)).routes(routes!(stop))
}

/// With `dry_run`, what the action would touch; otherwise a bulk job that does it in
/// batches (its progress: `GET /api/bulk/{id}` and `bulk_job` events).
#[utoipa::path(post, path = "/workflows/bulk", tag = "bulk", security(("token" = ["operate"])), request_body = BulkRequest, responses(
    (status = OK, body = BulkPreview, description = "the dry run's count"),
    (status = ACCEPTED, body = BulkJob, description = "the job, started")))]
async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<BulkRequest>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    Ok(match state.services.bulk.submit(&request, &caller).await? {
        Submitted::Preview(preview) => axum::Json(preview).into_response(),
        Submitted::Started(job) => (StatusCode::ACCEPTED, axum::Json(job)).into_response(),
    })
}

impl From<BulkError> for ApiError {
    fn from(error: BulkError) -> Self {
        match error {
            BulkError::Invalid(invalid) => invalid.into(),
            BulkError::Busy => ApiError::Conflict(error.to_string()),
            BulkError::Store(error) => error.into(),
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// 1 to 200; default 20.
    limit: Option<i64>,
}

/// The newest bulk jobs first.
#[utoipa::path(get, path = "/bulk", operation_id = "list_bulk_jobs", tag = "bulk", security(("token" = ["read"])), params(ListQuery), responses((status = OK, body = Vec<BulkJob>)))]
async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<axum::Json<Vec<BulkJob>>, ApiError> {
    let limit = query.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(ApiError::invalid(format!("`limit` must be between 1 and {LIST_MAX}")));
    }
    Ok(axum::Json(state.services.store.list_bulk_jobs(limit).await?))
}

#[utoipa::path(get, path = "/bulk/{id}", tag = "bulk", security(("token" = ["read"])), params(("id" = uuid::Uuid, Path)), responses((status = OK, body = BulkJob)))]
async fn one(State(state): State<AppState>, JobId(id): JobId) -> Result<axum::Json<BulkJob>, ApiError> {
    let job = state.services.store.bulk_job(&id).await?;
    Ok(axum::Json(job.ok_or_else(|| ApiError::NotFound(format!("no bulk job with id {id}")))?))
}

/// Stops a running job: no run is touched after the answer.
#[utoipa::path(post, path = "/bulk/{id}/stop", tag = "bulk", security(("token" = ["operate"])), params(("id" = uuid::Uuid, Path)),
    responses((status = OK, body = BulkJob)))]
async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    JobId(id): JobId,
) -> Result<axum::Json<BulkJob>, ApiError> {
    let audit = caller.audit("bulk.stop", &id, None);
    Ok(axum::Json(state.services.store.stop_bulk_job(&id, audit).await?))
}
