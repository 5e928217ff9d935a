//! What storage offers, by concern. `Store` is all of it, for an `Arc<dyn Store>`; a
//! caller brings into scope the traits of the methods it calls.

use async_trait::async_trait;
use shared::{
    AgentInfo, Dispatch, Event, FinishRun, LogLine, NewLogLine, NodeState, NodeStateData, Summary, WorkflowRun,
};
use std::collections::HashMap;

use super::access::{AccessStore, Actor, Audit, Claim};
use super::limits::RunBound;
use super::{
    BulkStep, ClaimedBulkJob, DurationRollup, InFlight, NewAgent, NewBulkJob, NewRun, NodeRollup, Outcome, Result,
    RollupQuery, RunFilter, RunRecord, RunRollup, RunSnapshot, SeedRun, StatusTally, StoredBudget, StoredWebhook, Ts,
};

pub trait Store:
    RunStore
    + DispatchStore
    + AgentStore
    + EventStore
    + BulkStore
    + BulkJobStore
    + AccessStore
    + AnalyticsStore
    + BudgetStore
    + WebhookStore
    + ViewStore
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Runs, their node states and logs. Each write publishes its events after commit.
#[async_trait]
pub trait RunStore: Send + Sync {
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<WorkflowRun>>;
    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>>;
    /// The run with its node states, restarts and first `log_limit` log lines, as of
    /// one moment.
    async fn run_detail(&self, id: &str, log_limit: i64) -> Result<Option<RunSnapshot>>;
    async fn restarted_into(&self, id: &str) -> Result<Vec<String>>;
    async fn run_logs(&self, id: &str, after: i64, limit: i64) -> Result<Vec<LogLine>>;

    async fn create_run(&self, run: NewRun, audit: Option<Audit>) -> Result<WorkflowRun>;
    /// `follower`: the dashboard process that must still follow the run (fencing).
    async fn start_run(&self, id: &str, follower: Option<&str>) -> Result<WorkflowRun>;
    /// Returns the state stored; the run with its grown totals goes out on the bus.
    /// Unprocessable when the run's totals would pass `bound`.
    async fn append_state(&self, id: &str, state: NodeStateData, bound: RunBound) -> Result<NodeState>;
    async fn append_logs(&self, id: &str, lines: Vec<NewLogLine>) -> Result<Vec<LogLine>>;
    async fn finish_run(
        &self,
        id: &str,
        outcome: Outcome,
        report: FinishRun,
        follower: Option<&str>,
    ) -> Result<WorkflowRun>;
    /// `reason`: why the dashboard itself cancels (a budget), kept as the run's error,
    /// in its log and as a state of the node named after `by`.
    async fn cancel_run(&self, id: &str, by: &Actor, reason: Option<String>) -> Result<WorkflowRun>;
    /// Appends the dashboard's own log line, also to a run that has ended.
    async fn note(&self, id: &str, line: NewLogLine) -> Result<()>;
    /// The run half of the summary (agent counts left at zero), over all runs, from
    /// the trigger-maintained per-status totals.
    async fn run_totals(&self) -> Result<Summary>;
}

/// Runs on agents: which agent, which job, which dashboard process follows them.
#[async_trait]
pub trait DispatchStore: Send + Sync {
    /// Records the agent's job id of a run `follower` follows.
    async fn set_job(&self, id: &str, job_id: &str, follower: &str) -> Result<()>;
    /// Sends a run `follower` follows to another agent (the first could not be reached).
    async fn redispatch(&self, id: &str, dispatch: &Dispatch, follower: &str) -> Result<()>;
    /// How many dispatched runs each agent has pending or running (agents with none
    /// are absent).
    async fn agent_loads(&self) -> Result<HashMap<String, i64>>;
    /// Renews the lease of `dispatcher` (a dashboard process following runs), then
    /// hands it the dispatched runs still pending or running whose process holds no
    /// lease renewed within `lease` (by the database's clock), and returns them; one
    /// transaction.
    async fn renew_and_claim(&self, dispatcher: &str, lease: std::time::Duration) -> Result<Vec<InFlight>>;
    /// Gives the lease up, so that another process takes over its runs at once.
    async fn release_lease(&self, dispatcher: &str) -> Result<()>;
}

/// The agent registry.
#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Registers (or updates) the agent and settles who owns its id, in one write:
    /// Forbidden when the id is another agent token's.
    async fn register_agent(&self, agent: NewAgent, claim: Claim, audit: Audit) -> Result<AgentInfo>;
    async fn heartbeat(&self, id: &str) -> Result<AgentInfo>;
    async fn list_agents(&self) -> Result<Vec<AgentInfo>>;
    async fn get_agent(&self, id: &str) -> Result<Option<AgentInfo>>;
    /// Deletes the agent; with `if_heartbeat`, only if it has not sent a heartbeat since.
    async fn delete_agent(&self, id: &str, if_heartbeat: Option<Ts>, audit: Option<Audit>)
        -> Result<Option<AgentInfo>>;
}

/// The event log: every change numbered, for live streams and their resume.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Records and publishes an event that no row change carries (an agent expiring).
    async fn record_event(&self, event: Event) -> Result<()>;
    /// Persisted events with `id > after`, oldest first.
    async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, Event)>>;
    /// Oldest and newest kept event ids (0, 0 when there are none).
    async fn event_bounds(&self) -> Result<(i64, i64)>;
    /// Feeds events committed by other processes to this one's bus, until the process
    /// ends: other replicas' (PostgreSQL), other writers' (both).
    async fn relay_events(&self);
    /// Deletes events older than `before`, always keeping the newest.
    async fn prune_events(&self, before: Ts) -> Result<u64>;
}

/// Sample data, written in bulk by `seed`.
#[async_trait]
pub trait BulkStore: Send + Sync {
    async fn seed(&self, runs: Vec<SeedRun>, agents: Vec<(NewAgent, Ts)>) -> Result<()>;
    /// After a bulk load: fresh planner statistics and, on PostgreSQL, the dead row
    /// versions the totals triggers left behind cleared away.
    async fn analyze(&self) -> Result<()>;
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

/// Budgets per workflow.
#[async_trait]
pub trait BudgetStore: Send + Sync {
    async fn list_budgets(&self) -> Result<Vec<StoredBudget>>;
    /// Sets (or replaces) a workflow's budget.
    async fn set_budget(&self, workflow: &str, limits: shared::BudgetLimits, audit: Audit) -> Result<StoredBudget>;
    async fn delete_budget(&self, workflow: &str, audit: Audit) -> Result<()>;
    /// The cost of the workflow's runs that started since `day` and since `month`
    /// (each the start of an hour, `month` the earlier).
    async fn spent(&self, workflow: &str, day: Ts, month: Ts) -> Result<(f64, f64)>;
    /// What the runs of `workflow` started since `since` cost, by who reported them.
    async fn spent_by_reporter(&self, workflow: &str, since: Ts) -> Result<Vec<shared::BudgetReporter>>;
}

/// Outgoing webhooks.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn list_webhooks(&self) -> Result<Vec<StoredWebhook>>;
    async fn create_webhook(&self, hook: StoredWebhook, audit: Audit) -> Result<StoredWebhook>;
    async fn delete_webhook(&self, id: &str, audit: Audit) -> Result<()>;
    /// Records an attempt: its status or error; `outcome` when it settles the alert
    /// (delivered, or given up on), `None` for an attempt to be retried.
    async fn record_delivery(
        &self,
        id: &str,
        status: Option<u16>,
        error: Option<String>,
        outcome: Option<bool>,
    ) -> Result<()>;
    /// Claims the sending of an alert: true for the first claim of `(alert, about)`
    /// in 30 days, by any process.
    async fn claim_alert(&self, alert: &str, about: &str) -> Result<bool>;
}

/// Saved views of the runs list, each its owner's.
#[async_trait]
pub trait ViewStore: Send + Sync {
    /// The caller's views and everyone's shared ones.
    async fn list_views(&self, caller: &str) -> Result<Vec<shared::SavedView>>;
    /// Creates a view (`id` none) or changes one of the owner's (NotFound otherwise).
    async fn save_view(&self, id: Option<&str>, owner: &str, view: shared::NewView) -> Result<shared::SavedView>;
    async fn delete_view(&self, id: &str, owner: &str) -> Result<()>;
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
