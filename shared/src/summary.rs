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
    /// What the gate turned away since the process started.
    pub refused: Refused,
    /// Live event streams: open now, and how they resumed since the process started.
    pub streams: Streams,
}

/// Event streams, for monitoring: how many are open and how reconnecting ones resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Streams {
    pub open: u64,
    /// Resumed from the events kept in memory (the newest 10,000).
    pub resumed_from_memory: u64,
    /// Resumed from older events, read from the database under a budget of their own.
    pub resumed_from_database: u64,
    /// Told to reload (`resync`): resumed from an id unknown, no longer kept, or too far back.
    pub resynced: u64,
    /// Let go for not reading their events; they resume where they left off.
    pub dropped_behind: u64,
}

/// Counts of refused requests and connections, for monitoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refused {
    /// Unknown, expired or revoked tokens and sessions, unreadable credentials, wrong sign-ins.
    pub auth_failures: u64,
    /// Attempts refused (429) while their address waited after repeated failures.
    pub auth_throttled: u64,
    /// Request bodies that did not arrive within `--body-timeout`.
    pub bodies_timed_out: u64,
    /// Connections closed at once: their address had `--max-connections-per-client` open.
    pub connections_over_cap: u64,
}

/// `GET /api/mlflow`: whether the MLflow proxy is configured and its upstream answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MlflowStatus {
    pub configured: bool,
    pub reachable: bool,
    pub message: String,
}
