//! Runs, their node states and logs, and the per-status totals.

use super::common::{
    active_run, cancel_in, check_follower, inactive, insert_logs, insert_state, json_text, limits, not_found,
    record_audit, rows, run_event, run_in, Actor, Audit, Backend, Cancelling, Conn, Db, Event, FinishRun, LogLine,
    LogRow, NewLogLine, NewRun, NodeState, NodeStateData, Outcome, QueryBuilder, Result, RunFilter, RunRecord,
    RunRecordRow, RunRow, RunSnapshot, RunSort, RunStatus, SortKey, StateRow, StatusTally, StoreError, Summary, Ts,
    WorkflowRun, ACTIVE, RUN_COLUMNS,
};

#[async_trait::async_trait]
impl crate::store::RunStore for super::Target {
    async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<WorkflowRun>> {
        let Some(text) = filter.text.as_deref() else {
            return self.runs_in(filter, Scope::All).await;
        };
        // A common term fills the page from the first rows in its order (the
        // newest, by default) at once. Otherwise the index finds the few runs
        // that match (it needs three characters).
        let newest = match filter.sort {
            // Start times are all but unique, so the newest rows are those up
            // to the last one's start time, and the scan stops at a full page.
            RunSort::StartedAt => match self.last_start_of_newest(filter).await? {
                Some(bound) => self.runs_in(filter, Scope::StartedBy(bound)).await?,
                // So few runs that reading them all is the bounded look.
                None => return self.runs_in(filter, Scope::All).await,
            },
            _ => self.runs_in(filter, Scope::Newest).await?,
        };
        if newest.len() as i64 >= filter.limit {
            return Ok(newest);
        }
        let scope = if text.chars().count() >= 3 { Scope::Matched(text) } else { Scope::All };
        self.runs_in(filter, scope).await
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>> {
        record_in(&mut *self.reader().acquire().await?, id).await
    }

    async fn run_detail(&self, id: &str, log_limit: i64) -> Result<Option<RunSnapshot>> {
        // One snapshot: read part by part, a run could show a log line
        // newer than its status, or a status newer than its nodes.
        let mut read = self.reader().begin_with(<super::Target as Backend>::SNAPSHOT).await?;
        let Some(record) = record_in(&mut read, id).await? else { return Ok(None) };
        let found: Vec<StateRow> = sqlx::query_as(
            "SELECT id, run_id, node_id, state_data, created_at FROM execution_states \
             WHERE run_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *read)
        .await?;
        let restarted_into = restarts_in(&mut read, id).await?;
        let logs = logs_in(&mut read, id, 0, log_limit).await?;
        read.commit().await?;
        let states = found.into_iter().map(NodeState::from).collect();
        Ok(Some(RunSnapshot { record, states, restarted_into, logs }))
    }

    async fn restarted_into(&self, id: &str) -> Result<Vec<String>> {
        restarts_in(&mut *self.reader().acquire().await?, id).await
    }

    async fn run_logs(&self, id: &str, after: i64, limit: i64) -> Result<Vec<LogLine>> {
        logs_in(&mut *self.reader().acquire().await?, id, after, limit).await
    }

    async fn create_run(&self, run: NewRun, audit: Option<Audit>) -> Result<WorkflowRun> {
        self.write(move |conn| {
            Box::pin(async move {
                if run_in(conn, &run.id).await?.is_some() {
                    return Err(StoreError::Conflict(format!("a run with id {} already exists", run.id)));
                }
                sqlx::query(
                    "INSERT INTO workflow_runs (id, workflow_name, status, inputs, config_snapshot, \
                     started_at, mlflow_experiment_id, mlflow_run_id, restarted_from, agent_id, agent_url, \
                     dispatcher_id, created_by, created_by_token) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(&run.id)
                .bind(&run.workflow_name)
                .bind(run.status.as_str())
                .bind(json_text(&run.inputs))
                .bind(json_text(&run.config_snapshot))
                .bind(Ts::now())
                .bind(&run.mlflow.experiment_id)
                .bind(&run.mlflow.run_id)
                .bind(&run.restarted_from)
                .bind(run.dispatch.as_ref().map(|d| d.agent_id.clone()))
                .bind(run.dispatch.as_ref().map(|d| d.agent_url.clone()))
                .bind(&run.dispatcher)
                .bind(run.created_by.as_ref().map(|actor| actor.name.clone()))
                .bind(run.created_by.as_ref().and_then(|actor| actor.token_id.clone()))
                .execute(&mut *conn)
                .await?;
                if let Some(audit) = audit {
                    record_audit(conn, audit).await?;
                }
                let (created, event) = run_event(conn, &run.id).await?;
                Ok((created, vec![event]))
            })
        })
        .await
    }

    async fn start_run(&self, id: &str, follower: Option<&str>) -> Result<WorkflowRun> {
        let (id, follower) = (id.to_owned(), follower.map(str::to_owned));
        self.write(move |conn| {
            Box::pin(async move {
                let run = active_run(conn, &id).await?;
                check_follower(conn, &id, follower.as_deref()).await?;
                if run.status == RunStatus::Running {
                    return Ok((run, Vec::new()));
                }
                sqlx::query("UPDATE workflow_runs SET status = 'running' WHERE id = $1")
                    .bind(&id)
                    .execute(&mut *conn)
                    .await?;
                let (started, event) = run_event(conn, &id).await?;
                Ok((started, vec![event]))
            })
        })
        .await
    }

    async fn append_state(&self, id: &str, state: NodeStateData, bound: limits::RunBound) -> Result<NodeState> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                // Totals grow as nodes report, so a running run shows what it has
                // spent so far. One statement takes the report and returns the run.
                let updated: Option<RunRow> = sqlx::query_as(&format!(
                    "UPDATE workflow_runs SET status = 'running', \
                     total_tokens = COALESCE(total_tokens + $2, total_tokens, $2), \
                     total_cost_usd = COALESCE(total_cost_usd + $3, total_cost_usd, $3) \
                     WHERE id = $1 AND {ACTIVE} RETURNING {RUN_COLUMNS}"
                ))
                .bind(&id)
                .bind(state.tokens())
                .bind(state.cost_usd)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(run) = updated.map(WorkflowRun::try_from).transpose()? else {
                    return Err(inactive(conn, &id).await);
                };
                limits::check_totals("the run's", run.total_tokens, run.total_cost_usd)?;
                bound.check(run.total_tokens, run.total_cost_usd)?;
                let stored = insert_state(conn, &id, &state).await?;
                let events = vec![Event::NodeState(stored.clone()), Event::WorkflowUpdate(run)];
                Ok((stored, events))
            })
        })
        .await
    }

    async fn append_logs(&self, id: &str, lines: Vec<NewLogLine>) -> Result<Vec<LogLine>> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                active_run(conn, &id).await?;
                insert_logs(conn, &id, lines).await
            })
        })
        .await
    }

    async fn finish_run(
        &self,
        id: &str,
        outcome: Outcome,
        report: FinishRun,
        follower: Option<&str>,
    ) -> Result<WorkflowRun> {
        let (id, follower) = (id.to_owned(), follower.map(str::to_owned));
        self.write(move |conn| {
            Box::pin(async move {
                let run = active_run(conn, &id).await?;
                check_follower(conn, &id, follower.as_deref()).await?;
                let now = Ts::now();
                let status = match outcome {
                    Outcome::Completed => RunStatus::Completed,
                    Outcome::Failed => RunStatus::Failed,
                    Outcome::OverBudget => RunStatus::Cancelled,
                };
                let duration = report.duration_seconds.unwrap_or_else(|| now.seconds_since(Ts::from(run.started_at)));
                sqlx::query(&format!(
                    "UPDATE workflow_runs SET status = $2, completed_at = $3, duration_seconds = $4, \
                     outputs = COALESCE($5, outputs), error_message = COALESCE($6, error_message), \
                     total_tokens = COALESCE($7, total_tokens), \
                     total_cost_usd = COALESCE($8, total_cost_usd), \
                     bottleneck_info = COALESCE($9, bottleneck_info), \
                     mlflow_experiment_id = COALESCE($10, mlflow_experiment_id), \
                     mlflow_run_id = COALESCE($11, mlflow_run_id) WHERE id = $1 AND {ACTIVE}"
                ))
                .bind(&id)
                .bind(status.as_str())
                .bind(now)
                .bind(duration)
                .bind(json_text(&report.outputs))
                .bind(report.error_message)
                .bind(report.total_tokens)
                .bind(report.total_cost_usd)
                .bind(json_text(&report.bottleneck_info))
                .bind(report.mlflow.as_ref().and_then(|m| m.experiment_id.clone()))
                .bind(report.mlflow.as_ref().and_then(|m| m.run_id.clone()))
                .execute(&mut *conn)
                .await?;
                let (finished, event) = run_event(conn, &id).await?;
                Ok((finished, vec![event]))
            })
        })
        .await
    }

    async fn cancel_run(&self, id: &str, by: &Actor, reason: Option<String>) -> Result<WorkflowRun> {
        let (id, by) = (id.to_owned(), by.clone());
        self.write(move |conn| {
            Box::pin(async move {
                let run = run_in(conn, &id).await?.ok_or_else(|| not_found(&id))?;
                if !run.status.is_active() {
                    return Err(StoreError::Conflict(format!(
                        "run {id} is {}; only pending or running runs can be cancelled",
                        run.status
                    )));
                }
                let why = match reason {
                    Some(reason) => Cancelling::Because(reason),
                    None => Cancelling::Operator,
                };
                cancel_in(conn, &run, &by, why).await
            })
        })
        .await
    }

    async fn note(&self, id: &str, line: NewLogLine) -> Result<()> {
        let id = id.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let (_, events) = insert_logs(conn, &id, vec![line]).await?;
                Ok(((), events))
            })
        })
        .await
    }

    async fn run_totals(&self) -> Result<Summary> {
        // Read as floating point: a sum that another writer pushed past the integer
        // range (SQLite turns it into a REAL) still reads, and saturates below.
        let groups: Vec<(String, i64, Option<f64>, Option<f64>)> = sqlx::query_as(
            "SELECT status, runs, CAST(cost_usd AS DOUBLE PRECISION), CAST(tokens AS DOUBLE PRECISION) \
             FROM dashboard_run_totals",
        )
        .fetch_all(self.reader())
        .await?;
        let mut summary = Summary::default();
        for (status, count, cost, tokens) in groups {
            summary.total_workflows = summary.total_workflows.saturating_add(count);
            summary.total_cost_usd += cost.filter(|c| c.is_finite()).unwrap_or_default();
            summary.total_tokens = summary.total_tokens.saturating_add(tokens.unwrap_or_default() as i64);
            match status.parse::<RunStatus>() {
                Ok(RunStatus::Pending) => summary.pending = count,
                Ok(RunStatus::Running) => summary.running = count,
                Ok(RunStatus::Completed) => summary.completed = count,
                Ok(RunStatus::Failed) => summary.failed = count,
                Ok(RunStatus::Cancelled) => summary.cancelled = count,
                Err(_) => {}
            }
        }
        Ok(summary)
    }
}

async fn record_in(conn: &mut Conn, id: &str) -> Result<Option<RunRecord>> {
    let row: Option<RunRecordRow> = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS}, inputs, outputs, config_snapshot, bottleneck_info, \
         mlflow_experiment_id, mlflow_run_id, agent_id, agent_url, agent_job_id \
         FROM workflow_runs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(RunRecord::try_from).transpose()
}

async fn restarts_in(conn: &mut Conn, id: &str) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT id FROM workflow_runs WHERE restarted_from = $1 ORDER BY started_at, id")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?)
}

async fn logs_in(conn: &mut Conn, id: &str, after: i64, limit: i64) -> Result<Vec<LogLine>> {
    let found: Vec<LogRow> = sqlx::query_as(
        "SELECT id, run_id, ts, level, node_id, message FROM run_logs \
         WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(found.into_iter().map(LogLine::from).collect())
}

/// Runs a text search looks through.
enum Scope<'t> {
    /// Every run (no text, or too short for the index).
    All,
    /// The first `SEARCH_SCAN_FIRST` runs in the page's order that the other
    /// conditions allow.
    Newest,
    /// The same when the order is by start time: those started up to this bound.
    StartedBy(Ts),
    /// The runs the search index finds for the text.
    Matched(&'t str),
}

/// How many of the newest runs a text search reads before it asks the index.
const SEARCH_SCAN_FIRST: i64 = 1000;

impl super::Target {
    /// The start time of the last of the newest `SEARCH_SCAN_FIRST` runs the
    /// filter's other conditions allow, if there are that many (from the index).
    async fn last_start_of_newest(&self, filter: &RunFilter) -> Result<Option<Ts>> {
        let direction = if filter.descending { "DESC" } else { "ASC" };
        let mut query = QueryBuilder::<Db>::new("SELECT started_at FROM workflow_runs WHERE 1 = 1");
        push_conditions(&mut query, filter, "started_at", false);
        query
            .push(format!(" ORDER BY started_at {direction}, id {direction} LIMIT 1 OFFSET {}", SEARCH_SCAN_FIRST - 1));
        Ok(query.build_query_scalar().fetch_optional(self.reader()).await?)
    }

    /// A page of runs: `filter`'s conditions over the runs of `scope`.
    async fn runs_in(&self, filter: &RunFilter, scope: Scope<'_>) -> Result<Vec<WorkflowRun>> {
        let key = match filter.sort {
            RunSort::StartedAt => "started_at",
            RunSort::DurationSeconds => "COALESCE(duration_seconds, -1)",
            RunSort::TotalTokens => "COALESCE(total_tokens, -1)",
            RunSort::TotalCostUsd => "COALESCE(total_cost_usd, -1)",
        };
        let direction = if filter.descending { "DESC" } else { "ASC" };
        let order = format!(" ORDER BY {key} {direction}, id {direction}");
        let mut query = QueryBuilder::<Db>::new("");
        match scope {
            Scope::All => {
                query.push(format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE 1 = 1"));
                push_conditions(&mut query, filter, key, true);
            }
            Scope::StartedBy(bound) => {
                query.push(format!("SELECT {RUN_COLUMNS} FROM workflow_runs WHERE 1 = 1"));
                push_conditions(&mut query, filter, key, true);
                let beyond = if filter.descending { ">=" } else { "<=" };
                query.push(format!(" AND started_at {beyond} ")).push_bind(bound);
            }
            Scope::Newest => {
                query.push(format!("SELECT * FROM (SELECT {RUN_COLUMNS} FROM workflow_runs WHERE 1 = 1"));
                push_conditions(&mut query, filter, key, false);
                query.push(format!("{order} LIMIT {SEARCH_SCAN_FIRST}) AS newest WHERE 1 = 1"));
                push_text(&mut query, filter);
            }
            Scope::Matched(text) => {
                push_matched(&mut query, filter, text);
                query.push("SELECT * FROM matched WHERE 1 = 1");
                push_conditions(&mut query, filter, key, true);
            }
        }
        query.push(order).push(" LIMIT ").push_bind(filter.limit);
        let found: Vec<RunRow> = query.build_query_as().fetch_all(self.reader()).await?;
        rows::runs(found)
    }
}

/// `WITH matched AS (...) `: the runs the search index finds for `text`
/// (with the text's condition where there is no index).
fn push_matched(query: &mut QueryBuilder<'_, Db>, filter: &RunFilter, text: &str) {
    query.push(format!("WITH matched AS MATERIALIZED (SELECT {RUN_COLUMNS} FROM workflow_runs WHERE "));
    match <super::Target as Backend>::SEARCH_MATCH {
        Some(search) => {
            let phrase = format!("\"{}\"", text.replace('"', "\"\""));
            query.push(search).push_bind(phrase).push(")");
        }
        None => {
            query.push("1 = 1");
            push_text(query, filter);
        }
    }
    query.push(") ");
}

impl super::Target {
    /// The runs `filter` selects (from any position, however many), by status.
    pub(super) async fn tally_where(&self, filter: &RunFilter) -> Result<Vec<StatusTally>> {
        let filter = RunFilter { after: None, ..filter.clone() };
        let mut query = QueryBuilder::<Db>::new("");
        let source = match filter.text.as_deref() {
            Some(text) if text.chars().count() >= 3 => {
                push_matched(&mut query, &filter, text);
                "matched"
            }
            _ => "workflow_runs",
        };
        query.push(format!(
            "SELECT status, COUNT(*) AS runs, CAST(SUM(total_cost_usd) AS DOUBLE PRECISION) AS cost_usd \
             FROM {source} WHERE 1 = 1"
        ));
        push_conditions(&mut query, &filter, "started_at", true);
        query.push(" GROUP BY status");
        Ok(query.build_query_as().fetch_all(self.reader()).await?)
    }
}

/// `filter`'s conditions, each as ` AND ...`; the text's only `with_text`.
fn push_conditions(query: &mut QueryBuilder<'_, Db>, filter: &RunFilter, key: &str, with_text: bool) {
    if !filter.statuses.is_empty() {
        query.push(" AND status IN (");
        let mut list = query.separated(", ");
        for status in &filter.statuses {
            list.push_bind(status.as_str());
        }
        query.push(")");
    }
    if let Some(name) = &filter.workflow {
        query.push(" AND workflow_name = ").push_bind(name.clone());
    }
    if let Some(agent) = &filter.agent {
        query.push(" AND agent_id = ").push_bind(agent.clone());
    }
    if let Some(since) = filter.since {
        query.push(" AND started_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        query.push(" AND started_at < ").push_bind(until);
    }
    if with_text {
        push_text(query, filter);
    }
    if let Some((position, id)) = &filter.after {
        let beyond = if filter.descending { "<" } else { ">" };
        query.push(format!(" AND ({key}, id) {beyond} ("));
        match *position {
            SortKey::Int(v) => query.push_bind(v),
            SortKey::Float(v) => query.push_bind(v),
            SortKey::Time(v) => query.push_bind(v),
        };
        query.push(", ").push_bind(id.clone()).push(")");
    }
}

/// The text search, a case-insensitive substring of the name or the id.
fn push_text(query: &mut QueryBuilder<'_, Db>, filter: &RunFilter) {
    let Some(text) = &filter.text else { return };
    let like = <super::Target as Backend>::LIKE;
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    query
        .push(format!(" AND (workflow_name {like} "))
        .push_bind(pattern.clone())
        .push(format!(" ESCAPE '\\' OR id {like} "))
        .push_bind(pattern)
        .push(" ESCAPE '\\')");
}
