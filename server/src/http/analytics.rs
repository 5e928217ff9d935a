//! `GET /api/analytics/series` and `GET /api/analytics/breakdown`.

use axum::extract::State;
use chrono::Utc;
use shared::{AnalyticsQuery, Breakdown, Series};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Query};
use super::AppState;
use crate::analytics::Plan;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(series)).routes(routes!(breakdown))
}

fn checked(query: &AnalyticsQuery) -> Result<(), ApiError> {
    if let Some(workflow) = &query.workflow {
        crate::validate::text("workflow", workflow, 256)?;
    }
    Ok(())
}

/// A metric over time, one line per group.
#[utoipa::path(get, path = "/analytics/series", tag = "analytics", security(("token" = ["read"])), params(AnalyticsQuery),
    responses((status = OK, body = Series)))]
async fn series(
    State(state): State<AppState>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<axum::Json<Series>, ApiError> {
    checked(&query)?;
    let plan = Plan::series(&query, Utc::now()).map_err(ApiError::invalid)?;
    Ok(axum::Json(state.services.analytics.series(&plan).await?))
}

/// Totals per workflow, agent, model or (one workflow's) node.
#[utoipa::path(get, path = "/analytics/breakdown", tag = "analytics", security(("token" = ["read"])), params(AnalyticsQuery),
    responses((status = OK, body = Breakdown)))]
async fn breakdown(
    State(state): State<AppState>,
    Query(query): Query<AnalyticsQuery>,
) -> Result<axum::Json<Breakdown>, ApiError> {
    checked(&query)?;
    let plan = Plan::breakdown(&query, Utc::now()).map_err(ApiError::invalid)?;
    Ok(axum::Json(state.services.analytics.breakdown(&plan).await?))
}
