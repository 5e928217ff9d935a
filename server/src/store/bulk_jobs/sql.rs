//! Bulk jobs: their rows, and the batches that cancel or delete runs.

use super::common::{
    cancel_in, record_audit, run_in, Actor, Audit, Backend, Cancelling, Conn, Db, Event, QueryBuilder, Recorded,
    Result, RunFilter, RunStatus, StatusTally, StoreError, Ts,
};
use crate::store::{BulkSelection, BulkStep, BulkTally, BulkWork, ClaimedBulkJob, NewBulkJob};
use shared::{BulkAction, BulkFailure, BulkJob, BulkStatus, ReasonCount};
use std::collections::{BTreeMap, HashMap};

const COLUMNS: &str = "id, action, status, selection, position, worker, created_by, created_by_token, \
     created_at, updated_at, finished_at, matched, eligible, done_count, skipped_count, failed_count, detail";
/// Ids per statement: under both databases' bind-parameter limits.
const CHUNK: usize = 500;

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    action: String,
    status: String,
    selection: String,
    position: Option<String>,
    worker: Option<String>,
    created_by: String,
    created_by_token: Option<String>,
    created_at: Ts,
    updated_at: Ts,
    finished_at: Option<Ts>,
    matched: i64,
    eligible: i64,
    done_count: i64,
    skipped_count: i64,
    failed_count: i64,
    detail: String,
}

/// The `detail` column: reasons runs were skipped, and the latest failures.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Detail {
    skip_reasons: BTreeMap<String, i64>,
    failures: Vec<BulkFailure>,
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("a stored bulk job has an unreadable {what}: {error}"))
}

impl JobRow {
    fn detail(&self) -> Result<Detail> {
        serde_json::from_str(&self.detail).map_err(|e| corrupt("detail", e))
    }

    fn selection(&self) -> Result<BulkSelection> {
        serde_json::from_str(&self.selection).map_err(|e| corrupt("selection", e))
    }

    fn action(&self) -> Result<BulkAction> {
        self.action.parse().map_err(|e| corrupt("action", e))
    }

    fn by(&self) -> Actor {
        Actor { name: self.created_by.clone(), token_id: self.created_by_token.clone() }
    }

    fn job(&self) -> Result<BulkJob> {
        let detail = self.detail()?;
        let (filter, selected) = match self.selection()? {
            BulkSelection::Ids(ids) => (None, Some(ids.len() as i64)),
            BulkSelection::Filter(query) => (Some(query), None),
        };
        Ok(BulkJob {
            id: self.id.clone(),
            action: self.action()?,
            status: self.status.parse().map_err(|e| corrupt("status", e))?,
            filter,
            selected,
            created_by: self.created_by.clone(),
            created_at: self.created_at.utc(),
            updated_at: self.updated_at.utc(),
            finished_at: self.finished_at.map(Ts::utc),
            matched: self.matched,
            eligible: self.eligible,
            done: self.done_count,
            skipped: self.skipped_count,
            failed: self.failed_count,
            skip_reasons: detail
                .skip_reasons
                .into_iter()
                .map(|(reason, count)| ReasonCount { reason, count })
                .collect(),
            failures: detail.failures,
        })
    }
}

async fn job_row(conn: &mut Conn, id: &str) -> Result<Option<JobRow>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM dashboard_bulk_jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

/// The job as it is now, and its event.
async fn job_event(conn: &mut Conn, id: &str) -> Result<(BulkJob, Event)> {
    let row = job_row(conn, id).await?.ok_or_else(|| no_job(id))?;
    let job = row.job()?;
    Ok((job.clone(), Event::BulkJob(job)))
}

fn no_job(id: &str) -> StoreError {
    StoreError::NotFound(format!("no bulk job with id {id}"))
}

/// `SELECT ... WHERE id IN (ids)`, a chunk of ids at a time.
fn in_ids<'q>(sql: &str, ids: &'q [String], tail: &str) -> QueryBuilder<'q, Db> {
    let mut query = QueryBuilder::<Db>::new(sql);
    query.push(" IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.as_str());
    }
    query.push(")").push(tail);
    query
}

/// Cancels the active runs of `ids` for job `job`.
async fn cancel_batch(
    conn: &mut Conn,
    ids: &[String],
    by: &Actor,
    job: &str,
    events: &mut Recorded,
) -> Result<BulkTally> {
    let mut tally = BulkTally::default();
    for id in ids {
        match run_in(conn, id).await? {
            None => tally.skipped.push("no such run".to_owned()),
            Some(run) if !run.status.is_active() => tally.skipped.push(BulkAction::Cancel.skip_reason(run.status)),
            Some(run) => {
                let (_, recorded) = cancel_in(conn, &run, by, Cancelling::Bulk(job.to_owned())).await?;
                events.extend(recorded);
                tally.done += 1;
            }
        }
    }
    Ok(tally)
}

/// Deletes the ended runs of `ids`, with their states and logs; each
/// deletion is audited with the job's id.
async fn delete_batch(conn: &mut Conn, ids: &[String], by: &Actor, job: &str) -> Result<BulkTally> {
    let mut tally = BulkTally::default();
    for chunk in ids.chunks(CHUNK) {
        let found: Vec<(String, String)> = in_ids("SELECT id, status FROM workflow_runs WHERE id", chunk, "")
            .build_query_as()
            .fetch_all(&mut *conn)
            .await?;
        let found: HashMap<String, String> = found.into_iter().collect();
        let mut ended = Vec::new();
        for id in chunk {
            match found.get(id).map(|status| status.parse::<RunStatus>()) {
                None => tally.skipped.push("no such run".to_owned()),
                Some(Ok(status)) if status.is_active() => tally.skipped.push(BulkAction::Delete.skip_reason(status)),
                Some(_) => ended.push(id.clone()),
            }
        }
        if ended.is_empty() {
            continue;
        }
        for table in ["execution_states", "run_logs"] {
            in_ids(&format!("DELETE FROM {table} WHERE run_id"), &ended, "").build().execute(&mut *conn).await?;
        }
        in_ids("DELETE FROM workflow_runs WHERE id", &ended, "").build().execute(&mut *conn).await?;
        for id in ended {
            let detail = Some(format!("bulk job {job}"));
            record_audit(conn, Audit { actor: by.clone(), action: "run.delete", target: id, detail }).await?;
            tally.done += 1;
        }
    }
    Ok(tally)
}

#[async_trait::async_trait]
impl crate::store::BulkJobStore for super::Target {
    async fn tally_filter(&self, filter: &RunFilter) -> Result<Vec<StatusTally>> {
        self.tally_where(filter).await
    }

    async fn tally_ids(&self, ids: &[String]) -> Result<Vec<StatusTally>> {
        let mut by_status: BTreeMap<String, StatusTally> = BTreeMap::new();
        for chunk in ids.chunks(CHUNK) {
            let found: Vec<StatusTally> = in_ids(
                "SELECT status, COUNT(*) AS runs, CAST(SUM(total_cost_usd) AS DOUBLE PRECISION) AS cost_usd \
                 FROM workflow_runs WHERE id",
                chunk,
                " GROUP BY status",
            )
            .build_query_as()
            .fetch_all(self.reader())
            .await?;
            for part in found {
                let total = by_status.entry(part.status.clone()).or_insert(StatusTally {
                    status: part.status,
                    runs: 0,
                    cost_usd: None,
                });
                total.runs += part.runs;
                if let Some(cost) = part.cost_usd {
                    total.cost_usd = Some(total.cost_usd.unwrap_or(0.0) + cost);
                }
            }
        }
        Ok(by_status.into_values().collect())
    }

    async fn create_bulk_job(&self, job: NewBulkJob, audit: Audit) -> Result<BulkJob> {
        let selection = serde_json::to_string(&job.selection).map_err(|e| StoreError::Unprocessable(e.to_string()))?;
        let detail = serde_json::to_string(&Detail::default()).unwrap_or_default();
        self.write(move |conn| {
            Box::pin(async move {
                let now = Ts::now();
                sqlx::query(
                    "INSERT INTO dashboard_bulk_jobs (id, action, status, selection, created_by, \
                     created_by_token, created_at, updated_at, matched, eligible, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10)",
                )
                .bind(&job.id)
                .bind(job.action.as_str())
                .bind(BulkStatus::Running.as_str())
                .bind(&selection)
                .bind(&job.by.name)
                .bind(&job.by.token_id)
                .bind(now)
                .bind(job.matched)
                .bind(job.eligible)
                .bind(&detail)
                .execute(&mut *conn)
                .await?;
                record_audit(conn, audit).await?;
                let (created, event) = job_event(conn, &job.id).await?;
                Ok((created, vec![event]))
            })
        })
        .await
    }

    async fn bulk_job(&self, id: &str) -> Result<Option<BulkJob>> {
        let row: Option<JobRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM dashboard_bulk_jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.map(|row| row.job()).transpose()
    }

    async fn running_bulk_jobs(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM dashboard_bulk_jobs WHERE status = $1")
            .bind(BulkStatus::Running.as_str())
            .fetch_one(self.reader())
            .await?)
    }

    async fn list_bulk_jobs(&self, limit: i64) -> Result<Vec<BulkJob>> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM dashboard_bulk_jobs ORDER BY created_at DESC, id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(JobRow::job).collect()
    }

    async fn stop_bulk_job(&self, id: &str, audit: Audit) -> Result<BulkJob> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let row = job_row(conn, &id).await?.ok_or_else(|| no_job(&id))?;
                if row.status != BulkStatus::Running.as_str() {
                    return Err(StoreError::Conflict(format!("bulk job {id} is {} already", row.status)));
                }
                let now = Ts::now();
                sqlx::query(
                    "UPDATE dashboard_bulk_jobs SET status = $2, updated_at = $3, finished_at = $3 \
                     WHERE id = $1",
                )
                .bind(&id)
                .bind(BulkStatus::Stopped.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
                record_audit(conn, audit).await?;
                let (stopped, event) = job_event(conn, &id).await?;
                Ok((stopped, vec![event]))
            })
        })
        .await
    }

    async fn claim_bulk_jobs(&self, worker: &str) -> Result<Vec<ClaimedBulkJob>> {
        // Most of the time no job runs: a read, not a write, says so.
        if self.running_bulk_jobs().await? == 0 {
            return Ok(Vec::new());
        }
        let worker = worker.to_owned();
        let rows: Vec<JobRow> = self
            .write(move |conn| {
                Box::pin(async move {
                    let rows = sqlx::query_as(&format!(
                        "UPDATE dashboard_bulk_jobs SET worker = $1 WHERE status = $2 \
                         AND (worker IS NULL OR worker = $1 \
                              OR worker NOT IN (SELECT id FROM dashboard_dispatchers)) \
                         RETURNING {COLUMNS}"
                    ))
                    .bind(&worker)
                    .bind(BulkStatus::Running.as_str())
                    .fetch_all(&mut *conn)
                    .await?;
                    Ok((rows, Vec::new()))
                })
            })
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedBulkJob {
                    job: row.job()?,
                    selection: row.selection()?,
                    position: row.position.clone(),
                    by: row.by(),
                })
            })
            .collect()
    }

    async fn prune_bulk_jobs(&self, before: Ts) -> Result<u64> {
        self.write(move |conn| {
            Box::pin(async move {
                let pruned = sqlx::query("DELETE FROM dashboard_bulk_jobs WHERE status <> $1 AND finished_at < $2")
                    .bind(BulkStatus::Running.as_str())
                    .bind(before)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                Ok((pruned, Vec::new()))
            })
        })
        .await
    }

    async fn bulk_step(&self, id: &str, worker: &str, step: BulkStep) -> Result<Option<BulkJob>> {
        let (id, worker) = (id.to_owned(), worker.to_owned());
        self.write(move |conn| {
            Box::pin(async move {
                let Some(row) = job_row(conn, &id).await? else { return Ok((None, Vec::new())) };
                if row.status != BulkStatus::Running.as_str() || row.worker.as_deref() != Some(&worker) {
                    return Ok((None, Vec::new()));
                }
                let mut events = Vec::new();
                let by = row.by();
                let tally = match (&step.work, row.action()?) {
                    (BulkWork::Done(tally), _) => tally.clone(),
                    (BulkWork::Apply(ids), BulkAction::Cancel) => {
                        cancel_batch(conn, ids, &by, &id, &mut events).await?
                    }
                    (BulkWork::Apply(ids), BulkAction::Delete) => delete_batch(conn, ids, &by, &id).await?,
                    (BulkWork::Apply(_), BulkAction::Restart) => {
                        return Err(StoreError::Internal("restarts are done outside the database".into()))
                    }
                };
                let mut detail = row.detail()?;
                for reason in &tally.skipped {
                    *detail.skip_reasons.entry(reason.clone()).or_default() += 1;
                }
                detail.failures.extend(tally.failures.iter().cloned());
                let excess = detail.failures.len().saturating_sub(BulkJob::FAILURES_KEPT);
                detail.failures.drain(..excess);
                let now = Ts::now();
                let (status, finished) =
                    if step.last { (BulkStatus::Completed, Some(now)) } else { (BulkStatus::Running, None) };
                // The job as it is now comes back from the update itself: its
                // selection can hold 10,000 ids, read once per batch, not twice.
                let updated: JobRow = sqlx::query_as(&format!(
                    "UPDATE dashboard_bulk_jobs SET status = $2, position = $3, updated_at = $4, \
                     finished_at = $5, done_count = done_count + $6, skipped_count = skipped_count + $7, \
                     failed_count = failed_count + $8, detail = $9 WHERE id = $1 RETURNING {COLUMNS}"
                ))
                .bind(&id)
                .bind(status.as_str())
                .bind(&step.position)
                .bind(now)
                .bind(finished)
                .bind(tally.done)
                .bind(tally.skipped.len() as i64)
                .bind(tally.failures.len() as i64)
                .bind(serde_json::to_string(&detail).unwrap_or_default())
                .fetch_one(&mut *conn)
                .await?;
                let job = updated.job()?;
                events.push(Event::BulkJob(job.clone()));
                Ok((Some(job), events))
            })
        })
        .await
    }
}
