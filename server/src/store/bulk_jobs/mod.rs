//! Bulk jobs: actions on many runs, done in batches by one process at a time. Its SQL,
//! `sql.rs`, is compiled once per backend (`store/sql/`).

use async_trait::async_trait;

use super::access::{Actor, Audit};
use super::runs::RunFilter;
use super::{Result, Ts};

/// What a bulk job acts on: a list of run ids, or the runs a filter selects (its
/// window fixed when the job was made, so that runs started since are not reached).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkSelection {
    Ids(Vec<String>),
    Filter(shared::RunQuery),
}

#[derive(Debug, Clone)]
pub struct NewBulkJob {
    pub id: String,
    pub action: shared::BulkAction,
    pub selection: BulkSelection,
    pub by: Actor,
    pub matched: i64,
    pub eligible: i64,
}

/// A running job a process has claimed: what going on with it needs.
#[derive(Debug, Clone)]
pub struct ClaimedBulkJob {
    pub job: shared::BulkJob,
    pub selection: BulkSelection,
    /// Where the next batch starts; none before the first.
    pub position: Option<String>,
    pub by: Actor,
}

/// One batch of a bulk job: its work, and where the next batch starts.
#[derive(Debug, Clone)]
pub struct BulkStep {
    pub work: BulkWork,
    pub position: Option<String>,
    /// Whether the selection ends with this batch.
    pub last: bool,
}

#[derive(Debug, Clone)]
pub enum BulkWork {
    /// Runs to cancel or delete in the step's own transaction.
    Apply(Vec<String>),
    /// What the job did outside the database (restarts), to count.
    Done(BulkTally),
}

/// What a batch did to its runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkTally {
    pub done: i64,
    /// A reason per skipped run.
    pub skipped: Vec<String>,
    pub failures: Vec<shared::BulkFailure>,
}

/// How many selected runs are in one status, and what they cost.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatusTally {
    pub status: String,
    pub runs: i64,
    pub cost_usd: Option<f64>,
}

/// Bulk jobs: actions on many runs, done in batches by one process at a time.
#[async_trait]
pub trait BulkJobStore: Send + Sync {
    /// The runs a filter selects, by status (its `after` and `limit` do not apply).
    async fn tally_filter(&self, filter: &RunFilter) -> Result<Vec<StatusTally>>;
    /// The runs of `ids` that exist, by status.
    async fn tally_ids(&self, ids: &[String]) -> Result<Vec<StatusTally>>;
    async fn create_bulk_job(&self, job: NewBulkJob, audit: Audit) -> Result<shared::BulkJob>;
    async fn bulk_job(&self, id: &str) -> Result<Option<shared::BulkJob>>;
    /// How many jobs are running.
    async fn running_bulk_jobs(&self) -> Result<i64>;
    /// The newest jobs first.
    async fn list_bulk_jobs(&self, limit: i64) -> Result<Vec<shared::BulkJob>>;
    /// Stops a running job: no batch commits after this does.
    async fn stop_bulk_job(&self, id: &str, audit: Audit) -> Result<shared::BulkJob>;
    /// Hands `worker` the running jobs no live process works on (`renew_and_claim`'s
    /// leases), and its own.
    async fn claim_bulk_jobs(&self, worker: &str) -> Result<Vec<ClaimedBulkJob>>;
    /// Does one batch and records it, in one transaction; `None`, changing nothing,
    /// when the job is no longer running or no longer `worker`'s.
    async fn bulk_step(&self, id: &str, worker: &str, step: BulkStep) -> Result<Option<shared::BulkJob>>;
    /// Deletes jobs that ended before `before`.
    async fn prune_bulk_jobs(&self, before: Ts) -> Result<u64>;
}
