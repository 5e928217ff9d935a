//! Administration: tokens (`/api/tokens`) and the audit log (`/api/audit`).

use axum::extract::State;
use axum::http::StatusCode;
use shared::{AuditPage, CreateToken, CreatedToken, TokenInfo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Json, Path, Query};
use super::AppState;
use crate::callers::{self, Caller};
use crate::events::Revocation;

const AUDIT_PAGE: i64 = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(revoke)).routes(routes!(audit))
}

/// Every API token (never its secret).
#[utoipa::path(get, path = "/tokens", operation_id = "list_tokens", tag = "access", security(("token" = ["administer"])), responses((status = OK, body = Vec<TokenInfo>)))]
async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<TokenInfo>>, ApiError> {
    Ok(axum::Json(state.services.store.list_tokens().await?))
}

/// Makes a token; the answer is the only time its secret is shown.
#[utoipa::path(post, path = "/tokens", operation_id = "create_token", tag = "access", security(("token" = ["administer"])), request_body = CreateToken,
    responses((status = CREATED, body = CreatedToken)))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    let created = callers::issue(state.services.store.as_ref(), body, &caller.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Deletes the token; its sessions and event streams end at once.
#[utoipa::path(delete, path = "/tokens/{name}", tag = "access", security(("token" = ["administer"])), params(("name" = String, Path)),
    responses((status = OK, body = TokenInfo)))]
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<axum::Json<TokenInfo>, ApiError> {
    let revoked = state.services.store.revoke_token(&name, caller.audit("token.revoke", &name, None)).await?;
    state.services.bus.revoke(Revocation::Token(revoked.id.clone()));
    Ok(axum::Json(revoked.info))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    /// Entries older than this id (the previous page's `next_before`).
    before: Option<i64>,
    /// 1 to 1000; default 100.
    limit: Option<i64>,
}

/// Who changed what, newest first.
#[utoipa::path(get, path = "/audit", tag = "access", security(("token" = ["administer"])), params(AuditQuery), responses((status = OK, body = AuditPage)))]
async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(AUDIT_PAGE);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("`limit` must be between 1 and 1000"));
    }
    let entries = state.services.store.audit_page(query.before, limit).await?;
    let next_before = (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id)).flatten();
    Ok(axum::Json(AuditPage { entries, next_before }))
}
