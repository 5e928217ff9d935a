//! Bulk jobs at work. Each running job belongs to one dashboard process (by its
//! dispatch lease) and goes through its runs in batches: a batch of cancels or
//! deletes is one transaction that also records the job's progress and where it
//! stands, so a job resumes exactly where its last batch ended when its process is
//! gone (a restart, a crashed replica). Restarts start runs on agents, outside the
//! database, so they go in small batches, and a run restarted since the job began is
//! not restarted again when a batch is done over.

use chrono::Utc;
use shared::{BulkAction, BulkFailure, BulkJob, BulkStatus, RunQuery};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

use super::BulkJobs;
use crate::run_filter;
use crate::starts::Refused;
use crate::store::{BulkSelection, BulkStep, BulkTally, BulkWork, ClaimedBulkJob, StoreError};

/// Runs cancelled or deleted per transaction: the writer is held for tens of
/// milliseconds at a time, so other writes interleave.
const BATCH: usize = 200;
/// Runs restarted between two records of progress: a process that dies in between
/// leaves these restarted but not counted (its successor skips them).
const RESTART_BATCH: usize = 10;
const RETRY_AFTER: Duration = Duration::from_secs(2);

impl BulkJobs {
    /// Claims running jobs that no live process works on, and works on each, until
    /// dropped (which stops the work between two batches).
    pub async fn run(self: Arc<Self>) {
        let mut working: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut tasks = JoinSet::new();
        loop {
            match self.store.claim_bulk_jobs(self.dispatcher.id()).await {
                Ok(jobs) => {
                    for job in jobs {
                        if !working.values().any(|id| *id == job.job.id) {
                            let id = job.job.id.clone();
                            working.insert(tasks.spawn(self.clone().work(job)).id(), id);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "could not claim bulk jobs"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.dispatcher.lease() / 3) => {}
                _ = self.wake.notified() => {}
                Some(ended) = tasks.join_next_with_id() => {
                    let task = match ended {
                        Ok((task, ())) => task,
                        Err(error) => error.id(),
                    };
                    working.remove(&task);
                }
            }
        }
    }

    /// Works through one job's batches until it completes, is stopped, or is no
    /// longer this process's.
    async fn work(self: Arc<Self>, job: ClaimedBulkJob) {
        let mut position = job.position.clone();
        loop {
            let step = match self.next_step(&job, position.clone()).await {
                Ok(step) => step,
                Err(error) => {
                    tracing::warn!(%error, job = %job.job.id, "could not read a bulk job's next runs");
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            };
            let recorded = match self.record(&job.job.id, &step).await {
                Ok(recorded) => recorded,
                Err(_) => self.run_by_run(&job.job.id, &step, position.clone()).await,
            };
            match recorded {
                Some(progress) if progress.status == BulkStatus::Running => position = step.position,
                _ => return,
            }
        }
    }

    /// Records `step`, the same step until it is recorded (its restarts must not happen
    /// twice), waiting out the database being away. A batch of cancels or deletes that
    /// the database refuses three times for a reason of its own (a run another writer
    /// left unreadable, or a trigger that refuses it) is given back with the reason.
    async fn record(&self, id: &str, step: &BulkStep) -> Result<Option<BulkJob>, StoreError> {
        let mut refusals = 0;
        loop {
            match self.store.bulk_step(id, self.dispatcher.id(), step.clone()).await {
                Ok(recorded) => return Ok(recorded),
                Err(error) => {
                    tracing::warn!(%error, job = %id, "could not record a bulk job's batch");
                    if !matches!(error, StoreError::Unavailable(_)) && matches!(step.work, BulkWork::Apply(_)) {
                        refusals += 1;
                        if refusals == 3 {
                            return Err(error);
                        }
                    }
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }

    /// A refused batch, one run at a time: a run still refused is recorded as failed,
    /// with why, and the job goes on. Until the batch's last run the recorded position
    /// stays where the batch began, so a job resumed meanwhile does the batch again
    /// (its done runs are then skipped, never acted on twice).
    async fn run_by_run(&self, id: &str, step: &BulkStep, before: Option<String>) -> Option<BulkJob> {
        let BulkWork::Apply(runs) = &step.work else { return None };
        let mut recorded = None;
        for (n, run) in runs.iter().enumerate() {
            let last = n + 1 == runs.len();
            let position = if last { step.position.clone() } else { before.clone() };
            let one = BulkStep { work: BulkWork::Apply(vec![run.clone()]), position, last: last && step.last };
            recorded = match self.record(id, &one).await {
                Ok(recorded) => recorded,
                Err(error) => {
                    let failure = BulkFailure { run_id: run.clone(), reason: refusal(&error) };
                    let failed = BulkTally { failures: vec![failure], ..BulkTally::default() };
                    // Counting never refuses for a run's sake, so this only waits.
                    self.record(id, &BulkStep { work: BulkWork::Done(failed), ..one }).await.ok().flatten()
                }
            };
            if recorded.as_ref().is_none_or(|job| job.status != BulkStatus::Running) {
                return recorded;
            }
        }
        recorded
    }

    /// The next batch of the job's runs from `position`, and for restarts the batch
    /// done.
    async fn next_step(&self, job: &ClaimedBulkJob, position: Option<String>) -> Result<BulkStep, StoreError> {
        let size = match job.job.action {
            BulkAction::Restart => RESTART_BATCH,
            BulkAction::Cancel | BulkAction::Delete => BATCH,
        };
        let (ids, position, last) = match &job.selection {
            BulkSelection::Ids(ids) => {
                let start = position.and_then(|p| p.parse::<usize>().ok()).unwrap_or(0).min(ids.len());
                let end = (start + size).min(ids.len());
                (ids[start..end].to_vec(), Some(end.to_string()), end == ids.len())
            }
            BulkSelection::Filter(query) => {
                let query = RunQuery { cursor: position.clone(), limit: Some(size as i64), ..query.clone() };
                let filter = run_filter::parse(&query, Utc::now())
                    .map_err(|why| StoreError::Internal(format!("a bulk job's filter no longer holds: {why}")))?;
                let runs = self.store.list_runs(&filter).await?;
                let next = runs.last().map(|last| run_filter::encode(last, &filter)).or(position);
                (runs.iter().map(|run| run.id.clone()).collect(), next, runs.len() < size)
            }
        };
        let work = match job.job.action {
            BulkAction::Restart => BulkWork::Done(self.restart_each(job, &ids).await?),
            BulkAction::Cancel | BulkAction::Delete => BulkWork::Apply(ids),
        };
        Ok(BulkStep { work, position, last })
    }

    /// Restarts the ended runs of `ids`, each within its workflow's budget; stops
    /// early if the job is stopped meanwhile.
    async fn restart_each(&self, job: &ClaimedBulkJob, ids: &[String]) -> Result<BulkTally, StoreError> {
        let mut tally = BulkTally::default();
        for id in ids {
            if self.store.bulk_job(&job.job.id).await?.is_none_or(|now| now.status != BulkStatus::Running) {
                break;
            }
            // A batch its process died in is done again: what it restarted then is not
            // restarted twice (nor is a run someone restarted meanwhile).
            if self.restarted_since(id, job.job.created_at).await? {
                tally.skipped.push("already restarted since the job began".to_owned());
                continue;
            }
            let failure = |reason: String| BulkFailure { run_id: id.clone(), reason };
            match self.starts.restart(id, job.by.clone()).await {
                Ok(run) => {
                    let message = format!("Restarted as {} by {} in bulk job {}", run.id, job.by.name, job.job.id);
                    let line = shared::NewLogLine { level: shared::LogLevel::Info, message, node_id: None };
                    if let Err(error) = self.store.note(id, line).await {
                        tracing::warn!(%error, run = %id, "could not note a bulk restart on the original run");
                    }
                    tally.done += 1;
                }
                Err(Refused::NoSuchRun(_)) => tally.skipped.push("no such run".to_owned()),
                Err(Refused::StillActive(_, status)) => tally.skipped.push(BulkAction::Restart.skip_reason(status)),
                // Nothing started: the batch is done again once the database answers.
                Err(Refused::Unchecked(error)) => return Err(error),
                Err(refused @ (Refused::OverBudget(_) | Refused::NoAgent(_) | Refused::NotRecorded(_))) => {
                    tally.failures.push(failure(refused.to_string()))
                }
            }
        }
        Ok(tally)
    }

    /// Whether run `id` was restarted at or after `since` (by this job, in a batch
    /// that was not recorded).
    async fn restarted_since(&self, id: &str, since: chrono::DateTime<Utc>) -> Result<bool, StoreError> {
        for restart in self.store.restarted_into(id).await? {
            if self.store.get_run(&restart).await?.is_some_and(|run| run.run.started_at >= since) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Why the database refused a run, for the job's record: the store's own words where
/// they are meant for people, else a pointer to the log (as the API answers a 5xx).
fn refusal(error: &StoreError) -> String {
    match error {
        StoreError::NotFound(why) | StoreError::Conflict(why) | StoreError::Unprocessable(why) => why.clone(),
        _ => "the database refused to change it; the server log has the details".to_owned(),
    }
}
