//! Bulk jobs: what a request selects (ids, or a filter with its window fixed when the
//! job is made), the dry run's preview, the cap on jobs running at once, and
//! (`runner`) the work itself.

mod runner;

use chrono::{DateTime, Utc};
use shared::{given, BulkAction, BulkJob, BulkPreview, BulkRequest, RunQuery, RunStatus, StatusCount};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Notify;

use crate::callers::Caller;
use crate::dispatch::Dispatcher;
use crate::run_filter;
use crate::starts::Starts;
use crate::store::{BulkSelection, NewBulkJob, StatusTally, Store, StoreError};
use crate::validate::{self, Invalid};

/// Most ids one request may name; a filter reaches any number of runs.
pub const MAX_IDS: usize = 10_000;
/// Jobs running at once: each holds the writer for a batch at a time, so a client
/// that floods the dashboard with jobs is told to wait rather than slowing every write.
pub const MAX_RUNNING: i64 = 10;

pub struct BulkJobs {
    store: Arc<dyn Store>,
    /// Its claims are by this process's dispatch lease.
    dispatcher: Dispatcher,
    starts: Arc<Starts>,
    wake: Notify,
}

/// What a bulk request came to.
pub enum Submitted {
    /// A dry run: what the action would touch.
    Preview(BulkPreview),
    /// The job, made and woken.
    Started(Box<BulkJob>),
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{MAX_RUNNING} bulk jobs are running already; wait for one to end, or stop one")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BulkJobs {
    pub fn new(store: Arc<dyn Store>, dispatcher: Dispatcher, starts: Arc<Starts>) -> Arc<BulkJobs> {
        Arc::new(BulkJobs { store, dispatcher, starts, wake: Notify::new() })
    }

    /// With `dry_run`, what the action would touch; otherwise a job that does it, by
    /// `caller`, audited.
    pub async fn submit(&self, request: &BulkRequest, caller: &Caller) -> Result<Submitted, BulkError> {
        let now = Utc::now();
        let selection = selection(request, now)?;
        let tallies = match &selection {
            BulkSelection::Ids(ids) => self.store.tally_ids(ids).await?,
            BulkSelection::Filter(query) => self.store.tally_filter(&run_filter::parse(query, now)?).await?,
        };
        let preview = preview(request.action, tallies);
        if request.dry_run {
            return Ok(Submitted::Preview(preview));
        }
        if self.store.running_bulk_jobs().await? >= MAX_RUNNING {
            return Err(BulkError::Busy);
        }
        let job = NewBulkJob {
            id: uuid::Uuid::new_v4().to_string(),
            action: request.action,
            selection,
            by: caller.actor(),
            matched: preview.matched,
            eligible: preview.eligible,
        };
        let what = format!("{} of {} runs", job.action.as_str(), job.matched);
        let audit = caller.audit("bulk.create", &job.id, Some(what));
        let created = self.store.create_bulk_job(job, audit).await?;
        self.wake.notify_one();
        Ok(Submitted::Started(Box::new(created)))
    }
}

/// The runs a request names: its ids (checked, each once), or its filter with the
/// window fixed now, so that runs started later (a restart's among them) are not
/// reached.
fn selection(request: &BulkRequest, now: DateTime<Utc>) -> Result<BulkSelection, Invalid> {
    match (&request.ids, &request.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(Invalid::value(format!("`ids` holds between 1 and {MAX_IDS} run ids")));
            }
            let mut seen = HashSet::new();
            let mut unique = Vec::with_capacity(ids.len());
            for id in ids {
                let id = validate::run_id(id)?;
                if seen.insert(id.clone()) {
                    unique.push(id);
                }
            }
            Ok(BulkSelection::Ids(unique))
        }
        (None, Some(filter)) => {
            if given(&filter.cursor).is_some() || filter.limit.is_some() {
                return Err(Invalid::value("a bulk `filter` takes the list's filters, not `limit` or `cursor`"));
            }
            let checked = RunQuery { sort: None, ..filter.clone() };
            run_filter::parse(&checked, now)?;
            let (since, until) = checked.window(now).map_err(Invalid::value)?;
            // Ends now at the latest; a window that starts later is empty, not inverted.
            let until = until.map_or(now, |until| until.min(now)).max(since.unwrap_or(DateTime::<Utc>::MIN_UTC));
            Ok(BulkSelection::Filter(RunQuery { range: None, since, until: Some(until), ..checked }))
        }
        _ => Err(Invalid::value("send either `ids` or `filter`")),
    }
}

fn preview(action: BulkAction, tallies: Vec<StatusTally>) -> BulkPreview {
    let mut by_status = Vec::new();
    let (mut matched, mut eligible, mut cost) = (0, 0, 0.0);
    for tally in tallies {
        // Another writer's status outside ours is counted, never acted on.
        let status = tally.status.parse::<RunStatus>().ok();
        matched += tally.runs;
        if status.is_some_and(|status| action.applies_to(status)) {
            eligible += tally.runs;
            cost += tally.cost_usd.filter(|c| c.is_finite()).unwrap_or(0.0);
        }
        if let Some(status) = status {
            by_status.push(StatusCount { status, count: tally.runs });
        }
    }
    by_status.sort_by_key(|count| RunStatus::ALL.iter().position(|s| *s == count.status));
    let expected_cost_usd = (action == BulkAction::Restart).then_some(cost).filter(|c| c.is_finite());
    BulkPreview { action, matched, eligible, by_status, expected_cost_usd }
}
