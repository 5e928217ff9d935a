//! `GET /api/analytics/series` and `GET /api/analytics/breakdown`.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use shared::{AnalyticsQuery, Breakdown, Series};

use super::error::{ApiError, Query};
use super::AppState;
use crate::analytics::{self, Plan};

pub fn routes() -> Router<AppState> {
    Router::new().route("/analytics/series", get(series)).route("/analytics/breakdown", get(breakdown))
}

fn checked(query: &AnalyticsQuery) -> Result<(), ApiError> {
    if let Some(workflow) = &query.workflow {
        super::validate::text("workflow", workflow, 256)?;
    }
    Ok(())
}

async fn series(
    State(state): State<AppState>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<axum::Json<Series>, ApiError> {
    checked(&query)?;
    let plan = Plan::series(&query, Utc::now()).map_err(ApiError::invalid)?;
    Ok(axum::Json(analytics::series(state.store.as_ref(), &plan).await?))
}

async fn breakdown(
    State(state): State<AppState>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<axum::Json<Breakdown>, ApiError> {
    checked(&query)?;
    let plan = Plan::breakdown(&query, Utc::now()).map_err(ApiError::invalid)?;
    Ok(axum::Json(analytics::breakdown(state.store.as_ref(), &plan).await?))
}
