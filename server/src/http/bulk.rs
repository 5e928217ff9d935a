//! `POST /api/workflows/bulk` (a dry run, or a bulk job), `GET /api/bulk`,
//! `GET /api/bulk/{id}`, `POST /api/bulk/{id}/stop`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared::{given, BulkAction, BulkJob, BulkPreview, BulkRequest, RunQuery, RunStatus, StatusCount};
use std::collections::HashSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::{run_filter, validate, AppState};
use crate::access::Caller;
use crate::store::{BulkSelection, NewBulkJob, StatusTally};

/// Most ids one request may name; a filter reaches any number of runs.
pub const MAX_IDS: usize = 10_000;
/// Jobs running at once: each holds the writer for a batch at a time, so a client
/// that floods the dashboard with jobs is told to wait rather than slowing every write.
const MAX_RUNNING: i64 = 10;
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
    let selection = selection(&request, Utc::now())?;
    let tallies = match &selection {
        BulkSelection::Ids(ids) => state.store.tally_ids(ids).await?,
        BulkSelection::Filter(query) => state.store.tally_filter(&run_filter::parse(query, Utc::now())?).await?,
    };
    let preview = preview(request.action, tallies);
    if request.dry_run {
        return Ok(axum::Json(preview).into_response());
    }
    if state.store.running_bulk_jobs().await? >= MAX_RUNNING {
        return Err(ApiError::Conflict(format!(
            "{MAX_RUNNING} bulk jobs are running already; wait for one to end, or stop one"
        )));
    }
    let job = NewBulkJob {
        id: uuid::Uuid::new_v4().to_string(),
        action: request.action,
        selection,
        by: caller.actor(),
        matched: preview.matched,
        eligible: preview.eligible,
    };
    let audit = caller.audit("bulk.create", &job.id, Some(format!("{} of {} runs", job.action.as_str(), job.matched)));
    let created = state.store.create_bulk_job(job, audit).await?;
    state.bulk.wake();
    Ok((StatusCode::ACCEPTED, axum::Json(created)).into_response())
}

/// The runs a request names: its ids (checked, each once), or its filter with the
/// window fixed now, so that runs started later (a restart's among them) are not
/// reached.
fn selection(request: &BulkRequest, now: DateTime<Utc>) -> Result<BulkSelection, ApiError> {
    match (&request.ids, &request.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(ApiError::invalid(format!("`ids` holds between 1 and {MAX_IDS} run ids")));
            }
            let mut seen = HashSet::new();
            let mut unique = Vec::with_capacity(ids.len());
            for id in ids {
                let id = validate::run_id(id)?;
                if seen.insert(id.clone()) {
                    unique.push(id);
                }
            }
            Ok(BulkSelection::Ids(unique))
        }
        (None, Some(filter)) => {
            if given(&filter.cursor).is_some() || filter.limit.is_some() {
                return Err(ApiError::invalid("a bulk `filter` takes the list's filters, not `limit` or `cursor`"));
            }
            let checked = RunQuery { sort: None, ..filter.clone() };
            run_filter::parse(&checked, now)?;
            let (since, until) = checked.window(now).map_err(ApiError::invalid)?;
            // Ends now at the latest; a window that starts later is empty, not inverted.
            let until = until.map_or(now, |until| until.min(now)).max(since.unwrap_or(DateTime::<Utc>::MIN_UTC));
            Ok(BulkSelection::Filter(RunQuery { range: None, since, until: Some(until), ..checked }))
        }
        _ => Err(ApiError::invalid("send either `ids` or `filter`")),
    }
}

fn preview(action: BulkAction, tallies: Vec<StatusTally>) -> BulkPreview {
    let mut by_status = Vec::new();
    let (mut matched, mut eligible, mut cost) = (0, 0, 0.0);
    for tally in tallies {
        // Another writer's status outside ours is counted, never acted on.
        let status = tally.status.parse::<RunStatus>().ok();
        matched += tally.runs;
        if status.is_some_and(|status| action.applies_to(status)) {
            eligible += tally.runs;
            cost += tally.cost_usd.filter(|c| c.is_finite()).unwrap_or(0.0);
        }
        if let Some(status) = status {
            by_status.push(StatusCount { status, count: tally.runs });
        }
    }
    by_status.sort_by_key(|count| RunStatus::ALL.iter().position(|s| *s == count.status));
    let expected_cost_usd = (action == BulkAction::Restart).then_some(cost).filter(|c| c.is_finite());
    BulkPreview { action, matched, eligible, by_status, expected_cost_usd }
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
    Ok(axum::Json(state.store.list_bulk_jobs(limit).await?))
}

fn job_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::NotFound(format!("no bulk job with id {}", id.chars().take(64).collect::<String>())))
}

#[utoipa::path(get, path = "/bulk/{id}", tag = "bulk", security(("token" = ["read"])), params(("id" = uuid::Uuid, Path)), responses((status = OK, body = BulkJob)))]
async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<axum::Json<BulkJob>, ApiError> {
    let id = job_id(&id)?;
    let job = state.store.bulk_job(&id).await?;
    Ok(axum::Json(job.ok_or_else(|| ApiError::NotFound(format!("no bulk job with id {id}")))?))
}

/// Stops a running job: no run is touched after the answer.
#[utoipa::path(post, path = "/bulk/{id}/stop", tag = "bulk", security(("token" = ["operate"])), params(("id" = uuid::Uuid, Path)),
    responses((status = OK, body = BulkJob)))]
async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<BulkJob>, ApiError> {
    let id = job_id(&id)?;
    let audit = caller.audit("bulk.stop", &id, None);
    Ok(axum::Json(state.store.stop_bulk_job(&id, audit).await?))
}
