//! `GET/POST /api/views`, `PUT/DELETE /api/views/{id}`: saved views of the runs list,
//! each its caller's (any role may keep its own).

use axum::extract::State;
use axum::http::StatusCode;
use shared::{given, NewView, RunQuery, SavedView, OPTIONAL_COLUMNS};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path};
use super::AppState;
use crate::callers::Caller;
use crate::{run_filter, validate};

/// Views one caller may keep: any role may save views, so there is a bound.
const MAX_VIEWS: usize = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(change, remove))
}

/// The caller's saved views and everyone's shared ones.
#[utoipa::path(get, path = "/views", operation_id = "list_views", tag = "views", security(("token" = ["read"])), responses((status = OK, body = Vec<SavedView>)))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Vec<SavedView>>, ApiError> {
    Ok(axum::Json(state.services.store.list_views(&caller.actor().name).await?))
}

/// The view with its query checked as the runs list checks it, and written the one
/// way (so equal views have equal queries).
fn checked(mut view: NewView) -> Result<NewView, ApiError> {
    validate::name("name", &view.name, 128)?;
    validate::text("query", &view.query, 2048)?;
    let query: RunQuery = serde_urlencoded::from_str(view.query.trim_start_matches('?'))
        .map_err(|e| ApiError::invalid(format!("`query` is not a runs list query: {e}")))?;
    if given(&query.cursor).is_some() || query.limit.is_some() {
        return Err(ApiError::invalid("a view keeps filters and sort, not `limit` or `cursor`"));
    }
    run_filter::parse(&query, chrono::Utc::now())?;
    for column in &view.hidden_columns {
        if !OPTIONAL_COLUMNS.iter().any(|(known, _)| known == column) {
            let known: Vec<&str> = OPTIONAL_COLUMNS.iter().map(|(key, _)| *key).collect();
            return Err(ApiError::invalid(format!("unknown column `{column}` (expected {})", known.join(", "))));
        }
    }
    view.hidden_columns.sort();
    view.hidden_columns.dedup();
    view.query = serde_urlencoded::to_string(&query).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(view)
}

#[utoipa::path(post, path = "/views", operation_id = "create_view", tag = "views", security(("token" = ["read"])), request_body = NewView, responses((status = CREATED, body = SavedView)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(view): Json<NewView>,
) -> Result<(StatusCode, axum::Json<SavedView>), ApiError> {
    let view = checked(view)?;
    let owner = caller.actor().name;
    if state.services.store.list_views(&owner).await?.iter().filter(|v| v.mine).count() >= MAX_VIEWS {
        return Err(ApiError::Conflict(format!("you have {MAX_VIEWS} views already; delete one first")));
    }
    Ok((StatusCode::CREATED, axum::Json(state.services.store.save_view(None, &owner, view).await?)))
}

/// Changes one of the caller's views.
#[utoipa::path(put, path = "/views/{id}", tag = "views", security(("token" = ["read"])), params(("id" = String, Path)), request_body = NewView,
    responses((status = OK, body = SavedView)))]
async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(view): Json<NewView>,
) -> Result<axum::Json<SavedView>, ApiError> {
    validate::name("id", &id, 36)?;
    let view = checked(view)?;
    Ok(axum::Json(state.services.store.save_view(Some(&id), &caller.actor().name, view).await?))
}

#[utoipa::path(delete, path = "/views/{id}", operation_id = "delete_view", tag = "views", security(("token" = ["read"])), params(("id" = String, Path)),
    responses((status = NO_CONTENT, description = "removed")))]
async fn remove(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    validate::name("id", &id, 36)?;
    state.services.store.delete_view(&id, &caller.actor().name).await?;
    Ok(StatusCode::NO_CONTENT)
}
