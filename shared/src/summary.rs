use serde::{Deserialize, Serialize};

/// Totals over all runs and agents: `GET /api/summary` and `summary` events.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    pub total_workflows: i64,
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub total_cost_usd: f64,
    pub total_tokens: i64,
    pub registered_agents: i64,
    pub alive_agents: i64,
}

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub registered_agents: i64,
    pub active_agents: i64,
    pub database: String,
    pub version: String,
}

/// `GET /api/mlflow`: whether the MLflow proxy is configured and its upstream answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MlflowStatus {
    pub configured: bool,
    pub reachable: bool,
    pub message: String,
}
