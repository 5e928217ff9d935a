//! `GET /api/summary` and `GET /api/health`.

use axum::extract::State;
use shared::{Health, Refused, Streams, Summary};
use std::sync::atomic::Ordering;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(summary)).routes(routes!(health))
}

/// Totals of runs by status, tokens, cost and agents.
#[utoipa::path(get, path = "/summary", tag = "runs", security(("token" = ["read"])), responses((status = OK, body = Summary)))]
async fn summary(State(state): State<AppState>) -> Result<axum::Json<Summary>, ApiError> {
    Ok(axum::Json(crate::summary::compute(state.services.store.as_ref()).await?))
}

/// Open to everyone: the server and its database answer.
#[utoipa::path(get, path = "/health", tag = "server", security(()), responses((status = OK, body = Health)))]
async fn health(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    let agents = state.services.store.list_agents().await?;
    let (auth_failures, auth_throttled) = state.access.failures.counts();
    let refusals = &state.refusals;
    let resumed = &state.services.hub.stats;
    Ok(axum::Json(Health {
        refused: Refused {
            auth_failures,
            auth_throttled,
            bodies_timed_out: refusals.bodies_timed_out.load(Ordering::Relaxed),
            connections_over_cap: refusals.connections_over_cap.load(Ordering::Relaxed),
        },
        streams: Streams {
            open: state.streams.open() as u64,
            resumed_from_memory: resumed.resumed_from_memory.load(Ordering::Relaxed),
            resumed_from_database: resumed.resumed_from_database.load(Ordering::Relaxed),
            resynced: resumed.resynced.load(Ordering::Relaxed),
            dropped_behind: resumed.dropped_behind.load(Ordering::Relaxed),
        },
        status: "healthy".to_owned(),
        registered_agents: agents.len() as i64,
        active_agents: agents.iter().filter(|a| a.is_alive).count() as i64,
        database: state.services.store.backend().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}
