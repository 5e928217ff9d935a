//! `GET /api/budgets`, `PUT` and `DELETE /api/budgets/{workflow}`.

use axum::extract::State;
use shared::{Budget, BudgetLimits};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path};
use super::AppState;
use crate::callers::Caller;
use crate::store::limits::{MAX_COST_USD, MAX_TOKENS};
use crate::validate;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(set, remove))
}

/// Every budget with what its workflow has spent.
#[utoipa::path(get, path = "/budgets", operation_id = "list_budgets", tag = "budgets", security(("token" = ["read"])), responses((status = OK, body = Vec<Budget>)))]
async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<Budget>>, ApiError> {
    Ok(axum::Json(state.services.budgets.list().await?))
}

fn checked(limits: &BudgetLimits) -> Result<(), ApiError> {
    for (field, cap) in
        [("daily_usd", limits.daily_usd), ("monthly_usd", limits.monthly_usd), ("run_max_usd", limits.run_max_usd)]
    {
        if cap.is_some_and(|cap| !(cap.is_finite() && cap > 0.0 && cap <= MAX_COST_USD)) {
            return Err(ApiError::invalid(format!("`{field}` must be more than 0 and at most {MAX_COST_USD}")));
        }
    }
    if limits.run_max_tokens.is_some_and(|cap| !(1..=MAX_TOKENS).contains(&cap)) {
        return Err(ApiError::invalid(format!("`run_max_tokens` must be between 1 and {MAX_TOKENS}")));
    }
    if *limits == BudgetLimits::default() {
        return Err(ApiError::invalid(
            "set at least one of daily_usd, monthly_usd, run_max_usd, run_max_tokens (or DELETE the budget)",
        ));
    }
    Ok(())
}

/// Sets (or replaces) a workflow's budget.
#[utoipa::path(put, path = "/budgets/{workflow}", tag = "budgets", security(("token" = ["operate"])), params(("workflow" = String, Path)),
    request_body = BudgetLimits, responses((status = OK, body = Budget)))]
async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow): Path<String>,
    Json(limits): Json<BudgetLimits>,
) -> Result<axum::Json<Budget>, ApiError> {
    validate::name("workflow", &workflow, 256)?;
    checked(&limits)?;
    let detail = serde_json::to_string(&limits).ok();
    Ok(axum::Json(state.services.budgets.set(&workflow, limits, caller.audit("budget.set", &workflow, detail)).await?))
}

#[utoipa::path(delete, path = "/budgets/{workflow}", operation_id = "delete_budget", tag = "budgets", security(("token" = ["operate"])), params(("workflow" = String, Path)),
    responses((status = NO_CONTENT, description = "removed")))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(workflow): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    validate::name("workflow", &workflow, 256)?;
    state.services.budgets.delete(&workflow, caller.audit("budget.delete", &workflow, None)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
