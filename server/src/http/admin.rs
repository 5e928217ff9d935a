//! Administration: tokens (`/api/tokens`) and the audit log (`/api/audit`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::Router;
use shared::{AuditPage, CreateToken, CreatedToken, TokenInfo};

use super::error::{ApiError, Json, Path, Query};
use super::AppState;
use crate::access::{self, Caller};
use crate::events::Revocation;

const AUDIT_PAGE: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{name}", delete(revoke))
        .route("/audit", get(audit))
}

async fn list(State(state): State<AppState>) -> Result<axum::Json<Vec<TokenInfo>>, ApiError> {
    Ok(axum::Json(state.store.list_tokens().await?))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateToken>,
) -> Result<(StatusCode, axum::Json<CreatedToken>), ApiError> {
    let created = access::issue(state.store.as_ref(), body, &caller.actor()).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Deletes the token; its sessions and event streams end at once.
async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<axum::Json<TokenInfo>, ApiError> {
    let revoked = state.store.revoke_token(&name, caller.audit("token.revoke", &name, None)).await?;
    state.bus.revoke(Revocation::Token(revoked.id.clone()));
    Ok(axum::Json(revoked.info))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(AUDIT_PAGE);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("`limit` must be between 1 and 1000"));
    }
    let entries = state.store.audit_page(query.before, limit).await?;
    let next_before = (entries.len() as i64 == limit).then(|| entries.last().map(|e| e.id)).flatten();
    Ok(axum::Json(AuditPage { entries, next_before }))
}
