//! The rollups analytics read, kept by triggers for every writer's rows. Its SQL,
//! `sql.rs`, is compiled once per backend (`store/sql/`).

use async_trait::async_trait;

use super::{Result, Ts};

/// The window and grain of an analytics read: rollup rows with `since <= hour < until`,
/// summed per bucket, or over the whole window without one.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupQuery {
    pub since: Ts,
    pub until: Ts,
    pub bucket: Option<shared::Bucket>,
    pub workflow: Option<String>,
}

/// Runs that started in one bucket (at its start; over a whole window, its first
/// hour's), of one workflow on one agent (`""`: none).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRollup {
    pub at: Ts,
    pub workflow: String,
    pub agent: String,
    pub runs: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub cost_usd: f64,
    pub tokens: i64,
}

/// Finished runs of one bucket, workflow and agent whose duration fell in
/// `[lower_seconds, upper_seconds)`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DurationRollup {
    pub at: Ts,
    pub workflow: String,
    pub agent: String,
    pub lower_seconds: f64,
    pub upper_seconds: f64,
    pub runs: i64,
}

/// Node reports of one bucket, workflow, node and model (`""`: none named).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NodeRollup {
    pub at: Ts,
    pub workflow: String,
    pub node: String,
    pub model: String,
    pub reports: i64,
    pub timed: i64,
    pub cost_usd: f64,
    pub tokens: i64,
    pub duration_seconds: f64,
}

/// The rollups analytics read, kept by triggers for every writer's rows.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    async fn run_rollups(&self, query: &RollupQuery) -> Result<Vec<RunRollup>>;
    async fn duration_rollups(&self, query: &RollupQuery) -> Result<Vec<DurationRollup>>;
    async fn node_rollups(&self, query: &RollupQuery) -> Result<Vec<NodeRollup>>;
    /// Moves the hourly rollups of hours before `before` into daily ones.
    async fn compact_rollups(&self, before: Ts) -> Result<()>;
}
