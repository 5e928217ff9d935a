//! `GET /api/summary` and `GET /api/health`.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use shared::{Health, Summary};

use super::error::ApiError;
use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/summary", get(summary)).route("/health", get(health))
}

async fn summary(State(state): State<AppState>) -> Result<axum::Json<Summary>, ApiError> {
    Ok(axum::Json(crate::summary::compute(state.store.as_ref()).await?))
}

async fn health(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    let agents = state.store.list_agents().await?;
    Ok(axum::Json(Health {
        status: "healthy".to_owned(),
        registered_agents: agents.len() as i64,
        active_agents: agents.iter().filter(|a| a.is_alive).count() as i64,
        database: state.store.backend().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}
